//===- safetensors_fuzzer.cpp - Fuzz target: the safetensors reader -------===//
//
// Reads the input as a safetensors file with the runtime's reader
// (runtime/src/safetensors.h: weights, checkpoints, `cnnc --embed-weights`):
// the header is checked against the size, then every tensor the header lists
// is looked up, checked as F32 of its own shape and read. Both constructors
// read the input: from memory (the parameters a model.so embeds) and from a
// file (FuzzFile.h: weights and checkpoints), which must be closed again
// whatever happens. A refused file is a RuntimeError; any crash, sanitizer
// report, leak (a file left open included) or hang is a finding.
// Seeds: test/fuzz/corpus/safetensors (make_corpus.py).
//
//===----------------------------------------------------------------------===//
#include "FuzzFile.h"

#include "error.h"
#include "safetensors.h"

#include <cstddef>
#include <cstdint>
#include <vector>

using namespace cnnc::rt;

namespace {

void readAll(const SafetensorsReader &reader) {
  for (const std::string &name : reader.names()) {
    const SafetensorsEntry *entry = reader.find(name);
    if (!entry)
      __builtin_trap(); // names() lists a tensor find() does not know
    try {
      reader.check(*entry, name, entry->shape);
    } catch (const RuntimeError &) {
      continue; // not F32: the runtime reads no other dtype
    }
    // check() accepted it, so its bytes are exactly shape's floats within the file.
    std::vector<float> values(size_t(entry->end - entry->begin) / sizeof(float));
    (void)reader.read(*entry, values.data());
  }
  (void)reader.require("fuzz.missing", {1}, "parameter");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static cnnc::fuzz::MemFile file("fuzz.safetensors");
  cnnc::fuzz::FileLeakCheck leaks("SafetensorsReader");
  try {
    SafetensorsReader reader(data, size, "fuzz.safetensors");
    readAll(reader);
  } catch (const RuntimeError &) {
  }
  file.write(data, size);
  try {
    SafetensorsReader reader(file.path, "weights");
    readAll(reader);
  } catch (const RuntimeError &) {
  }
  return 0;
}
