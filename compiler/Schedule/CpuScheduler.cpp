//===- CpuScheduler.cpp - hand-written SIMD schedules for x86 CPUs --------===//
//
// One schedule per op family, chosen by the kernel's anchor. Shapes are
// static (only the batch varies), so tile sizes are picked from the actual
// extents: a vector never exceeds the row it covers.
//
// Convolution (the one that matters): the output is tiled into register
// blocks of `lanes` pixels along x × kConvBlockC output channels × 2 rows;
// the conv is computed per block with the block fully vectorized/unrolled so
// its accumulators live in registers across the whole reduction (kx, ky
// unrolled, input channels the loop). Padding is materialized per image
// beforehand, so the inner loop has no bounds checks. Blocks are parallel
// over (output-channel tile, batch). A fused pooling is the block's output:
// the conv block covers the pooling windows of one output block.
// bench/run_bench.py measures it against PyTorch; bench/README.md has the
// current figures.
//
//===----------------------------------------------------------------------===//
#include "compiler/Dialect/CNN/IR/Limits.h"
#include "compiler/Schedule/Scheduler.h"

#include <sstream>

using namespace Halide;

namespace cnnc::halide {

/// Output channels per register block of a convolution.
constexpr int kConvBlockC = 8;
/// Output features per register block of a dense layer.
constexpr int kDenseBlockO = 4;
/// Unbatched outputs smaller than this run on one thread.
constexpr int64_t kParallelElements = 16384;

/// The taps of a kernel window (in 64 bits: each side may be up to 2^31 - 1).
static int64_t tapCount(const WindowAttrs &a) { return int64_t(a.kernelW) * a.kernelH; }

/// Unrolls the taps of a convolution's update over the window (rx, ry): all
/// of them for a small window (limits::kMaxUnrolledTaps), else each kernel
/// row when it is short (limits::kMaxUnrolledRow), else
/// limits::kTapUnrollFactor taps of a row inside a loop over the rest, so
/// the code does not grow with the kernel. Returns what it did for the
/// schedule summary ("" when the whole window or each row is unrolled).
static std::string unrollTaps(Stage update, RVar rx, RVar ry, const WindowAttrs &a) {
  if (tapCount(a) <= limits::kMaxUnrolledTaps) {
    update.unroll(rx).unroll(ry);
    return "";
  }
  if (a.kernelW <= limits::kMaxUnrolledRow) {
    update.unroll(rx);
    return "";
  }
  RVar rxo("rxo"), rxi("rxi");
  update.split(rx, rxo, rxi, limits::kTapUnrollFactor, TailStrategy::GuardWithIf).unroll(rxi);
  return ", taps unrolled " + std::to_string(limits::kTapUnrollFactor) + " at a time";
}

/// The largest power of two <= min(extent, cap) (at least 1).
static int powerOfTwoAtMost(int extent, int cap) {
  int p = 1;
  while (int64_t(p) * 2 <= std::min(extent, cap))
    p *= 2;
  return p;
}

/// The block size in [most/2, most] that covers `extent` with the fewest
/// recomputed elements (blocks shift inwards at the end); ties go to the
/// larger block. Blocks below most/2 would no longer amortize their loads.
static int leastWastefulBlock(int extent, int most) {
  most = std::max(1, std::min(extent, most));
  int best = most;
  auto cover = [&](int b) { return (int64_t(extent) + b - 1) / b * b; };
  for (int b = most; b >= (most + 1) / 2; --b)
    if (cover(b) < cover(best))
      best = b;
  return best;
}

/// Vectorizes `var` of a pure stage by a width that fits `extent`. Update
/// stages pass TailStrategy::GuardWithIf: their default (RoundUp) would read
/// the inputs past `extent` when it is not a multiple of the width.
template <typename Stage>
static void vectorizeFitting(Stage &&stage, VarOrRVar var, int extent, int lanes,
                             TailStrategy tail = TailStrategy::Auto) {
  int width = powerOfTwoAtMost(extent, lanes);
  if (width > 1)
    stage.vectorize(var, width, tail);
}

/// Computes a 4-D Func (a padded or transposed copy of an activation) before
/// the kernel's loops, in parallel over its planes (outer two dimensions).
static void computeRootByPlanes(Func f) {
  std::vector<Var> args = f.args();
  Var plane("plane");
  f.compute_root().fuse(args[2], args[3], plane).parallel(plane);
}

/// Materializes a padded input per (channel, image) slice inside `consumer`.
static void schedulePadding(Func padded, Func consumer, Var at, int paddedWidth, int lanes) {
  if (!padded.defined())
    return;
  auto &v = vars();
  padded.compute_at(consumer, at);
  vectorizeFitting(padded, v.x, paddedWidth, lanes);
}

/// The shape of a conv kernel's output and of the pooling fused after it
/// (stride 1 without one): what both conv schedules size their blocks from.
struct ConvGeometry {
  int outW, outH, outC;
  bool pooled;
  int poolX, poolY;
};

static ConvGeometry geometryOf(const KernelStages &k) {
  bool pooled = k.pool.has_value();
  return {k.outputExtents[0],
          k.outputExtents[1],
          k.outputExtents[2],
          pooled,
          pooled ? k.pool->attrs.strideX : 1,
          pooled ? k.pool->attrs.strideY : 1};
}

/// True when vectors of pixels along a conv row would waste more than a
/// quarter of their lanes: rows shorter than a vector (ResNet's 7x7), or
/// just longer than a whole number of vectors (AlphaGo's 19 = 16 + 3, which
/// computes 32 pixels per row).
static bool vectorsOverRowsWaste(const ConvGeometry &g, int lanes) {
  int64_t row = int64_t(g.outW) * g.poolX;
  int64_t covered = (row + lanes - 1) / lanes * lanes;
  return 4 * row < 3 * covered;
}

/// Narrow layers (rows shorter than a vector: MNIST's 5x5 maps, ResNet's
/// 7x7) vectorize over output channels instead: the block is 1-2 vectors of
/// channels x a few pixels, the weights are first copied with the output
/// channel innermost so each tap is one vector load, and each input pixel
/// is broadcast. Threads take channel tiles, each looping over the images,
/// so a tile's weights are copied once per call (by that thread).
static std::string scheduleConvOverChannels(KernelStages &k, int lanes) {
  auto &v = vars();
  ConvStages &s = *k.conv;
  Func out = k.output;
  auto [outW, outH, outC, pooled, poolX, poolY] = geometryOf(k);
  int vectors = outC >= 2 * lanes ? 2 : 1;
  int blockC = vectors * lanes;
  // At most 20 accumulators (vectors x conv pixels); rows and columns are
  // split into the blocks that waste the fewest recomputed pixels.
  int pixels = int(20 / vectors / (int64_t(poolX) * poolY));
  int blockX = leastWastefulBlock(outW, std::min(pixels, 8));
  int blockY = leastWastefulBlock(outH, std::max(1, pixels / blockX));

  Var xo("xo"), xi("xi"), yo("yo"), yi("yi"), co("co"), ci("ci"), tile("tile");
  out.split(v.c, co, ci, blockC)
      .split(v.x, xo, xi, blockX)
      .split(v.y, yo, yi, blockY)
      .reorder(ci, xi, yi, xo, yo, v.n, co)
      .vectorize(ci, lanes)
      .unroll(ci)
      .unroll(xi)
      .unroll(yi)
      .parallel(co);
  s.conv.compute_at(out, xo)
      .reorder(v.c, v.x, v.y)
      .vectorize(v.c, lanes)
      .unroll(v.c)
      .unroll(v.x)
      .unroll(v.y);
  Stage update = s.conv.update();
  update.reorder(v.c, v.x, v.y, s.r.x, s.r.y, s.r.z)
      .vectorize(v.c, lanes)
      .unroll(v.c)
      .unroll(v.x)
      .unroll(v.y);
  // A larger window stays a loop: the block's accumulators are vectors of
  // channels, so the taps need not be unrolled to stay in registers.
  if (tapCount(s.attrs) <= limits::kMaxUnrolledTaps)
    update.unroll(s.r.x).unroll(s.r.y);
  if (pooled && k.pool->r.defined())
    (k.pool->sum.defined() ? k.pool->sum : k.pool->pool).compute_at(out, xo);
  // Weights with the output channel innermost (one vector load per tap),
  // copied per channel tile by the thread that uses them, once for all images.
  std::vector<Var> w = s.weights.args();
  s.weights.compute_at(out, co)
      .reorder_storage(w[3], w[0], w[1], w[2])
      .reorder(w[3], w[0], w[1], w[2])
      .vectorize(w[3], lanes);
  if (s.padded.defined())
    computeRootByPlanes(s.padded);
  std::ostringstream summary;
  summary << "conv over channels: block " << blockX << "x" << blockY << " pixels x " << blockC
          << " channels (" << vectors << " vectors)";
  return summary.str();
}

static std::string scheduleConv(KernelStages &k, int lanes) {
  auto &v = vars();
  ConvStages &s = *k.conv;
  Func out = k.output;
  auto [outW, outH, outC, pooled, poolX, poolY] = geometryOf(k);

  // Register block in output coordinates: conv block = this × pool window.
  int blockX = powerOfTwoAtMost(outW, std::max(1, lanes / poolX));
  int blockY = std::min(outH, std::max(1, 2 / poolY));
  int blockC = std::min(outC, kConvBlockC);

  Var xo("xo"), xi("xi"), yo("yo"), yi("yi"), co("co"), ci("ci"), tile("tile");
  out.split(v.x, xo, xi, blockX)
      .split(v.y, yo, yi, blockY)
      .split(v.c, co, ci, blockC)
      .reorder(xi, ci, yi, xo, yo, co, v.n)
      .unroll(ci)
      .unroll(yi)
      .fuse(co, v.n, tile)
      .parallel(tile);
  if (blockX > 1)
    out.vectorize(xi);

  // The conv block: accumulators in registers across the reduction.
  s.conv.compute_at(out, xo).unroll(v.c).unroll(v.y);
  if (int64_t(blockX) * poolX > 1)
    s.conv.vectorize(v.x);
  Stage update = s.conv.update();
  update.reorder(v.x, v.c, v.y, s.r.x, s.r.y, s.r.z).unroll(v.c).unroll(v.y);
  if (int64_t(blockX) * poolX > 1)
    update.vectorize(v.x);
  std::string taps = unrollTaps(update, s.r.x, s.r.y, s.attrs);
  // A fused pooling with a large window is a reduction over the block.
  if (pooled && k.pool->r.defined())
    (k.pool->sum.defined() ? k.pool->sum : k.pool->pool).compute_at(out, xo);

  // Padding: one padded copy of the input, made before the blocks (which
  // each need a window of every input channel), parallel over its planes.
  if (s.padded.defined()) {
    computeRootByPlanes(s.padded);
    vectorizeFitting(s.padded, v.x, s.input.w + s.attrs.padLeft + s.attrs.padRight, lanes);
  }
  std::ostringstream summary;
  summary << "conv over pixels: block " << blockX << "x" << blockY << " pixels x " << blockC
          << " channels" << taps;
  return summary.str();
}

/// Dense: blocks of kDenseBlockO outputs in parallel. The dot products of a
/// block are split into `lanes` partial sums (one vector accumulator per
/// output, the input features the loop), then summed across the lanes.
static void scheduleDense(KernelStages &k, int lanes) {
  auto &v = vars();
  DenseStages &s = *k.dense;
  // With softmax the logits of a whole row are needed at once: compute the
  // dense layer at the root and the softmax per row.
  Func blocked = k.output;
  if (k.softmax) {
    blocked = s.dense.in();
    blocked.compute_root();
    k.softmax->maximum.compute_at(k.output, v.n);
    k.softmax->sum.compute_at(k.output, v.n);
    k.output.parallel(v.n);
    vectorizeFitting(k.output, v.f, s.outFeatures, lanes);
  }
  int blockO = std::min(s.outFeatures, kDenseBlockO);
  Var fo("fo"), fi("fi"), tile("tile");
  blocked.split(v.f, fo, fi, blockO)
      .reorder(fi, fo, v.n)
      .unroll(fi)
      .fuse(fo, v.n, tile)
      .parallel(tile);
  s.dense.compute_at(blocked, tile).unroll(v.f);
  if (s.inFeatures < lanes) {
    // Fewer inputs than a vector: one unrolled expression per output.
    s.dense.update().reorder(s.r.x, v.f).unroll(s.r.x).unroll(v.f);
    return;
  }
  // partial(o, n, lane) for one block of outputs: blockO vector accumulators
  // over the input features, the last vector masked past their end.
  Var lane("lane");
  RVar vectors("vectors"), inVector("in_vector");
  Func partial = s.dense.update()
                     .split(s.r.x, vectors, inVector, lanes, TailStrategy::GuardWithIf)
                     .rfactor(inVector, lane);
  partial.compute_at(blocked, tile)
      .reorder_storage(lane, v.f, v.n)
      .reorder(lane, v.f, v.n)
      .vectorize(lane)
      .unroll(v.f);
  partial.update().reorder(lane, v.f, vectors).vectorize(lane).unroll(v.f);
  // The lanes of each output added as one vector (a horizontal sum).
  s.dense.update().reorder(inVector, v.f).atomic().vectorize(inVector).unroll(v.f);
}

/// The number of elements of a static shape (the batch, -1, counts as 1).
static int64_t elementCount(const std::vector<int> &extents) {
  int64_t n = 1;
  for (int e : extents)
    n *= std::max(e, 1);
  return n;
}

/// Reductions of a kernel whose output is not parallelized (see below).
static void scheduleReductionsOnly(KernelStages &k) {
  if (k.softmax) {
    k.softmax->maximum.compute_root();
    k.softmax->sum.compute_root();
  }
}

/// Pooling, element-wise ops, concat, softmax, global pooling, statistics,
/// losses and optimizer updates on their own: vectorized along the innermost
/// dimension, parallel over the outer ones. Works for any rank.
static void scheduleDataParallel(KernelStages &k, int lanes) {
  auto &v = vars();
  Func out = k.output;
  std::vector<Var> args = out.args();
  int rank = int(args.size());
  bool batched = k.outputExtents.back() < 0;
  vectorizeFitting(out, args[0], k.outputExtents[0], lanes);
  if (!batched) {
    // Parameter-shaped outputs (optimizer updates, statistics): parallel over
    // the outermost dimension when large; waking a worker costs microseconds,
    // so small ones stay on the calling thread.
    if (rank >= 2 && elementCount(k.outputExtents) >= kParallelElements)
      out.parallel(args.back());
    return scheduleReductionsOnly(k);
  }
  Var outer = args.back();
  if (rank >= 3) {
    Var plane("plane");
    out.fuse(args[rank - 2], args[rank - 1], plane).parallel(plane);
    outer = plane;
  } else if (rank == 2) {
    out.parallel(args[1]);
  }
  if (k.softmax) {
    k.softmax->maximum.compute_at(out, v.n);
    k.softmax->sum.compute_at(out, v.n);
  }
  if (k.pool) {
    PoolStages &p = *k.pool;
    schedulePadding(p.padded, out, outer, p.input.w + p.attrs.padLeft + p.attrs.padRight, lanes);
    Func reduction = p.sum.defined() ? p.sum : p.pool;
    if (p.r.defined()) {
      reduction.compute_at(out, outer);
      vectorizeFitting(reduction, v.x, p.output.w, lanes);
      reduction.update().reorder(v.x, p.r.x, p.r.y, v.y);
      // An update stage would round the row up to whole vectors and read
      // past an unpadded input: mask the last vector instead.
      vectorizeFitting(reduction.update(), v.x, p.output.w, lanes, TailStrategy::GuardWithIf);
    }
  }
}

/// True when conv2d_grad_weight is vectorized over output channels: an
/// ungrouped layer with a vector's worth of output channels and at least two
/// input channels to run in parallel.
static bool convGradWeightOverChannels(const KernelStages &k, int lanes) {
  return k.convGradWeight->attrs.groups == 1 && k.outputExtents[3] >= lanes &&
         k.outputExtents[2] >= 2;
}

/// conv2d_grad_weight over output channels: δ is first copied with the
/// output channel innermost, and the gradient is stored (o, kx, ky, ci), so
/// a vector of output channels is one load and each input pixel a
/// broadcast: no lanes wasted on narrow rows. A block of 1-2 vectors of
/// output channels x all kernel taps (unrolled, in registers) accumulates
/// over (x, y, n) for one input channel; blocks run in parallel.
static void scheduleConvGradWeightOverChannels(KernelStages &k, int lanes) {
  ConvGradWeightStages &s = *k.convGradWeight;
  int outChannels = k.outputExtents[3];
  int64_t taps = tapCount(s.attrs);
  int vectors = outChannels >= 2 * lanes && taps <= 12 ? 2 : 1;
  std::vector<Var> a = s.gradWeight.args(); // (kx, ky, ci, o)
  Var kx = a[0], ky = a[1], ci = a[2], o = a[3];
  Var oo("oo"), oi("oi"), task("task");
  s.gradWeight.compute_root()
      .reorder_storage(o, kx, ky, ci)
      .reorder(o, kx, ky, ci)
      .vectorize(o, lanes);
  Stage update = s.gradWeight.update();
  update.split(o, oo, oi, vectors * lanes)
      .reorder(oi, kx, ky, s.r.x, s.r.y, s.r.z, ci, oo)
      .vectorize(oi, lanes)
      .unroll(oi)
      .fuse(ci, oo, task)
      .parallel(task);
  if (taps <= limits::kMaxUnrolledTaps)
    update.unroll(kx).unroll(ky);
  std::vector<Var> g = s.gradCopy.args(); // (x, y, o, n)
  Var plane("plane");
  s.gradCopy.compute_root()
      .reorder_storage(g[2], g[0], g[1], g[3])
      .reorder(g[2], g[0], g[1], g[3])
      .fuse(g[1], g[3], plane)
      .parallel(plane);
  computeRootByPlanes(s.inputPadded);
  k.output.compute_root();
}

/// The update of `f` that adds up its `count` partial sums over `columns`
/// (what rfactor leaves): one horizontal sum of a vector as wide as the
/// columns, or, past 8 vectors, of each vector (the last one scalar).
static void addColumns(Func f, RVar columns, int count, int lanes) {
  if (count <= 8 * lanes)
    f.update().atomic().vectorize(columns);
  else
    f.update().atomic().vectorize(columns, lanes, TailStrategy::GuardWithIf);
}

/// conv2d_grad_weight over pixels: per output channel, a partial sum per
/// column of δ (rfactor over x), vectors of columns for each of the kernel
/// taps (unrolled, kept in registers) accumulated over the rows and the
/// batch, then the columns summed. The input's padding is materialized once
/// beforehand; δ stays inline (zero past its rows, read as masked vectors).
static void scheduleConvGradWeightOverPixels(KernelStages &k, int lanes) {
  ConvGradWeightStages &s = *k.convGradWeight;
  Func out = k.output;
  std::vector<Var> args = out.args(); // (kx, ky, ci, o)
  int outChannels = k.outputExtents[3];
  int64_t taps = tapCount(s.attrs);
  // Two output channels per block when the taps' accumulators fit twice.
  int blockO = taps <= 12 && outChannels >= 2 ? 2 : 1;
  Var oo("oo"), oi("oi");
  out.compute_root().split(args[3], oo, oi, blockO).parallel(oo);
  // Vector width: at most the rows of δ (rounded up to a power of two).
  int width = 1;
  while (width < s.grad.w && width < lanes)
    width *= 2;
  std::vector<Var> a = s.gradWeight.args();
  Var kx = a[0], ky = a[1], ci = a[2], o = a[3];
  Var x("x"), xo("xo"), xi("xi");
  Func columns = s.gradWeight.update().rfactor(s.r.x, x);
  columns.compute_at(out, oo)
      .reorder_storage(x, kx, ky, ci, o)
      .reorder(x, kx, ky, ci, o)
      .vectorize(x, width, TailStrategy::RoundUp);
  // The accumulators (taps x output channels of the block) stay in
  // registers over the rows of one vector of columns; each image's rows are
  // visited once per vector of columns while they are in cache.
  Stage update = columns.update();
  update.split(x, xo, xi, width, TailStrategy::RoundUp)
      .reorder(xi, kx, ky, o, s.r.y, xo, s.r.z, ci)
      .vectorize(xi);
  if (taps <= limits::kMaxUnrolledTaps)
    update.unroll(kx).unroll(ky).unroll(o);
  s.gradWeight.compute_at(out, oo);
  addColumns(s.gradWeight, s.r.x, s.grad.w, lanes);
  computeRootByPlanes(s.inputPadded);
}

/// Dense gradients: the contiguous dimension vectorized, the reduction the
/// next loop, parallel over the other pure dimension.
static void scheduleVectorReduction(KernelStages &k, int lanes) {
  auto &v = vars();
  VectorReduction &s = *k.vectorReduction;
  Func out = k.output;
  out.parallel(out.args()[1]);
  vectorizeFitting(out, out.args()[0], s.extent0, lanes);
  s.func.compute_at(out, out.args()[1]);
  vectorizeFitting(s.func, v.f, s.extent0, lanes);
  s.func.update().reorder(v.f, s.r, v.n);
  vectorizeFitting(s.func.update(), v.f, s.extent0, lanes, TailStrategy::GuardWithIf);
}

/// k-max pooling and its gradient: per output plane (channel, image), in
/// parallel, the rank of every position (vectorized over positions, the
/// other positions the loop), the scan of selected positions and, forward,
/// the selected indices; the output row is vectorized. O((H·W)²) compares
/// per plane: 62² for a text CNN's feature map.
static void scheduleKMax(KernelStages &k, int lanes) {
  KMaxStages &s = *k.kmax;
  Func out = k.output;
  std::vector<Var> args = out.args();
  Var plane("plane");
  out.fuse(args[2], args[3], plane).parallel(plane);
  vectorizeFitting(out, args[0], k.outputExtents[0], lanes);
  Var p = s.rank.args()[0];
  s.rank.compute_at(out, plane);
  vectorizeFitting(s.rank, p, s.length, lanes);
  s.rank.update().reorder(p, s.q);
  vectorizeFitting(s.rank.update(), p, s.length, lanes, TailStrategy::GuardWithIf);
  s.pos.compute_at(out, plane);
  if (s.index.defined())
    s.index.compute_at(out, plane);
}

/// An embedding lookup: per image (in parallel) and position, the token's
/// row is copied as vectors over the embedding dimension (contiguous in the
/// table, strided by L in the output). Vectorizing along the positions
/// instead would gather, and on hosts Halide takes for Sapphire Rapids
/// without AVX-VNNI (AMD Zen 4) LLVM turns the narrow row-index arithmetic
/// into VEX vpdpwssd, which faults.
static void scheduleEmbedding(KernelStages &k, int lanes) {
  Func out = k.output;
  std::vector<Var> args = out.args(); // (x, y, c, n)
  out.reorder(args[2], args[0], args[1], args[3]).parallel(args[3]);
  vectorizeFitting(out, args[2], k.embeddingDim, lanes);
}

/// The embedding table's gradient: zeroed, then the scatter-add over every
/// token (t, n) adds one δ row, vectorized over the embedding dimension
/// and parallel over vector-wide slices of it (threads never share an
/// element, so no atomics); then copied out.
static void scheduleEmbeddingGrad(KernelStages &k, int lanes) {
  EmbeddingGradStages &s = *k.embeddingGrad;
  Func out = k.output;
  std::vector<Var> args = out.args(); // (e, row)
  bool large = elementCount(k.outputExtents) >= kParallelElements;
  vectorizeFitting(out, args[0], s.dim, lanes);
  if (large)
    out.parallel(args[1]);
  Var e = s.table.args()[0], row = s.table.args()[1];
  s.table.compute_root();
  vectorizeFitting(s.table, e, s.dim, lanes);
  if (large)
    s.table.parallel(row);
  int width = powerOfTwoAtMost(s.dim, lanes);
  Var eo("eo"), ei("ei");
  s.table.update()
      .split(e, eo, ei, width, TailStrategy::GuardWithIf)
      .reorder(ei, s.r.x, s.r.y, eo)
      .vectorize(ei)
      .parallel(eo);
}

/// A per-channel sum, computed once at the root. Over (x, y, n) there is a
/// partial sum per column x (rfactor), vectorized over the columns (whole
/// vectors: the summand is zero past the row), parallel over channels with
/// the (y, n) reduction inside; the columns are added once per channel.
/// Over the batch alone ([N, C] values) each channel is one serial sum.
static void scheduleChannelSum(ChannelSum &s, int lanes) {
  Var c = s.sum.args()[0];
  s.sum.compute_root();
  if (s.r.dimensions() == 1) {
    s.sum.parallel(c);
    s.sum.update().parallel(c);
    return;
  }
  Var x("x"), xo("xo"), xi("xi");
  Func columns = s.sum.update().rfactor(s.r.x, x);
  columns.compute_root()
      .reorder_storage(x, c)
      .reorder(x, c)
      .vectorize(x, lanes, TailStrategy::RoundUp)
      .parallel(c);
  columns.update()
      .split(x, xo, xi, lanes, TailStrategy::RoundUp)
      .reorder(xi, xo, s.r.y, s.r.z, c)
      .vectorize(xi)
      .parallel(c);
  addColumns(s.sum, s.r.x, int(*Internal::as_const_int(s.r.x.extent())), lanes);
}

/// A gradient's squared norm: the partial sums along one dimension are
/// computed at the root, vectorized over that dimension with the other
/// dimensions the loop; the partial sums are then added serially.
static void scheduleSumSquares(SumSquaresStages &s, int lanes) {
  Var i = s.partial.args()[0];
  s.partial.compute_root();
  vectorizeFitting(s.partial, i, s.extent, lanes);
  if (!s.r.defined())
    return;
  std::vector<VarOrRVar> order = {i};
  for (int d = 0; d < s.r.dimensions(); ++d)
    order.push_back(s.r[d]);
  s.partial.update().reorder(order);
  vectorizeFitting(s.partial.update(), i, s.extent, lanes, TailStrategy::GuardWithIf);
}

namespace {

class CpuScheduler : public Scheduler {
public:
  explicit CpuScheduler(const Target &target) : Scheduler(target) {}
  std::string schedule(KernelStages &kernel, KernelPhase phase) override;
};

} // namespace

std::unique_ptr<Scheduler> makeCpuScheduler(const Target &target) {
  return std::make_unique<CpuScheduler>(target);
}

std::string CpuScheduler::schedule(KernelStages &k, KernelPhase phase) {
  int lanes = target().natural_vector_size<float>();
  // Further outputs (new optimizer state): element-wise, with the same loops
  // as the main output, into whose loop nest they are fused below.
  for (size_t i = 0; i < k.extraOutputs.size(); ++i) {
    KernelStages extra;
    extra.output = k.extraOutputs[i];
    extra.outputExtents = k.extraOutputExtents[i];
    scheduleDataParallel(extra, lanes);
  }
  if (k.overParameters) {
    // Run once per parameter load: vectorized, serial.
    vectorizeFitting(k.output, k.output.args()[0], k.outputExtents[0], lanes);
    return "cpu parameters: vectorized, serial";
  }
  // Small reductions (statistics, losses, per-window winners) are computed
  // once, before the loops that read them, in parallel over their outermost
  // dimension when they have one.
  for (Func r : k.reductions) {
    r.compute_root();
    std::vector<Var> args = r.args();
    // Per-row and per-channel results of unbatched kernels stay serial.
    if (args.empty() || k.outputExtents.empty() || k.outputExtents.back() >= 0)
      continue;
    r.parallel(args.back());
    for (int u = 0; u < r.num_update_definitions(); ++u)
      r.update(u).parallel(args.back());
  }
  for (auto &[plane, width] : k.rootPlanes) {
    std::vector<Var> args = plane.args();
    Var fused("plane_fused");
    plane.compute_root().fuse(args[2], args[3], fused).parallel(fused);
    vectorizeFitting(plane, args[0], width, lanes);
  }
  for (ChannelSum &sum : k.channelSums)
    scheduleChannelSum(sum, lanes);
  // Conv rows shorter than a vector, with a vector's worth of channels:
  // vectorize over the channels.
  bool narrow = k.conv && vectorsOverRowsWaste(geometryOf(k), lanes);
  std::string prefix = "cpu " + std::to_string(lanes) + " lanes: ";
  if (narrow && geometryOf(k).outC >= lanes)
    return prefix + scheduleConvOverChannels(k, lanes);
  if (k.conv)
    return prefix + scheduleConv(k, lanes);
  if (k.dense) {
    scheduleDense(k, lanes);
    return prefix + "dense, blocks of " +
           std::to_string(std::min(k.dense->outFeatures, kDenseBlockO)) + " outputs";
  }
  if (k.convGradWeight) {
    if (convGradWeightOverChannels(k, lanes)) {
      scheduleConvGradWeightOverChannels(k, lanes);
      return prefix + "conv weight gradient over channels";
    }
    scheduleConvGradWeightOverPixels(k, lanes);
    return prefix + "conv weight gradient over pixels";
  }
  if (k.vectorReduction) {
    scheduleVectorReduction(k, lanes);
    return prefix + "vector reduction";
  }
  if (k.kmax) {
    scheduleKMax(k, lanes);
    return prefix + "k-max per plane";
  }
  if (k.embeddingGrad) {
    scheduleEmbeddingGrad(k, lanes);
    return prefix + "embedding gradient";
  }
  if (k.embeddingDim > 0) {
    scheduleEmbedding(k, lanes);
    return prefix + "embedding rows";
  }
  if (k.sumSquares) {
    scheduleSumSquares(*k.sumSquares, lanes);
    return prefix + "sum of squares, partial sums over " + std::to_string(k.sumSquares->extent);
  }
  scheduleDataParallel(k, lanes);
  // An optimizer update's outputs (the new parameter and state) share one
  // loop nest, so each element of the parameter, the gradient and the state
  // is read from memory once for all of them.
  bool fused = false;
  for (size_t i = 0; i < k.extraOutputs.size(); ++i)
    if (k.extraOutputExtents[i] == k.outputExtents && k.outputExtents.back() >= 0) {
      k.extraOutputs[i].compute_with(k.output, k.output.args()[0]);
      fused = true;
    }
  return prefix + (fused ? "data parallel, outputs in one loop nest" : "data parallel");
}

} // namespace cnnc::halide
