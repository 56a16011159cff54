//===- ModelPlan.cpp - buffers, kernels and metadata of a model -----------===//
//
// See ModelPlan.h. Buffers are numbered in the order values are defined, so
// parameters appear in graph order, as `cnnrun info` lists them.
//
//===----------------------------------------------------------------------===//
#include "compiler/Target/ModelPlan.h"

#include "cnnc/model_schema.h"
#include "compiler/Dialect/CNN/IR/CNNDialect.h"
#include "compiler/Dialect/CNN/IR/Limits.h"
#include "compiler/Dialect/CNN/IR/ShapeInference.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <map>

using namespace mlir;
using namespace cnnc;
namespace buffer_kind = cnnc::schema::buffer_kind;

static std::vector<int64_t> shapeOf(Value v) {
  std::vector<int64_t> shape;
  for (int64_t d : cast<RankedTensorType>(v.getType()).getShape())
    shape.push_back(ShapedType::isDynamic(d) ? -1 : d);
  return shape;
}

/// A kernel's label for profiles: the group's layers, the layer name, and
/// in train and eval steps also the op (`conv2.conv2d_grad_weight`).
static std::string layerLabel(Operation *op, Phase phase) {
  if (auto group = dyn_cast<cnn::GroupOp>(op))
    return group.getLabel().str();
  std::string name = cnn::layerName(op);
  StringRef mnemonic = op->getName().stripDialect();
  if (phase == Phase::Inference || name == mnemonic)
    return name;
  return name + "." + mnemonic.str();
}

static std::string nameAttr(func::FuncOp fn, unsigned index, bool result,
                            const std::string &fallback) {
  auto attr = result ? fn.getResultAttrOfType<StringAttr>(index, "cnn.name")
                     : fn.getArgAttrOfType<StringAttr>(index, "cnn.name");
  return attr ? attr.str() : fallback;
}

namespace {
/// Walks the functions of a fused module, assigning buffers and kernels.
class Planner {
public:
  ModelPlan plan;

  int addBuffer(Value v, std::string_view kind, int viewOf = -1) {
    plan.buffers.push_back({shapeOf(v), std::string(kind), viewOf, v});
    bufferOf[v] = int(plan.buffers.size()) - 1;
    return bufferOf[v];
  }

  /// A buffer shared by name across functions (inputs, parameters, ...).
  int namedBuffer(Value v, const std::string &name, std::string_view kind,
                  std::vector<NamedBuffer> *list) {
    auto [it, inserted] = byName.try_emplace(std::string(kind) + ":" + name, -1);
    if (inserted) {
      it->second = addBuffer(v, kind);
      if (list)
        list->push_back({name, it->second});
    }
    bufferOf[v] = it->second;
    return it->second;
  }

  /// A parameter, a value computed from parameters only, or a view of one
  /// (conv1d's [O, C, k] weight seen as [O, C, 1, k]).
  bool isParameterData(Value v) {
    const PlannedBuffer *buffer = &plan.buffers[bufferOf.lookup(v)];
    while (buffer->viewOf >= 0)
      buffer = &plan.buffers[buffer->viewOf];
    return buffer->kind == buffer_kind::kParam || buffer->kind == buffer_kind::kDerived;
  }

