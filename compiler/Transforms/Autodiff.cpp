//===- Autodiff.cpp - train and eval steps from an inference graph --------===//
//
// Reverse-mode differentiation on the cnn dialect. The forward ops of the
// inference function are cloned into `@<m>_train` in training form, a loss is
// appended, then the ops are walked in reverse: each op's gradient rule
// emits cnn ops (conv2d_grad_input, max_pool2d_grad, ...) that consume the
// adjoint of its result and produce adjoints of its operands; adjoints of a
// value used several times are summed with cnn.add. Only values that depend
// on a trainable parameter get adjoints, so nothing is computed for the
// input. Every trainable parameter then gets its optimizer update, and
// cnn.assign names the new parameter and state values.
//
// Gradient rules (SPEC §3): conv2d: ∂W = X ⋆ δ, ∂b = Σδ, ∂X = rot180(W)
// wide-convolved with δ; dense: ∂W = δᵀX, ∂X = δW; max pool routes δ to each
// window's maximum, average pool spreads it; activations use their output;
// add passes δ to both operands; concat slices it; flatten reshapes it;
// dropout reapplies its mask; batch norm uses the batch-statistics formula;
// embedding scatter-adds δ into the table rows of its ids (none to the ids);
// global max, k-max and min pooling route δ to the selected positions, L2
// pooling scales it by x/y; a reshape (conv1d's weight view) reshapes it back;
// conv_transpose2d: ∂x is a conv2d of δ, ∂W a conv2d_grad_weight with input
// and δ exchanged; scatter_connections gathers ∂W back to the compact
// weight; position_bias sums δ over the batch; local_response_norm has its
// own gradient op.
//
//===----------------------------------------------------------------------===//
#include "compiler/Transforms/Passes.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"

#include <cmath>

namespace cnnc {
#define GEN_PASS_DEF_AUTODIFF
#include "compiler/Transforms/Passes.h.inc"
} // namespace cnnc

using namespace mlir;
using namespace cnnc;

namespace {

/// Loss and optimizer settings, from the `cnn.train` attribute.
struct TrainConfig {
  std::string loss = "cross_entropy";
  std::string optimizer = "adam";
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
  double weightDecay = 0, momentum = 0, dampening = 0;
  bool nesterov = false;
  int64_t batch = 32, epochs = 1;

  /// Reads the settings, reporting unknown names at the function.
  static FailureOr<TrainConfig> read(func::FuncOp fn) {
    TrainConfig c;
    auto dict = fn->getAttrOfType<DictionaryAttr>("cnn.train");
    bool lrGiven = false;
    if (dict) {
      for (NamedAttribute a : dict) {
        StringRef key = a.getName().strref();
        auto number = [&](double &out) {
          if (auto f = dyn_cast<FloatAttr>(a.getValue()))
            out = f.getValueAsDouble();
          else if (auto i = dyn_cast<IntegerAttr>(a.getValue()))
            out = double(i.getInt());
        };
        if (key == "loss")
          c.loss = cast<StringAttr>(a.getValue()).str();
        else if (key == "optimizer")
          c.optimizer = cast<StringAttr>(a.getValue()).str();
        else if (key == "lr")
          number(c.lr), lrGiven = true;
        else if (key == "beta1")
          number(c.beta1);
        else if (key == "beta2")
          number(c.beta2);
        else if (key == "epsilon")
          number(c.epsilon);
        else if (key == "weight_decay")
          number(c.weightDecay);
        else if (key == "momentum")
          number(c.momentum);
        else if (key == "dampening")
          number(c.dampening);
        else if (key == "nesterov")
          c.nesterov = cast<BoolAttr>(a.getValue()).getValue();
        else if (key == "batch")
          c.batch = cast<IntegerAttr>(a.getValue()).getInt();
        else if (key == "epochs")
          c.epochs = cast<IntegerAttr>(a.getValue()).getInt();
      }
    }
    if (c.loss != "cross_entropy" && c.loss != "mse")
      return fn.emitError("unknown loss '") << c.loss << "' (expected cross_entropy or mse)";
    if (c.optimizer != "adam" && c.optimizer != "sgd")
      return fn.emitError("unknown optimizer '") << c.optimizer << "' (expected adam or sgd)";
    if (c.optimizer == "sgd" && !lrGiven)
      c.lr = 0.01;
    return c;
  }

