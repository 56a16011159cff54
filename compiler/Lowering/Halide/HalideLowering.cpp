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

static ArrayRef<int64_t> shapeOf(Value v) { return cast<RankedTensorType>(v.getType()).getShape(); }

/// Convolution attributes from an op's attributes and its OIHW weight shape.
static ConvAttrs convAttrs(ArrayRef<int64_t> stride, ArrayRef<int64_t> padding,
                           ArrayRef<int64_t> dilation, int64_t groups,
                           ArrayRef<int64_t> weight) {
  ConvAttrs a;
  a.kernelH = int(weight[2]);
  a.kernelW = int(weight[3]);
  a.outChannels = int(weight[0]);
  a.strideY = int(stride[0]);
  a.strideX = int(stride[1]);
  a.dilationY = int(dilation[0]);
  a.dilationX = int(dilation[1]);
  a.padTop = int(padding[0]);
  a.padLeft = int(padding[1]);
  a.padBottom = int(padding[2]);
  a.padRight = int(padding[3]);
  a.groups = int(groups);
  return a;
}

static PoolAttrs poolAttrs(PoolKind kind, ArrayRef<int64_t> k, ArrayRef<int64_t> stride,
                           ArrayRef<int64_t> pad, bool countIncludePad) {
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
  return a;
}

namespace {
/// Lowers the ops of one kernel in order, keeping Value -> Func.
struct KernelBuilder {
  llvm::DenseMap<Value, Halide::Func> env;
  LoweredKernel kernel;
  int lanes;
  /// The run-time batch size: the outer extent of a batched input.
  Halide::Expr batch;

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
            .Case([&](cnn::MinPool2DOp p) {
              return lowerPool(p, PoolKind::Min, p.getKernel(), p.getStride(),
                               p.getPadding(), true);
            })
            .Case([&](cnn::L2Pool2DOp p) {
              return lowerPool(p, PoolKind::L2, p.getKernel(), p.getStride(),
                               p.getPadding(), true);
            })
            .Case([&](cnn::GlobalMaxPoolOp p) {
              kernel.flops += elementsPerItem(p.getInput());
              Halide::Func best;
              Halide::Func f = globalMaxPool(at(p.getInput()), extent4D(p.getInput()), best);
              kernel.stages.reductions.push_back(best);
              return f;
            })
            .Case([&](cnn::EmbeddingOp o) {
              // A gather: no arithmetic, one row copy per token.
              kernel.stages.embeddingDim = int(shapeOf(o.getWeight())[1]);
              return embedding(at(o.getIds()), at(o.getWeight()),
                               int(shapeOf(o.getWeight())[0]));
            })
            .Case([&](cnn::KMaxPoolOp o) {
              KMaxStages s;
              Halide::Func f = kmaxPool(at(o.getInput()), extent4D(o.getInput()),
                                        int(o.getK()), s);
              kernel.stages.kmax = s;
              kernel.flops += double(s.length) * s.length * extent4D(o.getInput()).c;
              return f;
            })
            .Case([&](cnn::ConvTranspose2DOp o) { return lowerConvTranspose(o); })
            .Case([&](cnn::ScatterConnectionsOp o) {
              kernel.stages.overParameters = true;
              return scatterConnections(at(o.getWeight()), tableOf(o.getConnections()),
                                        int(shapeOf(o.getResult())[1]));
            })
            .Case([&](cnn::PositionBiasOp o) {
              return pointwise(o, positionBias(at(o.getInput()), at(o.getBias())));
            })
            .Case([&](cnn::LocalResponseNormOp o) {
              int size = int(o.getSize());
              return pointwise(o, localResponseNorm(at(o.getInput()), int(shapeOf(o.getResult())[1]),
                                                    size, o.getAlpha().convertToDouble(),
                                                    o.getBeta().convertToDouble(),
                                                    o.getK().convertToDouble()),
                               2 * size + 4);
            })
            .Default([&](Operation *op) { return lowerTraining(op); });
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
    auto w = shapeOf(op.getWeight());
    ConvAttrs a = convAttrs(op.getStride(), op.getPadding(), op.getDilation(), op.getGroups(), w);
    ConvStages s = convolution(at(op.getInput()), extent4D(op.getInput()),
                               at(op.getWeight()), optional(op.getBias()), a);
    kernel.stages.conv = s;
    kernel.flops += 2.0 * elementsPerItem(op) * w[1] * w[2] * w[3];
    return s.conv;
  }

