//===- Commands.h - The commands of cnnrun ----------------------*- C++ -*-===//
//
// The work behind `cnnrun info|run|bench|train|eval`, kept out of the main
// so that it stays thin: the command line (Options.h), inference commands
// (Commands.cpp) and training commands (Train.cpp). Each command prints its
// result to stdout and throws (cnnc::Error or std::runtime_error) on
// failure; the main turns that into "cnnrun: error: <message>" and exit
// code 1.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_TOOLS_CNNRUN_COMMANDS_H
#define CNNC_TOOLS_CNNRUN_COMMANDS_H

#include "Options.h"

#include "cnnc/runtime.hpp"

#include <string>
#include <vector>

namespace cnnrun {

/// "adam (beta1 0.9, beta2 0.999, epsilon 1e-08, weight decay 0)".
std::string describeOptimizer(const cnnc::OptimizerSettings &settings);

/// Checks, before any work, that the file `path` (`what` in messages: "the
/// checkpoint", "the output") can be written: an existing file there is not
/// write-protected (no write permission, or no write bit at all: refused
/// for root too, as the runtime's writer refuses it) nor a directory, and
/// its directory accepts a new file (a probe file "<path>.tmp-<pid>" is
/// created and removed). Throws std::runtime_error naming the path and the
/// cause.
void checkWritable(const std::string &path, const std::string &what);

/// Checks that `batch` items of every tensor in `tensors` fit in 64-bit
/// sizes and, together, in this machine's physical memory; throws naming
/// `flag` ("--batch"), the bytes needed and the memory there is.
void checkBatchMemory(int64_t batch, const std::vector<cnnc::TensorInfo> &tensors,
                      const std::string &flag);

/// `count` zeroed floats for `what` ("input 'x' at batch 64"); an allocation
/// failure throws std::runtime_error naming `what` and the bytes asked for.
std::vector<float> allocateFloats(int64_t count, const std::string &what);

/// Prints the model's inputs, outputs, parameters and steps.
void info(const Options &options);

/// Runs the model on .npy inputs and writes .npy outputs.
void run(const Options &options);

/// Times the model at a batch size and prints per-step and total figures.
void bench(const Options &options);

/// Trains on --data and reports per epoch; returns the exit status (0, or
/// 128 + the signal that stopped it).
int train(const Options &options);

/// Reports the test accuracy of a checkpoint or a parameters file; returns 0.
int eval(const Options &options);

} // namespace cnnrun

#endif
