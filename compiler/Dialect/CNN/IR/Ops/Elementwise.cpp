//===- Elementwise.cpp - activations, dropout and structure ops -----------===//
//
// Element-wise activations, softmax and dropout, the arithmetic ops (add,
// sub, mul, div with a broadcast rhs; affine with scalar constants), prelu,
// upsample, and the ops that only move data: channel shuffle and slices,
// concat, flatten, reshape and transpose. Activations differentiate from their output
// (activation_grad) or, where the output cannot tell, from their input
// (leaky_relu, relu6, hardswish, hardsigmoid, silu, prelu); a broadcast
// operand's gradient is summed back to its shape (sum_to_shape), concat
// slices δ and a slice pads it back, flatten and reshape view it back, a
// channel shuffle unshuffles it, dropout reapplies its mask.
// The verifiers of the gradient and training-form ops are at the end. The
// Halide algorithms are in compiler/Lowering/Halide/Ops/Elementwise.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/Dialect/CNN/IR/Ops/OpUtils.h"

#include "cnnc/model_schema.h"
#include "compiler/Dialect/CNN/IR/ShapeInference.h"

#include <cmath>

using namespace mlir;
using namespace cnnc::cnn;
namespace schema = cnnc::schema;

//===----------------------------------------------------------------------===//
// Activations
//===----------------------------------------------------------------------===//

/// δ through an activation whose derivative is a function of its output.
static LogicalResult activationGradient(Operation *op, GradientBuilder &g, Value dy) {
  OpBuilder &b = g.builder();
  g.accumulate(op->getOperand(0),
               b.create<ActivationGradOp>(op->getLoc(), dy.getType(), op->getResult(0), dy,
                                          b.getStringAttr(op->getName().stripDialect())));
  return success();
}

/// δ through an activation whose derivative needs its input: `GradOp(x, δ)`.
template <typename GradOp>
static LogicalResult inputGradient(Operation *op, GradientBuilder &g, Value dy) {
  Value x = op->getOperand(0);
  g.accumulate(x, g.builder().create<GradOp>(op->getLoc(), dy.getType(), x, dy));
  return success();
}

LogicalResult ReluOp::buildGradient(GradientBuilder &g, Value dy) {
  return activationGradient(*this, g, dy);
}
LogicalResult SigmoidOp::buildGradient(GradientBuilder &g, Value dy) {
  return activationGradient(*this, g, dy);
}
LogicalResult TanhOp::buildGradient(GradientBuilder &g, Value dy) {
  return activationGradient(*this, g, dy);
}
double ReluOp::getFlopsPerItem() { return pointwiseFlops(*this, 1); }
double SigmoidOp::getFlopsPerItem() { return pointwiseFlops(*this, 4); }
double TanhOp::getFlopsPerItem() { return pointwiseFlops(*this, 4); }

LogicalResult LeakyReluOp::verify() {
  if (!std::isfinite(getNegativeSlope().convertToDouble()))
    return emitOpError("negative_slope must be finite");
  int64_t rank = getType().getRank();
  if (rank != 2 && rank != 4)
    return emitOpError("expects an activation [N, F] or [N, C, H, W], found ")
           << shapeToString(getType().getShape());
  return success();
}

/// From the input, so that negative slopes are exact too.
LogicalResult LeakyReluOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(), g.builder().create<LeakyReluGradOp>(getLoc(), dy.getType(), getInput(),
                                                               dy, getNegativeSlopeAttr()));
  return success();
}
double LeakyReluOp::getFlopsPerItem() { return pointwiseFlops(*this, 2); }
double LeakyReluGradOp::getFlopsPerItem() { return pointwiseFlops(*this, 2); }

/// From the input: relu6 loses the sign of x at 0 and 6 in its result.
LogicalResult Relu6Op::buildGradient(GradientBuilder &g, Value dy) {
  return inputGradient<Relu6GradOp>(*this, g, dy);
}
double Relu6Op::getFlopsPerItem() { return pointwiseFlops(*this, 2); }
double Relu6GradOp::getFlopsPerItem() { return pointwiseFlops(*this, 2); }

