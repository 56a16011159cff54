//===- GraphBuilder.cpp - typed layer specs -> cnn ops --------------------===//
//
// Implements GraphBuilder.h. Each layer checks its input and parameter
// shapes with the shape functions of ShapeInference.h before it creates
// anything, so a bad layer is reported at its site and never reaches an op
// builder that would abort on a failed type inference; then it creates its
// parameters, its op and the op of its activation shorthand, in that order.
//
//===----------------------------------------------------------------------===//
#include "frontends/common/GraphBuilder.h"

#include "compiler/Dialect/CNN/IR/CNNDialect.h"
#include "compiler/Dialect/CNN/IR/ShapeInference.h"

#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <functional>

using namespace mlir;
using namespace cnnc::frontend;
namespace cnn = cnnc::cnn;

/// The static shape of a value (with the dynamic batch).
static ArrayRef<int64_t> shapeOf(Value v) { return cast<RankedTensorType>(v.getType()).getShape(); }

/// `site` if given, else the layer's.
static Site at(const std::optional<Site> &site, const LayerInfo &layer) {
  return site ? *site : layer.site;
}

//===----------------------------------------------------------------------===//
// Activations
//===----------------------------------------------------------------------===//

llvm::ArrayRef<ActivationInfo> cnnc::frontend::activations() {
  static const ActivationInfo list[] = {
      {Activation::Relu, "relu", false},
      {Activation::LeakyRelu, "leaky_relu", false, "negative_slope", 0.01},
      {Activation::Relu6, "relu6", false},
      {Activation::Hardswish, "hardswish", false},
      {Activation::HardSigmoid, "hardsigmoid", false},
      {Activation::Silu, "silu", false},
      {Activation::Sigmoid, "sigmoid", false},
      {Activation::Tanh, "tanh", false},
      {Activation::Softmax, "softmax", true},
  };
  return list;
}

const ActivationInfo *cnnc::frontend::findActivation(StringRef name) {
  for (const ActivationInfo &a : activations())
    if (name == a.name)
      return &a;
  return nullptr;
}

static const ActivationInfo &infoOf(Activation kind) {
  for (const ActivationInfo &a : activations())
    if (a.kind == kind)
      return a;
  llvm_unreachable("an activation missing from activations()");
}

Value GraphBuilder::applyActivation(Activation kind, double parameter, Location loc, Value x) {
  switch (kind) {
  case Activation::Relu:
    return b.create<cnn::ReluOp>(loc, x.getType(), x);
  case Activation::LeakyRelu:
    return b.create<cnn::LeakyReluOp>(loc, x.getType(), x, b.getF64FloatAttr(parameter));
  case Activation::Relu6:
    return b.create<cnn::Relu6Op>(loc, x.getType(), x);
  case Activation::Hardswish:
    return b.create<cnn::HardswishOp>(loc, x.getType(), x);
  case Activation::HardSigmoid:
    return b.create<cnn::HardSigmoidOp>(loc, x.getType(), x, b.getF64FloatAttr(1.0 / 6.0),
                                        b.getF64FloatAttr(0.5));
  case Activation::Silu:
    return b.create<cnn::SiluOp>(loc, x.getType(), x);
  case Activation::Sigmoid:
    return b.create<cnn::SigmoidOp>(loc, x.getType(), x);
  case Activation::Tanh:
    return b.create<cnn::TanhOp>(loc, x.getType(), x);
  case Activation::Softmax:
    return b.create<cnn::SoftmaxOp>(loc, x.getType(), x);
  }
  llvm_unreachable("unknown activation");
}

Value GraphBuilder::activation(const LayerInfo &layer, Value x, Activation kind, double parameter) {
  if (infoOf(kind).needsFeatures && shapeOf(x).size() != 2)
    return fail(layer.site,
                "expects [N, F] features (flatten first), found " + cnn::shapeToString(shapeOf(x)));
  return applyActivation(kind, parameter, opLoc(layer), x);
}

