//===- MLIRGen.cpp - build cnn-dialect IR from a parsed model file --------===//
//
// Walks the layers of a ModelFile in order, keeping the value each layer
// produces, and emits one cnn op per layer (plus cnn.param ops for its
// parameters, named `<layer>.weight`, `<layer>.bias`, ... as in PyTorch's
// state_dict, and the op of an `activation:` shorthand, named
// `<layer>.<activation>`). Each block instance becomes one cnn.block whose
// region holds the instance's layers and parameters. Every op's location is
// NameLoc(full layer name, file:line:col of the layer's YAML node).
//
// Assumes the ModelFile passed parseModelFile's checks (names, inputs and
// blocks resolve); shapes are checked here, before each op is built.
//
//===----------------------------------------------------------------------===//
#include "frontends/yaml/MLIRGen.h"

#include "compiler/Dialect/CNN/IR/CNNDialect.h"
#include "compiler/Dialect/CNN/IR/ShapeInference.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/FormatVariadic.h"

#include <memory>

using namespace mlir;
using namespace cnnc::model;
namespace cnn = cnnc::cnn;

namespace {

/// The static shape of a value (with the dynamic batch).
static ArrayRef<int64_t> shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

class MLIRGen {
public:
  MLIRGen(const ModelFile &model, MLIRContext *ctx, StringRef file)
      : model(model), ctx(ctx), b(ctx), file(file.str()) {}

  /// The `train:` settings as the `cnn.train` attribute cnnc-autodiff reads.
  DictionaryAttr trainAttr() {
    SmallVector<NamedAttribute> entries;
    for (const TrainSetting &t : model.train) {
      Attribute value;
      switch (t.kind) {
      case TrainSetting::Text: value = b.getStringAttr(t.text); break;
      case TrainSetting::Number: value = b.getF64FloatAttr(t.number); break;
      case TrainSetting::Integer: value = b.getI64IntegerAttr(int64_t(t.number)); break;
      case TrainSetting::Flag: value = b.getBoolAttr(t.number != 0); break;
      }
      entries.push_back(b.getNamedAttr(t.key, value));
    }
    return b.getDictionaryAttr(entries);
  }

  OwningOpRef<ModuleOp> run() {
    OwningOpRef<ModuleOp> module(ModuleOp::create(fileLoc({1, 1})));
    b.setInsertionPointToEnd(module->getBody());

    cnn::Shape inShape = {ShapedType::kDynamic};
    inShape.append(model.inputShape.begin(), model.inputShape.end());
    // A sequence [C, L] is the plane 1 x L of C channels: [N, C, 1, L].
    if (model.inputShape.size() == 2)
      inShape.insert(inShape.begin() + 2, 1);
    Type inType = cnn::tensorType(ctx, inShape);
    auto func = b.create<func::FuncOp>(
        layerLoc(model.name, {1, 1}), model.name,
        b.getFunctionType({inType}, {}));
    Block *entry = b.createBlock(&func.getBody());
    Value input =
        entry->addArgument(inType, layerLoc(model.inputName, model.inputLoc));
    func.setArgAttr(0, "cnn.name", b.getStringAttr(model.inputName));

    Value out = genScope(model.body, input, "", Env());
    SourceLoc outLoc = model.body.output >= 0
                           ? model.body.layers[model.body.output].loc
                           : model.inputLoc;
    b.create<func::ReturnOp>(fileLoc(outLoc), out);
    func.setType(b.getFunctionType({inType}, {out.getType()}));
    func.setResultAttr(0, "cnn.name", b.getStringAttr("output"));
    if (!model.train.empty())
      func->setAttr("cnn.train", trainAttr());
    return module;
  }

private:
  Location fileLoc(SourceLoc l) {
    if (!l.isValid())
      l = {1, 1};
    return FileLineColLoc::get(ctx, file, l.line, l.col);
  }
  Location layerLoc(StringRef name, SourceLoc l) {
    return NameLoc::get(b.getStringAttr(name), fileLoc(l));
  }

