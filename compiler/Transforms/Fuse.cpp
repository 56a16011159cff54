//===- Fuse.cpp - group conv/dense with their epilogues -------------------===//
//
// Forms cnn.group regions, each lowered to one Halide pipeline, so that a
// conv's bias, residual add, activation and a following non-overlapping
// pooling are computed while the conv's output tile is still in registers or
// cache. A group is a chain: anchor (conv2d | conv_transpose2d | dense), then
// at most one of each, in this order: add | position_bias, relu | sigmoid |
// tanh | affine, and finally
// max/avg pooling with stride = kernel and no padding (conv only) or softmax
// (dense only). Every op in the chain except the last has exactly one user.
// In a train step, a backward op producing δ of an activation's output
// (conv2d_grad_input, dense_grad_input, pooling gradients) is grouped with
// that activation's activation_grad. Finally each parameter's optimizer
// update (one op) becomes a group of its own with several results, the new
// parameter and its new state, labelled `<layer>.sgd` or `<layer>.adam`.
// The group's label joins the layer names (NameLoc) of its ops with '+'.
//
//===----------------------------------------------------------------------===//
#include "compiler/Transforms/Passes.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"

namespace cnnc {
#define GEN_PASS_DEF_FUSE
#include "compiler/Transforms/Passes.h.inc"
} // namespace cnnc

using namespace mlir;
using namespace cnnc;

namespace {
/// Position of an op kind in the chain; a chain's stages strictly increase.
enum Stage { Anchor = 0, Residual = 1, Activation = 2, Tail = 3, NotFusable = 99 };

static bool isNonOverlappingPool(ArrayRef<int64_t> kernel, ArrayRef<int64_t> stride,
                                 ArrayRef<int64_t> padding, bool ceilMode) {
  return kernel == stride && llvm::all_of(padding, [](int64_t p) { return p == 0; }) && !ceilMode;
}

/// Backward ops whose result is δ of an activation's output: the
/// activation's gradient can be applied in the same loop nest.
static bool isBackwardAnchor(Operation *op) {
  return isa<cnn::Conv2DGradInputOp, cnn::DenseGradInputOp, cnn::MaxPool2DGradOp,
             cnn::AvgPool2DGradOp, cnn::GlobalAvgPoolGradOp, cnn::GlobalMaxPoolGradOp,
             cnn::KMaxPoolGradOp, cnn::MinPool2DGradOp, cnn::L2Pool2DGradOp>(op);
}

/// The stage of `op` following `value` in a chain anchored at `anchor`.
static Stage stageOf(Operation *op, Value value, Operation *anchor) {
  if (isBackwardAnchor(anchor)) {
    auto grad = dyn_cast<cnn::ActivationGradOp>(op);
    return grad && grad.getGrad() == value ? Activation : NotFusable;
  }
  bool anchorIsConv = isa<cnn::Conv2DOp>(anchor);
  // A per-position bias (AlphaGo's last layer) is added like a residual.
  if (isa<cnn::AddOp, cnn::PositionBiasOp>(op))
    return Residual;
  if (op->hasTrait<OpTrait::CNNActivation>())
    return Activation;
  if (auto pool = dyn_cast<cnn::MaxPool2DOp>(op))
    return anchorIsConv && llvm::all_of(pool.getDilation(), [](int64_t d) { return d == 1; }) &&
                   isNonOverlappingPool(pool.getKernel(), pool.getStride(), pool.getPadding(),
                                        pool.getCeilMode())
               ? Tail
               : NotFusable;
  if (auto pool = dyn_cast<cnn::AvgPool2DOp>(op))
    return anchorIsConv && isNonOverlappingPool(pool.getKernel(), pool.getStride(),
                                                pool.getPadding(), pool.getCeilMode())
               ? Tail
               : NotFusable;
  if (isa<cnn::SoftmaxOp>(op))
    return anchorIsConv ? NotFusable : Tail;
  return NotFusable;
}

struct Fuse : cnnc::impl::FuseBase<Fuse> {
  void runOnOperation() override {
    SmallVector<Operation *> anchors;
    getOperation().walk([&](Operation *op) {
      if ((isa<cnn::Conv2DOp, cnn::ConvTranspose2DOp, cnn::DenseOp>(op) || isBackwardAnchor(op)) &&
          !op->getParentOfType<cnn::GroupOp>())
        anchors.push_back(op);
    });
    for (Operation *anchor : anchors)
      formGroup(collectChain(anchor));
    // One kernel per parameter update (one op computing the new parameter
    // and state values), labelled with the parameter's layer. With gradient
    // clipping, the gradient's scaling joins it.
    SmallVector<Operation *> updates;
    getOperation().walk([&](Operation *op) {
      if (isa<cnn::SgdUpdateOp, cnn::SgdMomentumUpdateOp, cnn::AdamUpdateOp>(op) &&
          !op->getParentOfType<cnn::GroupOp>())
        updates.push_back(op);
    });
    for (Operation *op : updates) {
      SmallVector<Operation *> group{op};
      addGradientScaling(group);
      formGroup(group, cnn::layerName(op) + "." + (isa<cnn::AdamUpdateOp>(op) ? "adam" : "sgd"));
    }
  }

