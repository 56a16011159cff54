//===- Options.cpp - The command line of cnnrun ---------------------------===//
//
// Parses `cnnrun COMMAND MODEL.so [flags]` into cnnrun::Options. Each flag
// is accepted only by the commands it applies to; a flag given to the wrong
// command, a missing value or a malformed number is an error that ends with
// the usage text.
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace cnnrun {
namespace {

const char *const kUsage =
    "usage: cnnrun info MODEL.so [--json]\n"
    "       cnnrun run MODEL.so --weights W.safetensors --input X.npy [--input ...]\n"
    "                           --output Y.npy [--output ...]\n"
    "       cnnrun bench MODEL.so [--batch N] [--weights W.safetensors] [--iters K]\n"
    "                             [--warmup W] [--train] [--json]\n"
    "       cnnrun train MODEL.so --data DIR [--epochs N] [--batch B] [--lr X]\n"
    "                             [--lr-schedule constant|step:E:G|cosine] [--seed S]\n"
    "                             [--checkpoint PATH] [--resume PATH] [--limit N]\n"
    "                             [--weights W.safetensors] [--test-limit N] [--json]\n"
    "       cnnrun eval MODEL.so (--checkpoint PATH | --weights W.safetensors) --data DIR\n"
    "                            [--batch B] [--test-limit N] [--json]\n";

int64_t parseCount(const std::string &flag, const char *text, int64_t min) {
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(text, &end, 10);
  if (errno || end == text || *end)
    throw std::runtime_error(flag + " expects an integer, got '" + text + "'");
  if (v < min)
    throw std::runtime_error(flag + " must be at least " + std::to_string(min) + ", got " + text);
  return v;
}

double parseNumber(const std::string &flag, const char *text) {
  char *end = nullptr;
  double v = std::strtod(text, &end);
  if (end == text || *end || !std::isfinite(v) || v < 0)
    throw std::runtime_error(flag + " expects a non-negative number, got '" + text + "'");
  return v;
}

} // namespace

const char *usage() { return kUsage; }

Options parseArgs(int argc, char **argv) {
  Options o;
  if (argc < 3)
    throw std::runtime_error(std::string("missing command or model\n") + kUsage);
  o.command = argv[1];
  o.model = argv[2];
  const std::string &c = o.command;
  bool training = c == "train" || c == "eval";
  if (c != "info" && c != "run" && c != "bench" && !training)
    throw std::runtime_error("unknown command '" + c + "'\n" + kUsage);
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char * {
      if (i + 1 >= argc)
        throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--json" && c != "run")
      o.json = true;
    else if (a == "--weights")
      o.weights = value();
    else if (a == "--input" && c == "run")
      o.inputs.push_back(value());
    else if (a == "--output" && c == "run")
      o.outputs.push_back(value());
    else if (a == "--batch" && (c == "bench" || training))
      o.batch = parseCount(a, value(), 1);
    else if (a == "--iters" && c == "bench")
      o.iters = parseCount(a, value(), 1);
    else if (a == "--train" && c == "bench")
      o.train = true;
    else if (a == "--warmup" && c == "bench")
      o.warmup = parseCount(a, value(), 0);
    else if (a == "--data" && training)
      o.data = value();
    else if (a == "--checkpoint" && training)
      o.checkpoint = value();
    else if (a == "--test-limit" && training)
      o.testLimit = parseCount(a, value(), 1);
    else if (a == "--epochs" && c == "train")
      o.epochs = parseCount(a, value(), 1);
    else if (a == "--lr" && c == "train")
      o.lr = parseNumber(a, value());
    else if (a == "--lr-schedule" && c == "train")
      o.lrSchedule = value();
    else if (a == "--seed" && c == "train")
      o.seed = uint64_t(parseCount(a, value(), 0)), o.seedGiven = true;
    else if (a == "--resume" && c == "train")
      o.resume = value();
    else if (a == "--limit" && c == "train")
      o.limit = parseCount(a, value(), 1);
    else
      throw std::runtime_error("unknown option '" + a + "' for '" + c + "'\n" + kUsage);
  }
  return o;
}

} // namespace cnnrun
