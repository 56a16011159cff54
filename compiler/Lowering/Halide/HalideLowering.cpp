//===- HalideLowering.cpp - cnn ops -> one Halide pipeline ----------------===//
//
// Lowers one kernel: a kernel's inputs are ImageParams whose static extents
// and dense strides are declared, each op is lowered by the external model
// its family file (Ops/*.cpp) attaches to it, and the output Funcs get the
// same declarations as the inputs. Nothing here depends on an op's kind.
//
//===----------------------------------------------------------------------===//
#include "compiler/Lowering/Halide/HalideLowering.h"
#include "compiler/Lowering/Halide/KernelBuilder.h"

using namespace mlir;
using namespace cnnc;
using namespace cnnc::halide;

std::vector<int> cnnc::halideExtents(Value value) {
  auto shape = cast<RankedTensorType>(value.getType()).getShape();
  std::vector<int> extents;
  for (int64_t d : llvm::reverse(shape))
    extents.push_back(ShapedType::isDynamic(d) ? -1 : int(d));
  return extents;
}

/// Declares static extents and dense row-major strides of a buffer.
template <typename Dimensioned>
static void declareLayout(Dimensioned &&buffer, const std::vector<int> &extents) {
  Halide::Expr stride = 1;
  for (size_t d = 0; d < extents.size(); ++d) {
    auto dim = buffer.dim(int(d));
    dim.set_min(0).set_stride(stride);
    if (extents[d] >= 0) {
      dim.set_extent(extents[d]);
      stride = stride * extents[d];
    } else {
      stride = stride * dim.extent();
    }
  }
}

Extent4D cnnc::halide::extent4D(Value v) {
  auto s = cnn::shapeOf(v);
  return {int(s[3]), int(s[2]), int(s[1])};
}

int cnnc::halide::rankOf(Value v) { return int(cnn::shapeOf(v).size()); }

/// The kernel, stride and padding of `w` in Halide's x (width) / y (height) terms.
static void copyWindow(const cnn::Window &w, WindowAttrs &a) {
  a.kernelH = int(w.kernel[0]);
  a.kernelW = int(w.kernel[1]);
  a.strideY = int(w.stride[0]);
  a.strideX = int(w.stride[1]);
  a.padTop = int(w.padding[0]);
  a.padLeft = int(w.padding[1]);
  a.padBottom = int(w.padding[2]);
  a.padRight = int(w.padding[3]);
  a.dilationY = int(w.dilation[0]);
  a.dilationX = int(w.dilation[1]);
}

ConvAttrs cnnc::halide::convAttrs(const cnn::Window &w, int64_t groups, int64_t outChannels) {
  ConvAttrs a;
  copyWindow(w, a);
  a.groups = int(groups);
  a.outChannels = int(outChannels);
  return a;
}

PoolAttrs cnnc::halide::poolAttrs(PoolKind kind, const cnn::Window &w, bool countIncludePad) {
  PoolAttrs a;
  copyWindow(w, a);
  a.kind = kind;
  a.countIncludePad = countIncludePad;
  return a;
}

LogicalResult KernelBuilder::lower(Operation *op) {
  auto lowerable = dyn_cast<cnn::HalideLowerableOpInterface>(op);
  if (!lowerable)
    return op->emitError("cannot lower '")
           << op->getName() << "' to Halide (no algorithm for this op)";
  if (failed(lowerable.lowerToHalide(*this)))
    return failure();
  if (auto cost = dyn_cast<cnn::CostOpInterface>(op))
    kernel.flops += cost.getFlopsPerItem();
  return success();
}

void cnnc::registerHalideLowerings(DialectRegistry &registry) {
  registry.addExtension(+[](MLIRContext *ctx, cnn::CNNDialect *) {
    registerConvLowerings(ctx);
    registerDenseLowerings(ctx);
    registerPoolingLowerings(ctx);
    registerNormalizationLowerings(ctx);
    registerElementwiseLowerings(ctx);
    registerSequenceLowerings(ctx);
    registerTrainingLowerings(ctx);
  });
}

FailureOr<LoweredKernel> cnnc::lowerToHalide(Operation *op, ArrayRef<Value> inputs) {
  KernelBuilder b;
  std::vector<Halide::ImageParam> params;
  for (auto [i, v] : llvm::enumerate(inputs)) {
    std::vector<int> extents = halideExtents(v);
    Halide::ImageParam p(Halide::Float(32), int(extents.size()), "in" + std::to_string(i));
    declareLayout(p, extents);
    params.push_back(p);
    b.kernel.stages.inputExtents.push_back(extents);
  }
  b.kernel.stages.inputs = params;
  for (auto [p, v] : llvm::zip(params, inputs))
    if (halideExtents(v).back() < 0) {
      b.batch = p.dim(p.dimensions() - 1).extent();
      break;
    }

  SmallVector<Value> results(op->getResults());
  if (auto group = dyn_cast<cnn::GroupOp>(op)) {
    Block &body = group.getBody().front();
    for (auto [arg, p] : llvm::zip(body.getArguments(), params))
      b.define(arg, Halide::Func(p));
    for (Operation &inner : body.without_terminator())
      if (failed(b.lower(&inner)))
        return failure();
    results.assign(cast<cnn::YieldOp>(body.getTerminator()).getValues().begin(),
                   cast<cnn::YieldOp>(body.getTerminator()).getValues().end());
  } else {
    for (auto [v, p] : llvm::zip(inputs, params))
      b.define(v, Halide::Func(p));
    if (failed(b.lower(op)))
      return failure();
  }

  // Each output is a pure copy of its value's Func, so every anchor (even
  // one with update definitions) is an intermediate stage the schedule can
  // place inside the output's tiles. The last result is the main output.
  for (auto [i, value] : llvm::enumerate(results)) {
    Halide::Func last = b.at(value);
    std::vector<Halide::Var> args = last.args();
    Halide::Func output(i + 1 == results.size() ? "output" : "output" + std::to_string(i));
    output(args) = last(args);
    std::vector<int> extents = halideExtents(op->getResult(i));
    declareLayout(output.output_buffer(), extents);
    if (i + 1 == results.size()) {
      b.kernel.stages.output = output;
      b.kernel.stages.outputExtents = extents;
    } else {
      b.kernel.stages.extraOutputs.push_back(output);
      b.kernel.stages.extraOutputExtents.push_back(extents);
    }
  }
  return b.kernel;
}