  /// Puts first in an optimizer update's ops the clip_gradient that scales
  /// its gradient, if the update is all it feeds.
  static void addGradientScaling(SmallVector<Operation *> &update) {
    llvm::SmallPtrSet<Operation *, 4> ops(update.begin(), update.end());
    for (Operation *op : SmallVector<Operation *>(update))
      for (Value v : op->getOperands()) {
        auto clip = v.getDefiningOp<cnn::ClipGradientOp>();
        if (!clip || ops.contains(clip) ||
            !llvm::all_of(clip->getUsers(), [&](Operation *user) { return ops.contains(user); }))
          continue;
        update.insert(update.begin(), clip);
        ops.insert(clip);
      }
  }

  static SmallVector<Operation *> collectChain(Operation *anchor) {
    SmallVector<Operation *> chain{anchor};
    int stage = Anchor;
    while (chain.back()->hasOneUse()) {
      Operation *user = *chain.back()->user_begin();
      int next = stageOf(user, chain.back()->getResult(0), anchor);
      if (next == NotFusable || next <= stage || user->getBlock() != anchor->getBlock())
        break;
      // Every value of the chain has one use, the next op, so an add's
      // other operand always comes from outside the chain.
      chain.push_back(user);
      stage = next;
    }
    return chain;
  }

  static void formGroup(ArrayRef<Operation *> chain, std::string label = "") {
    llvm::SmallPtrSet<Operation *, 4> inChain(chain.begin(), chain.end());
    llvm::SetVector<Value> inputs;
    bool named = !label.empty();
    for (Operation *op : chain) {
      for (Value v : op->getOperands())
        if (!inChain.contains(v.getDefiningOp()))
          inputs.insert(v);
      if (named)
        continue;
      // Backward ops carry their op name: `conv3.conv2d_grad_input`.
      std::string part = cnn::layerName(op);
      if (isBackwardAnchor(op) || isa<cnn::ActivationGradOp>(op))
        part += "." + op->getName().stripDialect().str();
      label += (label.empty() ? "" : "+") + part;
    }
    // The group returns every value used outside it (a chain: its last
    // value; an optimizer update: the new parameter and state values).
    SmallVector<Value> results;
    for (Operation *op : chain)
      for (Value r : op->getResults())
        if (op == chain.back() ||
            llvm::any_of(r.getUsers(), [&](Operation *user) { return !inChain.contains(user); }))
          results.push_back(r);
    Operation *last = chain.back();
    OpBuilder b(last);
    auto group = b.create<cnn::GroupOp>(chain.front()->getLoc(), ValueRange(results).getTypes(),
                                        inputs.getArrayRef(), b.getStringAttr(label));
    Block *body = b.createBlock(&group.getBody());
    IRMapping mapping;
    for (Value in : inputs)
      mapping.map(in, body->addArgument(in.getType(), in.getLoc()));
    for (Operation *op : chain)
      b.clone(*op, mapping);
    SmallVector<Value> yielded;
    for (Value r : results)
      yielded.push_back(mapping.lookup(r));
    b.create<cnn::YieldOp>(last->getLoc(), yielded);
    for (auto [r, groupResult] : llvm::zip(results, group.getResults()))
      r.replaceUsesWithIf(groupResult,
                          [&](OpOperand &use) { return !inChain.contains(use.getOwner()); });
    // A result-less user placed before the group (cnn.assign of a new
    // optimizer state, emitted before the step that completes the update)
    // moves after it, so the group dominates all its uses.
    for (Value r : group.getResults())
      for (Operation *user : llvm::make_early_inc_range(r.getUsers()))
        if (user->getBlock() == group->getBlock() && user->isBeforeInBlock(group) &&
            user->getNumResults() == 0)
          user->moveAfter(group);
    for (Operation *op : llvm::reverse(chain))
      op->erase();
  }
};
} // namespace
