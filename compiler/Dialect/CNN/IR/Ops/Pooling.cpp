//===- Pooling.cpp - the pooling family: gradients, costs, verifiers ------===//
//
// Max, average, min and L2 pooling over windows, global average and max
// pooling and k-max pooling. Max/min gradients route δ to each window's
// first winner, average pooling spreads it, L2 pooling scales it by x/y,
// k-max pooling sends it back to the selected positions. The gradient ops'
// verifiers check their shapes against the forward op's. The Halide
// algorithms are in compiler/Lowering/Halide/Ops/Pooling.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/Dialect/CNN/IR/Ops/OpUtils.h"
#include "compiler/Dialect/CNN/IR/WindowAttrs.h"

using namespace mlir;
using namespace cnnc::cnn;

/// FLOPs of a windowed pooling: one per window tap of each output.
template <typename PoolOp> static double windowFlops(PoolOp op) {
  ArrayRef<int64_t> k = op.getKernel();
  return double(elementsPerItem(op.getResult())) * (double(k[0]) * double(k[1]));
}

template <typename PoolOp>
static ReceptiveField windowField(PoolOp op, ArrayRef<ReceptiveField> operands) {
  return dataField(operands).through(op.getKernel(), op.getStride());
}

LogicalResult MaxPool2DOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(), g.builder().create<MaxPool2DGradOp>(
                               getLoc(), getInput().getType(), getInput(), dy, getKernelAttr(),
                               getStrideAttr(), getPaddingAttr(), getDilationAttr()));
  return success();
}
double MaxPool2DOp::getFlopsPerItem() { return windowFlops(*this); }
ReceptiveField MaxPool2DOp::getReceptiveField(ArrayRef<ReceptiveField> operands) {
  return dataField(operands).through(getKernel(), getStride(), getDilation());
}

LogicalResult AvgPool2DOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(), g.builder().create<AvgPool2DGradOp>(
                               getLoc(), getInput().getType(), dy, getKernelAttr(), getStrideAttr(),
                               getPaddingAttr(), getCountIncludePadAttr()));
  return success();
}
double AvgPool2DOp::getFlopsPerItem() { return windowFlops(*this); }
ReceptiveField AvgPool2DOp::getReceptiveField(ArrayRef<ReceptiveField> operands) {
  return windowField(*this, operands);
}

LogicalResult MinPool2DOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(), g.builder().create<MinPool2DGradOp>(getLoc(), getInput().getType(),
                                                               getInput(), dy, getKernelAttr(),
                                                               getStrideAttr(), getPaddingAttr()));
  return success();
}
double MinPool2DOp::getFlopsPerItem() { return windowFlops(*this); }
ReceptiveField MinPool2DOp::getReceptiveField(ArrayRef<ReceptiveField> operands) {
  return windowField(*this, operands);
}

LogicalResult L2Pool2DOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(), g.builder().create<L2Pool2DGradOp>(
                               getLoc(), getInput().getType(), getInput(), getResult(), dy,
                               getKernelAttr(), getStrideAttr(), getPaddingAttr()));
  return success();
}
double L2Pool2DOp::getFlopsPerItem() { return windowFlops(*this); }
ReceptiveField L2Pool2DOp::getReceptiveField(ArrayRef<ReceptiveField> operands) {
  return windowField(*this, operands);
}

LogicalResult GlobalAvgPoolOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(),
               g.builder().create<GlobalAvgPoolGradOp>(getLoc(), getInput().getType(), dy));
  return success();
}
double GlobalAvgPoolOp::getFlopsPerItem() { return double(elementsPerItem(getInput())); }
ReceptiveField GlobalAvgPoolOp::getReceptiveField(ArrayRef<ReceptiveField>) {
  return ReceptiveField::wholeInput();
}

LogicalResult GlobalMaxPoolOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(), g.builder().create<GlobalMaxPoolGradOp>(getLoc(), getInput().getType(),
                                                                   getInput(), dy));
  return success();
}
double GlobalMaxPoolOp::getFlopsPerItem() { return double(elementsPerItem(getInput())); }
ReceptiveField GlobalMaxPoolOp::getReceptiveField(ArrayRef<ReceptiveField>) {
  return ReceptiveField::wholeInput();
}

/// Ranking each of the L positions of a plane against the others.
static double kmaxFlops(Value input) {
  ArrayRef<int64_t> s = shapeOf(input);
  double length = double(s[2] * s[3]);
  return length * length * double(s[1]);
}

LogicalResult KMaxPoolOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(), g.builder().create<KMaxPoolGradOp>(getLoc(), getInput().getType(),
                                                              getInput(), dy, getKAttr()));
  return success();
}
double KMaxPoolOp::getFlopsPerItem() { return kmaxFlops(getInput()); }
ReceptiveField KMaxPoolOp::getReceptiveField(ArrayRef<ReceptiveField>) {
  return ReceptiveField::wholeInput();
}

//===----------------------------------------------------------------------===//
// Gradient ops
//===----------------------------------------------------------------------===//

/// One per window tap of each δ element.
template <typename PoolGradOp> static double windowGradFlops(PoolGradOp op, double perTap) {
  ArrayRef<int64_t> k = op.getKernel();
  return perTap * double(elementsPerItem(op.getGrad())) * (double(k[0]) * double(k[1]));
}

