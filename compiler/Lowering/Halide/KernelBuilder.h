//===- KernelBuilder.h - the kernel an op's lowering writes into -*- C++ -*-===//
//
// While one kernel (a cnn.group or a single op) is lowered, every value has
// a Halide Func; an op's lowering (HalideLowerableOpInterface, external
// models in Ops/*.cpp) reads its operands' Funcs, defines its result's and
// records in `stages` the Funcs its schedule needs. Conversions from op
// attributes to the algorithms' parameters live here, once.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_LOWERING_HALIDE_KERNELBUILDER_H
#define CNNC_LOWERING_HALIDE_KERNELBUILDER_H

#include "compiler/Dialect/CNN/IR/CNNDialect.h"
#include "compiler/Dialect/CNN/IR/WindowAttrs.h"
#include "compiler/Lowering/Halide/HalideLowering.h"

#include "llvm/ADT/DenseMap.h"

namespace cnnc::halide {

class KernelBuilder {
public:
  /// The Func of a value of this kernel.
  Halide::Func at(mlir::Value v) const { return env.lookup(v); }
  /// The Func of an optional operand (none for a null value).
  std::optional<Halide::Func> optional(mlir::Value v) const {
    if (!v)
      return std::nullopt;
    return at(v);
  }
  /// Makes `f` the Func of `v`.
  void define(mlir::Value v, Halide::Func f) { env[v] = std::move(f); }

  /// Lowers one op through its HalideLowerableOpInterface and adds its
  /// FLOPs; a diagnostic on the op if it has no algorithm.
  mlir::LogicalResult lower(mlir::Operation *op);

  /// What the schedule needs (filled by the lowerings) and the FLOP count.
  LoweredKernel kernel;
  /// The run-time batch size: the outer extent of a batched input.
  Halide::Expr batch;

private:
  llvm::DenseMap<mlir::Value, Halide::Func> env;
};

/// Static extents of an NCHW value (the batch left out).
Extent4D extent4D(mlir::Value v);
/// The rank of a value's type.
int rankOf(mlir::Value v);
/// The convolution attributes of a window (cnn::windowOf) with `groups`
/// groups and `outChannels` output channels.
ConvAttrs convAttrs(const cnn::Window &window, int64_t groups, int64_t outChannels);
/// The pooling attributes of a window.
PoolAttrs poolAttrs(PoolKind kind, const cnn::Window &window, bool countIncludePad);

/// The external model of an op whose lowering is the overload
/// `Halide::Func lower(Op, KernelBuilder &)` (declared in cnnc::halide, in
/// the op family's file): defines the op's result as the Func it returns.
template <typename Op>
struct Lowering : public cnn::HalideLowerableOpInterface::ExternalModel<Lowering<Op>, Op> {
  mlir::LogicalResult lowerToHalide(mlir::Operation *op, KernelBuilder &kernel) const {
    kernel.define(op->getResult(0), lower(mlir::cast<Op>(op), kernel));
    return mlir::success();
  }
};

/// Attaches the lowering of each of `Ops`.
template <typename... Ops> void attachLowerings(mlir::MLIRContext *ctx) {
  (Ops::template attachInterface<Lowering<Ops>>(*ctx), ...);
}

// The lowerings of each op family (Ops/*.cpp).
void registerConvLowerings(mlir::MLIRContext *ctx);
void registerDenseLowerings(mlir::MLIRContext *ctx);
void registerPoolingLowerings(mlir::MLIRContext *ctx);
void registerNormalizationLowerings(mlir::MLIRContext *ctx);
void registerElementwiseLowerings(mlir::MLIRContext *ctx);
void registerSequenceLowerings(mlir::MLIRContext *ctx);
void registerTrainingLowerings(mlir::MLIRContext *ctx);

} // namespace cnnc::halide

#endif
