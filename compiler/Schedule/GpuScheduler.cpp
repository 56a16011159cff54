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
//  - dense layers: see scheduleDense.
//
//===----------------------------------------------------------------------===//
#include "compiler/Schedule/Scheduler.h"

#include <sstream>

using namespace Halide;

namespace cnnc::halide {

/// Threads per block of a data-parallel stage.
constexpr int kThreadsPerBlock = 256;
/// Output-channel threads per convolution block (one warp).
constexpr int kConvThreads = 32;
/// Largest conv register block per thread (accumulators).
constexpr int kConvAccumulators = 36;
/// Input channels per staged chunk of a convolution's reduction.
constexpr int kConvChunk = 16;
/// Largest staged weight tile of a convolution, in floats (shared memory).
constexpr int kConvWeightTile = 8192;

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
/// (conv, dense), computed at the root.
static std::vector<Func> rootStages(const KernelStages &k) {
  std::vector<Func> roots;
  if (k.conv)
    roots.push_back(k.conv->padded);
  if (k.dense)
    roots.push_back(k.dense->partial);
  if (k.pool) {
    roots.push_back(k.pool->padded);
    if (k.pool->r.defined())
      roots.push_back(k.pool->sum.defined() ? k.pool->sum : k.pool->pool);
  }
  if (k.softmax) {
    roots.push_back(k.softmax->maximum);
    roots.push_back(k.softmax->sum);
  }
  if (k.convGradWeight) {
    roots.push_back(k.convGradWeight->inputPadded);
    roots.push_back(k.convGradWeight->gradPadded);
    roots.push_back(k.convGradWeight->partial);
  }
  if (k.vectorReduction)
    roots.push_back(k.vectorReduction->func);
  if (k.kmax) {
    roots.push_back(k.kmax->rank);
    roots.push_back(k.kmax->pos);
    roots.push_back(k.kmax->index);
  }
  if (k.embeddingGrad)
    roots.push_back(k.embeddingGrad->table);
  for (const Func &r : k.reductions)
    roots.push_back(r);
  for (const auto &[plane, width] : k.rootPlanes)
    roots.push_back(plane);
  for (const auto &[partial, lanes] : k.channelSums)
    roots.push_back(partial);
  return roots;
}

/// The largest divisor of n that is at most `cap` (at least 1).
static int largestDivisorAtMost(int n, int cap) {
  for (int d = std::min(n, cap); d > 1; --d)
    if (n % d == 0)
      return d;
  return 1;
}

/// Fuses the given dimensions of a Func's pure stage (innermost first) and
/// spreads them over `threads` GPU threads, each looping over its share:
/// how a block loads a tile into shared memory, consecutive threads on
/// consecutive elements.
static void loadCooperatively(Func tile, const std::vector<Var> &dims, int threads) {
  Var flat = dims[0];
  for (size_t i = 1; i < dims.size(); ++i) {
    Var fused(flat.name() + "_" + dims[i].name());
    tile.fuse(flat, dims[i], fused);
    flat = fused;
  }
  Var outer(flat.name() + "_o"), lane(flat.name() + "_t");
  tile.split(flat, outer, lane, threads, TailStrategy::GuardWithIf).reorder(lane, outer).gpu_threads(lane);
}

/// Convolution (forward, input gradient, transposed): one thread block per
/// tile of blockX x blockY output pixels x `threads` output channels of one
/// image; each thread owns one output channel and keeps the tile's pixels
/// for it in registers (blockX x blockY accumulators, unrolled, with the
/// conv taps). The reduction over input channels is chunked: per chunk the
/// block stages the input window and the weights it needs in shared memory
/// (weights stored with the output channel innermost, so the threads of a
/// warp read consecutive words), then every thread accumulates from them.
/// A fused pooling is the block's output: the conv tile covers its windows.
/// Grouped convolutions compute one output per thread.
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
  // The conv region one output tile needs along a dimension.
  auto convSpan = [&](int block, bool alongX) {
    if (!pooled)
      return block;
    const PoolAttrs &p = k.pool->attrs;
    int stride = alongX ? p.strideX : p.strideY, window = alongX ? p.kernelW : p.kernelH;
    return (block - 1) * stride + window;
  };
  int blockX = std::min(4, outW), blockY = std::min(4, outH);
  while (convSpan(blockX, true) * convSpan(blockY, false) > kConvAccumulators &&
         (blockX > 1 || blockY > 1)) {
    if (blockX >= blockY)
      blockX = (blockX + 1) / 2;
    else
      blockY = (blockY + 1) / 2;
  }
  int threads = outC <= kConvThreads ? outC : largestDivisorAtMost(outC, kConvThreads);
  if (threads < 8 && outC > kConvThreads)
    threads = kConvThreads;
  int taps = s.attrs.kernelW * s.attrs.kernelH;
  int inChannels = s.r.z.extent().as<Internal::IntImm>()
                       ? int(s.r.z.extent().as<Internal::IntImm>()->value)
                       : 1;
  int chunk = largestDivisorAtMost(inChannels, kConvChunk);
  while (chunk > 1 && taps * chunk * threads > kConvWeightTile)
    chunk = largestDivisorAtMost(inChannels, chunk - 1);