  /// The resolved settings, recorded on the train function for the metadata.
  DictionaryAttr toAttr(Builder &b) const {
    SmallVector<NamedAttribute> a = {
        b.getNamedAttr("loss", b.getStringAttr(loss)),
        b.getNamedAttr("optimizer", b.getStringAttr(optimizer)),
        b.getNamedAttr("lr", b.getF64FloatAttr(lr)),
        b.getNamedAttr("weight_decay", b.getF64FloatAttr(weightDecay)),
        b.getNamedAttr("batch", b.getI64IntegerAttr(batch)),
        b.getNamedAttr("epochs", b.getI64IntegerAttr(epochs))};
    if (optimizer == "adam") {
      a.push_back(b.getNamedAttr("beta1", b.getF64FloatAttr(beta1)));
      a.push_back(b.getNamedAttr("beta2", b.getF64FloatAttr(beta2)));
      a.push_back(b.getNamedAttr("epsilon", b.getF64FloatAttr(epsilon)));
    } else {
      a.push_back(b.getNamedAttr("momentum", b.getF64FloatAttr(momentum)));
      a.push_back(b.getNamedAttr("dampening", b.getF64FloatAttr(dampening)));
      a.push_back(b.getNamedAttr("nesterov", b.getBoolAttr(nesterov)));
    }
    return b.getDictionaryAttr(a);
  }
};

static RankedTensorType scalarType(MLIRContext *ctx) {
  return cnn::tensorType(ctx, {1});
}

static RankedTensorType labelsType(MLIRContext *ctx) {
  return cnn::tensorType(ctx, {ShapedType::kDynamic});
}

/// Builds one train or eval function next to the inference function.
class StepBuilder {
public:
  StepBuilder(func::FuncOp inference, const TrainConfig &config, bool training)
      : inference(inference), config(config), training(training),
        b(inference.getContext()) {}

