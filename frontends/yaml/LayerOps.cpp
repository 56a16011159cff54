//===- LayerOps.cpp - the table of YAML ops -------------------------------===//
//
// Implements LayerOps.h: one row per `op:` name, and for each a reader that
// takes the layer's attributes (with their defaults, through AttrReader)
// into a GraphBuilder spec and builds it; the convolutions share one reader,
// the 1-D and 2-D poolings another. Attribute errors are reported
// here by AttrReader; shape errors by the builder, at the sites given here.
// The activation ops come from the builder's list of activations, so a new
// activation needs no row of its own.
//
//===----------------------------------------------------------------------===//
#include "frontends/yaml/LayerOps.h"
#include "frontends/yaml/MLIRGen.h"

#include "frontends/common/GraphBuilder.h"

#include "mlir/IR/BuiltinTypes.h"

#include <cmath>
#include <type_traits>

using namespace cnnc::model;
using namespace cnnc::frontend;
using mlir::Value;
namespace cnn = cnnc::cnn;

namespace {

/// The `activation:` shorthand of a conv or dense layer, if given.
std::optional<FusedActivation> fusedActivation(LayerContext &c) {
  std::vector<llvm::StringRef> names;
  for (const ActivationInfo &a : activations())
    names.push_back(a.name);
  std::string name = c.attrs.getChoice("activation", names);
  if (name.empty())
    return std::nullopt;
  const ActivationInfo *info = findActivation(name);
  return FusedActivation{info->kind, info->defaultParameter, c.siteOf("activation")};
}

/// The `connections:` table of a conv2d, if given.
std::optional<ConnectionTable> connectionTable(LayerContext &c) {
  if (!c.layer.find("connections"))
    return std::nullopt;
  ConnectionTable table;
  table.site = c.siteOf("connections");
  for (const AttrReader::IntList &row : c.attrs.getIntLists("connections"))
    table.rows.push_back({row.values, c.site(row.loc)});
  return table;
}

/// Reads a window size into `size`: an integer, or on a 2-D layer (`size`
/// a pair) also [h, w]. What `size` holds is the default, unless `required`.
/// These overloads let one reader serve 1-D and 2-D layers.
void readSize(AttrReader &r, llvm::StringRef key, int64_t &size, bool required = false) {
  size = r.getInt(key, required ? std::nullopt : std::optional(size));
}
void readSize(AttrReader &r, llvm::StringRef key, std::array<int64_t, 2> &size,
              bool required = false) {
  size = r.getPair(key, required ? std::nullopt : std::optional(size));
}

/// 1 for a spec of a 1-D layer (integer sizes), 2 for a 2-D one.
template <typename Spec>
constexpr int rankOf = std::is_same_v<decltype(Spec::kernel), int64_t> ? 1 : 2;

/// Reads the attributes of conv2d, conv_transpose2d or conv1d into `s`, in
/// this order (the first wrong one is the one reported). Returns the
/// padding, which conv_transpose2d checks before keeping it.
template <typename Spec> cnn::Padding readConv(LayerContext &c, Spec &s) {
  AttrReader &r = c.attrs;
  s.outChannels = r.getInt("out_channels", std::nullopt);
  readSize(r, "kernel", s.kernel, /*required=*/true);
  readSize(r, "stride", s.stride);
  if constexpr (std::is_same_v<Spec, ConvTranspose2DSpec>) {
    s.outputPadding = r.getPair("output_padding", s.outputPadding, /*min=*/0);
    s.outputPaddingSite = c.siteOf("output_padding");
  }
  readSize(r, "dilation", s.dilation);
  s.groups = r.getInt("groups", 1);
  cnn::Padding padding = r.getPadding("padding", rankOf<Spec>);
  s.bias = r.getBool("bias", true);
  s.activation = fusedActivation(c);
  return padding;
}

Value conv2d(LayerContext &c) {
  Conv2DSpec s;
  s.padding = readConv(c, s);
  s.connections = connectionTable(c);
  return c.builder.conv2d(c.info, c.input(), s);
}

Value convTranspose2d(LayerContext &c) {
  ConvTranspose2DSpec s;
  cnn::Padding padding = readConv(c, s);
  if (padding.mode != cnn::PaddingMode::Explicit)
    c.attrs.error(c.attrs.locOf("padding"),
                  "attribute 'padding': expected an integer, [h, w] or [top, "
                  "left, bottom, right] (the modes valid/same/full are for "
                  "conv2d)");
  s.padding = padding.pads;
  return c.builder.convTranspose2d(c.info, c.input(), s);
}

Value conv1d(LayerContext &c) {
  Conv1DSpec s;
  s.padding = readConv(c, s);
  return c.builder.conv1d(c.info, c.input(), s);
}

/// Reads the attributes of a pooling layer of `kind`, in this order.
template <typename Spec> Spec readPool(LayerContext &c, PoolKind kind) {
  AttrReader &r = c.attrs;
  Spec s;
  s.kind = kind;
  readSize(r, "kernel", s.kernel, /*required=*/true);
  s.stride = s.kernel; // PyTorch's default
  readSize(r, "stride", s.stride);
  s.padding = r.getPadding("padding", rankOf<Spec>);
  s.ceilMode = r.getBool("ceil_mode", false);
  if (kind == PoolKind::Average)
    s.countIncludePad = r.getBool("count_include_pad", true);
  return s;
}

template <PoolKind kind> Value pool2d(LayerContext &c) {
  Pool2DSpec s = readPool<Pool2DSpec>(c, kind);
  if (kind == PoolKind::Max)
    s.dilation = c.attrs.getPair("dilation", std::array<int64_t, 2>{1, 1});
  return c.builder.pool2d(c.info, c.input(), s);
}

template <PoolKind kind> Value pool1d(LayerContext &c) {
  return c.builder.pool1d(c.info, c.input(), readPool<Pool1DSpec>(c, kind));
}

Value kmaxPool(LayerContext &c) {
  KMaxPoolSpec s;
  s.k = c.attrs.getInt("k", std::nullopt);
  s.kSite = c.siteOf("k");
  return c.builder.kmaxPool(c.info, c.input(), s);
}

Value dense(LayerContext &c) {
  AttrReader &r = c.attrs;
  DenseSpec s;
  s.outFeatures = r.getInt("out_features", std::nullopt);
  s.bias = r.getBool("bias", true);
  s.activation = fusedActivation(c);
  return c.builder.dense(c.info, c.input(), s);
}

Value batchNorm(LayerContext &c) {
  AttrReader &r = c.attrs;
  BatchNormSpec s;
  s.epsilon = r.getNumber("epsilon", 1e-5, 0, HUGE_VAL, /*maxOpen=*/true,
                          /*minOpen=*/true);
  s.momentum = r.getNumber("momentum", 0.1, 0, 1, /*maxOpen=*/false);
  return c.builder.batchNorm(c.info, c.input(), s);
}

Value dropout(LayerContext &c) {
  DropoutSpec s;
  s.rate = c.attrs.getNumber("rate", 0.5, 0, 1, /*maxOpen=*/true);
  return c.builder.dropout(c.info, c.input(), s);
}

Value localResponseNorm(LayerContext &c) {
  AttrReader &r = c.attrs;
  LocalResponseNormSpec s;
  s.size = r.getInt("size", std::nullopt);
  s.alpha = r.getNumber("alpha", 1e-4, 0, HUGE_VAL, /*maxOpen=*/true);
  s.beta = r.getNumber("beta", 0.75, 0, HUGE_VAL, /*maxOpen=*/true);
  s.k = r.getNumber("k", 1.0, 0, HUGE_VAL, /*maxOpen=*/true, /*minOpen=*/true);
  return c.builder.localResponseNorm(c.info, c.input(), s);
}

Value embedding(LayerContext &c) {
  EmbeddingSpec s;
  s.numEmbeddings = c.attrs.getInt("num_embeddings", std::nullopt);
  s.embeddingDim = c.attrs.getInt("embedding_dim", std::nullopt);
  return c.builder.embedding(c.info, c.input(), s);
}

/// relu, leaky_relu, sigmoid, ...: the activation named like the op, with
/// its parameter (any finite number) if it has one.
Value activationLayer(LayerContext &c) {
  const ActivationInfo *info = findActivation(c.layer.op);
  double parameter = info->parameter
                         ? c.attrs.getNumber(info->parameter, info->defaultParameter, -HUGE_VAL,
                                             HUGE_VAL, /*maxOpen=*/true, /*minOpen=*/true)
                         : 0;
  return c.builder.activation(c.info, c.input(), info->kind, parameter);
}

template <BinaryKind kind> Value binary(LayerContext &c) {
  return c.builder.binary(c.info, kind, c.inputs[0], c.inputs[1]);
}

Value clip(LayerContext &c) {
  double lo = c.attrs.getNumber("min", -HUGE_VAL, -HUGE_VAL, HUGE_VAL, false);
  double hi = c.attrs.getNumber("max", HUGE_VAL, -HUGE_VAL, HUGE_VAL, false);
  return c.builder.clip(c.info, c.input(), lo, hi);
}

Value affine(LayerContext &c) {
  double scale = c.attrs.getNumber("scale", 1.0, -HUGE_VAL, HUGE_VAL, true, true);
  double shift = c.attrs.getNumber("shift", 0.0, -HUGE_VAL, HUGE_VAL, true, true);
  return c.builder.affine(c.info, c.input(), scale, shift);
}

Value prelu(LayerContext &c) {
  return c.builder.prelu(c.info, c.input(), c.attrs.getInt("num_parameters", 1));
}

Value upsample(LayerContext &c) {
  UpsampleSpec s;
  std::array<int64_t, 2> scale = c.attrs.getPair("scale_factor", std::array<int64_t, 2>{2, 2});
  llvm::ArrayRef<int64_t> in = mlir::cast<mlir::RankedTensorType>(c.input().getType()).getShape();
  if (in.size() == 4 && (scale[0] > 64 || scale[1] > 64))
    c.attrs.error(c.attrs.locOf("scale_factor"), "scale_factor must be at most 64");
  if (in.size() == 4)
    s.size = {in[2] * scale[0], in[3] * scale[1]};
  s.bilinear = c.attrs.getChoice("mode", {"nearest", "bilinear"}) == "bilinear";
  s.alignCorners = c.attrs.getBool("align_corners", false);
  if (s.alignCorners && !s.bilinear)
    c.attrs.error(c.attrs.locOf("align_corners"), "align_corners applies to mode bilinear only");
  return c.builder.upsample(c.info, c.input(), s);
}

Value pad(LayerContext &c) {
  Padding p = c.attrs.getPadding("padding", 2);
  if (p.mode != cnn::PaddingMode::Explicit)
    c.attrs.error(c.attrs.locOf("padding"),
                  "attribute 'padding': pad takes explicit sizes (an integer, [h, w] or [top, "
                  "left, bottom, right]), not a mode");
  double value = c.attrs.getNumber("value", 0.0, -HUGE_VAL, HUGE_VAL, true, true);
  return c.builder.pad(c.info, c.input(), p.pads, value);
}

Value channelShuffle(LayerContext &c) {
  return c.builder.channelShuffle(c.info, c.input(), c.attrs.getInt("groups", std::nullopt));
}

Value sliceChannels(LayerContext &c) {
  int64_t begin = c.attrs.getInt("begin", 0, 0);
  int64_t end = c.attrs.getInt("end", std::nullopt);
  return c.builder.sliceChannels(c.info, c.input(), begin, end);
}

Value concat(LayerContext &c) {
  ConcatSpec s;
  s.inputsSite = c.site(c.layer.inputsLoc);
  return c.builder.concat(c.info, c.inputs, s);
}

} // namespace

