//===- ShapeInference.cpp - shape functions of the cnn ops ----------------===//
//
// Implements ShapeInference.h. Dimensions are outermost first; the batch may
// be ShapedType::kDynamic and is carried through unchanged. Every size is
// computed with limits::Checked, so a setting that would overflow 64 bits is
// refused with the others that exceed the limits of Limits.h.
//
//===----------------------------------------------------------------------===//
#include "compiler/Dialect/CNN/IR/ShapeInference.h"

#include "mlir/IR/BuiltinTypeInterfaces.h"
#include "llvm/Support/FormatVariadic.h"

using namespace cnnc::cnn;
using cnnc::limits::Checked;
namespace limits = cnnc::limits;
using llvm::ArrayRef;

static bool isDynamic(int64_t d) { return mlir::ShapedType::isDynamic(d); }

std::string cnnc::cnn::shapeToString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      s += ", ";
    s += isDynamic(shape[i]) ? std::string("?") : std::to_string(shape[i]);
  }
  return s + "]";
}

/// "2147483647 (2^31 - 1)": how messages spell a limit of 2^31 - 1.
static std::string limitText(int64_t limit) {
  return limit == 2147483647 ? "2147483647 (2^31 - 1)" : std::to_string(limit);
}

std::string cnnc::cnn::checkBufferSize(ArrayRef<int64_t> shape, llvm::StringRef what) {
  bool batched = llvm::any_of(shape, isDynamic);
  Checked elements = limits::productOfStatic(shape);
  if (elements.ok() && elements.value() <= limits::kMaxBufferElements)
    return "";
  std::string count =
      elements.ok() ? std::to_string(elements.value()) : std::string("more than 2^63 - 1");
  return llvm::formatv("{0} {1} has {2} elements{3}, more than the {4} a buffer can hold", what,
                       shapeToString(shape), count, batched ? " per batch item" : "",
                       limitText(limits::kMaxBufferElements));
}

std::string cnnc::cnn::checkActivation4D(ArrayRef<int64_t> shape, llvm::StringRef what) {
  if (shape.size() != 4)
    return llvm::formatv("{0} must be a 4-D activation [N, C, H, W], found {1}", what,
                         shapeToString(shape));
  for (int i = 1; i < 4; ++i)
    if (isDynamic(shape[i]) || shape[i] <= 0)
      return llvm::formatv("{0} must have static positive C, H, W, found {1}", what,
                           shapeToString(shape));
  return checkBufferSize(shape, what);
}

/// Checks that a window setting is at least `least` and indexable.
static std::string checkSetting(const char *name, int64_t value, int64_t least) {
  if (value < least)
    return llvm::formatv("{0} must be >= {1}, found {2}", name, least, value);
  if (value > limits::kMaxExtent)
    return llvm::formatv("{0} must be at most {1}, found {2}", name, limitText(limits::kMaxExtent),
                         value);
  return "";
}

static std::string checkWindow(const Window &w) {
  for (int i = 0; i < 2; ++i) {
    if (std::string err = checkSetting("kernel size", w.kernel[i], 1); !err.empty())
      return err;
    if (std::string err = checkSetting("stride", w.stride[i], 1); !err.empty())
      return err;
    if (std::string err = checkSetting("dilation", w.dilation[i], 1); !err.empty())
      return err;
  }
  for (int i = 0; i < 4; ++i)
    if (std::string err = checkSetting("padding", w.padding[i], 0); !err.empty())
      return err;
  // Each factor is below 2^31, so the span fits in 64 bits.
  for (int i = 0; i < 2; ++i)
    if (w.span(i) > limits::kMaxExtent)
      return llvm::formatv("the dilated kernel {0} (kernel {1}, dilation {2}) must be at most "
                           "{3}, found {4}",
                           i == 0 ? "height" : "width", w.kernel[i], w.dilation[i],
                           limitText(limits::kMaxExtent), w.span(i));
  return "";
}

