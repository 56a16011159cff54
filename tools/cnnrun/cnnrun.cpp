//===- cnnrun.cpp - Run, time and train compiled cnnc models --------------===//
//
// The cnnrun driver: parses the command line (Options.cpp), prints help,
// the version or a usage error if that is what it asks for, and otherwise
// calls one of the commands in Commands.cpp (info, run, bench) or Train.cpp
// (train, eval). Exit status 0 on success, 1 on any error, reported on
// stderr as "cnnrun: error: <message>".
//
//===----------------------------------------------------------------------===//
#include "Commands.h"

#include <cstdio>
#include <exception>
#include <new>

int main(int argc, char **argv) {
  cnnrun::CommandLine commandLine = cnnrun::parseCommandLine(argc, argv);
  if (commandLine.exitStatus) {
    std::fputs(commandLine.out.c_str(), stdout);
    std::fputs(commandLine.err.c_str(), stderr);
    return *commandLine.exitStatus;
  }
  const cnnrun::Options &o = commandLine.options;
  try {
    if (o.command == "info")
      cnnrun::info(o);
    else if (o.command == "run")
      cnnrun::run(o);
    else if (o.command == "bench")
      cnnrun::bench(o);
    else if (o.command == "train")
      return cnnrun::train(o);
    else
      return cnnrun::eval(o);
    return 0;
  } catch (const std::bad_alloc &) {
    // Allocations whose size a user controls are checked and named where
    // they are made; this is the last resort for any other.
    std::fprintf(stderr, "cnnrun: error: out of memory\n");
    return 1;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "cnnrun: error: %s\n", e.what());
    return 1;
  }
}