/// Appends the op of an activation shorthand, named `<layer>.<activation>`.
Value GraphBuilder::fuseActivation(const LayerInfo &layer, Value y,
                                   const std::optional<FusedActivation> &act) {
  if (!act)
    return y;
  const ActivationInfo &info = infoOf(act->kind);
  if (info.needsFeatures && shapeOf(y).size() != 2)
    return fail(act->site, llvm::formatv("activation '{0}' expects [N, F] features (use "
                                         "it on dense, or flatten first), found {1}",
                                         info.name, cnn::shapeToString(shapeOf(y))));
  Location loc = NameLoc::get(b.getStringAttr(layer.name + "." + info.name), act->site);
  return applyActivation(act->kind, act->parameter, loc, y);
}

//===----------------------------------------------------------------------===//
// Shared helpers
//===----------------------------------------------------------------------===//

Location GraphBuilder::opLoc(const LayerInfo &layer) {
  return NameLoc::get(b.getStringAttr(layer.name), layer.site);
}

Value GraphBuilder::fail(Site site, const std::string &message) {
  reporter.layerError(site, message);
  return {};
}

bool GraphBuilder::reported(Site site, const std::string &error) {
  if (error.empty())
    return false;
  reporter.layerError(site, error);
  return true;
}

Value GraphBuilder::param(const LayerInfo &layer, StringRef suffix, ArrayRef<int64_t> shape) {
  auto named = layer.paramNames.find(suffix.str());
  std::string name =
      named != layer.paramNames.end() ? named->second : layer.name + "." + suffix.str();
  auto [it, inserted] = params.emplace(name, layer.site);
  if (!inserted) {
    std::pair<Site, std::string> note = {it->second, "first defined by this layer"};
    reporter.modelError(layer.site,
                        "parameter '" + name +
                            "' is defined twice: two layers have the same "
                            "full name",
                        note);
    return {};
  }
  return b.create<cnn::ParamOp>(opLoc(layer), cnn::tensorType(b.getContext(), shape),
                                b.getStringAttr(name));
}

//===----------------------------------------------------------------------===//
// Convolutions
//===----------------------------------------------------------------------===//

/// The input channels per group of a convolution; all of them when `groups`
/// is not positive (the shape functions report that).
static int64_t perGroup(int64_t channels, int64_t groups) {
  return groups > 0 ? channels / groups : channels;
}

/// Checks the shapes of a convolution over window `w` with the weight
/// `weightShape` as its op reads it, and the bias [O] if it has one.
static std::string inferConv(ArrayRef<int64_t> in, ArrayRef<int64_t> weightShape, const ConvSpec &s,
                             const cnn::Window &w, bool transposed) {
  int64_t biasShape[1] = {s.outChannels};
  const int64_t *bias = s.bias ? biasShape : nullptr;
  cnn::Shape result;
  return transposed ? cnn::inferConvTranspose2D(in, weightShape, bias, 1, w, s.groups, result)
                    : cnn::inferConv2D(in, weightShape, bias, 1, w, s.groups, result);
}

/// The rest of a checked convolution, once its weight is built (as its op
/// reads it): the bias `<layer>.bias` [O] if it has one, the conv2d or
/// conv_transpose2d op over window `w`, and the activation shorthand.
Value GraphBuilder::convOp(const LayerInfo &layer, Value x, Value weight, const ConvSpec &s,
                           const cnn::Window &w, bool transposed) {
  Value bias;
  if (s.bias && !(bias = param(layer, "bias", {s.outChannels})))
    return {};
  auto stride = b.getDenseI64ArrayAttr(w.stride);
  auto padding = b.getDenseI64ArrayAttr(w.padding);
  auto dilation = b.getDenseI64ArrayAttr(w.dilation);
  auto groups = b.getI64IntegerAttr(s.groups);
  Value y;
  if (transposed)
    y = b.create<cnn::ConvTranspose2DOp>(opLoc(layer), x, weight, bias, stride, padding,
                                         b.getDenseI64ArrayAttr(w.outputPadding), dilation, groups);
  else
    y = b.create<cnn::Conv2DOp>(opLoc(layer), x, weight, bias, stride, padding, dilation, groups);
  return fuseActivation(layer, y, s.activation);
}

