//===- HalideLowering.cpp - cnn ops -> one Halide pipeline ----------------===//
//
// Maps each cnn op to its algorithm in Algorithms.h and records the stages
// its schedule needs. Values inside a kernel are Funcs in an environment; a
// kernel's inputs are ImageParams whose static extents and dense strides are
// declared, and its output Func gets the same declarations.
//
//===----------------------------------------------------------------------===//
#include "compiler/Lowering/Halide/HalideLowering.h"
#include "compiler/Dialect/CNN/IR/CNNDialect.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

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

static Extent4D extent4D(Value v) {
  auto s = cast<RankedTensorType>(v.getType()).getShape();
  return {int(s[3]), int(s[2]), int(s[1])};
}

static int rankOf(Value v) { return cast<RankedTensorType>(v.getType()).getRank(); }

static int64_t elementsPerItem(Value v) {
  int64_t n = 1;
  for (int64_t d : cast<RankedTensorType>(v.getType()).getShape())
    if (!ShapedType::isDynamic(d))
      n *= d;
  return n;
}

namespace {
/// Lowers the ops of one kernel in order, keeping Value -> Func.
struct KernelBuilder {
  llvm::DenseMap<Value, Halide::Func> env;
  LoweredKernel kernel;
  int lanes;

  Halide::Func at(Value v) { return env.lookup(v); }
  std::optional<Halide::Func> optional(Value v) {
    if (!v)
      return std::nullopt;
    return at(v);
  }

  LogicalResult lower(Operation *op) {
    std::optional<Halide::Func> result =
        llvm::TypeSwitch<Operation *, std::optional<Halide::Func>>(op)
            .Case([&](cnn::Conv2DOp conv) { return lowerConv(conv); })
            .Case([&](cnn::DenseOp d) { return lowerDense(d); })
            .Case([&](cnn::MaxPool2DOp p) {
              return lowerPool(p, PoolKind::Max, p.getKernel(), p.getStride(),
                               p.getPadding(), true);
            })
            .Case([&](cnn::AvgPool2DOp p) {
              return lowerPool(p, PoolKind::Average, p.getKernel(), p.getStride(),
                               p.getPadding(), p.getCountIncludePad());
            })
            .Case([&](cnn::GlobalAvgPoolOp p) {
              kernel.flops += elementsPerItem(p.getInput());
              Halide::Func sum;
              Halide::Func f = globalAveragePool(at(p.getInput()), extent4D(p.getInput()), sum);
              kernel.stages.reductions.push_back(sum);
              return f;
            })
            .Case([&](cnn::ReluOp o) { return pointwise(o, relu(at(o.getInput()), rankOf(o))); })
            .Case([&](cnn::SigmoidOp o) {
              return pointwise(o, sigmoid(at(o.getInput()), rankOf(o)), 4);
            })
            .Case([&](cnn::TanhOp o) {
              return pointwise(o, halide::tanh(at(o.getInput()), rankOf(o)), 4);
            })
            .Case([&](cnn::AddOp o) {
              return pointwise(o, add(at(o.getLhs()), at(o.getRhs()), rankOf(o)));
            })
            .Case([&](cnn::BatchNormOp o) {
              return pointwise(o, batchNorm(at(o.getInput()), rankOf(o), at(o.getWeight()),
                                            at(o.getBias()), at(o.getMean()),
                                            at(o.getVariance()),
                                            float(o.getEpsilon().convertToDouble())),
                               2);
            })
            .Case([&](cnn::SoftmaxOp o) {
              SoftmaxStages s = softmax(at(o.getInput()), int(o.getType().getShape()[1]));
              kernel.stages.softmax = s;
              kernel.flops += 4.0 * elementsPerItem(o);
              return s.softmax;
            })
            .Case([&](cnn::ConcatOp o) {
              std::vector<Halide::Func> ins;
              std::vector<int> channels;
              for (Value v : o.getInputs()) {
                ins.push_back(at(v));
                channels.push_back(int(cast<RankedTensorType>(v.getType()).getShape()[1]));
              }
              return concat(ins, channels, rankOf(o));
            })
            .Case([&](cnn::BnFoldWeightOp o) {
              kernel.stages.overParameters = true;
              kernel.flops += 3.0 * elementsPerItem(o);
              return bnFoldWeight(at(o.getWeight()), rankOf(o), at(o.getGamma()),
                                  at(o.getVariance()),
                                  float(o.getEpsilon().convertToDouble()));
            })
            .Case([&](cnn::BnFoldBiasOp o) {
              kernel.stages.overParameters = true;
              kernel.flops += 5.0 * elementsPerItem(o);
              return bnFoldBias(at(o.getGamma()), at(o.getBeta()), at(o.getMean()),
                                at(o.getVariance()), optional(o.getBias()),
                                float(o.getEpsilon().convertToDouble()));
            })
            .Default([&](Operation *) { return std::nullopt; });
    if (!result)
      return op->emitError("cannot lower '")
             << op->getName() << "' to Halide (no algorithm for this op)";
    env[op->getResult(0)] = *result;
    return success();
  }

