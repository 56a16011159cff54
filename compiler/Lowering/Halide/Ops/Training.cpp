//===- Training.cpp - Halide lowering of losses and optimizer updates -----===//
//
// The losses and their gradients, the accuracy count, and the optimizer
// updates (one algorithm for the three forms of compiled state, with the
// settings read from hyper-parameter scalars), as the algorithms of
// Training.cpp. Their costs: compiler/Dialect/CNN/IR/Ops/Training.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/Lowering/Halide/KernelBuilder.h"

using namespace mlir;
using namespace cnnc;
using namespace cnnc::halide;
using cnn::shapeOf;

// The overloads of `lower` that Lowering<Op> finds by argument type.
namespace cnnc::halide {

static int classesOf(Value v) { return int(shapeOf(v)[1]); }

static Halide::Func lower(cnn::SoftmaxCrossEntropyOp op, KernelBuilder &k) {
  return softmaxCrossEntropy(k.at(op.getLogits()), k.at(op.getLabels()), classesOf(op.getLogits()),
                             k.batch, k.kernel.stages.reductions, k.optional(op.getSmoothing()));
}

static Halide::Func lower(cnn::SoftmaxCrossEntropyGradOp op, KernelBuilder &k) {
  return softmaxCrossEntropyGrad(k.at(op.getLogits()), k.at(op.getLabels()),
                                 classesOf(op.getLogits()), k.batch, k.kernel.stages.reductions,
                                 k.optional(op.getSmoothing()));
}

static Halide::Func lower(cnn::SumSquaresOp op, KernelBuilder &k) {
  SumSquaresStages stages;
  Halide::Func f = sumSquares(k.at(op.getInput()), halideExtents(op.getInput()), stages);
  k.kernel.stages.reductions.push_back(stages.total);
  k.kernel.stages.sumSquares = stages;
  return f;
}

static Halide::Func lower(cnn::ClipGradientOp op, KernelBuilder &k) {
  return clipGradient(k.at(op.getGrad()), k.at(op.getCoefficient()), rankOf(op.getResult()));
}

static Halide::Func lower(cnn::ClipCoefficientOp op, KernelBuilder &k) {
  std::vector<Halide::Func> squares;
  for (Value v : op.getSquares())
    squares.push_back(k.at(v));
  return clipCoefficient(k.at(op.getMaxNorm()), squares);
}

static Halide::Func lower(cnn::MseLossOp op, KernelBuilder &k) {
  return mseLoss(k.at(op.getOutput()), k.at(op.getLabels()), classesOf(op.getOutput()), k.batch,
                 k.kernel.stages.reductions);
}

static Halide::Func lower(cnn::MseLossGradOp op, KernelBuilder &k) {
  return mseLossGrad(k.at(op.getOutput()), k.at(op.getLabels()), classesOf(op.getOutput()),
                     k.batch);
}

static Halide::Func lower(cnn::CountCorrectOp op, KernelBuilder &k) {
  return countCorrect(k.at(op.getScores()), k.at(op.getLabels()), classesOf(op.getScores()),
                      k.batch, k.kernel.stages.reductions);
}

/// The hyper-parameter scalars an update op reads (those it has).
static OptimizerHypers hypersOf(cnn::SgdUpdateOp op, KernelBuilder &k) {
  OptimizerHypers h;
  h.lr = k.at(op.getLr());
  h.weightDecay = k.at(op.getWeightDecay());
  return h;
}

static OptimizerHypers hypersOf(cnn::SgdMomentumUpdateOp op, KernelBuilder &k) {
  OptimizerHypers h;
  h.lr = k.at(op.getLr());
  h.weightDecay = k.at(op.getWeightDecay());
  h.momentum = k.at(op.getMomentum());
  h.dampening = k.at(op.getDampening());
  h.nesterov = k.at(op.getNesterov());
  return h;
}

static OptimizerHypers hypersOf(cnn::AdamUpdateOp op, KernelBuilder &k) {
  OptimizerHypers h;
  h.optimizer = k.at(op.getOptimizer());
  h.lr = k.at(op.getLr());
  h.step = k.at(op.getStep());
  h.weightDecay = k.at(op.getWeightDecay());
  h.beta1 = k.at(op.getBeta1());
  h.beta2 = k.at(op.getBeta2());
  h.epsilon = k.at(op.getEpsilon());
  h.momentum = k.at(op.getMomentum());
  h.dampening = k.at(op.getDampening());
  h.nesterov = k.at(op.getNesterov());
  return h;
}

static std::vector<Halide::Func> stateOf(cnn::SgdUpdateOp, KernelBuilder &) { return {}; }
static std::vector<Halide::Func> stateOf(cnn::SgdMomentumUpdateOp op, KernelBuilder &k) {
  return {k.at(op.getBuffer())};
}
static std::vector<Halide::Func> stateOf(cnn::AdamUpdateOp op, KernelBuilder &k) {
  return {k.at(op.getExpAvg()), k.at(op.getExpAvgSq())};
}

/// The external model of an optimizer update: its results are the new
/// parameter, then the new state tensors.
template <typename Op>
struct UpdateLowering
    : public cnn::HalideLowerableOpInterface::ExternalModel<UpdateLowering<Op>, Op> {
  LogicalResult lowerToHalide(Operation *operation, KernelBuilder &k) const {
    auto op = cast<Op>(operation);
    OptimizerUpdate update =
        optimizerUpdate(k.at(op.getParam()), k.at(op.getGrad()), stateOf(op, k), hypersOf(op, k),
                        rankOf(op.getParam()), k.kernel.stages.reductions);
    k.define(op->getResult(0), update.param);
    for (auto [result, f] : llvm::zip_equal(op->getResults().drop_front(), update.state))
      k.define(result, f);
    return success();
  }
};
} // namespace cnnc::halide

void cnnc::halide::registerTrainingLowerings(MLIRContext *ctx) {
  attachLowerings<cnn::SumSquaresOp, cnn::ClipCoefficientOp, cnn::ClipGradientOp>(ctx);
  attachLowerings<cnn::SoftmaxCrossEntropyOp, cnn::SoftmaxCrossEntropyGradOp, cnn::MseLossOp,
                  cnn::MseLossGradOp, cnn::CountCorrectOp>(ctx);
  cnn::SgdUpdateOp::attachInterface<UpdateLowering<cnn::SgdUpdateOp>>(*ctx);
  cnn::SgdMomentumUpdateOp::attachInterface<UpdateLowering<cnn::SgdMomentumUpdateOp>>(*ctx);
  cnn::AdamUpdateOp::attachInterface<UpdateLowering<cnn::AdamUpdateOp>>(*ctx);
}
