//===- Scheduler.h - one schedule per target for a lowered kernel -*- C++ -*-===//
//
// A Scheduler turns the algorithm of one lowered kernel (KernelStages) into
// code for one kind of machine. There is one implementation per target
// family: CpuScheduler (SIMD vectors and threads), GpuScheduler (thread
// blocks, shared memory; CUDA and OpenCL) and AutoScheduler (one of
// Halide's autoschedulers, with a hand scheduler for the kernels it does not
// take). `makeScheduler` picks one from the target and the --schedule option.
// schedule() returns a one-line summary of its choices (variant, tile sizes),
// which `cnnc --emit=halide` prints above each kernel.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_SCHEDULE_SCHEDULER_H
#define CNNC_SCHEDULE_SCHEDULER_H

#include "compiler/Lowering/Halide/KernelStages.h"

#include <memory>
#include <string>

namespace cnnc::halide {

/// What a kernel is for: autoschedulers only take inference kernels.
enum class KernelPhase { Inference, Training, Parameters };

class Scheduler {
public:
  virtual ~Scheduler() = default;
  /// Schedules `kernel`; returns a one-line summary of the choices made.
  virtual std::string schedule(KernelStages &kernel, KernelPhase phase) = 0;
  /// The target the scheduled code is compiled for.
  const Halide::Target &target() const { return target_; }

protected:
  explicit Scheduler(const Halide::Target &target) : target_(target) {}
  Halide::Target target_;

private:
  Scheduler(const Scheduler &) = delete;
  Scheduler &operator=(const Scheduler &) = delete;
};

/// cnnc's hand-written schedules for x86 CPUs (AVX2 / AVX-512 vectors).
std::unique_ptr<Scheduler> makeCpuScheduler(const Halide::Target &target);
/// cnnc's hand-written schedules for GPUs (a target with CUDA or OpenCL).
std::unique_ptr<Scheduler> makeGpuScheduler(const Halide::Target &target);

/// Halide's autoscheduler `name` for the inference kernels, `hand` for the
/// others. Load its plugin first (loadAutoscheduler).
std::unique_ptr<Scheduler> makeAutoScheduler(const std::string &name, const Halide::Target &target,
                                             std::unique_ptr<Scheduler> hand);
/// Loads the plugin of a Halide autoscheduler; returns "" or an error.
std::string loadAutoscheduler(const std::string &name);

/// The scheduler for `option` ("default", "cpu", "gpu" or
/// "auto:<Adams2019|Mullapudi2016|Li2018>") on `target`, or an error message
/// in `error`. "default" is the hand scheduler of the target's kind.
std::unique_ptr<Scheduler> makeScheduler(const std::string &option, const Halide::Target &target,
                                         std::string &error);

/// True when `option` names a Halide autoscheduler (`auto:<name>`).
bool isAutoScheduleOption(const std::string &option);

} // namespace cnnc::halide

#endif
