//===- Commands.h - The commands of cnnrun ----------------------*- C++ -*-===//
//
// The work behind `cnnrun info|run|bench|train|eval`, kept out of the main
// so that it stays thin: the command line (Options.cpp), inference commands
// (Commands.cpp) and training commands (Train.cpp). Each command prints its result to stdout and
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
  std::string command;                      ///< info, run, bench, train or eval
  std::string model;                        ///< path of model.so
  std::string weights;                      ///< safetensors path ("" = none)
  std::vector<std::string> inputs, outputs; ///< .npy paths, in model order
  int64_t batch = 0; ///< 0 = default (bench: 1; train/eval: the model's train.batch)
  int64_t iters = 20;
  int64_t warmup = 3;
  bool json = false;
  bool train = false; ///< bench: time train steps instead of inference
  // train and eval
  std::string data;                    ///< directory of the IDX files
  std::string checkpoint, resume;      ///< checkpoint paths ("" = none)
  int64_t epochs = 0;                  ///< 0 = the model's train.epochs
  double lr = -1;                      ///< < 0 = the model's optimizer lr
  std::string lrSchedule = "constant"; ///< constant, step:E:G or cosine
  uint64_t seed = 0;
  bool seedGiven = false;
  int64_t limit = 0, testLimit = 0; ///< use only the first N items (0 = all)
};

/// The usage text.
const char *usage();

/// Parses argv; throws std::runtime_error (with the usage) on a bad command line.
Options parseArgs(int argc, char **argv);

/// Prints the model's inputs, outputs, parameters and steps.
void info(const Options &options);

/// Runs the model on .npy inputs and writes .npy outputs.
void run(const Options &options);

/// Times the model at a batch size and prints per-step and total figures.
void bench(const Options &options);

/// Trains on DIR/train-* and reports per epoch, evaluating on DIR/t10k-*.
void train(const Options &options);

/// Reports the test accuracy of a checkpoint or a parameters file.
void eval(const Options &options);

} // namespace cnnrun

#endif