const std::vector<LayerOp> &cnnc::model::layerOps() {
  static const std::vector<LayerOp> ops = [] {
    const std::vector<std::string> conv = {"out_channels", "kernel", "stride", "padding",
                                           "dilation",     "groups", "bias",   "activation"};
    std::vector<std::string> convWithTable = conv;
    convWithTable.push_back("connections");
    const std::vector<std::string> pool = {"kernel", "stride", "padding", "ceil_mode"};
    const std::vector<std::string> avgPool = {"kernel", "stride", "padding", "ceil_mode",
                                              "count_include_pad"};
    const std::vector<std::string> maxPool = {"kernel", "stride", "padding", "ceil_mode",
                                              "dilation"};
    std::vector<LayerOp> ops = {
        {"conv2d", convWithTable, 1, false, conv2d},
        {"max_pool2d", maxPool, 1, false, pool2d<PoolKind::Max>},
        {"avg_pool2d", avgPool, 1, false, pool2d<PoolKind::Average>},
        {"global_avg_pool",
         {},
         1,
         false,
         [](LayerContext &c) {
           return c.builder.globalPool(c.info, c.input(), GlobalPoolKind::Average);
         }},
        {"dense", {"out_features", "bias", "activation"}, 1, false, dense},
        {"batch_norm", {"epsilon", "momentum"}, 1, false, batchNorm},
        {"dropout", {"rate"}, 1, false, dropout},
    };
    for (const ActivationInfo &a : activations())
      ops.push_back(
          {a.name, a.parameter ? std::vector<std::string>{a.parameter} : std::vector<std::string>{},
           1, false, activationLayer});
    std::vector<LayerOp> more = {
        {"flatten",
         {},
         1,
         false,
         [](LayerContext &c) { return c.builder.flatten(c.info, c.input()); }},
        {"add", {}, 2, true, [](LayerContext &c) { return c.builder.add(c.info, c.inputs); }},
        {"mul", {}, 2, true, [](LayerContext &c) { return c.builder.mul(c.info, c.inputs); }},
        {"sub", {}, 2, false, binary<BinaryKind::Sub>},
        {"div", {}, 2, false, binary<BinaryKind::Div>},
        {"affine", {"scale", "shift"}, 1, false, affine},
        {"clip", {"min", "max"}, 1, false, clip},
        {"prelu", {"num_parameters"}, 1, false, prelu},
        {"upsample", {"scale_factor", "mode", "align_corners"}, 1, false, upsample},
        {"pad", {"padding", "value"}, 1, false, pad},
        {"channel_shuffle", {"groups"}, 1, false, channelShuffle},
        {"slice_channels", {"begin", "end"}, 1, false, sliceChannels},
        {"concat", {}, 2, true, concat},
        {"conv_transpose2d",
         {"out_channels", "kernel", "stride", "padding", "output_padding", "dilation", "groups",
          "bias", "activation"},
         1,
         false,
         convTranspose2d},
        {"position_bias",
         {},
         1,
         false,
         [](LayerContext &c) { return c.builder.positionBias(c.info, c.input()); }},
        {"local_response_norm", {"size", "alpha", "beta", "k"}, 1, false, localResponseNorm},
        {"embedding", {"num_embeddings", "embedding_dim"}, 1, false, embedding},
        {"conv1d", conv, 1, false, conv1d},
        {"max_pool1d", pool, 1, false, pool1d<PoolKind::Max>},
        {"avg_pool1d", avgPool, 1, false, pool1d<PoolKind::Average>},
        {"global_max_pool",
         {},
         1,
         false,
         [](LayerContext &c) {
           return c.builder.globalPool(c.info, c.input(), GlobalPoolKind::Max);
         }},
        {"kmax_pool", {"k"}, 1, false, kmaxPool},
        {"min_pool2d", pool, 1, false, pool2d<PoolKind::Min>},
        {"l2_pool2d", pool, 1, false, pool2d<PoolKind::L2>},
    };
    ops.insert(ops.end(), more.begin(), more.end());
    return ops;
  }();
  return ops;
}

const LayerOp *cnnc::model::findLayerOp(llvm::StringRef name) {
  for (const LayerOp &op : layerOps())
    if (name == op.name)
      return &op;
  return nullptr;
}
