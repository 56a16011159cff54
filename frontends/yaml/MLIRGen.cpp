//===- MLIRGen.cpp - build cnn-dialect IR from a parsed model file --------===//
//
// Walks the layers of a ModelFile in order, keeping the value each layer
// produces. Each layer is read and built by its row of the op table
// (LayerOps.cpp) through the graph builder, which creates its parameters
// (named `<layer>.weight`, `<layer>.bias`, ... as in PyTorch's state_dict),
// its op and the op of an `activation:` shorthand (named
// `<layer>.<activation>`). Each block instance becomes one cnn.block whose
// region holds the instance's layers and parameters; its parameters are bound
// per instance, with the shape of the value it reads ($in_channels, ...), so
// each repetition of a `repeat:` sees its own input. Every op's location is
// NameLoc(full layer name, file:line:col of the layer's YAML node).
//
// Assumes the ModelFile passed parseModelFile's checks (names, inputs and
// blocks resolve); shapes are checked by the builder, before each op is
// built, and its errors become ModelErrors here.
//
//===----------------------------------------------------------------------===//
#include "frontends/yaml/MLIRGen.h"
#include "frontends/yaml/LayerOps.h"

#include "compiler/Dialect/CNN/IR/CNNDialect.h"
#include "compiler/Dialect/CNN/IR/ShapeInference.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include "llvm/Support/FormatVariadic.h"

#include <memory>

using namespace mlir;
using namespace cnnc::model;
namespace cnn = cnnc::cnn;
namespace frontend = cnnc::frontend;
using frontend::Site;

/// A location as the model file's line:col; unknown for any other.
static SourceLoc sourceLoc(Location loc) {
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    return {int(file.getLine()), int(file.getColumn())};
  return {};
}

Site LayerContext::site(SourceLoc loc) const {
  if (!loc.isValid())
    loc = layer.loc;
  return FileLineColLoc::get(context, file, loc.line, loc.col);
}

DictionaryAttr cnnc::model::trainSettingsAttr(const std::vector<TrainSetting> &settings,
                                              MLIRContext *ctx) {
  Builder b(ctx);
  SmallVector<NamedAttribute> entries;
  for (const TrainSetting &t : settings) {
    Attribute value;
    switch (t.kind) {
    case TrainSetting::Text:
      value = b.getStringAttr(t.text);
      break;
    case TrainSetting::Number:
      value = b.getF64FloatAttr(t.number);
      break;
    case TrainSetting::Integer:
      value = b.getI64IntegerAttr(int64_t(t.number));
      break;
    case TrainSetting::Flag:
      value = b.getBoolAttr(t.number != 0);
      break;
    }
    entries.push_back(b.getNamedAttr(t.key, value));
  }
  return b.getDictionaryAttr(entries);
}

namespace {

/// Keeps the first error the graph builder reports, to be thrown as a
/// ModelError once the builder has returned.
class BuilderErrors : public frontend::Reporter {
public:
  void layerError(Site site, const std::string &message) override {
    if (!pending)
      pending = Pending{sourceLoc(site), message, {}, /*aboutLayer=*/true};
  }
  void modelError(Site site, const std::string &message,
                  ArrayRef<std::pair<Site, std::string>> notes) override {
    if (pending)
      return;
    pending = Pending{sourceLoc(site), message, {}, /*aboutLayer=*/false};
    for (const auto &[noteSite, note] : notes)
      pending->notes.push_back({sourceLoc(noteSite), note});
  }

  /// Throws the pending error; one about the layer is prefixed with what
  /// the layer is, by `layer`.
  [[noreturn]] void throwPending(const AttrReader &layer) {
    assert(pending && "the graph builder failed without reporting");
    Pending p = std::move(*pending);
    pending.reset();
    if (p.aboutLayer)
      layer.error(p.loc, p.message);
    throw ModelError{p.loc, p.message, p.notes};
  }

private:
  struct Pending {
    SourceLoc loc;
    std::string message;
    std::vector<std::pair<SourceLoc, std::string>> notes;
    bool aboutLayer;
  };
  std::optional<Pending> pending;
};

class MLIRGen {
public:
  MLIRGen(const ModelFile &model, MLIRContext *ctx, StringRef file)
      : model(model), ctx(ctx), b(ctx), file(file.str()), graph(b, errors) {}