  FailureOr<func::FuncOp> build() {
    MLIRContext *ctx = inference.getContext();
    Location loc = inference.getLoc();
    SmallVector<Type> inputs(inference.getArgumentTypes());
    inputs.push_back(labelsType(ctx));
    auto type = b.getFunctionType(inputs, {scalarType(ctx), scalarType(ctx)});
    b.setInsertionPointToEnd(inference->getBlock());
    std::string name = (inference.getSymName() + (training ? "_train" : "_eval")).str();
    auto fn = b.create<func::FuncOp>(loc, name, type);
    fn->setAttr("cnn.role", b.getStringAttr(training ? "train" : "eval"));
    if (training)
      fn->setAttr("cnn.train", config.toAttr(b));
    for (unsigned i = 0; i < inference.getNumArguments(); ++i)
      if (auto n = inference.getArgAttr(i, "cnn.name"))
        fn.setArgAttr(i, "cnn.name", n);
    fn.setArgAttr(inference.getNumArguments(), "cnn.name", b.getStringAttr("labels"));
    fn.setResultAttr(0, "cnn.name", b.getStringAttr("loss"));
    fn.setResultAttr(1, "cnn.name", b.getStringAttr("correct"));
    Block *body = fn.addEntryBlock();
    b.setInsertionPointToStart(body);
    for (auto [from, to] : llvm::zip(inference.getArguments(), body->getArguments()))
      map.map(from, to);
    Value labels = body->getArguments().back();

    if (failed(cloneForward()))
      return failure();
    auto ret = cast<func::ReturnOp>(inference.getBody().front().getTerminator());
    if (ret.getNumOperands() != 1)
      return inference.emitError("training needs a model with exactly one output");
    Value output = map.lookup(ret.getOperand(0));
    auto outputType = cast<RankedTensorType>(output.getType());
    if (outputType.getRank() != 2)
      return ret.emitError("training needs an output of shape [N, classes], found ")
             << outputType;
    // Cross-entropy on a final softmax is computed from its logits (fused,
    // numerically stable); the softmax is then not differentiated.
    Value scores = output;
    if (config.loss == "cross_entropy")
      if (auto softmax = output.getDefiningOp<cnn::SoftmaxOp>())
        scores = softmax.getInput();
    Location lossLoc = NameLoc::get(b.getStringAttr("loss"), loc);
    Value loss, seed;
    if (config.loss == "cross_entropy") {
      loss = b.create<cnn::SoftmaxCrossEntropyOp>(lossLoc, scalarType(ctx), scores, labels);
      seed = training ? b.create<cnn::SoftmaxCrossEntropyGradOp>(lossLoc, scores.getType(),
                                                                 scores, labels)
                      : Value();
    } else {
      loss = b.create<cnn::MseLossOp>(lossLoc, scalarType(ctx), output, labels);
      seed = training ? b.create<cnn::MseLossGradOp>(lossLoc, output.getType(), output, labels)
                      : Value();
      scores = output;
    }
    Value correct = b.create<cnn::CountCorrectOp>(
        NameLoc::get(b.getStringAttr("accuracy"), loc), scalarType(ctx), scores, labels);
    if (training) {
      adjoint[scores] = seed;
      if (failed(backward()) || failed(optimize()))
        return failure();
    }
    b.create<func::ReturnOp>(loc, ValueRange{loss, correct});
    return fn;
  }

private:
  /// Clones the inference ops; in training form batch norm uses batch
  /// statistics and updates the running ones, and dropout is applied.
  LogicalResult cloneForward() {
    int64_t dropoutSalt = 0;
    for (Operation &op : inference.getBody().front().without_terminator()) {
      if (isa<cnn::BlockOp>(op))
        return op.emitError("expand blocks (cnnc-expand-blocks) before cnnc-autodiff");
      if (training) {
        if (auto bn = dyn_cast<cnn::BatchNormOp>(op)) {
          trainBatchNorm(bn);
          continue;
        }
        if (auto dropout = dyn_cast<cnn::DropoutOp>(op)) {
          Value x = map.lookup(dropout.getInput());
          Value y = b.create<cnn::DropoutTrainOp>(dropout.getLoc(), x.getType(), x, hyper("seed"),
                                                  dropout.getRateAttr(),
                                                  b.getI64IntegerAttr(dropoutSalt++));
          map.map(dropout.getResult(), y);
          forward.push_back(y.getDefiningOp());
          continue;
        }
      }
      Operation *clone = b.clone(op, map);
      forward.push_back(clone);
    }
    // Values that depend on a trainable parameter need adjoints.
    for (Operation *op : forward) {
      bool depends = isa<cnn::ParamOp>(op) && !runningStats.contains(op->getResult(0));
      for (Value v : op->getOperands())
        depends |= requiresGrad.contains(v);
      if (depends && !isa<cnn::ChannelMeanOp, cnn::ChannelVarianceOp, cnn::EmaOp>(op))
        for (Value r : op->getResults())
          requiresGrad.insert(r);
    }
    return success();
  }

  void trainBatchNorm(cnn::BatchNormOp bn) {
    Location loc = bn.getLoc();
    Value x = map.lookup(bn.getInput());
    auto vecType = cast<RankedTensorType>(bn.getWeight().getType());
    Value gamma = cloneParam(bn.getWeight()), beta = cloneParam(bn.getBias());
    Value mean = b.create<cnn::ChannelMeanOp>(loc, vecType, x);
    Value var = b.create<cnn::ChannelVarianceOp>(loc, vecType, x, mean, b.getBoolAttr(false));
    auto y = b.create<cnn::BatchNormOp>(loc, x, gamma, beta, mean, var, bn.getEpsilonAttr(),
                                        bn.getMomentumAttr());
    batchStats[y] = {mean, var};
    map.map(bn.getResult(), y);
    forward.push_back(mean.getDefiningOp());
    forward.push_back(var.getDefiningOp());
    forward.push_back(y);
    // Running statistics: PyTorch updates the variance with the unbiased estimate.
    Value unbiased =
        b.create<cnn::ChannelVarianceOp>(loc, vecType, x, mean, b.getBoolAttr(true));
    for (auto [running, batch] : {std::pair{bn.getMean(), mean}, std::pair{bn.getVariance(), unbiased}}) {
      Value current = cloneParam(running);
      runningStats.insert(current);
      Value next = b.create<cnn::EmaOp>(loc, current.getType(), current, batch, bn.getMomentumAttr());
      b.create<cnn::AssignOp>(loc, current.getDefiningOp<cnn::ParamOp>().getNameAttr(), next);
    }
  }

