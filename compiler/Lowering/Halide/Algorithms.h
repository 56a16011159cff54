//===- Algorithms.h - Halide algorithms of the cnn ops ----------*- C++ -*-===//
//
// The algorithm half of every kernel: pure Halide definitions, no schedule
// (compiler/Schedule/ owns every split/vectorize/parallel). Activations are
// Funcs over (x, y, c, n) — Halide orders dimensions innermost first, so an
// NCHW buffer is (W, H, C, N) — or (f, n) for [N, F]. Conv weights are
// (kx, ky, ci, co), dense weights (i, o). Each algorithm returns the Funcs
// its schedule needs to name; this header knows no MLIR.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_LOWERING_HALIDE_ALGORITHMS_H
#define CNNC_LOWERING_HALIDE_ALGORITHMS_H

#include "Halide.h"
#include <array>
#include <optional>

namespace cnnc::halide {

/// The variables every activation Func is defined over.
struct Vars {
  Halide::Var x{"x"}, y{"y"}, c{"c"}, n{"n"}; // 4-D: W, H, C, N
  Halide::Var f{"f"};                         // 2-D: (f, n)
};
Vars &vars();

/// Static extents of an NCHW activation (the batch is dynamic).
struct Extent4D {
  int w = 0, h = 0, c = 0;
};

/// An activation read outside [0, w) x [0, h) gives `outside` (0 for
/// convolution and average pooling, -inf for max pooling): the padded view
/// the window ops read, materialized by their schedules.
Halide::Func paddedInput(Halide::Func input, Extent4D in, float outside, const char *name);

/// The window a conv or pooling slides over its input (x: width, y: height).
struct WindowAttrs {
  int kernelW = 1, kernelH = 1;
  int strideX = 1, strideY = 1;
  int padLeft = 0, padTop = 0, padRight = 0, padBottom = 0;
  int dilationX = 1, dilationY = 1; ///< conv, max pooling
};

struct ConvAttrs : WindowAttrs {
  int groups = 1;
  int outChannels = 1;
};

/// conv2d: `conv(x, y, co, n) = bias(co) + Σ w(kx, ky, ci, co) * in(...)`.
struct ConvStages {
  Halide::Func padded; ///< zero-padded input (undefined when no padding)
  /// What the reduction reads its input from: `padded`, or the input itself.
  Halide::Func source;
  /// The kernel as the reduction reads it, weights(kx, ky, ci, co): inlined,
  /// or materialized with co innermost by a channel-vectorized schedule.
  Halide::Func weights;
  Halide::Func conv; ///< the reduction; init = bias
  Halide::RDom r;    ///< (kx, ky, ci)
  ConvAttrs attrs;
  Extent4D input, output;
};
ConvStages convolution(Halide::Func input, Extent4D in, Halide::Func weight,
                       std::optional<Halide::Func> bias, const ConvAttrs &attrs);

/// conv_transpose2d: the input gradient of the conv2d `forward` (whose
/// output extent is `in`, the transposed conv's input) producing `out`, plus
/// a bias; scheduled like a convolution.
ConvStages convolutionTranspose(Halide::Func input, Extent4D in, Halide::Func weight,
                                std::optional<Halide::Func> bias, const ConvAttrs &forward,
                                Extent4D out);

/// scatter_connections: the dense weight (kx, ky, ci, co) of a connection
/// table (`table[co]` lists the ci read), from the compact (kx, ky, k).
Halide::Func scatterConnections(Halide::Func compact, const std::vector<std::vector<int>> &table,
                                int inChannels);
/// gather_connections: compact (kx, ky, k) = dense (kx, ky, ci, co) of the k-th connection.
Halide::Func gatherConnections(Halide::Func dense, const std::vector<std::vector<int>> &table,
                               int inChannels);

/// dense: `dense(o, n) = bias(o) + Σ_i w(i, o) * in(i, n)`, one reduction
/// over the input features `r` (contiguous in both operands).
struct DenseStages {
  Halide::Func dense;         ///< init = bias, update over r
  Halide::Func input, weight; ///< the operands the reduction reads
  Halide::RDom r;             ///< the input features
  int inFeatures = 0, outFeatures = 0;
};
DenseStages dense(Halide::Func input, int inFeatures, Halide::Func weight,
                  std::optional<Halide::Func> bias, int outFeatures);

/// Min pools like Max with +inf padding; L2 is sqrt of the window's sum of
/// squares (zero padding), scheduled like Average.
enum class PoolKind { Max, Average, Min, L2 };
struct PoolAttrs : WindowAttrs {
  PoolKind kind = PoolKind::Max;
  bool countIncludePad = true;
};
/// Windows of at most kSmallPoolWindow taps are written as one unrolled
/// pure expression (so the pool inlines into a fused conv's tile); larger
/// windows are a reduction over `r` into `pool` (max) or `sum` (average).
constexpr int kSmallPoolWindow = 9;
struct PoolStages {
  Halide::Func padded; ///< input with -inf / 0 outside (undefined when unpadded)
  Halide::Func sum;    ///< large average windows only: the window sums
  Halide::Func pool;
  Halide::RDom r; ///< large windows only: (kx, ky)
  PoolAttrs attrs;
  Extent4D input, output;
};
PoolStages pooling(Halide::Func input, Extent4D in, Extent4D out, const PoolAttrs &attrs);

/// global_avg_pool: (x, y, c, n) -> (0, 0, c, n); `sum` receives the
/// reduction Func (sum over the plane) for the schedule.
Halide::Func globalAveragePool(Halide::Func input, Extent4D in, Halide::Func &sum);

/// global_max_pool: (x, y, c, n) -> (0, 0, c, n); `best` receives the
/// reduction (the maximum of each plane) for the schedule.
Halide::Func globalMaxPool(Halide::Func input, Extent4D in, Halide::Func &best);

/// embedding: ids (t, n) -> (x = t, y = 0, c = e, n): row clamp(round(id)) of
/// the table weight (e, v) with `vocab` rows.
Halide::Func embedding(Halide::Func ids, Halide::Func weight, int vocab);

/// k-max selection over each plane's H*W values read row-major (position
/// p = y*W + x): `rank(p, c, n)` counts the values that beat p (larger, or
/// equal and earlier), so exactly the k positions of rank < k are selected;
/// `pos(p, c, n)` is the number of selected positions before p (a scan);
/// `index(j, c, n)` the position of the j-th selected value (forward only).
/// All are computed per plane of the kernel's output.
struct KMaxStages {
  Halide::Func rank, pos, index;
  Halide::RDom q; ///< rank's reduction over every position
  int length = 1, k = 1;
};
/// kmax_pool: (x = j < k, y = 0, c, n).
Halide::Func kmaxPool(Halide::Func input, Extent4D in, int k, KMaxStages &stages);

/// Element-wise ops over 4-D or 2-D activations (`rank` 4 or 2).
Halide::Func relu(Halide::Func in, int rank);
Halide::Func sigmoid(Halide::Func in, int rank);
Halide::Func tanh(Halide::Func in, int rank);
/// x where x > 0, negativeSlope·x elsewhere.
Halide::Func leakyRelu(Halide::Func in, int rank, float negativeSlope);
/// leaky_relu's gradient from its input: δ where x > 0, negativeSlope·δ elsewhere.
Halide::Func leakyReluGrad(Halide::Func input, Halide::Func grad, int rank, float negativeSlope);
/// min(max(x, 0), 6).
Halide::Func relu6(Halide::Func in, int rank);
/// relu6's gradient from its input: δ where 0 < x < 6, 0 elsewhere.
Halide::Func relu6Grad(Halide::Func input, Halide::Func grad, int rank);
/// x · min(max(x + 3, 0), 6) / 6.
Halide::Func hardswish(Halide::Func in, int rank);
/// hardswish's gradient from its input: 0 below -3, δ above 3, δ·(x/3 + 1/2) between.
Halide::Func hardswishGrad(Halide::Func input, Halide::Func grad, int rank);
/// x · sigmoid(x).
Halide::Func silu(Halide::Func in, int rank);
/// silu's gradient from its input: δ·s·(1 + x·(1 - s)), s = sigmoid(x).
Halide::Func siluGrad(Halide::Func input, Halide::Func grad, int rank);
/// min(max(x, lo), hi).
Halide::Func clip(Halide::Func in, int rank, float lo, float hi);
/// clip's gradient from its input: δ where lo < x < hi, 0 elsewhere.
Halide::Func clipGrad(Halide::Func input, Halide::Func grad, int rank, float lo, float hi);
/// min(max(alpha·x + beta, 0), 1).
Halide::Func hardSigmoid(Halide::Func in, int rank, float alpha, float beta);
/// hardsigmoid's gradient from its input: alpha·δ where 0 < alpha·x + beta < 1, 0 elsewhere.
Halide::Func hardSigmoidGrad(Halide::Func input, Halide::Func grad, int rank, float alpha,
                             float beta);
/// `in`, of shape `from`, read as a value of shape `to` (NumPy broadcasting:
/// a dimension of 1 is read at 0); `from` aligns with the last dims of `to`.
Halide::Func broadcast(Halide::Func in, const std::vector<int64_t> &from,
                       const std::vector<int64_t> &to);
/// Σ of `in` (shape `from`) down to `to`, the shape it was broadcast from;
/// `batch` is the extent of a dynamic dimension 0.
Halide::Func sumToShape(Halide::Func in, const std::vector<int64_t> &from,
                        const std::vector<int64_t> &to, Halide::Expr batch);
/// lhs op rhs element-wise, both of rank `rank` (rhs broadcast already).
Halide::Func add(Halide::Func lhs, Halide::Func rhs, int rank);
Halide::Func sub(Halide::Func lhs, Halide::Func rhs, int rank);
Halide::Func mul(Halide::Func lhs, Halide::Func rhs, int rank);
Halide::Func div(Halide::Func lhs, Halide::Func rhs, int rank);
/// scale·x + shift.
Halide::Func affine(Halide::Func in, int rank, float scale, float shift);
/// x where x > 0, slope·x elsewhere; slope has `slopes` values (1 or one
/// per channel).
Halide::Func prelu(Halide::Func in, Halide::Func slope, int rank, int slopes);
/// prelu's input gradient: δ where x > 0, slope·δ elsewhere.
Halide::Func preluGradInput(Halide::Func in, Halide::Func slope, Halide::Func grad, int rank,
                            int slopes);
/// δ·min(x, 0), whose per-channel sums are the slope's gradient.
Halide::Func preluGradSlope(Halide::Func in, Halide::Func grad, int rank);
/// Spatial upsampling of (x, y, c, n) from `in` to `out` (nearest or bilinear).
Halide::Func upsample(Halide::Func in, Extent4D inExtent, Extent4D outExtent, bool bilinear,
                      bool alignCorners);
/// Its gradient: each output's δ spread back onto the pixels it read.
Halide::Func upsampleGrad(Halide::Func grad, Extent4D inExtent, Extent4D outExtent, bool bilinear,
                          bool alignCorners);
/// `in` (extent `inExtent`) surrounded by `value`, `top` rows and `left`
/// columns before it.
Halide::Func pad(Halide::Func in, Extent4D inExtent, int top, int left, float value);
/// The window of `in` that starts `top` rows and `left` columns in.
Halide::Func crop(Halide::Func in, int top, int left);
/// Output channel c reads input channel (c mod g)·C/g + c/g.
Halide::Func channelShuffle(Halide::Func in, int channels, int groups);

/// position_bias: in(x, y, c, n) + bias(x, y, c).
Halide::Func positionBias(Halide::Func in, Halide::Func bias);
/// reduce_over_batch: Σ_n in(..., n) of a value of rank `rank` (vectorized
/// along dimension 0 by the consumer's schedule).
Halide::Func reduceOverBatch(Halide::Func in, int rank, Halide::Expr batch);

/// local_response_norm over the channels of (x, y, c, n) with `channels` channels.
Halide::Func localResponseNorm(Halide::Func in, int channels, int size, double alpha, double beta,
                               double k);
/// Its input gradient; `planes` receives the per-plane Funcs computed at
/// the root (the window sums D and δ·x·D^(-beta-1)).
Halide::Func localResponseNormGrad(Halide::Func in, Halide::Func grad, int channels, int size,
                                   double alpha, double beta, double k,
                                   std::vector<Halide::Func> &planes);

/// batch_norm (inference) over channel dim 1 of a rank-4 or rank-2 value.
Halide::Func batchNorm(Halide::Func in, int rank, Halide::Func gamma, Halide::Func beta,
                       Halide::Func mean, Halide::Func variance, float epsilon);

/// softmax over f of (f, n); `features` is the static extent of f.
struct SoftmaxStages {
  Halide::Func maximum, sum, softmax;
};
SoftmaxStages softmax(Halide::Func in, int features);

/// concat along channels of 4-D or 2-D values with the given channel counts.
Halide::Func concat(const std::vector<Halide::Func> &inputs, const std::vector<int> &channels,
                    int rank);

/// Batch-norm folding (parameters only): scale the outermost dimension of a
/// weight of rank `rank` by gamma / sqrt(variance + epsilon), and the bias.
Halide::Func bnFoldWeight(Halide::Func weight, int rank, Halide::Func gamma, Halide::Func variance,
                          float epsilon);
Halide::Func bnFoldBias(Halide::Func gamma, Halide::Func beta, Halide::Func mean,
                        Halide::Func variance, std::optional<Halide::Func> bias, float epsilon);

//===----------------------------------------------------------------------===//
// Training: gradients, statistics, losses, optimizers
//===----------------------------------------------------------------------===//

/// The Vars of a value of any rank: (x, y, c, n) for rank 4, (f, n) for
/// rank 2, (d0, ...) otherwise.
std::vector<Halide::Var> argsOf(int rank);

/// conv2d_grad_input as a stride-1 convolution of the zero-upsampled,
/// padded δ with the flipped, channel-transposed kernel; the
/// returned stages are scheduled like a forward convolution. `padded` is
/// the upsampled δ. `inputExtent` is the forward input's extent.
ConvStages convolutionGradInput(Halide::Func grad, Extent4D gradExtent, Halide::Func weight,
                                const ConvAttrs &forward, Extent4D inputExtent,
                                std::optional<Halide::Func> bias = std::nullopt);

/// conv2d_grad_weight: dW(kx, ky, ci, o) = Σ_{n,y,x} δ(x, y, o, n) · in(...),
/// one reduction over the pixels of δ and the batch.
struct ConvGradWeightStages {
  /// The input, zero outside its extent (read at every tap).
  Halide::Func inputPadded;
  /// δ as a pure copy, gradCopy(x, y, o, n), zero past the end of a row (so a
  /// schedule may sum whole vectors of a row): inlined, or materialized by a
  /// schedule in the layout it reads (e.g. output channels innermost).
  Halide::Func gradCopy;
  Halide::Func gradWeight; ///< (kx, ky, ci, o); init = 0, update over r
  Halide::RDom r;          ///< (x, y, n) over δ
  ConvAttrs attrs;
  Extent4D input, grad; ///< the forward input's and δ's extents
};
ConvGradWeightStages convolutionGradWeight(Halide::Func input, Extent4D inputExtent,
                                           Halide::Func grad, Extent4D gradExtent,
                                           const ConvAttrs &forward, int inChannelsPerGroup,
                                           Halide::Expr batch);

/// A reduction whose pure dimension 0 is contiguous and vectorizable, with
/// the reduction domain `r` (dense gradients).
struct VectorReduction {
  Halide::Func func;
  Halide::RDom r;
  int extent0 = 1;
};
/// dx(f, n) = Σ_o δ(o, n) w(f, o).
VectorReduction denseGradInput(Halide::Func grad, Halide::Func weight, int outFeatures,
                               int inFeatures);
/// dW(f, o) = Σ_n δ(o, n) x(f, n).
VectorReduction denseGradWeight(Halide::Func input, Halide::Func grad, int inFeatures,
                                Halide::Expr batch);

/// A sum per channel, `sum(c) = Σ value(x, y, c, n)` over `r` = (x, y, n)
/// for a rank-4 value (the value read as zero past the end of a row, so a
/// schedule may sum whole vectors of a row), `Σ value(c, n)` over `r` = (n)
/// for a rank-2 one.
struct ChannelSum {
  Halide::Func sum;
  Halide::RDom r;
};

/// Σ over every dimension but the channels (dim 1 in NCHW / [N, C]) of a
/// rank-4 or rank-2 value; `sum` receives the reduction for the schedule.
Halide::Func reduceToChannels(Halide::Func in, int rank, const std::vector<int> &extents,
                              Halide::Expr batch, ChannelSum &sum);

/// Gradient through relu / sigmoid / tanh from the activation's output.
Halide::Func activationGrad(const std::string &kind, Halide::Func output, Halide::Func grad,
                            int rank);

/// Max pooling's gradient: δ to the first maximum of each window (gather
/// form over the windows containing each input position). `argmax` is the
/// per-window winner, for the schedule.
Halide::Func maxPoolGrad(Halide::Func input, Extent4D in, Halide::Func grad, Extent4D out,
                         const PoolAttrs &attrs, Halide::Func &argmax);
/// min_pool2d's gradient is maxPoolGrad with attrs.kind == PoolKind::Min
/// (δ to the first minimum). L2 pooling's: x · Σ δ/y over the windows
/// containing x, skipping windows with y = 0.
Halide::Func l2PoolGrad(Halide::Func input, Extent4D in, Halide::Func output, Halide::Func grad,
                        Extent4D out, const PoolAttrs &attrs);
/// global_max_pool's gradient: δ to the first maximum of each plane;
/// `winner(c, n)` (row-major position) is the reduction for the schedule.
Halide::Func globalMaxPoolGrad(Halide::Func input, Extent4D in, Halide::Func grad,
                               Halide::Func &winner);
/// kmax_pool's gradient: δ(pos(p)) at each selected position p, else 0.
Halide::Func kmaxPoolGrad(Halide::Func input, Extent4D in, Halide::Func grad, int k,
                          KMaxStages &stages);
/// embedding's table gradient, a scatter-add: table(e, v) = 0, then
/// table(e, id(t, n)) += δ(t, 0, e, n) over (t, n) in `r`. The schedule
/// vectorizes and parallelizes over e (no two lanes or threads share a row
/// element, so no atomics are needed).
struct EmbeddingGradStages {
  Halide::Func table;
  Halide::RDom r;
  int dim = 1;
};
EmbeddingGradStages embeddingGradWeight(Halide::Func ids, Halide::Func grad, int length, int vocab,
                                        int dim, Halide::Expr batch);
/// Average pooling's gradient: δ / count spread over each window.
Halide::Func avgPoolGrad(Halide::Func grad, Extent4D in, Extent4D out, const PoolAttrs &attrs);
Halide::Func globalAvgPoolGrad(Halide::Func grad, Extent4D in);
/// y ⊙ (δ - Σ_f δ ⊙ y); `dot` receives the per-row sum.
Halide::Func softmaxGrad(Halide::Func output, Halide::Func grad, int features, Halide::Func &dot);
Halide::Func sliceChannels(Halide::Func in, int rank, int begin);
/// The input's `count` channels placed at [begin, begin + count), zeros elsewhere.
Halide::Func padChannels(Halide::Func in, int rank, int begin, int count);

/// x·mask/(1-rate) with mask = hash(seed, salt, coordinates) >= rate.
Halide::Func dropout(Halide::Func in, int rank, Halide::Func seed, double rate, int salt);

/// Batch statistics per channel of a rank-4 or rank-2 value; `sum`
/// receives the per-channel sum for the schedule.
Halide::Func channelMean(Halide::Func in, int rank, const std::vector<int> &extents,
                         Halide::Expr batch, ChannelSum &sum);
Halide::Func channelVariance(Halide::Func in, Halide::Func mean, int rank,
                             const std::vector<int> &extents, Halide::Expr batch, bool unbiased,
                             ChannelSum &sum);
/// Training batch norm's input gradient; `sums` receives its two reductions.
Halide::Func batchNormGradInput(Halide::Func in, Halide::Func grad, Halide::Func gamma,
                                Halide::Func mean, Halide::Func variance, float epsilon, int rank,
                                const std::vector<int> &extents, Halide::Expr batch,
                                std::vector<ChannelSum> &sums);
/// γ's gradient, itself a per-channel sum (`sum` is the result).
Halide::Func batchNormGradGamma(Halide::Func in, Halide::Func grad, Halide::Func mean,
                                Halide::Func variance, float epsilon, int rank,
                                const std::vector<int> &extents, Halide::Expr batch,
                                ChannelSum &sum);

/// Losses over logits/outputs (f, n) and labels (n) holding class indices;
/// results over a single element (0). `reductions` receives their sums.
/// Cross-entropy's `smoothing` (a one-element Func ε) mixes the one-hot
/// target with the uniform one: (1-ε)·onehot + ε/K.
Halide::Func softmaxCrossEntropy(Halide::Func logits, Halide::Func labels, int classes,
                                 Halide::Expr batch, std::vector<Halide::Func> &reductions,
                                 std::optional<Halide::Func> smoothing = std::nullopt);
Halide::Func softmaxCrossEntropyGrad(Halide::Func logits, Halide::Func labels, int classes,
                                     Halide::Expr batch, std::vector<Halide::Func> &reductions,
                                     std::optional<Halide::Func> smoothing = std::nullopt);

/// Σ x² over a parameter-shaped value (static extents, innermost first), in
/// two stages: `partial(i)` sums the squares at index i of one dimension
/// (the first of at least 16 elements, else the largest) over the others
/// (`r`; undefined for rank 1, where partial is pure), then `total` adds
/// the partial sums. The result is a one-element Func.
struct SumSquaresStages {
  Halide::Func partial;
  Halide::RDom r;
  int extent = 1; ///< of partial's dimension
  Halide::Func total;
};
Halide::Func sumSquares(Halide::Func in, const std::vector<int> &extents, SumSquaresStages &stages);
/// torch.nn.utils.clip_grad_norm_'s factor from the squared norms of the
/// gradients: min(1, max_norm / (sqrt(Σ squares) + 1e-6)), or 1 where
/// max_norm is 0 (no clipping). Every Func has one element.
Halide::Func clipCoefficient(Halide::Func maxNorm, const std::vector<Halide::Func> &squares);
/// A gradient of rank `rank` times the one-element clipping coefficient.
Halide::Func clipGradient(Halide::Func grad, Halide::Func coefficient, int rank);
Halide::Func mseLoss(Halide::Func output, Halide::Func labels, int classes, Halide::Expr batch,
                     std::vector<Halide::Func> &reductions);
Halide::Func mseLossGrad(Halide::Func output, Halide::Func labels, int classes, Halide::Expr batch);
Halide::Func countCorrect(Halide::Func scores, Halide::Func labels, int classes, Halide::Expr batch,
                          std::vector<Halide::Func> &reductions);

/// Optimizer updates over parameter-shaped values of rank `rank`.
Halide::Func ema(Halide::Func running, Halide::Func batch, int rank, double momentum);

/// The run-time settings an optimizer update reads: each a one-element Func
/// (a hyper-parameter scalar); those its form does not read stay undefined.
struct OptimizerHypers {
  Halide::Func optimizer, lr, step, weightDecay, momentum, dampening, nesterov, beta1, beta2,
      epsilon;
};

/// The new values of an optimizer update: the parameter and each state tensor.
struct OptimizerUpdate {
  Halide::Func param;
  std::vector<Halide::Func> state;
};

/// PyTorch's torch.optim update of a parameter of rank `rank` with `state`
/// holding what the compiled optimizer keeps: nothing (plain SGD: lr and
/// weight decay), the momentum buffer (SGD with momentum, dampening,
/// Nesterov) or Adam's two moments (Adam, AdamW or SGD, selected by the
/// `optimizer` scalar). `scalars` receives the per-call coefficients (a 0-D
/// Func computed once per call).
OptimizerUpdate optimizerUpdate(Halide::Func param, Halide::Func grad,
                                const std::vector<Halide::Func> &state, const OptimizerHypers &h,
                                int rank, std::vector<Halide::Func> &scalars);

} // namespace cnnc::halide

#endif
