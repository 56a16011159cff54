//===- EliminateDeadCode.cpp - erase unused side-effect-free ops ----------===//
//
// Walks every function bottom-up (post-order, reverse within a block) and
// erases ops without users and without side effects: after batch-norm
// folding or dropout removal the orphaned parameters go away here, so they
// are not compiled and not listed in model.so's metadata.
//
//===----------------------------------------------------------------------===//
#include "compiler/Transforms/Passes.h"

#include "mlir/IR/Iterators.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace cnnc {
#define GEN_PASS_DEF_ELIMINATEDEADCODE
#include "compiler/Transforms/Passes.h.inc"
} // namespace cnnc

using namespace mlir;
using namespace cnnc;

namespace {
struct EliminateDeadCode : cnnc::impl::EliminateDeadCodeBase<EliminateDeadCode> {
  void runOnOperation() override {
    SmallVector<Operation *> ops;
    getOperation().walk<WalkOrder::PostOrder, mlir::ReverseIterator>(
        [&](Operation *op) { ops.push_back(op); });
    // Reverse post-order visits users before their producers, so one sweep
    // removes whole dead chains.
    for (Operation *op : ops)
      if (op != getOperation() && isOpTriviallyDead(op))
        op->erase();
  }
};
} // namespace
