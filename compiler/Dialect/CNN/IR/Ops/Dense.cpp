//===- Dense.cpp - the dense family: gradients and costs ------------------===//
//
// The fully connected layer y = x Wᵀ + b: ∂X = δW, ∂W = δᵀX, ∂b = Σδ; its
// parameters' default initialization and its costs. The Halide algorithms
// are in compiler/Lowering/Halide/Ops/Dense.cpp.
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