  /// The forward-view conv2d of a transposed convolution: stride, dilation,
  /// groups and weight as given; its bottom/right padding loses the
  /// output_padding (negative values only shift the extents the schedule sees).
  Halide::Func lowerConvTranspose(cnn::ConvTranspose2DOp op) {
    auto w = shapeOf(op.getWeight());
    ArrayRef<int64_t> pad = op.getPadding(), extra = op.getOutputPadding();
    int64_t pads[4] = {pad[0], pad[1], pad[2] - extra[0], pad[3] - extra[1]};
    ConvAttrs a = convAttrs(op.getStride(), pads, op.getDilation(), op.getGroups(), w);
    ConvStages s = convolutionTranspose(at(op.getInput()), extent4D(op.getInput()),
                                        at(op.getWeight()), optional(op.getBias()), a,
                                        extent4D(op.getResult()));
    kernel.stages.conv = s;
    kernel.flops += 2.0 * elementsPerItem(op.getInput()) * w[1] * w[2] * w[3];
    return s.conv;
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
    PoolAttrs a = poolAttrs(kind, k, stride, pad, countIncludePad);
    Value in = op->getOperand(0);
    PoolStages s = pooling(at(in), extent4D(in), extent4D(op->getResult(0)), a);
    kernel.stages.pool = s;
    kernel.flops += double(elementsPerItem(op->getResult(0))) * k[0] * k[1];
    return s.pool;
  }

  /// The gradient of max or min pooling: δ routed to each window's winner
  /// (the first maximum, or minimum), whose index the schedule computes
  /// per plane for small windows and as a reduction for large ones.
  template <typename PoolGradOp>
  Halide::Func lowerWinnerPoolGrad(PoolGradOp o, PoolKind kind) {
    PoolAttrs a = poolAttrs(kind, o.getKernel(), o.getStride(), o.getPadding(), true);
    Halide::Func winner;
    Halide::Func f = maxPoolGrad(at(o.getInput()), extent4D(o.getInput()), at(o.getGrad()),
                                 extent4D(o.getGrad()), a, winner);
    if (a.kernelW * a.kernelH <= kSmallPoolWindow)
      kernel.stages.rootPlanes.push_back({winner, int(shapeOf(o.getGrad())[3])});
    else
      kernel.stages.reductions.push_back(winner);
    kernel.flops += double(elementsPerItem(o.getGrad())) * a.kernelW * a.kernelH;
    return f;
  }

  /// Records the partial sums of a per-channel sum over `value` for the schedule.
  void channelSum(Halide::Func partial, Value value) {
    kernel.stages.channelSums.push_back({partial, shapeOf(value).size() == 4 ? lanes : 1});
  }

