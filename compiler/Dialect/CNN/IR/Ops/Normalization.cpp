//===- Normalization.cpp - batch norm and local response norm -------------===//
//
// Batch normalization (its training form with batch statistics and running
// statistics updated as PyTorch does, its gradient, the folds into a conv
// or dense), local response normalization, and the per-channel reductions
// they and the bias gradients use, with the verifiers of the statistics and
// gradient ops. The Halide algorithms are in
// compiler/Lowering/Halide/Ops/Normalization.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/Dialect/CNN/IR/Ops/OpUtils.h"

#include "llvm/ADT/STLExtras.h"

using namespace mlir;
using namespace cnnc::cnn;

//===----------------------------------------------------------------------===//
// batch_norm
//===----------------------------------------------------------------------===//

/// Batch statistics normalize; the running ones are updated with PyTorch's
/// momentum, the variance with the unbiased estimate.
Value BatchNormOp::buildTrainingForm(GradientBuilder &g) {
  OpBuilder &b = g.builder();
  Location loc = getLoc();
  Value x = g.lookup(getInput());
  auto vectorType = getWeight().getType();
  Value gamma = g.lookup(getWeight()), beta = g.lookup(getBias());
  Value mean = b.create<ChannelMeanOp>(loc, vectorType, x);
  Value var = b.create<ChannelVarianceOp>(loc, vectorType, x, mean, b.getBoolAttr(false));
  Value y =
      b.create<BatchNormOp>(loc, x, gamma, beta, mean, var, getEpsilonAttr(), getMomentumAttr());
  Value unbiased = b.create<ChannelVarianceOp>(loc, vectorType, x, mean, b.getBoolAttr(true));
  for (auto [running, batch] : {std::pair{getMean(), mean}, std::pair{getVariance(), unbiased}}) {
    Value current = g.lookup(running);
    g.markNotTrainable(current);
    Value next = b.create<EmaOp>(loc, current.getType(), current, batch, getMomentumAttr());
    b.create<AssignOp>(loc, current.getDefiningOp<ParamOp>().getNameAttr(), next);
  }
  return y;
}

/// The training form's gradient: its mean and variance operands are the
/// batch statistics.
LogicalResult BatchNormOp::buildGradient(GradientBuilder &g, Value dy) {
  OpBuilder &b = g.builder();
  Location loc = getLoc();
  Value x = getInput(), gamma = getWeight(), mean = getMean(), var = getVariance();
  if (g.requiresGrad(x))
    g.accumulate(x, b.create<BatchNormGradInputOp>(loc, x.getType(), x, dy, gamma, mean, var,
                                                   getEpsilonAttr()));
  g.accumulate(gamma, b.create<BatchNormGradGammaOp>(loc, gamma.getType(), x, dy, mean, var,
                                                     getEpsilonAttr()));
  accumulateBiasGradient(g, loc, getBias(), dy);
  return success();
}

/// Weight 1, bias 0, running mean 0, running variance 1.
void BatchNormOp::initializeParameters(ParameterInitializer &init) {
  init.constant(getWeight(), 1);
  init.constant(getBias(), 0);
  init.constant(getMean(), 0);
  init.constant(getVariance(), 1);
}

/// The running statistics are buffers, not parameters.
int64_t BatchNormOp::getParameterCount() {
  return elementsPerItem(getWeight()) + elementsPerItem(getBias());
}

double BatchNormOp::getFlopsPerItem() { return pointwiseFlops(*this, 2); }
double BnFoldWeightOp::getFlopsPerItem() { return pointwiseFlops(*this, 3); }
double BnFoldBiasOp::getFlopsPerItem() { return pointwiseFlops(*this, 5); }

//===----------------------------------------------------------------------===//
// local_response_norm
//===----------------------------------------------------------------------===//

LogicalResult LocalResponseNormOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(), g.builder().create<LocalResponseNormGradOp>(
                               getLoc(), dy.getType(), getInput(), dy, getSizeAttr(),
                               getAlphaAttr(), getBetaAttr(), getKAttr()));
  return success();
}

/// The window's sum of squares: `size` multiply-adds per element.
int64_t LocalResponseNormOp::getMultiplyAdds() {
  return (cnnc::limits::Checked(elementsPerItem(getResult())) * int64_t(getSize())).saturated();
}
double LocalResponseNormOp::getFlopsPerItem() {
  return pointwiseFlops(*this, 2.0 * double(getSize()) + 4);
}

//===----------------------------------------------------------------------===//
// Statistics and gradient ops
//===----------------------------------------------------------------------===//