/// From the input: hardswish's result does not tell which branch x was in.
LogicalResult HardswishOp::buildGradient(GradientBuilder &g, Value dy) {
  return inputGradient<HardswishGradOp>(*this, g, dy);
}
double HardswishOp::getFlopsPerItem() { return pointwiseFlops(*this, 4); }
double HardswishGradOp::getFlopsPerItem() { return pointwiseFlops(*this, 4); }

/// From the input: x · sigmoid(x) is not invertible in closed form.
LogicalResult SiluOp::buildGradient(GradientBuilder &g, Value dy) {
  return inputGradient<SiluGradOp>(*this, g, dy);
}
double SiluOp::getFlopsPerItem() { return pointwiseFlops(*this, 5); }
double SiluGradOp::getFlopsPerItem() { return pointwiseFlops(*this, 8); }

LogicalResult HardSigmoidOp::verify() {
  if (!std::isfinite(getAlpha().convertToDouble()) || !std::isfinite(getBeta().convertToDouble()))
    return emitOpError("alpha and beta must be finite");
  return expectActivation(*this, "the result", getType().getShape());
}

/// From the input, like relu6: the clipped ends have gradient 0.
LogicalResult HardSigmoidOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(),
               g.builder().create<HardSigmoidGradOp>(getLoc(), dy.getType(), getInput(), dy,
                                                     getAlphaAttr(), getBetaAttr()));
  return success();
}
/// min < max, neither NaN (either may be infinite).
static LogicalResult verifyClipBounds(Operation *op, double min, double max) {
  if (!(min < max))
    return op->emitOpError("expects min < max, found min = ") << min << " and max = " << max;
  return success();
}

LogicalResult ClipOp::verify() {
  if (failed(verifyClipBounds(*this, getMin().convertToDouble(), getMax().convertToDouble())))
    return failure();
  return expectActivation(*this, "the result", shapeOf(getResult()));
}

LogicalResult ClipOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(), g.builder().create<ClipGradOp>(getLoc(), dy.getType(), getInput(), dy,
                                                          getMinAttr(), getMaxAttr()));
  return success();
}
double ClipOp::getFlopsPerItem() { return pointwiseFlops(*this, 2); }
double ClipGradOp::getFlopsPerItem() { return pointwiseFlops(*this, 2); }

double HardSigmoidOp::getFlopsPerItem() { return pointwiseFlops(*this, 3); }
double HardSigmoidGradOp::getFlopsPerItem() { return pointwiseFlops(*this, 3); }

LogicalResult SoftmaxOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(),
               g.builder().create<SoftmaxGradOp>(getLoc(), dy.getType(), getResult(), dy));
  return success();
}
double SoftmaxOp::getFlopsPerItem() { return pointwiseFlops(*this, 4); }

//===----------------------------------------------------------------------===//
// Dropout: identity at inference; in training a mask drawn from a hash of
// (seed, position), so its gradient recomputes the mask instead of storing it.
//===----------------------------------------------------------------------===//

Value DropoutOp::buildTrainingForm(GradientBuilder &g) {
  Value x = g.lookup(getInput());
  return g.builder().create<DropoutTrainOp>(getLoc(), x.getType(), x, g.hyper(schema::hyper::kSeed),
                                            getRateAttr(),
                                            g.builder().getI64IntegerAttr(g.nextDropoutSalt()));
}

/// The inference form is the identity.
LogicalResult DropoutOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(), dy);
  return success();
}

LogicalResult DropoutTrainOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(), g.builder().create<DropoutGradOp>(getLoc(), dy.getType(), dy, getSeed(),
                                                             getRateAttr(), getSaltAttr()));
  return success();
}
double DropoutTrainOp::getFlopsPerItem() { return pointwiseFlops(*this, 2); }
double DropoutGradOp::getFlopsPerItem() { return pointwiseFlops(*this, 2); }

//===----------------------------------------------------------------------===//
// Structure
//===----------------------------------------------------------------------===//

/// δ of a binary op's rhs: `d` (lhs-shaped) summed down to rhs's shape
/// where rhs was broadcast.
static Value reducedToRhs(OpBuilder &b, Location loc, Value d, Value rhs) {
  if (d.getType() == rhs.getType())
    return d;
  return b.create<SumToShapeOp>(loc, rhs.getType(), d);
}