  LogicalResult planFunction(func::FuncOp fn, Phase phase) {
    for (BlockArgument arg : fn.getArguments()) {
      unsigned i = arg.getArgNumber();
      bool isLabels = phase != Phase::Inference && i + 1 == fn.getNumArguments();
      std::string fallback = fn.getNumArguments() == 1 ? "input" : "input" + std::to_string(i);
      if (isLabels)
        plan.training->labels =
            namedBuffer(arg, std::string(schema::step_io::kLabels), buffer_kind::kLabels, nullptr);
      else
        namedBuffer(arg, nameAttr(fn, i, false, fallback), buffer_kind::kInput, &plan.inputs);
    }
    for (Operation &op : fn.getBody().front()) {
      if (auto param = dyn_cast<cnn::ParamOp>(op)) {
        namedBuffer(param, param.getName().str(), buffer_kind::kParam, &plan.parameters);
        continue;
      }
      if (auto state = dyn_cast<cnn::StateOp>(op)) {
        namedBuffer(state, state.getName().str(), buffer_kind::kState, &plan.training->state);
        continue;
      }
      if (auto hyper = dyn_cast<cnn::HyperOp>(op)) {
        namedBuffer(hyper, hyper.getName().str(), buffer_kind::kHyper, &plan.training->hyper);
        continue;
      }
      if (isa<cnn::FlattenOp, cnn::ReshapeOp>(op)) {
        addBuffer(op.getResult(0), buffer_kind::kTemp, bufferOf.lookup(op.getOperand(0)));
        continue;
      }
      if (auto assign = dyn_cast<cnn::AssignOp>(op)) {
        if (failed(planAssign(assign)))
          return failure();
        continue;
      }
      if (auto ret = dyn_cast<func::ReturnOp>(op)) {
        if (failed(planReturn(fn, ret, phase)))
          return failure();
        continue;
      }
      if (op.getNumResults() != 1 && !isa<cnn::GroupOp>(op))
        return op.emitError("cannot compile '") << op.getName() << "': expected one result";
      PlannedKernel kernel;
      kernel.op = &op;
      kernel.phase = phase;
      if (auto group = dyn_cast<cnn::GroupOp>(op))
        kernel.inputs.assign(group.getInputs().begin(), group.getInputs().end());
      else
        kernel.inputs.assign(op.getOperands().begin(), op.getOperands().end());
      // A train step changes the parameters, so its kernels over parameters
      // only (a connection table's weight expansion) run every step.
      kernel.prepare = phase != Phase::Train &&
                       llvm::all_of(kernel.inputs, [&](Value v) { return isParameterData(v); });
      for (Value in : kernel.inputs)
        kernel.args.push_back(bufferOf.lookup(in));
      // Outputs come last, one buffer per result.
      for (Value result : op.getResults()) {
        kernel.args.push_back(
            addBuffer(result, kernel.prepare ? buffer_kind::kDerived : buffer_kind::kTemp));
        producer[kernel.args.back()] = int(plan.kernels.size());
      }
      kernel.symbol = "cnnc_k" + std::to_string(plan.kernels.size());
      kernel.label = layerLabel(&op, phase);
      plan.kernels.push_back(std::move(kernel));
    }
    return success();
  }

  /// The new value of a parameter or state is written to a `next` buffer
  /// whose storage the runtime swaps with the current one after the step.
  LogicalResult planAssign(cnn::AssignOp assign) {
    std::string target = assign.getTarget().str();
    auto it = byName.find(std::string(buffer_kind::kParam) + ":" + target);
    if (it == byName.end())
      it = byName.find(std::string(buffer_kind::kState) + ":" + target);
    if (it == byName.end())
      return assign.emitError("assigns to unknown parameter or state '") << target << "'";
    int next = bufferOf.lookup(assign.getValue());
    PlannedBuffer &buffer = plan.buffers[next];
    if (buffer.kind != buffer_kind::kTemp || buffer.viewOf >= 0 || !producer.count(next))
      return assign.emitError("the new value of '") << target << "' must be computed by a kernel";
    buffer.kind = buffer_kind::kNext;
    plan.training->swaps.push_back({it->second, next});
    return success();
  }

