//===- OpUtils.h - helpers shared by the op family files --------*- C++ -*-===//
//
// Small helpers the gradient rules, cost models and verifiers of Ops/*.cpp
// share. The verifier helpers report "'cnn.X' op expects ..., found ..."
// and fail; none asserts on a malformed op.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_DIALECT_CNN_IR_OPS_OPUTILS_H
#define CNNC_DIALECT_CNN_IR_OPS_OPUTILS_H

#include "compiler/Dialect/CNN/IR/CNNDialect.h"
#include "compiler/Dialect/CNN/IR/ShapeInference.h"

#include <cmath>

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
inline void initializeFromFanIn(ParameterInitializer &init, mlir::Value weight, mlir::Value bias) {
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

//===----------------------------------------------------------------------===//
// Verifier helpers
//===----------------------------------------------------------------------===//

/// Whether the activation shapes `a` and `b` agree: the same rank, the batch
/// (dimension 0) equal or dynamic on either side, all else equal.
inline bool sameActivationShape(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i] &&
        !(i == 0 && (mlir::ShapedType::isDynamic(a[i]) || mlir::ShapedType::isDynamic(b[i]))))
      return false;
  return true;
}

/// Fails with "expects NAME to be EXPECTED (WHY), found FOUND".
inline mlir::LogicalResult shapeMismatch(mlir::Operation *op, llvm::StringRef name,
                                         llvm::ArrayRef<int64_t> expected,
                                         llvm::ArrayRef<int64_t> found, llvm::StringRef why) {
  auto diag = op->emitOpError("expects ") << name << " to be " << shapeToString(expected);
  if (!why.empty())
    diag << " (" << why << ")";
  return diag << ", found " << shapeToString(found);
}

/// Fails unless `found`, the shape of NAME, is exactly `expected`.
inline mlir::LogicalResult expectShape(mlir::Operation *op, llvm::StringRef name,
                                       llvm::ArrayRef<int64_t> expected,
                                       llvm::ArrayRef<int64_t> found, llvm::StringRef why = "") {
  if (expected == found)
    return mlir::success();
  return shapeMismatch(op, name, expected, found, why);
}

/// Fails unless the activation `found`, the shape of NAME, agrees with
/// `expected` (sameActivationShape).
inline mlir::LogicalResult expectActivationShape(mlir::Operation *op, llvm::StringRef name,
                                                 llvm::ArrayRef<int64_t> expected,
                                                 llvm::ArrayRef<int64_t> found,
                                                 llvm::StringRef why = "") {
  if (sameActivationShape(expected, found))
    return mlir::success();
  return shapeMismatch(op, name, expected, found, why);
}

/// Whether every dimension of `shape` from `from` on is static and positive.
inline bool staticFrom(llvm::ArrayRef<int64_t> shape, size_t from) {
  for (size_t i = from; i < shape.size(); ++i)
    if (mlir::ShapedType::isDynamic(shape[i]) || shape[i] <= 0)
      return false;
  return true;
}

/// Fails unless NAME is an activation [N, F] or [N, C, H, W], static but
/// for the batch.
inline mlir::LogicalResult expectActivation(mlir::Operation *op, llvm::StringRef name,
                                            llvm::ArrayRef<int64_t> shape) {
  if ((shape.size() == 2 || shape.size() == 4) && staticFrom(shape, 1))
    return mlir::success();
  return op->emitOpError("expects ")
         << name << " to be an activation [N, F] or [N, C, H, W] (static but for N), found "
         << shapeToString(shape);
}

/// Fails unless NAME has a static positive shape (a parameter's).
inline mlir::LogicalResult expectStaticShape(mlir::Operation *op, llvm::StringRef name,
                                             llvm::ArrayRef<int64_t> shape) {
  if (staticFrom(shape, 0))
    return mlir::success();
  return op->emitOpError("expects ")
         << name << " to have a static positive shape, found " << shapeToString(shape);
}

/// Fails unless NAME is a one-element tensor [1] (a hyper-parameter, a loss).
inline mlir::LogicalResult expectScalar(mlir::Operation *op, llvm::StringRef name,
                                        llvm::ArrayRef<int64_t> shape) {
  return expectShape(op, name, {1}, shape, "one value");
}

/// Fails with "expects NAME in RANGE, found VALUE" unless `inRange` (a
/// comparison that NaN fails).
inline mlir::LogicalResult expectInRange(mlir::Operation *op, llvm::StringRef name, double value,
                                         bool inRange, llvm::StringRef range) {
  if (inRange)
    return mlir::success();
  return op->emitOpError("expects ") << name << " in " << range << ", found " << value;
}

} // namespace cnnc::cnn

#endif
