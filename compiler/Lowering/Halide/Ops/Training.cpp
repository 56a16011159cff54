//===- Training.cpp - Halide lowering of losses and optimizer updates -----===//
//
// The losses and their gradients, the accuracy count, and the SGD and Adam
// updates, as the algorithms of Training.cpp. Their costs:
// compiler/Dialect/CNN/IR/Ops/Training.cpp.
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
static double number(FloatAttr a) { return a.getValueAsDouble(); }

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

static Halide::Func lower(cnn::SgdMomentumOp op, KernelBuilder &k) {
  return sgdMomentum(k.at(op.getBuffer()), k.at(op.getGrad()), k.at(op.getParam()),
                     rankOf(op.getResult()), number(op.getMomentumAttr()),
                     number(op.getDampeningAttr()), number(op.getWeightDecayAttr()));
}

static Halide::Func lower(cnn::SgdStepOp op, KernelBuilder &k) {
  return sgdStep(k.at(op.getParam()), k.at(op.getGrad()), k.optional(op.getBuffer()),
                 k.at(op.getLr()), rankOf(op.getResult()), number(op.getMomentumAttr()),
                 number(op.getWeightDecayAttr()), op.getNesterov());
}

static Halide::Func lower(cnn::AdamMomentOp op, KernelBuilder &k) {
  return adamMoment(k.at(op.getMoment()), k.at(op.getGrad()), k.at(op.getParam()),
                    rankOf(op.getResult()), number(op.getBetaAttr()),
                    number(op.getWeightDecayAttr()), op.getSquared());
}

static Halide::Func lower(cnn::AdamStepOp op, KernelBuilder &k) {
  return adamStep(k.at(op.getParam()), k.at(op.getMoment1()), k.at(op.getMoment2()),
                  k.at(op.getLr()), k.at(op.getStep()), rankOf(op.getResult()),
                  number(op.getBeta1Attr()), number(op.getBeta2Attr()), number(op.getEpsilonAttr()),
                  k.kernel.stages.reductions);
}
} // namespace cnnc::halide

void cnnc::halide::registerTrainingLowerings(MLIRContext *ctx) {
  attachLowerings<cnn::SumSquaresOp, cnn::ClipCoefficientOp, cnn::ClipGradientOp>(ctx);
  attachLowerings<cnn::SoftmaxCrossEntropyOp, cnn::SoftmaxCrossEntropyGradOp, cnn::MseLossOp,
                  cnn::MseLossGradOp, cnn::CountCorrectOp, cnn::SgdMomentumOp, cnn::SgdStepOp,
                  cnn::AdamMomentOp, cnn::AdamStepOp>(ctx);
}