  LogicalResult planReturn(func::FuncOp fn, func::ReturnOp ret, Phase phase) {
    if (phase == Phase::Inference) {
      for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
        int b = bufferOf.lookup(v);
        PlannedBuffer &buffer = plan.buffers[b];
        if (buffer.kind != buffer_kind::kTemp)
          return ret.emitError("model output ")
                 << i << " ('" << nameAttr(fn, unsigned(i), true, "output" + std::to_string(i))
                 << "') is not computed by any operator: it is the model's " << buffer.kind
                 << " itself (an identity, or a dropout at inference, of it); cnnc compiles "
                    "outputs that at least one operator computes";
        buffer.kind = buffer_kind::kOutput; // a view (flatten) stays a view of its source
        plan.outputs.push_back(
            {nameAttr(fn, unsigned(i), true,
                      ret.getNumOperands() == 1 ? "output" : "output" + std::to_string(i)),
             b});
      }
      return plan.outputs.empty() ? fn.emitError("model function returns nothing") : success();
    }
    // Train and eval both write loss and correct count into the same two
    // buffers: the first function planned defines them, the other's
    // producing kernels are redirected there.
    int *slots[2] = {&plan.training->lossBuffer, &plan.training->correctBuffer};
    for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
      int b = bufferOf.lookup(v);
      if (!producer.count(b))
        return ret.emitError("training result ") << i << " must be computed by a kernel";
      if (*slots[i] < 0) {
        *slots[i] = b;
        continue;
      }
      std::vector<int> &args = plan.kernels[producer[b]].args;
      std::replace(args.begin(), args.end(), b, *slots[i]);
    }
    return success();
  }

  /// PyTorch's default initialization of every parameter, as cnnc-autodiff
  /// recorded it on the train function (`cnn.init`: name -> [kind, value]).
  void planInitialization(func::FuncOp train) {
    auto init = train->getAttrOfType<DictionaryAttr>("cnn.init");
    for (const NamedBuffer &p : plan.parameters) {
      auto entry = init ? init.getAs<ArrayAttr>(p.name) : ArrayAttr();
      if (!entry) {
        plan.training->init.push_back({p.name, std::string(schema::init::kConstant), 0});
        continue;
      }
      plan.training->init.push_back(
          {p.name, cast<StringAttr>(entry[0]).str(), cast<FloatAttr>(entry[1]).getValueAsDouble()});
    }
  }

private:
  llvm::DenseMap<Value, int> bufferOf;
  std::map<std::string, int> byName;
  std::map<int, int> producer; ///< buffer -> index of the kernel writing it
};
} // namespace

FailureOr<ModelPlan> cnnc::planModel(ModuleOp module) {
  func::FuncOp inference, train, eval;
  for (auto fn : module.getOps<func::FuncOp>()) {
    auto role = fn->getAttrOfType<StringAttr>("cnn.role");
    func::FuncOp &slot = !role ? inference : role.strref() == "train" ? train : eval;
    if (slot)
      return fn.emitError("more than one function of the same role in the module");
    slot = fn;
  }
  if (!inference)
    return module.emitError("expected a model function");
  if (bool(train) != bool(eval))
    return module.emitError("a train function needs an eval function and vice versa");
  Planner planner;
  planner.plan.name = inference.getSymName().str();
  if (failed(planner.planFunction(inference, Phase::Inference)))
    return failure();
  if (train) {
    planner.plan.training.emplace();
    planner.plan.training->config = train->getAttrOfType<DictionaryAttr>("cnn.train");
    if (failed(planner.planFunction(train, Phase::Train)) ||
        failed(planner.planFunction(eval, Phase::Eval)))
      return failure();
    planner.planInitialization(train);
  }
  return std::move(planner.plan);
}

uint64_t MemoryUse::totalBytes() const {
  uint64_t batched, total;
  if (__builtin_mul_overflow(perItemBytes, uint64_t(batch), &batched) ||
      __builtin_add_overflow(fixedBytes, batched, &total))
    return std::numeric_limits<uint64_t>::max();
  return total;
}

/// The elements of a planned buffer per batch item (all of them without a
/// batch). The module's values are within limits::kMaxBufferElements, so
/// this fits.
static int64_t itemElements(const PlannedBuffer &b) {
  return limits::productOfStatic(b.shape).saturated();
}

static bool isBatched(const PlannedBuffer &b) { return llvm::is_contained(b.shape, -1); }