  static int rankOf(Operation *op) { return ::rankOf(op->getResult(0)); }

  Halide::Func pointwise(Operation *op, Halide::Func f, double flopsPerElement = 1) {
    kernel.flops += flopsPerElement * elementsPerItem(op->getResult(0));
    return f;
  }

  Halide::Func lowerConv(cnn::Conv2DOp op) {
    auto w = cast<RankedTensorType>(op.getWeight().getType()).getShape();
    ConvAttrs a;
    a.kernelH = int(w[2]);
    a.kernelW = int(w[3]);
    a.outChannels = int(w[0]);
    a.strideY = int(op.getStride()[0]);
    a.strideX = int(op.getStride()[1]);
    a.dilationY = int(op.getDilation()[0]);
    a.dilationX = int(op.getDilation()[1]);
    a.padTop = int(op.getPadding()[0]);
    a.padLeft = int(op.getPadding()[1]);
    a.padBottom = int(op.getPadding()[2]);
    a.padRight = int(op.getPadding()[3]);
    a.groups = int(op.getGroups());
    ConvStages s = convolution(at(op.getInput()), extent4D(op.getInput()),
                               at(op.getWeight()), optional(op.getBias()), a);
    kernel.stages.conv = s;
    kernel.flops += 2.0 * elementsPerItem(op) * w[1] * w[2] * w[3];
    return s.conv;
  }

  Halide::Func lowerDense(cnn::DenseOp op) {
    auto w = cast<RankedTensorType>(op.getWeight().getType()).getShape();
    DenseStages s = dense(at(op.getInput()), int(w[1]), at(op.getWeight()),
                          optional(op.getBias()), int(w[0]), lanes);
    kernel.stages.dense = s;
    kernel.flops += 2.0 * w[0] * w[1];
    return s.dense;
  }

  Halide::Func lowerPool(Operation *op, PoolKind kind, ArrayRef<int64_t> k,
                         ArrayRef<int64_t> stride, ArrayRef<int64_t> pad,
                         bool countIncludePad) {
    PoolAttrs a;
    a.kind = kind;
    a.kernelH = int(k[0]);
    a.kernelW = int(k[1]);
    a.strideY = int(stride[0]);
    a.strideX = int(stride[1]);
    a.padTop = int(pad[0]);
    a.padLeft = int(pad[1]);
    a.padBottom = int(pad[2]);
    a.padRight = int(pad[3]);
    a.countIncludePad = countIncludePad;
    Value in = op->getOperand(0);
    PoolStages s = pooling(at(in), extent4D(in), extent4D(op->getResult(0)), a);
    kernel.stages.pool = s;
    kernel.flops += double(elementsPerItem(op->getResult(0))) * k[0] * k[1];
    return s.pool;
  }
};
} // namespace

FailureOr<LoweredKernel> cnnc::lowerToHalide(Operation *op, ArrayRef<Value> inputs,
                                             int lanes) {
  KernelBuilder b;
  b.lanes = lanes;
  std::vector<Halide::ImageParam> params;
  for (auto [i, v] : llvm::enumerate(inputs)) {
    std::vector<int> extents = halideExtents(v);
    Halide::ImageParam p(Halide::Float(32), int(extents.size()), "in" + std::to_string(i));
    declareLayout(p, extents);
    params.push_back(p);
    b.kernel.stages.inputExtents.push_back(extents);
  }
  b.kernel.stages.inputs = params;

  Value result = op->getResult(0);
  if (auto group = dyn_cast<cnn::GroupOp>(op)) {
    Block &body = group.getBody().front();
    for (auto [arg, p] : llvm::zip(body.getArguments(), params))
      b.env[arg] = Halide::Func(p);
    for (Operation &inner : body.without_terminator())
      if (failed(b.lower(&inner)))
        return failure();
    result = cast<cnn::YieldOp>(body.getTerminator()).getValues()[0];
  } else {
    for (auto [v, p] : llvm::zip(inputs, params))
      b.env[v] = Halide::Func(p);
    if (failed(b.lower(op)))
      return failure();
  }

  // The kernel's output is a pure copy of the last op's Func, so every
  // anchor (even one with update definitions) is an intermediate stage the
  // schedule can place inside the output's tiles.
  Halide::Func last = b.env.lookup(result);
  std::vector<Halide::Var> args = last.args();
  Halide::Func output("output");
  output(args) = last(args);
  std::vector<int> extents = halideExtents(op->getResult(0));
  declareLayout(output.output_buffer(), extents);
  b.kernel.stages.output = output;
  b.kernel.stages.outputExtents = extents;
  return b.kernel;
}
