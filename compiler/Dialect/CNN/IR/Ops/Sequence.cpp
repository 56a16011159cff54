//===- Sequence.cpp - embeddings: gradient, cost, verifier ----------------===//
//
// The embedding table lookup of sequence models (ids [N, L] -> [N, E, 1, L]);
// its gradient scatter-adds δ into the table rows of the ids (none flows to
// the ids), and its verifier checks the table against the ids and δ. 1-D
// convolution and pooling are the 2-D ops over a 1 x L plane and need
// nothing here. The Halide algorithms are in
// compiler/Lowering/Halide/Ops/Sequence.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/Dialect/CNN/IR/Ops/OpUtils.h"

#include <cmath>

using namespace mlir;
using namespace cnnc::cnn;

LogicalResult EmbeddingOp::buildGradient(GradientBuilder &g, Value dy) {
  g.accumulate(getWeight(), g.builder().create<EmbeddingGradWeightOp>(
                                getLoc(), getWeight().getType(), getIds(), dy));
  return success();
}

/// PyTorch draws N(0, 1); the runtime draws uniformly, so: the uniform
/// distribution of the same (unit) variance.
void EmbeddingOp::initializeParameters(ParameterInitializer &init) {
  init.uniform(getWeight(), std::sqrt(3.0));
}

/// A table lookup: weights stored, no multiply-adds.
int64_t EmbeddingOp::getWeightCount() { return elementsPerItem(getWeight()); }

/// Each position sees its own token.
ReceptiveField EmbeddingOp::getReceptiveField(ArrayRef<ReceptiveField>) { return ReceptiveField(); }

double EmbeddingGradWeightOp::getFlopsPerItem() { return double(elementsPerItem(getGrad())); }

/// ids [N, L] and grad [N, E, 1, L] = embedding(ids, result), the result
/// the table [V, E].
LogicalResult EmbeddingGradWeightOp::verify() {
  Shape expected;
  if (std::string err = inferEmbedding(shapeOf(getIds()), shapeOf(getResult()), expected);
      !err.empty())
    return emitOpError("for embedding(ids, result): ") << err;
  return expectActivationShape(*this, "grad", expected, shapeOf(getGrad()),
                               "the shape of embedding(ids, result)");
}