/// Checks the input padded by `w` ([C, H + top + bottom, W + left +
/// right], the copy a kernel makes of it): each extent indexable, the copy
/// a buffer. All settings are below 2^31 (checkWindow), so the sums fit.
static std::string checkPaddedInput(ArrayRef<int64_t> input, const Window &w) {
  if (w.padding == std::array<int64_t, 4>{0, 0, 0, 0})
    return "";
  int64_t padded[2];
  for (int i = 0; i < 2; ++i) {
    padded[i] = input[2 + i] + w.padding[i] + w.padding[i + 2];
    if (padded[i] > limits::kMaxExtent)
      return llvm::formatv("the padded input {0} {1} (input {2} + padding {3} + {4}) must be "
                           "at most {5}",
                           i == 0 ? "height" : "width", padded[i], input[2 + i], w.padding[i],
                           w.padding[i + 2], limitText(limits::kMaxExtent));
  }
  return checkBufferSize({input[0], input[1], padded[0], padded[1]}, "the padded input");
}

/// Spatial output sizes of a window op, or an error naming the dimension.
static std::string windowOutput(ArrayRef<int64_t> input, const Window &w, int64_t &outH,
                                int64_t &outW) {
  if (std::string err = checkWindow(w); !err.empty())
    return err;
  if (std::string err = checkPaddedInput(input, w); !err.empty())
    return err;
  int64_t out[2];
  for (int i = 0; i < 2; ++i) {
    int64_t in = input[2 + i];
    out[i] = windowOutputSize(in, w.kernel[i], w.stride[i], w.dilation[i], w.padding[i],
                              w.padding[i + 2], w.ceilMode);
    if (out[i] <= 0)
      return llvm::formatv("window of {0} {1} (kernel {2}, dilation {3}) is larger than the "
                           "padded input {0} {4} (input {5} + padding {6} + {7})",
                           i == 0 ? "height" : "width", w.dilation[i] * (w.kernel[i] - 1) + 1,
                           w.kernel[i], w.dilation[i], in + w.padding[i] + w.padding[i + 2], in,
                           w.padding[i], w.padding[i + 2]);
  }
  outH = out[0];
  outW = out[1];
  return "";
}

std::string cnnc::cnn::inferConv2D(ArrayRef<int64_t> input, ArrayRef<int64_t> weight,
                                   const int64_t *biasShape, size_t biasRank, const Window &window,
                                   int64_t groups, Shape &result) {
  if (std::string err = checkActivation4D(input, "conv2d input"); !err.empty())
    return err;
  if (weight.size() != 4)
    return llvm::formatv("conv2d weight must be 4-D [O, I, kH, kW], found {0}",
                         shapeToString(weight));
  int64_t channels = input[1], outChannels = weight[0];
  if (groups < 1)
    return llvm::formatv("groups must be >= 1, found {0}", groups);
  if (channels % groups != 0 || outChannels % groups != 0)
    return llvm::formatv("groups = {0} must divide the input channels ({1}) "
                         "and the output channels ({2})",
                         groups, channels, outChannels);
  if (weight[1] != channels / groups)
    return llvm::formatv("conv2d weight expects {0} input channels per group "
                         "(weight {1}), found {2} input channels / {3} groups",
                         weight[1], shapeToString(weight), channels, groups);
  if (biasShape && (biasRank != 1 || biasShape[0] != outChannels))
    return llvm::formatv("conv2d bias must be [{0}], found {1}", outChannels,
                         shapeToString(ArrayRef<int64_t>(biasShape, biasRank)));
  if (std::string err = checkBufferSize(weight, "conv2d weight"); !err.empty())
    return err;
  Window w = window;
  w.kernel[0] = weight[2];
  w.kernel[1] = weight[3];
  w.ceilMode = false;
  int64_t outH, outW;
  if (std::string err = windowOutput(input, w, outH, outW); !err.empty())
    return err;
  result = {input[0], outChannels, outH, outW};
  return checkBufferSize(result, "conv2d output");
}

