//===- ModelPlan.h - buffers, kernels and metadata of a model ---*- C++ -*-===//
//
// Walks the fused function once and decides what the runtime will see: one
// buffer per value (inputs, parameters, parameter-derived values, temporaries,
// flatten views), one kernel per cnn.group or remaining compute op, split
// into `prepare` kernels (over parameters only, run at load time) and
// `steps` (run per inference). Serializes it as the metadata JSON of
// docs/runtime-abi.md.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_TARGET_MODELPLAN_H
#define CNNC_TARGET_MODELPLAN_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/DenseMap.h"
#include <string>
#include <vector>

namespace cnnc {

struct PlannedBuffer {
  std::vector<int64_t> shape; ///< outermost first, -1 = batch
  std::string kind;           ///< input | param | derived | temp | output
  int viewOf = -1;
};

struct PlannedKernel {
  mlir::Operation *op;              ///< cnn.group or a single compute op
  std::vector<mlir::Value> inputs;  ///< external inputs in argument order
  std::string symbol;               ///< C name of the Halide pipeline
  std::string label;                ///< layer names, for profiles
  std::vector<int> args;            ///< buffer indices, output last
  bool prepare = false;             ///< parameters only: run at load time
  double flops = 0;                 ///< filled in after lowering
};

struct NamedBuffer {
  std::string name;
  int buffer;
};

struct ModelPlan {
  std::string name;
  std::vector<PlannedBuffer> buffers;
  std::vector<PlannedKernel> kernels;
  std::vector<NamedBuffer> inputs, outputs, parameters;

  /// Metadata JSON (docs/runtime-abi.md) for the given target string.
  std::string metadataJson(const std::string &target) const;
};

/// Plans the single function of a fused module. Emits a diagnostic and
/// fails on IR the back end cannot run (e.g. an output that is a parameter).
mlir::FailureOr<ModelPlan> planModel(mlir::ModuleOp module);

} // namespace cnnc

#endif
