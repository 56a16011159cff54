//===- Training.cpp - losses and optimizer updates: costs, verifiers ------===//
//
// The ops the train step appends after the forward pass: the losses and
// their seeds of the backward pass (cross-entropy with label smoothing), the
// accuracy count, the gradients' global norm for clipping, and the SGD and
// Adam updates. They are not differentiated; their FLOP counts and
// verifiers live here.
// The Halide algorithms are in compiler/Lowering/Halide/Ops/Training.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/Dialect/CNN/IR/Ops/OpUtils.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace cnnc::cnn;

/// The number of classes of a [N, K] value.
static double classes(Value v) { return double(shapeOf(v)[1]); }

double SoftmaxCrossEntropyOp::getFlopsPerItem() { return 4.0 * classes(getLogits()); }
double SoftmaxCrossEntropyGradOp::getFlopsPerItem() { return 6.0 * classes(getLogits()); }
double MseLossOp::getFlopsPerItem() { return 3.0 * classes(getOutput()); }
double MseLossGradOp::getFlopsPerItem() { return 3.0 * classes(getOutput()); }
double CountCorrectOp::getFlopsPerItem() { return classes(getScores()); }

// Per element: the decayed gradient, the state updates and the step.
double SgdUpdateOp::getFlopsPerItem() { return pointwiseFlops(*this, 4); }
double SgdMomentumUpdateOp::getFlopsPerItem() { return pointwiseFlops(*this, 8); }
double AdamUpdateOp::getFlopsPerItem() { return pointwiseFlops(*this, 16); }

//===----------------------------------------------------------------------===//
// Verifiers
//===----------------------------------------------------------------------===//

/// Scores (the operand NAME) [N, K] with static K, labels [N] (class
/// indices as floats).
static LogicalResult verifyScoresAndLabels(Operation *op, StringRef name, Value scores,
                                           Value labels) {
  ArrayRef<int64_t> z = shapeOf(scores), l = shapeOf(labels);
  if (z.size() != 2 || !staticFrom(z, 1))
    return op->emitOpError("expects ")
           << name << " to be [N, K] with static K, found " << shapeToString(z);
  return expectActivationShape(op, "labels", {z[0]}, l,
                               ("one class index per row of " + name).str());
}

/// A loss or count: one value.
static LogicalResult verifyScalarResult(Operation *op, StringRef name, Value scores, Value labels) {
  if (failed(verifyScoresAndLabels(op, name, scores, labels)))
    return failure();
  return expectScalar(op, "the result", shapeOf(op->getResult(0)));
}

/// A loss's gradient: the shape of the scores it differentiates.
static LogicalResult verifyLossGradient(Operation *op, StringRef name, Value scores, Value labels) {
  if (failed(verifyScoresAndLabels(op, name, scores, labels)))
    return failure();
  return expectActivationShape(op, "the result", shapeOf(scores), shapeOf(op->getResult(0)),
                               ("the shape of " + name).str());
}

/// A cross-entropy's optional smoothing operand is a scalar [1].
static LogicalResult verifySmoothing(Operation *op, Value smoothing) {
  return smoothing ? expectScalar(op, "smoothing", shapeOf(smoothing)) : success();
}

LogicalResult SoftmaxCrossEntropyOp::verify() {
  if (failed(verifySmoothing(*this, getSmoothing())))
    return failure();
  return verifyScalarResult(*this, "logits", getLogits(), getLabels());
}
LogicalResult SoftmaxCrossEntropyGradOp::verify() {
  if (failed(verifySmoothing(*this, getSmoothing())))
    return failure();
  return verifyLossGradient(*this, "logits", getLogits(), getLabels());
}
LogicalResult MseLossOp::verify() {
  return verifyScalarResult(*this, "output", getOutput(), getLabels());
}
LogicalResult MseLossGradOp::verify() {
  return verifyLossGradient(*this, "output", getOutput(), getLabels());
}
LogicalResult CountCorrectOp::verify() {
  return verifyScalarResult(*this, "scores", getScores(), getLabels());
}

/// The updates are element-wise over a parameter: a static shape of rank 1
/// to 4 (what the Halide algorithms index), shared by all their tensors (the
/// ops' type constraints check that). Their settings are hyper-parameter
/// scalars, validated by the runtime.
static LogicalResult verifyParameterUpdate(Operation *op) {
  ArrayRef<int64_t> p = shapeOf(op->getResult(0));
  if (p.empty() || p.size() > 4 || !staticFrom(p, 0))
    return op->emitOpError("expects a parameter of rank 1 to 4 with a static positive shape, "
                           "found ")
           << shapeToString(p);
  return success();
}

LogicalResult SgdUpdateOp::verify() { return verifyParameterUpdate(*this); }
LogicalResult SgdMomentumUpdateOp::verify() { return verifyParameterUpdate(*this); }
LogicalResult AdamUpdateOp::verify() { return verifyParameterUpdate(*this); }

//===----------------------------------------------------------------------===//
// Label smoothing and gradient clipping
//===----------------------------------------------------------------------===//

double SumSquaresOp::getFlopsPerItem() { return 2.0 * double(elementsPerItem(getInput())); }
double ClipCoefficientOp::getFlopsPerItem() { return double(getSquares().size()) + 4.0; }
double ClipGradientOp::getFlopsPerItem() { return pointwiseFlops(*this, 1); }

/// A parameter's gradient: a static shape of rank 1 to 4.
static LogicalResult verifyParameterGradient(Operation *op, StringRef name, Value grad) {
  ArrayRef<int64_t> shape = shapeOf(grad);
  if (!shape.empty() && shape.size() <= 4 && staticFrom(shape, 0))
    return success();
  return op->emitOpError("expects ")
         << name << " of rank 1 to 4 with a static positive shape (a parameter's gradient), found "
         << shapeToString(shape);
}

LogicalResult SumSquaresOp::verify() {
  if (failed(verifyParameterGradient(*this, "an input", getInput())))
    return failure();
  return expectScalar(*this, "the result", shapeOf(getResult()));
}

LogicalResult ClipGradientOp::verify() {
  if (failed(verifyParameterGradient(*this, "a gradient", getGrad())))
    return failure();
  return expectScalar(*this, "coefficient", shapeOf(getCoefficient()));
}

LogicalResult ClipCoefficientOp::verify() {
  if (getSquares().empty())
    return emitOpError("expects at least one squared norm");
  if (failed(expectScalar(*this, "max_norm", shapeOf(getMaxNorm()))))
    return failure();
  for (auto [i, sq] : llvm::enumerate(getSquares()))
    if (failed(expectScalar(*this, ("squares #" + llvm::Twine(i)).str(), shapeOf(sq))))
      return failure();
  return expectScalar(*this, "the result", shapeOf(getResult()));
}
