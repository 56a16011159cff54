//===- Pooling.cpp - Halide lowering of the pooling family ----------------===//
//
// Windowed max/average/min/L2 pooling, global pooling and k-max pooling and
// their gradients, as the algorithms of Pooling.cpp, Sequence.cpp and
// Gradients.cpp. Gradient rules and costs of these ops:
// compiler/Dialect/CNN/IR/Ops/Pooling.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/Lowering/Halide/KernelBuilder.h"

using namespace mlir;
using namespace cnnc;
using namespace cnnc::halide;
using cnn::shapeOf;

// The overloads of `lower` that Lowering<Op> finds by argument type.
namespace cnnc::halide {

/// A windowed pooling of `kind`.
template <typename PoolOp>
static Halide::Func lowerWindowPool(PoolOp op, KernelBuilder &k, PoolKind kind,
                                    bool countIncludePad) {
  PoolAttrs a = poolAttrs(kind, *cnn::windowOf(op), countIncludePad);
  PoolStages s = pooling(k.at(op.getInput()), extent4D(op.getInput()), extent4D(op.getResult()), a);
  k.kernel.stages.pool = s;
  return s.pool;
}

static Halide::Func lower(cnn::MaxPool2DOp op, KernelBuilder &k) {
  return lowerWindowPool(op, k, PoolKind::Max, true);
}
static Halide::Func lower(cnn::AvgPool2DOp op, KernelBuilder &k) {
  return lowerWindowPool(op, k, PoolKind::Average, op.getCountIncludePad());
}
static Halide::Func lower(cnn::MinPool2DOp op, KernelBuilder &k) {
  return lowerWindowPool(op, k, PoolKind::Min, true);
}
static Halide::Func lower(cnn::L2Pool2DOp op, KernelBuilder &k) {
  return lowerWindowPool(op, k, PoolKind::L2, true);
}

static Halide::Func lower(cnn::GlobalAvgPoolOp op, KernelBuilder &k) {
  Halide::Func sum;
  Halide::Func f = globalAveragePool(k.at(op.getInput()), extent4D(op.getInput()), sum);
  k.kernel.stages.reductions.push_back(sum);
  return f;
}

static Halide::Func lower(cnn::GlobalMaxPoolOp op, KernelBuilder &k) {
  Halide::Func best;
  Halide::Func f = globalMaxPool(k.at(op.getInput()), extent4D(op.getInput()), best);
  k.kernel.stages.reductions.push_back(best);
  return f;
}

static Halide::Func lower(cnn::KMaxPoolOp op, KernelBuilder &k) {
  KMaxStages s;
  Halide::Func f = kmaxPool(k.at(op.getInput()), extent4D(op.getInput()), int(op.getK()), s);
  k.kernel.stages.kmax = s;
  return f;
}

/// The gradient of max or min pooling: δ routed to each window's winner
/// (the first maximum, or minimum), whose index the schedule computes per
/// plane for small windows and as a reduction for large ones.
template <typename PoolGradOp>
static Halide::Func lowerWinnerPoolGrad(PoolGradOp op, KernelBuilder &k, PoolKind kind) {
  PoolAttrs a = poolAttrs(kind, *cnn::windowOf(op), true);
  Halide::Func winner;
  Halide::Func f = maxPoolGrad(k.at(op.getInput()), extent4D(op.getInput()), k.at(op.getGrad()),
                               extent4D(op.getGrad()), a, winner);
  if (a.kernelW * a.kernelH <= kSmallPoolWindow)
    k.kernel.stages.rootPlanes.push_back({winner, int(shapeOf(op.getGrad())[3])});
  else
    k.kernel.stages.reductions.push_back(winner);
  return f;
}

static Halide::Func lower(cnn::MaxPool2DGradOp op, KernelBuilder &k) {
  return lowerWinnerPoolGrad(op, k, PoolKind::Max);
}
static Halide::Func lower(cnn::MinPool2DGradOp op, KernelBuilder &k) {
  return lowerWinnerPoolGrad(op, k, PoolKind::Min);
}

static Halide::Func lower(cnn::AvgPool2DGradOp op, KernelBuilder &k) {
  PoolAttrs a = poolAttrs(PoolKind::Average, *cnn::windowOf(op), op.getCountIncludePad());
  return avgPoolGrad(k.at(op.getGrad()), extent4D(op.getResult()), extent4D(op.getGrad()), a);
}

static Halide::Func lower(cnn::L2Pool2DGradOp op, KernelBuilder &k) {
  PoolAttrs a = poolAttrs(PoolKind::L2, *cnn::windowOf(op), true);
  return l2PoolGrad(k.at(op.getInput()), extent4D(op.getResult()), k.at(op.getOutput()),
                    k.at(op.getGrad()), extent4D(op.getGrad()), a);
}

static Halide::Func lower(cnn::GlobalAvgPoolGradOp op, KernelBuilder &k) {
  return globalAvgPoolGrad(k.at(op.getGrad()), extent4D(op.getResult()));
}

static Halide::Func lower(cnn::GlobalMaxPoolGradOp op, KernelBuilder &k) {
  Halide::Func winner;
  Halide::Func f =
      globalMaxPoolGrad(k.at(op.getInput()), extent4D(op.getInput()), k.at(op.getGrad()), winner);
  k.kernel.stages.reductions.push_back(winner);
  return f;
}

static Halide::Func lower(cnn::KMaxPoolGradOp op, KernelBuilder &k) {
  KMaxStages s;
  Halide::Func f = kmaxPoolGrad(k.at(op.getInput()), extent4D(op.getInput()), k.at(op.getGrad()),
                                int(op.getK()), s);
  k.kernel.stages.kmax = s;
  return f;
}
} // namespace cnnc::halide

void cnnc::halide::registerPoolingLowerings(MLIRContext *ctx) {
  attachLowerings<cnn::MaxPool2DOp, cnn::AvgPool2DOp, cnn::MinPool2DOp, cnn::L2Pool2DOp,
                  cnn::GlobalAvgPoolOp, cnn::GlobalMaxPoolOp, cnn::KMaxPoolOp, cnn::MaxPool2DGradOp,
                  cnn::MinPool2DGradOp, cnn::AvgPool2DGradOp, cnn::L2Pool2DGradOp,
                  cnn::GlobalAvgPoolGradOp, cnn::GlobalMaxPoolGradOp, cnn::KMaxPoolGradOp>(ctx);
}