double ChannelMeanOp::getFlopsPerItem() { return double(elementsPerItem(getInput())); }
double ChannelVarianceOp::getFlopsPerItem() { return 3.0 * double(elementsPerItem(getInput())); }
double ReduceToChannelsOp::getFlopsPerItem() { return double(elementsPerItem(getInput())); }
double EmaOp::getFlopsPerItem() { return pointwiseFlops(*this, 3); }
double BatchNormGradInputOp::getFlopsPerItem() { return pointwiseFlops(*this, 10); }
double BatchNormGradGammaOp::getFlopsPerItem() { return 4.0 * double(elementsPerItem(getInput())); }
double LocalResponseNormGradOp::getFlopsPerItem() {
  return pointwiseFlops(*this, 4.0 * double(getSize()) + 8);
}

//===----------------------------------------------------------------------===//
// Verifiers of the statistics and gradient ops
//===----------------------------------------------------------------------===//

/// That `x`, the operand NAME, is [N, C] or [N, C, H, W] (static but for
/// N), the layouts the per-channel sums read.
static LogicalResult verifyChannelInput(Operation *op, StringRef name, ArrayRef<int64_t> x) {
  if ((x.size() == 2 || x.size() == 4) && staticFrom(x, 1))
    return success();
  return op->emitOpError("expects ")
         << name << " to be [N, C] or [N, C, H, W] (static but for N), found " << shapeToString(x);
}

/// That each of `vectors` (named `names`) is [C], C the channels of `x`.
static LogicalResult verifyChannelVectors(Operation *op, ArrayRef<int64_t> x,
                                          ArrayRef<StringRef> names,
                                          ArrayRef<ArrayRef<int64_t>> vectors) {
  for (auto [name, v] : llvm::zip_equal(names, vectors))
    if (failed(expectShape(op, name, {x[1]}, v, "one value per channel")))
      return failure();
  return success();
}

static LogicalResult verifyEpsilon(Operation *op, double epsilon) {
  return expectInRange(op, "epsilon", epsilon, epsilon > 0 && std::isfinite(epsilon), "(0, inf)");
}

/// A sum per channel: [N, C, ...] -> [C].
static LogicalResult verifySumToChannels(Operation *op, Value input, Value result) {
  ArrayRef<int64_t> x = shapeOf(input);
  if (failed(verifyChannelInput(op, "input", x)))
    return failure();
  return verifyChannelVectors(op, x, {"the result"}, {shapeOf(result)});
}

LogicalResult ChannelMeanOp::verify() {
  return verifySumToChannels(*this, getInput(), getResult());
}

/// [N, C, ...] and its mean [C] -> [C].
LogicalResult ChannelVarianceOp::verify() {
  ArrayRef<int64_t> x = shapeOf(getInput());
  if (failed(verifyChannelInput(*this, "input", x)))
    return failure();
  return verifyChannelVectors(*this, x, {"mean", "the result"},
                              {shapeOf(getMean()), shapeOf(getResult())});
}

LogicalResult ReduceToChannelsOp::verify() {
  return verifySumToChannels(*this, getInput(), getResult());
}

/// input, grad and the result [N, C, ...]; gamma, mean, variance [C].
LogicalResult BatchNormGradInputOp::verify() {
  ArrayRef<int64_t> x = shapeOf(getInput());
  if (failed(verifyChannelInput(*this, "input", x)) ||
      failed(expectActivationShape(*this, "grad", x, shapeOf(getGrad()), "the input's shape")) ||
      failed(expectActivationShape(*this, "the result", x, shapeOf(getResult()),
                                   "the input's shape")) ||
      failed(
          verifyChannelVectors(*this, x, {"gamma", "mean", "variance"},
                               {shapeOf(getGamma()), shapeOf(getMean()), shapeOf(getVariance())})))
    return failure();
  return verifyEpsilon(*this, getEpsilon().convertToDouble());
}

/// input and grad [N, C, ...]; mean, variance and the result [C].
LogicalResult BatchNormGradGammaOp::verify() {
  ArrayRef<int64_t> x = shapeOf(getInput());
  if (failed(verifyChannelInput(*this, "input", x)) ||
      failed(expectActivationShape(*this, "grad", x, shapeOf(getGrad()), "the input's shape")) ||
      failed(
          verifyChannelVectors(*this, x, {"mean", "variance", "the result"},
                               {shapeOf(getMean()), shapeOf(getVariance()), shapeOf(getResult())})))
    return failure();
  return verifyEpsilon(*this, getEpsilon().convertToDouble());
}

/// A running statistic: a static shape, momentum in [0, 1].
LogicalResult EmaOp::verify() {
  double momentum = getMomentum().convertToDouble();
  if (failed(expectInRange(*this, "momentum", momentum, momentum >= 0 && momentum <= 1, "[0, 1]")))
    return failure();
  return expectStaticShape(*this, "the running statistic", shapeOf(getResult()));
}

/// local_response_norm's constraints on its input and attributes.
LogicalResult LocalResponseNormGradOp::verify() {
  std::string err =
      checkLocalResponseNorm(shapeOf(getInput()), getSize(), getAlpha().convertToDouble(),
                             getBeta().convertToDouble(), getK().convertToDouble());
  if (!err.empty())
    return emitOpError(err);
  return success();
}
