//===- OnnxOps.cpp - one converter per ONNX operator ----------------------===//
//
// The table of ONNX operators cnnc imports. Each converter reads its node's
// inputs and attributes through NodeContext, fills a graph-builder spec and
// builds the layer, or folds the node when every input it needs is a
// constant (the shape arithmetic `torch.onnx.export` emits around Reshape).
// Attribute values cnnc does not implement are errors, never approximations.
//
//===----------------------------------------------------------------------===//
#include "frontends/onnx/OnnxGraph.h"

#include "compiler/Dialect/CNN/IR/CNNDialect.h"

#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <optional>

using namespace cnnc;
using namespace cnnc::onnx_import;
using frontend::Activation;
using mlir::Value;

namespace {

std::string list(llvm::ArrayRef<int64_t> v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i)
    s += (i ? ", " : "") + (v[i] == kBatchDim ? std::string("N") : std::to_string(v[i]));
  return s + "]";
}

std::vector<Tensor> one(Value v) { return {Tensor{v, nullptr}}; }
std::vector<Tensor> one(Constant c) {
  return {Tensor{Value(), std::make_shared<const Constant>(std::move(c))}};
}

Constant intConstant(std::vector<int64_t> dims, std::vector<int64_t> values) {
  Constant c;
  c.dims = std::move(dims);
  c.isFloat = false;
  c.ints = std::move(values);
  return c;
}

