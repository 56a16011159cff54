//===- Conv.cpp - the convolution family: gradients, costs, verifiers -----===//
//
// conv2d, conv_transpose2d, the connection-table expansion and the
// per-position bias: their gradient rules (gather form, no atomics), their
// parameters' PyTorch-default initialization, their costs, and the
// verifiers of the gradient ops. The ops' Halide algorithms are in
// compiler/Lowering/Halide/Ops/Conv.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/Dialect/CNN/IR/Ops/OpUtils.h"
#include "compiler/Dialect/CNN/IR/WindowAttrs.h"

#include <cmath>

using namespace mlir;
using namespace cnnc::cnn;

//===----------------------------------------------------------------------===//
// conv2d: ∂X = rot180(W) wide-convolved with δ, ∂W = X ⋆ δ, ∂b = Σδ
//===----------------------------------------------------------------------===//

LogicalResult Conv2DOp::buildGradient(GradientBuilder &g, Value dy) {
  OpBuilder &b = g.builder();
  Value x = getInput(), w = getWeight();
  if (g.requiresGrad(x))
    g.accumulate(x,
                 b.create<Conv2DGradInputOp>(getLoc(), x.getType(), dy, w, getStrideAttr(),
                                             getPaddingAttr(), getDilationAttr(), getGroupsAttr()));
  g.accumulate(w,
               b.create<Conv2DGradWeightOp>(getLoc(), w.getType(), x, dy, getStrideAttr(),
                                            getPaddingAttr(), getDilationAttr(), getGroupsAttr()));
  accumulateBiasGradient(g, getLoc(), getBias(), dy);
  return success();
}

void Conv2DOp::initializeParameters(ParameterInitializer &init) {
  initializeFromFanIn(init, getWeight(), getBias());
}

/// A connection table (LeNet-5's C3): each output map multiplies only its
/// own kernels, the compact [K, kh, kw] weight.
static ScatterConnectionsOp connectionTable(Conv2DOp op) {
  return op.getWeight().getDefiningOp<ScatterConnectionsOp>();
}

int64_t Conv2DOp::getWeightCount() {
  if (auto table = connectionTable(*this))
    return elementsPerItem(table.getWeight());
  return elementsPerItem(getWeight());
}

int64_t Conv2DOp::getMultiplyAdds() {
  if (auto table = connectionTable(*this))
    return (cnnc::limits::Checked(elementsPerItem(getResult())) / shapeOf(getResult())[1] *
            elementsPerItem(table.getWeight()))
        .saturated();
  return (cnnc::limits::Checked(elementsPerItem(getResult())) * elementsPerItem(getWeight()) /
          shapeOf(getWeight())[0])
      .saturated();
}

double Conv2DOp::getFlopsPerItem() {
  return 2.0 * double(elementsPerItem(getResult())) * double(elementsPerItem(getWeight())) /
         double(shapeOf(getWeight())[0]);
}

ReceptiveField Conv2DOp::getReceptiveField(ArrayRef<ReceptiveField> operands) {
  return dataField(operands).through(shapeOf(getWeight()).drop_front(2), getStride(),
                                     getDilation());
}

//===----------------------------------------------------------------------===//
// conv_transpose2d: y = Wᵀx is the input gradient of the conv2d c(y) = W ⋆ y
// with the same attributes, so ∂x = c(δ) (a conv2d) and ∂W is that conv's
// weight gradient with input and δ exchanged. The conv's bottom/right
// padding drops output_padding (< stride), so it maps δ to x's shape.
//===----------------------------------------------------------------------===//

LogicalResult ConvTranspose2DOp::buildGradient(GradientBuilder &g, Value dy) {
  OpBuilder &b = g.builder();
  Value x = getInput(), w = getWeight();
  ArrayRef<int64_t> pad = getPadding(), extra = getOutputPadding();
  SmallVector<int64_t> pads = {pad[0], pad[1], std::max<int64_t>(pad[2] - extra[0], 0),
                               std::max<int64_t>(pad[3] - extra[1], 0)};
  auto padsAttr = b.getDenseI64ArrayAttr(pads);
  if (g.requiresGrad(x))
    g.accumulate(x, b.create<Conv2DOp>(getLoc(), dy, w, Value(), getStrideAttr(), padsAttr,
                                       getDilationAttr(), getGroupsAttr()));
  g.accumulate(w, b.create<Conv2DGradWeightOp>(getLoc(), w.getType(), dy, x, getStrideAttr(),
                                               padsAttr, getDilationAttr(), getGroupsAttr()));
  accumulateBiasGradient(g, getLoc(), getBias(), dy);
  return success();
}

/// PyTorch's fan-in of a [C, O/groups, kh, kw] weight: O/groups·kh·kw.
void ConvTranspose2DOp::initializeParameters(ParameterInitializer &init) {
  initializeFromFanIn(init, getWeight(), getBias());
}

