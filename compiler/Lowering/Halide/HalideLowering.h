//===- HalideLowering.h - cnn ops -> one Halide pipeline --------*- C++ -*-===//
//
// Lowers one kernel — a cnn.group, a single remaining cnn op, or a
// parameter-only op such as bn_fold_weight — to a Halide pipeline: one
// ImageParam per input value (with its static extents and strides declared,
// so addressing is constant-folded), the op algorithms of Algorithms.h, and
// an output Func. Scheduling is left to compiler/Schedule.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_LOWERING_HALIDE_HALIDELOWERING_H
#define CNNC_LOWERING_HALIDE_HALIDELOWERING_H

#include "compiler/Lowering/Halide/KernelStages.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/Operation.h"
#include "mlir/IR/Value.h"

namespace cnnc {

struct LoweredKernel {
  halide::KernelStages stages;
  /// Floating-point operations per batch item (whole kernel for parameter kernels).
  double flops = 0;
};

/// Lowers `op` (a cnn.group or any other cnn compute op) whose external
/// inputs are `inputs`, in that order. Emits a diagnostic on `op` and
/// fails for an op it cannot lower.
mlir::FailureOr<LoweredKernel> lowerToHalide(mlir::Operation *op,
                                             llvm::ArrayRef<mlir::Value> inputs);

/// Attaches the Halide lowering of every cnn op (HalideLowerableOpInterface)
/// when the cnn dialect is loaded into a context with `registry`.
void registerHalideLowerings(mlir::DialectRegistry &registry);

/// Halide-order extents of a value's type (innermost first), batch = -1.
std::vector<int> halideExtents(mlir::Value value);

} // namespace cnnc

#endif