  /// Emits the layers of `scope` reading `input`; returns its output value.
  Value genScope(const Scope &scope, Value input, const std::string &prefix,
                 const Env &env) {
    std::vector<Value> outs(scope.layers.size());
    for (size_t i = 0; i < scope.layers.size(); ++i) {
      const Layer &layer = scope.layers[i];
      SmallVector<Value> ins;
      for (const InputRef &ref : layer.inputs)
        ins.push_back(ref.index < 0 ? input : outs[ref.index]);
      std::string fullName =
          prefix.empty() ? layer.name : prefix + "." + layer.name;
      outs[i] = layer.op.empty() ? genInstance(layer, ins[0], fullName, env)
                                 : genOp(layer, ins, fullName, env);
    }
    return scope.output < 0 ? input : outs[scope.output];
  }

  /// A cnn.param called `name`; a second parameter of the same name (two
  /// layers whose full names collide, e.g. `a.0` and a repeated `a`) is an
  /// error at the second layer.
  Value param(const std::string &name, ArrayRef<int64_t> shape,
              const Layer &layer, Location loc) {
    auto [it, inserted] = params.emplace(name, layer.loc);
    if (!inserted) {
      ModelError err{layer.loc,
                     "parameter '" + name + "' is defined twice: two layers "
                     "have the same full name",
                     {}};
      err.notes.push_back({it->second, "first defined by this layer"});
      throw err;
    }
    return b.create<cnn::ParamOp>(loc, cnn::tensorType(ctx, shape),
                                  b.getStringAttr(name));
  }

  /// Appends the op of an `activation:` shorthand, named `<layer>.<act>`.
  Value activation(Value x, StringRef act, AttrReader &r) {
    if (act.empty())
      return x;
    SourceLoc at = r.locOf("activation");
    Location loc = layerLoc(r.name() + "." + act.str(), at);
    if (act == "relu")
      return b.create<cnn::ReluOp>(loc, x.getType(), x);
    if (act == "sigmoid")
      return b.create<cnn::SigmoidOp>(loc, x.getType(), x);
    if (act == "tanh")
      return b.create<cnn::TanhOp>(loc, x.getType(), x);
    if (shapeOf(x).size() != 2)
      r.error(at, "activation 'softmax' expects [N, F] features (use it on "
                  "dense, or flatten first), found " +
                      cnn::shapeToString(shapeOf(x)));
    return b.create<cnn::SoftmaxOp>(loc, x.getType(), x);
  }

  /// Fails unless `shape` is [N, C, H, W]; the input of a window op.
  static void require4D(AttrReader &r, const Layer &layer,
                        ArrayRef<int64_t> shape, StringRef what) {
    std::string err = cnn::checkActivation4D(shape, what);
    if (!err.empty())
      r.error(layer.loc, err);
  }