/// A planned shape as messages print it: `[?, 8, 28, 28]`.
static std::string shapeText(const PlannedBuffer &b) {
  SmallVector<int64_t> shape;
  for (int64_t d : b.shape)
    shape.push_back(d < 0 ? ShapedType::kDynamic : d);
  return cnn::shapeToString(shape);
}

MemoryUse cnnc::memoryUse(const ModelPlan &plan) {
  MemoryUse use;
  if (plan.training) {
    if (auto batch =
            dyn_cast_or_null<IntegerAttr>(plan.training->config.get(schema::key::kBatch))) {
      use.batch = std::max<int64_t>(1, batch.getInt());
      use.trainBatch = true;
    }
  }
  for (const PlannedBuffer &b : plan.buffers) {
    if (b.viewOf >= 0)
      continue;
    uint64_t bytes = uint64_t(itemElements(b)) * limits::kBytesPerElement;
    uint64_t &sum = isBatched(b) ? use.perItemBytes : use.fixedBytes;
    if (__builtin_add_overflow(sum, bytes, &sum))
      sum = std::numeric_limits<uint64_t>::max();
  }
  return use;
}

std::string cnnc::formatBytes(uint64_t bytes) {
  static const char *const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024)
    return std::to_string(bytes) + " B";
  double value = double(bytes);
  int unit = 0;
  while (value >= 1024 && unit + 1 < int(std::size(kUnits))) {
    value /= 1024;
    ++unit;
  }
  return llvm::formatv("{0:F1} {1}", value, kUnits[unit]).str();
}

/// Where an error about `b` is reported: the op that defines its value (the
/// layer), or the function of a model input.
static Location bufferLocation(const PlannedBuffer &b) {
  if (Operation *op = b.value.getDefiningOp())
    return op->getLoc();
  Operation *fn = cast<BlockArgument>(b.value).getOwner()->getParentOp();
  return isa<UnknownLoc>(b.value.getLoc()) ? fn->getLoc() : b.value.getLoc();
}

/// How an error names `b`: "the output of layer 'conv1' (cnn.conv2d)".
static std::string bufferName(const PlannedBuffer &b) {
  Operation *op = b.value.getDefiningOp();
  if (!op)
    return "the model input";
  if (auto param = dyn_cast<cnn::ParamOp>(op))
    return "parameter '" + param.getName().str() + "'";
  std::string name = "the output of layer '" + cnn::layerName(op) + "'";
  if (isa<cnn::GroupOp>(op))
    return name;
  return name + " (" + op->getName().getStringRef().str() + ")";
}

LogicalResult cnnc::checkResourceLimits(const ModelPlan &plan, uint64_t maxMemoryBytes) {
  MemoryUse use = memoryUse(plan);
  // One buffer must fit the kernels' 32-bit indices at the batch the model is
  // compiled for (the runtime refuses larger batches the same way).
  const PlannedBuffer *largest = nullptr;
  for (const PlannedBuffer &b : plan.buffers) {
    if (b.viewOf >= 0)
      continue;
    int64_t items = itemElements(b);
    limits::Checked total = isBatched(b) ? limits::Checked(items) * use.batch : items;
    if (!total.ok() || total.value() > limits::kMaxBufferElements)
      return emitError(bufferLocation(b))
             << bufferName(b) << " " << shapeText(b) << " has " << items
             << " elements per item: at the train batch " << use.batch << " that is "
             << (total.ok() ? std::to_string(total.value()) : std::string("more than 2^63"))
             << " elements, more than the " << limits::kMaxBufferElements
             << " (2^31 - 1) a buffer can hold; lower the train batch (--batch) or compile "
                "with --inference-only";
    uint64_t bytes = uint64_t(items) * (isBatched(b) ? uint64_t(use.batch) : 1);
    if (!largest ||
        bytes > uint64_t(itemElements(*largest)) * (isBatched(*largest) ? uint64_t(use.batch) : 1))
      largest = &b;
  }
  uint64_t total = use.totalBytes();
  if (total <= maxMemoryBytes || !largest)
    return success();
  std::string at = use.trainBatch ? "at the train batch " + std::to_string(use.batch)
                                  : std::string("for one item (inference, batch 1)");
  uint64_t largestBytes = uint64_t(itemElements(*largest)) * limits::kBytesPerElement;
  return emitError(bufferLocation(*largest))
         << "the model needs " << formatBytes(total) << " of buffers " << at << " ("
         << formatBytes(use.fixedBytes) << " of parameters and state, "
         << formatBytes(use.perItemBytes)
         << " per item), more than --max-memory=" << formatBytes(maxMemoryBytes)
         << "; the largest buffer is " << bufferName(*largest) << " " << shapeText(*largest) << ", "
         << formatBytes(largestBytes) << (isBatched(*largest) ? " per item" : "");
}