static Value negated(OpBuilder &b, Location loc, Value v) {
  return b.create<AffineOp>(loc, v.getType(), v, b.getF64FloatAttr(-1.0), b.getF64FloatAttr(0.0));
}

LogicalResult AddOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getLhs(), dy);
  if (g.requiresGrad(getRhs()))
    g.accumulate(getRhs(), reducedToRhs(g.builder(), getLoc(), dy, getRhs()));
  return success();
}
double AddOp::getFlopsPerItem() { return pointwiseFlops(*this, 1); }

LogicalResult SubOp::buildGradient(GradientBuilder &g, Value dy) {
  OpBuilder &b = g.builder();
  g.accumulate(getLhs(), dy);
  if (g.requiresGrad(getRhs()))
    g.accumulate(getRhs(), negated(b, getLoc(), reducedToRhs(b, getLoc(), dy, getRhs())));
  return success();
}
double SubOp::getFlopsPerItem() { return pointwiseFlops(*this, 1); }

LogicalResult MulOp::buildGradient(GradientBuilder &g, Value dy) {
  OpBuilder &b = g.builder();
  g.accumulate(getLhs(), b.create<MulOp>(getLoc(), dy.getType(), dy, getRhs()));
  if (g.requiresGrad(getRhs()))
    g.accumulate(
        getRhs(),
        reducedToRhs(b, getLoc(), b.create<MulOp>(getLoc(), dy.getType(), dy, getLhs()), getRhs()));
  return success();
}
double MulOp::getFlopsPerItem() { return pointwiseFlops(*this, 1); }

/// d(a/b) = δ/b for a and -δ·a/b² = -(δ·y)/b for b (y = a/b, the result).
LogicalResult DivOp::buildGradient(GradientBuilder &g, Value dy) {
  OpBuilder &b = g.builder();
  Location loc = getLoc();
  g.accumulate(getLhs(), b.create<DivOp>(loc, dy.getType(), dy, getRhs()));
  if (g.requiresGrad(getRhs())) {
    Value dyTimesY = b.create<MulOp>(loc, dy.getType(), dy, getResult());
    Value quotient = b.create<DivOp>(loc, dy.getType(), dyTimesY, getRhs());
    g.accumulate(getRhs(), negated(b, loc, reducedToRhs(b, loc, quotient, getRhs())));
  }
  return success();
}
double DivOp::getFlopsPerItem() { return pointwiseFlops(*this, 1); }

LogicalResult AffineOp::buildGradient(GradientBuilder &g, Value dy) {
  OpBuilder &b = g.builder();
  g.accumulate(getInput(), b.create<AffineOp>(getLoc(), dy.getType(), dy, getScaleAttr(),
                                              b.getF64FloatAttr(0.0)));
  return success();
}
double AffineOp::getFlopsPerItem() { return pointwiseFlops(*this, 2); }

/// δx = prelu_grad_input; δslope = Σ δ·min(x, 0) per channel (or over
/// everything for one shared slope).
LogicalResult PReluOp::buildGradient(GradientBuilder &g, Value dy) {
  OpBuilder &b = g.builder();
  Location loc = getLoc();
  Value x = getInput(), slope = getSlope();
  g.accumulate(x, b.create<PReluGradInputOp>(loc, dy.getType(), x, slope, dy));
  if (g.requiresGrad(slope)) {
    Value perElement = b.create<PReluGradSlopeOp>(loc, dy.getType(), x, dy);
    Value sum = shapeOf(slope)[0] == 1
                    ? b.create<SumToShapeOp>(loc, slope.getType(), perElement).getResult()
                    : b.create<ReduceToChannelsOp>(loc, slope.getType(), perElement).getResult();
    g.accumulate(slope, sum);
  }
  return success();
}
void PReluOp::initializeParameters(ParameterInitializer &init) { init.constant(getSlope(), 0.25); }
double PReluOp::getFlopsPerItem() { return pointwiseFlops(*this, 2); }

LogicalResult UpsampleOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(),
               g.builder().create<UpsampleGradOp>(getLoc(), getInput().getType(), dy, getModeAttr(),
                                                  getAlignCornersAttr()));
  return success();
}
/// Bilinear: four reads and their weights per output element.
double UpsampleOp::getFlopsPerItem() {
  return pointwiseFlops(*this, getMode() == "bilinear" ? 8 : 0);
}

