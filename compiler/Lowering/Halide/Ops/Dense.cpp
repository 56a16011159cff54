//===- Dense.cpp - Halide lowering of the dense family --------------------===//
//
// dense and its input and weight gradients, as the algorithms of Dense.cpp
// and Gradients.cpp. Gradient rules and costs of these ops:
// compiler/Dialect/CNN/IR/Ops/Dense.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/Lowering/Halide/KernelBuilder.h"

using namespace mlir;
using namespace cnnc;
using namespace cnnc::halide;
using cnn::shapeOf;

static Halide::Func lowerDense(cnn::DenseOp op, KernelBuilder &k) {
  auto w = shapeOf(op.getWeight());
  DenseStages s = dense(k.at(op.getInput()), int(w[1]), k.at(op.getWeight()),
                        k.optional(op.getBias()), int(w[0]), k.lanes);
  k.kernel.stages.dense = s;
  return s.dense;
}

static Halide::Func lowerDenseGradInput(cnn::DenseGradInputOp op, KernelBuilder &k) {
  auto w = shapeOf(op.getWeight());
  VectorReduction s =
      denseGradInput(k.at(op.getGrad()), k.at(op.getWeight()), int(w[0]), int(w[1]));
  k.kernel.stages.vectorReduction = s;
  return s.func;
}

static Halide::Func lowerDenseGradWeight(cnn::DenseGradWeightOp op, KernelBuilder &k) {
  auto w = shapeOf(op.getResult());
  VectorReduction s = denseGradWeight(k.at(op.getInput()), k.at(op.getGrad()), int(w[1]), k.batch);
  k.kernel.stages.vectorReduction = s;
  return s.func;
}

void cnnc::halide::registerDenseLowerings(MLIRContext *ctx) {
  attachLowering<cnn::DenseOp, lowerDense>(ctx);
  attachLowering<cnn::DenseGradInputOp, lowerDenseGradInput>(ctx);
  attachLowering<cnn::DenseGradWeightOp, lowerDenseGradWeight>(ctx);
}
