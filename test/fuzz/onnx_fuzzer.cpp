//===- onnx_fuzzer.cpp - Fuzz target: ONNX models up to the verified IR ---===//
//
// Reads the input as an ONNX model with the ONNX frontend, as `cnnc
// model.onnx` does before any pass: protobuf parse, operator conversion
// (initializers read as parameters), IR verification. A refused model is an
// error message; any crash, sanitizer report, leak or hang is a finding. The
// importer reads a path, so the bytes go through an in-memory file
// (FuzzFile.h). Seeds: test/fuzz/corpus/onnx (small exported models and
// ONNX node tests).
//
//===----------------------------------------------------------------------===//
#include "FuzzContext.h"
#include "FuzzFile.h"

#include "compiler/Target/DefaultParameters.h"
#include "frontends/onnx/OnnxImporter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/raw_ostream.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static cnnc::fuzz::MemFile file("model.onnx");
  cnnc::fuzz::FileLeakCheck leaks("the ONNX importer");
  file.write(data, size);
  mlir::MLIRContext &context = cnnc::fuzz::nextContext();
  cnnc::DefaultParameters parameters;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      cnnc::importOnnxModel(file.path, &context, llvm::nulls(), parameters);
  if (module)
    (void)module->verify();
  return 0;
}
