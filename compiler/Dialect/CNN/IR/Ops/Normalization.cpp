//===- Normalization.cpp - batch norm and local response norm -------------===//
//
// Batch normalization (its training form with batch statistics and running
// statistics updated as PyTorch does, its gradient, the folds into a conv
// or dense), local response normalization, and the per-channel reductions
// they and the bias gradients use. The Halide algorithms are in
// compiler/Lowering/Halide/Ops/Normalization.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/Dialect/CNN/IR/Ops/OpUtils.h"

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
  Value y = b.create<BatchNormOp>(loc, x, gamma, beta, mean, var, getEpsilonAttr(),
                                  getMomentumAttr());
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
  return elementsPerItem(getResult()) * int64_t(getSize());
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
double BatchNormGradGammaOp::getFlopsPerItem() {
  return 4.0 * double(elementsPerItem(getInput()));
}
double LocalResponseNormGradOp::getFlopsPerItem() {
  return pointwiseFlops(*this, 4.0 * double(getSize()) + 8);
}
