//===- Elementwise.cpp - Halide lowering of activations and structure -----===//
//
// Activations, softmax, dropout, add, concat and channel slices, and the
// activation and softmax gradients, as the algorithms of Elementwise.cpp,
// Training.cpp and Gradients.cpp. Gradient rules and costs:
// compiler/Dialect/CNN/IR/Ops/Elementwise.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/Lowering/Halide/KernelBuilder.h"

using namespace mlir;
using namespace cnnc;
using namespace cnnc::halide;
using cnn::shapeOf;

static Halide::Func lowerRelu(cnn::ReluOp op, KernelBuilder &k) {
  return relu(k.at(op.getInput()), rankOf(op.getResult()));
}
static Halide::Func lowerSigmoid(cnn::SigmoidOp op, KernelBuilder &k) {
  return sigmoid(k.at(op.getInput()), rankOf(op.getResult()));
}
static Halide::Func lowerTanh(cnn::TanhOp op, KernelBuilder &k) {
  return halide::tanh(k.at(op.getInput()), rankOf(op.getResult()));
}

static Halide::Func lowerLeakyRelu(cnn::LeakyReluOp op, KernelBuilder &k) {
  return leakyRelu(k.at(op.getInput()), rankOf(op.getResult()),
                   float(op.getNegativeSlope().convertToDouble()));
}
static Halide::Func lowerLeakyReluGrad(cnn::LeakyReluGradOp op, KernelBuilder &k) {
  return leakyReluGrad(k.at(op.getInput()), k.at(op.getGrad()), rankOf(op.getResult()),
                       float(op.getNegativeSlope().convertToDouble()));
}

static Halide::Func lowerSoftmax(cnn::SoftmaxOp op, KernelBuilder &k) {
  SoftmaxStages s = softmax(k.at(op.getInput()), int(shapeOf(op.getResult())[1]));
  k.kernel.stages.softmax = s;
  return s.softmax;
}

static Halide::Func lowerAdd(cnn::AddOp op, KernelBuilder &k) {
  return add(k.at(op.getLhs()), k.at(op.getRhs()), rankOf(op.getResult()));
}

static Halide::Func lowerConcat(cnn::ConcatOp op, KernelBuilder &k) {
  std::vector<Halide::Func> ins;
  std::vector<int> channels;
  for (Value v : op.getInputs()) {
    ins.push_back(k.at(v));
    channels.push_back(int(shapeOf(v)[1]));
  }
  return concat(ins, channels, rankOf(op.getResult()));
}

static Halide::Func lowerSliceChannels(cnn::SliceChannelsOp op, KernelBuilder &k) {
  return sliceChannels(k.at(op.getInput()), rankOf(op.getResult()), int(op.getBegin()));
}

static Halide::Func lowerDropoutTrain(cnn::DropoutTrainOp op, KernelBuilder &k) {
  return dropout(k.at(op.getInput()), rankOf(op.getResult()), k.at(op.getSeed()),
                 op.getRateAttr().getValueAsDouble(), int(op.getSalt()));
}

/// The mask of the matching dropout_train, recomputed from the same seed.
static Halide::Func lowerDropoutGrad(cnn::DropoutGradOp op, KernelBuilder &k) {
  return dropout(k.at(op.getGrad()), rankOf(op.getResult()), k.at(op.getSeed()),
                 op.getRateAttr().getValueAsDouble(), int(op.getSalt()));
}

static Halide::Func lowerActivationGrad(cnn::ActivationGradOp op, KernelBuilder &k) {
  return activationGrad(op.getKind().str(), k.at(op.getOutput()), k.at(op.getGrad()),
                        rankOf(op.getResult()));
}

static Halide::Func lowerSoftmaxGrad(cnn::SoftmaxGradOp op, KernelBuilder &k) {
  Halide::Func dot;
  Halide::Func f = softmaxGrad(k.at(op.getOutput()), k.at(op.getGrad()),
                               int(shapeOf(op.getResult())[1]), dot);
  k.kernel.stages.reductions.push_back(dot);
  return f;
}

void cnnc::halide::registerElementwiseLowerings(MLIRContext *ctx) {
  attachLowering<cnn::ReluOp, lowerRelu>(ctx);
  attachLowering<cnn::SigmoidOp, lowerSigmoid>(ctx);
  attachLowering<cnn::TanhOp, lowerTanh>(ctx);
  attachLowering<cnn::LeakyReluOp, lowerLeakyRelu>(ctx);
  attachLowering<cnn::LeakyReluGradOp, lowerLeakyReluGrad>(ctx);
  attachLowering<cnn::SoftmaxOp, lowerSoftmax>(ctx);
  attachLowering<cnn::AddOp, lowerAdd>(ctx);
  attachLowering<cnn::ConcatOp, lowerConcat>(ctx);
  attachLowering<cnn::SliceChannelsOp, lowerSliceChannels>(ctx);
  attachLowering<cnn::DropoutTrainOp, lowerDropoutTrain>(ctx);
  attachLowering<cnn::DropoutGradOp, lowerDropoutGrad>(ctx);
  attachLowering<cnn::ActivationGradOp, lowerActivationGrad>(ctx);
  attachLowering<cnn::SoftmaxGradOp, lowerSoftmaxGrad>(ctx);
}
