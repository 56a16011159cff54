//===- window_test.cpp - the conv/pool window description -----------------===//
//
// Tests makeWindow's padding modes (valid, full, same with TensorFlow's
// split, explicit) and windowOutputSize's floor and ceil rules against
// PyTorch's output sizes. Window.h is plain C++, so this test needs
// neither MLIR nor Halide.
//
//===----------------------------------------------------------------------===//
#include "compiler/Dialect/CNN/IR/Window.h"

#include <gtest/gtest.h>

using namespace cnnc::cnn;

namespace {

using Pads = std::array<int64_t, 4>;

Window window(PaddingMode mode, std::array<int64_t, 2> input, std::array<int64_t, 2> kernel,
              std::array<int64_t, 2> stride, std::array<int64_t, 2> dilation = {1, 1}) {
  Padding padding;
  padding.mode = mode;
  padding.pads = {9, 9, 9, 9}; // ignored by every mode but Explicit
  return makeWindow(input, kernel, stride, dilation, padding);
}

TEST(Window, ValidPadsNothing) {
  EXPECT_EQ(window(PaddingMode::Valid, {8, 8}, {3, 3}, {1, 1}).padding, (Pads{0, 0, 0, 0}));
}

TEST(Window, FullPadsTheDilatedKernelLessOne) {
  Window w = window(PaddingMode::Full, {8, 8}, {3, 2}, {1, 1}, {2, 1});
  EXPECT_EQ(w.padding, (Pads{4, 1, 4, 1}));
  EXPECT_EQ(w.span(0), 5);
}

TEST(Window, SameKeepsCeilInputOverStrideOddPixelLast) {
  // 10 / stride 3 -> 4 outputs: (4-1)*3 + 4 - 10 = 3 pixels, 1 before, 2 after.
  Window w = window(PaddingMode::Same, {9, 10}, {2, 4}, {2, 3});
  EXPECT_EQ(w.padding, (Pads{0, 1, 1, 2}));
  for (int i = 0; i < 2; ++i) {
    int64_t in = i == 0 ? 9 : 10;
    EXPECT_EQ(windowOutputSize(in, w.kernel[i], w.stride[i], w.dilation[i], w.padding[i],
                               w.padding[i + 2], false),
              (in + w.stride[i] - 1) / w.stride[i]);
  }
}

TEST(Window, ExplicitKeepsThePads) {
  Padding padding;
  padding.pads = {1, 2, 3, 0};
  Window w = makeWindow({5, 5}, {3, 3}, {2, 2}, {1, 1}, padding, true);
  EXPECT_EQ(w.padding, (Pads{1, 2, 3, 0}));
  EXPECT_TRUE(w.ceilMode);
  EXPECT_EQ(w.outputPadding, (std::array<int64_t, 2>{0, 0}));
}

TEST(Window, OutputSizeFloorAndCeil) {
  // nn.MaxPool2d(3, stride=2, padding=1) on 9: floor 5; ceil 5 (a 6th window
  // would start in the right padding).
  EXPECT_EQ(windowOutputSize(9, 3, 2, 1, 1, 1, false), 5);
  EXPECT_EQ(windowOutputSize(9, 3, 2, 1, 1, 1, true), 5);
  // nn.MaxPool2d(2, stride=2, ceil_mode=True) on 5: 3 (floor: 2).
  EXPECT_EQ(windowOutputSize(5, 2, 2, 1, 0, 0, false), 2);
  EXPECT_EQ(windowOutputSize(5, 2, 2, 1, 0, 0, true), 3);
  // A window larger than the padded input: no output.
  EXPECT_LE(windowOutputSize(2, 3, 1, 1, 0, 0, false), 0);
}

} // namespace
