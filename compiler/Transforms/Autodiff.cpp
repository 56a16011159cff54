//===- Autodiff.cpp - train and eval steps from an inference graph --------===//
//
// Reverse-mode differentiation on the cnn dialect. The forward ops of the
// inference function are cloned into `@<m>_train` (an op with a training
// form, such as batch norm or dropout, builds it instead), a loss is
// appended, then the ops are walked in reverse: each op's gradient rule
// (DifferentiableOpInterface, implemented per op family in
// compiler/Dialect/CNN/IR/Ops/) emits cnn ops that consume the adjoint of
// its result and produce adjoints of its operands; adjoints of a value used
// several times are summed with cnn.add. Only values that depend on a
// trainable parameter get adjoints, so nothing is computed for the input.
// Every trainable parameter then gets its optimizer update, and cnn.assign
// names the new parameter and state values. The update reads the optimizer's
// settings from cnn.hyper scalars, so the runtime can change them between
// steps; what is compiled is only the state the optimizer keeps (none, a
// momentum buffer, or Adam's two moments). Nothing here depends on the kind
// of a forward op.
//
//===----------------------------------------------------------------------===//
#include "compiler/Transforms/Passes.h"

#include "cnnc/model_schema.h"

#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/MapVector.h"

#include <cmath>
#include <optional>

namespace cnnc {
#define GEN_PASS_DEF_AUTODIFF
#include "compiler/Transforms/Passes.h.inc"
} // namespace cnnc

using namespace mlir;
using namespace cnnc;
namespace opt = cnnc::schema::optimizer;
namespace loss = cnnc::schema::loss;

namespace {

/// Loss and optimizer settings, from the `cnn.train` attribute.
struct TrainConfig {
  std::string loss{loss::kCrossEntropy};
  std::string optimizer{opt::kAdam};
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
  double weightDecay = 0, momentum = 0, dampening = 0;
  bool nesterov = false;

  /// Adam or AdamW: two state tensors per parameter.
  bool adamFamily() const { return optimizer == opt::kAdam || optimizer == opt::kAdamW; }
  int64_t batch = 32, epochs = 1;

  /// Reads the settings, reporting unknown names at the function.
  static FailureOr<TrainConfig> read(func::FuncOp fn) {
    TrainConfig c;
    auto dict = fn->getAttrOfType<DictionaryAttr>("cnn.train");
    bool lrGiven = false, weightDecayGiven = false;
    if (dict) {
      // The numeric settings, by the names the model file gives them.
      const std::pair<std::string_view, double TrainConfig::*> numbers[] = {
          {opt::kLr, &TrainConfig::lr},
          {opt::kBeta1, &TrainConfig::beta1},
          {opt::kBeta2, &TrainConfig::beta2},
          {opt::kEpsilon, &TrainConfig::epsilon},
          {opt::kWeightDecay, &TrainConfig::weightDecay},
          {opt::kMomentum, &TrainConfig::momentum},
          {opt::kDampening, &TrainConfig::dampening}};
      for (NamedAttribute a : dict) {
        std::string_view key = a.getName().strref();
        for (auto [name, field] : numbers)
          if (key == name) {
            if (auto f = dyn_cast<FloatAttr>(a.getValue()))
              c.*field = f.getValueAsDouble();
            else if (auto i = dyn_cast<IntegerAttr>(a.getValue()))
              c.*field = double(i.getInt());
          }
        if (key == opt::kLr)
          lrGiven = true;
        else if (key == opt::kWeightDecay)
          weightDecayGiven = true;
        else if (key == schema::key::kLoss)
          c.loss = cast<StringAttr>(a.getValue()).str();
        else if (key == schema::key::kOptimizer)
          c.optimizer = cast<StringAttr>(a.getValue()).str();
        else if (key == opt::kNesterov)
          c.nesterov = cast<BoolAttr>(a.getValue()).getValue();
        else if (key == schema::key::kBatch)
          c.batch = cast<IntegerAttr>(a.getValue()).getInt();
        else if (key == schema::key::kEpochs)
          c.epochs = cast<IntegerAttr>(a.getValue()).getInt();
      }
    }
    if (c.loss != loss::kCrossEntropy && c.loss != loss::kMse)
      return fn.emitError("unknown loss '") << c.loss << "' (expected cross_entropy or mse)";
    if (c.optimizer != opt::kAdam && c.optimizer != opt::kAdamW && c.optimizer != opt::kSgd)
      return fn.emitError("unknown optimizer '")
             << c.optimizer << "' (expected adam, adamw or sgd)";
    // torch.optim's defaults: SGD's lr 0.01, AdamW's weight decay 0.01.
    if (c.optimizer == opt::kSgd && !lrGiven)
      c.lr = 0.01;
    if (c.optimizer == opt::kAdamW && !weightDecayGiven)
      c.weightDecay = 0.01;
    if (c.optimizer == opt::kSgd && c.nesterov && (c.momentum <= 0 || c.dampening != 0))
      return fn.emitError("Nesterov momentum needs a momentum > 0 and zero dampening (as "
                          "torch.optim.SGD), found momentum ")
             << c.momentum << " and dampening " << c.dampening;
    return c;
  }

