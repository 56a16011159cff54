//===- Statistics.cpp - per-layer complexity of a model (SPEC §5) ---------===//
//
// One row per op that computes something (parameters and views are folded
// into their layer): multiply-adds count one per weight use (conv: Ho·Wo·O·
// (C/groups)·kh·kw, dense: O·F); activation memory counts the output's
// elements per image (a flatten, a view, has none); the receptive field grows by (k-1)·dilation·jump
// through each window op and the jump multiplies by its stride (two stacked
// 3x3 convs see 5x5). Global pooling, flatten and dense see the whole input.
// A conv2d with a connection table counts its compact weight (K·kh·kw + O
// parameters, SPEC §1); a transposed conv multiplies each input pixel by
// O/groups kernels, and its output sees ceil(span / stride) input pixels.
//
//===----------------------------------------------------------------------===//
#include "compiler/Analysis/Statistics.h"
#include "compiler/Dialect/CNN/IR/CNNDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/JSON.h"

#include <cstdio>

using namespace mlir;
using namespace cnnc;

namespace {
/// Receptive field (height, width) and jump (the input-pixel distance
/// between neighbouring outputs) of a value; `whole` once a layer sees all.
struct Field {
  int64_t size[2] = {1, 1};
  int64_t jump[2] = {1, 1};
  bool whole = false;
};

struct LayerStats {
  std::string name, op;
  SmallVector<int64_t> shape; ///< without the batch
  int64_t params = 0, weights = 0, macs = 0, activations = 0;
  Field field;
};

static int64_t elements(Value v) {
  int64_t n = 1;
  for (int64_t d : cast<RankedTensorType>(v.getType()).getShape())
    if (!ShapedType::isDynamic(d))
      n *= d;
  return n;
}

/// The receptive field after a window op with kernel `k`, `stride`, `dilation`.
static Field window(Field in, ArrayRef<int64_t> k, ArrayRef<int64_t> stride,
                    ArrayRef<int64_t> dilation) {
  Field out = in;
  for (int i = 0; i < 2; ++i) {
    out.size[i] = in.size[i] + (k[i] - 1) * (dilation.empty() ? 1 : dilation[i]) * in.jump[i];
    out.jump[i] = in.jump[i] * stride[i];
  }
  return out;
}

static std::string fieldText(const Field &f) {
  if (f.whole)
    return "all";
  return std::to_string(f.size[0]) + "x" + std::to_string(f.size[1]);
}
} // namespace

