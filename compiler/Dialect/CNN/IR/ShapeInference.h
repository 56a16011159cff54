//===- ShapeInference.h - shape functions of the cnn ops --------*- C++ -*-===//
//
// One shape function per op family, over plain dimension lists (outermost
// first, ShapedType::kDynamic for the run-time batch). The op verifiers and
// the YAML frontend both call them, so a shape error is reported once, with
// the same words, whether it comes from IR text or from a model file. Each
// returns an empty string on success, or what was expected and what was found.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_DIALECT_CNN_IR_SHAPEINFERENCE_H
#define CNNC_DIALECT_CNN_IR_SHAPEINFERENCE_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include <cstdint>
#include <string>

namespace cnnc::cnn {

using Shape = llvm::SmallVector<int64_t, 4>;

/// Renders a shape as `[?, 32, 26, 26]`.
std::string shapeToString(llvm::ArrayRef<int64_t> shape);

/// Attributes of a 2-D window op (conv or pool): [h, w] pairs and padding
/// [top, left, bottom, right].
struct Window2D {
  int64_t kernel[2] = {1, 1};
  int64_t stride[2] = {1, 1};
  int64_t dilation[2] = {1, 1};
  int64_t padding[4] = {0, 0, 0, 0};
  bool ceilMode = false;
};

/// Checks that `shape` is an activation [N, C, H, W] with static C, H, W.
std::string checkActivation4D(llvm::ArrayRef<int64_t> shape, llvm::StringRef what);

/// Output spatial size of one dimension of a window op; returns <= 0 on
/// an empty output. Implements PyTorch's floor/ceil rule.
int64_t windowOutputSize(int64_t in, int64_t kernel, int64_t stride,
                         int64_t dilation, int64_t padBegin, int64_t padEnd,
                         bool ceilMode);

/// conv2d: input [N,C,H,W], weight [O, C/groups, kh, kw], optional bias [O].
std::string inferConv2D(llvm::ArrayRef<int64_t> input,
                        llvm::ArrayRef<int64_t> weight,
                        const int64_t *biasShape, size_t biasRank,
                        const Window2D &window, int64_t groups, Shape &result);

/// max/avg pooling: input [N,C,H,W].
std::string inferPool2D(llvm::ArrayRef<int64_t> input, const Window2D &window,
                        Shape &result);

/// dense: input [N, F], weight [O, F], optional bias [O].
std::string inferDense(llvm::ArrayRef<int64_t> input,
                       llvm::ArrayRef<int64_t> weight,
                       const int64_t *biasShape, size_t biasRank,
                       Shape &result);

/// batch_norm: input [N,C,...], four vectors [C].
std::string inferBatchNorm(llvm::ArrayRef<int64_t> input,
                           llvm::ArrayRef<llvm::ArrayRef<int64_t>> vectors,
                           Shape &result);

/// concat along dim 1.
std::string inferConcat(llvm::ArrayRef<llvm::ArrayRef<int64_t>> inputs,
                        Shape &result);

/// flatten: [N, d1, d2, ...] -> [N, d1*d2*...].
std::string inferFlatten(llvm::ArrayRef<int64_t> input, Shape &result);

/// add: both operands must have the same shape.
std::string checkSameShape(llvm::ArrayRef<int64_t> lhs,
                           llvm::ArrayRef<int64_t> rhs);

} // namespace cnnc::cnn

#endif
