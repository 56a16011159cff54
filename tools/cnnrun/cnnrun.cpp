//===- cnnrun.cpp - Run, time and train compiled cnnc models --------------===//
//
// The cnnrun driver: parses the command line (Options.cpp) and calls one of
// the commands in Commands.cpp (info, run, bench) or Train.cpp (train,
// eval). Exit status 0 on success, 1 on any error, reported on stderr as
// "cnnrun: error: <message>".
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include <cstdio>
#include <cstring>
#include <exception>

int main(int argc, char **argv) {
  if (argc >= 2 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"))) {
    std::fputs(cnnrun::usage(), stdout);
    return 0;
  }
  try {
    cnnrun::Options o = cnnrun::parseArgs(argc, argv);
    if (o.command == "info")
      cnnrun::info(o);
    else if (o.command == "run")
      cnnrun::run(o);
    else if (o.command == "bench")
      cnnrun::bench(o);
    else if (o.command == "train")
      cnnrun::train(o);
    else
      cnnrun::eval(o);
    return 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "cnnrun: error: %s\n", e.what());
    return 1;
  }
}
