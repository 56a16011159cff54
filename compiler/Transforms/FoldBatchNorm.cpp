//===- FoldBatchNorm.cpp - fold inference batch norm into conv/dense ------===//
//
// batch_norm(conv2d(x, w, b)) -> conv2d(x, bn_fold_weight(w), bn_fold_bias(b))
// and the same for dense. The folded weight and bias depend on parameters
// only; the lowering computes such values once, when parameters are loaded,
// so inference runs one conv instead of a conv and a normalization. The
// folded layer is located at both the conv and the batch norm (a FusedLoc),
// so its kernel is labelled with both layer names.
//
//===----------------------------------------------------------------------===//
#include "compiler/Transforms/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace cnnc {
#define GEN_PASS_DEF_FOLDBATCHNORM
#include "compiler/Transforms/Passes.h.inc"
} // namespace cnnc

using namespace mlir;
using namespace cnnc;

namespace {
/// Builds w' and b' for a batch norm applied to a layer with weight `weight`
/// and optional `bias`.
static std::pair<Value, Value> foldedParameters(PatternRewriter &rewriter, cnn::BatchNormOp bn,
                                                Value weight, Value bias) {
  Location loc = bn.getLoc();
  Value w = rewriter.create<cnn::BnFoldWeightOp>(loc, weight, bn.getWeight(), bn.getVariance(),
                                                 bn.getEpsilonAttr());
  Value b = rewriter.create<cnn::BnFoldBiasOp>(loc, bn.getWeight(), bn.getBias(), bn.getMean(),
                                               bn.getVariance(), bias, bn.getEpsilonAttr());
  return {w, b};
}

/// Only a batch norm whose statistics are parameters (inference form) folds;
/// in a train step they are batch statistics computed from the conv itself.
static bool hasParameterStatistics(cnn::BatchNormOp bn) {
  return llvm::all_of(ValueRange{bn.getWeight(), bn.getBias(), bn.getMean(), bn.getVariance()},
                      [](Value v) { return v.getDefiningOp<cnn::ParamOp>(); });
}

struct FoldIntoConv : OpRewritePattern<cnn::BatchNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(cnn::BatchNormOp bn, PatternRewriter &rewriter) const override {
    if (!hasParameterStatistics(bn))
      return rewriter.notifyMatchFailure(bn, "statistics are not parameters");
    auto conv = bn.getInput().getDefiningOp<cnn::Conv2DOp>();
    if (!conv || !conv->hasOneUse())
      return rewriter.notifyMatchFailure(bn, "input is not a single-use conv2d");
    auto [w, b] = foldedParameters(rewriter, bn, conv.getWeight(), conv.getBias());
    auto folded = rewriter.create<cnn::Conv2DOp>(
        rewriter.getFusedLoc({conv.getLoc(), bn.getLoc()}), conv.getInput(), w, b,
        conv.getStrideAttr(), conv.getPaddingAttr(), conv.getDilationAttr(), conv.getGroupsAttr());
    rewriter.replaceOp(bn, folded);
    rewriter.eraseOp(conv);
    return success();
  }
};

struct FoldIntoDense : OpRewritePattern<cnn::BatchNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(cnn::BatchNormOp bn, PatternRewriter &rewriter) const override {
    if (!hasParameterStatistics(bn))
      return rewriter.notifyMatchFailure(bn, "statistics are not parameters");
    auto dense = bn.getInput().getDefiningOp<cnn::DenseOp>();
    if (!dense || !dense->hasOneUse())
      return rewriter.notifyMatchFailure(bn, "input is not a single-use dense");
    auto [w, b] = foldedParameters(rewriter, bn, dense.getWeight(), dense.getBias());
    auto folded = rewriter.create<cnn::DenseOp>(rewriter.getFusedLoc({dense.getLoc(), bn.getLoc()}),
                                                dense.getInput(), w, b);
    rewriter.replaceOp(bn, folded);
    rewriter.eraseOp(dense);
    return success();
  }
};

struct FoldBatchNorm : cnnc::impl::FoldBatchNormBase<FoldBatchNorm> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FoldIntoConv, FoldIntoDense>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
