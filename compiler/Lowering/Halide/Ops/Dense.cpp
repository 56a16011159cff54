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

// The overloads of `lower` that Lowering<Op> finds by argument type.
namespace cnnc::halide {

static Halide::Func lower(cnn::DenseOp op, KernelBuilder &k) {
  auto w = shapeOf(op.getWeight());
  DenseStages s = dense(k.at(op.getInput()), int(w[1]), k.at(op.getWeight()),
                        k.optional(op.getBias()), int(w[0]));
  k.kernel.stages.dense = s;
  return s.dense;
}

static Halide::Func lower(cnn::DenseGradInputOp op, KernelBuilder &k) {
  auto w = shapeOf(op.getWeight());
  VectorReduction s =
      denseGradInput(k.at(op.getGrad()), k.at(op.getWeight()), int(w[0]), int(w[1]));
  k.kernel.stages.vectorReduction = s;
  return s.func;
}

static Halide::Func lower(cnn::DenseGradWeightOp op, KernelBuilder &k) {
  auto w = shapeOf(op.getResult());
  VectorReduction s = denseGradWeight(k.at(op.getInput()), k.at(op.getGrad()), int(w[1]), k.batch);
  k.kernel.stages.vectorReduction = s;
  return s.func;
}
} // namespace cnnc::halide

void cnnc::halide::registerDenseLowerings(MLIRContext *ctx) {
  attachLowerings<cnn::DenseOp, cnn::DenseGradInputOp, cnn::DenseGradWeightOp>(ctx);
}