std::string ModelPlan::metadataJson(const std::string &target, const std::string &deviceApi,
                                    const std::string &source) const {
  std::string text;
  llvm::raw_string_ostream os(text);
  llvm::json::OStream j(os);
  auto shapeArray = [&](const std::vector<int64_t> &shape) {
    j.attributeArray(schema::key::kShape, [&] {
      for (int64_t d : shape)
        j.value(d);
    });
  };
  auto namedList = [&](std::string_view key, const std::vector<NamedBuffer> &list,
                       bool withLayout) {
    j.attributeArray(key, [&] {
      for (const NamedBuffer &nb : list)
        j.object([&] {
          j.attribute(schema::key::kName, nb.name);
          shapeArray(buffers[nb.buffer].shape);
          if (withLayout) {
            size_t rank = buffers[nb.buffer].shape.size();
            j.attribute(schema::key::kLayout, rank == 4 ? "OIHW" : rank == 2 ? "OI" : "C");
          }
          j.attribute(schema::key::kBuffer, nb.buffer);
        });
    });
  };
  auto kernelList = [&](std::string_view key, bool prepare, Phase phase) {
    j.attributeArray(key, [&] {
      for (auto [index, k] : llvm::enumerate(kernels))
        if (k.prepare == prepare && (prepare || k.phase == phase))
          j.object([&] {
            j.attribute(schema::key::kKernel, int64_t(index));
            j.attribute(schema::key::kName, k.label);
            j.attributeArray(schema::key::kArgs, [&] {
              for (int a : k.args)
                j.value(a);
            });
            j.attribute(schema::key::kFlops, k.flops);
          });
    });
  };
  j.object([&] {
    j.attribute(schema::key::kAbiVersion, int64_t(schema::kAbiVersion));
    j.attribute(schema::key::kName, name);
    if (!source.empty())
      j.attribute(schema::key::kSource, source);
    j.attribute(schema::key::kTarget, target);
    if (!deviceApi.empty())
      j.attribute(schema::key::kDeviceApi, deviceApi);
    namedList(schema::key::kInputs, inputs, false);
    namedList(schema::key::kOutputs, outputs, false);
    namedList(schema::key::kParameters, parameters, true);
    j.attributeArray(schema::key::kBuffers, [&] {
      for (const PlannedBuffer &b : buffers)
        j.object([&] {
          shapeArray(b.shape);
          j.attribute(schema::key::kKind, b.kind);
          if (b.viewOf >= 0)
            j.attribute(schema::key::kViewOf, b.viewOf);
        });
    });
    kernelList(schema::key::kPrepare, true, Phase::Inference);
    kernelList(schema::key::kSteps, false, Phase::Inference);
    if (training)
      j.attributeObject(schema::key::kTrain, [&] {
        const TrainingPlan &t = *training;
        auto config = [&](StringRef key) { return t.config.get(key); };
        StringRef loss = cast<StringAttr>(config(schema::key::kLoss)).strref();
        j.attribute(schema::key::kLoss, loss == StringRef(schema::loss::kCrossEntropy)
                                            ? StringRef(schema::loss::kSoftmaxCrossEntropy)
                                            : loss);
        j.attributeObject(schema::key::kOptimizer, [&] {
          j.attribute(schema::optimizer::kName,
                      cast<StringAttr>(config(schema::key::kOptimizer)).strref());
          for (NamedAttribute a : t.config) {
            StringRef key = a.getName().strref();
            if (key == StringRef(schema::key::kLabelSmoothing) ||
                key == StringRef(schema::key::kClipGradNorm))
              continue; // settings of the step, not of the optimizer
            if (auto f = dyn_cast<FloatAttr>(a.getValue()))
              j.attribute(a.getName().strref(), f.getValueAsDouble());
            else if (auto b = dyn_cast<BoolAttr>(a.getValue()))
              j.attribute(a.getName().strref(), b.getValue());
          }
        });
        for (std::string_view key : {schema::key::kLabelSmoothing, schema::key::kClipGradNorm})
          if (auto f = dyn_cast_or_null<FloatAttr>(config(key)))
            j.attribute(key, f.getValueAsDouble());
        j.attribute(schema::key::kBatch, cast<IntegerAttr>(config(schema::key::kBatch)).getInt());
        j.attribute(schema::key::kEpochs, cast<IntegerAttr>(config(schema::key::kEpochs)).getInt());
        j.attribute(schema::key::kLabels, t.labels);
        j.attributeObject(schema::key::kHyper, [&] {
          for (const NamedBuffer &h : t.hyper)
            j.attribute(h.name, h.buffer);
        });
        j.attribute(schema::key::kLossBuffer, t.lossBuffer);
        j.attribute(schema::key::kCorrectBuffer, t.correctBuffer);
        namedList(schema::key::kState, t.state, false);
        j.attributeArray(schema::key::kInit, [&] {
          for (const ParameterInit &i : t.init)
            j.object([&] {
              j.attribute(schema::key::kName, i.name);
              j.attribute(schema::key::kKind, i.kind);
              j.attribute(i.kind == schema::init::kUniform ? schema::key::kBound
                                                           : schema::key::kValue,
                          i.value);
            });
        });
        kernelList(schema::key::kSteps, false, Phase::Train);
        j.attributeArray(schema::key::kSwaps, [&] {
          for (auto [current, next] : t.swaps)
            j.array([&] {
              j.value(current);
              j.value(next);
            });
        });
        kernelList(schema::key::kEvalSteps, false, Phase::Eval);
      });
  });
  return os.str();
}