int64_t ConvTranspose2DOp::getWeightCount() { return elementsPerItem(getWeight()); }

/// Each input pixel is multiplied by O/groups kernels [C, O/g, kh, kw].
int64_t ConvTranspose2DOp::getMultiplyAdds() {
  return (cnnc::limits::Checked(elementsPerItem(getInput())) * elementsPerItem(getWeight()) /
          shapeOf(getWeight())[0])
      .saturated();
}

double ConvTranspose2DOp::getFlopsPerItem() { return 2.0 * double(getMultiplyAdds()); }

/// An output pixel sees ceil(span / stride) input pixels per dimension.
ReceptiveField ConvTranspose2DOp::getReceptiveField(ArrayRef<ReceptiveField> operands) {
  ReceptiveField in = dataField(operands), out = in;
  for (int i = 0; i < 2; ++i) {
    int64_t stride = getStride()[i];
    cnnc::limits::Checked span = cnnc::limits::Checked(getDilation()[i]) *
                                     (cnnc::limits::Checked(shapeOf(getWeight())[2 + i]) - 1) +
                                 1;
    cnnc::limits::Checked size =
        cnnc::limits::Checked(in.size[i]) + ((span + stride - 1) / stride - 1) * in.jump[i];
    if (!size.ok())
      return ReceptiveField::wholeInput(); // past 2^63 pixels: any input
    out.size[i] = size.value();
    out.jump[i] = std::max<int64_t>(1, in.jump[i] / stride);
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Connection tables and per-position bias
//===----------------------------------------------------------------------===//

LogicalResult ScatterConnectionsOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getWeight(), g.builder().create<GatherConnectionsOp>(getLoc(), getWeight().getType(),
                                                                    dy, getConnectionsAttr()));
  return success();
}

/// The mean fan-in of an output channel: K/O·kh·kw.
void ScatterConnectionsOp::initializeParameters(ParameterInitializer &init) {
  double outputs = double(getConnections().size());
  init.uniform(getWeight(), 1.0 / std::sqrt(double(elementsPerItem(getWeight())) / outputs));
}

LogicalResult PositionBiasOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getInput(), dy);
  g.accumulate(getBias(), g.builder().create<ReduceOverBatchOp>(getLoc(), getBias().getType(), dy));
  return success();
}

void PositionBiasOp::initializeParameters(ParameterInitializer &init) {
  init.constant(getBias(), 0);
}

double PositionBiasOp::getFlopsPerItem() { return pointwiseFlops(*this, 1); }

//===----------------------------------------------------------------------===//
// Gradient ops
//===----------------------------------------------------------------------===//

double Conv2DGradInputOp::getFlopsPerItem() {
  return 2.0 * double(elementsPerItem(getGrad())) * double(elementsPerItem(getWeight())) /
         double(shapeOf(getWeight())[0]);
}

double Conv2DGradWeightOp::getFlopsPerItem() {
  return 2.0 * double(elementsPerItem(getGrad())) * double(elementsPerItem(getResult())) /
         double(shapeOf(getResult())[0]);
}

double ReduceOverBatchOp::getFlopsPerItem() { return double(elementsPerItem(getInput())); }

/// The gradients of y = conv2d(x, w): `conv` names the convolution in the
/// op's terms ("conv2d(result, weight)"); x, w, y are its operands' shapes.
template <typename GradOp>
static LogicalResult verifyConvGradient(GradOp op, StringRef conv, ArrayRef<int64_t> x,
                                        ArrayRef<int64_t> w, ArrayRef<int64_t> y) {
  Window window;
  if (std::string err = readWindow(op, window); !err.empty())
    return op.emitOpError(err);
  if (!staticFrom(w, 0))
    return op.emitOpError("expects a conv2d weight with a static positive shape, found ")
           << shapeToString(w);
  Shape expected;
  if (std::string err = inferConv2D(x, w, nullptr, 0, window, op.getGroups(), expected);
      !err.empty())
    return op.emitOpError("for ") << conv << ": " << err;
  return expectActivationShape(op, "grad", expected, y, ("the shape of " + conv).str());
}

/// The result is the input x of a conv2d with this weight, window and
/// groups, and grad has the shape of conv2d(x, weight).
LogicalResult Conv2DGradInputOp::verify() {
  return verifyConvGradient(*this, "conv2d(result, weight)", shapeOf(getResult()),
                            shapeOf(getWeight()), shapeOf(getGrad()));
}

/// The result is the weight w of a conv2d with this window and groups, and
/// grad has the shape of conv2d(input, w).
LogicalResult Conv2DGradWeightOp::verify() {
  return verifyConvGradient(*this, "conv2d(input, result)", shapeOf(getInput()),
                            shapeOf(getResult()), shapeOf(getGrad()));
}