Value GraphBuilder::conv2d(const LayerInfo &layer, Value x, const Conv2DSpec &s) {
  ArrayRef<int64_t> in = shapeOf(x);
  if (reported(layer.site, cnn::checkActivation4D(in, "conv2d input")))
    return {};
  cnn::Window w = cnn::makeWindow({in[2], in[3]}, s.kernel, s.stride, s.dilation, s.padding);
  cnn::Shape weightShape = {s.outChannels, perGroup(in[1], s.groups), s.kernel[0], s.kernel[1]};
  if (reported(layer.site, inferConv(in, weightShape, s, w, /*transposed=*/false)))
    return {};
  Value weight =
      s.connections ? connectionWeight(layer, in[1], s) : param(layer, "weight", weightShape);
  if (!weight)
    return {};
  return convOp(layer, x, weight, s, w, /*transposed=*/false);
}

/// The dense [O, C, kh, kw] weight of a conv2d with a connection table: the
/// compact parameter `<layer>.weight` [K, kh, kw] (K = the number of
/// connections) through cnn.scatter_connections. The table is checked
/// first; an error points at the offending row.
Value GraphBuilder::connectionWeight(const LayerInfo &layer, int64_t inChannels,
                                     const Conv2DSpec &s) {
  const ConnectionTable &table = *s.connections;
  Site tableSite = at(table.site, layer);
  if (s.groups != 1)
    return fail(tableSite, llvm::formatv("'connections' replaces 'groups' (a grouped "
                                         "convolution is a special connection table); "
                                         "found groups = {0}",
                                         s.groups));
  SmallVector<ArrayRef<int64_t>> rows;
  for (const ConnectionTable::Row &row : table.rows)
    rows.push_back(row.channels);
  int64_t connections;
  int badRow;
  if (std::string err =
          cnn::checkConnectionTable(rows, inChannels, s.outChannels, connections, badRow);
      !err.empty())
    return fail(badRow >= 0 ? table.rows[badRow].site : tableSite,
                "attribute 'connections': " + err);
  SmallVector<Attribute> attrs;
  for (ArrayRef<int64_t> row : rows)
    attrs.push_back(b.getDenseI64ArrayAttr(row));
  cnn::Shape compactShape = {connections, s.kernel[0], s.kernel[1]};
  Value compact = param(layer, "weight", compactShape);
  if (!compact)
    return {};
  cnn::Shape dense = {s.outChannels, inChannels, s.kernel[0], s.kernel[1]};
  return b.create<cnn::ScatterConnectionsOp>(opLoc(layer), cnn::tensorType(b.getContext(), dense),
                                             compact, b.getArrayAttr(attrs));
}

Value GraphBuilder::convTranspose2d(const LayerInfo &layer, Value x, const ConvTranspose2DSpec &s) {
  ArrayRef<int64_t> in = shapeOf(x);
  if (reported(layer.site, cnn::checkActivation4D(in, "conv_transpose2d input")))
    return {};
  if (s.groups >= 1 && (s.outChannels % s.groups != 0 || in[1] % s.groups != 0))
    return fail(layer.site, llvm::formatv("groups = {0} must divide the input channels "
                                          "({1}) and out_channels ({2})",
                                          s.groups, in[1], s.outChannels));
  cnn::Padding padding;
  padding.pads = s.padding;
  cnn::Window w = cnn::makeWindow({in[2], in[3]}, s.kernel, s.stride, s.dilation, padding);
  w.outputPadding = s.outputPadding;
  cnn::Shape weightShape = {in[1], perGroup(s.outChannels, s.groups), s.kernel[0], s.kernel[1]};
  if (std::string err = inferConv(in, weightShape, s, w, /*transposed=*/true); !err.empty())
    return fail(err.find("output_padding") == 0 ? at(s.outputPaddingSite, layer) : layer.site, err);
  Value weight = param(layer, "weight", weightShape);
  if (!weight)
    return {};
  return convOp(layer, x, weight, s, w, /*transposed=*/true);
}

