//===- WindowAttrs.h - the window of a windowed cnn op ----------*- C++ -*-===//
//
// Reads the Window (Window.h) of any cnn op that slides a window over its
// input: conv2d, conv_transpose2d, conv2d_grad_input, conv2d_grad_weight,
// max/avg/min/l2_pool2d and their gradients. readWindow works on an op or
// on its adaptor, so the verifiers (inferReturnTypes, which have only an
// adaptor) and the passes read the attributes the same way; windowOf is the
// same for an Operation of any of these kinds.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_DIALECT_CNN_IR_WINDOWATTRS_H
#define CNNC_DIALECT_CNN_IR_WINDOWATTRS_H

#include "compiler/Dialect/CNN/IR/CNNDialect.h"
#include "compiler/Dialect/CNN/IR/Window.h"

#include "llvm/ADT/STLExtras.h"

#include <optional>
#include <string>
#include <utility>

namespace cnnc::cnn {

namespace window_detail {
// The getters that some windowed ops and adaptors lack, for llvm::is_detected.
template <typename T> using GetKernel = decltype(std::declval<T &>().getKernel());
template <typename T> using GetWeight = decltype(std::declval<T &>().getWeight());
template <typename T> using GetDilation = decltype(std::declval<T &>().getDilation());
template <typename T> using GetOutputPadding = decltype(std::declval<T &>().getOutputPadding());
template <typename T> using GetCeilMode = decltype(std::declval<T &>().getCeilMode());

/// Copies `values` into `out`, or says that the attribute `name` has the
/// wrong number of values.
template <size_t N>
std::string copyValues(llvm::ArrayRef<int64_t> values, llvm::StringRef name,
                       std::array<int64_t, N> &out) {
  if (values.size() != N)
    return (name + " must have " + std::to_string(N) + " values, found " +
            std::to_string(values.size()))
        .str();
  std::copy(values.begin(), values.end(), out.begin());
  return "";
}

/// The kernel [kh, kw] of an OIHW-like 4-D shape (a conv weight or weight
/// gradient); left as is for another rank, which the shape functions report.
inline void kernelOf(mlir::Type type, std::array<int64_t, 2> &kernel) {
  auto shape = llvm::cast<mlir::RankedTensorType>(type).getShape();
  if (shape.size() == 4)
    kernel = {shape[2], shape[3]};
}
} // namespace window_detail

/// Reads the window of a windowed cnn op or of its adaptor into `window`.
/// Pooling ops give `kernel`; convolutions take it from their weight (the
/// result, for conv2d_grad_weight). Attributes an op lacks keep their
/// defaults (dilation 1, no ceil mode, no output padding). Returns an error
/// when a list attribute has the wrong number of values, checked in the
/// order kernel, stride, dilation, output_padding, padding.
template <typename OpOrAdaptor> std::string readWindow(OpOrAdaptor op, Window &window) {
  using namespace window_detail;
  std::string err;
  if constexpr (llvm::is_detected<GetKernel, OpOrAdaptor>::value)
    err = copyValues(op.getKernel(), "kernel", window.kernel);
  else if constexpr (llvm::is_detected<GetWeight, OpOrAdaptor>::value)
    kernelOf(op.getWeight().getType(), window.kernel);
  else
    kernelOf(op.getResult().getType(), window.kernel);
  if (err.empty())
    err = copyValues(op.getStride(), "stride", window.stride);
  if constexpr (llvm::is_detected<GetDilation, OpOrAdaptor>::value)
    if (err.empty())
      err = copyValues(op.getDilation(), "dilation", window.dilation);
  if constexpr (llvm::is_detected<GetOutputPadding, OpOrAdaptor>::value)
    if (err.empty())
      err = copyValues(op.getOutputPadding(), "output_padding", window.outputPadding);
  if (err.empty())
    err = copyValues(op.getPadding(), "padding [top, left, bottom, right]", window.padding);
  if constexpr (llvm::is_detected<GetCeilMode, OpOrAdaptor>::value)
    window.ceilMode = op.getCeilMode();
  return err;
}

/// The window of a verified windowed op; nullopt for any other op.
std::optional<Window> windowOf(mlir::Operation *op);

} // namespace cnnc::cnn

#endif
