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

// The overloads of `lower` that Lowering<Op> finds by argument type.
namespace cnnc::halide {

static float epsilonOf(FloatAttr epsilon) { return float(epsilon.getValueAsDouble()); }

static Halide::Func lower(cnn::BatchNormOp op, KernelBuilder &k) {
  return batchNorm(k.at(op.getInput()), rankOf(op.getResult()), k.at(op.getWeight()),
                   k.at(op.getBias()), k.at(op.getMean()), k.at(op.getVariance()),
                   epsilonOf(op.getEpsilonAttr()));
}

static Halide::Func lower(cnn::BnFoldWeightOp op, KernelBuilder &k) {
  k.kernel.stages.overParameters = true;
  return bnFoldWeight(k.at(op.getWeight()), rankOf(op.getResult()), k.at(op.getGamma()),
                      k.at(op.getVariance()), epsilonOf(op.getEpsilonAttr()));
}

static Halide::Func lower(cnn::BnFoldBiasOp op, KernelBuilder &k) {
  k.kernel.stages.overParameters = true;
  return bnFoldBias(k.at(op.getGamma()), k.at(op.getBeta()), k.at(op.getMean()),
                    k.at(op.getVariance()), k.optional(op.getBias()),
                    epsilonOf(op.getEpsilonAttr()));
}

static Halide::Func lower(cnn::LocalResponseNormOp op, KernelBuilder &k) {
  return localResponseNorm(k.at(op.getInput()), int(shapeOf(op.getResult())[1]), int(op.getSize()),
                           op.getAlpha().convertToDouble(), op.getBeta().convertToDouble(),
                           op.getK().convertToDouble());
}

static Halide::Func lower(cnn::LocalResponseNormGradOp op, KernelBuilder &k) {
  std::vector<Halide::Func> planes;
  Halide::Func f = localResponseNormGrad(
      k.at(op.getInput()), k.at(op.getGrad()), int(shapeOf(op.getResult())[1]), int(op.getSize()),
      op.getAlpha().convertToDouble(), op.getBeta().convertToDouble(), op.getK().convertToDouble(),
      planes);
  for (Halide::Func &plane : planes)
    k.kernel.stages.rootPlanes.push_back({plane, int(shapeOf(op.getResult())[3])});
  return f;
}

/// A per-channel sum over `in` (`reduce(input Func, sum)`), the sum
/// recorded for the schedule.
template <typename Reduce>
static Halide::Func channelReduction(KernelBuilder &k, Value in, Reduce reduce) {
  ChannelSum sum;
  Halide::Func f = reduce(k.at(in), sum);
  k.kernel.stages.channelSums.push_back(sum);
  return f;
}

/// A sum of `in` per channel with the algorithm `sum` (channelMean,
/// reduceToChannels), which share their parameters.
using ChannelSumOf = Halide::Func (*)(Halide::Func, int, const std::vector<int> &, Halide::Expr,
                                      ChannelSum &);
static Halide::Func sumToChannels(KernelBuilder &k, Value in, ChannelSumOf sumOf) {
  return channelReduction(k, in, [&](Halide::Func x, ChannelSum &sum) {
    return sumOf(x, rankOf(in), halideExtents(in), k.batch, sum);
  });
}

static Halide::Func lower(cnn::ChannelMeanOp op, KernelBuilder &k) {
  return sumToChannels(k, op.getInput(), channelMean);
}

static Halide::Func lower(cnn::ChannelVarianceOp op, KernelBuilder &k) {
  Value in = op.getInput();
  return channelReduction(k, in, [&](Halide::Func x, ChannelSum &sum) {
    return channelVariance(x, k.at(op.getMean()), rankOf(in), halideExtents(in), k.batch,
                           op.getUnbiased(), sum);
  });
}

static Halide::Func lower(cnn::ReduceToChannelsOp op, KernelBuilder &k) {
  return sumToChannels(k, op.getInput(), reduceToChannels);
}

static Halide::Func lower(cnn::BatchNormGradInputOp op, KernelBuilder &k) {
  Value result = op.getResult();
  std::vector<ChannelSum> sums;
  Halide::Func f =
      batchNormGradInput(k.at(op.getInput()), k.at(op.getGrad()), k.at(op.getGamma()),
                         k.at(op.getMean()), k.at(op.getVariance()), epsilonOf(op.getEpsilonAttr()),
                         rankOf(result), halideExtents(result), k.batch, sums);
  for (ChannelSum &sum : sums)
    k.kernel.stages.channelSums.push_back(sum);
  return f;
}

static Halide::Func lower(cnn::BatchNormGradGammaOp op, KernelBuilder &k) {
  Value in = op.getInput();
  return channelReduction(k, in, [&](Halide::Func x, ChannelSum &sum) {
    return batchNormGradGamma(x, k.at(op.getGrad()), k.at(op.getMean()), k.at(op.getVariance()),
                              epsilonOf(op.getEpsilonAttr()), rankOf(in), halideExtents(in),
                              k.batch, sum);
  });
}

static Halide::Func lower(cnn::EmaOp op, KernelBuilder &k) {
  return ema(k.at(op.getRunning()), k.at(op.getBatch()), rankOf(op.getResult()),
             op.getMomentumAttr().getValueAsDouble());
}
} // namespace cnnc::halide

void cnnc::halide::registerNormalizationLowerings(MLIRContext *ctx) {
  attachLowerings<cnn::BatchNormOp, cnn::BnFoldWeightOp, cnn::BnFoldBiasOp,
                  cnn::LocalResponseNormOp, cnn::LocalResponseNormGradOp, cnn::ChannelMeanOp,
                  cnn::ChannelVarianceOp, cnn::ReduceToChannelsOp, cnn::BatchNormGradInputOp,
                  cnn::BatchNormGradGammaOp, cnn::EmaOp>(ctx);
}