std::string cnnc::cnn::inferConvTranspose2D(ArrayRef<int64_t> input, ArrayRef<int64_t> weight,
                                            const int64_t *biasShape, size_t biasRank,
                                            const Window &window, int64_t groups, Shape &result) {
  if (std::string err = checkActivation4D(input, "conv_transpose2d input"); !err.empty())
    return err;
  if (weight.size() != 4)
    return llvm::formatv("conv_transpose2d weight must be 4-D [C, O/groups, "
                         "kH, kW], found {0}",
                         shapeToString(weight));
  if (groups < 1)
    return llvm::formatv("groups must be >= 1, found {0}", groups);
  if (std::string err = checkBufferSize(weight, "conv_transpose2d weight"); !err.empty())
    return err;
  Checked outChannelCount = Checked(weight[1]) * groups;
  if (!outChannelCount.ok() || outChannelCount.value() > limits::kMaxExtent)
    return llvm::formatv("conv_transpose2d output channels ({0} per group x {1} groups) must be "
                         "at most {2}",
                         weight[1], groups, limitText(limits::kMaxExtent));
  int64_t channels = input[1], outChannels = outChannelCount.value();
  if (weight[0] != channels)
    return llvm::formatv("conv_transpose2d weight {0} expects {1} input "
                         "channels, found {2}",
                         shapeToString(weight), weight[0], channels);
  if (channels % groups != 0)
    return llvm::formatv("groups = {0} must divide the input channels ({1})", groups, channels);
  if (biasShape && (biasRank != 1 || biasShape[0] != outChannels))
    return llvm::formatv("conv_transpose2d bias must be [{0}], found {1}", outChannels,
                         shapeToString(ArrayRef<int64_t>(biasShape, biasRank)));
  Window w = window;
  w.kernel[0] = weight[2];
  w.kernel[1] = weight[3];
  if (std::string err = checkWindow(w); !err.empty())
    return err;
  int64_t out[2];
  for (int i = 0; i < 2; ++i) {
    if (w.outputPadding[i] < 0 || w.outputPadding[i] >= w.stride[i])
      return llvm::formatv("output_padding must be >= 0 and smaller than the "
                           "stride ({0}), found {1}",
                           w.stride[i], w.outputPadding[i]);
    // The input upsampled by the stride and padded by the dilated kernel
    // (the stride-1 convolution the kernel computes) must be indexable.
    Checked upsampled = (Checked(input[2 + i]) - 1) * w.stride[i] + w.span(i) * 2;
    if (!upsampled.ok() || upsampled.value() > limits::kMaxExtent)
      return llvm::formatv("conv_transpose2d input {0} {1} upsampled by stride {2} with the "
                           "kernel's span {3} on each side must be at most {4}",
                           i == 0 ? "height" : "width", input[2 + i], w.stride[i], w.span(i),
                           limitText(limits::kMaxExtent));
    out[i] = ((Checked(input[2 + i]) - 1) * w.stride[i] - w.padding[i] - w.padding[i + 2] +
              w.span(i) + w.outputPadding[i])
                 .valueOr(0);
    if (out[i] <= 0)
      return llvm::formatv("conv_transpose2d output {0} would be {1}: the "
                           "padding ({2} + {3}) removes more than the "
                           "upsampled input provides",
                           i == 0 ? "height" : "width", out[i], w.padding[i], w.padding[i + 2]);
  }
  result = {input[0], outChannels, out[0], out[1]};
  return checkBufferSize(result, "conv_transpose2d output");
}