  /// The clone of a parameter operand (cloned once, on first use).
  Value cloneParam(Value v) {
    if (Value m = map.lookupOrNull(v))
      return m;
    Operation *clone = b.clone(*v.getDefiningOp(), map);
    forward.push_back(clone);
    return clone->getResult(0);
  }

  Value hyper(StringRef name) {
    Value &v = hypers[name];
    if (!v) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(b.getInsertionBlock());
      v = b.create<cnn::HyperOp>(inference.getLoc(), scalarType(b.getContext()), name);
    }
    return v;
  }

  void accumulate(Value v, Value grad) {
    if (!requiresGrad.contains(v))
      return;
    Value &slot = adjoint[v];
    slot = slot ? b.create<cnn::AddOp>(grad.getLoc(), slot, grad).getResult() : grad;
  }

  LogicalResult backward() {
    for (Operation *op : llvm::reverse(forward)) {
      if (op->getNumResults() != 1)
        continue;
      Value dy = adjoint.lookup(op->getResult(0));
      if (!dy || isa<cnn::ParamOp>(op))
        continue;
      b.setInsertionPointToEnd(b.getInsertionBlock());
      if (failed(gradientOf(op, dy)))
        return failure();
    }
    return success();
  }

  /// Emits the gradient rule of one op for the adjoint `dy` of its result.
  LogicalResult gradientOf(Operation *op, Value dy) {
    Location loc = op->getLoc();
    auto typeOf = [](Value v) { return v.getType(); };
    if (auto conv = dyn_cast<cnn::Conv2DOp>(op)) {
      Value x = conv.getInput(), w = conv.getWeight();
      if (requiresGrad.contains(x))
        accumulate(x, b.create<cnn::Conv2DGradInputOp>(
                          loc, typeOf(x), dy, w, conv.getStrideAttr(), conv.getPaddingAttr(),
                          conv.getDilationAttr(), conv.getGroupsAttr()));
      accumulate(w, b.create<cnn::Conv2DGradWeightOp>(
                        loc, typeOf(w), x, dy, conv.getStrideAttr(), conv.getPaddingAttr(),
                        conv.getDilationAttr(), conv.getGroupsAttr()));
      if (Value bias = conv.getBias())
        accumulate(bias, b.create<cnn::ReduceToChannelsOp>(loc, typeOf(bias), dy));
      return success();
    }
    if (auto dense = dyn_cast<cnn::DenseOp>(op)) {
      Value x = dense.getInput(), w = dense.getWeight();
      if (requiresGrad.contains(x))
        accumulate(x, b.create<cnn::DenseGradInputOp>(loc, typeOf(x), dy, w));
      accumulate(w, b.create<cnn::DenseGradWeightOp>(loc, typeOf(w), x, dy));
      if (Value bias = dense.getBias())
        accumulate(bias, b.create<cnn::ReduceToChannelsOp>(loc, typeOf(bias), dy));
      return success();
    }
    if (isa<cnn::ReluOp, cnn::SigmoidOp, cnn::TanhOp>(op)) {
      StringRef kind = op->getName().stripDialect();
      accumulate(op->getOperand(0),
                 b.create<cnn::ActivationGradOp>(loc, typeOf(dy), op->getResult(0), dy,
                                                 b.getStringAttr(kind)));
      return success();
    }
    if (auto pool = dyn_cast<cnn::MaxPool2DOp>(op)) {
      accumulate(pool.getInput(),
                 b.create<cnn::MaxPool2DGradOp>(loc, typeOf(pool.getInput()), pool.getInput(),
                                                dy, pool.getKernelAttr(), pool.getStrideAttr(),
                                                pool.getPaddingAttr()));
      return success();
    }
    if (auto pool = dyn_cast<cnn::AvgPool2DOp>(op)) {
      accumulate(pool.getInput(),
                 b.create<cnn::AvgPool2DGradOp>(loc, typeOf(pool.getInput()), dy,
                                                pool.getKernelAttr(), pool.getStrideAttr(),
                                                pool.getPaddingAttr(),
                                                pool.getCountIncludePadAttr()));
      return success();
    }
    if (auto pool = dyn_cast<cnn::GlobalAvgPoolOp>(op)) {
      accumulate(pool.getInput(),
                 b.create<cnn::GlobalAvgPoolGradOp>(loc, typeOf(pool.getInput()), dy));
      return success();
    }
    if (auto softmax = dyn_cast<cnn::SoftmaxOp>(op)) {
      accumulate(softmax.getInput(),
                 b.create<cnn::SoftmaxGradOp>(loc, typeOf(dy), softmax.getResult(), dy));
      return success();
    }
    if (auto add = dyn_cast<cnn::AddOp>(op)) {
      accumulate(add.getLhs(), dy);
      accumulate(add.getRhs(), dy);
      return success();
    }
    if (auto concat = dyn_cast<cnn::ConcatOp>(op)) {
      int64_t begin = 0;
      for (Value in : concat.getInputs()) {
        auto type = cast<RankedTensorType>(in.getType());
        if (requiresGrad.contains(in))
          accumulate(in, b.create<cnn::SliceChannelsOp>(loc, type, dy,
                                                        b.getI64IntegerAttr(begin)));
        begin += type.getShape()[1];
      }
      return success();
    }
    if (auto flatten = dyn_cast<cnn::FlattenOp>(op)) {
      accumulate(flatten.getInput(),
                 b.create<cnn::ReshapeOp>(loc, typeOf(flatten.getInput()), dy));
      return success();
    }
    if (auto reshape = dyn_cast<cnn::ReshapeOp>(op)) {
      // A view (a conv1d weight [O, C/g, 1, k] of the parameter [O, C/g, k]):
      // the gradient is viewed back.
      accumulate(reshape.getInput(),
                 b.create<cnn::ReshapeOp>(loc, typeOf(reshape.getInput()), dy));
      return success();
    }
    if (auto embedding = dyn_cast<cnn::EmbeddingOp>(op)) {
      // Token ids are integers: no gradient flows to them, only to the table.
      accumulate(embedding.getWeight(),
                 b.create<cnn::EmbeddingGradWeightOp>(loc, typeOf(embedding.getWeight()),
                                                      embedding.getIds(), dy));
      return success();
    }
    if (auto pool = dyn_cast<cnn::GlobalMaxPoolOp>(op)) {
      accumulate(pool.getInput(), b.create<cnn::GlobalMaxPoolGradOp>(
                                      loc, typeOf(pool.getInput()), pool.getInput(), dy));
      return success();
    }
    if (auto pool = dyn_cast<cnn::KMaxPoolOp>(op)) {
      accumulate(pool.getInput(),
                 b.create<cnn::KMaxPoolGradOp>(loc, typeOf(pool.getInput()), pool.getInput(),
                                               dy, pool.getKAttr()));
      return success();
    }
    if (auto pool = dyn_cast<cnn::MinPool2DOp>(op)) {
      accumulate(pool.getInput(),
                 b.create<cnn::MinPool2DGradOp>(loc, typeOf(pool.getInput()), pool.getInput(),
                                                dy, pool.getKernelAttr(), pool.getStrideAttr(),
                                                pool.getPaddingAttr()));
      return success();
    }
    if (auto pool = dyn_cast<cnn::L2Pool2DOp>(op)) {
      accumulate(pool.getInput(),
                 b.create<cnn::L2Pool2DGradOp>(loc, typeOf(pool.getInput()), pool.getInput(),
                                               pool.getResult(), dy, pool.getKernelAttr(),
                                               pool.getStrideAttr(), pool.getPaddingAttr()));
      return success();
    }
    if (auto conv = dyn_cast<cnn::ConvTranspose2DOp>(op)) {
      // y = Wᵀx is the input gradient of the conv2d c(y) = W ⋆ y with the
      // same attributes, so ∂x = c(δ) (a conv2d) and ∂W is that conv's
      // weight gradient with input and δ exchanged. The conv's bottom/right
      // padding drops output_padding (< stride), so it maps δ to x's shape.
      Value x = conv.getInput(), w = conv.getWeight();
      ArrayRef<int64_t> pad = conv.getPadding(), extra = conv.getOutputPadding();
      SmallVector<int64_t> pads = {pad[0], pad[1], std::max<int64_t>(pad[2] - extra[0], 0),
                                   std::max<int64_t>(pad[3] - extra[1], 0)};
      auto padsAttr = b.getDenseI64ArrayAttr(pads);
      if (requiresGrad.contains(x))
        accumulate(x, b.create<cnn::Conv2DOp>(loc, dy, w, Value(), conv.getStrideAttr(), padsAttr,
                                              conv.getDilationAttr(), conv.getGroupsAttr()));
      accumulate(w, b.create<cnn::Conv2DGradWeightOp>(loc, typeOf(w), dy, x, conv.getStrideAttr(),
                                                      padsAttr, conv.getDilationAttr(),
                                                      conv.getGroupsAttr()));
      if (Value bias = conv.getBias())
        accumulate(bias, b.create<cnn::ReduceToChannelsOp>(loc, typeOf(bias), dy));
      return success();
    }
    if (auto scatter = dyn_cast<cnn::ScatterConnectionsOp>(op)) {
      accumulate(scatter.getWeight(),
                 b.create<cnn::GatherConnectionsOp>(loc, typeOf(scatter.getWeight()), dy,
                                                    scatter.getConnectionsAttr()));
      return success();
    }
    if (auto bias = dyn_cast<cnn::PositionBiasOp>(op)) {
      accumulate(bias.getInput(), dy);
      accumulate(bias.getBias(),
                 b.create<cnn::ReduceOverBatchOp>(loc, typeOf(bias.getBias()), dy));
      return success();
    }
    if (auto lrn = dyn_cast<cnn::LocalResponseNormOp>(op)) {
      accumulate(lrn.getInput(), b.create<cnn::LocalResponseNormGradOp>(
                                     loc, typeOf(dy), lrn.getInput(), dy, lrn.getSizeAttr(),
                                     lrn.getAlphaAttr(), lrn.getBetaAttr(), lrn.getKAttr()));
      return success();
    }
    if (auto dropout = dyn_cast<cnn::DropoutTrainOp>(op)) {
      accumulate(dropout.getInput(),
                 b.create<cnn::DropoutGradOp>(loc, typeOf(dy), dy, dropout.getSeed(),
                                              dropout.getRateAttr(), dropout.getSaltAttr()));
      return success();
    }
    if (auto bn = dyn_cast<cnn::BatchNormOp>(op)) {
      auto [mean, var] = batchStats.lookup(bn.getResult());
      Value x = bn.getInput();
      if (requiresGrad.contains(x))
        accumulate(x, b.create<cnn::BatchNormGradInputOp>(loc, typeOf(x), x, dy, bn.getWeight(),
                                                          mean, var, bn.getEpsilonAttr()));
      accumulate(bn.getWeight(),
                 b.create<cnn::BatchNormGradGammaOp>(loc, typeOf(bn.getWeight()), x, dy, mean,
                                                     var, bn.getEpsilonAttr()));
      accumulate(bn.getBias(), b.create<cnn::ReduceToChannelsOp>(loc, typeOf(bn.getBias()), dy));
      return success();
    }
    return op->emitError("cnnc-autodiff: no gradient rule for '") << op->getName() << "'";
  }

