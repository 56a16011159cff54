//===- ShapeInference.cpp - shape functions of the cnn ops ----------------===//
//
// Implements ShapeInference.h. Dimensions are outermost first; the batch may
// be ShapedType::kDynamic and is carried through unchanged.
//
//===----------------------------------------------------------------------===//
#include "compiler/Dialect/CNN/IR/ShapeInference.h"

#include "mlir/IR/BuiltinTypeInterfaces.h"
#include "llvm/Support/FormatVariadic.h"

using namespace cnnc::cnn;
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

std::string cnnc::cnn::checkActivation4D(ArrayRef<int64_t> shape, llvm::StringRef what) {
  if (shape.size() != 4)
    return llvm::formatv("{0} must be a 4-D activation [N, C, H, W], found {1}", what,
                         shapeToString(shape));
  for (int i = 1; i < 4; ++i)
    if (isDynamic(shape[i]) || shape[i] <= 0)
      return llvm::formatv("{0} must have static positive C, H, W, found {1}", what,
                           shapeToString(shape));
  return "";
}

static std::string checkWindow(const Window &w) {
  for (int i = 0; i < 2; ++i) {
    if (w.kernel[i] < 1)
      return llvm::formatv("kernel size must be >= 1, found {0}", w.kernel[i]);
    if (w.stride[i] < 1)
      return llvm::formatv("stride must be >= 1, found {0}", w.stride[i]);
    if (w.dilation[i] < 1)
      return llvm::formatv("dilation must be >= 1, found {0}", w.dilation[i]);
  }
  for (int i = 0; i < 4; ++i)
    if (w.padding[i] < 0)
      return llvm::formatv("padding must be >= 0, found {0}", w.padding[i]);
  return "";
}

/// Spatial output sizes of a window op, or an error naming the dimension.
static std::string windowOutput(ArrayRef<int64_t> input, const Window &w, int64_t &outH,
                                int64_t &outW) {
  if (std::string err = checkWindow(w); !err.empty())
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
  Window w = window;
  w.kernel[0] = weight[2];
  w.kernel[1] = weight[3];
  w.ceilMode = false;
  int64_t outH, outW;
  if (std::string err = windowOutput(input, w, outH, outW); !err.empty())
    return err;
  result = {input[0], outChannels, outH, outW};
  return "";
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
  int64_t channels = input[1], outChannels = weight[1] * groups;
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
    out[i] = (input[2 + i] - 1) * w.stride[i] - w.padding[i] - w.padding[i + 2] + w.span(i) +
             w.outputPadding[i];
    if (out[i] <= 0)
      return llvm::formatv("conv_transpose2d output {0} would be {1}: the "
                           "padding ({2} + {3}) removes more than the "
                           "upsampled input provides",
                           i == 0 ? "height" : "width", out[i], w.padding[i], w.padding[i + 2]);
  }
  result = {input[0], outChannels, out[0], out[1]};
  return "";
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
  if (size < 1)
    return llvm::formatv("local_response_norm size must be >= 1, found {0}", size);
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
  return "";
}

std::string cnnc::cnn::inferDense(ArrayRef<int64_t> input, ArrayRef<int64_t> weight,
                                  const int64_t *biasShape, size_t biasRank, Shape &result) {
  if (input.size() != 2 || isDynamic(input[1]))
    return llvm::formatv("dense input must be [N, F] with static F (flatten a "
                         "4-D activation first), found {0}",
                         shapeToString(input));
  if (weight.size() != 2)
    return llvm::formatv("dense weight must be [out, in], found {0}", shapeToString(weight));
  if (weight[1] != input[1])
    return llvm::formatv("dense weight {0} expects {1} input features, found {2}",
                         shapeToString(weight), weight[1], input[1]);
  if (biasShape && (biasRank != 1 || biasShape[0] != weight[0]))
    return llvm::formatv("dense bias must be [{0}], found {1}", weight[0],
                         shapeToString(ArrayRef<int64_t>(biasShape, biasRank)));
  result = {input[0], weight[0]};
  return "";
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
  return "";
}

std::string cnnc::cnn::inferConcat(ArrayRef<ArrayRef<int64_t>> inputs, Shape &result) {
  if (inputs.empty())
    return "concat needs at least one input";
  ArrayRef<int64_t> first = inputs[0];
  if (first.size() < 2)
    return llvm::formatv("concat inputs must have a channel dimension, found {0}",
                         shapeToString(first));
  int64_t channels = 0;
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
  result.assign(first.begin(), first.end());
  result[1] = channels;
  return "";
}

std::string cnnc::cnn::inferFlatten(ArrayRef<int64_t> input, Shape &result) {
  if (input.size() < 2)
    return llvm::formatv("flatten input must have rank >= 2, found {0}", shapeToString(input));
  int64_t features = 1;
  for (size_t d = 1; d < input.size(); ++d) {
    if (isDynamic(input[d]))
      return llvm::formatv("flatten input must be static beyond the batch, "
                           "found {0}",
                           shapeToString(input));
    features *= input[d];
  }
  result = {input[0], features};
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
  result = {ids[0], weight[1], 1, ids[1]};
  return "";
}

std::string cnnc::cnn::inferKMaxPool(ArrayRef<int64_t> input, int64_t k, Shape &result) {
  if (std::string err = checkActivation4D(input, "kmax_pool input"); !err.empty())
    return err;
  int64_t length = input[2] * input[3];
  if (k < 1 || k > length)
    return llvm::formatv("kmax_pool k must be in [1, H*W = {0}], found {1}", length, k);
  result = {input[0], input[1], 1, k};
  return "";
}

std::string cnnc::cnn::checkReshape(ArrayRef<int64_t> from, ArrayRef<int64_t> to) {
  auto count = [](ArrayRef<int64_t> s, bool &dynamic) {
    int64_t n = 1;
    dynamic = false;
    for (int64_t d : s)
      isDynamic(d) ? void(dynamic = true) : void(n *= d);
    return n;
  };
  bool dynFrom, dynTo;
  int64_t a = count(from, dynFrom), b = count(to, dynTo);
  if (a != b || dynFrom != dynTo)
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
  return "";
}
