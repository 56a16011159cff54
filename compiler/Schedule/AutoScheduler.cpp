//===- AutoScheduler.cpp - Halide's autoschedulers as an alternative ------===//
//
// `--schedule=auto:<name>` replaces the hand schedules of the inference
// kernels with one of the autoscheduler plugins Debian ships with Halide 14
// (Li2018 also schedules for GPUs). They need an estimate of every input's
// and output's size: static extents are exact, the batch is estimated as 1
// (a larger estimate lets them split the batch, which then fails on smaller
// batches at run time). The train and eval steps and the parameter kernels
// keep the target's hand schedules: Adams2019 alone would take many minutes
// on a backward pass, and those kernels are not what --schedule compares.
//
//===----------------------------------------------------------------------===//
#include "compiler/Schedule/Scheduler.h"

#include <map>
#include <thread>

using namespace Halide;

namespace cnnc::halide {

static const char *const kPluginDir = "/usr/lib/x86_64-linux-gnu/halide14/";

static const std::map<std::string, std::string> &plugins() {
  static const std::map<std::string, std::string> table = {
      {"Adams2019", "libautoschedule_adams2019.so"},
      {"Mullapudi2016", "libautoschedule_mullapudi2016.so"},
      {"Li2018", "libautoschedule_li2018.so"},
  };
  return table;
}

std::string loadAutoscheduler(const std::string &scheduler) {
  auto it = plugins().find(scheduler);
  if (it == plugins().end())
    return "unknown autoscheduler '" + scheduler +
           "' (expected Adams2019, Mullapudi2016 or Li2018)";
  static std::map<std::string, bool> loaded;
  if (loaded[scheduler])
    return "";
  std::string path = std::string(kPluginDir) + it->second;
  try {
    load_plugin(path);
  } catch (const Halide::Error &e) {
    return "cannot load autoscheduler plugin " + path + ": " + e.what();
  }
  loaded[scheduler] = true;
  return "";
}

/// Estimates for a buffer of the given Halide-order extents (-1 = batch).
static Region estimatesFor(const std::vector<int> &extents, int batch) {
  Region region;
  for (int e : extents)
    region.push_back(Range(0, e < 0 ? batch : e));
  return region;
}

namespace {

class AutoScheduler : public Scheduler {
public:
  AutoScheduler(std::string name, const Target &target, std::unique_ptr<Scheduler> hand)
      : Scheduler(target), name(std::move(name)), hand(std::move(hand)) {}

  std::string schedule(KernelStages &k, KernelPhase phase) override {
    if (phase != KernelPhase::Inference)
      return hand->schedule(k, phase);
    const int batch = 1;
    for (size_t i = 0; i < k.inputs.size(); ++i)
      k.inputs[i].set_estimates(estimatesFor(k.inputExtents[i], batch));
    k.output.set_estimates(estimatesFor(k.outputExtents, batch));
    for (size_t i = 0; i < k.extraOutputs.size(); ++i)
      k.extraOutputs[i].set_estimates(estimatesFor(k.extraOutputExtents[i], batch));
    int threads = std::max(1u, std::thread::hardware_concurrency());
    Pipeline(outputsOf(k))
        .auto_schedule(name, target(), MachineParams(threads, 32 * 1024 * 1024, 40));
    return "auto:" + name;
  }

private:
  std::string name;
  std::unique_ptr<Scheduler> hand;
};

} // namespace

std::unique_ptr<Scheduler> makeAutoScheduler(const std::string &name, const Target &target,
                                             std::unique_ptr<Scheduler> hand) {
  return std::make_unique<AutoScheduler>(name, target, std::move(hand));
}

} // namespace cnnc::halide
