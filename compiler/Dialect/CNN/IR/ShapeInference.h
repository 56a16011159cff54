//===- ShapeInference.h - shape functions of the cnn ops --------*- C++ -*-===//
//
// One shape function per op family, over plain dimension lists (outermost
// first, ShapedType::kDynamic for the run-time batch). The op verifiers and
// the frontends' graph builder both call them, so a shape error is reported
// once, with the same words, whether it comes from IR text or from a model
// file. Each returns an empty string on success, or what was expected and
// what was found. Sizes are computed with overflow-checked arithmetic, and
// every tensor they check or infer must fit the limits of Limits.h.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_DIALECT_CNN_IR_SHAPEINFERENCE_H
#define CNNC_DIALECT_CNN_IR_SHAPEINFERENCE_H

#include "compiler/Dialect/CNN/IR/Window.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include <cstdint>
#include <string>

namespace cnnc::cnn {

using Shape = llvm::SmallVector<int64_t, 4>;

/// Renders a shape as `[?, 32, 26, 26]`.
std::string shapeToString(llvm::ArrayRef<int64_t> shape);

/// Checks that a tensor of `shape` (`what`, e.g. "conv2d weight") can be a
/// buffer: at most limits::kMaxBufferElements elements per batch item (a
/// dynamic dimension is the batch). Dimensions are positive.
std::string checkBufferSize(llvm::ArrayRef<int64_t> shape, llvm::StringRef what);

/// Checks that `shape` is an activation [N, C, H, W] with static C, H, W
/// that can be a buffer (checkBufferSize).
std::string checkActivation4D(llvm::ArrayRef<int64_t> shape, llvm::StringRef what);

/// conv2d: input [N,C,H,W], weight [O, C/groups, kh, kw], optional bias [O];
/// the window's kernel is the weight's.
std::string inferConv2D(llvm::ArrayRef<int64_t> input, llvm::ArrayRef<int64_t> weight,
                        const int64_t *biasShape, size_t biasRank, const Window &window,
                        int64_t groups, Shape &result);

/// conv_transpose2d: input [N,C,H,W], weight [C, O/groups, kh, kw], optional
/// bias [O]; the window's kernel is the weight's, its output padding must be
/// smaller than the stride.
std::string inferConvTranspose2D(llvm::ArrayRef<int64_t> input, llvm::ArrayRef<int64_t> weight,
                                 const int64_t *biasShape, size_t biasRank, const Window &window,
                                 int64_t groups, Shape &result);

/// A connection table (one list of input channels per output channel) for a
/// layer with `inChannels` inputs and `outChannels` outputs: every list
/// non-empty, channels in range, no duplicates. On error `badRow` is the
/// offending output channel (-1: the table as a whole). `connections`
/// receives the total number of connections.
std::string checkConnectionTable(llvm::ArrayRef<llvm::ArrayRef<int64_t>> table, int64_t inChannels,
                                 int64_t outChannels, int64_t &connections, int &badRow);

/// scatter_connections: compact [K, kh, kw] and dense [O, C, kh, kw] weights
/// agree with the table.
std::string checkScatterConnections(llvm::ArrayRef<int64_t> compact, llvm::ArrayRef<int64_t> dense,
                                    llvm::ArrayRef<llvm::ArrayRef<int64_t>> table);

/// position_bias: input [N, C, H, W], bias [C, H, W].
std::string inferPositionBias(llvm::ArrayRef<int64_t> input, llvm::ArrayRef<int64_t> bias,
                              Shape &result);

/// local_response_norm: a 4-D activation, size >= 1, alpha, beta >= 0, k > 0.
std::string checkLocalResponseNorm(llvm::ArrayRef<int64_t> input, int64_t size, double alpha,
                                   double beta, double k);

/// max/avg pooling: input [N,C,H,W].
std::string inferPool2D(llvm::ArrayRef<int64_t> input, const Window &window, Shape &result);

/// dense: input [N, F], weight [O, F], optional bias [O].
std::string inferDense(llvm::ArrayRef<int64_t> input, llvm::ArrayRef<int64_t> weight,
                       const int64_t *biasShape, size_t biasRank, Shape &result);

/// batch_norm: input [N,C,...], four vectors [C].
std::string inferBatchNorm(llvm::ArrayRef<int64_t> input,
                           llvm::ArrayRef<llvm::ArrayRef<int64_t>> vectors, Shape &result);

/// concat along dim 1.
std::string inferConcat(llvm::ArrayRef<llvm::ArrayRef<int64_t>> inputs, Shape &result);

/// flatten: [N, d1, d2, ...] -> [N, d1*d2*...].
std::string inferFlatten(llvm::ArrayRef<int64_t> input, Shape &result);

/// add: both operands must have the same shape.
std::string checkSameShape(llvm::ArrayRef<int64_t> lhs, llvm::ArrayRef<int64_t> rhs);

/// Checks that `shape` is a sequence [N, C, 1, L] (the input of conv1d and
/// the 1-D pooling ops).
std::string checkSequence(llvm::ArrayRef<int64_t> shape, llvm::StringRef what);

/// embedding: ids [N, L], table [V, E] -> [N, E, 1, L].
std::string inferEmbedding(llvm::ArrayRef<int64_t> ids, llvm::ArrayRef<int64_t> weight,
                           Shape &result);

/// kmax_pool: input [N, C, H, W], 1 <= k <= H*W -> [N, C, 1, k].
std::string inferKMaxPool(llvm::ArrayRef<int64_t> input, int64_t k, Shape &result);

/// reshape: the same number of elements, a dynamic batch on both sides or none.
std::string checkReshape(llvm::ArrayRef<int64_t> from, llvm::ArrayRef<int64_t> to);

/// add / sub / mul / div: `rhs` broadcasts to `lhs` as in NumPy (aligned
/// with lhs's last dimensions, each 1 or equal; a dynamic batch matches a
/// dynamic batch or 1).
std::string checkBroadcast(llvm::ArrayRef<int64_t> lhs, llvm::ArrayRef<int64_t> rhs);

/// upsample: [N, C, H, W] -> [N, C, H', W'] with H' >= H, W' >= W.
std::string checkUpsample(llvm::ArrayRef<int64_t> input, llvm::ArrayRef<int64_t> result);

} // namespace cnnc::cnn

#endif
