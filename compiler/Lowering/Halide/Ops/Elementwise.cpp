//===- Elementwise.cpp - Halide lowering of activations and structure -----===//
//
// Activations, softmax, dropout, arithmetic (add, sub, mul, div with a
// broadcast rhs, affine), prelu, upsample, channel shuffle, concat and
// channel slices, and their gradients, as the algorithms of Elementwise.cpp,
// Training.cpp and Gradients.cpp. Gradient rules and costs:
// compiler/Dialect/CNN/IR/Ops/Elementwise.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/Lowering/Halide/KernelBuilder.h"

using namespace mlir;
using namespace cnnc;
using namespace cnnc::halide;
using cnn::shapeOf;

// The overloads of `lower` that Lowering<Op> finds by argument type.
namespace cnnc::halide {

static Halide::Func lower(cnn::ReluOp op, KernelBuilder &k) {
  return relu(k.at(op.getInput()), rankOf(op.getResult()));
}
static Halide::Func lower(cnn::SigmoidOp op, KernelBuilder &k) {
  return sigmoid(k.at(op.getInput()), rankOf(op.getResult()));
}
static Halide::Func lower(cnn::TanhOp op, KernelBuilder &k) {
  return halide::tanh(k.at(op.getInput()), rankOf(op.getResult()));
}

static Halide::Func lower(cnn::LeakyReluOp op, KernelBuilder &k) {
  return leakyRelu(k.at(op.getInput()), rankOf(op.getResult()),
                   float(op.getNegativeSlope().convertToDouble()));
}
static Halide::Func lower(cnn::LeakyReluGradOp op, KernelBuilder &k) {
  return leakyReluGrad(k.at(op.getInput()), k.at(op.getGrad()), rankOf(op.getResult()),
                       float(op.getNegativeSlope().convertToDouble()));
}

static Halide::Func lower(cnn::Relu6Op op, KernelBuilder &k) {
  return relu6(k.at(op.getInput()), rankOf(op.getResult()));
}
static Halide::Func lower(cnn::Relu6GradOp op, KernelBuilder &k) {
  return relu6Grad(k.at(op.getInput()), k.at(op.getGrad()), rankOf(op.getResult()));
}

static Halide::Func lower(cnn::HardswishOp op, KernelBuilder &k) {
  return hardswish(k.at(op.getInput()), rankOf(op.getResult()));
}
static Halide::Func lower(cnn::HardswishGradOp op, KernelBuilder &k) {
  return hardswishGrad(k.at(op.getInput()), k.at(op.getGrad()), rankOf(op.getResult()));
}

static Halide::Func lower(cnn::SiluOp op, KernelBuilder &k) {
  return silu(k.at(op.getInput()), rankOf(op.getResult()));
}
static Halide::Func lower(cnn::SiluGradOp op, KernelBuilder &k) {
  return siluGrad(k.at(op.getInput()), k.at(op.getGrad()), rankOf(op.getResult()));
}

static Halide::Func lower(cnn::ClipOp op, KernelBuilder &k) {
  return clip(k.at(op.getInput()), rankOf(op.getResult()), float(op.getMin().convertToDouble()),
              float(op.getMax().convertToDouble()));
}
static Halide::Func lower(cnn::ClipGradOp op, KernelBuilder &k) {
  return clipGrad(k.at(op.getInput()), k.at(op.getGrad()), rankOf(op.getResult()),
                  float(op.getMin().convertToDouble()), float(op.getMax().convertToDouble()));
}

static Halide::Func lower(cnn::HardSigmoidOp op, KernelBuilder &k) {
  return hardSigmoid(k.at(op.getInput()), rankOf(op.getResult()),
                     float(op.getAlpha().convertToDouble()), float(op.getBeta().convertToDouble()));
}
static Halide::Func lower(cnn::HardSigmoidGradOp op, KernelBuilder &k) {
  return hardSigmoidGrad(k.at(op.getInput()), k.at(op.getGrad()), rankOf(op.getResult()),
                         float(op.getAlpha().convertToDouble()),
                         float(op.getBeta().convertToDouble()));
}

static Halide::Func lower(cnn::SoftmaxOp op, KernelBuilder &k) {
  SoftmaxStages s = softmax(k.at(op.getInput()), int(shapeOf(op.getResult())[1]));
  k.kernel.stages.softmax = s;
  return s.softmax;
}

/// A binary op's rhs read with the lhs's shape.
template <typename Op> static Halide::Func broadcastRhs(Op op, KernelBuilder &k) {
  ArrayRef<int64_t> lhs = shapeOf(op.getLhs()), rhs = shapeOf(op.getRhs());
  Halide::Func f = k.at(op.getRhs());
  if (lhs == rhs)
    return f;
  return broadcast(f, {rhs.begin(), rhs.end()}, {lhs.begin(), lhs.end()});
}

static Halide::Func lower(cnn::AddOp op, KernelBuilder &k) {
  return add(k.at(op.getLhs()), broadcastRhs(op, k), rankOf(op.getResult()));
}
static Halide::Func lower(cnn::SubOp op, KernelBuilder &k) {
  return sub(k.at(op.getLhs()), broadcastRhs(op, k), rankOf(op.getResult()));
}
static Halide::Func lower(cnn::MulOp op, KernelBuilder &k) {
  return mul(k.at(op.getLhs()), broadcastRhs(op, k), rankOf(op.getResult()));
}
static Halide::Func lower(cnn::DivOp op, KernelBuilder &k) {
  return div(k.at(op.getLhs()), broadcastRhs(op, k), rankOf(op.getResult()));
}
static Halide::Func lower(cnn::SumToShapeOp op, KernelBuilder &k) {
  ArrayRef<int64_t> from = shapeOf(op.getInput()), to = shapeOf(op.getResult());
  return sumToShape(k.at(op.getInput()), {from.begin(), from.end()}, {to.begin(), to.end()},
                    k.batch);
}

static Halide::Func lower(cnn::AffineOp op, KernelBuilder &k) {
  return affine(k.at(op.getInput()), rankOf(op.getResult()), float(op.getScale().convertToDouble()),
                float(op.getShift().convertToDouble()));
}

static Halide::Func lower(cnn::PReluOp op, KernelBuilder &k) {
  return prelu(k.at(op.getInput()), k.at(op.getSlope()), rankOf(op.getResult()),
               int(shapeOf(op.getSlope())[0]));
}
static Halide::Func lower(cnn::PReluGradInputOp op, KernelBuilder &k) {
  return preluGradInput(k.at(op.getInput()), k.at(op.getSlope()), k.at(op.getGrad()),
                        rankOf(op.getResult()), int(shapeOf(op.getSlope())[0]));
}
static Halide::Func lower(cnn::PReluGradSlopeOp op, KernelBuilder &k) {
  return preluGradSlope(k.at(op.getInput()), k.at(op.getGrad()), rankOf(op.getResult()));
}

static Halide::Func lower(cnn::UpsampleOp op, KernelBuilder &k) {
  return upsample(k.at(op.getInput()), extent4D(op.getInput()), extent4D(op.getResult()),
                  op.getMode() == "bilinear", op.getAlignCorners());
}
static Halide::Func lower(cnn::UpsampleGradOp op, KernelBuilder &k) {
  return upsampleGrad(k.at(op.getGrad()), extent4D(op.getResult()), extent4D(op.getGrad()),
                      op.getMode() == "bilinear", op.getAlignCorners());
}

static Halide::Func lower(cnn::PadOp op, KernelBuilder &k) {
  ArrayRef<int64_t> p = op.getPadding();
  return pad(k.at(op.getInput()), extent4D(op.getInput()), int(p[0]), int(p[1]),
             float(op.getValue().convertToDouble()));
}
static Halide::Func lower(cnn::CropOp op, KernelBuilder &k) {
  ArrayRef<int64_t> p = op.getPadding();
  return crop(k.at(op.getInput()), int(p[0]), int(p[1]));
}

/// Halide's dimension 0 is the innermost: (c, r) of [R, C] read as (r, c).
static Halide::Func lower(cnn::TransposeOp op, KernelBuilder &k) {
  std::vector<Halide::Var> a = argsOf(2);
  Halide::Func f("transpose");
  f(a) = k.at(op.getInput())(a[1], a[0]);
  return f;
}

static Halide::Func lower(cnn::ChannelShuffleOp op, KernelBuilder &k) {
  return channelShuffle(k.at(op.getInput()), int(shapeOf(op.getInput())[1]), int(op.getGroups()));
}

static Halide::Func lower(cnn::ConcatOp op, KernelBuilder &k) {
  std::vector<Halide::Func> ins;
  std::vector<int> channels;
  for (Value v : op.getInputs()) {
    ins.push_back(k.at(v));
    channels.push_back(int(shapeOf(v)[1]));
  }
  return concat(ins, channels, rankOf(op.getResult()));
}

static Halide::Func lower(cnn::SliceChannelsOp op, KernelBuilder &k) {
  return sliceChannels(k.at(op.getInput()), rankOf(op.getResult()), int(op.getBegin()));
}

static Halide::Func lower(cnn::PadChannelsOp op, KernelBuilder &k) {
  return padChannels(k.at(op.getInput()), rankOf(op.getResult()), int(op.getBegin()),
                     int(shapeOf(op.getInput())[1]));
}

static Halide::Func lower(cnn::DropoutTrainOp op, KernelBuilder &k) {
  return dropout(k.at(op.getInput()), rankOf(op.getResult()), k.at(op.getSeed()),
                 op.getRateAttr().getValueAsDouble(), int(op.getSalt()));
}

/// The mask of the matching dropout_train, recomputed from the same seed.
static Halide::Func lower(cnn::DropoutGradOp op, KernelBuilder &k) {
  return dropout(k.at(op.getGrad()), rankOf(op.getResult()), k.at(op.getSeed()),
                 op.getRateAttr().getValueAsDouble(), int(op.getSalt()));
}

static Halide::Func lower(cnn::ActivationGradOp op, KernelBuilder &k) {
  return activationGrad(op.getKind().str(), k.at(op.getOutput()), k.at(op.getGrad()),
                        rankOf(op.getResult()));
}

static Halide::Func lower(cnn::SoftmaxGradOp op, KernelBuilder &k) {
  Halide::Func dot;
  Halide::Func f =
      softmaxGrad(k.at(op.getOutput()), k.at(op.getGrad()), int(shapeOf(op.getResult())[1]), dot);
  k.kernel.stages.reductions.push_back(dot);
  return f;
}
} // namespace cnnc::halide

