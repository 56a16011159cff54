//===- Dense.cpp - the dense family: gradients, costs, verifiers ----------===//
//
// The fully connected layer y = x Wᵀ + b: ∂X = δW, ∂W = δᵀX, ∂b = Σδ; its
// parameters' default initialization, its costs and the verifiers of its
// gradient ops. The Halide algorithms are in
// compiler/Lowering/Halide/Ops/Dense.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/Dialect/CNN/IR/Ops/OpUtils.h"

#include <cmath>

using namespace mlir;
using namespace cnnc::cnn;

LogicalResult DenseOp::buildGradient(GradientBuilder &g, Value dy) {
  OpBuilder &b = g.builder();
  Value x = getInput(), w = getWeight();
  if (g.requiresGrad(x))
    g.accumulate(x, b.create<DenseGradInputOp>(getLoc(), x.getType(), dy, w));
  g.accumulate(w, b.create<DenseGradWeightOp>(getLoc(), w.getType(), x, dy));
  accumulateBiasGradient(g, getLoc(), getBias(), dy);
  return success();
}

/// U(±1/sqrt(in_features)) for weight and bias, as nn.Linear.
void DenseOp::initializeParameters(ParameterInitializer &init) {
  initializeFromFanIn(init, getWeight(), getBias());
}

int64_t DenseOp::getWeightCount() { return elementsPerItem(getWeight()); }
int64_t DenseOp::getMultiplyAdds() { return elementsPerItem(getWeight()); }
double DenseOp::getFlopsPerItem() { return 2.0 * double(elementsPerItem(getWeight())); }

/// A dense layer sees its whole input.
ReceptiveField DenseOp::getReceptiveField(ArrayRef<ReceptiveField>) {
  return ReceptiveField::wholeInput();
}

double DenseGradInputOp::getFlopsPerItem() { return 2.0 * double(elementsPerItem(getWeight())); }
double DenseGradWeightOp::getFlopsPerItem() { return 2.0 * double(elementsPerItem(getResult())); }

/// The gradients of y = dense(x, w): x [N, F], w [O, F] (static), grad [N, O].
template <typename GradOp>
static LogicalResult verifyDenseGradient(GradOp op, StringRef dense, ArrayRef<int64_t> x,
                                         ArrayRef<int64_t> w, ArrayRef<int64_t> y) {
  if (!staticFrom(w, 0))
    return op.emitOpError("expects a dense weight with a static positive shape, found ")
           << shapeToString(w);
  Shape expected;
  if (std::string err = inferDense(x, w, nullptr, 0, expected); !err.empty())
    return op.emitOpError("for ") << dense << ": " << err;
  return expectActivationShape(op, "grad", expected, y, ("the shape of " + dense).str());
}

/// grad [N, O], weight [O, F] -> [N, F].
LogicalResult DenseGradInputOp::verify() {
  return verifyDenseGradient(*this, "dense(result, weight)", shapeOf(getResult()),
                             shapeOf(getWeight()), shapeOf(getGrad()));
}

/// input [N, F], grad [N, O] -> [O, F].
LogicalResult DenseGradWeightOp::verify() {
  return verifyDenseGradient(*this, "dense(input, result)", shapeOf(getInput()),
                             shapeOf(getResult()), shapeOf(getGrad()));
}
