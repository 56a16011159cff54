//===- CopyPassthroughOutputs.cpp - a kernel for outputs that are inputs ---===//
//
// A function result that is one of the function's arguments (an Identity of
// an input, a dropout of it folded away at inference, `output: input`) has
// no kernel to write its buffer. This pass returns a copy instead: the
// identity `cnn.affine` (scale 1, shift 0), one per such result, so the
// planner sees every output computed.
//
//===----------------------------------------------------------------------===//
#include "compiler/Transforms/Passes.h"

#include "compiler/Dialect/CNN/IR/CNNDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace cnnc {
#define GEN_PASS_DEF_COPYPASSTHROUGHOUTPUTS
#include "compiler/Transforms/Passes.h.inc"
} // namespace cnnc

using namespace mlir;
using namespace cnnc;

namespace {
struct CopyPassthroughOutputs : cnnc::impl::CopyPassthroughOutputsBase<CopyPassthroughOutputs> {
  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    fn.walk([&](func::ReturnOp ret) {
      OpBuilder b(ret);
      for (OpOperand &result : ret->getOpOperands()) {
        if (!isa<BlockArgument>(result.get()))
          continue;
        Value input = result.get();
        result.set(b.create<cnn::AffineOp>(input.getLoc(), input.getType(), input,
                                           b.getF64FloatAttr(1.0), b.getF64FloatAttr(0.0)));
      }
    });
  }
};
} // namespace