void cnnc::halide::registerElementwiseLowerings(MLIRContext *ctx) {
  attachLowerings<cnn::ReluOp, cnn::SigmoidOp, cnn::TanhOp, cnn::LeakyReluOp, cnn::LeakyReluGradOp,
                  cnn::Relu6Op, cnn::Relu6GradOp, cnn::HardswishOp, cnn::HardswishGradOp,
                  cnn::SiluOp, cnn::SiluGradOp, cnn::ClipOp, cnn::ClipGradOp, cnn::HardSigmoidOp,
                  cnn::HardSigmoidGradOp, cnn::SoftmaxOp, cnn::AddOp, cnn::SubOp, cnn::MulOp,
                  cnn::DivOp, cnn::SumToShapeOp, cnn::AffineOp, cnn::PReluOp, cnn::PReluGradInputOp,
                  cnn::PReluGradSlopeOp, cnn::UpsampleOp, cnn::UpsampleGradOp, cnn::PadOp,
                  cnn::CropOp, cnn::ChannelShuffleOp, cnn::TransposeOp, cnn::PadChannelsOp,
                  cnn::ConcatOp, cnn::SliceChannelsOp, cnn::DropoutTrainOp, cnn::DropoutGradOp,
                  cnn::ActivationGradOp, cnn::SoftmaxGradOp>(ctx);
}
