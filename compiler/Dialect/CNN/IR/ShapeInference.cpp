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

std::string cnnc::cnn::checkActivation4D(ArrayRef<int64_t> shape,
                                         llvm::StringRef what) {
  if (shape.size() != 4)
    return llvm::formatv("{0} must be a 4-D activation [N, C, H, W], found {1}",
                         what, shapeToString(shape));
  for (int i = 1; i < 4; ++i)
    if (isDynamic(shape[i]) || shape[i] <= 0)
      return llvm::formatv("{0} must have static positive C, H, W, found {1}",
                           what, shapeToString(shape));
  return "";
}

int64_t cnnc::cnn::windowOutputSize(int64_t in, int64_t kernel, int64_t stride,
                                    int64_t dilation, int64_t padBegin,
                                    int64_t padEnd, bool ceilMode) {
  int64_t span = dilation * (kernel - 1) + 1;
  int64_t room = in + padBegin + padEnd - span;
  if (room < 0)
    return 0;
  int64_t out = (ceilMode ? (room + stride - 1) / stride : room / stride) + 1;
  // PyTorch: the last window must start inside the input or its left padding.
  if (ceilMode && (out - 1) * stride >= in + padBegin)
    --out;
  return out;
}

static std::string checkWindow(const Window2D &w) {
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
static std::string windowOutput(ArrayRef<int64_t> input, const Window2D &w,
                                int64_t &outH, int64_t &outW) {
  if (std::string err = checkWindow(w); !err.empty())
    return err;
  int64_t out[2];
  for (int i = 0; i < 2; ++i) {
    int64_t in = input[2 + i];
    out[i] = windowOutputSize(in, w.kernel[i], w.stride[i], w.dilation[i],
                              w.padding[i], w.padding[i + 2], w.ceilMode);
    if (out[i] <= 0)
      return llvm::formatv(
          "window of {0} {1} (kernel {2}, dilation {3}) is larger than the "
          "padded input {0} {4} (input {5} + padding {6} + {7})",
          i == 0 ? "height" : "width", w.dilation[i] * (w.kernel[i] - 1) + 1,
          w.kernel[i], w.dilation[i],
          in + w.padding[i] + w.padding[i + 2], in, w.padding[i],
          w.padding[i + 2]);
  }
  outH = out[0];
  outW = out[1];
  return "";
}

std::string cnnc::cnn::inferConv2D(ArrayRef<int64_t> input,
                                   ArrayRef<int64_t> weight,
                                   const int64_t *biasShape, size_t biasRank,
                                   const Window2D &window, int64_t groups,
                                   Shape &result) {
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
  Window2D w = window;
  w.kernel[0] = weight[2];
  w.kernel[1] = weight[3];
  w.ceilMode = false;
  int64_t outH, outW;
  if (std::string err = windowOutput(input, w, outH, outW); !err.empty())
    return err;
  result = {input[0], outChannels, outH, outW};
  return "";
}

std::string cnnc::cnn::inferPool2D(ArrayRef<int64_t> input,
                                   const Window2D &window, Shape &result) {
  if (std::string err = checkActivation4D(input, "pooling input"); !err.empty())
    return err;
  for (int i = 0; i < 2; ++i)
    if (window.padding[i] * 2 > window.kernel[i] ||
        window.padding[i + 2] * 2 > window.kernel[i])
      return llvm::formatv("pooling padding must be at most half the kernel "
                           "size ({0}), found {1}",
                           window.kernel[i],
                           std::max(window.padding[i], window.padding[i + 2]));
  int64_t outH, outW;
  if (std::string err = windowOutput(input, window, outH, outW); !err.empty())
    return err;
  result = {input[0], input[1], outH, outW};
  return "";
}

std::string cnnc::cnn::inferDense(ArrayRef<int64_t> input,
                                  ArrayRef<int64_t> weight,
                                  const int64_t *biasShape, size_t biasRank,
                                  Shape &result) {
  if (input.size() != 2 || isDynamic(input[1]))
    return llvm::formatv("dense input must be [N, F] with static F (flatten a "
                         "4-D activation first), found {0}",
                         shapeToString(input));
  if (weight.size() != 2)
    return llvm::formatv("dense weight must be [out, in], found {0}",
                         shapeToString(weight));
  if (weight[1] != input[1])
    return llvm::formatv("dense weight {0} expects {1} input features, found {2}",
                         shapeToString(weight), weight[1], input[1]);
  if (biasShape && (biasRank != 1 || biasShape[0] != weight[0]))
    return llvm::formatv("dense bias must be [{0}], found {1}", weight[0],
                         shapeToString(ArrayRef<int64_t>(biasShape, biasRank)));
  result = {input[0], weight[0]};
  return "";
}

std::string
cnnc::cnn::inferBatchNorm(ArrayRef<int64_t> input,
                          ArrayRef<ArrayRef<int64_t>> vectors, Shape &result) {
  if ((input.size() != 4 && input.size() != 2) || isDynamic(input[1]))
    return llvm::formatv("batch_norm input must be [N, C, H, W] or [N, C], "
                         "found {0}",
                         shapeToString(input));
  for (ArrayRef<int64_t> v : vectors)
    if (v.size() != 1 || v[0] != input[1])
      return llvm::formatv("batch_norm parameters must be [{0}], found {1}",
                           input[1], shapeToString(v));
  result.assign(input.begin(), input.end());
  return "";
}

std::string cnnc::cnn::inferConcat(ArrayRef<ArrayRef<int64_t>> inputs,
                                   Shape &result) {
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
    return llvm::formatv("flatten input must have rank >= 2, found {0}",
                         shapeToString(input));
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

std::string cnnc::cnn::checkSameShape(ArrayRef<int64_t> lhs,
                                      ArrayRef<int64_t> rhs) {
  if (lhs != rhs)
    return llvm::formatv("operands must have the same shape, found {0} and {1}",
                         shapeToString(lhs), shapeToString(rhs));
  return "";
}