// 1-D layers are the 2-D ops over the 1 x L plane of a sequence [N, C, 1, L].
Value GraphBuilder::conv1d(const LayerInfo &layer, Value x, const Conv1DSpec &s) {
  ArrayRef<int64_t> in = shapeOf(x);
  if (reported(layer.site, cnn::checkSequence(in, "conv1d input")))
    return {};
  cnn::Window w =
      cnn::makeWindow({in[2], in[3]}, {1, s.kernel}, {1, s.stride}, {1, s.dilation}, s.padding);
  int64_t group = perGroup(in[1], s.groups);
  cnn::Shape viewShape = {s.outChannels, group, 1, s.kernel};
  if (reported(layer.site, inferConv(in, viewShape, s, w, /*transposed=*/false)))
    return {};
  // The weight keeps PyTorch's Conv1d layout [O, C/g, k]; the conv reads it
  // through a view [O, C/g, 1, k] that moves no data.
  Value weight = param(layer, "weight", {s.outChannels, group, s.kernel});
  if (!weight)
    return {};
  Value view =
      b.create<cnn::ReshapeOp>(opLoc(layer), cnn::tensorType(b.getContext(), viewShape), weight);
  return convOp(layer, x, view, s, w, /*transposed=*/false);
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

/// A pooling layer over window `w`, once its input is checked.
Value GraphBuilder::pool(const LayerInfo &layer, Value x, const PoolSpec &s, const cnn::Window &w) {
  cnn::Shape result;
  if (reported(layer.site, cnn::inferPool2D(shapeOf(x), w, result)))
    return {};
  Location loc = opLoc(layer);
  auto kernel = b.getDenseI64ArrayAttr(w.kernel);
  auto stride = b.getDenseI64ArrayAttr(w.stride);
  auto padding = b.getDenseI64ArrayAttr(w.padding);
  auto ceilMode = b.getBoolAttr(w.ceilMode);
  if (s.kind != PoolKind::Max && (w.dilation[0] != 1 || w.dilation[1] != 1))
    return fail(layer.site, "dilation applies to max pooling only");
  switch (s.kind) {
  case PoolKind::Max:
    return b.create<cnn::MaxPool2DOp>(loc, x, kernel, stride, padding, ceilMode,
                                      b.getDenseI64ArrayAttr(w.dilation));
  case PoolKind::Average:
    return b.create<cnn::AvgPool2DOp>(loc, x, kernel, stride, padding, ceilMode,
                                      b.getBoolAttr(s.countIncludePad));
  case PoolKind::Min:
    return b.create<cnn::MinPool2DOp>(loc, x, kernel, stride, padding, ceilMode);
  case PoolKind::L2:
    return b.create<cnn::L2Pool2DOp>(loc, x, kernel, stride, padding, ceilMode);
  }
  llvm_unreachable("unknown pooling kind");
}

Value GraphBuilder::pool2d(const LayerInfo &layer, Value x, const Pool2DSpec &s) {
  ArrayRef<int64_t> in = shapeOf(x);
  if (reported(layer.site, cnn::checkActivation4D(in, "pooling input")))
    return {};
  return pool(
      layer, x, s,
      cnn::makeWindow({in[2], in[3]}, s.kernel, s.stride, s.dilation, s.padding, s.ceilMode));
}

Value GraphBuilder::pool1d(const LayerInfo &layer, Value x, const Pool1DSpec &s) {
  ArrayRef<int64_t> in = shapeOf(x);
  const char *name = s.kind == PoolKind::Max       ? "max_pool1d"
                     : s.kind == PoolKind::Average ? "avg_pool1d"
                     : s.kind == PoolKind::Min     ? "min_pool1d"
                                                   : "l2_pool1d";
  if (reported(layer.site, cnn::checkSequence(in, std::string(name) + " input")))
    return {};
  return pool(
      layer, x, s,
      cnn::makeWindow({in[2], in[3]}, {1, s.kernel}, {1, s.stride}, {1, 1}, s.padding, s.ceilMode));
}

Value GraphBuilder::globalPool(const LayerInfo &layer, Value x, GlobalPoolKind kind) {
  const char *what =
      kind == GlobalPoolKind::Average ? "global_avg_pool input" : "global_max_pool input";
  if (reported(layer.site, cnn::checkActivation4D(shapeOf(x), what)))
    return {};
  if (kind == GlobalPoolKind::Average)
    return b.create<cnn::GlobalAvgPoolOp>(opLoc(layer), x);
  return b.create<cnn::GlobalMaxPoolOp>(opLoc(layer), x);
}

Value GraphBuilder::kmaxPool(const LayerInfo &layer, Value x, const KMaxPoolSpec &s) {
  ArrayRef<int64_t> in = shapeOf(x);
  if (reported(layer.site, cnn::checkActivation4D(in, "kmax_pool input")))
    return {};
  cnn::Shape result;
  if (reported(at(s.kSite, layer), cnn::inferKMaxPool(in, s.k, result)))
    return {};
  return b.create<cnn::KMaxPoolOp>(opLoc(layer), x, b.getI64IntegerAttr(s.k));
}

//===----------------------------------------------------------------------===//
// Dense, normalization, element-wise
//===----------------------------------------------------------------------===//

Value GraphBuilder::dense(const LayerInfo &layer, Value x, const DenseSpec &s) {
  ArrayRef<int64_t> in = shapeOf(x);
  cnn::Shape weightShape = {s.outFeatures, in.size() == 2 ? in[1] : 1};
  int64_t biasShape[1] = {s.outFeatures};
  cnn::Shape result;
  if (reported(layer.site,
               cnn::inferDense(in, weightShape, s.bias ? biasShape : nullptr, 1, result)))
    return {};
  Location loc = opLoc(layer);
  Value weight = s.transposedWeight ? param(layer, "weight", {weightShape[1], weightShape[0]})
                                    : param(layer, "weight", weightShape);
  if (!weight)
    return {};
  if (s.transposedWeight)
    weight = b.create<cnn::TransposeOp>(loc, cnn::tensorType(b.getContext(), weightShape), weight);
  Value bias;
  if (s.bias && !(bias = param(layer, "bias", biasShape)))
    return {};
  Value y = b.create<cnn::DenseOp>(loc, x, weight, bias);
  return fuseActivation(layer, y, s.activation);
}

Value GraphBuilder::batchNorm(const LayerInfo &layer, Value x, const BatchNormSpec &s) {
  ArrayRef<int64_t> in = shapeOf(x);
  int64_t channels = (in.size() == 2 || in.size() == 4) ? in[1] : ShapedType::kDynamic;
  int64_t vec[1] = {channels};
  ArrayRef<int64_t> vectors[4] = {vec, vec, vec, vec};
  cnn::Shape result;
  if (reported(layer.site, cnn::inferBatchNorm(in, vectors, result)))
    return {};
  Value gamma, beta, mean, var;
  if (!(gamma = param(layer, "weight", vec)) || !(beta = param(layer, "bias", vec)) ||
      !(mean = param(layer, "running_mean", vec)) || !(var = param(layer, "running_var", vec)))
    return {};
  return b.create<cnn::BatchNormOp>(opLoc(layer), x, gamma, beta, mean, var,
                                    b.getF64FloatAttr(s.epsilon), b.getF64FloatAttr(s.momentum));
}

Value GraphBuilder::dropout(const LayerInfo &layer, Value x, const DropoutSpec &s) {
  return b.create<cnn::DropoutOp>(opLoc(layer), x.getType(), x, b.getF64FloatAttr(s.rate));
}

Value GraphBuilder::localResponseNorm(const LayerInfo &layer, Value x,
                                      const LocalResponseNormSpec &s) {
  if (reported(layer.site, cnn::checkLocalResponseNorm(shapeOf(x), s.size, s.alpha, s.beta, s.k)))
    return {};
  return b.create<cnn::LocalResponseNormOp>(opLoc(layer), x.getType(), x,
                                            b.getI64IntegerAttr(s.size), b.getF64FloatAttr(s.alpha),
                                            b.getF64FloatAttr(s.beta), b.getF64FloatAttr(s.k));
}

Value GraphBuilder::positionBias(const LayerInfo &layer, Value x) {
  ArrayRef<int64_t> in = shapeOf(x);
  if (reported(layer.site, cnn::checkActivation4D(in, "position_bias input")))
    return {};
  ArrayRef<int64_t> biasShape = in.drop_front();
  cnn::Shape result;
  if (reported(layer.site, cnn::inferPositionBias(in, biasShape, result)))
    return {};
  Value bias = param(layer, "bias", biasShape);
  if (!bias)
    return {};
  return b.create<cnn::PositionBiasOp>(opLoc(layer), x, bias);
}

Value GraphBuilder::embedding(const LayerInfo &layer, Value ids, const EmbeddingSpec &s) {
  cnn::Shape weightShape = {s.numEmbeddings, s.embeddingDim};
  cnn::Shape result;
  if (reported(layer.site, cnn::inferEmbedding(shapeOf(ids), weightShape, result)))
    return {};
  Value weight = param(layer, "weight", weightShape);
  if (!weight)
    return {};
  return b.create<cnn::EmbeddingOp>(opLoc(layer), ids, weight);
}

Value GraphBuilder::flatten(const LayerInfo &layer, Value x) {
  cnn::Shape result;
  if (reported(layer.site, cnn::inferFlatten(shapeOf(x), result)))
    return {};
  return b.create<cnn::FlattenOp>(opLoc(layer), x);
}

//===----------------------------------------------------------------------===//
// Several inputs
//===----------------------------------------------------------------------===//

Value GraphBuilder::binary(const LayerInfo &layer, BinaryKind kind, const Input &lhs,
                           const Input &rhs) {
  ArrayRef<int64_t> a = shapeOf(lhs.value), b_ = shapeOf(rhs.value);
  bool commutative = kind == BinaryKind::Add || kind == BinaryKind::Mul;
  const Input *full = &lhs, *other = &rhs;
  if (!cnn::checkBroadcast(a, b_).empty() && commutative && cnn::checkBroadcast(b_, a).empty())
    std::swap(full, other);
  ArrayRef<int64_t> shape = shapeOf(full->value);
  if (std::string err = cnn::checkBroadcast(shape, shapeOf(other->value)); !err.empty()) {
    if (cnn::checkBroadcast(b_, a).empty())
      return fail(lhs.site,
                  llvm::formatv("the first operand '{0}' {1} must have the result's "
                                "shape: only the second one, '{2}' {3}, is broadcast",
                                lhs.name, cnn::shapeToString(a), rhs.name, cnn::shapeToString(b_)));
    return fail(rhs.site,
                llvm::formatv("inputs '{0}' {1} and '{2}' {3} do not broadcast: each "
                              "dimension of one must equal the other's or be 1",
                              lhs.name, cnn::shapeToString(a), rhs.name, cnn::shapeToString(b_)));
  }
  if (shape.size() != 2 && shape.size() != 4)
    return fail(full->site, llvm::formatv("'{0}' {1} is not an activation [N, F] or [N, C, H, W]",
                                          full->name, cnn::shapeToString(shape)));
  Location loc = opLoc(layer);
  Type type = full->value.getType();
  switch (kind) {
  case BinaryKind::Add:
    return b.create<cnn::AddOp>(loc, type, full->value, other->value);
  case BinaryKind::Sub:
    return b.create<cnn::SubOp>(loc, type, full->value, other->value);
  case BinaryKind::Mul:
    return b.create<cnn::MulOp>(loc, type, full->value, other->value);
  case BinaryKind::Div:
    return b.create<cnn::DivOp>(loc, type, full->value, other->value);
  }
  return {};
}

/// `kind` applied left to right over the inputs (add, mul).
static Value chain(GraphBuilder &g, const LayerInfo &layer, BinaryKind kind, ArrayRef<Input> ins) {
  Input result = ins[0];
  for (size_t i = 1; i < ins.size() && result.value; ++i)
    result.value = g.binary(layer, kind, result, ins[i]);
  return result.value;
}

Value GraphBuilder::add(const LayerInfo &layer, ArrayRef<Input> ins) {
  return chain(*this, layer, BinaryKind::Add, ins);
}

Value GraphBuilder::mul(const LayerInfo &layer, ArrayRef<Input> ins) {
  return chain(*this, layer, BinaryKind::Mul, ins);
}

Value GraphBuilder::clip(const LayerInfo &layer, Value x, double lo, double hi) {
  if (!(lo < hi))
    return fail(layer.site, llvm::formatv("min must be less than max, found {0} and {1}", lo, hi));
  ArrayRef<int64_t> shape = shapeOf(x);
  if (shape.size() != 2 && shape.size() != 4)
    return fail(layer.site, "clip needs an activation [N, F] or [N, C, H, W], found " +
                                cnn::shapeToString(shape));
  return b.create<cnn::ClipOp>(opLoc(layer), x.getType(), x, b.getF64FloatAttr(lo),
                               b.getF64FloatAttr(hi));
}

Value GraphBuilder::affine(const LayerInfo &layer, Value x, double scale, double shift) {
  if (!std::isfinite(scale) || !std::isfinite(shift))
    return fail(layer.site, "scale and shift must be finite");
  return b.create<cnn::AffineOp>(opLoc(layer), x.getType(), x, b.getF64FloatAttr(scale),
                                 b.getF64FloatAttr(shift));
}

Value GraphBuilder::prelu(const LayerInfo &layer, Value x, int64_t slopes) {
  ArrayRef<int64_t> shape = shapeOf(x);
  if (shape.size() != 2 && shape.size() != 4)
    return fail(layer.site, "prelu needs an activation [N, F] or [N, C, H, W], found " +
                                cnn::shapeToString(shape));
  if (slopes != 1 && slopes != shape[1])
    return fail(layer.site, llvm::formatv("num_parameters must be 1 or the {0} channels, found {1}",
                                          shape[1], slopes));
  Value slope = param(layer, "weight", {slopes});
  if (!slope)
    return {};
  return prelu(layer, x, slope);
}

Value GraphBuilder::prelu(const LayerInfo &layer, Value x, Value slope) {
  ArrayRef<int64_t> shape = shapeOf(x), a = shapeOf(slope);
  if (a.size() != 1 || (a[0] != 1 && a[0] != shape[1]))
    return fail(layer.site, llvm::formatv("the slope must be [1] or [{0}], found {1}", shape[1],
                                          cnn::shapeToString(a)));
  return b.create<cnn::PReluOp>(opLoc(layer), x.getType(), x, slope);
}

Value GraphBuilder::view(const LayerInfo &layer, Value x, ArrayRef<int64_t> shape) {
  if (shapeOf(x) == shape)
    return x;
  if (reported(layer.site, cnn::checkReshape(shapeOf(x), shape)))
    return {};
  return b.create<cnn::ReshapeOp>(opLoc(layer), cnn::tensorType(b.getContext(), shape), x);
}

Value GraphBuilder::upsample(const LayerInfo &layer, Value x, const UpsampleSpec &spec) {
  ArrayRef<int64_t> shape = shapeOf(x);
  if (reported(layer.site, cnn::checkActivation4D(shape, "upsample input")))
    return {};
  for (int i = 0; i < 2; ++i)
    if (spec.size[i] < shape[2 + i] || spec.size[i] > 64 * shape[2 + i])
      return fail(layer.site, llvm::formatv("upsampling {0} to {1}x{2}: the output must be 1 to 64 "
                                            "times as high and as wide as the input",
                                            cnn::shapeToString(shape), spec.size[0], spec.size[1]));
  cnn::Shape out = {shape[0], shape[1], spec.size[0], spec.size[1]};
  return b.create<cnn::UpsampleOp>(opLoc(layer), cnn::tensorType(b.getContext(), out), x,
                                   b.getStringAttr(spec.bilinear ? "bilinear" : "nearest"),
                                   b.getBoolAttr(spec.alignCorners));
}

Value GraphBuilder::pad(const LayerInfo &layer, Value x, std::array<int64_t, 4> p, double value) {
  ArrayRef<int64_t> shape = shapeOf(x);
  if (reported(layer.site, cnn::checkActivation4D(shape, "pad input")))
    return {};
  if (llvm::any_of(p, [](int64_t v) { return v < 0 || v > 4096; }))
    return fail(layer.site, llvm::formatv("padding [{0}, {1}, {2}, {3}] must be 0 to 4096 on "
                                          "each side",
                                          p[0], p[1], p[2], p[3]));
  if (!std::isfinite(value))
    return fail(layer.site, "the padding value must be finite");
  cnn::Shape out = {shape[0], shape[1], shape[2] + p[0] + p[2], shape[3] + p[1] + p[3]};
  return b.create<cnn::PadOp>(opLoc(layer), cnn::tensorType(b.getContext(), out), x,
                              b.getDenseI64ArrayAttr(p), b.getF64FloatAttr(value));
}

Value GraphBuilder::channelShuffle(const LayerInfo &layer, Value x, int64_t groups) {
  ArrayRef<int64_t> shape = shapeOf(x);
  if (reported(layer.site, cnn::checkActivation4D(shape, "channel_shuffle input")))
    return {};
  if (groups < 1 || shape[1] % groups)
    return fail(layer.site,
                llvm::formatv("groups {0} does not divide the {1} channels", groups, shape[1]));
  return b.create<cnn::ChannelShuffleOp>(opLoc(layer), x.getType(), x, b.getI64IntegerAttr(groups));
}

Value GraphBuilder::sliceChannels(const LayerInfo &layer, Value x, int64_t begin, int64_t end) {
  ArrayRef<int64_t> shape = shapeOf(x);
  if (shape.size() != 2 && shape.size() != 4)
    return fail(layer.site, "a channel slice needs an activation [N, F] or [N, C, H, W], found " +
                                cnn::shapeToString(shape));
  if (begin < 0 || end > shape[1] || begin >= end)
    return fail(layer.site, llvm::formatv("channels [{0}, {1}) are not a non-empty range within "
                                          "the input's {2}",
                                          begin, end, shape[1]));
  cnn::Shape out(shape.begin(), shape.end());
  out[1] = end - begin;
  return b.create<cnn::SliceChannelsOp>(opLoc(layer), cnn::tensorType(b.getContext(), out), x,
                                        b.getI64IntegerAttr(begin));
}

Value GraphBuilder::hardSigmoid(const LayerInfo &layer, Value x, double alpha, double beta) {
  if (!std::isfinite(alpha) || !std::isfinite(beta))
    return fail(layer.site, "alpha and beta must be finite");
  return b.create<cnn::HardSigmoidOp>(opLoc(layer), x.getType(), x, b.getF64FloatAttr(alpha),
                                      b.getF64FloatAttr(beta));
}

Value GraphBuilder::concat(const LayerInfo &layer, ArrayRef<Input> ins, const ConcatSpec &s) {
  SmallVector<ArrayRef<int64_t>> shapes;
  SmallVector<Value> values;
  for (const Input &in : ins) {
    shapes.push_back(shapeOf(in.value));
    values.push_back(in.value);
  }
  cnn::Shape result;
  if (std::string err = cnn::inferConcat(shapes, result); !err.empty()) {
    // Name the input that disagrees with the first one.
    for (size_t i = 1; i < ins.size(); ++i) {
      cnn::Shape pair;
      if (!cnn::inferConcat({shapes[0], shapes[i]}, pair).empty())
        return fail(ins[i].site, llvm::formatv("inputs must agree on all dimensions but "
                                               "channels, found '{0}' {1} and '{2}' {3}",
                                               ins[0].name, cnn::shapeToString(shapes[0]),
                                               ins[i].name, cnn::shapeToString(shapes[i])));
    }
    return fail(at(s.inputsSite, layer), err);
  }
  return b.create<cnn::ConcatOp>(opLoc(layer), ValueRange(values));
}
