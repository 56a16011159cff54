//===- Sequence.cpp - Halide lowering of embeddings -----------------------===//
//
// The embedding lookup and its table gradient (a scatter-add), as the
// algorithms of Sequence.cpp. Gradient rule and cost:
// compiler/Dialect/CNN/IR/Ops/Sequence.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/Lowering/Halide/KernelBuilder.h"

using namespace mlir;
using namespace cnnc;
using namespace cnnc::halide;
using cnn::shapeOf;

// The overloads of `lower` that Lowering<Op> finds by argument type.
namespace cnnc::halide {

/// A gather: one row copy per token.
static Halide::Func lower(cnn::EmbeddingOp op, KernelBuilder &k) {
  k.kernel.stages.embeddingDim = int(shapeOf(op.getWeight())[1]);
  return embedding(k.at(op.getIds()), k.at(op.getWeight()), int(shapeOf(op.getWeight())[0]));
}

static Halide::Func lower(cnn::EmbeddingGradWeightOp op, KernelBuilder &k) {
  auto table = shapeOf(op.getResult());
  auto ids = shapeOf(op.getIds());
  EmbeddingGradStages s = embeddingGradWeight(k.at(op.getIds()), k.at(op.getGrad()), int(ids[1]),
                                              int(table[0]), int(table[1]), k.batch);
  k.kernel.stages.embeddingGrad = s;
  return s.table;
}
} // namespace cnnc::halide

void cnnc::halide::registerSequenceLowerings(MLIRContext *ctx) {
  attachLowerings<cnn::EmbeddingOp, cnn::EmbeddingGradWeightOp>(ctx);
}
