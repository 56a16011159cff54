//===- KernelStages.h - what a schedule needs to know of a kernel -*- C++ -*-===//
//
// The lowering's record of one kernel: the Funcs of its anchor op (conv,
// dense, pooling, softmax, ...), its inputs and its output Func, with their
// static extents. The lowering fills it; the schedulers of compiler/Schedule
// read it and are the only code that calls split / vectorize / gpu_tile /
// compute_at.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_LOWERING_HALIDE_KERNELSTAGES_H
#define CNNC_LOWERING_HALIDE_KERNELSTAGES_H

#include "compiler/Lowering/Halide/Algorithms.h"

#include <optional>
#include <vector>

namespace cnnc::halide {

struct KernelStages {
  std::optional<ConvStages> conv;
  std::optional<DenseStages> dense;
  std::optional<PoolStages> pool;
  std::optional<SoftmaxStages> softmax;
  std::optional<ConvGradWeightStages> convGradWeight;
  std::optional<VectorReduction> vectorReduction;
  /// k-max pooling or its gradient: selection computed per output plane.
  std::optional<KMaxStages> kmax;
  /// An embedding lookup (its embedding dimension, else 0): vectorized over
  /// the channels, so each token's row is one contiguous load.
  int embeddingDim = 0;
  /// The embedding table's gradient (a scatter-add).
  std::optional<EmbeddingGradStages> embeddingGrad;
  /// A gradient's squared norm (clipping): its partial sums, computed at
  /// the root (their total is one of `reductions`).
  std::optional<SumSquaresStages> sumSquares;
  /// Other reductions (global pooling, batch statistics, losses): small
  /// results computed once, at the root, before the output.
  std::vector<Halide::Func> reductions;
  /// Pure 4-D Funcs computed once at the root before the output (e.g. max
  /// pooling's per-window winners), with the extent of their dimension 0.
  std::vector<std::pair<Halide::Func, int>> rootPlanes;
  /// Per-channel sums (batch statistics, batch-norm and bias gradients),
  /// each with its reduction domain: computed once at the root.
  std::vector<ChannelSum> channelSums;
  /// The kernel's output: a pure Func over (x, y, c, n), (f, n) or, for
  /// parameter kernels, over the parameter's dims.
  Halide::Func output;
  /// Static extents of the output in Halide order (innermost first); the
  /// batch (last, for activations) is -1.
  std::vector<int> outputExtents;
  /// Further outputs of a group with several results (an optimizer update:
  /// new state values), each with its extents; computed before `output`.
  std::vector<Halide::Func> extraOutputs;
  std::vector<std::vector<int>> extraOutputExtents;
  /// True for kernels over parameters only (run once at load time).
  bool overParameters = false;
  /// The input parameters of the pipeline (activations and weights).
  std::vector<Halide::ImageParam> inputs;
  /// Static extents of each input in Halide order; the batch is -1.
  std::vector<std::vector<int>> inputExtents;
};

/// Every output of the kernel, `output` last (the order of the pipeline's
/// output buffers: results of a group in yield order).
inline std::vector<Halide::Func> outputsOf(const KernelStages &kernel) {
  std::vector<Halide::Func> outputs = kernel.extraOutputs;
  outputs.push_back(kernel.output);
  return outputs;
}

} // namespace cnnc::halide

#endif
