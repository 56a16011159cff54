//===- Normalization.cpp - Halide lowering of the normalization family ----===//
//
// Batch norm (inference form, folds, batch statistics, gradients, running
// statistics), local response norm and its gradient, and the per-channel
// sums of bias gradients, as the algorithms of Normalization.cpp,
// Elementwise.cpp, Training.cpp and Gradients.cpp. Gradient rules and costs:
// compiler/Dialect/CNN/IR/Ops/Normalization.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/Lowering/Halide/KernelBuilder.h"

using namespace mlir;
using namespace cnnc;
using namespace cnnc::halide;
using cnn::shapeOf;

static float epsilonOf(FloatAttr epsilon) { return float(epsilon.getValueAsDouble()); }

static Halide::Func lowerBatchNorm(cnn::BatchNormOp op, KernelBuilder &k) {
  return batchNorm(k.at(op.getInput()), rankOf(op.getResult()), k.at(op.getWeight()),
                   k.at(op.getBias()), k.at(op.getMean()), k.at(op.getVariance()),
                   epsilonOf(op.getEpsilonAttr()));
}

static Halide::Func lowerBnFoldWeight(cnn::BnFoldWeightOp op, KernelBuilder &k) {
  k.kernel.stages.overParameters = true;
  return bnFoldWeight(k.at(op.getWeight()), rankOf(op.getResult()), k.at(op.getGamma()),
                      k.at(op.getVariance()), epsilonOf(op.getEpsilonAttr()));
}

static Halide::Func lowerBnFoldBias(cnn::BnFoldBiasOp op, KernelBuilder &k) {
  k.kernel.stages.overParameters = true;
  return bnFoldBias(k.at(op.getGamma()), k.at(op.getBeta()), k.at(op.getMean()),
                    k.at(op.getVariance()), k.optional(op.getBias()),
                    epsilonOf(op.getEpsilonAttr()));
}

static Halide::Func lowerLocalResponseNorm(cnn::LocalResponseNormOp op, KernelBuilder &k) {
  return localResponseNorm(k.at(op.getInput()), int(shapeOf(op.getResult())[1]),
                           int(op.getSize()), op.getAlpha().convertToDouble(),
                           op.getBeta().convertToDouble(), op.getK().convertToDouble());
}

static Halide::Func lowerLocalResponseNormGrad(cnn::LocalResponseNormGradOp op, KernelBuilder &k) {
  std::vector<Halide::Func> planes;
  Halide::Func f = localResponseNormGrad(
      k.at(op.getInput()), k.at(op.getGrad()), int(shapeOf(op.getResult())[1]), int(op.getSize()),
      op.getAlpha().convertToDouble(), op.getBeta().convertToDouble(),
      op.getK().convertToDouble(), planes);
  for (Halide::Func &plane : planes)
    k.kernel.stages.rootPlanes.push_back({plane, int(shapeOf(op.getResult())[3])});
  return f;
}

static Halide::Func lowerChannelMean(cnn::ChannelMeanOp op, KernelBuilder &k) {
  Value in = op.getInput();
  Halide::Func sum;
  Halide::Func f =
      channelMean(k.at(in), rankOf(in), halideExtents(in), k.batch, k.lanes, sum);
  k.channelSum(sum, in);
  return f;
}

static Halide::Func lowerChannelVariance(cnn::ChannelVarianceOp op, KernelBuilder &k) {
  Value in = op.getInput();
  Halide::Func sum;
  Halide::Func f = channelVariance(k.at(in), k.at(op.getMean()), rankOf(in), halideExtents(in),
                                   k.batch, op.getUnbiased(), k.lanes, sum);
  k.channelSum(sum, in);
  return f;
}

static Halide::Func lowerReduceToChannels(cnn::ReduceToChannelsOp op, KernelBuilder &k) {
  Value in = op.getInput();
  Halide::Func sum;
  Halide::Func f =
      reduceToChannels(k.at(in), rankOf(in), halideExtents(in), k.batch, k.lanes, sum);
  k.channelSum(sum, in);
  return f;
}

static Halide::Func lowerBatchNormGradInput(cnn::BatchNormGradInputOp op, KernelBuilder &k) {
  Value result = op.getResult();
  std::vector<Halide::Func> sums;
  Halide::Func f = batchNormGradInput(k.at(op.getInput()), k.at(op.getGrad()), k.at(op.getGamma()),
                                      k.at(op.getMean()), k.at(op.getVariance()),
                                      epsilonOf(op.getEpsilonAttr()), rankOf(result),
                                      halideExtents(result), k.batch, k.lanes, sums);
  for (Halide::Func &sum : sums)
    k.channelSum(sum, result);
  return f;
}

static Halide::Func lowerBatchNormGradGamma(cnn::BatchNormGradGammaOp op, KernelBuilder &k) {
  Value in = op.getInput();
  Halide::Func sum;
  Halide::Func f = batchNormGradGamma(k.at(in), k.at(op.getGrad()), k.at(op.getMean()),
                                      k.at(op.getVariance()), epsilonOf(op.getEpsilonAttr()),
                                      rankOf(in), halideExtents(in), k.batch, k.lanes, sum);
  k.channelSum(sum, in);
  return f;
}

static Halide::Func lowerEma(cnn::EmaOp op, KernelBuilder &k) {
  return ema(k.at(op.getRunning()), k.at(op.getBatch()), rankOf(op.getResult()),
             op.getMomentumAttr().getValueAsDouble());
}

void cnnc::halide::registerNormalizationLowerings(MLIRContext *ctx) {
  attachLowering<cnn::BatchNormOp, lowerBatchNorm>(ctx);
  attachLowering<cnn::BnFoldWeightOp, lowerBnFoldWeight>(ctx);
  attachLowering<cnn::BnFoldBiasOp, lowerBnFoldBias>(ctx);
  attachLowering<cnn::LocalResponseNormOp, lowerLocalResponseNorm>(ctx);
  attachLowering<cnn::LocalResponseNormGradOp, lowerLocalResponseNormGrad>(ctx);
  attachLowering<cnn::ChannelMeanOp, lowerChannelMean>(ctx);
  attachLowering<cnn::ChannelVarianceOp, lowerChannelVariance>(ctx);
  attachLowering<cnn::ReduceToChannelsOp, lowerReduceToChannels>(ctx);
  attachLowering<cnn::BatchNormGradInputOp, lowerBatchNormGradInput>(ctx);
  attachLowering<cnn::BatchNormGradGammaOp, lowerBatchNormGradGamma>(ctx);
  attachLowering<cnn::EmaOp, lowerEma>(ctx);
}