  Value genOp(const Layer &layer, ArrayRef<Value> ins,
              const std::string &fullName, const Env &env) {
    AttrReader r(layer, env, fullName);
    Location loc = layerLoc(fullName, layer.loc);
    StringRef op = layer.op;
    Value x = ins[0];
    ArrayRef<int64_t> in = shapeOf(x);
    cnn::Shape result;

    if (op == "conv2d") {
      int64_t outChannels = r.getInt("out_channels", std::nullopt);
      auto kernel = r.getPair("kernel", std::nullopt);
      auto stride = r.getPair("stride", {{1, 1}});
      auto dilation = r.getPair("dilation", {{1, 1}});
      int64_t groups = r.getInt("groups", 1);
      Padding padding = r.getPadding("padding");
      bool hasBias = r.getBool("bias", true);
      std::string act =
          r.getChoice("activation", {"relu", "sigmoid", "tanh", "softmax"});
      require4D(r, layer, in, "conv2d input");
      cnn::Window w =
          cnn::makeWindow({in[2], in[3]}, kernel, stride, dilation, padding);
      cnn::Shape weightShape = {outChannels, in[1] / groups, kernel[0],
                                kernel[1]};
      int64_t biasShape[1] = {outChannels};
      std::string err = cnn::inferConv2D(in, weightShape,
                                         hasBias ? biasShape : nullptr, 1, w,
                                         groups, result);
      if (!err.empty())
        r.error(layer.loc, err);
      // A connection table (LeNet-5's C3): the parameter holds one kernel
      // per connection, expanded into the dense weight by scatter_connections.
      Value weight =
          layer.find("connections")
              ? connectionWeight(r, layer, loc, in[1], outChannels, groups, kernel)
              : param(fullName + ".weight", weightShape, layer, loc);
      Value bias = hasBias ? param(fullName + ".bias", biasShape, layer, loc)
                           : Value();
      Value y = b.create<cnn::Conv2DOp>(
          loc, x, weight, bias, b.getDenseI64ArrayAttr(w.stride),
          b.getDenseI64ArrayAttr(w.padding), b.getDenseI64ArrayAttr(w.dilation),
          b.getI64IntegerAttr(groups));
      return activation(y, act, r);
    }

    if (op == "max_pool2d" || op == "avg_pool2d" || op == "min_pool2d" ||
        op == "l2_pool2d") {
      auto kernel = r.getPair("kernel", std::nullopt);
      auto stride = r.getPair("stride", kernel);
      Padding padding = r.getPadding("padding");
      bool ceilMode = r.getBool("ceil_mode", false);
      bool countPad = op == "avg_pool2d" && r.getBool("count_include_pad", true);
      require4D(r, layer, in, "pooling input");
      cnn::Window w = cnn::makeWindow({in[2], in[3]}, kernel, stride, {1, 1},
                                      padding, ceilMode);
      auto pads = w.padding;
      std::string err = cnn::inferPool2D(in, w, result);
      if (!err.empty())
        r.error(layer.loc, err);
      if (op == "max_pool2d")
        return b.create<cnn::MaxPool2DOp>(
            loc, x, b.getDenseI64ArrayAttr(kernel),
            b.getDenseI64ArrayAttr(stride), b.getDenseI64ArrayAttr(pads),
            b.getBoolAttr(ceilMode));
      if (op == "min_pool2d")
        return b.create<cnn::MinPool2DOp>(
            loc, x, b.getDenseI64ArrayAttr(kernel),
            b.getDenseI64ArrayAttr(stride), b.getDenseI64ArrayAttr(pads),
            b.getBoolAttr(ceilMode));
      if (op == "l2_pool2d")
        return b.create<cnn::L2Pool2DOp>(
            loc, x, b.getDenseI64ArrayAttr(kernel),
            b.getDenseI64ArrayAttr(stride), b.getDenseI64ArrayAttr(pads),
            b.getBoolAttr(ceilMode));
      return b.create<cnn::AvgPool2DOp>(
          loc, x, b.getDenseI64ArrayAttr(kernel), b.getDenseI64ArrayAttr(stride),
          b.getDenseI64ArrayAttr(pads), b.getBoolAttr(ceilMode),
          b.getBoolAttr(countPad));
    }

    if (op == "conv_transpose2d") {
      int64_t outChannels = r.getInt("out_channels", std::nullopt);
      auto kernel = r.getPair("kernel", std::nullopt);
      auto stride = r.getPair("stride", {{1, 1}});
      auto outputPadding = r.getPair("output_padding", {{0, 0}}, 0);
      auto dilation = r.getPair("dilation", {{1, 1}});
      int64_t groups = r.getInt("groups", 1);
      Padding padding = r.getPadding("padding");
      bool hasBias = r.getBool("bias", true);
      std::string act =
          r.getChoice("activation", {"relu", "sigmoid", "tanh", "softmax"});
      if (padding.mode != cnn::PaddingMode::Explicit)
        r.error(r.locOf("padding"),
                "attribute 'padding': expected an integer, [h, w] or [top, "
                "left, bottom, right] (the modes valid/same/full are for "
                "conv2d)");
      require4D(r, layer, in, "conv_transpose2d input");
      if (outChannels % groups != 0 || in[1] % groups != 0)
        r.error(layer.loc,
                llvm::formatv("groups = {0} must divide the input channels "
                              "({1}) and out_channels ({2})",
                              groups, in[1], outChannels));
      cnn::Window w =
          cnn::makeWindow({in[2], in[3]}, kernel, stride, dilation, padding);
      w.outputPadding = outputPadding;
      cnn::Shape weightShape = {in[1], outChannels / groups, kernel[0],
                                kernel[1]};
      int64_t biasShape[1] = {outChannels};
      std::string err = cnn::inferConvTranspose2D(
          in, weightShape, hasBias ? biasShape : nullptr, 1, w, groups, result);
      if (!err.empty())
        r.error(err.find("output_padding") == 0 ? r.locOf("output_padding")
                                                : layer.loc,
                err);
      Value weight = param(fullName + ".weight", weightShape, layer, loc);
      Value bias = hasBias ? param(fullName + ".bias", biasShape, layer, loc)
                           : Value();
      Value y = b.create<cnn::ConvTranspose2DOp>(
          loc, x, weight, bias, b.getDenseI64ArrayAttr(stride),
          b.getDenseI64ArrayAttr(padding.pads),
          b.getDenseI64ArrayAttr(outputPadding),
          b.getDenseI64ArrayAttr(dilation), b.getI64IntegerAttr(groups));
      return activation(y, act, r);
    }

    if (op == "position_bias") {
      require4D(r, layer, in, "position_bias input");
      ArrayRef<int64_t> biasShape = in.drop_front();
      std::string err = cnn::inferPositionBias(in, biasShape, result);
      if (!err.empty())
        r.error(layer.loc, err);
      Value bias = param(fullName + ".bias", biasShape, layer, loc);
      return b.create<cnn::PositionBiasOp>(loc, x, bias);
    }

    if (op == "local_response_norm") {
      int64_t size = r.getInt("size", std::nullopt);
      double alpha = r.getNumber("alpha", 1e-4, 0, HUGE_VAL, /*maxOpen=*/true);
      double beta = r.getNumber("beta", 0.75, 0, HUGE_VAL, /*maxOpen=*/true);
      double k = r.getNumber("k", 1.0, 0, HUGE_VAL, /*maxOpen=*/true,
                             /*minOpen=*/true);
      std::string err = cnn::checkLocalResponseNorm(in, size, alpha, beta, k);
      if (!err.empty())
        r.error(layer.loc, err);
      return b.create<cnn::LocalResponseNormOp>(
          loc, x.getType(), x, b.getI64IntegerAttr(size),
          b.getF64FloatAttr(alpha), b.getF64FloatAttr(beta),
          b.getF64FloatAttr(k));
    }

    if (op == "global_avg_pool") {
      require4D(r, layer, in, "global_avg_pool input");
      return b.create<cnn::GlobalAvgPoolOp>(loc, x);
    }

    if (op == "embedding") {
      int64_t vocab = r.getInt("num_embeddings", std::nullopt);
      int64_t dim = r.getInt("embedding_dim", std::nullopt);
      cnn::Shape weightShape = {vocab, dim};
      std::string err = cnn::inferEmbedding(in, weightShape, result);
      if (!err.empty())
        r.error(layer.loc, err);
      Value weight = param(fullName + ".weight", weightShape, layer, loc);
      return b.create<cnn::EmbeddingOp>(loc, x, weight);
    }

    // 1-D ops are the 2-D ops over the 1 x L plane of a sequence [N, C, 1, L].
    if (op == "conv1d") {
      int64_t outChannels = r.getInt("out_channels", std::nullopt);
      int64_t kernel = r.getInt("kernel", std::nullopt);
      int64_t stride = r.getInt("stride", 1);
      int64_t dilation = r.getInt("dilation", 1);
      int64_t groups = r.getInt("groups", 1);
      Padding padding = r.getPadding1D("padding");
      bool hasBias = r.getBool("bias", true);
      std::string act =
          r.getChoice("activation", {"relu", "sigmoid", "tanh", "softmax"});
      if (std::string err = cnn::checkSequence(in, "conv1d input"); !err.empty())
        r.error(layer.loc, err);
      cnn::Window w = cnn::makeWindow({in[2], in[3]}, {1, kernel},
                                      {1, stride}, {1, dilation}, padding);
      cnn::Shape weightShape = {outChannels, in[1] / groups, kernel};
      cnn::Shape viewShape = {outChannels, in[1] / groups, 1, kernel};
      int64_t biasShape[1] = {outChannels};
      std::string err = cnn::inferConv2D(in, viewShape,
                                         hasBias ? biasShape : nullptr, 1, w,
                                         groups, result);
      if (!err.empty())
        r.error(layer.loc, err);
      // The weight keeps PyTorch's Conv1d layout [O, C/g, k]; the conv reads
      // it through a view [O, C/g, 1, k] that moves no data.
      Value weight = param(fullName + ".weight", weightShape, layer, loc);
      Value view = b.create<cnn::ReshapeOp>(
          loc, cnn::tensorType(ctx, viewShape), weight);
      Value bias = hasBias ? param(fullName + ".bias", biasShape, layer, loc)
                           : Value();
      Value y = b.create<cnn::Conv2DOp>(
          loc, x, view, bias, b.getDenseI64ArrayAttr(w.stride),
          b.getDenseI64ArrayAttr(w.padding), b.getDenseI64ArrayAttr(w.dilation),
          b.getI64IntegerAttr(groups));
      return activation(y, act, r);
    }

    if (op == "max_pool1d" || op == "avg_pool1d") {
      int64_t kernel = r.getInt("kernel", std::nullopt);
      int64_t stride = r.getInt("stride", kernel);
      Padding padding = r.getPadding1D("padding");
      bool ceilMode = r.getBool("ceil_mode", false);
      bool countPad = op == "avg_pool1d" && r.getBool("count_include_pad", true);
      std::string what = (op + " input").str();
      if (std::string err = cnn::checkSequence(in, what); !err.empty())
        r.error(layer.loc, err);
      cnn::Window w = cnn::makeWindow({in[2], in[3]}, {1, kernel},
                                      {1, stride}, {1, 1}, padding, ceilMode);
      auto pads = w.padding;
      std::string err = cnn::inferPool2D(in, w, result);
      if (!err.empty())
        r.error(layer.loc, err);
      auto k2 = b.getDenseI64ArrayAttr({1, kernel});
      auto s2 = b.getDenseI64ArrayAttr({1, stride});
      if (op == "max_pool1d")
        return b.create<cnn::MaxPool2DOp>(loc, x, k2, s2,
                                          b.getDenseI64ArrayAttr(pads),
                                          b.getBoolAttr(ceilMode));
      return b.create<cnn::AvgPool2DOp>(loc, x, k2, s2,
                                        b.getDenseI64ArrayAttr(pads),
                                        b.getBoolAttr(ceilMode),
                                        b.getBoolAttr(countPad));
    }

    if (op == "global_max_pool") {
      require4D(r, layer, in, "global_max_pool input");
      return b.create<cnn::GlobalMaxPoolOp>(loc, x);
    }

    if (op == "kmax_pool") {
      int64_t k = r.getInt("k", std::nullopt);
      require4D(r, layer, in, "kmax_pool input");
      std::string err = cnn::inferKMaxPool(in, k, result);
      if (!err.empty())
        r.error(r.locOf("k"), err);
      return b.create<cnn::KMaxPoolOp>(loc, x, b.getI64IntegerAttr(k));
    }

    if (op == "dense") {
      int64_t outFeatures = r.getInt("out_features", std::nullopt);
      bool hasBias = r.getBool("bias", true);
      std::string act =
          r.getChoice("activation", {"relu", "sigmoid", "tanh", "softmax"});
      cnn::Shape weightShape = {outFeatures, in.size() == 2 ? in[1] : 1};
      int64_t biasShape[1] = {outFeatures};
      std::string err = cnn::inferDense(
          in, weightShape, hasBias ? biasShape : nullptr, 1, result);
      if (!err.empty())
        r.error(layer.loc, err);
      Value weight = param(fullName + ".weight", weightShape, layer, loc);
      Value bias = hasBias ? param(fullName + ".bias", biasShape, layer, loc)
                           : Value();
      return activation(b.create<cnn::DenseOp>(loc, x, weight, bias), act, r);
    }

    if (op == "batch_norm") {
      double epsilon = r.getNumber("epsilon", 1e-5, 0, HUGE_VAL,
                                   /*maxOpen=*/true, /*minOpen=*/true);
      double momentum = r.getNumber("momentum", 0.1, 0, 1, /*maxOpen=*/false);
      int64_t channels =
          (in.size() == 2 || in.size() == 4) ? in[1] : ShapedType::kDynamic;
      int64_t vec[1] = {channels};
      ArrayRef<int64_t> vectors[4] = {vec, vec, vec, vec};
      std::string err = cnn::inferBatchNorm(in, vectors, result);
      if (!err.empty())
        r.error(layer.loc, err);
      Value gamma = param(fullName + ".weight", vec, layer, loc);
      Value beta = param(fullName + ".bias", vec, layer, loc);
      Value mean = param(fullName + ".running_mean", vec, layer, loc);
      Value var = param(fullName + ".running_var", vec, layer, loc);
      return b.create<cnn::BatchNormOp>(loc, x, gamma, beta, mean, var,
                                        b.getF64FloatAttr(epsilon),
                                        b.getF64FloatAttr(momentum));
    }

    if (op == "dropout") {
      double rate = r.getNumber("rate", 0.5, 0, 1, /*maxOpen=*/true);
      return b.create<cnn::DropoutOp>(loc, x.getType(), x,
                                      b.getF64FloatAttr(rate));
    }

    if (op == "relu")
      return b.create<cnn::ReluOp>(loc, x.getType(), x);
    if (op == "sigmoid")
      return b.create<cnn::SigmoidOp>(loc, x.getType(), x);
    if (op == "tanh")
      return b.create<cnn::TanhOp>(loc, x.getType(), x);
    if (op == "softmax") {
      if (in.size() != 2)
        r.error(layer.loc, "expects [N, F] features (flatten first), found " +
                               cnn::shapeToString(in));
      return b.create<cnn::SoftmaxOp>(loc, x.getType(), x);
    }

    if (op == "flatten") {
      std::string err = cnn::inferFlatten(in, result);
      if (!err.empty())
        r.error(layer.loc, err);
      return b.create<cnn::FlattenOp>(loc, x);
    }

    if (op == "add") {
      for (size_t i = 1; i < ins.size(); ++i)
        if (shapeOf(ins[i]) != in)
          r.error(layer.inputs[i].loc,
                  llvm::formatv("inputs must have the same shape, found '{0}' "
                                "{1} and '{2}' {3}",
                                layer.inputs[0].name, cnn::shapeToString(in),
                                layer.inputs[i].name,
                                cnn::shapeToString(shapeOf(ins[i]))));
      Value sum = x;
      for (size_t i = 1; i < ins.size(); ++i)
        sum = b.create<cnn::AddOp>(loc, x.getType(), sum, ins[i]);
      return sum;
    }

    if (op == "concat") {
      SmallVector<ArrayRef<int64_t>> shapes;
      for (Value v : ins)
        shapes.push_back(shapeOf(v));
      std::string err = cnn::inferConcat(shapes, result);
      if (!err.empty()) {
        // Name the input that disagrees with the first one.
        for (size_t i = 1; i < ins.size(); ++i) {
          cnn::Shape pair;
          if (!cnn::inferConcat({shapes[0], shapes[i]}, pair).empty())
            r.error(layer.inputs[i].loc,
                    llvm::formatv("inputs must agree on all dimensions but "
                                  "channels, found '{0}' {1} and '{2}' {3}",
                                  layer.inputs[0].name,
                                  cnn::shapeToString(shapes[0]),
                                  layer.inputs[i].name,
                                  cnn::shapeToString(shapes[i])));
        }
        r.error(layer.inputsLoc, err);
      }
      return b.create<cnn::ConcatOp>(loc, ValueRange(ins));
    }

    r.error(layer.opLoc, "op '" + layer.op + "' has no IR mapping"); // unreachable
  }