  Var xo("xo"), xi("xi"), yo("yo"), yi("yi"), co("co"), ci("ci"), tile("tile");
  TailStrategy channelTail = outC % threads ? TailStrategy::GuardWithIf : TailStrategy::Auto;
  out.compute_root()
      .split(v.x, xo, xi, blockX)
      .split(v.y, yo, yi, blockY)
      .split(v.c, co, ci, threads, channelTail)
      .reorder(xi, yi, ci, xo, yo, co, v.n)
      .unroll(xi)
      .unroll(yi)
      .fuse(co, v.n, tile)
      .gpu_blocks(xo, yo, tile)
      .gpu_threads(ci);
  if (pooled && k.pool->r.defined())
    (k.pool->sum.defined() ? k.pool->sum : k.pool->pool).compute_at(out, ci);

  // The accumulators: each thread's slice lives in its registers.
  s.conv.compute_at(out, xo)
      .store_in(MemoryType::Register)
      .reorder(v.c, v.x, v.y, v.n)
      .gpu_threads(v.c)
      .unroll(v.x)
      .unroll(v.y);
  RVar rzo("rzo"), rzi("rzi");
  Stage update = s.conv.update();
  update.split(s.r.z, rzo, rzi, chunk)
      .reorder(v.c, v.x, v.y, s.r.x, s.r.y, rzi, v.n, rzo)
      .gpu_threads(v.c)
      .unroll(v.x)
      .unroll(v.y);
  // Unrolled taps let the compiler reuse each staged input value across the
  // taps and pixels that read it. OpenCL keeps the tap loops: PoCL, the CPU
  // OpenCL that runs the GPU schedules in testing, takes minutes to build
  // unrolled kernels, and the loops compute the same sums.
  bool unrollTaps = taps <= 25 && target.has_feature(Target::CUDA);
  if (unrollTaps)
    update.unroll(s.r.x).unroll(s.r.y);

  // Per chunk of input channels: the input window and the weights, staged
  // in shared memory by all threads of the block.
  Func inputTile = s.source.in(s.conv);
  std::vector<Var> in = inputTile.args();
  inputTile.compute_at(s.conv, rzo).store_in(MemoryType::GPUShared);
  loadCooperatively(inputTile, {in[0], in[1], in[2]}, threads);
  Func weightTile = s.weights;
  std::vector<Var> w = weightTile.args(); // (kx, ky, ci, co)
  weightTile.compute_at(s.conv, rzo)
      .store_in(MemoryType::GPUShared)
      .reorder_storage(w[3], w[0], w[1], w[2]);
  loadCooperatively(weightTile, {w[0], w[1], w[2], w[3]}, threads);

  std::ostringstream summary;
  summary << "conv: block " << blockX << "x" << blockY << " pixels x " << threads
          << " channels, register block " << convSpan(blockX, true) << "x"
          << convSpan(blockY, false) << " per thread" << (unrollTaps ? " (taps unrolled)" : "")
          << ", input channels in chunks of " << chunk << " staged in shared memory";
  return summary.str();
}

std::string GpuScheduler::schedule(KernelStages &k, KernelPhase phase) {
  std::vector<Func> roots = rootStages(k);
  for (const Func &f : roots)
    dataParallelAtRoot(f);
  std::ostringstream summary;
  summary << "gpu ";
  for (const Func &extra : k.extraOutputs)
    dataParallelAtRoot(extra);
  if (k.conv) {
    summary << scheduleConv(k, target());
    return summary.str();
  }
  dataParallelAtRoot(k.output);
  summary << "data parallel, " << kThreadsPerBlock << " threads per block";
  return summary.str();
}

} // namespace cnnc::halide
