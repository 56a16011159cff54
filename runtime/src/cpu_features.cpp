//===- cpu_features.cpp - The CPU features a model.so needs ---------------===//
//
// The table below gives, for each x86 feature of a Halide target, the
// features it implies and the instruction set extensions its code may
// contain: those of the -mcpu Halide passes to LLVM for it (haswell for
// avx2, skylake-avx512, cannonlake, sapphirerapids) and of the -mattr it
// adds, limited to what LLVM emits from ordinary code (AMX and AVX512-FP16
// only come from intrinsics or half-precision arithmetic, which cnnc's
// float32 kernels never use). hostHasCpuExtension asks the processor:
// __builtin_cpu_supports, which also checks that the OS saves the AVX and
// AVX-512 registers, and CPUID for the two Xeon Phi extensions that
// compilers no longer name.
//
//===----------------------------------------------------------------------===//
#include "cpu_features.h"

#include <algorithm>
#include <set>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace cnnc::rt {
namespace {

struct FeatureRow {
  std::string_view feature;
  std::vector<std::string_view> implies;
  std::vector<std::string_view> extensions;
};

/// Oldest first, so that a feature's implications come before it.
const std::vector<FeatureRow> &featureTable() {
  static const std::vector<FeatureRow> table = {
      {"sse41", {}, {"ssse3", "sse4.1"}},
      {"avx", {"sse41"}, {"sse4.2", "popcnt", "avx"}},
      {"f16c", {}, {"f16c"}},
      {"fma", {}, {"fma"}},
      {"fma4", {}, {"fma4"}},
      {"avx2", {"avx", "f16c", "fma"}, {"avx2", "bmi", "bmi2", "lzcnt", "movbe"}},
      {"avx512", {"avx2"}, {"avx512f", "avx512cd"}},
      {"avx512_knl", {"avx512"}, {"avx512er", "avx512pf"}},
      {"avx512_skylake", {"avx512"}, {"avx512bw", "avx512dq", "avx512vl"}},
      {"avx512_cannonlake", {"avx512_skylake"}, {"avx512ifma", "avx512vbmi"}},
      {"avxvnni", {"avx2"}, {"avxvnni"}},
      {"avx512_zen4",
       {"avx512_cannonlake"},
       {"avx512vnni", "avx512bf16", "avx512vbmi2", "avx512bitalg", "avx512vpopcntdq", "gfni"}},
      {"avx512_sapphirerapids", {"avx512_zen4", "avxvnni"}, {}},
  };
  return table;
}

const FeatureRow *findRow(std::string_view feature) {
  for (const FeatureRow &row : featureTable())
    if (row.feature == feature)
      return &row;
  return nullptr;
}

void addWithImplied(std::string_view feature, std::set<std::string_view> &out) {
  const FeatureRow *row = findRow(feature);
  if (!row || !out.insert(row->feature).second)
    return;
  for (std::string_view implied : row->implies)
    addWithImplied(implied, out);
}

} // namespace

std::vector<MissingCpuFeature>
missingCpuFeatures(std::string_view target, const std::function<bool(std::string_view)> &hostHas) {
  std::vector<std::string_view> parts;
  for (size_t start = 0; start <= target.size();) {
    size_t end = std::min(target.find('-', start), target.size());
    parts.push_back(target.substr(start, end - start));
    start = end + 1;
  }
  // "x86-64-linux-...": the architecture first, then the bits and the OS.
  if (parts.empty() || parts[0] != "x86")
    return {};
  std::set<std::string_view> features;
  for (size_t i = 1; i < parts.size(); ++i)
    addWithImplied(parts[i], features);
  std::vector<MissingCpuFeature> missing;
  for (const FeatureRow &row : featureTable()) {
    if (!features.count(row.feature))
      continue;
    MissingCpuFeature m{std::string(row.feature), {}};
    for (std::string_view e : row.extensions)
      if (!hostHas(e))
        m.extensions.emplace_back(e);
    if (!m.extensions.empty())
      missing.push_back(std::move(m));
  }
  return missing;
}

bool hostHasCpuExtension(std::string_view name) {
#if defined(__x86_64__) || defined(__i386__)
  // __builtin_cpu_supports takes string literals only.
#define CNNC_CPU_EXTENSION(x)                                                                      \
  if (name == x)                                                                                   \
    return __builtin_cpu_supports(x);
  CNNC_CPU_EXTENSION("ssse3")
  CNNC_CPU_EXTENSION("sse4.1")
  CNNC_CPU_EXTENSION("sse4.2")
  CNNC_CPU_EXTENSION("popcnt")
  CNNC_CPU_EXTENSION("avx")
  CNNC_CPU_EXTENSION("f16c")
  CNNC_CPU_EXTENSION("fma")
  CNNC_CPU_EXTENSION("fma4")
  CNNC_CPU_EXTENSION("avx2")
  CNNC_CPU_EXTENSION("bmi")
  CNNC_CPU_EXTENSION("bmi2")
  CNNC_CPU_EXTENSION("lzcnt")
  CNNC_CPU_EXTENSION("movbe")
  CNNC_CPU_EXTENSION("avx512f")
  CNNC_CPU_EXTENSION("avx512cd")
  CNNC_CPU_EXTENSION("avx512bw")
  CNNC_CPU_EXTENSION("avx512dq")
  CNNC_CPU_EXTENSION("avx512vl")
  CNNC_CPU_EXTENSION("avx512ifma")
  CNNC_CPU_EXTENSION("avx512vbmi")
  CNNC_CPU_EXTENSION("avxvnni")
  CNNC_CPU_EXTENSION("avx512vnni")
  CNNC_CPU_EXTENSION("avx512bf16")
  CNNC_CPU_EXTENSION("avx512vbmi2")
  CNNC_CPU_EXTENSION("avx512bitalg")
  CNNC_CPU_EXTENSION("avx512vpopcntdq")
  CNNC_CPU_EXTENSION("gfni")
#undef CNNC_CPU_EXTENSION
  // Xeon Phi's extensions: CPUID leaf 7, EBX bits 27 (ER) and 26 (PF),
  // usable only where the OS saves the AVX-512 state.
  if (name == "avx512er" || name == "avx512pf") {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__builtin_cpu_supports("avx512f") || !__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
      return false;
    return (ebx >> (name == "avx512er" ? 27 : 26)) & 1;
  }
#else
  (void)name;
#endif
  return false;
}

std::string describeMissing(const std::vector<MissingCpuFeature> &missing) {
  std::string s;
  for (size_t i = 0; i < missing.size(); ++i) {
    s += i == 0 ? "" : i + 1 == missing.size() ? " and " : ", ";
    s += missing[i].feature + " (";
    for (size_t j = 0; j < missing[i].extensions.size(); ++j)
      s += (j ? ", " : "") + missing[i].extensions[j];
    s += ")";
  }
  return s;
}

} // namespace cnnc::rt
