//===- OpUtils.h - helpers shared by the op family files --------*- C++ -*-===//
//
// Small helpers the gradient rules and cost models of Ops/*.cpp share.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_DIALECT_CNN_IR_OPS_OPUTILS_H
#define CNNC_DIALECT_CNN_IR_OPS_OPUTILS_H

#include "compiler/Dialect/CNN/IR/CNNDialect.h"

namespace cnnc::cnn {

/// FLOPs of an op doing `perElement` operations per element of its result.
inline double pointwiseFlops(mlir::Operation *op, double perElement) {
  return perElement * double(elementsPerItem(op->getResult(0)));
}

/// PyTorch's default bound 1/sqrt(fan_in) of a weight whose dimensions
/// after the first are the fan-in (OIHW conv, [O, F] dense).
inline double fanInBound(mlir::Value weight) {
  int64_t fanIn = 1;
  for (int64_t d : shapeOf(weight).drop_front())
    fanIn *= d;
  return 1.0 / std::sqrt(double(fanIn));
}

/// ∂b = Σδ over every dimension but the channels, for a layer's optional bias.
inline void accumulateBiasGradient(GradientBuilder &g, mlir::Location loc, mlir::Value bias,
                                   mlir::Value dy) {
  if (bias)
    g.accumulate(bias, g.builder().create<ReduceToChannelsOp>(loc, bias.getType(), dy));
}

/// PyTorch's Kaiming-uniform with a = sqrt(5): U(±1/sqrt(fan_in)) for a
/// weight and its optional bias.
inline void initializeFromFanIn(ParameterInitializer &init, mlir::Value weight,
                                mlir::Value bias) {
  double bound = fanInBound(weight);
  init.uniform(weight, bound);
  init.uniform(bias, bound);
}

/// The field of the data operand (the first), with `whole` from any operand.
inline ReceptiveField dataField(llvm::ArrayRef<ReceptiveField> operands) {
  ReceptiveField f = operands.empty() ? ReceptiveField() : operands.front();
  for (const ReceptiveField &o : operands)
    f.whole |= o.whole;
  return f;
}

} // namespace cnnc::cnn

#endif
