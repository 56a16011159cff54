//===- Statistics.cpp - per-layer complexity of a model ---------===//
//
// One row per op that computes something from the model's input (parameters
// and what is computed from parameters only, such as a connection table's
// expansion or a view, are folded into the layer that reads them). Every
// figure comes from the op's CostOpInterface (implemented per op family in
// compiler/Dialect/CNN/IR/Ops/): multiply-adds count one per weight use,
// activation memory the output's elements per image (a view has none), and
// the receptive field grows through each window op (two stacked 3x3 convs
// see 5x5). Every figure and total is a checked 64-bit sum: one that does
// not fit is an error at the layer where it overflows.
//
//===----------------------------------------------------------------------===//
#include "compiler/Analysis/Statistics.h"
#include "compiler/Dialect/CNN/IR/CNNDialect.h"
#include "compiler/Dialect/CNN/IR/Limits.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/JSON.h"

#include <cstdio>
#include <limits>

using namespace mlir;
using namespace cnnc;

namespace {
struct LayerStats {
  std::string name, op;
  SmallVector<int64_t> shape; ///< without the batch
  int64_t params = 0, weights = 0, macs = 0, activations = 0;
  cnn::ReceptiveField field;
};

static std::string fieldText(const cnn::ReceptiveField &f) {
  if (f.whole)
    return "all";
  return std::to_string(f.size[0]) + "x" + std::to_string(f.size[1]);
}
} // namespace

/// Prints the rows and totals (a table, or JSON).
static LogicalResult printReport(func::FuncOp fn, const std::vector<LayerStats> &layers,
                                 int64_t params, int64_t weights, int64_t macs, int64_t activations,
                                 bool json, llvm::raw_ostream &os);

LogicalResult cnnc::printStatistics(ModuleOp module, bool json, llvm::raw_ostream &os) {
  func::FuncOp fn;
  for (auto f : module.getOps<func::FuncOp>())
    if (!f->hasAttr("cnn.role"))
      fn = f;
  if (!fn)
    return module.emitError("--stats: no model function");
  llvm::DenseMap<Value, cnn::ReceptiveField> fields;
  std::vector<LayerStats> layers;
  std::vector<Operation *> sites; ///< the op of each layer, for errors
  for (Operation &op : fn.getBody().front().without_terminator()) {
    if (llvm::all_of(op.getResults(), cnn::isParameterData))
      continue;
    auto cost = dyn_cast<cnn::CostOpInterface>(op);
    if (!cost)
      return op.emitError("--stats: no cost model for '") << op.getName() << "'";
    SmallVector<cnn::ReceptiveField> operandFields;
    for (Value v : op.getOperands())
      operandFields.push_back(fields.lookup(v));
    LayerStats s;
    s.name = cnn::layerName(&op);
    s.op = op.getName().stripDialect().str();
    for (int64_t d : cnn::shapeOf(op.getResult(0)).drop_front())
      s.shape.push_back(d);
    s.activations = cost.getActivationElements();
    s.params = cost.getParameterCount();
    s.weights = cost.getWeightCount();
    s.macs = cost.getMultiplyAdds();
    s.field = cost.getReceptiveField(operandFields);
    fields[op.getResult(0)] = s.field;
    // The cost methods saturate at INT64_MAX where a figure overflows.
    const int64_t kOverflow = std::numeric_limits<int64_t>::max();
    using Figure = std::pair<int64_t, const char *>;
    for (auto [figure, what] :
         {Figure{s.params, "parameters"}, Figure{s.weights, "weights"},
          Figure{s.macs, "multiply-adds"}, Figure{s.activations, "activations"}})
      if (figure == kOverflow)
        return op.emitError("--stats: the ")
               << what << " of layer '" << s.name << "' do not fit in a 64-bit count";
    layers.push_back(s);
    sites.push_back(&op);
  }

  limits::Checked params = 0, weights = 0, macs = 0, activations = 0;
  for (auto [s, op] : llvm::zip(layers, sites)) {
    params += s.params;
    weights += s.weights;
    macs += s.macs;
    activations += s.activations;
    if (!params.ok() || !weights.ok() || !macs.ok() || !(activations + weights).ok())
      return op->emitError("--stats: the model's totals do not fit in a 64-bit count from layer '")
             << s.name << "' on";
  }
  return printReport(fn, layers, params.value(), weights.value(), macs.value(), activations.value(),
                     json, os);
}

static LogicalResult printReport(func::FuncOp fn, const std::vector<LayerStats> &layers,
                                 int64_t params, int64_t weights, int64_t macs, int64_t activations,
                                 bool json, llvm::raw_ostream &os) {
  auto share = [&](int64_t m) { return macs ? 100.0 * double(m) / double(macs) : 0.0; };
  auto shapeText = [](ArrayRef<int64_t> shape) {
    std::string t;
    for (int64_t d : shape)
      t += (t.empty() ? "" : "x") + std::to_string(d);
    return t;
  };

  if (json) {
    llvm::json::OStream j(os);
    j.object([&] {
      j.attribute("model", fn.getSymName());
      j.attributeArray("layers", [&] {
        for (const LayerStats &s : layers)
          j.object([&] {
            j.attribute("name", s.name);
            j.attribute("op", s.op);
            j.attributeArray("shape", [&] {
              for (int64_t d : s.shape)
                j.value(d);
            });
            j.attribute("params", s.params);
            j.attribute("weights", s.weights);
            j.attribute("macs", s.macs);
            j.attribute("activations", s.activations);
            j.attribute("receptive_field", fieldText(s.field));
            j.attribute("time_share", share(s.macs));
          });
      });
      j.attributeObject("total", [&] {
        j.attribute("params", params);
        j.attribute("weights", weights);
        j.attribute("macs", macs);
        j.attribute("activations", activations);
        j.attribute("space", weights + activations);
      });
    });
    os << "\n";
    return success();
  }
  char line[256];
  std::snprintf(line, sizeof line, "%-24s %-16s %-14s %12s %12s %15s %12s %8s %7s\n", "layer", "op",
                "output", "params", "weights", "mult-adds", "activations", "field", "time");
  os << line;
  for (const LayerStats &s : layers) {
    std::snprintf(line, sizeof line, "%-24s %-16s %-14s %12lld %12lld %15lld %12lld %8s %6.1f%%\n",
                  s.name.c_str(), s.op.c_str(), shapeText(s.shape).c_str(), (long long)s.params,
                  (long long)s.weights, (long long)s.macs, (long long)s.activations,
                  fieldText(s.field).c_str(), share(s.macs));
    os << line;
  }
  std::snprintf(line, sizeof line, "%-24s %-16s %-14s %12lld %12lld %15lld %12lld\n", "total", "",
                "", (long long)params, (long long)weights, (long long)macs, (long long)activations);
  os << line;
  os << "time (multiply-adds per image): " << macs << "\n"
     << "space (weights + feature maps, floats): " << weights + activations << "\n";
  return success();
}
