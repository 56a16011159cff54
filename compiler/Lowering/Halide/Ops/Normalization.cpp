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

/// A per-channel sum over `in` (`reduce(input Func, partial sums)`), its
/// partial sums recorded for the schedule.
template <typename Reduce>
static Halide::Func channelReduction(KernelBuilder &k, Value in, Reduce reduce) {
  Halide::Func partial;
  Halide::Func f = reduce(k.at(in), partial);
  k.channelSum(partial, in);
  return f;
}

/// A sum of `in` per channel with the algorithm `sum` (channelMean,
/// reduceToChannels), which share their parameters.
using ChannelSum = Halide::Func (*)(Halide::Func, int, const std::vector<int> &, Halide::Expr, int,
                                    Halide::Func &);
static Halide::Func sumToChannels(KernelBuilder &k, Value in, ChannelSum sum) {
  return channelReduction(k, in, [&](Halide::Func x, Halide::Func &partial) {
    return sum(x, rankOf(in), halideExtents(in), k.batch, k.lanes, partial);
  });
}

static Halide::Func lower(cnn::ChannelMeanOp op, KernelBuilder &k) {
  return sumToChannels(k, op.getInput(), channelMean);
}

static Halide::Func lower(cnn::ChannelVarianceOp op, KernelBuilder &k) {
  Value in = op.getInput();
  return channelReduction(k, in, [&](Halide::Func x, Halide::Func &partial) {
    return channelVariance(x, k.at(op.getMean()), rankOf(in), halideExtents(in), k.batch,
                           op.getUnbiased(), k.lanes, partial);
  });
}

static Halide::Func lower(cnn::ReduceToChannelsOp op, KernelBuilder &k) {
  return sumToChannels(k, op.getInput(), reduceToChannels);
}

static Halide::Func lower(cnn::BatchNormGradInputOp op, KernelBuilder &k) {
  Value result = op.getResult();
  std::vector<Halide::Func> sums;
  Halide::Func f =
      batchNormGradInput(k.at(op.getInput()), k.at(op.getGrad()), k.at(op.getGamma()),
                         k.at(op.getMean()), k.at(op.getVariance()), epsilonOf(op.getEpsilonAttr()),
                         rankOf(result), halideExtents(result), k.batch, k.lanes, sums);
  for (Halide::Func &sum : sums)
    k.channelSum(sum, result);
  return f;
}

static Halide::Func lower(cnn::BatchNormGradGammaOp op, KernelBuilder &k) {
  Value in = op.getInput();
  return channelReduction(k, in, [&](Halide::Func x, Halide::Func &partial) {
    return batchNormGradGamma(x, k.at(op.getGrad()), k.at(op.getMean()), k.at(op.getVariance()),
                              epsilonOf(op.getEpsilonAttr()), rankOf(in), halideExtents(in),
                              k.batch, k.lanes, partial);
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