  /// The resolved settings, recorded on the train function for the metadata.
  DictionaryAttr toAttr(Builder &b) const {
    SmallVector<NamedAttribute> a = {
        b.getNamedAttr(schema::key::kLoss, b.getStringAttr(loss)),
        b.getNamedAttr(schema::key::kOptimizer, b.getStringAttr(optimizer)),
        b.getNamedAttr(opt::kLr, b.getF64FloatAttr(lr)),
        b.getNamedAttr(opt::kWeightDecay, b.getF64FloatAttr(weightDecay)),
        b.getNamedAttr(schema::key::kBatch, b.getI64IntegerAttr(batch)),
        b.getNamedAttr(schema::key::kEpochs, b.getI64IntegerAttr(epochs))};
    if (adamFamily()) {
      a.push_back(b.getNamedAttr(opt::kBeta1, b.getF64FloatAttr(beta1)));
      a.push_back(b.getNamedAttr(opt::kBeta2, b.getF64FloatAttr(beta2)));
      a.push_back(b.getNamedAttr(opt::kEpsilon, b.getF64FloatAttr(epsilon)));
    } else {
      a.push_back(b.getNamedAttr(opt::kMomentum, b.getF64FloatAttr(momentum)));
      a.push_back(b.getNamedAttr(opt::kDampening, b.getF64FloatAttr(dampening)));
      a.push_back(b.getNamedAttr(opt::kNesterov, b.getBoolAttr(nesterov)));
    }
    return b.getDictionaryAttr(a);
  }
};

/// Label smoothing and gradient clipping, from the `cnn.train` attribute.
/// Both are hyper scalars the runtime can change between steps; the
/// settings are their defaults, and `clip_grad_norm` (any value, 0 too)
/// compiles the gradients' global norm into the train step.
struct Regularization {
  double labelSmoothing = 0;
  std::optional<double> clipGradNorm;

  static FailureOr<Regularization> read(func::FuncOp fn, StringRef lossName) {
    Regularization r;
    auto number = [](Attribute a) -> std::optional<double> {
      if (auto f = dyn_cast_or_null<FloatAttr>(a))
        return f.getValueAsDouble();
      if (auto i = dyn_cast_or_null<IntegerAttr>(a))
        return double(i.getInt());
      return std::nullopt;
    };
    if (auto dict = fn->getAttrOfType<DictionaryAttr>("cnn.train")) {
      if (Attribute a = dict.get(schema::key::kLabelSmoothing)) {
        std::optional<double> eps = number(a);
        if (!eps || !(*eps >= 0 && *eps < 1))
          return fn.emitError("label_smoothing must be a number in [0, 1), found ") << a;
        r.labelSmoothing = *eps;
      }
      if (Attribute a = dict.get(schema::key::kClipGradNorm)) {
        r.clipGradNorm = number(a);
        if (!r.clipGradNorm || !(*r.clipGradNorm >= 0 && std::isfinite(*r.clipGradNorm)))
          return fn.emitError("clip_grad_norm must be a finite number >= 0, found ") << a;
      }
    }
    if (r.labelSmoothing != 0 && lossName != StringRef(loss::kCrossEntropy))
      return fn.emitError("label_smoothing applies to the cross_entropy loss, not ") << lossName;
    return r;
  }