/// The elements of `c` at positions `indices[i]` along its axis `axisOf[i]`,
/// for each axis of the result in order (the result's dims are the lists'
/// sizes): a slice, or with the axes permuted, a transpose.
Constant gatherConstant(const Constant &c, const std::vector<std::vector<int64_t>> &indices,
                        const std::vector<int64_t> &axisOf) {
  size_t rank = c.dims.size();
  std::vector<int64_t> stride(rank, 1);
  for (size_t i = rank; i-- > 1;)
    stride[i - 1] = stride[i] * c.dims[i];
  Constant out;
  out.isFloat = c.isFloat;
  int64_t total = 1;
  for (const std::vector<int64_t> &axis : indices) {
    out.dims.push_back(int64_t(axis.size()));
    total *= int64_t(axis.size());
  }
  std::vector<int64_t> pos(indices.size(), 0);
  for (int64_t n = 0; n < total; ++n) {
    int64_t offset = 0;
    for (size_t i = 0; i < indices.size(); ++i)
      offset += indices[i][pos[i]] * stride[axisOf[i]];
    if (c.isFloat)
      out.floats.push_back(c.floats[offset]);
    else
      out.ints.push_back(c.ints[offset]);
    for (size_t i = indices.size(); i-- > 0;) {
      if (++pos[i] < int64_t(indices[i].size()))
        break;
      pos[i] = 0;
    }
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Windows: kernel, strides, dilations, pads / auto_pad of Conv and pooling
//===----------------------------------------------------------------------===//

struct OnnxWindow {
  std::vector<int64_t> kernel, stride, dilation;
  std::array<int64_t, 4> pads = {0, 0, 0, 0}; ///< top, left, bottom, right
};

/// The largest kernel size, stride, dilation, padding or output size a node
/// may give: the largest extent of a buffer dimension (2^31 - 1), which
/// keeps the window arithmetic below within 64 bits.
constexpr int64_t kMaxWindowValue = 2147483647;

/// Fails unless no value of the attribute `what` exceeds kMaxWindowValue.
void checkWindowValues(const NodeContext &n, const char *what, llvm::ArrayRef<int64_t> values) {
  if (llvm::any_of(values, [](int64_t v) { return v > kMaxWindowValue; }))
    n.fail(std::string(what) + " " + list(values) + ": each value must be at most " +
           std::to_string(kMaxWindowValue));
}

/// Reads the window attributes of a node over `spatial` ([H, W] or [L]),
/// with auto_pad resolved to explicit pads.
OnnxWindow readWindow(const NodeContext &n, llvm::ArrayRef<int64_t> spatial,
                      std::vector<int64_t> kernel, bool ceilMode = false) {
  size_t rank = spatial.size();
  OnnxWindow w;
  w.kernel = n.attrInts("kernel_shape", kernel);
  if (w.kernel.size() != rank)
    n.fail("kernel_shape " + list(w.kernel) + " does not have " + std::to_string(rank) +
           " spatial dimensions");
  w.stride = n.attrInts("strides", std::vector<int64_t>(rank, 1));
  w.dilation = n.attrInts("dilations", std::vector<int64_t>(rank, 1));
  if (w.stride.size() != rank || w.dilation.size() != rank)
    n.fail("strides and dilations must have " + std::to_string(rank) + " values");
  for (size_t i = 0; i < rank; ++i)
    if (w.kernel[i] < 1 || w.stride[i] < 1 || w.dilation[i] < 1)
      n.fail("kernel_shape, strides and dilations must be positive");
  checkWindowValues(n, "kernel_shape", w.kernel);
  checkWindowValues(n, "strides", w.stride);
  checkWindowValues(n, "dilations", w.dilation);
  std::string autoPad = n.attrString("auto_pad", "NOTSET");
  std::vector<int64_t> pads = n.attrInts("pads", std::vector<int64_t>(2 * rank, 0));
  checkWindowValues(n, "pads", pads);
  if (autoPad == "NOTSET") {
    if (pads.size() != 2 * rank)
      n.fail("pads " + list(pads) + " must have " + std::to_string(2 * rank) + " values");
    if (llvm::any_of(pads, [](int64_t p) { return p < 0; }))
      n.fail("negative pads " + list(pads) + " are not supported");
  } else if (autoPad == "VALID") {
    pads.assign(2 * rank, 0);
  } else if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    if (ceilMode)
      n.fail("auto_pad " + autoPad + " with ceil_mode 1 is not supported");
    pads.assign(2 * rank, 0);
    for (size_t i = 0; i < rank; ++i) {
      int64_t out = (spatial[i] + w.stride[i] - 1) / w.stride[i];
      int64_t span = w.dilation[i] * (w.kernel[i] - 1) + 1;
      int64_t total = std::max<int64_t>(0, (out - 1) * w.stride[i] + span - spatial[i]);
      int64_t small = total / 2, large = total - small;
      pads[i] = autoPad == "SAME_UPPER" ? small : large;
      pads[i + rank] = autoPad == "SAME_UPPER" ? large : small;
    }
  } else {
    n.fail("auto_pad '" + autoPad + "' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER");
  }
  if (rank == 2)
    w.pads = {pads[0], pads[1], pads[2], pads[3]};
  else
    w.pads = {0, pads[0], 0, pads[1]};
  return w;
}

/// The spatial extents of a [N, C, H, W] value; a sequence [N, C, 1, L]
/// read by a 1-D node gives [L].
std::vector<int64_t> spatialOf(Value x, size_t rank) {
  llvm::ArrayRef<int64_t> s = shapeOf(x);
  if (rank == 1)
    return {s[3]};
  return {s[2], s[3]};
}

/// The number of spatial dimensions of a node's window: from its weight
/// (Conv) or kernel_shape (pooling).
size_t windowRank(const NodeContext &n, size_t fromShape) {
  if (fromShape != 1 && fromShape != 2)
    n.fail(std::to_string(fromShape) + "-D windows are not supported (only 1-D and 2-D)");
  return fromShape;
}

/// Fails unless `x` is [N, C, H, W] (or a sequence for a 1-D window).
void checkImage(const NodeContext &n, Value x, size_t rank) {
  llvm::ArrayRef<int64_t> s = shapeOf(x);
  if (s.size() != 4)
    n.fail("input X has shape " + list(s) + "; expected [N, C, H, W]" +
           (rank == 1 ? " or a sequence [N, C, L]" : ""));
  if (rank == 1 && s[2] != 1)
    n.fail("a 1-D window over an input of height " + std::to_string(s[2]));
}

//===----------------------------------------------------------------------===//
// Convolution, normalization, dense
//===----------------------------------------------------------------------===//

std::vector<Tensor> convertConv(NodeContext &n) {
  n.onlyAttrs({"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"});
  std::array<int64_t, 4> extra;
  Value x = n.paddedValue(0, "X", extra);
  const Constant &w = n.constant(1, "W");
  if (w.dims.size() < 3)
    n.fail("weight W has shape " + list(w.dims) + "; expected [M, C/group, kH, kW]");
  size_t rank = windowRank(n, w.dims.size() - 2);
  checkImage(n, x, rank);
  std::vector<int64_t> kernel(w.dims.begin() + 2, w.dims.end());
  OnnxWindow win = readWindow(n, spatialOf(x, rank), kernel);
  for (int i = 0; i < 4; ++i)
    win.pads[i] += extra[i];
  if (win.kernel != kernel)
    n.fail("kernel_shape " + list(win.kernel) + " differs from the weight's " + list(kernel));
  int64_t groups = n.attrInt("group", 1);
  int64_t inChannels = shapeOf(x)[1];
  if (groups < 1 || inChannels % groups || w.dims[0] % groups)
    n.fail("group " + std::to_string(groups) + " does not divide the " +
           std::to_string(inChannels) + " input and " + std::to_string(w.dims[0]) +
           " output channels");
  std::vector<int64_t> shape = w.dims;
  shape[1] = inChannels / groups;
  n.layer.paramNames["weight"] = n.weight(1, "W", shape);
  bool bias = n.hasInput(2);
  if (bias)
    n.layer.paramNames["bias"] = n.weight(2, "B", {w.dims[0]});
  cnn::Padding padding;
  padding.pads = win.pads;
  if (rank == 2) {
    frontend::Conv2DSpec spec;
    spec.outChannels = w.dims[0];
    spec.groups = groups;
    spec.bias = bias;
    spec.kernel = {win.kernel[0], win.kernel[1]};
    spec.stride = {win.stride[0], win.stride[1]};
    spec.dilation = {win.dilation[0], win.dilation[1]};
    spec.padding = padding;
    return one(n.built(n.graph.conv2d(n.layer, x, spec)));
  }
  frontend::Conv1DSpec spec;
  spec.outChannels = w.dims[0];
  spec.groups = groups;
  spec.bias = bias;
  spec.kernel = win.kernel[0];
  spec.stride = win.stride[0];
  spec.dilation = win.dilation[0];
  spec.padding = padding;
  return one(n.built(n.graph.conv1d(n.layer, x, spec)));
}

/// ConvTranspose over [N, C, H, W]: W is [C, M/group, kH, kW], PyTorch's
/// ConvTranspose2d layout. `output_shape` and auto_pad give the padding as
/// the ONNX operator defines it: total = stride·(in-1) + output_padding +
/// dilation·(k-1) + 1 - out, split evenly, the odd one at the end for
/// SAME_UPPER (and output_shape) and at the start for SAME_LOWER; an output
/// larger than the window reaches becomes output padding.
std::vector<Tensor> convertConvTranspose(NodeContext &n) {
  n.onlyAttrs({"auto_pad", "dilations", "group", "kernel_shape", "output_padding", "output_shape",
               "pads", "strides"});
  Value x = n.value(0, "X");
  const Constant &w = n.constant(1, "W");
  if (w.dims.size() != 4 || shapeOf(x).size() != 4 || n.rank(0) != 4)
    n.fail("only 2-D transposed convolutions are supported (input [N, C, H, W], weight "
           "[C, M/group, kH, kW]); found input " +
           list(shapeOf(x)) + " and weight " + list(w.dims));
  llvm::ArrayRef<int64_t> in = shapeOf(x);
  int64_t groups = n.attrInt("group", 1);
  if (groups < 1 || w.dims[0] != in[1] || in[1] % groups)
    n.fail("weight W has shape " + list(w.dims) + "; expected [" + std::to_string(in[1]) +
           ", M/group, kH, kW] with group " + std::to_string(groups) + " dividing " +
           std::to_string(in[1]));
  std::vector<int64_t> kernel = n.attrInts("kernel_shape", {w.dims[2], w.dims[3]});
  std::vector<int64_t> stride = n.attrInts("strides", {1, 1});
  std::vector<int64_t> dilation = n.attrInts("dilations", {1, 1});
  std::vector<int64_t> outPad = n.attrInts("output_padding", {0, 0});
  if (kernel != std::vector<int64_t>{w.dims[2], w.dims[3]})
    n.fail("kernel_shape " + list(kernel) + " differs from the weight's [" +
           std::to_string(w.dims[2]) + ", " + std::to_string(w.dims[3]) + "]");
  if (stride.size() != 2 || dilation.size() != 2 || outPad.size() != 2)
    n.fail("strides, dilations and output_padding must have 2 values");
  for (int i = 0; i < 2; ++i)
    if (stride[i] < 1 || dilation[i] < 1 || outPad[i] < 0)
      n.fail("strides and dilations must be positive and output_padding not negative");
  checkWindowValues(n, "strides", stride);
  checkWindowValues(n, "dilations", dilation);
  checkWindowValues(n, "output_padding", outPad);
  std::string autoPad = n.attrString("auto_pad", "NOTSET");
  std::vector<int64_t> pads = n.attrInts("pads", {0, 0, 0, 0});
  std::vector<int64_t> outShape = n.attrInts("output_shape", {});
  checkWindowValues(n, "pads", pads);
  checkWindowValues(n, "output_shape", outShape);
  if (llvm::any_of(outShape, [](int64_t v) { return v < 1; }))
    n.fail("output_shape " + list(outShape) + " must be positive");
  if (!outShape.empty() || autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
    if (!outShape.empty() && outShape.size() != 2)
      n.fail("output_shape " + list(outShape) + " must give the 2 spatial dimensions");
    for (int i = 0; i < 2; ++i) {
      int64_t out = outShape.empty() ? in[2 + i] * stride[i] : outShape[i];
      // Each product is below 2^62, their sum may not be.
      __int128 wide = __int128(stride[i]) * (in[2 + i] - 1) + outPad[i] +
                      __int128(dilation[i]) * (kernel[i] - 1) + 1 - out;
      if (wide > kMaxWindowValue * 2)
        n.fail("the padding that " +
               (outShape.empty() ? "auto_pad " + autoPad : "output_shape " + list(outShape)) +
               " needs exceeds " + std::to_string(kMaxWindowValue) + " on each side");
      int64_t total = int64_t(wide);
      if (total < 0) { // a larger output than the window reaches: output padding at the end
        outPad[i] -= total;
        total = 0;
      }
      int64_t small = total / 2, large = total - small;
      pads[i] = autoPad == "SAME_LOWER" ? large : small;
      pads[i + 2] = autoPad == "SAME_LOWER" ? small : large;
    }
  } else if (autoPad == "VALID") {
    pads = {0, 0, 0, 0};
  } else if (autoPad != "NOTSET") {
    n.fail("auto_pad '" + autoPad + "' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER");
  }
  if (pads.size() != 4 || llvm::any_of(pads, [](int64_t p) { return p < 0; }))
    n.fail("pads " + list(pads) + " must be 4 values, none negative");
  n.layer.paramNames["weight"] = n.weight(1, "W", w.dims);
  bool bias = n.hasInput(2);
  if (bias)
    n.layer.paramNames["bias"] = n.weight(2, "B", {w.dims[1] * groups});
  frontend::ConvTranspose2DSpec spec;
  spec.outChannels = w.dims[1] * groups;
  spec.groups = groups;
  spec.bias = bias;
  spec.kernel = {kernel[0], kernel[1]};
  spec.stride = {stride[0], stride[1]};
  spec.dilation = {dilation[0], dilation[1]};
  spec.padding = {pads[0], pads[1], pads[2], pads[3]};
  spec.outputPadding = {outPad[0], outPad[1]};
  return one(n.built(n.graph.convTranspose2d(n.layer, x, spec)));
}

std::vector<Tensor> convertBatchNormalization(NodeContext &n) {
  // training_mode says which of its two behaviours the exported graph
  // computes; cnnc's layer has both (running statistics in inference, batch
  // statistics in the train step), so either export reads the same.
  n.onlyAttrs({"epsilon", "momentum", "training_mode", "spatial"});
  if (n.attrInt("spatial", 1) != 1)
    n.fail("spatial 0 is not supported");
  for (int i = 1; i < n.node.output_size(); ++i)
    n.unusedOutput(i, "a running statistic output");
  Value x = n.value(0, "X");
  llvm::ArrayRef<int64_t> s = shapeOf(x);
  if (s.size() != 2 && s.size() != 4)
    n.fail("input X has shape " + list(s) + "; expected [N, C] or [N, C, H, W]");
  const char *names[4] = {"scale", "B", "input_mean", "input_var"};
  const char *suffixes[4] = {"weight", "bias", "running_mean", "running_var"};
  for (int i = 0; i < 4; ++i)
    n.layer.paramNames[suffixes[i]] = n.weight(i + 1, names[i], {s[1]});
  frontend::BatchNormSpec spec;
  spec.epsilon = n.attrFloat("epsilon", 1e-5f);
  // ONNX: running = running * momentum + batch * (1 - momentum); PyTorch
  // (and cnnc) weight the batch statistic by momentum.
  spec.momentum = 1.0 - double(n.attrFloat("momentum", 0.9f));
  return one(n.built(n.graph.batchNorm(n.layer, x, spec)));
}

/// A · B as a dense layer: A [N, K] computed, B a constant [K, M] (or [M, K]
/// with `transposed`), the parameter under B's initializer name; with
/// `bias`, C [M] is the dense bias.
Value denseOf(NodeContext &n, const char *what, bool transposed, bool bias) {
  Value x = n.value(0, "A");
  if (shapeOf(x).size() != 2)
    n.fail("input A has shape " + list(shapeOf(x)) + "; expected [N, K]");
  int64_t k = shapeOf(x)[1];
  const Constant &w = n.constant(1, "B");
  if (w.dims.size() != 2 || w.dims[transposed ? 1 : 0] != k)
    n.fail(std::string(what) + " B has shape " + list(w.dims) + "; expected " +
           (transposed ? "[M, " + std::to_string(k) + "]" : "[" + std::to_string(k) + ", M]"));
  int64_t m = w.dims[transposed ? 0 : 1];
  n.layer.paramNames["weight"] = n.weight(1, "B", w.dims);
  frontend::DenseSpec spec;
  spec.outFeatures = m;
  spec.transposedWeight = !transposed;
  spec.bias = bias;
  if (bias)
    n.layer.paramNames["bias"] = n.weight(2, "C", {m});
  return n.built(n.graph.dense(n.layer, x, spec));
}

/// Gemm: alpha·A·B' + beta·C with B' = B or Bᵀ (transB), A not transposed.
/// C [M] with beta 1 is the dense bias; another C (one value, [1, M]) is
/// added as a parameter after the product.
std::vector<Tensor> convertGemm(NodeContext &n) {
  n.onlyAttrs({"alpha", "beta", "transA", "transB"});
  if (n.attrInt("transA", 0) != 0)
    n.fail("transA 1 is not supported (A is the layer's input [N, K])");
  float alpha = n.attrFloat("alpha", 1), beta = n.attrFloat("beta", 1);
  bool transposed = n.attrInt("transB", 0) != 0;
  bool hasC = n.hasInput(2);
  bool cIsBias = hasC && beta == 1 && n.input(2).constant &&
                 n.input(2).constant->dims.size() == 1 && !n.input(2).constant->initializer.empty();
  if (cIsBias) {
    const Constant &c = *n.input(2).constant;
    const Constant &w = n.constant(1, "B");
    cIsBias = w.dims.size() == 2 && c.dims[0] == w.dims[transposed ? 0 : 1];
  }
  Value y = denseOf(n, "Gemm", transposed, cIsBias);
  if (alpha != 1)
    y = n.built(n.graph.affine(n.layer, y, alpha, 0));
  if (hasC && !cIsBias) {
    Value c = n.operand(2, "C");
    if (beta != 1)
      c = n.built(n.graph.affine(n.layer, c, beta, 0));
    frontend::Input lhs = {y, n.node.output(0), n.layer.site};
    frontend::Input rhs = {c, n.node.input(2), n.layer.site};
    y = n.built(n.graph.binary(n.layer, frontend::BinaryKind::Add, lhs, rhs));
  }
  return one(y);
}

/// MatMul of a computed [N, K] by a constant [K, M]: a dense layer without
/// bias whose weight parameter keeps B's layout.
std::vector<Tensor> convertMatMul(NodeContext &n) {
  n.onlyAttrs({});
  if (n.rank(0) != 2)
    n.fail("A has rank " + std::to_string(n.rank(0)) +
           "; only [N, K] times a constant [K, M] is supported");
  return one(denseOf(n, "MatMul", /*transposed=*/false, /*bias=*/false));
}

//===----------------------------------------------------------------------===//
// Activations and element-wise
//===----------------------------------------------------------------------===//

template <Activation kind> std::vector<Tensor> convertActivation(NodeContext &n) {
  double parameter = 0;
  if (kind == Activation::LeakyRelu) {
    n.onlyAttrs({"alpha"});
    parameter = n.attrFloat("alpha", 0.01f);
  } else {
    n.onlyAttrs({});
  }
  return one(n.built(n.graph.activation(n.layer, n.value(0, "X"), kind, parameter)));
}

/// HardSigmoid with its own alpha (default 0.2) and beta (0.5); PyTorch's
/// nn.Hardsigmoid exports alpha 1/6.
std::vector<Tensor> convertHardSigmoid(NodeContext &n) {
  n.onlyAttrs({"alpha", "beta"});
  return one(n.built(n.graph.hardSigmoid(n.layer, n.value(0, "X"), n.attrFloat("alpha", 0.2f),
                                         n.attrFloat("beta", 0.5f))));
}

/// Mul of two computed tensors of one shape (gating; x · sigmoid(x) written
/// out). A constant factor is refused: it would be a parameter of an op cnnc
/// does not have.
/// Clip to [0, 6] is relu6 (nn.ReLU6, MobileNet), to [0, inf) relu, to other
/// bounds clip.
std::vector<Tensor> convertClip(NodeContext &n) {
  n.onlyAttrs({"min", "max"});
  float lo = -INFINITY, hi = INFINITY;
  if (n.opset < 11) {
    lo = n.attrFloat("min", lo);
    hi = n.attrFloat("max", hi);
  } else {
    auto bound = [&](int i, const char *what, float otherwise) {
      if (!n.hasInput(i))
        return otherwise;
      const Constant &c = n.constant(i, what);
      if (!c.isFloat || c.floats.size() != 1)
        n.fail(std::string(what) + " must be a float scalar");
      return c.floats[0];
    };
    lo = bound(1, "min", lo);
    hi = bound(2, "max", hi);
  }
  Value x = n.value(0, "input");
  if (lo == 0 && hi == 6)
    return one(n.built(n.graph.activation(n.layer, x, Activation::Relu6)));
  if (lo == 0 && hi == INFINITY)
    return one(n.built(n.graph.activation(n.layer, x, Activation::Relu)));
  if (!(lo < hi))
    n.fail("clipping to [" + std::to_string(lo) + ", " + std::to_string(hi) +
           "] is not supported (only min < max: every value would be max)");
  return one(n.built(n.graph.clip(n.layer, x, lo, hi)));
}

std::vector<Tensor> convertSoftmax(NodeContext &n) {
  n.onlyAttrs({"axis"});
  Value x = n.value(0, "input");
  int64_t rank = int64_t(shapeOf(x).size());
  int64_t axis = n.attrInt("axis", n.opset >= 13 ? -1 : 1);
  if (rank != 2 || (axis != 1 && axis != -1))
    n.fail("softmax over axis " + std::to_string(axis) + " of a tensor of shape " +
           list(shapeOf(x)) + " is not supported (only over the features of [N, F])");
  return one(n.built(n.graph.activation(n.layer, x, Activation::Softmax)));
}

/// Element-wise arithmetic on constants known at import (shape arithmetic:
/// `x.size(1) // 2`), with a one-element operand broadcast.
Constant foldBinary(const NodeContext &n, frontend::BinaryKind kind, const Constant &a,
                    const Constant &b) {
  if (a.isFloat != b.isFloat)
    n.fail("the operands are of different types");
  int64_t sa = a.size(), sb = b.size();
  if (sa != sb && sa != 1 && sb != 1)
    n.fail("folding constants of shapes " + list(a.dims) + " and " + list(b.dims) +
           " is not supported (only equal shapes or one element)");
  Constant out;
  // NumPy's broadcast: the larger operand's shape, the higher rank's if
  // both have one element.
  out.dims =
      sa != sb ? (sa > sb ? a.dims : b.dims) : (a.dims.size() >= b.dims.size() ? a.dims : b.dims);
  out.isFloat = a.isFloat;
  int64_t size = std::max(sa, sb);
  for (int64_t i = 0; i < size; ++i) {
    int64_t ia = sa == 1 ? 0 : i, ib = sb == 1 ? 0 : i;
    if (a.isFloat) {
      float x = a.floats[ia], y = b.floats[ib];
      switch (kind) {
      case frontend::BinaryKind::Add:
        out.floats.push_back(x + y);
        break;
      case frontend::BinaryKind::Sub:
        out.floats.push_back(x - y);
        break;
      case frontend::BinaryKind::Mul:
        out.floats.push_back(x * y);
        break;
      case frontend::BinaryKind::Div:
        out.floats.push_back(x / y);
        break;
      }
      continue;
    }
    int64_t x = a.ints[ia], y = b.ints[ib];
    if (x == kBatchDim || y == kBatchDim)
      n.fail("arithmetic on the batch size is not supported (it is known only at run time)");
    int64_t r = 0;
    bool overflow = false;
    switch (kind) {
    case frontend::BinaryKind::Add:
      overflow = __builtin_add_overflow(x, y, &r);
      break;
    case frontend::BinaryKind::Sub:
      overflow = __builtin_sub_overflow(x, y, &r);
      break;
    case frontend::BinaryKind::Mul:
      overflow = __builtin_mul_overflow(x, y, &r);
      break;
    case frontend::BinaryKind::Div:
      if (y == 0)
        n.fail("integer division by zero");
      overflow = x == std::numeric_limits<int64_t>::min() && y == -1;
      r = overflow ? 0 : x / y; // ONNX's integer Div truncates
      break;
    }
    if (overflow)
      n.fail("integer overflow in " + std::to_string(x) + " and " + std::to_string(y));
    out.ints.push_back(r);
  }
  return out;
}

/// The number `c` holds, if it is a one-element float constant that is not
/// an initializer (a literal of the model's code; an initializer is a
/// parameter).
std::optional<float> literal(const Tensor &t) {
  if (!t.constant || !t.constant->isFloat || t.constant->size() != 1 ||
      !t.constant->initializer.empty())
    return std::nullopt;
  return t.constant->floats[0];
}

/// Add, Sub, Mul, Div: two computed tensors (the second may broadcast, as
/// for a squeeze-and-excitation scale [N, C, 1, 1]; for Add and Mul either
/// may), a tensor and a number (cnn.affine), a tensor and a constant tensor
/// (a parameter), or two constants (folded).
template <frontend::BinaryKind kind> std::vector<Tensor> convertBinary(NodeContext &n) {
  n.onlyAttrs({"axis", "broadcast"});
  const Tensor &a = n.input(0), &b = n.input(1);
  if (n.opset < 7 && (n.hasAttr("axis") || n.attrInt("broadcast", 0)))
    n.fail("the legacy broadcast and axis attributes are not supported");
  if (a.constant && b.constant)
    return one(foldBinary(n, kind, *a.constant, *b.constant));
  using K = frontend::BinaryKind;
  std::optional<float> ca = literal(a), cb = literal(b);
  if (cb || ca) {
    Value x = cb ? n.value(0, "A") : n.value(1, "B");
    float c = cb ? *cb : *ca;
    double scale = 1, shift = 0;
    switch (kind) {
    case K::Add:
      shift = c;
      break;
    case K::Sub:
      scale = cb ? 1 : -1, shift = cb ? -c : c;
      break;
    case K::Mul:
      scale = c;
      break;
    case K::Div:
      if (ca)
        n.fail("dividing a number by a tensor is not supported");
      if (c == 0)
        n.fail("division by the constant 0");
      scale = 1.0 / c;
      break;
    }
    return one(n.built(n.graph.affine(n.layer, x, scale, shift)));
  }
  for (int i = 0; i < 2; ++i)
    if (n.input(i).constant && n.input(1 - i).sequence && n.input(i).constant->dims.size() >= 2)
      n.fail("broadcasting a constant of shape " + list(n.input(i).constant->dims) +
             " over a sequence [N, C, L] is not supported");
  frontend::Input lhs = {n.operand(0, "A"), n.node.input(0), n.layer.site};
  frontend::Input rhs = {n.operand(1, "B"), n.node.input(1), n.layer.site};
  return one(n.built(n.graph.binary(n.layer, kind, lhs, rhs)));
}

std::vector<Tensor> convertSum(NodeContext &n) {
  n.onlyAttrs({});
  std::vector<frontend::Input> ins;
  for (int i = 0; i < n.node.input_size(); ++i)
    ins.push_back({n.value(i, "data"), n.node.input(i), n.layer.site});
  if (ins.size() == 1)
    return one(ins[0].value);
  return one(n.built(n.graph.add(n.layer, ins)));
}

std::vector<Tensor> convertConcat(NodeContext &n) {
  n.onlyAttrs({"axis"});
  int64_t axis = n.attrInt("axis", 1);
  bool allConstant = true;
  for (int i = 0; i < n.node.input_size(); ++i)
    allConstant &= bool(n.input(i).constant);
  if (allConstant) {
    // Shape arithmetic: 1-D constants joined (integer shapes, float scales).
    Constant out = intConstant({0}, {});
    out.isFloat = n.constant(0, "input").isFloat;
    for (int i = 0; i < n.node.input_size(); ++i) {
      const Constant &c = n.constant(i, "input");
      if (c.isFloat != out.isFloat || c.dims.size() != 1)
        n.fail("only 1-D constants of one type are concatenated at import");
      out.ints.insert(out.ints.end(), c.ints.begin(), c.ints.end());
      out.floats.insert(out.floats.end(), c.floats.begin(), c.floats.end());
    }
    out.dims = {int64_t(out.isFloat ? out.floats.size() : out.ints.size())};
    return one(std::move(out));
  }
  std::vector<frontend::Input> ins;
  for (int i = 0; i < n.node.input_size(); ++i) {
    Value v = n.value(i, "input");
    if (axis != 1 && axis != 1 - n.rank(i))
      n.fail("concatenation along axis " + std::to_string(axis) +
             " is not supported (only along channels, axis 1)");
    ins.push_back({v, n.node.input(i), n.layer.site});
  }
  return one(n.built(n.graph.concat(n.layer, ins, {})));
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

std::vector<Tensor> convertPool(NodeContext &n, frontend::PoolKind kind) {
  if (kind == frontend::PoolKind::Max)
    n.onlyAttrs(
        {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"});
  else if (kind == frontend::PoolKind::L2)
    n.onlyAttrs({"auto_pad", "ceil_mode", "dilations", "kernel_shape", "p", "pads", "strides"});
  else
    n.onlyAttrs({"auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides"});
  n.unusedOutput(1, "Indices");
  if (n.attrInt("storage_order", 0) != 0)
    n.fail("storage_order 1 is not supported");
  std::array<int64_t, 4> extra = {0, 0, 0, 0};
  Value x = kind == frontend::PoolKind::Average ? n.paddedValue(0, "X", extra) : n.value(0, "X");
  std::vector<int64_t> kernel = n.attrInts("kernel_shape", {});
  size_t rank = windowRank(n, kernel.size());
  checkImage(n, x, rank);
  bool ceilMode = n.attrInt("ceil_mode", 0) != 0;
  OnnxWindow win = readWindow(n, spatialOf(x, rank), kernel, ceilMode);
  bool dilated = llvm::any_of(win.dilation, [](int64_t d) { return d != 1; });
  if (dilated && (kind != frontend::PoolKind::Max || rank != 2))
    n.fail("dilated windows are supported for a 2-D MaxPool only");
  bool countIncludePad = n.attrInt("count_include_pad", 0) != 0;
  if (extra != std::array<int64_t, 4>{0, 0, 0, 0}) {
    // A zero Pad before the pool (how torch.onnx.export writes avg_pool2d's
    // padding with count_include_pad): the pool's own padding, counted.
    if (win.pads != std::array<int64_t, 4>{0, 0, 0, 0} || ceilMode)
      n.fail("an AveragePool with pads or ceil_mode after a Pad is not supported");
    win.pads = extra;
    countIncludePad = true;
  }
  cnn::Padding padding;
  padding.pads = win.pads;
  if (rank == 2) {
    frontend::Pool2DSpec spec;
    spec.kind = kind;
    spec.kernel = {win.kernel[0], win.kernel[1]};
    spec.stride = {win.stride[0], win.stride[1]};
    spec.dilation = {win.dilation[0], win.dilation[1]};
    spec.padding = padding;
    spec.ceilMode = ceilMode;
    spec.countIncludePad = countIncludePad;
    return one(n.built(n.graph.pool2d(n.layer, x, spec)));
  }
  frontend::Pool1DSpec spec;
  spec.kind = kind;
  spec.kernel = win.kernel[0];
  spec.stride = win.stride[0];
  spec.padding = padding;
  spec.ceilMode = ceilMode;
  spec.countIncludePad = countIncludePad;
  return one(n.built(n.graph.pool1d(n.layer, x, spec)));
}

/// LpPool with p = 2 (nn.LPPool2d(2, ...)): the L2 norm of each window.
std::vector<Tensor> convertLpPool(NodeContext &n) {
  if (n.attrInt("p", 2) != 2)
    n.fail("p = " + std::to_string(n.attrInt("p", 2)) + " is not supported (only 2)");
  return convertPool(n, frontend::PoolKind::L2);
}

std::vector<Tensor> convertMaxPool(NodeContext &n) {
  return convertPool(n, frontend::PoolKind::Max);
}
std::vector<Tensor> convertAveragePool(NodeContext &n) {
  return convertPool(n, frontend::PoolKind::Average);
}

template <frontend::GlobalPoolKind kind> std::vector<Tensor> convertGlobalPool(NodeContext &n) {
  n.onlyAttrs({});
  Value x = n.value(0, "X");
  checkImage(n, x, 2);
  return one(n.built(n.graph.globalPool(n.layer, x, kind)));
}

/// ReduceMean / ReduceMax over the spatial axes of [N, C, H, W]: global
/// pooling, flattened to [N, C] when keepdims is 0.
template <frontend::GlobalPoolKind kind> std::vector<Tensor> convertSpatialReduce(NodeContext &n) {
  n.onlyAttrs({"axes", "keepdims"});
  Value x = n.value(0, "data");
  checkImage(n, x, 2);
  std::vector<int64_t> axes = n.attrInts("axes", {});
  if (!n.hasAttr("axes") && n.hasInput(1)) { // the axes input (ReduceMean-18)
    const Constant &c = n.constant(1, "axes");
    if (c.isFloat)
      n.fail("axes must be integers");
    axes = c.ints;
  }
  for (int64_t &a : axes)
    a = a < 0 ? a + 4 : a;
  std::sort(axes.begin(), axes.end());
  if (axes != std::vector<int64_t>{2, 3})
    n.fail("reducing over axes " + list(axes) +
           " is not supported (only over the spatial axes [2, 3] of [N, C, H, W])");
  Value pooled = n.built(n.graph.globalPool(n.layer, x, kind));
  if (n.attrInt("keepdims", 1))
    return one(pooled);
  frontend::LayerInfo flat = n.layer;
  flat.name += ".flatten";
  return one(n.built(n.graph.flatten(flat, pooled)));
}

std::vector<Tensor> convertLRN(NodeContext &n) {
  n.onlyAttrs({"alpha", "beta", "bias", "size"});
  if (!n.hasAttr("size"))
    n.fail("attribute 'size' is required");
  frontend::LocalResponseNormSpec spec;
  spec.size = n.attrInt("size", 1);
  spec.alpha = n.attrFloat("alpha", 1e-4f);
  spec.beta = n.attrFloat("beta", 0.75f);
  spec.k = n.attrFloat("bias", 1.0f);
  Value x = n.value(0, "X");
  checkImage(n, x, 2);
  return one(n.built(n.graph.localResponseNorm(n.layer, x, spec)));
}

//===----------------------------------------------------------------------===//
// Shapes: Flatten, Reshape and the constant arithmetic around them
//===----------------------------------------------------------------------===//

std::vector<Tensor> convertFlatten(NodeContext &n) {
  n.onlyAttrs({"axis"});
  Value x = n.value(0, "input");
  int64_t rank = n.rank(0);
  int64_t axis = n.attrInt("axis", 1);
  if (axis != 1 && axis != 1 - rank)
    n.fail("flattening from axis " + std::to_string(axis) +
           " is not supported (only from axis 1: [N, ...] -> [N, features])");
  if (shapeOf(x).size() == 2)
    return one(x);
  return one(n.built(n.graph.flatten(n.layer, x)));
}

/// After a view changed `c`'s dims (from `original`): an initializer keeps
/// its name and records its own shape.
void keepInitializerView(Constant &c, const std::vector<int64_t> &original) {
  if (!c.initializer.empty() && c.initializerDims.empty())
    c.initializerDims = original;
}

/// A Reshape's target shape with 0 (copy, unless allowzero) and -1 (infer)
/// resolved against `in` (kBatchDim for the batch).
std::vector<int64_t> resolveShape(const NodeContext &n, std::vector<int64_t> to,
                                  llvm::ArrayRef<int64_t> in) {
  bool allowZero = n.attrInt("allowzero", 0) != 0;
  int64_t known = 1, infer = -1, total = 1;
  for (int64_t d : in)
    total *= d == kBatchDim ? 1 : d;
  for (size_t i = 0; i < to.size(); ++i) {
    if (to[i] == 0 && !allowZero) {
      if (i >= in.size())
        n.fail("shape " + list(to) + " copies a dimension the input " + list(in) + " lacks");
      to[i] = in[i];
    }
    if (to[i] == -1) {
      if (infer >= 0)
        n.fail("shape " + list(to) + " has two -1 dimensions");
      infer = int64_t(i);
    } else if (to[i] != kBatchDim) {
      if (to[i] < 0)
        n.fail("shape " + list(to) + " has a negative dimension");
      known *= to[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || total % known)
      n.fail("cannot infer the -1 dimension of " + list(to) + " from " + list(in));
    to[infer] = total / known;
  }
  return to;
}

std::vector<Tensor> convertReshape(NodeContext &n) {
  n.onlyAttrs({"allowzero"});
  const Constant &shape = n.constant(1, "shape");
  if (shape.isFloat || shape.dims.size() != 1)
    n.fail("the shape must be a 1-D integer tensor");
  if (n.input(0).constant) {
    // A constant viewed in another shape (a slope, a per-channel scale).
    Constant c = *n.input(0).constant;
    std::vector<int64_t> original = c.dims;
    c.dims = resolveShape(n, shape.ints, c.dims);
    int64_t size = 1;
    for (int64_t d : c.dims)
      size *= d;
    if (size != c.size())
      n.fail("reshaping a constant of shape " + list(original) + " to " + list(c.dims));
    keepInitializerView(c, original);
    return one(std::move(c));
  }
  const Tensor &t = n.input(0);
  if (t.value && !t.sequence && shapeOf(t.value).size() == 4) {
    llvm::ArrayRef<int64_t> s4 = shapeOf(t.value);
    std::vector<int64_t> in = {kBatchDim, s4[1], s4[2], s4[3]};
    if (t.shuffleGroups) {
      // The last step of a channel shuffle: back to [N, C, H, W].
      std::vector<int64_t> view = {kBatchDim, s4[1] / t.shuffleGroups, t.shuffleGroups, s4[2],
                                   s4[3]};
      std::vector<int64_t> to = resolveShape(n, shape.ints, view);
      if (!t.shuffleTransposed || to.size() != 4 || (to[0] != kBatchDim && to[0] != -1) ||
          to[1] != s4[1] || to[2] != s4[2] || to[3] != s4[3])
        n.fail("reshaping the 5-D view " + list(view) + " to " + list(to) +
               " is not supported (only a channel shuffle: Reshape to [N, g, C/g, H, W], "
               "Transpose with perm [0, 2, 1, 3, 4], Reshape to [N, C, H, W])");
      return one(n.built(n.graph.channelShuffle(n.layer, t.value, t.shuffleGroups)));
    }
    std::vector<int64_t> to = resolveShape(n, shape.ints, in);
    if (to.size() == 5 && (to[0] == kBatchDim || to[0] == -1) && to[1] * to[2] == s4[1] &&
        to[3] == s4[2] && to[4] == s4[3]) {
      Tensor view = t;
      view.shuffleGroups = to[1];
      return {view};
    }
    if (to.size() == 4 && to[1] == s4[1] && to[2] == s4[2] && to[3] == s4[3])
      return {t};
  }
  Value x = n.value(0, "data");
  llvm::ArrayRef<int64_t> in = shapeOf(x);
  int64_t features = 1;
  for (size_t i = 1; i < in.size(); ++i)
    features *= in[i];
  // The reshapes a classifier head uses: [N, ...] -> [N, features], with the
  // batch written as 0 (copy), -1 (infer) or the traced batch size.
  const std::vector<int64_t> &s = shape.ints;
  bool batchFirst = s.size() == 2 && (s[0] == 0 || s[0] == -1 || s[0] == kBatchDim);
  bool flat = batchFirst && (s[1] == -1 || s[1] == features) && !(s[0] == -1 && s[1] == -1);
  if (!flat)
    n.fail("reshaping " + list(in) + " to " + list(s) +
           " is not supported (only [N, ...] -> [N, features])");
  if (in.size() == 2)
    return one(x);
  return one(n.built(n.graph.flatten(n.layer, x)));
}

std::vector<Tensor> convertShape(NodeContext &n) {
  n.onlyAttrs({"start", "end"});
  const Tensor &t = n.input(0);
  std::vector<int64_t> dims;
  if (t.constant)
    dims = t.constant->dims;
  else
    dims.assign(shapeOf(t.value).begin(), shapeOf(t.value).end());
  if (!t.constant && !dims.empty())
    dims[0] = kBatchDim;
  int64_t rank = int64_t(dims.size());
  auto clamp = [&](int64_t i) { return std::clamp(i < 0 ? i + rank : i, int64_t(0), rank); };
  int64_t start = clamp(n.attrInt("start", 0)), end = clamp(n.attrInt("end", rank));
  std::vector<int64_t> out(dims.begin() + start, dims.begin() + std::max(start, end));
  return one(intConstant({int64_t(out.size())}, out));
}

std::vector<Tensor> convertConstant(NodeContext &n) {
  n.onlyAttrs({"value", "value_float", "value_floats", "value_int", "value_ints"});
  if (n.hasAttr("value")) {
    for (const onnx::AttributeProto &a : n.node.attribute())
      if (a.name() == "value")
        return one(readTensor(a.t()));
  }
  if (n.hasAttr("value_int"))
    return one(intConstant({}, {n.attrInt("value_int", 0)}));
  if (n.hasAttr("value_ints")) {
    std::vector<int64_t> v = n.attrInts("value_ints", {});
    return one(intConstant({int64_t(v.size())}, v));
  }
  if (n.hasAttr("value_float")) {
    Constant c;
    c.floats = {n.attrFloat("value_float", 0)};
    return one(std::move(c));
  }
  n.fail("a Constant without a value, value_int(s) or value_float");
}

/// ConstantOfShape: a constant of the given shape filled with `value` (a
/// one-element tensor, float 0 by default).
std::vector<Tensor> convertConstantOfShape(NodeContext &n) {
  n.onlyAttrs({"value"});
  const Constant &shape = n.constant(0, "input");
  if (shape.isFloat || shape.dims.size() != 1)
    n.fail("the shape must be a 1-D integer tensor");
  int64_t total = 1;
  for (int64_t d : shape.ints) {
    if (d < 0 || d > (1 << 20) || total * std::max<int64_t>(d, 1) > (1 << 20))
      n.fail("shape " + list(shape.ints) + " is not a small constant (at most 2^20 elements)");
    total *= d;
  }
  Constant fill;
  fill.floats = {0.0f};
  for (const onnx::AttributeProto &a : n.node.attribute())
    if (a.name() == "value")
      fill = readTensor(a.t());
  if (fill.size() != 1)
    n.fail("value must have one element");
  Constant out;
  out.dims = shape.ints;
  out.isFloat = fill.isFloat;
  if (fill.isFloat)
    out.floats.assign(total, fill.floats[0]);
  else
    out.ints.assign(total, fill.ints[0]);
  return one(std::move(out));
}

/// The axes of Unsqueeze / Squeeze: an attribute before opset 13, an input
/// from 13 on.
std::vector<int64_t> axesOf(NodeContext &n) {
  if (n.opset < 13 || n.hasAttr("axes"))
    return n.attrInts("axes", {});
  if (!n.hasInput(1))
    return {};
  const Constant &c = n.constant(1, "axes");
  if (c.isFloat)
    n.fail("axes must be integers");
  return c.ints;
}

std::vector<Tensor> convertUnsqueeze(NodeContext &n) {
  n.onlyAttrs({"axes"});
  Constant c = n.constant(0, "data");
  std::vector<int64_t> original = c.dims;
  std::vector<int64_t> axes = axesOf(n);
  int64_t rank = int64_t(c.dims.size() + axes.size());
  for (int64_t a : axes)
    if (a < -rank || a >= rank)
      n.fail("axis " + std::to_string(a) + " is out of range");
  std::vector<int64_t> sorted;
  for (int64_t a : axes)
    sorted.push_back(a < 0 ? a + rank : a);
  std::sort(sorted.begin(), sorted.end());
  for (int64_t a : sorted)
    c.dims.insert(c.dims.begin() + a, 1);
  keepInitializerView(c, original);
  return one(std::move(c));
}

std::vector<Tensor> convertSqueeze(NodeContext &n) {
  n.onlyAttrs({"axes"});
  Constant c = n.constant(0, "data");
  std::vector<int64_t> original = c.dims;
  std::vector<int64_t> axes = axesOf(n);
  int64_t rank = int64_t(c.dims.size());
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < rank; ++i) {
    bool squeezed =
        axes.empty() ? c.dims[i] == 1
                     : llvm::any_of(axes, [&](int64_t a) { return (a < 0 ? a + rank : a) == i; });
    if (squeezed && c.dims[i] != 1)
      n.fail("cannot squeeze axis " + std::to_string(i) + " of extent " +
             std::to_string(c.dims[i]));
    if (!squeezed)
      dims.push_back(c.dims[i]);
  }
  c.dims = dims;
  keepInitializerView(c, original);
  return one(std::move(c));
}

std::vector<Tensor> convertGather(NodeContext &n) {
  n.onlyAttrs({"axis"});
  const Constant &data = n.constant(0, "data");
  const Constant &indices = n.constant(1, "indices");
  if (data.isFloat || data.dims.size() != 1 || n.attrInt("axis", 0) != 0 || indices.isFloat ||
      indices.dims.size() > 1)
    n.fail("only gathering from a 1-D integer constant (shape arithmetic) is supported");
  std::vector<int64_t> out;
  int64_t size = int64_t(data.ints.size());
  for (int64_t i : indices.ints) {
    if (i < -size || i >= size)
      n.fail("index " + std::to_string(i) + " is out of range for " + list(data.ints));
    out.push_back(data.ints[i < 0 ? i + size : i]);
  }
  return one(intConstant(indices.dims, out));
}

std::vector<Tensor> convertCast(NodeContext &n) {
  n.onlyAttrs({"to", "saturate"});
  Constant c = n.constant(0, "input");
  int64_t to = n.attrInt("to", 0);
  bool toFloat = to == onnx::TensorProto::FLOAT || to == onnx::TensorProto::DOUBLE;
  bool toInt = to == onnx::TensorProto::INT64 || to == onnx::TensorProto::INT32;
  if (!toFloat && !toInt)
    n.fail("casting to ONNX type " + std::to_string(to) + " is not supported");
  if (toFloat && !c.isFloat) {
    for (int64_t v : c.ints)
      c.floats.push_back(float(v));
    c.ints.clear();
  } else if (toInt && c.isFloat) {
    for (float v : c.floats)
      c.ints.push_back(int64_t(v));
    c.floats.clear();
  }
  c.isFloat = toFloat;
  c.initializer.clear();
  return one(std::move(c));
}

std::vector<Tensor> convertPad(NodeContext &n) {
  n.onlyAttrs({"mode", "pads", "value"});
  if (n.attrString("mode", "constant") != "constant")
    n.fail("mode '" + n.attrString("mode", "constant") + "' is not supported (only constant)");
  Tensor t = n.input(0);
  if (!t.value)
    n.fail("padding a constant is not supported");
  std::vector<int64_t> pads;
  double value = 0;
  if (n.opset < 11) {
    pads = n.attrInts("pads", {});
    value = n.attrFloat("value", 0);
  } else {
    const Constant &p = n.constant(1, "pads");
    if (p.isFloat)
      n.fail("pads must be integers");
    pads = p.ints;
    if (n.hasInput(2)) {
      const Constant &v = n.constant(2, "constant_value");
      if (!v.isFloat || v.floats.size() != 1)
        n.fail("constant_value must be a float scalar");
      value = v.floats[0];
    }
  }
  llvm::ArrayRef<int64_t> shape = shapeOf(t.value);
  // pads: [x1_begin, x2_begin, ..., x1_end, x2_end, ...] over the ONNX
  // tensor: [N, C, H, W], or [N, C, L] for a sequence ([N, C, 1, L] here).
  bool sequence = pads.size() == 6 && shape.size() == 4 && shape[2] == 1;
  if (pads.size() != 8 && !sequence)
    n.fail("pads " + list(pads) + " do not match the input's shape " + list(shape));
  size_t rank = pads.size() / 2;
  if (pads[0] || pads[1] || pads[rank] || pads[rank + 1] ||
      llvm::any_of(pads, [](int64_t p) { return p < 0; }))
    n.fail("pads " + list(pads) + " are not supported (only non-negative spatial padding)");
  std::array<int64_t, 4> add = sequence
                                   ? std::array<int64_t, 4>{0, pads[2], 0, pads[5]}
                                   : std::array<int64_t, 4>{pads[2], pads[3], pads[6], pads[7]};
  if (value != 0) {
    // Padding with another value is an op of its own.
    Value x = n.value(0, "data");
    Tensor out = t;
    out.value = n.built(n.graph.pad(n.layer, x, add, value));
    out.pads = {0, 0, 0, 0};
    return {out};
  }
  // Zeros: kept aside for the window of a Conv or AveragePool that reads
  // the result; any other reader pads (NodeContext::value).
  for (int i = 0; i < 4; ++i)
    t.pads[i] += add[i];
  return {t};
}

/// Transpose: only the middle step of a channel shuffle (and the identity).
std::vector<Tensor> convertTranspose(NodeContext &n) {
  n.onlyAttrs({"perm"});
  const Tensor &t = n.input(0);
  if (t.constant) {
    // Shape arithmetic (the pads torch.onnx.export computes for F.pad).
    const Constant &c = *t.constant;
    int64_t rank = int64_t(c.dims.size());
    std::vector<int64_t> identity(rank);
    std::iota(identity.begin(), identity.end(), 0);
    std::vector<int64_t> perm = n.attrInts("perm", {identity.rbegin(), identity.rend()});
    std::vector<int64_t> sorted = perm;
    std::sort(sorted.begin(), sorted.end());
    if (sorted != identity)
      n.fail("perm " + list(perm) + " is not a permutation of the " + std::to_string(rank) +
             " axes");
    std::vector<std::vector<int64_t>> indices;
    for (int64_t axis : perm) {
      indices.emplace_back(c.dims[axis]);
      std::iota(indices.back().begin(), indices.back().end(), 0);
    }
    return one(gatherConstant(c, indices, perm));
  }
  int64_t rank = t.shuffleGroups ? 5 : n.rank(0);
  std::vector<int64_t> identity(rank);
  std::iota(identity.begin(), identity.end(), 0);
  std::vector<int64_t> reversed(identity.rbegin(), identity.rend());
  std::vector<int64_t> perm = n.attrInts("perm", reversed);
  if (perm == identity)
    return {t};
  if (t.shuffleGroups && !t.shuffleTransposed && perm == std::vector<int64_t>{0, 2, 1, 3, 4}) {
    Tensor view = t;
    view.shuffleTransposed = true;
    return {view};
  }
  n.fail("transposing with perm " + list(perm) +
         " is not supported (only within a channel shuffle: Reshape to [N, g, C/g, H, W], "
         "Transpose with perm [0, 2, 1, 3, 4], Reshape to [N, C, H, W])");
}

/// The starts, ends, axes and steps of a Slice: attributes before opset 10,
/// inputs from 10 on.
struct SliceArgs {
  std::vector<int64_t> starts, ends, axes, steps;
};

SliceArgs sliceArgs(NodeContext &n, int64_t rank) {
  SliceArgs a;
  auto ints = [&](int i, const char *what) {
    const Constant &c = n.constant(i, what);
    if (c.isFloat || c.dims.size() != 1)
      n.fail(std::string(what) + " must be a 1-D integer tensor");
    return c.ints;
  };
  if (n.opset < 10) {
    a.starts = n.attrInts("starts", {});
    a.ends = n.attrInts("ends", {});
    a.axes = n.attrInts("axes", {});
  } else {
    a.starts = ints(1, "starts");
    a.ends = ints(2, "ends");
    if (n.hasInput(3))
      a.axes = ints(3, "axes");
    if (n.hasInput(4))
      a.steps = ints(4, "steps");
  }
  if (a.axes.empty())
    for (size_t i = 0; i < a.starts.size(); ++i)
      a.axes.push_back(int64_t(i));
  if (a.steps.empty())
    a.steps.assign(a.starts.size(), 1);
  if (a.ends.size() != a.starts.size() || a.axes.size() != a.starts.size() ||
      a.steps.size() != a.starts.size())
    n.fail("starts, ends, axes and steps must have as many values");
  for (int64_t &axis : a.axes) {
    if (axis < -rank || axis >= rank)
      n.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
    axis = axis < 0 ? axis + rank : axis;
  }
  return a;
}

/// [start, end) of a slice with step 1 along a dimension of extent `dim`,
/// clamped as ONNX defines it.
std::pair<int64_t, int64_t> clampRange(int64_t start, int64_t end, int64_t dim) {
  auto clamp = [&](int64_t i) { return std::clamp(i < 0 ? i + dim : i, int64_t(0), dim); };
  return {clamp(start), clamp(end)};
}

/// Slice: of a 1-D constant (shape arithmetic), or of a value along its
/// channels (axis 1) with step 1.
std::vector<Tensor> convertSlice(NodeContext &n) {
  n.onlyAttrs({"starts", "ends", "axes"});
  const Tensor &t = n.input(0);
  if (t.constant) {
    // Shape arithmetic: a constant of any rank, with any steps.
    const Constant &c = *t.constant;
    int64_t rank = int64_t(c.dims.size());
    if (rank == 0)
      n.fail("slicing a scalar");
    SliceArgs a = sliceArgs(n, rank);
    std::vector<std::vector<int64_t>> indices(rank);
    std::vector<int64_t> axes(rank);
    std::iota(axes.begin(), axes.end(), 0);
    for (int64_t axis = 0; axis < rank; ++axis) {
      indices[axis].resize(c.dims[axis]);
      std::iota(indices[axis].begin(), indices[axis].end(), 0);
    }
    for (size_t i = 0; i < a.axes.size(); ++i) {
      int64_t dim = c.dims[a.axes[i]], step = a.steps[i];
      if (step == 0)
        n.fail("a step of 0");
      std::vector<int64_t> &out = indices[a.axes[i]];
      out.clear();
      auto wrap = [&](int64_t v) { return v < 0 ? v + dim : v; };
      if (step > 0) {
        auto [begin, end] = clampRange(a.starts[i], a.ends[i], dim);
        for (int64_t k = begin; k < end; k += step)
          out.push_back(k);
      } else {
        int64_t begin = std::clamp(wrap(a.starts[i]), int64_t(-1), dim - 1);
        int64_t end = std::clamp(wrap(a.ends[i]), int64_t(-1), dim - 1);
        for (int64_t k = begin; k > end; k += step)
          out.push_back(k);
      }
    }
    return one(gatherConstant(c, indices, axes));
  }
  Value x = n.value(0, "data");
  llvm::ArrayRef<int64_t> shape = shapeOf(x);
  // The ONNX view of the dims: a sequence [N, C, 1, L] is [N, C, L].
  std::vector<int64_t> dims(shape.begin(), shape.end());
  if (t.sequence)
    dims.erase(dims.begin() + 2);
  SliceArgs a = sliceArgs(n, int64_t(dims.size()));
  int64_t begin = 0, end = dims[1];
  for (size_t i = 0; i < a.axes.size(); ++i) {
    int64_t axis = a.axes[i];
    bool whole = a.steps[i] == 1 && a.starts[i] == 0 &&
                 (axis == 0 ? a.ends[i] >= std::numeric_limits<int32_t>::max() || a.ends[i] == -1
                            : a.ends[i] >= dims[axis]);
    if (axis == 0 && a.ends[i] == -1)
      whole = false; // [0, N-1): not the whole batch
    if (whole)
      continue;
    if (axis != 1 || a.steps[i] != 1)
      n.fail("slicing axis " + std::to_string(axis) + " of " + list(dims) + " with step " +
             std::to_string(a.steps[i]) + " is not supported (only channels, axis 1, step 1)");
    std::tie(begin, end) = clampRange(a.starts[i], a.ends[i], dims[1]);
  }
  if (begin == 0 && end == dims[1])
    return {t};
  if (begin >= end)
    n.fail("the slice of channels [" + std::to_string(begin) + ", " + std::to_string(end) +
           ") is empty");
  return one(n.built(n.graph.sliceChannels(n.layer, x, begin, end)));
}

/// Split along the channels (axis 1) into parts of given or equal sizes.
std::vector<Tensor> convertSplit(NodeContext &n) {
  n.onlyAttrs({"axis", "split", "num_outputs"});
  Value x = n.value(0, "input");
  int64_t rank = n.rank(0);
  int64_t axis = n.attrInt("axis", 0);
  if (axis != 1 && axis != 1 - rank)
    n.fail("splitting along axis " + std::to_string(axis) +
           " is not supported (only along channels, axis 1)");
  int64_t channels = shapeOf(x)[1];
  std::vector<int64_t> sizes;
  if (n.opset < 13) {
    sizes = n.attrInts("split", {});
  } else if (n.hasInput(1)) {
    const Constant &c = n.constant(1, "split");
    if (c.isFloat)
      n.fail("split must be integers");
    sizes = c.ints;
  }
  int64_t parts = n.node.output_size();
  if (sizes.empty()) {
    if (n.hasAttr("num_outputs"))
      parts = n.attrInt("num_outputs", parts);
    // Equal parts; the last one smaller if the channels do not divide.
    int64_t size = (channels + parts - 1) / parts;
    for (int64_t begin = 0; begin < channels; begin += size)
      sizes.push_back(std::min(size, channels - begin));
  }
  if (int64_t(sizes.size()) != n.node.output_size() ||
      std::accumulate(sizes.begin(), sizes.end(), int64_t(0)) != channels ||
      llvm::any_of(sizes, [](int64_t s) { return s < 1; }))
    n.fail("split " + list(sizes) + " does not divide the " + std::to_string(channels) +
           " channels into the node's " + std::to_string(n.node.output_size()) + " outputs");
  std::vector<Tensor> outs;
  int64_t begin = 0;
  for (int64_t size : sizes) {
    frontend::LayerInfo part = n.layer;
    part.name += "." + std::to_string(outs.size());
    outs.push_back({n.built(n.graph.sliceChannels(part, x, begin, begin + size)),
                    nullptr,
                    {0, 0, 0, 0},
                    n.input(0).sequence});
    begin += size;
  }
  return outs;
}

/// PRelu with a constant slope broadcast along the channels: [C, 1, 1],
/// [C] on [N, C] or one value; the slope's initializer is the parameter.
std::vector<Tensor> convertPRelu(NodeContext &n) {
  n.onlyAttrs({});
  Value x = n.value(0, "X");
  const Constant &c = n.constant(1, "slope");
  std::vector<int64_t> dims = c.dims;
  while (!dims.empty() && dims.front() == 1 && int64_t(dims.size()) > 1)
    dims.erase(dims.begin());
  int64_t rank = n.rank(0), channels = shapeOf(x)[1];
  bool shared = c.size() == 1;
  bool perChannel = c.size() == channels && int64_t(dims.size()) == rank - 1 &&
                    llvm::all_of(llvm::drop_begin(dims), [](int64_t d) { return d == 1; });
  if (!shared && !perChannel)
    n.fail("slope of shape " + list(c.dims) + " is not supported (only one value, or one per " +
           "channel: [" + std::to_string(channels) + (rank > 2 ? ", 1, 1]" : "]") + ")");
  Value slope = n.operand(1, "slope");
  slope = n.built(n.graph.view(n.layer, slope, {shared ? 1 : channels}));
  return one(n.built(n.graph.prelu(n.layer, x, slope)));
}

/// The output height and width of Resize / Upsample from `scales` [1, 1,
/// sh, sw] (the output must be exactly in·s) or `sizes` [N, C, H', W'].
std::array<int64_t, 2> resizedSize(const NodeContext &n, llvm::ArrayRef<int64_t> in,
                                   const Constant *scales, const Constant *sizes) {
  if (sizes && sizes->size() > 0) {
    if (sizes->isFloat || sizes->size() != 4 ||
        (sizes->ints[0] != kBatchDim && sizes->ints[0] < 1) || sizes->ints[1] != in[1])
      n.fail("sizes " + (sizes->isFloat ? std::string("(float)") : list(sizes->ints)) +
             " must be [N, C, H', W'] with the input's channels");
    return {sizes->ints[2], sizes->ints[3]};
  }
  if (!scales || !scales->isFloat || scales->size() != 4)
    n.fail("scales must be 4 floats [1, 1, sh, sw]");
  const std::vector<float> &s = scales->floats;
  if (s[0] != 1 || s[1] != 1)
    n.fail("scaling the batch or the channels is not supported (scales " + std::to_string(s[0]) +
           ", " + std::to_string(s[1]) + ")");
  std::array<int64_t, 2> out;
  for (int i = 0; i < 2; ++i) {
    double size = double(in[2 + i]) * double(s[2 + i]);
    out[i] = int64_t(std::floor(size));
    if (double(out[i]) != size)
      n.fail("scale " + std::to_string(s[2 + i]) + " does not give a whole number of pixels from " +
             std::to_string(in[2 + i]) + " (only scales that do are supported)");
  }
  return out;
}

/// Builds the upsampling of `x` to `size`; fails on downsampling.
std::vector<Tensor> upsampleTo(NodeContext &n, Value x, std::array<int64_t, 2> size, bool bilinear,
                               bool alignCorners) {
  llvm::ArrayRef<int64_t> in = shapeOf(x);
  if (size[0] < in[2] || size[1] < in[3])
    n.fail("resizing " + list(in) + " to " + std::to_string(size[0]) + "x" +
           std::to_string(size[1]) + " is not supported (only upsampling)");
  frontend::UpsampleSpec spec;
  spec.size = size;
  spec.bilinear = bilinear;
  spec.alignCorners = alignCorners;
  return one(n.built(n.graph.upsample(n.layer, x, spec)));
}

/// Resize as nn.Upsample / F.interpolate export it: nearest (asymmetric
/// coordinates, floor) or linear (half_pixel, pytorch_half_pixel or
/// align_corners), upsampling H and W of [N, C, H, W].
std::vector<Tensor> convertResize(NodeContext &n) {
  n.onlyAttrs({"antialias", "axes", "coordinate_transformation_mode", "cubic_coeff_a",
               "exclude_outside", "extrapolation_value", "keep_aspect_ratio_policy", "mode",
               "nearest_mode"});
  Value x = n.value(0, "X");
  checkImage(n, x, 2);
  if (n.input(0).sequence)
    n.fail("resizing a sequence is not supported");
  if (n.attrInt("antialias", 0) || n.attrInt("exclude_outside", 0) || n.hasAttr("axes") ||
      n.attrString("keep_aspect_ratio_policy", "stretch") != "stretch")
    n.fail("antialias, exclude_outside, axes and keep_aspect_ratio_policy are not supported");
  std::string mode = n.attrString("mode", "nearest");
  std::string transform =
      n.attrString("coordinate_transformation_mode", n.opset < 11 ? "asymmetric" : "half_pixel");
  const Constant *scales = nullptr, *sizes = nullptr;
  int scalesInput = n.opset < 11 ? 1 : 2;
  if (n.hasInput(scalesInput))
    scales = &n.constant(scalesInput, "scales");
  if (n.opset >= 11 && n.hasInput(3))
    sizes = &n.constant(3, "sizes");
  if (scales && scales->size() == 0)
    scales = nullptr;
  std::array<int64_t, 2> size = resizedSize(n, shapeOf(x), scales, sizes);
  if (mode == "nearest") {
    // Output o reads ⌊o·in/out⌋ with asymmetric coordinates and floor; with
    // half-pixel ones and a whole scale s, o = k·s + r reads k + (r + ½)/s - ½,
    // strictly within ½ of k, which rounding to the nearest takes to k.
    std::string rounding =
        n.attrString("nearest_mode", n.opset < 11 ? "floor" : "round_prefer_floor");
    llvm::ArrayRef<int64_t> in = shapeOf(x);
    bool wholeScale = size[0] % in[2] == 0 && size[1] % in[3] == 0;
    bool halfPixel = transform == "half_pixel" || transform == "pytorch_half_pixel";
    bool toNearest = rounding == "round_prefer_floor" || rounding == "round_prefer_ceil";
    if (!(transform == "asymmetric" && rounding == "floor") &&
        !(halfPixel && toNearest && wholeScale))
      n.fail("nearest with coordinate_transformation_mode '" + transform + "' and nearest_mode '" +
             rounding + "' is not supported here (only asymmetric with floor, nn.Upsample's " +
             "nearest, or half_pixel rounding to the nearest with whole scales)");
    return upsampleTo(n, x, size, false, false);
  }
  if (mode == "linear") {
    if (transform == "half_pixel" || transform == "pytorch_half_pixel")
      return upsampleTo(n, x, size, true, false);
    if (transform == "align_corners")
      return upsampleTo(n, x, size, true, true);
    n.fail("linear with coordinate_transformation_mode '" + transform +
           "' is not supported (only half_pixel, pytorch_half_pixel and align_corners, "
           "nn.Upsample's bilinear)");
  }
  n.fail("mode '" + mode + "' is not supported (only nearest and linear)");
}

/// Upsample (opsets 7 to 9): nearest only (its linear mode uses asymmetric
/// coordinates, which nn.Upsample's bilinear does not).
std::vector<Tensor> convertUpsample(NodeContext &n) {
  n.onlyAttrs({"mode", "scales"});
  Value x = n.value(0, "X");
  checkImage(n, x, 2);
  std::string mode = n.attrString("mode", "nearest");
  if (mode != "nearest")
    n.fail("mode '" + mode + "' is not supported (only nearest; a linear Upsample uses " +
           "asymmetric coordinates, which cnnc's bilinear upsampling does not)");
  Constant scales;
  if (n.hasAttr("scales")) {
    const onnx::AttributeProto *a = nullptr;
    for (const onnx::AttributeProto &at : n.node.attribute())
      if (at.name() == "scales")
        a = &at;
    scales.dims = {a->floats_size()};
    scales.floats.assign(a->floats().begin(), a->floats().end());
  } else {
    scales = n.constant(1, "scales");
  }
  return upsampleTo(n, x, resizedSize(n, shapeOf(x), &scales, nullptr), false, false);
}

//===----------------------------------------------------------------------===//
// Identity, Dropout
//===----------------------------------------------------------------------===//

std::vector<Tensor> convertIdentity(NodeContext &n) {
  n.onlyAttrs({});
  return {n.input(0)};
}

std::vector<Tensor> convertDropout(NodeContext &n) {
  n.onlyAttrs({"ratio", "seed", "is_test"});
  n.unusedOutput(1, "mask");
  Value x = n.value(0, "data");
  double ratio = n.attrFloat("ratio", 0.5f);
  if (n.hasInput(1)) {
    const Constant &r = n.constant(1, "ratio");
    if (!r.isFloat || r.floats.size() != 1)
      n.fail("ratio must be a float scalar");
    ratio = r.floats[0];
  }
  // training_mode (input 2), as for BatchNormalization: cnnc's dropout is
  // the identity in inference and drops in the train step, either way.
  frontend::DropoutSpec spec;
  spec.rate = ratio;
  return one(n.built(n.graph.dropout(n.layer, x, spec)));
}

const std::map<std::string, NodeConverter> &converters() {
  static const std::map<std::string, NodeConverter> table = {
      {"Add", convertBinary<frontend::BinaryKind::Add>},
      {"AveragePool", convertAveragePool},
      {"BatchNormalization", convertBatchNormalization},
      {"Cast", convertCast},
      {"Clip", convertClip},
      {"Concat", convertConcat},
      {"Constant", convertConstant},
      {"ConstantOfShape", convertConstantOfShape},
      {"Conv", convertConv},
      {"ConvTranspose", convertConvTranspose},
      {"Div", convertBinary<frontend::BinaryKind::Div>},
      {"Dropout", convertDropout},
      {"Flatten", convertFlatten},
      {"Gather", convertGather},
      {"Gemm", convertGemm},
      {"HardSigmoid", convertHardSigmoid},
      {"HardSwish", convertActivation<Activation::Hardswish>},
      {"GlobalAveragePool", convertGlobalPool<frontend::GlobalPoolKind::Average>},
      {"GlobalMaxPool", convertGlobalPool<frontend::GlobalPoolKind::Max>},
      {"Identity", convertIdentity},
      {"LeakyRelu", convertActivation<Activation::LeakyRelu>},
      {"LpPool", convertLpPool},
      {"LRN", convertLRN},
      {"MatMul", convertMatMul},
      {"MaxPool", convertMaxPool},
      {"Mul", convertBinary<frontend::BinaryKind::Mul>},
      {"Pad", convertPad},
      {"PRelu", convertPRelu},
      {"Relu", convertActivation<Activation::Relu>},
      {"ReduceMax", convertSpatialReduce<frontend::GlobalPoolKind::Max>},
      {"ReduceMean", convertSpatialReduce<frontend::GlobalPoolKind::Average>},
      {"Reshape", convertReshape},
      {"Resize", convertResize},
      {"Shape", convertShape},
      {"Sigmoid", convertActivation<Activation::Sigmoid>},
      {"Slice", convertSlice},
      {"Softmax", convertSoftmax},
      {"Split", convertSplit},
      {"Squeeze", convertSqueeze},
      {"Sub", convertBinary<frontend::BinaryKind::Sub>},
      {"Sum", convertSum},
      {"Tanh", convertActivation<Activation::Tanh>},
      {"Transpose", convertTranspose},
      {"Unsqueeze", convertUnsqueeze},
      {"Upsample", convertUpsample},
  };
  return table;
}

} // namespace

NodeConverter cnnc::onnx_import::findConverter(const std::string &opType) {
  auto it = converters().find(opType);
  return it == converters().end() ? nullptr : it->second;
}

std::vector<std::string> cnnc::onnx_import::supportedOps() {
  std::vector<std::string> ops;
  for (const auto &entry : converters())
    ops.push_back(entry.first);
  return ops;
}