  /// The optimizer update of every trainable parameter, in graph order.
  LogicalResult optimize() {
    for (Operation *op : forward) {
      auto param = dyn_cast<cnn::ParamOp>(op);
      if (!param)
        continue;
      Value g = adjoint.lookup(param.getResult());
      if (!g)
        continue;
      Location loc = param.getLoc();
      Value p = param.getResult();
      auto type = p.getType();
      std::string name = param.getName().str();
      auto state = [&](StringRef slot) {
        return b.create<cnn::StateOp>(loc, type, b.getStringAttr(name + "." + slot.str()))
            .getResult();
      };
      auto assign = [&](Value target, Value value) {
        StringAttr targetName = target.getDefiningOp<cnn::StateOp>()
                                    ? target.getDefiningOp<cnn::StateOp>().getNameAttr()
                                    : target.getDefiningOp<cnn::ParamOp>().getNameAttr();
        b.create<cnn::AssignOp>(loc, targetName, value);
      };
      Value lr = hyper("lr");
      if (config.optimizer == "adam") {
        Value m = state("exp_avg"), v = state("exp_avg_sq");
        Value m2 = b.create<cnn::AdamMomentOp>(loc, type, m, g, p, b.getF64FloatAttr(config.beta1),
                                               b.getF64FloatAttr(config.weightDecay),
                                               b.getBoolAttr(false));
        Value v2 = b.create<cnn::AdamMomentOp>(loc, type, v, g, p, b.getF64FloatAttr(config.beta2),
                                               b.getF64FloatAttr(config.weightDecay),
                                               b.getBoolAttr(true));
        Value p2 = b.create<cnn::AdamStepOp>(loc, type, p, m2, v2, lr, hyper("step"),
                                             b.getF64FloatAttr(config.beta1),
                                             b.getF64FloatAttr(config.beta2),
                                             b.getF64FloatAttr(config.epsilon));
        assign(p, p2);
        assign(m, m2);
        assign(v, v2);
        continue;
      }
      Value buffer;
      if (config.momentum != 0) {
        Value old = state("momentum_buffer");
        buffer = b.create<cnn::SgdMomentumOp>(loc, type, old, g, p,
                                              b.getF64FloatAttr(config.momentum),
                                              b.getF64FloatAttr(config.dampening),
                                              b.getF64FloatAttr(config.weightDecay));
        assign(old, buffer);
      }
      Value p2 = b.create<cnn::SgdStepOp>(loc, type, p, g, buffer, lr,
                                          b.getF64FloatAttr(config.momentum),
                                          b.getF64FloatAttr(config.weightDecay),
                                          b.getBoolAttr(config.nesterov));
      assign(p, p2);
    }
    return success();
  }