  /// `config` with the settings added, for the metadata.
  DictionaryAttr record(Builder &b, DictionaryAttr config, StringRef lossName) const {
    NamedAttrList a(config);
    if (lossName == StringRef(loss::kCrossEntropy))
      a.set(schema::key::kLabelSmoothing, b.getF64FloatAttr(labelSmoothing));
    if (clipGradNorm)
      a.set(schema::key::kClipGradNorm, b.getF64FloatAttr(*clipGradNorm));
    return a.getDictionary(b.getContext());
  }
};

static RankedTensorType scalarType(MLIRContext *ctx) { return cnn::tensorType(ctx, {1}); }

static RankedTensorType labelsType(MLIRContext *ctx) {
  return cnn::tensorType(ctx, {ShapedType::kDynamic});
}

/// Builds one train or eval function next to the inference function.
class StepBuilder : public cnn::GradientBuilder {
public:
  StepBuilder(func::FuncOp inference, const TrainConfig &config,
              const Regularization &regularization, bool training)
      : inference(inference), config(config), regularization(regularization), training(training),
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
      fn->setAttr("cnn.train", regularization.record(b, config.toAttr(b), config.loss));
    for (unsigned i = 0; i < inference.getNumArguments(); ++i)
      if (auto n = inference.getArgAttr(i, "cnn.name"))
        fn.setArgAttr(i, "cnn.name", n);
    fn.setArgAttr(inference.getNumArguments(), "cnn.name",
                  b.getStringAttr(schema::step_io::kLabels));
    fn.setResultAttr(0, "cnn.name", b.getStringAttr(schema::step_io::kLoss));
    fn.setResultAttr(1, "cnn.name", b.getStringAttr(schema::step_io::kCorrect));
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
      return ret.emitError("training needs an output of shape [N, classes], found ") << outputType;
    // Cross-entropy on a final softmax is computed from its logits (fused,
    // numerically stable); the softmax is then not differentiated.
    Value scores = output;
    if (config.loss == loss::kCrossEntropy)
      if (auto softmax = output.getDefiningOp<cnn::SoftmaxOp>())
        scores = softmax.getInput();
    Location lossLoc = NameLoc::get(b.getStringAttr("loss"), loc);
    Value loss, seed;
    if (config.loss == loss::kCrossEntropy) {
      // Label smoothing is a run-time scalar, in the eval step's loss too
      // (as PyTorch's criterion reports it).
      Value eps = hyper(schema::hyper::kLabelSmoothing);
      loss = b.create<cnn::SoftmaxCrossEntropyOp>(lossLoc, scalarType(ctx), scores, labels, eps);
      seed = training ? b.create<cnn::SoftmaxCrossEntropyGradOp>(lossLoc, scores.getType(), scores,
                                                                 labels, eps)
                      : Value();
    } else {
      loss = b.create<cnn::MseLossOp>(lossLoc, scalarType(ctx), output, labels);
      seed = training ? b.create<cnn::MseLossGradOp>(lossLoc, output.getType(), output, labels)
                      : Value();
      scores = output;
    }
    Value correct = b.create<cnn::CountCorrectOp>(NameLoc::get(b.getStringAttr("accuracy"), loc),
                                                  scalarType(ctx), scores, labels);
    if (training) {
      adjoint[scores] = seed;
      if (failed(backward()) || failed(optimize()))
        return failure();
    }
    b.create<func::ReturnOp>(loc, ValueRange{loss, correct});
    return fn;
  }

private:
  /// Clones the inference ops; an op with a training form (batch norm with
  /// batch statistics, dropout with a mask) builds that instead.
  LogicalResult cloneForward() {
    for (Operation &op : inference.getBody().front().without_terminator()) {
      if (isa<cnn::BlockOp>(op))
        return op.emitError("expand blocks (cnnc-expand-blocks) before cnnc-autodiff");
      if (auto differentiable = dyn_cast<cnn::DifferentiableOpInterface>(op);
          training && differentiable)
        if (Value y = differentiable.buildTrainingForm(*this)) {
          map.map(op.getResult(0), y);
          forward.push_back(y.getDefiningOp());
          continue;
        }
      forward.push_back(b.clone(op, map));
    }
    // Values that depend on a trainable parameter need adjoints.
    for (Operation *op : forward) {
      bool depends = isa<cnn::ParamOp>(op) && !notTrainable.contains(op->getResult(0));
      for (Value v : op->getOperands())
        depends |= requiresGradSet.contains(v);
      if (depends)
        for (Value r : op->getResults())
          requiresGradSet.insert(r);
    }
    return success();
  }

  // The reverse-mode pass as the ops' gradient rules and training forms see it.
  OpBuilder &builder() override { return b; }
  bool requiresGrad(Value v) const override { return requiresGradSet.contains(v); }
  int64_t nextDropoutSalt() override { return dropoutSalt++; }
  void markNotTrainable(Value param) override { notTrainable.insert(param); }

  /// The train step's value of an inference value; a parameter is cloned
  /// on first use.
  Value lookup(Value v) override {
    if (Value m = map.lookupOrNull(v))
      return m;
    Operation *clone = b.clone(*v.getDefiningOp(), map);
    forward.push_back(clone);
    return clone->getResult(0);
  }