/// The inverse permutation is the shuffle with C/g groups.
LogicalResult ChannelShuffleOp::buildGradient(GradientBuilder &g, Value dy) {
  OpBuilder &b = g.builder();
  int64_t channels = shapeOf(getInput())[1];
  g.accumulate(getInput(), b.create<ChannelShuffleOp>(getLoc(), dy.getType(), dy,
                                                      b.getI64IntegerAttr(channels / getGroups())));
  return success();
}

LogicalResult PadOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(),
               g.builder().create<CropOp>(getLoc(), getInput().getType(), dy, getPaddingAttr()));
  return success();
}

LogicalResult TransposeOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(), g.builder().create<TransposeOp>(getLoc(), getInput().getType(), dy));
  return success();
}

LogicalResult SliceChannelsOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(), g.builder().create<PadChannelsOp>(getLoc(), getInput().getType(), dy,
                                                             getBeginAttr()));
  return success();
}

LogicalResult ConcatOp::buildGradient(GradientBuilder &g, Value dy) {
  int64_t begin = 0;
  for (Value in : getInputs()) {
    if (g.requiresGrad(in))
      g.accumulate(in, g.builder().create<SliceChannelsOp>(getLoc(), in.getType(), dy,
                                                           g.builder().getI64IntegerAttr(begin)));
    begin += shapeOf(in)[1];
  }
  return success();
}

LogicalResult FlattenOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(), g.builder().create<ReshapeOp>(getLoc(), getInput().getType(), dy));
  return success();
}
/// A view of its input: no memory of its own.
int64_t FlattenOp::getActivationElements() { return 0; }
ReceptiveField FlattenOp::getReceptiveField(ArrayRef<ReceptiveField>) {
  return ReceptiveField::wholeInput();
}

/// A view (a conv1d weight [O, C/g, 1, k] of the parameter [O, C/g, k]):
/// the gradient is viewed back.
LogicalResult ReshapeOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(), g.builder().create<ReshapeOp>(getLoc(), getInput().getType(), dy));
  return success();
}
int64_t ReshapeOp::getActivationElements() { return 0; }

//===----------------------------------------------------------------------===//
// Gradient ops
//===----------------------------------------------------------------------===//

double ActivationGradOp::getFlopsPerItem() { return pointwiseFlops(*this, 2); }
double SoftmaxGradOp::getFlopsPerItem() { return pointwiseFlops(*this, 4); }

//===----------------------------------------------------------------------===//
// Verifiers of the gradient and training-form ops
//===----------------------------------------------------------------------===//

/// `kind` names the activation whose output it reads (relu, sigmoid, tanh).
LogicalResult ActivationGradOp::verify() {
  StringRef kind = getKind();
  if (kind != "relu" && kind != "sigmoid" && kind != "tanh")
    return emitOpError("expects kind relu, sigmoid or tanh, found '") << kind << "'";
  return expectActivation(*this, "the result", shapeOf(getResult()));
}

LogicalResult LeakyReluGradOp::verify() {
  double slope = getNegativeSlope().convertToDouble();
  if (!std::isfinite(slope))
    return emitOpError("expects a finite negative_slope, found ") << slope;
  return expectActivation(*this, "the result", shapeOf(getResult()));
}

LogicalResult Relu6GradOp::verify() {
  return expectActivation(*this, "the result", shapeOf(getResult()));
}

LogicalResult HardswishGradOp::verify() {
  return expectActivation(*this, "the result", shapeOf(getResult()));
}

LogicalResult SiluGradOp::verify() {
  return expectActivation(*this, "the result", shapeOf(getResult()));
}

LogicalResult ClipGradOp::verify() {
  if (failed(verifyClipBounds(*this, getMin().convertToDouble(), getMax().convertToDouble())))
    return failure();
  return expectActivation(*this, "the result", shapeOf(getResult()));
}

LogicalResult HardSigmoidGradOp::verify() {
  if (!std::isfinite(getAlpha().convertToDouble()) || !std::isfinite(getBeta().convertToDouble()))
    return emitOpError("alpha and beta must be finite");
  return expectActivation(*this, "the result", shapeOf(getResult()));
}