std::string cnnc::kernelFingerprint(const PlannedKernel &kernel) {
  // The kernel is cloned into a function of its own whose arguments are the
  // kernel's inputs, so the printed text names nothing from the model around
  // it; a group's label (layer names) is cleared in the copy.
  Operation *op = kernel.op;
  OpBuilder builder(op->getContext());
  Location loc = builder.getUnknownLoc();
  OwningOpRef<ModuleOp> scratch = ModuleOp::create(loc);
  builder.setInsertionPointToEnd(scratch->getBody());
  SmallVector<Type> inputTypes;
  for (Value v : kernel.inputs)
    inputTypes.push_back(v.getType());
  auto fn = builder.create<func::FuncOp>(loc, "kernel",
                                         builder.getFunctionType(inputTypes, op->getResultTypes()));
  Block *entry = fn.addEntryBlock();
  IRMapping mapping;
  for (auto [value, argument] : llvm::zip(kernel.inputs, entry->getArguments()))
    mapping.map(value, argument);
  builder.setInsertionPointToEnd(entry);
  Operation *copy = builder.clone(*op, mapping);
  if (auto group = dyn_cast<cnn::GroupOp>(copy))
    group.setLabel("");
  std::string text = kernel.prepare ? "prepare " : "step ";
  llvm::raw_string_ostream os(text);
  fn.print(os, OpPrintingFlags().enableDebugInfo(false).printGenericOpForm());
  return text;
}