  Value hyper(StringRef name) override {
    Value &v = hypers[name];
    if (!v) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(b.getInsertionBlock());
      v = b.create<cnn::HyperOp>(inference.getLoc(), scalarType(b.getContext()), name);
    }
    return v;
  }

  void accumulate(Value v, Value grad) override {
    if (!requiresGradSet.contains(v))
      return;
    Value &slot = adjoint[v];
    slot =
        slot ? b.create<cnn::AddOp>(grad.getLoc(), grad.getType(), slot, grad).getResult() : grad;
  }

  LogicalResult backward() {
    for (Operation *op : llvm::reverse(forward)) {
      if (op->getNumResults() != 1)
        continue;
      Value dy = adjoint.lookup(op->getResult(0));
      if (!dy || isa<cnn::ParamOp>(op))
        continue;
      b.setInsertionPointToEnd(b.getInsertionBlock());
      auto differentiable = dyn_cast<cnn::DifferentiableOpInterface>(op);
      if (!differentiable)
        return op->emitError("cnnc-autodiff: no gradient rule for '") << op->getName() << "'";
      if (failed(differentiable.buildGradient(*this, dy)))
        return failure();
    }
    return success();
  }

  /// With clipping compiled in, the factor every gradient is multiplied by
  /// before its update (torch.nn.utils.clip_grad_norm_): the squared norm
  /// of each gradient, then the coefficient from their sum and the
  /// `clip_grad_norm` hyper scalar. All gradients exist by now (the
  /// backward pass is complete), and no update has run. Null otherwise.
  Value clipCoefficient() {
    if (!regularization.clipGradNorm)
      return {};
    RankedTensorType scalar = scalarType(b.getContext());
    SmallVector<Value> squares;
    for (Operation *op : forward)
      if (auto param = dyn_cast<cnn::ParamOp>(op))
        if (Value g = adjoint.lookup(param.getResult()))
          squares.push_back(b.create<cnn::SumSquaresOp>(param.getLoc(), scalar, g));
    if (squares.empty())
      return {};
    Location loc = NameLoc::get(b.getStringAttr("clip_grad_norm"), inference.getLoc());
    return b.create<cnn::ClipCoefficientOp>(loc, scalar, hyper(schema::hyper::kClipGradNorm),
                                            squares);
  }

  /// The optimizer update of every trainable parameter, in graph order.
  LogicalResult optimize() {
    Value clip = clipCoefficient();
    for (Operation *op : forward) {
      auto param = dyn_cast<cnn::ParamOp>(op);
      if (!param)
        continue;
      Value g = adjoint.lookup(param.getResult());
      if (!g)
        continue;
      Location loc = param.getLoc();
      if (clip)
        g = b.create<cnn::ClipGradientOp>(loc, g.getType(), g, clip);
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
      namespace h = schema::hyper;
      Value lr = hyper(h::kLr), weightDecay = hyper(h::kWeightDecay);
      if (config.adamFamily()) {
        Value m = state(opt::kExpAvg), v = state(opt::kExpAvgSq);
        auto update = b.create<cnn::AdamUpdateOp>(
            loc, type, type, type, p, g, m, v, hyper(h::kOptimizer), lr, hyper(h::kStep),
            weightDecay, hyper(h::kBeta1), hyper(h::kBeta2), hyper(h::kEpsilon),
            hyper(h::kMomentum), hyper(h::kDampening), hyper(h::kNesterov));
        assign(p, update.getNewParam());
        assign(m, update.getNewExpAvg());
        assign(v, update.getNewExpAvgSq());
      } else if (config.momentum != 0) {
        Value buffer = state(opt::kMomentumBuffer);
        auto update = b.create<cnn::SgdMomentumUpdateOp>(loc, type, type, p, g, buffer, lr,
                                                         weightDecay, hyper(h::kMomentum),
                                                         hyper(h::kDampening), hyper(h::kNesterov));
        assign(p, update.getNewParam());
        assign(buffer, update.getNewBuffer());
      } else {
        assign(p, b.create<cnn::SgdUpdateOp>(loc, type, p, g, lr, weightDecay).getNewParam());
      }
    }
    return success();
  }

  func::FuncOp inference;
  const TrainConfig &config;
  const Regularization &regularization;
  bool training;
  OpBuilder b;
  IRMapping map;
  SmallVector<Operation *> forward;
  llvm::DenseSet<Value> requiresGradSet, notTrainable;
  llvm::DenseMap<Value, Value> adjoint;
  int64_t dropoutSalt = 0;
  llvm::StringMap<Value> hypers;
};

/// PyTorch's default initialization of each parameter, asked of the layer
/// that reads it. Recorded as `cnn.init`.
static DictionaryAttr initialization(func::FuncOp fn) {
  cnn::ParameterInitializer init(fn.getContext());
  fn.walk([&](cnn::DifferentiableOpInterface op) { op.initializeParameters(init); });
  return init.toAttr();
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
    FailureOr<Regularization> regularization = Regularization::read(model, config->loss);
    if (failed(regularization))
      return signalPassFailure();
    for (bool training : {true, false}) {
      FailureOr<func::FuncOp> fn =
          StepBuilder(inference.front(), *config, *regularization, training).build();
      if (failed(fn))
        return signalPassFailure();
      if (training)
        (*fn)->setAttr("cnn.init", initialization(inference.front()));
    }
  }
};
} // namespace