std::string cnnc::cnn::checkConnectionTable(ArrayRef<ArrayRef<int64_t>> table, int64_t inChannels,
                                            int64_t outChannels, int64_t &connections,
                                            int &badRow) {
  badRow = -1;
  connections = 0;
  if (int64_t(table.size()) != outChannels)
    return llvm::formatv("the connection table must have one list per output "
                         "channel ({0}), found {1}",
                         outChannels, table.size());
  for (auto [o, row] : llvm::enumerate(table)) {
    badRow = int(o);
    if (row.empty())
      return llvm::formatv("output channel {0} reads no input channel", o);
    for (auto [i, c] : llvm::enumerate(row)) {
      if (c < 0 || c >= inChannels)
        return llvm::formatv("output channel {0} reads input channel {1}, "
                             "but the input has channels 0..{2}",
                             o, c, inChannels - 1);
      for (size_t j = 0; j < i; ++j)
        if (row[j] == c)
          return llvm::formatv("output channel {0} lists input channel {1} "
                               "twice",
                               o, c);
    }
    connections += int64_t(row.size());
  }
  badRow = -1;
  return "";
}

std::string cnnc::cnn::checkScatterConnections(ArrayRef<int64_t> compact, ArrayRef<int64_t> dense,
                                               ArrayRef<ArrayRef<int64_t>> table) {
  if (dense.size() != 4 || compact.size() != 3 || compact[1] != dense[2] || compact[2] != dense[3])
    return llvm::formatv("expects a compact weight [K, kh, kw] and a dense "
                         "weight [O, C, kh, kw] with the same kernel, found "
                         "{0} and {1}",
                         shapeToString(compact), shapeToString(dense));
  int64_t connections;
  int badRow;
  if (std::string err = checkConnectionTable(table, dense[1], dense[0], connections, badRow);
      !err.empty())
    return err;
  if (compact[0] != connections)
    return llvm::formatv("the table has {0} connections but the compact "
                         "weight {1} holds {2} kernels",
                         connections, shapeToString(compact), compact[0]);
  return "";
}

std::string cnnc::cnn::inferPositionBias(ArrayRef<int64_t> input, ArrayRef<int64_t> bias,
                                         Shape &result) {
  if (std::string err = checkActivation4D(input, "position_bias input"); !err.empty())
    return err;
  if (bias != input.drop_front())
    return llvm::formatv("position_bias bias must be [C, H, W] = {0}, found {1}",
                         shapeToString(input.drop_front()), shapeToString(bias));
  result.assign(input.begin(), input.end());
  return "";
}

std::string cnnc::cnn::checkLocalResponseNorm(ArrayRef<int64_t> input, int64_t size, double alpha,
                                              double beta, double k) {
  if (std::string err = checkActivation4D(input, "local_response_norm input"); !err.empty())
    return err;
  if (size < 1 || size > limits::kMaxExtent)
    return llvm::formatv("local_response_norm size must be in [1, {0}], found {1}",
                         limitText(limits::kMaxExtent), size);
  if (!(alpha >= 0) || !(beta >= 0))
    return llvm::formatv("local_response_norm alpha and beta must be >= 0, "
                         "found {0} and {1}",
                         alpha, beta);
  if (!(k > 0))
    return llvm::formatv("local_response_norm k must be positive, found {0}", k);
  return "";
}

std::string cnnc::cnn::inferPool2D(ArrayRef<int64_t> input, const Window &window, Shape &result) {
  if (std::string err = checkActivation4D(input, "pooling input"); !err.empty())
    return err;
  // Every window must hold at least one input element: padding below the
  // kernel size (ONNX's limit; PyTorch's, half the kernel, is stricter).
  for (int i = 0; i < 2; ++i)
    if (window.padding[i] >= window.kernel[i] || window.padding[i + 2] >= window.kernel[i])
      return llvm::formatv("pooling padding must be smaller than the kernel "
                           "size ({0}), found {1}",
                           window.kernel[i], std::max(window.padding[i], window.padding[i + 2]));
  int64_t outH, outW;
  if (std::string err = windowOutput(input, window, outH, outW); !err.empty())
    return err;
  result = {input[0], input[1], outH, outW};
  return checkBufferSize(result, "pooling output");
}

