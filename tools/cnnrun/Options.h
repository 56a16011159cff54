//===- Options.h - The command line of cnnrun -------------------*- C++ -*-===//
//
// What `cnnrun COMMAND MODEL.so [OPTIONS]` can say (Options) and the parser
// that reads argv into it (parseCommandLine, built on CLI11). The parser
// never prints and never exits: it returns either the options of a command
// to run, or the text to print and the exit status (help, --version, or a
// usage error), so that tests can check both.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_TOOLS_CNNRUN_OPTIONS_H
#define CNNC_TOOLS_CNNRUN_OPTIONS_H

#include "Pipeline.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cnnrun {

/// Everything the command line can say.
struct Options {
  std::string command;                      ///< info, run, bench, train or eval
  std::string model;                        ///< path of model.so
  std::string weights;                      ///< safetensors path ("" = none)
  std::string stripPrefix;                  ///< read parameter NAME from the file's PREFIX + NAME
  std::vector<std::string> inputs, outputs; ///< .npy paths, in model order
  int64_t batch = 0; ///< 0 = default (bench: 1; train/eval: the model's train.batch)
  int64_t iters = 20;
  int64_t warmup = 3;
  bool json = false;
  bool train = false; ///< bench: time train steps instead of inference
  // train and eval
  std::string data;                    ///< the dataset directory (Data.h)
  std::string checkpoint, resume;      ///< checkpoint paths ("" = none)
  int64_t checkpointEvery = 0;         ///< also checkpoint every N steps (0 = at epoch ends only)
  std::string log;                     ///< train: per-epoch metrics CSV ("" = none)
  int64_t epochs = 0;                  ///< 0 = the model's train.epochs
  double lr = -1;                      ///< < 0 = the model's optimizer lr
  std::string lrSchedule = "constant"; ///< constant, step:E:G or cosine
  int64_t lrWarmup = 0;                ///< linear warm-up over the first N steps
  uint64_t seed = 0;
  bool seedGiven = false;
  int64_t limit = 0;      ///< use only the first N training items (0 = all)
  int64_t testLimit = -1; ///< use only the first N test items (-1 = all, 0 = none)
  double valSplit = 0;    ///< hold out this share of the training items for validation
  int64_t earlyStop = 0;  ///< stop after N epochs without a better validation loss
  int64_t printEvery = 0; ///< progress line every N steps off a terminal (0 = a tenth of an epoch)
  Preprocessing preprocessing;
  // train: optimizer settings changed at run time (unset: the model's or the checkpoint's)
  std::optional<std::string> optimizer;
  std::optional<double> momentum, dampening, weightDecay, beta1, beta2, epsilon;
  std::optional<bool> nesterov;
  std::optional<double> labelSmoothing, clipGradNorm; ///< unset: the model's
};

/// The outcome of parsing a command line.
struct CommandLine {
  Options options;               ///< the command to run, when exitStatus is empty
  std::optional<int> exitStatus; ///< set when cnnrun should print and stop instead
  std::string out;               ///< for stdout: help or version text
  std::string err;               ///< for stderr: "cnnrun: error: ..." and a pointer to --help
};

/// Parses `cnnrun COMMAND MODEL.so [OPTIONS]` (argv[0] is the program).
/// --help (of the tool or of a command) and --version exit with 0; a usage
/// error (unknown command or option, missing or malformed value) with 1.
CommandLine parseCommandLine(int argc, const char *const *argv);

/// The same for a list of arguments without the program name.
CommandLine parseCommandLine(const std::vector<std::string> &args);

} // namespace cnnrun

#endif
