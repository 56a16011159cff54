//===- cnnrun.cpp - Run and time compiled cnnc models ---------------------===//
//
// The cnnrun driver: parses the command line and calls one of the commands
// in Commands.cpp (info, run, bench). Exit status 0 on success, 1 on any
// error, reported on stderr as "cnnrun: error: <message>".
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

namespace {

const char *const kUsage =
    "usage: cnnrun info MODEL.so [--json]\n"
    "       cnnrun run MODEL.so --weights W.safetensors --input X.npy [--input ...]\n"
    "                           --output Y.npy [--output ...]\n"
    "       cnnrun bench MODEL.so [--batch N] [--weights W.safetensors] [--iters K]\n"
    "                             [--warmup W] [--json]\n";

int64_t parseCount(const std::string &flag, const char *text) {
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(text, &end, 10);
  if (errno || end == text || *end)
    throw std::runtime_error(flag + " expects an integer, got '" + text + "'");
  return v;
}

cnnrun::Options parseArgs(int argc, char **argv) {
  cnnrun::Options o;
  if (argc < 3)
    throw std::runtime_error(std::string("missing command or model\n") + kUsage);
  o.command = argv[1];
  o.model = argv[2];
  if (o.command != "info" && o.command != "run" && o.command != "bench")
    throw std::runtime_error("unknown command '" + o.command + "'\n" + kUsage);
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char * {
      if (i + 1 >= argc)
        throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--json")
      o.json = true;
    else if (a == "--weights")
      o.weights = value();
    else if (a == "--input" && o.command == "run")
      o.inputs.push_back(value());
    else if (a == "--output" && o.command == "run")
      o.outputs.push_back(value());
    else if (a == "--batch" && o.command == "bench")
      o.batch = parseCount(a, value());
    else if (a == "--iters" && o.command == "bench")
      o.iters = parseCount(a, value());
    else if (a == "--warmup" && o.command == "bench")
      o.warmup = parseCount(a, value());
    else
      throw std::runtime_error("unknown option '" + a + "' for '" + o.command + "'\n" + kUsage);
  }
  return o;
}

} // namespace

int main(int argc, char **argv) {
  if (argc >= 2 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"))) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  try {
    cnnrun::Options o = parseArgs(argc, argv);
    if (o.command == "info")
      cnnrun::info(o);
    else if (o.command == "run")
      cnnrun::run(o);
    else
      cnnrun::bench(o);
    return 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "cnnrun: error: %s\n", e.what());
    return 1;
  }
}