  func::FuncOp inference;
  const TrainConfig &config;
  bool training;
  OpBuilder b;
  IRMapping map;
  SmallVector<Operation *> forward;
  llvm::DenseSet<Value> requiresGrad, runningStats;
  llvm::DenseMap<Value, Value> adjoint;
  llvm::DenseMap<Value, std::pair<Value, Value>> batchStats;
  llvm::StringMap<Value> hypers;
};

/// PyTorch's default initialization of each parameter, from the layer that
/// uses it: conv and dense weights and biases uniform in ±1/sqrt(fan_in)
/// (Kaiming-uniform with a = sqrt(5)), batch norm weight and running
/// variance 1, bias and running mean 0. Recorded as `cnn.init`.
static DictionaryAttr initialization(func::FuncOp fn) {
  Builder b(fn.getContext());
  llvm::MapVector<StringAttr, Attribute> init;
  auto set = [&](Value param, StringRef kind, double value) {
    // A conv1d weight is read through a view of its parameter.
    if (auto view = param ? param.getDefiningOp<cnn::ReshapeOp>() : nullptr)
      param = view.getInput();
    if (auto p = param ? param.getDefiningOp<cnn::ParamOp>() : nullptr)
      init[p.getNameAttr()] = b.getArrayAttr({b.getStringAttr(kind), b.getF64FloatAttr(value)});
  };
  fn.walk([&](Operation *op) {
    if (auto conv = dyn_cast<cnn::Conv2DOp>(op)) {
      auto w = cast<RankedTensorType>(conv.getWeight().getType()).getShape();
      double bound = 1.0 / std::sqrt(double(w[1] * w[2] * w[3]));
      set(conv.getWeight(), "uniform", bound);
      set(conv.getBias(), "uniform", bound);
    } else if (auto dense = dyn_cast<cnn::DenseOp>(op)) {
      auto w = cast<RankedTensorType>(dense.getWeight().getType()).getShape();
      double bound = 1.0 / std::sqrt(double(w[1]));
      set(dense.getWeight(), "uniform", bound);
      set(dense.getBias(), "uniform", bound);
    } else if (auto embedding = dyn_cast<cnn::EmbeddingOp>(op)) {
      // PyTorch draws N(0, 1); the runtime draws uniformly, so: the uniform
      // distribution of the same (unit) variance.
      set(embedding.getWeight(), "uniform", std::sqrt(3.0));
    } else if (auto conv = dyn_cast<cnn::ConvTranspose2DOp>(op)) {
      // PyTorch's fan-in of a [C, O/groups, kh, kw] weight: O/groups·kh·kw.
      auto w = cast<RankedTensorType>(conv.getWeight().getType()).getShape();
      double bound = 1.0 / std::sqrt(double(w[1] * w[2] * w[3]));
      set(conv.getWeight(), "uniform", bound);
      set(conv.getBias(), "uniform", bound);
    } else if (auto scatter = dyn_cast<cnn::ScatterConnectionsOp>(op)) {
      // A connection table: the mean fan-in of an output channel, K/O·kh·kw.
      auto w = cast<RankedTensorType>(scatter.getWeight().getType()).getShape();
      double outputs = double(scatter.getConnections().size());
      set(scatter.getWeight(), "uniform", 1.0 / std::sqrt(double(w[0] * w[1] * w[2]) / outputs));
    } else if (auto bias = dyn_cast<cnn::PositionBiasOp>(op)) {
      set(bias.getBias(), "constant", 0);
    } else if (auto bn = dyn_cast<cnn::BatchNormOp>(op)) {
      set(bn.getWeight(), "constant", 1);
      set(bn.getBias(), "constant", 0);
      set(bn.getMean(), "constant", 0);
      set(bn.getVariance(), "constant", 1);
    }
  });
  SmallVector<NamedAttribute> entries;
  for (auto &[name, value] : init)
    entries.push_back(b.getNamedAttr(name, value));
  return b.getDictionaryAttr(entries);
}