std::string cnnc::cnn::inferDense(ArrayRef<int64_t> input, ArrayRef<int64_t> weight,
                                  const int64_t *biasShape, size_t biasRank, Shape &result) {
  if (input.size() != 2 || isDynamic(input[1]))
    return llvm::formatv("dense input must be [N, F] with static F (flatten a "
                         "4-D activation first), found {0}",
                         shapeToString(input));
  if (std::string err = checkBufferSize(input, "dense input"); !err.empty())
    return err;
  if (weight.size() != 2)
    return llvm::formatv("dense weight must be [out, in], found {0}", shapeToString(weight));
  if (std::string err = checkBufferSize(weight, "dense weight"); !err.empty())
    return err;
  if (weight[1] != input[1])
    return llvm::formatv("dense weight {0} expects {1} input features, found {2}",
                         shapeToString(weight), weight[1], input[1]);
  if (biasShape && (biasRank != 1 || biasShape[0] != weight[0]))
    return llvm::formatv("dense bias must be [{0}], found {1}", weight[0],
                         shapeToString(ArrayRef<int64_t>(biasShape, biasRank)));
  result = {input[0], weight[0]};
  return checkBufferSize(result, "dense output");
}

std::string cnnc::cnn::inferBatchNorm(ArrayRef<int64_t> input, ArrayRef<ArrayRef<int64_t>> vectors,
                                      Shape &result) {
  if ((input.size() != 4 && input.size() != 2) || isDynamic(input[1]))
    return llvm::formatv("batch_norm input must be [N, C, H, W] or [N, C], "
                         "found {0}",
                         shapeToString(input));
  for (ArrayRef<int64_t> v : vectors)
    if (v.size() != 1 || v[0] != input[1])
      return llvm::formatv("batch_norm parameters must be [{0}], found {1}", input[1],
                           shapeToString(v));
  result.assign(input.begin(), input.end());
  return checkBufferSize(input, "batch_norm input");
}

std::string cnnc::cnn::inferConcat(ArrayRef<ArrayRef<int64_t>> inputs, Shape &result) {
  if (inputs.empty())
    return "concat needs at least one input";
  ArrayRef<int64_t> first = inputs[0];
  if (first.size() < 2)
    return llvm::formatv("concat inputs must have a channel dimension, found {0}",
                         shapeToString(first));
  Checked channels = 0;
  for (ArrayRef<int64_t> in : inputs) {
    bool same = in.size() == first.size();
    for (size_t d = 2; same && d < in.size(); ++d)
      same = in[d] == first[d];
    if (!same)
      return llvm::formatv("concat inputs must agree on all dimensions but "
                           "channels: {0} vs {1}",
                           shapeToString(first), shapeToString(in));
    channels += in[1];
  }
  if (!channels.ok())
    return "concat output has more channels than 64-bit arithmetic can count";
  result.assign(first.begin(), first.end());
  result[1] = channels.value();
  return checkBufferSize(result, "concat output");
}

std::string cnnc::cnn::inferFlatten(ArrayRef<int64_t> input, Shape &result) {
  if (input.size() < 2)
    return llvm::formatv("flatten input must have rank >= 2, found {0}", shapeToString(input));
  Checked features = 1;
  for (size_t d = 1; d < input.size(); ++d) {
    if (isDynamic(input[d]))
      return llvm::formatv("flatten input must be static beyond the batch, "
                           "found {0}",
                           shapeToString(input));
    features *= input[d];
  }
  if (std::string err = checkBufferSize(input, "flatten input"); !err.empty())
    return err;
  result = {input[0], features.value()};
  return "";
}

std::string cnnc::cnn::checkSameShape(ArrayRef<int64_t> lhs, ArrayRef<int64_t> rhs) {
  if (lhs != rhs)
    return llvm::formatv("operands must have the same shape, found {0} and {1}", shapeToString(lhs),
                         shapeToString(rhs));
  return "";
}