double MaxPool2DGradOp::getFlopsPerItem() { return windowGradFlops(*this, 1); }
double MinPool2DGradOp::getFlopsPerItem() { return windowGradFlops(*this, 1); }
double AvgPool2DGradOp::getFlopsPerItem() {
  ArrayRef<int64_t> k = getKernel();
  return pointwiseFlops(*this, (double(k[0]) * double(k[1])));
}
double L2Pool2DGradOp::getFlopsPerItem() {
  ArrayRef<int64_t> k = getKernel();
  return pointwiseFlops(*this, 2.0 * (double(k[0]) * double(k[1])));
}
double GlobalAvgPoolGradOp::getFlopsPerItem() { return pointwiseFlops(*this, 1); }
double GlobalMaxPoolGradOp::getFlopsPerItem() { return double(elementsPerItem(getInput())); }
double KMaxPoolGradOp::getFlopsPerItem() { return kmaxFlops(getInput()); }

//===----------------------------------------------------------------------===//
// Verifiers of the gradient ops
//===----------------------------------------------------------------------===//

/// That `y` (the operand `name`) has the shape of the windowed pooling
/// `pool` of `x` [N, C, H, W]. The gradient ops do not keep the forward op's
/// ceil_mode, so either rounding is accepted.
template <typename GradOp>
static LogicalResult verifyPooledShape(GradOp op, StringRef pool, ArrayRef<int64_t> x,
                                       StringRef name, ArrayRef<int64_t> y) {
  Window window;
  if (std::string err = readWindow(op, window); !err.empty())
    return op.emitOpError(err);
  Shape floor, ceil;
  if (std::string err = inferPool2D(x, window, floor); !err.empty())
    return op.emitOpError("for ") << pool << ": " << err;
  window.ceilMode = true;
  if (std::string err = inferPool2D(x, window, ceil); !err.empty())
    return op.emitOpError("for ") << pool << " in ceil mode: " << err;
  if (sameActivationShape(floor, y) || sameActivationShape(ceil, y))
    return success();
  std::string why = ("the shape of " + pool).str();
  if (ceil != floor)
    why += ", or " + shapeToString(ceil) + " in ceil mode";
  return shapeMismatch(op, name, floor, y, why);
}

/// max/min pooling: grad has the pooling's shape, the result the input's.
template <typename GradOp>
static LogicalResult verifyWinnerPoolGradient(GradOp op, StringRef pool) {
  ArrayRef<int64_t> x = shapeOf(op.getInput());
  if (failed(verifyPooledShape(op, pool, x, "grad", shapeOf(op.getGrad()))))
    return failure();
  return expectActivationShape(op, "the result", x, shapeOf(op.getResult()), "the input's shape");
}

LogicalResult MaxPool2DGradOp::verify() {
  return verifyWinnerPoolGradient(*this, "max_pool2d(input)");
}
LogicalResult MinPool2DGradOp::verify() {
  return verifyWinnerPoolGradient(*this, "min_pool2d(input)");
}

/// The result is the pooling's input; grad has the pooling's shape.
LogicalResult AvgPool2DGradOp::verify() {
  return verifyPooledShape(*this, "avg_pool2d(result)", shapeOf(getResult()), "grad",
                           shapeOf(getGrad()));
}

/// output is the forward l2_pool2d's result; grad has its shape.
LogicalResult L2Pool2DGradOp::verify() {
  ArrayRef<int64_t> x = shapeOf(getInput()), y = shapeOf(getOutput());
  if (failed(verifyPooledShape(*this, "l2_pool2d(input)", x, "output", y)) ||
      failed(expectActivationShape(*this, "grad", y, shapeOf(getGrad()), "the shape of output")))
    return failure();
  return expectActivationShape(*this, "the result", x, shapeOf(getResult()), "the input's shape");
}

/// The pooled shape [N, C, 1, 1] of a global pooling of `x` [N, C, H, W].
static Shape globalPooled(ArrayRef<int64_t> x) { return {x[0], x[1], 1, 1}; }

/// The result [N, C, H, W] is the pooling's input, grad is [N, C, 1, 1].
LogicalResult GlobalAvgPoolGradOp::verify() {
  ArrayRef<int64_t> x = shapeOf(getResult());
  if (std::string err = checkActivation4D(x, "the result"); !err.empty())
    return emitOpError(err);
  return expectActivationShape(*this, "grad", globalPooled(x), shapeOf(getGrad()),
                               "the result pooled over H and W");
}

LogicalResult GlobalMaxPoolGradOp::verify() {
  ArrayRef<int64_t> x = shapeOf(getInput());
  if (std::string err = checkActivation4D(x, "input"); !err.empty())
    return emitOpError(err);
  if (failed(expectActivationShape(*this, "grad", globalPooled(x), shapeOf(getGrad()),
                                   "the input pooled over H and W")))
    return failure();
  return expectActivationShape(*this, "the result", x, shapeOf(getResult()), "the input's shape");
}

/// grad is kmax_pool(input) [N, C, 1, k]; the result has the input's shape.
LogicalResult KMaxPoolGradOp::verify() {
  ArrayRef<int64_t> x = shapeOf(getInput());
  Shape pooled;
  if (std::string err = inferKMaxPool(x, getK(), pooled); !err.empty())
    return emitOpError(err);
  if (failed(expectActivationShape(*this, "grad", pooled, shapeOf(getGrad()),
                                   "the shape of kmax_pool(input)")))
    return failure();
  return expectActivationShape(*this, "the result", x, shapeOf(getResult()), "the input's shape");
}
