//===- ModelPlan.cpp - buffers, kernels and metadata of a model -----------===//
//
// See ModelPlan.h. Buffers are numbered in the order values are defined, so
// parameters appear in graph order, as `cnnrun info` lists them.
//
//===----------------------------------------------------------------------===//
#include "compiler/Target/ModelPlan.h"
#include "compiler/Dialect/CNN/IR/CNNDialect.h"

#include "llvm/Support/JSON.h"

using namespace mlir;
using namespace cnnc;

static std::vector<int64_t> shapeOf(Value v) {
  std::vector<int64_t> shape;
  for (int64_t d : cast<RankedTensorType>(v.getType()).getShape())
    shape.push_back(ShapedType::isDynamic(d) ? -1 : d);
  return shape;
}

static std::string layerLabel(Operation *op) {
  if (auto group = dyn_cast<cnn::GroupOp>(op))
    return group.getLabel().str();
  return cnn::layerName(op);
}

static std::string nameAttr(func::FuncOp fn, unsigned index, bool result,
                            const std::string &fallback) {
  auto attr = result ? fn.getResultAttrOfType<StringAttr>(index, "cnn.name")
                     : fn.getArgAttrOfType<StringAttr>(index, "cnn.name");
  return attr ? attr.str() : fallback;
}

FailureOr<ModelPlan> cnnc::planModel(ModuleOp module) {
  auto functions = llvm::to_vector(module.getOps<func::FuncOp>());
  if (functions.size() != 1)
    return module.emitError("expected exactly one model function, found ")
           << functions.size();
  func::FuncOp fn = functions.front();
  ModelPlan plan;
  plan.name = fn.getSymName().str();
  llvm::DenseMap<Value, int> bufferOf;
  auto addBuffer = [&](Value v, const char *kind, int viewOf = -1) {
    plan.buffers.push_back({shapeOf(v), kind, viewOf});
    bufferOf[v] = int(plan.buffers.size()) - 1;
    return bufferOf[v];
  };
  auto isParameterData = [&](Value v) {
    const std::string &kind = plan.buffers[bufferOf.lookup(v)].kind;
    return kind == "param" || kind == "derived";
  };

  for (BlockArgument arg : fn.getArguments()) {
    int b = addBuffer(arg, "input");
    plan.inputs.push_back(
        {nameAttr(fn, arg.getArgNumber(), false,
                  fn.getNumArguments() == 1 ? "input" : "input" + std::to_string(arg.getArgNumber())),
         b});
  }
  for (Operation &op : fn.getBody().front()) {
    if (auto param = dyn_cast<cnn::ParamOp>(op)) {
      plan.parameters.push_back({param.getName().str(), addBuffer(param, "param")});
      continue;
    }
    if (auto flatten = dyn_cast<cnn::FlattenOp>(op)) {
      int source = bufferOf.lookup(flatten.getInput());
      addBuffer(flatten, "temp", source);
      continue;
    }
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (auto [i, v] : llvm::enumerate(ret.getOperands())) {
        int b = bufferOf.lookup(v);
        PlannedBuffer &buffer = plan.buffers[b];
        if (buffer.kind != "temp")
          return ret.emitError("model output ")
                 << i << " is a " << buffer.kind
                 << " value, not computed by the model; cnnc cannot compile it";
        if (buffer.viewOf < 0)
          buffer.kind = "output";
        plan.outputs.push_back(
            {nameAttr(fn, unsigned(i), true,
                      ret.getNumOperands() == 1 ? "output" : "output" + std::to_string(i)),
             b});
      }
      continue;
    }
    if (op.getNumResults() != 1)
      return op.emitError("cannot compile '") << op.getName() << "': expected one result";
    PlannedKernel kernel;
    kernel.op = &op;
    if (auto group = dyn_cast<cnn::GroupOp>(op))
      kernel.inputs.assign(group.getInputs().begin(), group.getInputs().end());
    else
      kernel.inputs.assign(op.getOperands().begin(), op.getOperands().end());
    kernel.prepare = llvm::all_of(kernel.inputs, isParameterData);
    for (Value in : kernel.inputs)
      kernel.args.push_back(bufferOf.lookup(in));
    kernel.args.push_back(addBuffer(op.getResult(0), kernel.prepare ? "derived" : "temp"));
    kernel.symbol = "cnnc_k" + std::to_string(plan.kernels.size());
    kernel.label = layerLabel(&op);
    plan.kernels.push_back(std::move(kernel));
  }
  if (plan.outputs.empty())
    return fn.emitError("model function returns nothing");
  return plan;
}

std::string ModelPlan::metadataJson(const std::string &target) const {
  std::string text;
  llvm::raw_string_ostream os(text);
  llvm::json::OStream j(os);
  auto shapeArray = [&](const std::vector<int64_t> &shape) {
    j.attributeArray("shape", [&] {
      for (int64_t d : shape)
        j.value(d);
    });
  };
  auto namedList = [&](const char *key, const std::vector<NamedBuffer> &list,
                       bool withLayout) {
    j.attributeArray(key, [&] {
      for (const NamedBuffer &nb : list)
        j.object([&] {
          j.attribute("name", nb.name);
          shapeArray(buffers[nb.buffer].shape);
          if (withLayout) {
            size_t rank = buffers[nb.buffer].shape.size();
            j.attribute("layout", rank == 4 ? "OIHW" : rank == 2 ? "OI" : "C");
          }
          j.attribute("buffer", nb.buffer);
        });
    });
  };
  auto kernelList = [&](const char *key, bool prepare) {
    j.attributeArray(key, [&] {
      for (auto [index, k] : llvm::enumerate(kernels))
        if (k.prepare == prepare)
          j.object([&] {
            j.attribute("kernel", int64_t(index));
            j.attribute("name", k.label);
            j.attributeArray("args", [&] {
              for (int a : k.args)
                j.value(a);
            });
            j.attribute("flops", k.flops);
          });
    });
  };
  j.object([&] {
    j.attribute("abi_version", 1);
    j.attribute("name", name);
    j.attribute("target", target);
    namedList("inputs", inputs, false);
    namedList("outputs", outputs, false);
    namedList("parameters", parameters, true);
    j.attributeArray("buffers", [&] {
      for (const PlannedBuffer &b : buffers)
        j.object([&] {
          shapeArray(b.shape);
          j.attribute("kind", b.kind);
          if (b.viewOf >= 0)
            j.attribute("view_of", b.viewOf);
        });
    });
    kernelList("prepare", true);
    kernelList("steps", false);
  });
  return os.str();
}