LogicalResult SoftmaxGradOp::verify() {
  ArrayRef<int64_t> y = shapeOf(getResult());
  if (y.size() != 2 || !staticFrom(y, 1))
    return emitOpError("expects [N, F] with static F, found ") << shapeToString(y);
  return success();
}

/// The result is channels [begin, begin + C') of the input: the same rank
/// and dimensions but for the channels (dim 1).
LogicalResult SliceChannelsOp::verify() {
  ArrayRef<int64_t> x = shapeOf(getInput()), y = shapeOf(getResult());
  if (failed(expectActivation(*this, "input", x)))
    return failure();
  Shape expected(x.begin(), x.end());
  expected[1] = y.size() > 1 ? y[1] : 0;
  if (y.size() != x.size() || !sameActivationShape(expected, y) || y[1] < 1)
    return emitOpError("expects the result to have the input's shape ")
           << shapeToString(x) << " but for the channels, found " << shapeToString(y);
  int64_t begin = getBegin();
  if (begin < 0 || begin > x[1] - y[1])
    return emitOpError("expects channels [begin, begin + ")
           << y[1] << ") within the input's " << x[1] << " channels, found begin = " << begin;
  return success();
}

/// Dropout's training form and its gradient: `value` (the operand NAME)
/// and the result are the same activation, seed a hyper-parameter [1],
/// rate in [0, 1).
static LogicalResult verifyDropout(Operation *op, StringRef name, Value value, Value seed,
                                   double rate) {
  if (failed(expectInRange(op, "rate", rate, rate >= 0 && rate < 1, "[0, 1)")) ||
      failed(expectScalar(op, "seed", shapeOf(seed))) ||
      failed(expectActivation(op, name, shapeOf(value))))
    return failure();
  return expectActivationShape(op, "the result", shapeOf(value), shapeOf(op->getResult(0)),
                               ("the shape of " + name).str());
}

LogicalResult DropoutTrainOp::verify() {
  return verifyDropout(*this, "input", getInput(), getSeed(), getRate().convertToDouble());
}

LogicalResult DropoutGradOp::verify() {
  return verifyDropout(*this, "grad", getGrad(), getSeed(), getRate().convertToDouble());
}

LogicalResult PReluOp::verify() {
  ArrayRef<int64_t> x = shapeOf(getInput()), a = shapeOf(getSlope());
  if (failed(expectActivation(*this, "input", x)))
    return failure();
  if (a.size() != 1 || (a[0] != 1 && a[0] != x[1]))
    return emitOpError("expects slope [") << x[1] << "] or [1], found " << shapeToString(a);
  return success();
}

LogicalResult PReluGradInputOp::verify() {
  ArrayRef<int64_t> x = shapeOf(getInput()), a = shapeOf(getSlope());
  if (failed(expectActivation(*this, "input", x)))
    return failure();
  if (a.size() != 1 || (a[0] != 1 && a[0] != x[1]))
    return emitOpError("expects slope [") << x[1] << "] or [1], found " << shapeToString(a);
  return success();
}

LogicalResult PReluGradSlopeOp::verify() {
  return expectActivation(*this, "the result", shapeOf(getResult()));
}

static LogicalResult verifyUpsampleMode(Operation *op, StringRef mode) {
  if (mode != "nearest" && mode != "bilinear")
    return op->emitOpError("expects mode 'nearest' or 'bilinear', found '") << mode << "'";
  return success();
}

LogicalResult UpsampleOp::verify() {
  if (failed(verifyUpsampleMode(*this, getMode())))
    return failure();
  if (std::string err = checkUpsample(shapeOf(getInput()), shapeOf(getResult())); !err.empty())
    return emitOpError(err);
  return success();
}

LogicalResult UpsampleGradOp::verify() {
  if (failed(verifyUpsampleMode(*this, getMode())))
    return failure();
  if (std::string err = checkUpsample(shapeOf(getResult()), shapeOf(getGrad())); !err.empty())
    return emitOpError(err);
  return success();
}
double UpsampleGradOp::getFlopsPerItem() {
  ArrayRef<int64_t> in = shapeOf(getResult()), out = shapeOf(getGrad());
  double spread = double(out[2] * out[3]) / double(in[2] * in[3]);
  return pointwiseFlops(*this, (getMode() == "bilinear" ? 4 : 1) * spread);
}