LogicalResult cnnc::printStatistics(ModuleOp module, bool json, llvm::raw_ostream &os) {
  func::FuncOp fn;
  for (auto f : module.getOps<func::FuncOp>())
    if (!f->hasAttr("cnn.role"))
      fn = f;
  if (!fn)
    return module.emitError("--stats: no model function");
  llvm::DenseMap<Value, Field> fields;
  std::vector<LayerStats> layers;
  for (Operation &op : fn.getBody().front().without_terminator()) {
    if (isa<cnn::ParamOp>(op))
      continue;
    // A connection table's weight expansion is part of its conv2d's row.
    if (isa<cnn::ScatterConnectionsOp>(op))
      continue;
    // A parameter viewed in another shape (conv1d's weight) is the parameter.
    auto isParam = [](Value v) {
      if (auto view = v.getDefiningOp<cnn::ReshapeOp>())
        v = view.getInput();
      return bool(v.getDefiningOp<cnn::ParamOp>());
    };
    if (isa<cnn::ReshapeOp>(op) && isParam(op.getResult(0)))
      continue;
    Value result = op.getResult(0);
    Field in = op.getNumOperands() ? fields.lookup(op.getOperand(0)) : Field();
    for (Value v : op.getOperands())
      if (fields.count(v) && fields[v].whole)
        in.whole = true;
    LayerStats s;
    s.name = cnn::layerName(&op);
    s.op = op.getName().stripDialect().str();
    for (int64_t d : cast<RankedTensorType>(result.getType()).getShape().drop_front())
      s.shape.push_back(d);
    // A flatten is a view of its input: no memory of its own.
    s.activations = isa<cnn::FlattenOp>(op) ? 0 : elements(result);
    // Trainable parameters, as PyTorch's parameters() counts them: a batch
    // norm's running statistics are buffers, not parameters.
    if (auto bn = dyn_cast<cnn::BatchNormOp>(op))
      s.params = elements(bn.getWeight()) + elements(bn.getBias());
    else
      for (Value v : op.getOperands())
        if (isParam(v))
          s.params += elements(v);
    s.field = in;
    if (auto conv = dyn_cast<cnn::Conv2DOp>(op)) {
      auto w = cast<RankedTensorType>(conv.getWeight().getType()).getShape();
      s.weights = w[0] * w[1] * w[2] * w[3];
      s.macs = elements(result) * w[1] * w[2] * w[3];
      s.field = window(in, w.drop_front(2), conv.getStride(), conv.getDilation());
    } else if (auto dense = dyn_cast<cnn::DenseOp>(op)) {
      auto w = cast<RankedTensorType>(dense.getWeight().getType()).getShape();
      s.weights = w[0] * w[1];
      s.macs = w[0] * w[1];
      s.field.whole = true;
    } else if (auto pool = dyn_cast<cnn::MaxPool2DOp>(op)) {
      s.field = window(in, pool.getKernel(), pool.getStride(), {});
    } else if (auto pool = dyn_cast<cnn::AvgPool2DOp>(op)) {
      s.field = window(in, pool.getKernel(), pool.getStride(), {});
    } else if (auto embedding = dyn_cast<cnn::EmbeddingOp>(op)) {
      // A table lookup: weights stored, no multiply-adds; each position sees
      // its own token.
      s.weights = elements(embedding.getWeight());
      s.field = Field();
    } else if (auto pool = dyn_cast<cnn::MinPool2DOp>(op)) {
      s.field = window(in, pool.getKernel(), pool.getStride(), {});
    } else if (auto pool = dyn_cast<cnn::L2Pool2DOp>(op)) {
      s.field = window(in, pool.getKernel(), pool.getStride(), {});
    } else if (isa<cnn::GlobalMaxPoolOp, cnn::KMaxPoolOp>(op)) {
      s.field.whole = true;
    } else if (isa<cnn::GlobalAvgPoolOp, cnn::FlattenOp>(op)) {
      s.field.whole = true;
    } else if (isa<cnn::AddOp, cnn::ConcatOp>(op)) {
      for (Value v : op.getOperands()) {
        Field f = fields.lookup(v);
        for (int i = 0; i < 2; ++i) {
          s.field.size[i] = std::max(s.field.size[i], f.size[i]);
          s.field.jump[i] = std::max(s.field.jump[i], f.jump[i]);
        }
      }
    }
    if (auto conv = dyn_cast<cnn::Conv2DOp>(op)) {
      // A connection table (LeNet-5's C3): the compact [K, kh, kw] weight
      // is the parameter, and each output map multiplies only its K_o kernels.
      if (auto scatter = conv.getWeight().getDefiningOp<cnn::ScatterConnectionsOp>()) {
        auto c = cast<RankedTensorType>(scatter.getWeight().getType()).getShape();
        int64_t outChannels = cast<RankedTensorType>(result.getType()).getShape()[1];
        s.params += elements(scatter.getWeight());
        s.weights = c[0] * c[1] * c[2];
        s.macs = elements(result) / outChannels * c[0] * c[1] * c[2];
      }
    } else if (auto conv = dyn_cast<cnn::ConvTranspose2DOp>(op)) {
      // Each input pixel is multiplied by O/groups kernels [C, O/g, kh, kw];
      // an output pixel sees ceil(span / stride) input pixels per dimension.
      auto w = cast<RankedTensorType>(conv.getWeight().getType()).getShape();
      s.weights = w[0] * w[1] * w[2] * w[3];
      s.macs = elements(conv.getInput()) * w[1] * w[2] * w[3];
      for (int i = 0; i < 2; ++i) {
        int64_t stride = conv.getStride()[i];
        int64_t span = conv.getDilation()[i] * (w[2 + i] - 1) + 1;
        s.field.size[i] = in.size[i] + ((span + stride - 1) / stride - 1) * in.jump[i];
        s.field.jump[i] = std::max<int64_t>(1, in.jump[i] / stride);
      }
    } else if (auto lrn = dyn_cast<cnn::LocalResponseNormOp>(op)) {
      // The window's sum of squares: `size` multiply-adds per element.
      s.macs = elements(result) * lrn.getSize();
    }
    fields[result] = s.field;
    layers.push_back(s);
  }

  int64_t params = 0, weights = 0, macs = 0, activations = 0;
  for (const LayerStats &s : layers) {
    params += s.params;
    weights += s.weights;
    macs += s.macs;
    activations += s.activations;
  }
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
  std::snprintf(line, sizeof line, "%-24s %-16s %-14s %12s %12s %15s %12s %8s %7s\n", "layer",
                "op", "output", "params", "weights", "mult-adds", "activations", "field", "time");
  os << line;
  for (const LayerStats &s : layers) {
    std::snprintf(line, sizeof line, "%-24s %-16s %-14s %12lld %12lld %15lld %12lld %8s %6.1f%%\n",
                  s.name.c_str(), s.op.c_str(), shapeText(s.shape).c_str(), (long long)s.params,
                  (long long)s.weights, (long long)s.macs, (long long)s.activations,
                  fieldText(s.field).c_str(), share(s.macs));
    os << line;
  }
  std::snprintf(line, sizeof line, "%-24s %-16s %-14s %12lld %12lld %15lld %12lld\n", "total", "",
                "", (long long)params, (long long)weights, (long long)macs,
                (long long)activations);
  os << line;
  os << "time (multiply-adds per image): " << macs << "\n"
     << "space (weights + feature maps, floats): " << weights + activations << "\n";
  return success();
}