std::string cnnc::cnn::checkSequence(ArrayRef<int64_t> shape, llvm::StringRef what) {
  if (std::string err = checkActivation4D(shape, what); !err.empty())
    return llvm::formatv("{0} must be a sequence [N, C, 1, L], found {1}", what,
                         shapeToString(shape));
  if (shape[2] != 1)
    return llvm::formatv("{0} must be a sequence [N, C, 1, L] (height 1), "
                         "found {1}",
                         what, shapeToString(shape));
  return "";
}

std::string cnnc::cnn::inferEmbedding(ArrayRef<int64_t> ids, ArrayRef<int64_t> weight,
                                      Shape &result) {
  if (ids.size() != 2 || isDynamic(ids[1]) || ids[1] <= 0)
    return llvm::formatv("embedding input must be token ids [N, L] with static "
                         "L, found {0}",
                         shapeToString(ids));
  if (weight.size() != 2 || isDynamic(weight[0]) || isDynamic(weight[1]) || weight[0] <= 0 ||
      weight[1] <= 0)
    return llvm::formatv("embedding weight must be [num_embeddings, "
                         "embedding_dim], found {0}",
                         shapeToString(weight));
  if (std::string err = checkBufferSize(weight, "embedding weight"); !err.empty())
    return err;
  result = {ids[0], weight[1], 1, ids[1]};
  return checkBufferSize(result, "embedding output");
}

std::string cnnc::cnn::inferKMaxPool(ArrayRef<int64_t> input, int64_t k, Shape &result) {
  if (std::string err = checkActivation4D(input, "kmax_pool input"); !err.empty())
    return err;
  int64_t length = (Checked(input[2]) * input[3]).saturated();
  if (k < 1 || k > length)
    return llvm::formatv("kmax_pool k must be in [1, H*W = {0}], found {1}", length, k);
  result = {input[0], input[1], 1, k};
  return "";
}

std::string cnnc::cnn::checkReshape(ArrayRef<int64_t> from, ArrayRef<int64_t> to) {
  auto count = [](ArrayRef<int64_t> s, bool &dynamic) {
    dynamic = llvm::any_of(s, isDynamic);
    return limits::productOfStatic(s);
  };
  bool dynFrom, dynTo;
  Checked a = count(from, dynFrom), b = count(to, dynTo);
  if (!a.ok() || !b.ok() || a.value() != b.value() || dynFrom != dynTo)
    return llvm::formatv("reshape must keep the number of elements, found {0} "
                         "-> {1}",
                         shapeToString(from), shapeToString(to));
  return "";
}

std::string cnnc::cnn::checkBroadcast(ArrayRef<int64_t> lhs, ArrayRef<int64_t> rhs) {
  bool ok = rhs.size() <= lhs.size();
  for (size_t i = 0; ok && i < rhs.size(); ++i) {
    int64_t r = rhs[rhs.size() - 1 - i], l = lhs[lhs.size() - 1 - i];
    ok = r == 1 || r == l;
  }
  if (!ok)
    return llvm::formatv("{0} does not broadcast to {1}: its dimensions must match the last "
                         "ones of the other operand, each equal or 1",
                         shapeToString(rhs), shapeToString(lhs));
  return "";
}

std::string cnnc::cnn::checkUpsample(ArrayRef<int64_t> input, ArrayRef<int64_t> result) {
  if (std::string err = checkActivation4D(input, "input"); !err.empty())
    return err;
  if (result.size() != 4 || result[0] != input[0] || result[1] != input[1] ||
      result[2] < input[2] || result[3] < input[3])
    return llvm::formatv("upsampling {0} must give [N, C, H', W'] with H' >= {1} and W' >= "
                         "{2}, found {3}",
                         shapeToString(input), input[2], input[3], shapeToString(result));
  return checkBufferSize(result, "upsampling output");
}
