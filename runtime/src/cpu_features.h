//===- cpu_features.h - The CPU features a model.so needs -------*- C++ -*-===//
//
// A model.so's kernels are compiled for a Halide target whose features
// (avx2, avx512_skylake...) let the code use instruction set extensions the
// host may lack; run there, the first such instruction kills the process
// with SIGILL. The metadata records the target string; these functions map
// its x86 features to the extensions they allow (named as GCC's
// __builtin_cpu_supports names them) and find those the host lacks. The
// mapping is a pure function, tested with synthetic hosts.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_RUNTIME_SRC_CPU_FEATURES_H
#define CNNC_RUNTIME_SRC_CPU_FEATURES_H

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace cnnc::rt {

/// One feature of a target and the extensions it needs that a host lacks.
struct MissingCpuFeature {
  std::string feature;                 ///< as in the target string: "avx512_skylake"
  std::vector<std::string> extensions; ///< e.g. {"avx512bw", "avx512dq"}
};

/// The x86 features of the Halide target string `target` (e.g.
/// "x86-64-linux-avx-avx2-f16c-fma-sse41") and those they imply (as Halide
/// completes a target: avx512_skylake implies avx512, avx2, avx and sse41)
/// whose extensions `hostHas` does not report, oldest feature first, each
/// with the extensions missing. Features that are not x86 instruction set
/// extensions (the OS, "cuda", "no_asserts"...) and every feature of a
/// target that is not x86 are ignored.
std::vector<MissingCpuFeature>
missingCpuFeatures(std::string_view target, const std::function<bool(std::string_view)> &hostHas);

/// Whether this machine (its processor and its OS, which must save the
/// registers) supports the extension `name` (a name missingCpuFeatures
/// uses); false for an unknown name, and always false off x86.
bool hostHasCpuExtension(std::string_view name);

/// The features as a message fragment: "avx512_knl (avx512er, avx512pf) and
/// avxvnni (avxvnni)".
std::string describeMissing(const std::vector<MissingCpuFeature> &missing);

} // namespace cnnc::rt

#endif
