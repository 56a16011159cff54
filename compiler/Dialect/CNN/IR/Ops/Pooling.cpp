//===- Pooling.cpp - the pooling family: gradients and costs --------------===//
//
// Max, average, min and L2 pooling over windows, global average and max
// pooling and k-max pooling. Max/min gradients route δ to each window's
// first winner, average pooling spreads it, L2 pooling scales it by x/y,
// k-max pooling sends it back to the selected positions. The Halide
// algorithms are in compiler/Lowering/Halide/Ops/Pooling.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/Dialect/CNN/IR/Ops/OpUtils.h"

using namespace mlir;
using namespace cnnc::cnn;

/// FLOPs of a windowed pooling: one per window tap of each output.
template <typename PoolOp>
static double windowFlops(PoolOp op) {
  ArrayRef<int64_t> k = op.getKernel();
  return double(elementsPerItem(op.getResult())) * double(k[0] * k[1]);
}

template <typename PoolOp>
static ReceptiveField windowField(PoolOp op, ArrayRef<ReceptiveField> operands) {
  return dataField(operands).through(op.getKernel(), op.getStride());
}

LogicalResult MaxPool2DOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(), g.builder().create<MaxPool2DGradOp>(
                               getLoc(), getInput().getType(), getInput(), dy, getKernelAttr(),
                               getStrideAttr(), getPaddingAttr()));
  return success();
}
double MaxPool2DOp::getFlopsPerItem() { return windowFlops(*this); }
ReceptiveField MaxPool2DOp::getReceptiveField(ArrayRef<ReceptiveField> operands) {
  return windowField(*this, operands);
}

LogicalResult AvgPool2DOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(), g.builder().create<AvgPool2DGradOp>(
                               getLoc(), getInput().getType(), dy, getKernelAttr(),
                               getStrideAttr(), getPaddingAttr(), getCountIncludePadAttr()));
  return success();
}
double AvgPool2DOp::getFlopsPerItem() { return windowFlops(*this); }
ReceptiveField AvgPool2DOp::getReceptiveField(ArrayRef<ReceptiveField> operands) {
  return windowField(*this, operands);
}

LogicalResult MinPool2DOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(), g.builder().create<MinPool2DGradOp>(
                               getLoc(), getInput().getType(), getInput(), dy, getKernelAttr(),
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
  g.accumulate(getInput(), g.builder().create<GlobalMaxPoolGradOp>(
                               getLoc(), getInput().getType(), getInput(), dy));
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
  g.accumulate(getInput(), g.builder().create<KMaxPoolGradOp>(
                               getLoc(), getInput().getType(), getInput(), dy, getKAttr()));
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
template <typename PoolGradOp>
static double windowGradFlops(PoolGradOp op, double perTap) {
  ArrayRef<int64_t> k = op.getKernel();
  return perTap * double(elementsPerItem(op.getGrad())) * double(k[0] * k[1]);
}

double MaxPool2DGradOp::getFlopsPerItem() { return windowGradFlops(*this, 1); }
double MinPool2DGradOp::getFlopsPerItem() { return windowGradFlops(*this, 1); }
double AvgPool2DGradOp::getFlopsPerItem() {
  ArrayRef<int64_t> k = getKernel();
  return pointwiseFlops(*this, double(k[0] * k[1]));
}
double L2Pool2DGradOp::getFlopsPerItem() {
  ArrayRef<int64_t> k = getKernel();
  return pointwiseFlops(*this, 2.0 * double(k[0] * k[1]));
}
double GlobalAvgPoolGradOp::getFlopsPerItem() { return pointwiseFlops(*this, 1); }
double GlobalMaxPoolGradOp::getFlopsPerItem() { return double(elementsPerItem(getInput())); }
double KMaxPoolGradOp::getFlopsPerItem() { return kmaxFlops(getInput()); }