  /// The dense [O, C, kh, kw] weight of a conv2d with `connections:`: the
  /// compact parameter `<layer>.weight` [K, kh, kw] (K = the number of
  /// connections) through cnn.scatter_connections. The table is checked
  /// first; an error points at the offending row.
  Value connectionWeight(AttrReader &r, const Layer &layer, Location loc,
                         int64_t inChannels, int64_t outChannels,
                         int64_t groups, std::array<int64_t, 2> kernel) {
    SourceLoc at = r.locOf("connections");
    if (groups != 1)
      r.error(at, llvm::formatv("'connections' replaces 'groups' (a grouped "
                                "convolution is a special connection table); "
                                "found groups = {0}",
                                groups));
    std::vector<AttrReader::IntList> rows = r.getIntLists("connections");
    SmallVector<ArrayRef<int64_t>> table;
    for (const AttrReader::IntList &row : rows)
      table.push_back(row.values);
    int64_t connections;
    int badRow;
    std::string err = cnn::checkConnectionTable(table, inChannels, outChannels,
                                                connections, badRow);
    if (!err.empty())
      r.error(badRow >= 0 ? rows[badRow].loc : at,
              "attribute 'connections': " + err);
    SmallVector<Attribute> attrs;
    for (ArrayRef<int64_t> row : table)
      attrs.push_back(b.getDenseI64ArrayAttr(row));
    cnn::Shape compactShape = {connections, kernel[0], kernel[1]};
    Value compact = param(r.name() + ".weight", compactShape, layer, loc);
    cnn::Shape dense = {outChannels, inChannels, kernel[0], kernel[1]};
    return b.create<cnn::ScatterConnectionsOp>(loc, cnn::tensorType(ctx, dense),
                                               compact, b.getArrayAttr(attrs));
  }