  OwningOpRef<ModuleOp> run() {
    OwningOpRef<ModuleOp> module(ModuleOp::create(fileLoc({1, 1})));
    b.setInsertionPointToEnd(module->getBody());

    SmallVector<Type> inTypes;
    for (const ModelInput &in : model.inputs) {
      cnn::Shape shape = {ShapedType::kDynamic};
      shape.append(in.shape.begin(), in.shape.end());
      // A sequence [C, L] is the plane 1 x L of C channels: [N, C, 1, L].
      if (in.shape.size() == 2)
        shape.insert(shape.begin() + 2, 1);
      inTypes.push_back(cnn::tensorType(ctx, shape));
    }
    auto func = b.create<func::FuncOp>(layerLoc(model.name, {1, 1}), model.name,
                                       b.getFunctionType(inTypes, {}));
    Block *entry = b.createBlock(&func.getBody());
    SmallVector<Value> inputs;
    for (auto [i, in] : llvm::enumerate(model.inputs)) {
      inputs.push_back(entry->addArgument(inTypes[i], layerLoc(in.name, in.loc)));
      func.setArgAttr(i, "cnn.name", b.getStringAttr(in.name));
    }

    SmallVector<Value> outs = genScope(model.body, inputs, "", Env());
    b.create<func::ReturnOp>(fileLoc(model.body.outputs.front().loc), outs);
    func.setType(b.getFunctionType(inTypes, ValueRange(outs).getTypes()));
    // One output is called `output`; several are called by their layers.
    for (auto [i, out] : llvm::enumerate(model.body.outputs))
      func.setResultAttr(i, "cnn.name",
                         b.getStringAttr(outs.size() == 1 ? std::string("output") : out.name));
    if (!model.train.empty())
      func->setAttr("cnn.train", trainSettingsAttr(model.train, ctx));
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

  /// Emits the layers of `scope` reading `inputs`; returns its outputs.
  SmallVector<Value> genScope(const Scope &scope, ArrayRef<Value> inputs, const std::string &prefix,
                              const Env &env) {
    std::vector<Value> outs(scope.layers.size());
    auto valueOf = [&](int index) { return index < 0 ? inputs[-1 - index] : outs[index]; };
    for (size_t i = 0; i < scope.layers.size(); ++i) {
      const Layer &layer = scope.layers[i];
      SmallVector<Value> ins;
      for (const InputRef &ref : layer.inputs)
        ins.push_back(valueOf(ref.index));
      std::string fullName = prefix.empty() ? layer.name : prefix + "." + layer.name;
      outs[i] = layer.op.empty() ? genInstance(layer, ins[0], fullName, env)
                                 : genOp(layer, ins, fullName, env);
    }
    SmallVector<Value> results;
    for (const OutputRef &out : scope.outputs)
      results.push_back(valueOf(out.index));
    return results;
  }

  /// Builds one layer through its row of the op table.
  Value genOp(const Layer &layer, ArrayRef<Value> ins, const std::string &fullName,
              const Env &env) {
    countLayer(layer);
    AttrReader r(layer, env, fullName, budget);
    LayerContext context(layer, r, graph, ctx, file);
    for (auto [value, ref] : llvm::zip(ins, layer.inputs))
      context.inputs.push_back({value, ref.name, context.site(ref.loc)});
    Value out = findLayerOp(layer.op)->build(context);
    if (!out)
      errors.throwPending(r);
    return out;
  }

  /// Emits a block instance, or its repetitions named `<name>.0` ...: `repeat: N`
  /// chains N instances with the instance's arguments, a repeat list one per
  /// entry, the entry's arguments overriding the instance's.
  Value genInstance(const Layer &layer, Value input, const std::string &fullName, const Env &env) {
    const BlockDef &def = model.blocks.at(layer.block);
    AttrReader r(layer, env, fullName, budget);
    bool repeated = layer.find("repeat");
    int64_t count = 1;
    if (!layer.repeats.empty())
      count = int64_t(layer.repeats.size());
    else if (repeated)
      count = r.getInt("repeat", 1, 1, limits::kMaxRepeat);

    Value x = input;
    for (int64_t i = 0; i < count; ++i) {
      const RepeatEntry *entry = layer.repeats.empty() ? nullptr : &layer.repeats[i];
      std::string instance = repeated ? fullName + "." + std::to_string(i) : fullName;
      try {
        countLayer(layer);
        Env inner = bindArguments(def, layer, entry, env, x);
        x = genBlockOp(def, layer, x, instance, inner);
      } catch (ModelError &e) {
        std::string note = "in instance '" + instance + "' of block '" + def.name + "'";
        if (entry)
          note += " (repeat entry #" + std::to_string(i + 1) + ")";
        e.notes.push_back({entry ? entry->loc : layer.loc, note});
        throw;
      }
    }
    return x;
  }

  /// The bindings inside one instance of `def` reading `input`: the shape of
  /// the input, then each parameter from `entry` (a repeat list's), else from
  /// the instance (both evaluated under `env`, the enclosing instance's),
  /// else its default (which may read the input's shape).
  Env bindArguments(const BlockDef &def, const Layer &layer, const RepeatEntry *entry,
                    const Env &env, Value input) {
    Env inner;
    bindInputShape(inner, cast<RankedTensorType>(input.getType()).getShape().drop_front(),
                   def.name);
    Env inputShape = inner;
    auto find = [](const std::vector<Attr> &args, StringRef name) -> const Attr * {
      auto it = llvm::find_if(args, [&](const Attr &a) { return a.key == name; });
      return it == args.end() ? nullptr : &*it;
    };
    for (const BlockParam &p : def.params) {
      const Attr *arg = entry ? find(entry->args, p.name) : nullptr;
      if (!arg)
        arg = find(layer.args, p.name);
      Binding bound = arg ? resolveValue(arg->value, env, budget)
                          : resolveValue(p.defaultValue, inputShape, budget);
      if (!bound.loc.isValid())
        bound.loc = arg ? arg->keyLoc : SourceLoc::of(p.defaultValue);
      inner[p.name] = bound;
    }
    return inner;
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
      out = genScope(def.body, {arg}, instance, env).front();
      b.create<cnn::YieldOp>(loc, ValueRange{out});
    }
    auto op = b.create<cnn::BlockOp>(loc, TypeRange{out.getType()}, ValueRange{input},
                                     b.getStringAttr(instance), b.getStringAttr(def.name));
    op.getBody().push_back(body.release());
    return op->getResult(0);
  }

  /// Counts one more layer of the expanded model (an op or a block
  /// instance), refusing more than limits::kMaxLayers at `layer`.
  void countLayer(const Layer &layer) {
    if (++layers > limits::kMaxLayers)
      fail(layer.loc, llvm::formatv("the model has more than {0} layers once its blocks and "
                                    "repeats are expanded",
                                    limits::kMaxLayers));
  }

  const ModelFile &model;
  MLIRContext *ctx;
  OpBuilder b;
  std::string file;
  BuilderErrors errors;
  frontend::GraphBuilder graph;
  ExpansionBudget budget;
  int64_t layers = 0;
};

} // namespace

OwningOpRef<ModuleOp> cnnc::model::genModule(const ModelFile &model, MLIRContext *context,
                                             StringRef fileName) {
  return MLIRGen(model, context, fileName).run();
}
