//===- Scheduler.cpp - the scheduler for a target and a --schedule option -===//
//
// A GPU target (one with a CUDA or OpenCL feature) gets the GPU schedules,
// any other the CPU ones; an autoscheduler wraps the hand scheduler of the
// target's kind for the kernels it leaves alone.
//
//===----------------------------------------------------------------------===//
#include "compiler/Schedule/Scheduler.h"

namespace cnnc::halide {

static const char *const kAutoPrefix = "auto:";

bool isAutoScheduleOption(const std::string &option) { return option.rfind(kAutoPrefix, 0) == 0; }

std::unique_ptr<Scheduler> makeScheduler(const std::string &option, const Halide::Target &target,
                                         std::string &error) {
  bool gpu = target.has_gpu_feature();
  auto hand = [&] { return gpu ? makeGpuScheduler(target) : makeCpuScheduler(target); };
  if (option == "default")
    return hand();
  if (option == "cpu" || option == "gpu") {
    if ((option == "gpu") != gpu) {
      error = "--schedule=" + option + " does not fit " +
              (gpu ? "a GPU target (use gpu or default)" : "a CPU target (use cpu or default)");
      return nullptr;
    }
    return hand();
  }
  if (isAutoScheduleOption(option)) {
    std::string name = option.substr(std::string(kAutoPrefix).size());
    error = loadAutoscheduler(name);
    if (!error.empty())
      return nullptr;
    if (gpu && name != "Li2018") {
      error = "the " + name + " autoscheduler does not schedule for GPUs (use auto:Li2018)";
      return nullptr;
    }
    return makeAutoScheduler(name, target, hand());
  }
  error = "invalid --schedule '" + option +
          "' (expected default, cpu, gpu, auto:Adams2019, auto:Mullapudi2016 or auto:Li2018)";
  return nullptr;
}

} // namespace cnnc::halide
