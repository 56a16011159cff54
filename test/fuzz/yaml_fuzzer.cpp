//===- yaml_fuzzer.cpp - Fuzz target: model files up to the verified IR ---===//
//
// Reads the input as a model file (docs/model-format.md) with the YAML
// frontend, as `cnnc` does before any pass: parse, check, build the cnn
// dialect IR, verify it. A refused model is a diagnostic; any crash, sanitizer
// report, leak or hang is a finding. Seeds: models/ and the frontend's lit
// tests (test/lit/frontends), plus test/fuzz/corpus/yaml.
//
//===----------------------------------------------------------------------===//
#include "FuzzContext.h"

#include "frontends/yaml/YamlImporter.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mlir::MLIRContext &context = cnnc::fuzz::nextContext();
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(
          llvm::StringRef(reinterpret_cast<const char *>(data), size), "model.yaml"),
      llvm::SMLoc());
  mlir::OwningOpRef<mlir::ModuleOp> module = cnnc::importYamlModel(sourceMgr, &context);
  if (module)
    (void)module->verify();
  return 0;
}
