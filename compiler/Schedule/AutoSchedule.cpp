//===- AutoSchedule.cpp - Halide's autoschedulers as an alternative -------===//
//
// `--schedule=auto:<name>` replaces the hand schedules with one of the
// autoscheduler plugins Debian ships with Halide 14. They need an estimate of
// every input's and output's size: static extents are exact, the batch is
// estimated.
//
//===----------------------------------------------------------------------===//
#include "compiler/Schedule/KernelStages.h"

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

void autoSchedule(KernelStages &k, const std::string &scheduler, const Target &target, int batch) {
  for (size_t i = 0; i < k.inputs.size(); ++i)
    k.inputs[i].set_estimates(estimatesFor(k.inputExtents[i], batch));
  k.output.set_estimates(estimatesFor(k.outputExtents, batch));
  for (size_t i = 0; i < k.extraOutputs.size(); ++i)
    k.extraOutputs[i].set_estimates(estimatesFor(k.extraOutputExtents[i], batch));
  int threads = std::max(1u, std::thread::hardware_concurrency());
  Pipeline(outputsOf(k))
      .auto_schedule(scheduler, target, MachineParams(threads, 32 * 1024 * 1024, 40));
}

} // namespace cnnc::halide
