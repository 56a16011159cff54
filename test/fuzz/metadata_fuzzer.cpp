//===- metadata_fuzzer.cpp - Fuzz target: the model.so metadata reader ----===//
//
// Parses the input as the metadata JSON a model.so carries
// (docs/runtime-abi.md) with the runtime's reader, parseMetadata
// (runtime/src/model.h), as cnnc_model_load does after dlopen: buffers,
// inputs, outputs, parameters, kernel calls and the training section, all
// validated. The model descriptor is a stand-in with 4096 kernels (the
// fuzzed JSON is its metadata), so kernel indices below that are valid; it
// has no table of the kernels' Halide metadata, so the check of each call
// against its kernel's signature is not reached (the unit tests cover it).
// A refused metadata is a RuntimeError; any crash, sanitizer report, leak or
// hang is a finding. Seeds: test/fuzz/corpus/metadata (the metadata of the
// unit tests' models and of compiled models, make_corpus.py).
//
//===----------------------------------------------------------------------===//
#include "error.h"
#include "model.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

using namespace cnnc::rt;

namespace {

int kernel(void **) { return 0; }

constexpr uint32_t kKernels = 4096;

const cnnc_model_desc *fakeDesc() {
  static std::vector<cnnc_kernel_fn> kernels(kKernels, kernel);
  static std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (uint32_t i = 0; i < kKernels; ++i)
      n.push_back("kernel_" + std::to_string(i));
    return n;
  }();
  static std::vector<const char *> namePointers = [] {
    std::vector<const char *> p;
    for (const std::string &n : names)
      p.push_back(n.c_str());
    return p;
  }();
  static cnnc_model_desc desc = [] {
    cnnc_model_desc d{}; // no Halide runtime, no parameters, no kernel metadata table
    d.abi_version = CNNC_MODEL_ABI_VERSION;
    d.metadata_json = "";
    d.num_kernels = kKernels;
    d.kernels = kernels.data();
    d.kernel_names = namePointers.data();
    return d;
  }();
  return &desc;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string json(reinterpret_cast<const char *>(data), size);
  cnnc_model model;
  model.desc = fakeDesc();
  try {
    parseMetadata(model, json);
  } catch (const RuntimeError &) {
  }
  return 0;
}
