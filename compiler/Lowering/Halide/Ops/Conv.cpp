//===- Conv.cpp - Halide lowering of the convolution family ---------------===//
//
// conv2d, conv_transpose2d, their gradients, the connection-table expansion
// and gather, and the per-position bias, as the algorithms of
// Convolution.cpp and Gradients.cpp. Gradient rules and costs of these ops:
// compiler/Dialect/CNN/IR/Ops/Conv.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/Lowering/Halide/KernelBuilder.h"

using namespace mlir;
using namespace cnnc;
using namespace cnnc::halide;
using cnn::shapeOf;

// The overloads of `lower` that Lowering<Op> finds by argument type.
namespace cnnc::halide {

static Halide::Func lower(cnn::Conv2DOp op, KernelBuilder &k) {
  ConvAttrs a = convAttrs(*cnn::windowOf(op), op.getGroups(), shapeOf(op.getWeight())[0]);
  ConvStages s = convolution(k.at(op.getInput()), extent4D(op.getInput()), k.at(op.getWeight()),
                             k.optional(op.getBias()), a);
  k.kernel.stages.conv = s;
  return s.conv;
}

/// The forward-view conv2d of a transposed convolution: stride, dilation,
/// groups and weight as given; its bottom/right padding loses the
/// output_padding (negative values only shift the extents the schedule sees).
static Halide::Func lower(cnn::ConvTranspose2DOp op, KernelBuilder &k) {
  cnn::Window w = *cnn::windowOf(op);
  for (int i = 0; i < 2; ++i)
    w.padding[2 + i] -= w.outputPadding[i];
  ConvAttrs a = convAttrs(w, op.getGroups(), shapeOf(op.getWeight())[0]);
  ConvStages s =
      convolutionTranspose(k.at(op.getInput()), extent4D(op.getInput()), k.at(op.getWeight()),
                           k.optional(op.getBias()), a, extent4D(op.getResult()));
  k.kernel.stages.conv = s;
  return s.conv;
}

static Halide::Func lower(cnn::Conv2DGradInputOp op, KernelBuilder &k) {
  ConvAttrs a = convAttrs(*cnn::windowOf(op), op.getGroups(), shapeOf(op.getWeight())[0]);
  ConvStages s = convolutionGradInput(k.at(op.getGrad()), extent4D(op.getGrad()),
                                      k.at(op.getWeight()), a, extent4D(op.getResult()));
  k.kernel.stages.conv = s;
  return s.conv;
}

static Halide::Func lower(cnn::Conv2DGradWeightOp op, KernelBuilder &k) {
  auto w = shapeOf(op.getResult());
  ConvAttrs a = convAttrs(*cnn::windowOf(op), op.getGroups(), w[0]);
  ConvGradWeightStages s =
      convolutionGradWeight(k.at(op.getInput()), extent4D(op.getInput()), k.at(op.getGrad()),
                            extent4D(op.getGrad()), a, int(w[1]), k.batch);
  k.kernel.stages.convGradWeight = s;
  return s.gradWeight;
}

static std::vector<std::vector<int>> tableOf(ArrayAttr table) {
  std::vector<std::vector<int>> rows;
  for (Attribute row : table) {
    rows.emplace_back();
    for (int64_t c : cast<DenseI64ArrayAttr>(row).asArrayRef())
      rows.back().push_back(int(c));
  }
  return rows;
}

static Halide::Func lower(cnn::ScatterConnectionsOp op, KernelBuilder &k) {
  k.kernel.stages.overParameters = true;
  return scatterConnections(k.at(op.getWeight()), tableOf(op.getConnections()),
                            int(shapeOf(op.getResult())[1]));
}

static Halide::Func lower(cnn::GatherConnectionsOp op, KernelBuilder &k) {
  k.kernel.stages.overParameters = true;
  return gatherConnections(k.at(op.getGrad()), tableOf(op.getConnections()),
                           int(shapeOf(op.getGrad())[1]));
}

static Halide::Func lower(cnn::PositionBiasOp op, KernelBuilder &k) {
  return positionBias(k.at(op.getInput()), k.at(op.getBias()));
}

static Halide::Func lower(cnn::ReduceOverBatchOp op, KernelBuilder &k) {
  return reduceOverBatch(k.at(op.getInput()), rankOf(op.getInput()), k.batch);
}
} // namespace cnnc::halide

void cnnc::halide::registerConvLowerings(MLIRContext *ctx) {
  attachLowerings<cnn::Conv2DOp, cnn::ConvTranspose2DOp, cnn::Conv2DGradInputOp,
                  cnn::Conv2DGradWeightOp, cnn::ScatterConnectionsOp, cnn::GatherConnectionsOp,
                  cnn::PositionBiasOp, cnn::ReduceOverBatchOp>(ctx);
}