LogicalResult ChannelShuffleOp::verify() {
  ArrayRef<int64_t> x = shapeOf(getInput());
  if (failed(expectActivation(*this, "input", x)))
    return failure();
  int64_t groups = getGroups();
  if (x.size() != 4 || groups < 1 || x[1] % groups)
    return emitOpError("expects [N, C, H, W] with groups dividing C, found groups = ")
           << groups << " and " << shapeToString(x);
  return success();
}

/// The input is channels [begin, begin + C) of the result.
LogicalResult PadChannelsOp::verify() {
  ArrayRef<int64_t> x = shapeOf(getInput()), y = shapeOf(getResult());
  if (failed(expectActivation(*this, "the result", y)))
    return failure();
  Shape expected(y.begin(), y.end());
  expected[1] = x.size() > 1 ? x[1] : 0;
  if (x.size() != y.size() || !sameActivationShape(expected, x) || x[1] < 1)
    return emitOpError("expects the input to have the result's shape ")
           << shapeToString(y) << " but for the channels, found " << shapeToString(x);
  int64_t begin = getBegin();
  if (begin < 0 || begin > y[1] - x[1])
    return emitOpError("expects channels [begin, begin + ")
           << x[1] << ") within the result's " << y[1] << " channels, found begin = " << begin;
  return success();
}

LogicalResult SumToShapeOp::verify() {
  ArrayRef<int64_t> x = shapeOf(getInput()), y = shapeOf(getResult());
  if (failed(expectActivation(*this, "input", x)))
    return failure();
  if (std::string err = checkBroadcast(x, y); !err.empty())
    return emitOpError(err);
  return success();
}
double SumToShapeOp::getFlopsPerItem() { return double(elementsPerItem(getInput())); }
double PReluGradInputOp::getFlopsPerItem() { return pointwiseFlops(*this, 2); }
double PReluGradSlopeOp::getFlopsPerItem() { return pointwiseFlops(*this, 2); }

LogicalResult TransposeOp::verify() {
  ArrayRef<int64_t> x = shapeOf(getInput()), y = shapeOf(getResult());
  if (failed(expectStaticShape(*this, "input", x)))
    return failure();
  if (x.size() != 2 || y.size() != 2 || x[0] != y[1] || x[1] != y[0])
    return emitOpError("expects a matrix [R, C] and its transpose [C, R], found ")
           << shapeToString(x) << " -> " << shapeToString(y);
  return success();
}

/// `padded` is `inner` with `padding` [top, left, bottom, right] (each >= 0)
/// around its H and W.
static LogicalResult verifyPadding(Operation *op, ArrayRef<int64_t> inner, ArrayRef<int64_t> padded,
                                   ArrayRef<int64_t> padding) {
  if (failed(expectActivation(op, "the padded value", padded)) ||
      failed(expectActivation(op, "the inner value", inner)))
    return failure();
  if (padding.size() != 4 ||
      llvm::any_of(padding, [](int64_t p) { return p < 0 || p > cnnc::limits::kMaxExtent; }))
    return op->emitOpError("expects padding [top, left, bottom, right] of 4 values in [0, ")
           << cnnc::limits::kMaxExtent << "]";
  Shape expected(inner.begin(), inner.end());
  if (expected.size() == 4) {
    // Each term is below 2^31 (a dimension or a checked padding).
    expected[2] += padding[0] + padding[2];
    expected[3] += padding[1] + padding[3];
  }
  if (inner.size() != 4 || !sameActivationShape(expected, padded))
    return op->emitOpError("expects ")
           << shapeToString(inner) << " padded by [" << padding[0] << ", " << padding[1] << ", "
           << padding[2] << ", " << padding[3] << "] to be " << shapeToString(expected)
           << ", found " << shapeToString(padded);
  return success();
}

LogicalResult PadOp::verify() {
  if (!std::isfinite(getValue().convertToDouble()))
    return emitOpError("value must be finite");
  return verifyPadding(*this, shapeOf(getInput()), shapeOf(getResult()), getPadding());
}

LogicalResult CropOp::verify() {
  return verifyPadding(*this, shapeOf(getResult()), shapeOf(getInput()), getPadding());
}