  /// Emits a block instance (or `repeat: N` of them, named `<name>.0` ...).
  Value genInstance(const Layer &layer, Value input,
                    const std::string &fullName, const Env &env) {
    const BlockDef &def = model.blocks.at(layer.block);
    AttrReader r(layer, env, fullName);
    int64_t repeat = layer.find("repeat") ? r.getInt("repeat", 1, 1) : 0;

    Env inner;
    for (const BlockParam &p : def.params) {
      auto arg = llvm::find_if(layer.args,
                               [&](const Attr &a) { return a.key == p.name; });
      if (arg != layer.args.end()) {
        Binding bound = resolveValue(arg->value, env);
        if (!bound.loc.isValid())
          bound.loc = arg->keyLoc;
        inner[p.name] = bound;
      } else {
        inner[p.name] = {p.defaultValue, SourceLoc::of(p.defaultValue)};
      }
    }

    Value x = input;
    for (int64_t i = 0; i < std::max<int64_t>(repeat, 1); ++i) {
      std::string instance =
          repeat ? fullName + "." + std::to_string(i) : fullName;
      try {
        x = genBlockOp(def, layer, x, instance, inner);
      } catch (ModelError &e) {
        e.notes.push_back({layer.loc, "in instance '" + instance +
                                          "' of block '" + def.name + "'"});
        throw;
      }
    }
    return x;
  }

  Value genBlockOp(const BlockDef &def, const Layer &layer, Value input,
                   const std::string &instance, const Env &env) {
    Location loc = layerLoc(instance, layer.loc);
    auto body = std::make_unique<Block>();
    Value arg = body->addArgument(input.getType(), loc);
    Value out;
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToEnd(body.get());
      out = genScope(def.body, arg, instance, env);
      b.create<cnn::YieldOp>(loc, ValueRange{out});
    }
    auto op = b.create<cnn::BlockOp>(loc, TypeRange{out.getType()},
                                     ValueRange{input},
                                     b.getStringAttr(instance),
                                     b.getStringAttr(def.name));
    op.getBody().push_back(body.release());
    return op->getResult(0);
  }

  const ModelFile &model;
  MLIRContext *ctx;
  OpBuilder b;
  std::string file;
  std::map<std::string, SourceLoc> params;
};

} // namespace

OwningOpRef<ModuleOp> cnnc::model::genModule(const ModelFile &model,
                                             MLIRContext *context,
                                             StringRef fileName) {
  return MLIRGen(model, context, fileName).run();
}
