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
    roots.push_back(k.convGradWeight->gradWeight);
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
  for (const ChannelSum &sum : k.channelSums)
    roots.push_back(sum.sum);
  return roots;
}

std::string GpuScheduler::schedule(KernelStages &k, KernelPhase phase) {
  std::vector<Func> roots = rootStages(k);
  for (const Func &f : roots)
    dataParallelAtRoot(f);
  for (const Func &out : outputsOf(k))
    dataParallelAtRoot(out);
  std::ostringstream summary;
  summary << "gpu: data parallel, " << kThreadsPerBlock << " threads per block";
  return summary.str();
}

} // namespace cnnc::halide
