//===- GpuScheduler.cpp - hand-written schedules for CUDA and OpenCL ------===//
//
// The same schedules serve CUDA and OpenCL (Halide's gpu_* directives);
// every kernel runs entirely on the device, so a model's buffers can stay
// there between kernels.
//
// Every stage a kernel computes at the root (padded inputs, statistics,
// per-window winners, partial sums, the output) is data parallel: its pure
// dimensions are fused and split into thread blocks of kThreadsPerBlock
// threads, one element per thread, consecutive threads on consecutive
// elements of the innermost dimension (coalesced loads and stores); its
// reduction loops run inside the thread. A stage with no pure dimension
// (a loss summed over the batch) runs on one GPU thread.
//
// On top of that, the anchors that carry the work have their own schedules:
//  - convolution (forward, input gradient, transposed): see scheduleConv;
//  - dense layers: see scheduleDense;
//  - reductions over the batch (per-channel sums, the conv weight
//    gradient): two stages, see scheduleChannelSum, scheduleConvGradWeight.
//
//===----------------------------------------------------------------------===//
#include "compiler/Dialect/CNN/IR/Limits.h"
#include "compiler/Schedule/Scheduler.h"

#include <sstream>

using namespace Halide;

namespace cnnc::halide {

/// Threads per block of a data-parallel stage.
constexpr int kThreadsPerBlock = 256;
/// Threads per convolution block (at most).
constexpr int kConvThreadsPerBlock = 128;
/// Largest conv register block per thread (accumulators).
constexpr int kConvAccumulators = 32;
/// Threads per dense block (at most) and images per dense register block.
constexpr int kDenseThreads = 64;
constexpr int kBatchBlock = 4;

namespace {

class GpuScheduler : public Scheduler {
public:
  explicit GpuScheduler(const Target &target) : Scheduler(target) {}
  std::string schedule(KernelStages &kernel, KernelPhase phase) override;
};

} // namespace

std::unique_ptr<Scheduler> makeGpuScheduler(const Target &target) {
  return std::make_unique<GpuScheduler>(target);
}

/// The pure dimensions of update `u` of `f` (those whose argument is the
/// pure definition's own Var), innermost first.
static std::vector<Var> pureVarsOfUpdate(Func f, int u) {
  std::vector<Var> args = f.args();
  std::vector<Expr> lhs = f.update_args(u);
  std::vector<Var> pure;
  for (size_t i = 0; i < args.size() && i < lhs.size(); ++i)
    if (const auto *v = lhs[i].as<Internal::Variable>(); v && v->name == args[i].name())
      pure.push_back(args[i]);
  return pure;
}

/// One thread per element of the pure dimensions `pure` of `stage`: the
/// reduction loops (if any) innermost, inside the thread; the pure
/// dimensions fused, innermost fastest, and split into thread blocks.
static void onePerThread(Stage stage, const std::vector<Var> &pure) {
  if (pure.empty()) {
    stage.gpu_single_thread();
    return;
  }
  std::vector<VarOrRVar> order;
  for (const Internal::ReductionVariable &rv : stage.get_schedule().rvars())
    order.push_back(RVar(rv.var));
  for (const Var &v : pure)
    order.push_back(v);
  if (order.size() > 1)
    stage.reorder(order);
  Var flat = pure[0];
  for (size_t i = 1; i < pure.size(); ++i) {
    Var fused(flat.name() + "_" + pure[i].name());
    stage.fuse(flat, pure[i], fused);
    flat = fused;
  }
  Var block(flat.name() + "_block"), thread(flat.name() + "_thread");
  stage.gpu_tile(flat, block, thread, kThreadsPerBlock, TailStrategy::GuardWithIf);
}

/// Computes `f` at the root on the device, one element per thread, each
/// update over its own pure dimensions.
static void dataParallelAtRoot(Func f) {
  if (!f.defined())
    return;
  f.compute_root();
  onePerThread(f, f.args());
  for (int u = 0; u < f.num_update_definitions(); ++u)
    onePerThread(f.update(u), pureVarsOfUpdate(f, u));
}

/// Every Func the lowering recorded, except the anchors' own accumulators
/// (conv, dense, conv weight gradient) and the per-channel sums, which have
/// schedules of their own, computed at the root.
static std::vector<Func> rootStages(const KernelStages &k) {
  std::vector<Func> roots;
  if (k.conv)
    roots.push_back(k.conv->padded);
  if (k.pool) {
    roots.push_back(k.pool->padded);
    // After a conv, a large pooling window is reduced inside the conv's threads.
    if (k.pool->r.defined() && !k.conv)
      roots.push_back(k.pool->sum.defined() ? k.pool->sum : k.pool->pool);
  }
  if (k.softmax) {
    roots.push_back(k.softmax->maximum);
    roots.push_back(k.softmax->sum);
  }
  if (k.convGradWeight)
    roots.push_back(k.convGradWeight->inputPadded);
  if (k.vectorReduction)
    roots.push_back(k.vectorReduction->func);
  if (k.kmax) {
    roots.push_back(k.kmax->rank);
    roots.push_back(k.kmax->pos);
    roots.push_back(k.kmax->index);
  }
  if (k.embeddingGrad)
    roots.push_back(k.embeddingGrad->table);
  if (k.sumSquares)
    roots.push_back(k.sumSquares->partial);
  for (const Func &r : k.reductions)
    roots.push_back(r);
  for (const auto &[plane, width] : k.rootPlanes)
    roots.push_back(plane);
  return roots;
}

/// The largest divisor of n that is at most `cap` (at least 1).
static int largestDivisorAtMost(int n, int cap) {
  for (int d = std::min(n, cap); d > 1; --d)
    if (n % d == 0)
      return d;
  return 1;
}

/// Convolution (forward, input gradient, transposed). Each thread owns a
/// register block of the output: up to 4 pixels along x × 2 rows × 4
/// output channels, computed with every pure loop unrolled so its
/// accumulators stay in registers for the whole reduction (the input
/// channels are the loop). Per input channel the thread first loads what
/// the block needs into registers (`in()`: the input window and the
/// weights of its channels), so each value is read once and reused across
/// the taps and pixels that need it. Threads of a block (up to 128) cover
/// neighbouring blocks along x, then y, then channels, so a warp reads
/// neighbouring input rows (coalesced, shared through the L1 cache). A
/// fused pooling is the thread's output: the register block covers its
/// windows. On CUDA the taps are unrolled too; on OpenCL they stay loops,
/// because PoCL, the CPU OpenCL that runs the GPU schedules in testing,
/// takes minutes to build the unrolled kernels (the sums are the same).
/// Grouped convolutions compute one output per thread.
///
/// Why not accumulate per block and stage the operands in shared memory:
/// in Halide 14 that needs the accumulators stored at the block level,
/// which stay in registers only through `gpu_lanes` (CUDA only), and then
/// every accumulator update is its own lane loop followed by a barrier.
static std::string scheduleConv(KernelStages &k, const Target &target) {
  auto &v = vars();
  ConvStages &s = *k.conv;
  Func out = k.output;
  int outW = k.outputExtents[0], outH = k.outputExtents[1], outC = k.outputExtents[2];
  bool pooled = k.pool.has_value();
  if (s.attrs.groups > 1) {
    dataParallelAtRoot(out);
    return "conv, grouped: one output per thread";
  }
  // The conv region one output block needs along a dimension (in 64 bits:
  // a pooling stride or window may be up to 2^31 - 1).
  auto convSpan = [&](int block, bool alongX) -> int64_t {
    if (!pooled)
      return block;
    const PoolAttrs &p = k.pool->attrs;
    int64_t stride = alongX ? p.strideX : p.strideY, window = alongX ? p.kernelW : p.kernelH;
    return (block - 1) * stride + window;
  };
  int blockX = std::min(4, outW), blockY = std::min(2, outH), blockC = std::min(4, outC);
  while (convSpan(blockX, true) * convSpan(blockY, false) * blockC > kConvAccumulators) {
    if (blockC > 1)
      blockC /= 2;
    else if (blockY > 1)
      blockY = 1;
    else if (blockX > 1)
      blockX = (blockX + 1) / 2;
    else
      break;
  }
  auto ceilDiv = [](int a, int b) { return int((int64_t(a) + b - 1) / b); };
  int threadsX = std::min(8, ceilDiv(outW, blockX));
  int threadsY = std::min(4, ceilDiv(outH, blockY));
  // Channel threads: a divisor of the channel blocks if one comes close to
  // filling the block, so no thread idles.
  int channelBlocks = ceilDiv(outC, blockC);
  int threadsC = std::max(1, std::min(kConvThreadsPerBlock / (threadsX * threadsY), channelBlocks));
  int divisor = largestDivisorAtMost(channelBlocks, threadsC);
  if (2 * divisor >= threadsC)
    threadsC = divisor;
  int64_t taps = int64_t(s.attrs.kernelW) * s.attrs.kernelH;
  bool unrollTaps = taps <= limits::kMaxUnrolledTaps && target.has_feature(Target::CUDA);

  Var xo("xo"), xi("xi"), yo("yo"), yi("yi"), co("co"), ci("ci");
  Var bx("bx"), tx("tx"), by("by"), ty("ty"), bc("bc"), tc("tc"), tile("tile");
  const TailStrategy guard = TailStrategy::GuardWithIf;
  out.compute_root()
      .split(v.x, xo, xi, blockX)
      .split(v.y, yo, yi, blockY)
      .split(v.c, co, ci, blockC)
      .split(xo, bx, tx, threadsX, guard)
      .split(yo, by, ty, threadsY, guard)
      .split(co, bc, tc, threadsC, guard)
      .reorder(xi, yi, ci, tx, ty, tc, bx, by, bc, v.n)
      .unroll(xi)
      .unroll(yi)
      .unroll(ci)
      .fuse(bc, v.n, tile)
      .gpu_blocks(bx, by, tile)
      .gpu_threads(tx, ty, tc);
  if (pooled && k.pool->r.defined())
    (k.pool->sum.defined() ? k.pool->sum : k.pool->pool).compute_at(out, tx);

  // The register block: accumulated over the input channels.
  s.conv.compute_at(out, tx)
      .store_in(MemoryType::Register)
      .reorder(v.x, v.y, v.c, v.n)
      .unroll(v.x)
      .unroll(v.y)
      .unroll(v.c);
  Stage update = s.conv.update();
  update.reorder(v.x, v.y, v.c, s.r.x, s.r.y, v.n, s.r.z).unroll(v.x).unroll(v.y).unroll(v.c);
  if (unrollTaps)
    update.unroll(s.r.x).unroll(s.r.y);

  // Per input channel, the block's input window and weights in registers.
  Func inputWindow = s.source.in(s.conv);
  std::vector<Var> in = inputWindow.args();
  inputWindow.compute_at(s.conv, s.r.z).store_in(MemoryType::Register);
  Func weightTile = s.weights;
  std::vector<Var> w = weightTile.args(); // (kx, ky, ci, co)
  weightTile.compute_at(s.conv, s.r.z).store_in(MemoryType::Register);
  if (unrollTaps) {
    inputWindow.unroll(in[0]).unroll(in[1]);
    weightTile.unroll(w[0]).unroll(w[1]).unroll(w[3]);
  }

  std::ostringstream summary;
  summary << "conv: register block " << blockX << "x" << blockY << " pixels x " << blockC
          << " channels per thread";
  if (pooled)
    summary << " (conv " << convSpan(blockX, true) << "x" << convSpan(blockY, false) << ")";
  summary << ", threads " << threadsX << "x" << threadsY << "x" << threadsC
          << " per block, operands in registers per input channel"
          << (unrollTaps ? ", taps unrolled" : "");
  return summary.str();
}

/// A per-channel sum in two stages, no atomics: first one thread per
/// (channel, row, image) sums a row (`rfactor` over the rows and the
/// batch), then one thread per channel adds those partial sums.
static void scheduleChannelSum(ChannelSum &cs) {
  Func sum = cs.sum;
  sum.compute_root();
  onePerThread(sum, sum.args());
  if (cs.r.dimensions() == 3) {
    Var row("row"), image("image");
    Func partial = sum.update().rfactor({{cs.r.y, row}, {cs.r.z, image}});
    dataParallelAtRoot(partial);
  }
  onePerThread(sum.update(), pureVarsOfUpdate(sum, 0));
}

/// conv2d_grad_weight in two stages, no atomics: one thread per weight and
/// image sums δ · input over the image's pixels (`rfactor` over the batch),
/// then one thread per weight adds the images' partial sums.
static std::string scheduleConvGradWeight(KernelStages &k) {
  ConvGradWeightStages &s = *k.convGradWeight;
  Func gradWeight = s.gradWeight;
  gradWeight.compute_root();
  onePerThread(gradWeight, gradWeight.args());
  Var image("image");
  Func partial = gradWeight.update().rfactor({{s.r.z, image}});
  dataParallelAtRoot(partial);
  onePerThread(gradWeight.update(), pureVarsOfUpdate(gradWeight, 0));
  dataParallelAtRoot(k.output);
  return "conv weight gradient: one thread per weight and image, then per weight";
}

/// Dense layers as a tiled matrix product (the pattern of Halide's
/// `apps/cuda_mat_mul`): each thread owns a register block of up to 4 output
/// features x kBatchBlock images, computed with its loops unrolled so the
/// sums stay in registers over the whole reduction; per input feature it
/// loads the weights and inputs of its block into registers (`in()`). Up to
/// kDenseThreads threads per block take neighbouring feature blocks, so a
/// warp's weight rows are read together (and shared through the L1 cache).
/// With softmax the logits of a whole row are needed at once: the product
/// writes them to a root copy the softmax reads.
static std::string scheduleDense(KernelStages &k) {
  auto &v = vars();
  DenseStages &s = *k.dense;
  Func blocked = k.output;
  if (k.softmax) {
    blocked = s.dense.in();
    dataParallelAtRoot(k.output);
  }
  int perThread = std::min(4, s.outFeatures);
  int featureBlocks = int((int64_t(s.outFeatures) + perThread - 1) / perThread);
  int threads = std::min(kDenseThreads, featureBlocks);
  const TailStrategy guard = TailStrategy::GuardWithIf;
  Var fo("fo"), fi("fi"), bf("bf"), tf("tf"), no("no"), ni("ni");
  blocked.compute_root()
      .split(v.f, fo, fi, perThread)
      .split(v.n, no, ni, kBatchBlock, guard)
      .split(fo, bf, tf, threads, guard)
      .reorder(fi, ni, tf, bf, no)
      .unroll(fi)
      .unroll(ni)
      .gpu_blocks(bf, no)
      .gpu_threads(tf);
  s.dense.compute_at(blocked, tf)
      .store_in(MemoryType::Register)
      .reorder(v.f, v.n)
      .unroll(v.f)
      .unroll(v.n);
  s.dense.update().reorder(v.f, v.n, s.r).unroll(v.f).unroll(v.n);
  for (Func operand : {s.weight.in(s.dense), s.input.in(s.dense)}) {
    operand.compute_at(s.dense, s.r).store_in(MemoryType::Register);
    for (const Var &a : operand.args())
      operand.unroll(a);
  }
  std::ostringstream summary;
  summary << "dense: register block " << perThread << " features x " << kBatchBlock
          << " images per thread, " << threads
          << " threads per block, operands in registers per input feature";
  return summary.str();
}

std::string GpuScheduler::schedule(KernelStages &k, KernelPhase phase) {
  std::vector<Func> roots = rootStages(k);
  for (const Func &f : roots)
    dataParallelAtRoot(f);
  for (ChannelSum &sum : k.channelSums)
    scheduleChannelSum(sum);
  std::ostringstream summary;
  summary << "gpu ";
  for (const Func &extra : k.extraOutputs)
    dataParallelAtRoot(extra);
  if (k.conv) {
    summary << scheduleConv(k, target());
    return summary.str();
  }
  if (k.dense) {
    summary << scheduleDense(k);
    return summary.str();
  }
  if (k.convGradWeight) {
    summary << scheduleConvGradWeight(k);
    return summary.str();
  }
  dataParallelAtRoot(k.output);
  summary << "data parallel, " << kThreadsPerBlock << " threads per block";
  return summary.str();
}

} // namespace cnnc::halide
