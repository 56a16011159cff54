//===- ModelCompiler.h - fused cnn IR -> Halide kernels -> model.so -*- C++ -*-===//
//
// The back end: lowers every fusion group (and every remaining op) of a fused
// module to a Halide pipeline, schedules it, compiles it ahead of time and
// links the objects with generated glue (the cnnc_model_v1 entry point and
// its metadata, docs/runtime-abi.md) into one shared library.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_TARGET_MODELCOMPILER_H
#define CNNC_TARGET_MODELCOMPILER_H

#include "compiler/Dialect/CNN/IR/Limits.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"
#include <optional>
#include <string>

namespace cnnc {

struct DefaultParameters;

struct CompileOptions {
  /// A Halide target string; "host" is the machine cnnc runs on.
  std::string target = "host";
  /// "default" (the target's hand schedules), "cpu", "gpu" or
  /// "auto:<Adams2019|Mullapudi2016|Li2018>".
  std::string schedule = "default";
  /// Where to print kernel counts and the time of each back-end step
  /// (`cnnc --time-report`); null for silence.
  llvm::raw_ostream *report = nullptr;
  /// Keep Halide's checks of each kernel's buffer arguments (type, rank,
  /// extents, strides, bounds; `cnnc --kernel-checks`). The runtime always
  /// passes the buffers the plan describes, so by default they are dropped.
  bool kernelChecks = false;
  /// Values of the model's parameters to embed in model.so, loaded with
  /// the model (ONNX initializers, `cnnc --embed-weights`); null for none.
  const DefaultParameters *defaultParameters = nullptr;
  /// The compile cache's directory (defaultCacheDirectory()), or "" to
  /// compile everything afresh (`cnnc --no-cache`).
  std::string cacheDirectory;
  /// The model file's name without its directory, recorded in the metadata
  /// as "source" ("" for none).
  std::string sourceName;
  /// The most memory the model's buffers may need at the batch it is
  /// compiled for (`cnnc --max-memory`; checkResourceLimits in ModelPlan.h).
  uint64_t maxMemoryBytes = limits::kDefaultMaxMemoryBytes;
};

/// Checks the target string and schedule name; returns an error message or "".
std::string validateOptions(const CompileOptions &options);

/// Prints the lowered Halide statement of every kernel of a fused module.
mlir::LogicalResult emitHalideStatements(mlir::ModuleOp module, const CompileOptions &options,
                                         llvm::raw_ostream &os);

/// Compiles a fused module into the shared library `outputPath`. The library
/// is linked under a temporary name next to it and renamed into place, so
/// a failed compilation leaves an existing file as it was.
mlir::LogicalResult compileModelLibrary(mlir::ModuleOp module, const CompileOptions &options,
                                        const std::string &outputPath);

/// The metadata JSON of a model.so built by cnnc, read from its
/// `cnnc_metadata` section without loading the library; std::nullopt for a
/// file that is not such a model.
std::optional<std::string> readModelMetadata(const std::string &path);

} // namespace cnnc

#endif
