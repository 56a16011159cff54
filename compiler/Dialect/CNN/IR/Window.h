//===- Window.h - the window of a convolution or pooling op -----*- C++ -*-===//
//
// One description of the 2-D window every conv and pooling op slides over
// its input: kernel, stride and dilation as [h, w], padding as
// [top, left, bottom, right], PyTorch's ceil mode, and a transposed
// convolution's output padding. makeWindow builds it from a layer's
// settings, resolving the padding modes valid / same / full against the
// input size; readWindow (WindowAttrs.h) reads it back from an op's
// attributes. Plain C++ only (no MLIR, no LLVM), so code that must not see
// MLIR, such as the Halide algorithms, can use it too. Sizes are computed
// with overflow-checked arithmetic (Limits.h): settings beyond
// limits::kMaxExtent are left for the shape functions to refuse.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_DIALECT_CNN_IR_WINDOW_H
#define CNNC_DIALECT_CNN_IR_WINDOW_H

#include "compiler/Dialect/CNN/IR/Limits.h"

#include <algorithm>
#include <array>
#include <cstdint>

namespace cnnc::cnn {

/// How a layer gives its padding: explicit sizes, or a mode resolved against
/// the input: `valid` pads nothing ("narrow"), `full` pads the
/// dilated kernel size - 1 on every side ("wide"), `same` keeps
/// ceil(input / stride) outputs, the odd pixel going to the bottom/right.
enum class PaddingMode { Explicit, Valid, Same, Full };

/// A padding setting: `pads` ([top, left, bottom, right]) counts only when
/// the mode is Explicit.
struct Padding {
  PaddingMode mode = PaddingMode::Explicit;
  std::array<int64_t, 4> pads = {0, 0, 0, 0};
};

/// The window of a conv or pooling op. Index 0 is the height, 1 the width.
struct Window {
  std::array<int64_t, 2> kernel = {1, 1};
  std::array<int64_t, 2> stride = {1, 1};
  std::array<int64_t, 2> dilation = {1, 1};
  std::array<int64_t, 4> padding = {0, 0, 0, 0}; ///< top, left, bottom, right
  bool ceilMode = false;                         ///< pooling: round the output size up
  /// conv_transpose2d: rows / columns added at the bottom / right of the
  /// output (smaller than the stride).
  std::array<int64_t, 2> outputPadding = {0, 0};

  /// The extent of the dilated kernel along dimension `i`.
  int64_t span(int i) const { return dilation[i] * (kernel[i] - 1) + 1; }
};

/// Whether `v` is a size the kernels can index: 1 <= v <= limits::kMaxExtent.
inline bool isIndexableSize(int64_t v) { return v >= 1 && v <= limits::kMaxExtent; }

/// The window of `kernel` x `dilation` sliding with `stride` over an input
/// of spatial size `input` ([H, W]), with `padding` resolved to sizes. A
/// mode is resolved only along a dimension whose input, kernel, stride and
/// dilation are indexable sizes (else the padding stays as given, and the
/// shape function refuses the setting), so no intermediate overflows.
inline Window makeWindow(std::array<int64_t, 2> input, std::array<int64_t, 2> kernel,
                         std::array<int64_t, 2> stride, std::array<int64_t, 2> dilation,
                         const Padding &padding, bool ceilMode = false) {
  Window w;
  w.kernel = kernel;
  w.stride = stride;
  w.dilation = dilation;
  w.ceilMode = ceilMode;
  w.padding = padding.pads;
  for (int i = 0; i < 2; ++i) {
    if (padding.mode == PaddingMode::Explicit)
      continue;
    if (!isIndexableSize(input[i]) || !isIndexableSize(kernel[i]) || !isIndexableSize(stride[i]) ||
        !isIndexableSize(dilation[i]))
      continue;
    // Each factor is below 2^31, so these fit in 64 bits.
    int64_t span = w.span(i);
    switch (padding.mode) {
    case PaddingMode::Explicit:
      break;
    case PaddingMode::Valid:
      w.padding[i] = w.padding[i + 2] = 0;
      break;
    case PaddingMode::Full:
      w.padding[i] = w.padding[i + 2] = span - 1;
      break;
    case PaddingMode::Same: {
      int64_t out = (input[i] + stride[i] - 1) / stride[i];
      int64_t total = std::max<int64_t>((out - 1) * stride[i] + span - input[i], 0);
      w.padding[i] = total / 2;
      w.padding[i + 2] = total - total / 2;
      break;
    }
    }
  }
  return w;
}

/// Output size of one dimension of a window op; <= 0 when the window does
/// not fit, or when a size overflows 64-bit arithmetic. PyTorch's floor
/// rule, or with `ceilMode` its ceil rule (the last window must start inside
/// the input or its left padding).
inline int64_t windowOutputSize(int64_t in, int64_t kernel, int64_t stride, int64_t dilation,
                                int64_t padBegin, int64_t padEnd, bool ceilMode) {
  using limits::Checked;
  if (stride < 1)
    return 0;
  Checked span = Checked(dilation) * (Checked(kernel) - 1) + 1;
  Checked room = Checked(in) + padBegin + padEnd - span;
  if (!room.ok() || room.value() < 0)
    return 0;
  Checked out = (ceilMode ? (room + stride - 1) / stride : room / stride) + 1;
  if (!out.ok())
    return 0;
  if (ceilMode) {
    Checked lastStart = (out - 1) * stride, inputEnd = Checked(in) + padBegin;
    if (lastStart.ok() && inputEnd.ok() && lastStart.value() >= inputEnd.value())
      out = out - 1;
  }
  return out.valueOr(0);
}

} // namespace cnnc::cnn

#endif