struct Autodiff : cnnc::impl::AutodiffBase<Autodiff> {
  void runOnOperation() override {
    SmallVector<func::FuncOp> inference;
    for (auto fn : getOperation().getOps<func::FuncOp>())
      if (!fn->hasAttr("cnn.role"))
        inference.push_back(fn);
    if (inference.size() != 1) {
      getOperation().emitError("cnnc-autodiff expects one inference function, found ")
          << inference.size();
      return signalPassFailure();
    }
    func::FuncOp model = inference.front();
    // A model whose output is not [N, classes] has no classification loss:
    // without a train: section it compiles for inference only, with a
    // warning; asking to train it is an error.
    auto outputs = model.getFunctionType().getResults();
    if (outputs.size() != 1 || cast<RankedTensorType>(outputs[0]).getRank() != 2) {
      std::string why = "training needs one output of shape [N, classes], found " +
                        std::to_string(outputs.size()) + " output(s)";
      if (outputs.size() == 1)
        why = "training needs an output of shape [N, classes], found rank " +
              std::to_string(cast<RankedTensorType>(outputs[0]).getRank());
      if (model->hasAttr("cnn.train")) {
        model.emitError(why);
        return signalPassFailure();
      }
      model.emitWarning(why) << "; compiling for inference only";
      return;
    }
    FailureOr<TrainConfig> config = TrainConfig::read(model);
    if (failed(config))
      return signalPassFailure();
    for (bool training : {true, false}) {
      FailureOr<func::FuncOp> fn = StepBuilder(inference.front(), *config, training).build();
      if (failed(fn))
        return signalPassFailure();
      if (training)
        (*fn)->setAttr("cnn.init", initialization(inference.front()));
    }
  }
};
} // namespace
