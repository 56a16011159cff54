//===- ExpandBlocks.cpp - inline cnn.block instances ----------------------===//
//
// The YAML frontend emits one cnn.block per instance of a reusable block
// (residual unit, Inception module); this pass splices each region into its
// parent, so later passes see only primitive ops. Blocks may nest; they are
// expanded from the outside in until none is left.
//
//===----------------------------------------------------------------------===//
#include "compiler/Transforms/Passes.h"

#include "mlir/IR/IRMapping.h"

namespace cnnc {
#define GEN_PASS_DEF_EXPANDBLOCKS
#include "compiler/Transforms/Passes.h.inc"
} // namespace cnnc

using namespace mlir;
using namespace cnnc;

namespace {
struct ExpandBlocks : cnnc::impl::ExpandBlocksBase<ExpandBlocks> {
  void runOnOperation() override {
    SmallVector<cnn::BlockOp> worklist;
    getOperation().walk<WalkOrder::PreOrder>([&](cnn::BlockOp op) { worklist.push_back(op); });
    // Outer blocks come first in pre-order; inlining one moves its nested
    // blocks (still in the worklist) into the parent, where they expand next.
    for (cnn::BlockOp block : worklist)
      inlineBlock(block);
  }

  static void inlineBlock(cnn::BlockOp block) {
    Block &body = block.getBody().front();
    auto yield = cast<cnn::YieldOp>(body.getTerminator());
    for (auto [arg, input] : llvm::zip(body.getArguments(), block.getInputs()))
      arg.replaceAllUsesWith(input);
    block.replaceAllUsesWith(yield.getValues());
    yield.erase();
    block->getBlock()->getOperations().splice(Block::iterator(block), body.getOperations());
    block.erase();
  }
};
} // namespace
