//===- Commands.h - The commands of cnnrun ----------------------*- C++ -*-===//
//
// The work behind `cnnrun info|run|bench`, kept out of the main so that it
// stays a thin argument parser. Each command prints its result to stdout and
// throws (cnnc::Error or std::runtime_error) on failure; the main turns that
// into "cnnrun: error: <message>" and exit code 1.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_TOOLS_CNNRUN_COMMANDS_H
#define CNNC_TOOLS_CNNRUN_COMMANDS_H

#include <cstdint>
#include <string>
#include <vector>

namespace cnnrun {

/// Everything the command line can say.
struct Options {
  std::string command;                      ///< info, run or bench
  std::string model;                        ///< path of model.so
  std::string weights;                      ///< safetensors path ("" = none)
  std::vector<std::string> inputs, outputs; ///< .npy paths, in model order
  int64_t batch = 1;
  int64_t iters = 20;
  int64_t warmup = 3;
  bool json = false;
};

/// Prints the model's inputs, outputs, parameters and steps.
void info(const Options &options);

/// Runs the model on .npy inputs and writes .npy outputs.
void run(const Options &options);

/// Times the model at a batch size and prints per-step and total figures.
void bench(const Options &options);

} // namespace cnnrun

#endif