  /// The backward, statistics, loss and optimizer ops of training.
  std::optional<Halide::Func> lowerTraining(Operation *op) {
    auto extentsOf = [](Value v) { return halideExtents(v); };
    auto rank = [](Value v) { return int(shapeOf(v).size()); };
    auto f64 = [](FloatAttr a) { return a.getValueAsDouble(); };
    Value result = op->getResult(0);
    return llvm::TypeSwitch<Operation *, std::optional<Halide::Func>>(op)
        .Case([&](cnn::Conv2DGradInputOp o) -> std::optional<Halide::Func> {
          auto w = shapeOf(o.getWeight());
          ConvAttrs a = convAttrs(o.getStride(), o.getPadding(), o.getDilation(), o.getGroups(), w);
          ConvStages s = convolutionGradInput(at(o.getGrad()), extent4D(o.getGrad()),
                                              at(o.getWeight()), a, extent4D(result));
          kernel.stages.conv = s;
          kernel.flops += 2.0 * elementsPerItem(o.getGrad()) * w[1] * w[2] * w[3];
          return s.conv;
        })
        .Case([&](cnn::Conv2DGradWeightOp o) -> std::optional<Halide::Func> {
          auto w = shapeOf(result);
          ConvAttrs a = convAttrs(o.getStride(), o.getPadding(), o.getDilation(), o.getGroups(), w);
          // Vectorize over output channels when there are enough of them and
          // enough input channels to run in parallel.
          bool overChannels = a.groups == 1 && w[0] >= lanes && w[1] >= 2;
          ConvGradWeightStages s = convolutionGradWeight(
              at(o.getInput()), extent4D(o.getInput()), at(o.getGrad()), extent4D(o.getGrad()),
              a, int(w[1]), batch, lanes, overChannels);
          kernel.stages.convGradWeight = s;
          kernel.flops += 2.0 * elementsPerItem(o.getGrad()) * w[1] * w[2] * w[3];
          return s.result;
        })
        .Case([&](cnn::DenseGradInputOp o) -> std::optional<Halide::Func> {
          auto w = shapeOf(o.getWeight());
          VectorReduction s = denseGradInput(at(o.getGrad()), at(o.getWeight()), int(w[0]), int(w[1]));
          kernel.stages.vectorReduction = s;
          kernel.flops += 2.0 * w[0] * w[1];
          return s.func;
        })
        .Case([&](cnn::DenseGradWeightOp o) -> std::optional<Halide::Func> {
          auto w = shapeOf(result);
          VectorReduction s = denseGradWeight(at(o.getInput()), at(o.getGrad()), int(w[1]), batch);
          kernel.stages.vectorReduction = s;
          kernel.flops += 2.0 * w[0] * w[1];
          return s.func;
        })
        .Case([&](cnn::ReduceToChannelsOp o) -> std::optional<Halide::Func> {
          Halide::Func sum;
          Halide::Func f = reduceToChannels(at(o.getInput()), rank(o.getInput()),
                                            extentsOf(o.getInput()), batch, lanes, sum);
          channelSum(sum, o.getInput());
          kernel.flops += elementsPerItem(o.getInput());
          return f;
        })
        .Case([&](cnn::ActivationGradOp o) {
          return pointwise(o, activationGrad(o.getKind().str(), at(o.getOutput()), at(o.getGrad()),
                                             rank(result)), 2);
        })
        .Case([&](cnn::MaxPool2DGradOp o) -> std::optional<Halide::Func> {
          return lowerWinnerPoolGrad(o, PoolKind::Max);
        })
        .Case([&](cnn::MinPool2DGradOp o) -> std::optional<Halide::Func> {
          return lowerWinnerPoolGrad(o, PoolKind::Min);
        })
        .Case([&](cnn::L2Pool2DGradOp o) {
          PoolAttrs a = poolAttrs(PoolKind::L2, o.getKernel(), o.getStride(), o.getPadding(), true);
          return pointwise(o, l2PoolGrad(at(o.getInput()), extent4D(result), at(o.getOutput()),
                                         at(o.getGrad()), extent4D(o.getGrad()), a),
                           2 * a.kernelW * a.kernelH);
        })
        .Case([&](cnn::GlobalMaxPoolGradOp o) -> std::optional<Halide::Func> {
          Halide::Func winner;
          Halide::Func f = globalMaxPoolGrad(at(o.getInput()), extent4D(o.getInput()),
                                             at(o.getGrad()), winner);
          kernel.stages.reductions.push_back(winner);
          kernel.flops += elementsPerItem(o.getInput());
          return f;
        })
        .Case([&](cnn::KMaxPoolGradOp o) -> std::optional<Halide::Func> {
          KMaxStages s;
          Halide::Func f = kmaxPoolGrad(at(o.getInput()), extent4D(o.getInput()), at(o.getGrad()),
                                        int(o.getK()), s);
          kernel.stages.kmax = s;
          kernel.flops += double(s.length) * s.length * extent4D(o.getInput()).c;
          return f;
        })
        .Case([&](cnn::EmbeddingGradWeightOp o) -> std::optional<Halide::Func> {
          auto table = shapeOf(result);
          auto ids = shapeOf(o.getIds());
          EmbeddingGradStages s = embeddingGradWeight(at(o.getIds()), at(o.getGrad()),
                                                      int(ids[1]), int(table[0]), int(table[1]),
                                                      batch);
          kernel.stages.embeddingGrad = s;
          kernel.flops += double(elementsPerItem(o.getGrad()));
          return s.table;
        })
        .Case([&](cnn::AvgPool2DGradOp o) {
          PoolAttrs a = poolAttrs(PoolKind::Average, o.getKernel(), o.getStride(), o.getPadding(),
                                  o.getCountIncludePad());
          return pointwise(o, avgPoolGrad(at(o.getGrad()), extent4D(result), extent4D(o.getGrad()), a),
                           a.kernelW * a.kernelH);
        })
        .Case([&](cnn::GlobalAvgPoolGradOp o) {
          return pointwise(o, globalAvgPoolGrad(at(o.getGrad()), extent4D(result)));
        })
        .Case([&](cnn::SoftmaxGradOp o) -> std::optional<Halide::Func> {
          Halide::Func dot;
          Halide::Func f = softmaxGrad(at(o.getOutput()), at(o.getGrad()), int(shapeOf(result)[1]), dot);
          kernel.stages.reductions.push_back(dot);
          return pointwise(o, f, 4);
        })
        .Case([&](cnn::SliceChannelsOp o) {
          return pointwise(o, sliceChannels(at(o.getInput()), rank(result), int(o.getBegin())), 0);
        })
        .Case([&](cnn::DropoutTrainOp o) {
          return pointwise(o, halide::dropout(at(o.getInput()), rank(result), at(o.getSeed()),
                                              f64(o.getRateAttr()), int(o.getSalt())), 2);
        })
        .Case([&](cnn::DropoutGradOp o) {
          return pointwise(o, halide::dropout(at(o.getGrad()), rank(result), at(o.getSeed()),
                                              f64(o.getRateAttr()), int(o.getSalt())), 2);
        })
        .Case([&](cnn::ChannelMeanOp o) -> std::optional<Halide::Func> {
          Halide::Func sum;
          Halide::Func f = channelMean(at(o.getInput()), rank(o.getInput()),
                                       extentsOf(o.getInput()), batch, lanes, sum);
          channelSum(sum, o.getInput());
          kernel.flops += elementsPerItem(o.getInput());
          return f;
        })
        .Case([&](cnn::ChannelVarianceOp o) -> std::optional<Halide::Func> {
          Halide::Func sum;
          Halide::Func f = channelVariance(at(o.getInput()), at(o.getMean()), rank(o.getInput()),
                                           extentsOf(o.getInput()), batch, o.getUnbiased(), lanes, sum);
          channelSum(sum, o.getInput());
          kernel.flops += 3.0 * elementsPerItem(o.getInput());
          return f;
        })
        .Case([&](cnn::BatchNormGradInputOp o) -> std::optional<Halide::Func> {
          std::vector<Halide::Func> sums;
          Halide::Func f = batchNormGradInput(
              at(o.getInput()), at(o.getGrad()), at(o.getGamma()), at(o.getMean()),
              at(o.getVariance()), float(f64(o.getEpsilonAttr())), rank(result),
              extentsOf(result), batch, lanes, sums);
          for (Halide::Func &sum : sums)
            channelSum(sum, result);
          kernel.flops += 10.0 * elementsPerItem(result);
          return f;
        })
        .Case([&](cnn::BatchNormGradGammaOp o) -> std::optional<Halide::Func> {
          Halide::Func sum;
          Halide::Func f = batchNormGradGamma(at(o.getInput()), at(o.getGrad()), at(o.getMean()),
                                              at(o.getVariance()), float(f64(o.getEpsilonAttr())),
                                              rank(o.getInput()), extentsOf(o.getInput()), batch, lanes, sum);
          channelSum(sum, o.getInput());
          kernel.flops += 4.0 * elementsPerItem(o.getInput());
          return f;
        })
        .Case([&](cnn::EmaOp o) {
          return pointwise(o, ema(at(o.getRunning()), at(o.getBatch()), rank(result),
                                  f64(o.getMomentumAttr())), 3);
        })
        .Case([&](cnn::SoftmaxCrossEntropyOp o) -> std::optional<Halide::Func> {
          int classes = int(shapeOf(o.getLogits())[1]);
          kernel.flops += 4.0 * classes;
          return softmaxCrossEntropy(at(o.getLogits()), at(o.getLabels()), classes, batch,
                                     kernel.stages.reductions);
        })
        .Case([&](cnn::SoftmaxCrossEntropyGradOp o) -> std::optional<Halide::Func> {
          int classes = int(shapeOf(o.getLogits())[1]);
          kernel.flops += 6.0 * classes;
          return softmaxCrossEntropyGrad(at(o.getLogits()), at(o.getLabels()), classes, batch,
                                         kernel.stages.reductions);
        })
        .Case([&](cnn::MseLossOp o) -> std::optional<Halide::Func> {
          int classes = int(shapeOf(o.getOutput())[1]);
          kernel.flops += 3.0 * classes;
          return mseLoss(at(o.getOutput()), at(o.getLabels()), classes, batch,
                         kernel.stages.reductions);
        })
        .Case([&](cnn::MseLossGradOp o) -> std::optional<Halide::Func> {
          int classes = int(shapeOf(o.getOutput())[1]);
          kernel.flops += 3.0 * classes;
          return mseLossGrad(at(o.getOutput()), at(o.getLabels()), classes, batch);
        })
        .Case([&](cnn::CountCorrectOp o) -> std::optional<Halide::Func> {
          int classes = int(shapeOf(o.getScores())[1]);
          kernel.flops += classes;
          return countCorrect(at(o.getScores()), at(o.getLabels()), classes, batch,
                              kernel.stages.reductions);
        })
        .Case([&](cnn::SgdMomentumOp o) {
          return pointwise(o, sgdMomentum(at(o.getBuffer()), at(o.getGrad()), at(o.getParam()),
                                          rank(result), f64(o.getMomentumAttr()),
                                          f64(o.getDampeningAttr()), f64(o.getWeightDecayAttr())),
                           4);
        })
        .Case([&](cnn::SgdStepOp o) {
          return pointwise(o, sgdStep(at(o.getParam()), at(o.getGrad()), optional(o.getBuffer()),
                                      at(o.getLr()), rank(result), f64(o.getMomentumAttr()),
                                      f64(o.getWeightDecayAttr()), o.getNesterov()),
                           4);
        })
        .Case([&](cnn::AdamMomentOp o) {
          return pointwise(o, adamMoment(at(o.getMoment()), at(o.getGrad()), at(o.getParam()),
                                         rank(result), f64(o.getBetaAttr()),
                                         f64(o.getWeightDecayAttr()), o.getSquared()),
                           4);
        })
        .Case([&](cnn::AdamStepOp o) {
          return pointwise(o, adamStep(at(o.getParam()), at(o.getMoment1()), at(o.getMoment2()),
                                       at(o.getLr()), at(o.getStep()), rank(result),
                                       f64(o.getBeta1Attr()), f64(o.getBeta2Attr()),
                                       f64(o.getEpsilonAttr()), kernel.stages.reductions),
                           6);
        })
        .Case([&](cnn::GatherConnectionsOp o) -> std::optional<Halide::Func> {
          kernel.stages.overParameters = true;
          return gatherConnections(at(o.getGrad()), tableOf(o.getConnections()),
                                   int(shapeOf(o.getGrad())[1]));
        })
        .Case([&](cnn::ReduceOverBatchOp o) {
          kernel.flops += elementsPerItem(o.getInput());
          return reduceOverBatch(at(o.getInput()), rank(o.getInput()), batch);
        })
        .Case([&](cnn::LocalResponseNormGradOp o) -> std::optional<Halide::Func> {
          std::vector<Halide::Func> planes;
          int size = int(o.getSize());
          Halide::Func f = localResponseNormGrad(
              at(o.getInput()), at(o.getGrad()), int(shapeOf(result)[1]), size,
              f64(o.getAlphaAttr()), f64(o.getBetaAttr()), f64(o.getKAttr()), planes);
          for (Halide::Func &plane : planes)
            kernel.stages.rootPlanes.push_back({plane, int(shapeOf(result)[3])});
          return pointwise(o, f, 4 * size + 8);
        })
        .Default([&](Operation *) { return std::nullopt; });
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
  for (auto [p, v] : llvm::zip(params, inputs))
    if (halideExtents(v).back() < 0) {
      b.batch = p.dim(p.dimensions() - 1).extent();
      break;
    }

  SmallVector<Value> results(op->getResults());
  if (auto group = dyn_cast<cnn::GroupOp>(op)) {
    Block &body = group.getBody().front();
    for (auto [arg, p] : llvm::zip(body.getArguments(), params))
      b.env[arg] = Halide::Func(p);
    for (Operation &inner : body.without_terminator())
      if (failed(b.lower(&inner)))
        return failure();
    results.assign(cast<cnn::YieldOp>(body.getTerminator()).getValues().begin(),
                   cast<cnn::YieldOp>(body.getTerminator()).getValues().end());
  } else {
    for (auto [v, p] : llvm::zip(inputs, params))
      b.env[v] = Halide::Func(p);
    if (failed(b.lower(op)))
      return failure();
  }

  // Each output is a pure copy of its value's Func, so every anchor (even
  // one with update definitions) is an intermediate stage the schedule can
  // place inside the output's tiles. The last result is the main output.
  for (auto [i, value] : llvm::enumerate(results)) {
    Halide::Func last = b.env.lookup(value);
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
