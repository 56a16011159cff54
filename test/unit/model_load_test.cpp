//===- model_load_test.cpp - Refusing damaged and foreign model.so files --===//
//
// What cnnc_model_load checks before anything in a library runs, each
// refusal with its message: a file that is not ELF, of another class, type
// or machine, truncated inside its ELF header, program headers, a segment
// or its section headers (dlopen would die with SIGBUS), and a library that
// is not a model (libz); then, after loading, metadata whose kernel calls do
// not match the kernels' own Halide metadata (the wrong kernel for a step,
// ranks, outputs into inputs, a buffer of another shape than the kernel was
// compiled for) or whose indices are out of range, another ABI
// version, and a target with CPU features this machine lacks. Damaged
// copies of the hand-written test model and of a compiled model
// (models/mnist_cnn.yaml, when the build has cnnc) are made byte by byte;
// `cnnrun info` on a truncated one must exit with the message, not a signal.
// The CPU feature check is also tested as the pure function it is, with
// synthetic hosts.
//
//===----------------------------------------------------------------------===//
#include "cnnc/runtime.h"
#include "cpu_features.h"
#include "test_util.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <dlfcn.h>
#include <elf.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

using namespace cnnc::test;
using ::testing::HasSubstr;

namespace {

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Loads `path`; expects `status` and returns the message.
std::string refusal(const std::string &path, cnnc_status status) {
  cnnc_model *m = nullptr;
  cnnc_status got = cnnc_model_load(path.c_str(), &m);
  EXPECT_EQ(got, status) << cnnc_last_error();
  EXPECT_EQ(m, nullptr);
  if (m)
    cnnc_model_free(m);
  return cnnc_last_error();
}

/// `bytes` with the one occurrence of `from` replaced by `to` (same length).
std::string edited(const std::string &bytes, const std::string &from, const std::string &to) {
  EXPECT_EQ(from.size(), to.size());
  size_t at = bytes.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  EXPECT_EQ(bytes.find(from, at + 1), std::string::npos) << from << " occurs twice";
  std::string out = bytes;
  if (at != std::string::npos)
    out.replace(at, from.size(), to);
  return out;
}

/// `text` with the characters special in a POSIX extended regex escaped (used only where the
/// compiled test models are built: not in a runtime-only or sanitizer tree).
[[maybe_unused]] std::string regexEscape(const std::string &text) {
  std::string out;
  for (char c : text) {
    if (std::strchr(".[]{}()\\*+?^$|", c))
      out += '\\';
    out += c;
  }
  return out;
}

/// The ELF headers of the test model.
struct Layout {
  Elf64_Ehdr header;
  std::vector<Elf64_Phdr> segments;
};

Layout layoutOf(const std::string &bytes) {
  Layout l;
  std::memcpy(&l.header, bytes.data(), sizeof l.header);
  l.segments.resize(l.header.e_phnum);
  std::memcpy(l.segments.data(), bytes.data() + l.header.e_phoff,
              l.segments.size() * sizeof(Elf64_Phdr));
  return l;
}

TEST(ModelFile, TruncatedLibrariesAreRefusedWithWhereTheyEnd) {
  TempDir dir;
  std::string bytes = readFile(CNNC_TEST_MODEL);
  Layout l = layoutOf(bytes);
  ASSERT_GT(l.header.e_shoff, 0u);
  // The last segment with contents, cut in its middle.
  size_t segment = 0;
  for (size_t i = 0; i < l.segments.size(); ++i)
    if (l.segments[i].p_type == PT_LOAD && l.segments[i].p_filesz > 0)
      segment = i;
  const Elf64_Phdr &p = l.segments[segment];
  struct Cut {
    uint64_t size;
    std::string what;
    uint64_t end;
  };
  std::vector<Cut> cuts = {
      {40, "the ELF header", 64},
      {l.header.e_phoff + 20, "the program header table",
       l.header.e_phoff + l.header.e_phnum * sizeof(Elf64_Phdr)},
      {p.p_offset + p.p_filesz / 2, "segment " + std::to_string(segment), p.p_offset + p.p_filesz},
      {l.header.e_shoff + 100, "the section header table",
       l.header.e_shoff + l.header.e_shnum * sizeof(Elf64_Shdr)},
  };
  for (const Cut &cut : cuts) {
    std::string path = dir.file("cut" + std::to_string(cut.size) + ".so");
    writeFile(path, bytes.substr(0, cut.size));
    EXPECT_EQ(refusal(path, CNNC_ERROR_FORMAT), "'" + path + "' is truncated: " + cut.what +
                                                    " ends at byte " + std::to_string(cut.end) +
                                                    " but the file has " +
                                                    std::to_string(cut.size) + " bytes");
  }
  // A section header whose section runs past the end of the file (the
  // section before the section names).
  auto sectionAt = [&](size_t i) {
    Elf64_Shdr h;
    std::memcpy(&h, bytes.data() + l.header.e_shoff + i * sizeof(Elf64_Shdr), sizeof h);
    return h;
  };
  size_t index =
      l.header.e_shnum - 1 == l.header.e_shstrndx ? l.header.e_shnum - 2 : l.header.e_shnum - 1;
  Elf64_Shdr last = sectionAt(index);
  std::string name = bytes.data() + sectionAt(l.header.e_shstrndx).sh_offset + last.sh_name;
  size_t lastAt = l.header.e_shoff + index * sizeof(Elf64_Shdr);
  last.sh_size = bytes.size();
  std::string path = dir.file("long_section.so");
  writeFile(path, bytes.substr(0, lastAt) +
                      std::string(reinterpret_cast<const char *>(&last), sizeof last) +
                      bytes.substr(lastAt + sizeof last));
  EXPECT_EQ(refusal(path, CNNC_ERROR_FORMAT),
            "'" + path + "' is truncated: section " + std::to_string(index) + " (" + name +
                ") ends at byte " + std::to_string(last.sh_offset + bytes.size()) +
                " but the file has " + std::to_string(bytes.size()) + " bytes");
  // cnnrun reports a cut segment and exits with 1 (it died with SIGBUS once).
  std::string cut = dir.file("cut" + std::to_string(cuts[2].size) + ".so");
  std::string out, err;
  EXPECT_EQ(runCommand(std::string(CNNC_CNNRUN) + " info " + cut, out, &err), 1);
  EXPECT_EQ(err, "cnnrun: error: '" + cut + "' is truncated: segment " + std::to_string(segment) +
                     " ends at byte " + std::to_string(cuts[2].end) + " but the file has " +
                     std::to_string(cuts[2].size) + " bytes\n");
}

TEST(ModelFile, FilesThatAreNotModelLibraries) {
  TempDir dir;
  std::string empty = dir.file("empty.so");
  writeFile(empty, "");
  EXPECT_EQ(refusal(empty, CNNC_ERROR_FORMAT), "'" + empty + "' is empty, not a model library");

  std::string bytes = readFile(CNNC_TEST_MODEL);
  std::string elf32 = dir.file("elf32.so");
  writeFile(elf32, bytes.substr(0, 4) + char(ELFCLASS32) + bytes.substr(5));
  EXPECT_EQ(refusal(elf32, CNNC_ERROR_FORMAT),
            "'" + elf32 + "' is a 32-bit ELF file; this runtime loads 64-bit libraries only");

  auto withHeader = [&](const std::string &name, auto edit) {
    Elf64_Ehdr h;
    std::memcpy(&h, bytes.data(), sizeof h);
    edit(h);
    std::string path = dir.file(name);
    writeFile(path,
              std::string(reinterpret_cast<const char *>(&h), sizeof h) + bytes.substr(sizeof h));
    return path;
  };
  std::string object = withHeader("object.so", [](Elf64_Ehdr &h) { h.e_type = ET_REL; });
  EXPECT_EQ(refusal(object, CNNC_ERROR_FORMAT),
            "'" + object + "' is a relocatable object file (.o), not a shared library");
  std::string executable = withHeader("exe.so", [](Elf64_Ehdr &h) { h.e_type = ET_EXEC; });
  EXPECT_EQ(refusal(executable, CNNC_ERROR_FORMAT),
            "'" + executable + "' is an executable, not a shared library");
#if defined(__x86_64__)
  std::string arm = withHeader("arm.so", [](Elf64_Ehdr &h) { h.e_machine = EM_AARCH64; });
  EXPECT_EQ(refusal(arm, CNNC_ERROR_FORMAT),
            "'" + arm + "' is built for AArch64, this machine is x86-64");
#endif
}

TEST(ModelFile, ForeignLibraryIsRefusedUnloaded) {
  // libz, which this test links: a shared library that is not a model.
  Dl_info info;
  ASSERT_NE(dladdr(reinterpret_cast<void *>(&zlibVersion), &info), 0);
  std::string libz = info.dli_fname;
  EXPECT_EQ(refusal(libz, CNNC_ERROR_FORMAT),
            "'" + libz + "' is not a cnnc model: it exports no cnnc_model_v1");
}

/// A copy of the test model with its metadata edited (same length).
std::string editedTestModel(TempDir &dir, const std::string &name, const std::string &from,
                            const std::string &to) {
  std::string path = dir.file(name);
  writeFile(path, edited(readFile(CNNC_TEST_MODEL), from, to));
  return path;
}

TEST(ModelMetadata, CallsAreCheckedAgainstTheKernelsOwnMetadata) {
  TempDir dir;
  const std::string dense = R"("kernel": 1, "name": "dense", "args": [0, 1, 3, 4])";
  // The wrong kernel for a step: relu takes 2 arguments, the call passes 4
  // (the kernel would read past its argument array).
  std::string wrong = editedTestModel(dir, "wrong_kernel.so", dense,
                                      R"("kernel": 2, "name": "dense", "args": [0, 1, 3, 4])");
  EXPECT_EQ(refusal(wrong, CNNC_ERROR_FORMAT),
            "malformed metadata in '" + wrong +
                "': steps[0] \"dense\": calls kernel 2 (\"relu\") with 4 arguments, but the "
                "kernel takes 2");
  // An argument of another rank than the kernel's.
  std::string rank = editedTestModel(dir, "rank.so", R"("args": [5, 6])", R"("args": [4, 6])");
  EXPECT_EQ(refusal(rank, CNNC_ERROR_FORMAT),
            "malformed metadata in '" + rank +
                "': steps[1] \"relu\": argument 0 (buffer 4) of kernel 2 (\"relu\"): the kernel "
                "takes a buffer of rank 3, buffer 4 has shape [-1,3]");
  // A kernel's output into the caller's input.
  std::string output = editedTestModel(dir, "output.so", dense,
                                       R"("kernel": 1, "name": "dense", "args": [4, 1, 3, 0])");
  EXPECT_EQ(refusal(output, CNNC_ERROR_FORMAT),
            "malformed metadata in '" + output +
                "': steps[0] \"dense\": argument 3 (buffer 0) of kernel 1 (\"dense\") is an "
                "output, but buffer 0 has kind \"input\"");
}

TEST(ModelMetadata, IndicesOutOfRangeAndOtherVersions) {
  TempDir dir;
  std::string kernel = editedTestModel(dir, "kernel.so", R"("kernel": 2, "name": "relu")",
                                       R"("kernel": 7, "name": "relu")");
  EXPECT_EQ(refusal(kernel, CNNC_ERROR_FORMAT),
            "malformed metadata in '" + kernel +
                "': steps[1].kernel: kernel index 7 out of range [0, 3)");
  std::string view = editedTestModel(dir, "view.so", R"("view_of": 4)", R"("view_of": 9)");
  EXPECT_EQ(refusal(view, CNNC_ERROR_FORMAT),
            "malformed metadata in '" + view +
                "': buffers[5].view_of: buffer index 9 out of range [0, 7)");
  std::string output = editedTestModel(dir, "out.so", R"("buffer": 6}],)", R"("buffer": 8}],)");
  EXPECT_EQ(refusal(output, CNNC_ERROR_FORMAT),
            "malformed metadata in '" + output +
                "': outputs[0].buffer: buffer index 8 out of range [0, 7)");
  std::string version =
      editedTestModel(dir, "version.so", R"("abi_version": 5)", R"("abi_version": 4)");
  EXPECT_EQ(refusal(version, CNNC_ERROR_ABI),
            "model '" + version + "' metadata has ABI version 4, this runtime supports version 5");
}

// The CPU feature check as a function of the target and the host.

using Host = std::set<std::string, std::less<>>;

std::string missing(std::string_view target, const Host &host) {
  return cnnc::rt::describeMissing(
      cnnc::rt::missingCpuFeatures(target, [&](std::string_view e) { return host.count(e) != 0; }));
}

const Host kSandyBridge = {"ssse3", "sse4.1", "sse4.2", "popcnt", "avx"};
const Host kHaswell = [] {
  Host h = kSandyBridge;
  h.insert({"f16c", "fma", "avx2", "bmi", "bmi2", "lzcnt", "movbe"});
  return h;
}();
const Host kZen4 = [] {
  Host h = kHaswell;
  h.insert({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx512ifma", "avx512vbmi",
            "avx512vnni", "avx512bf16", "avx512vbmi2", "avx512bitalg", "avx512vpopcntdq", "gfni"});
  return h;
}();

TEST(CpuFeatures, MissingFeaturesOfATarget) {
  const std::string avx2 = "x86-64-linux-avx-avx2-f16c-fma-sse41";
  EXPECT_EQ(missing(avx2, kHaswell), "");
  EXPECT_EQ(missing(avx2, kSandyBridge),
            "f16c (f16c), fma (fma) and avx2 (avx2, bmi, bmi2, lzcnt, movbe)");
  // A feature brings the features it implies, as Halide completes a target.
  EXPECT_EQ(missing("x86-64-linux-avx512_skylake", kHaswell),
            "avx512 (avx512f, avx512cd) and avx512_skylake (avx512bw, avx512dq, avx512vl)");
  EXPECT_EQ(missing("x86-64-linux-avx512_skylake", kSandyBridge),
            "f16c (f16c), fma (fma), avx2 (avx2, bmi, bmi2, lzcnt, movbe), avx512 (avx512f, "
            "avx512cd) and avx512_skylake (avx512bw, avx512dq, avx512vl)");
  // Sapphire Rapids code may use the VEX AVX-VNNI that Zen 4 lacks.
  const std::string spr = "x86-64-linux-avx-avx2-avx512-avx512_cannonlake-avx512_sapphirerapids-"
                          "avx512_skylake-f16c-fma-sse41";
  EXPECT_EQ(missing(spr, kZen4), "avxvnni (avxvnni)");
  EXPECT_EQ(missing("x86-64-linux-avx512_zen4", kZen4), "");
  EXPECT_EQ(missing("x86-64-linux-avx512_knl", kZen4), "avx512_knl (avx512er, avx512pf)");
  // GPU features, OS and flags are not CPU extensions; other architectures are not checked.
  EXPECT_EQ(
      missing("x86-64-linux-avx-avx2-cuda-cuda_capability_80-f16c-fma-sse41-no_asserts", kHaswell),
      "");
  EXPECT_EQ(missing("x86-64-linux", {}), "");
  EXPECT_EQ(missing("arm-64-linux-arm_dot_prod", {}), "");
  EXPECT_EQ(missing("test-c", {}), "");
}

TEST(CpuFeatures, HostQueries) {
  EXPECT_FALSE(cnnc::rt::hostHasCpuExtension("no_such_extension"));
#if defined(__x86_64__)
  // A host that runs this test has what x86-64 itself requires of it, at
  // least SSE2; an extension implies those it is built on.
  if (cnnc::rt::hostHasCpuExtension("avx2")) {
    EXPECT_TRUE(cnnc::rt::hostHasCpuExtension("avx"));
  }
  if (cnnc::rt::hostHasCpuExtension("avx512bw")) {
    EXPECT_TRUE(cnnc::rt::hostHasCpuExtension("avx512f"));
  }
#endif
}

#ifdef CNNC_TEST_MNIST_CPU
/// The metadata of a compiled model and a copy of the library with it edited.
struct CompiledModel {
  std::string bytes, metadata;
  size_t metadataAt = 0;
  CompiledModel() {
    bytes = readFile(CNNC_TEST_MNIST_CPU);
    metadataAt = bytes.find("{\"abi_version\":");
    if (metadataAt != std::string::npos)
      metadata = bytes.substr(metadataAt, bytes.find('\0', metadataAt) - metadataAt);
  }
  /// Writes the library with its metadata replaced by `text` (padded with
  /// spaces to the same length) to `path`.
  void writeWith(const std::string &path, std::string text) const {
    EXPECT_LE(text.size(), metadata.size());
    text.resize(metadata.size(), ' ');
    std::string out = bytes;
    out.replace(metadataAt, text.size(), text);
    writeFile(path, out);
  }
};

TEST(CompiledModelFile, TargetWithFeaturesThisMachineLacksIsRefusedBeforeLoading) {
  if (cnnc::rt::hostHasCpuExtension("avx512er"))
    GTEST_SKIP() << "this machine has Xeon Phi's AVX-512 ER";
  CompiledModel model;
  ASSERT_FALSE(model.metadata.empty());
  TempDir dir;
  std::string path = dir.file("knl.so");
  std::string target = "x86-64-linux-avx-avx2-avx512-avx512_knl-f16c-fma-sse41";
  size_t at = model.metadata.find("\"target\":\"");
  ASSERT_NE(at, std::string::npos);
  at += 10;
  size_t end = model.metadata.find('"', at);
  model.writeWith(path, model.metadata.substr(0, at) + target + "\"" +
                            std::string(end - at - target.size(), ' ') +
                            model.metadata.substr(end + 1));
  EXPECT_EQ(refusal(path, CNNC_ERROR_DEVICE),
            "model '" + path +
                "' was compiled for CPU features this machine lacks: avx512_knl (avx512er, "
                "avx512pf) (its target is " +
                target +
                "); compile it with a --target this machine supports, such as --target=host "
                "on this machine");
}

TEST(CompiledModelFile, BufferOfAnotherShapeThanTheKernelWasCompiledForIsRefused) {
  // The first temporary buffer made unbatched: a kernel compiled for a batch
  // dimension would compute 71 items from inputs of the batch's size.
  CompiledModel model;
  ASSERT_FALSE(model.metadata.empty());
  size_t temp = model.metadata.find("\"kind\":\"temp\"");
  ASSERT_NE(temp, std::string::npos);
  size_t at = model.metadata.rfind("{\"shape\":[", temp) + 10;
  std::string shape = model.metadata.substr(at, model.metadata.find(']', at) - at);
  ASSERT_EQ(shape.substr(0, 3), "-1,");
  std::string text = model.metadata;
  text.replace(at, 2, "71");
  TempDir dir;
  std::string path = dir.file("shape.so");
  model.writeWith(path, text);
  EXPECT_THAT(refusal(path, CNNC_ERROR_FORMAT),
              ::testing::MatchesRegex(
                  "malformed metadata in '.*': steps\\[[0-9]+\\] \".*\": argument [0-9]+ \\(buffer "
                  "[0-9]+\\) of kernel [0-9]+ \\(\".*\"\\): the kernel was compiled for shape \\[" +
                  regexEscape(shape) + "\\], buffer [0-9]+ has shape \\[71" +
                  regexEscape(shape.substr(2)) + "\\]"));
}

TEST(CompiledModelFile, WrongKernelForAStepIsRefused) {
  CompiledModel model;
  ASSERT_FALSE(model.metadata.empty());
  // Two steps whose kernels (both numbered below 10) take different numbers of arguments.
  std::string &m = model.metadata;
  struct Step {
    size_t at;
    std::string kernel, name;
    size_t args;
  };
  std::vector<Step> steps;
  for (size_t at = m.find("{\"kernel\":"); at != std::string::npos;
       at = m.find("{\"kernel\":", at + 1)) {
    Step s;
    s.at = at + 10;
    s.kernel = m.substr(s.at, m.find(',', s.at) - s.at);
    size_t name = m.find("\"name\":\"", at) + 8;
    s.name = m.substr(name, m.find('"', name) - name);
    size_t args = m.find("\"args\":[", at) + 8;
    std::string list = m.substr(args, m.find(']', args) - args);
    s.args = 1 + size_t(std::count(list.begin(), list.end(), ','));
    if (s.kernel.size() == 1)
      steps.push_back(s);
  }
  ASSERT_GE(steps.size(), 2u);
  const Step &a = steps[0];
  const Step *b = nullptr;
  for (const Step &s : steps)
    if (s.args != a.args)
      b = &s;
  ASSERT_NE(b, nullptr);
  std::string text = m;
  text.replace(a.at, 1, b->kernel);
  TempDir dir;
  std::string path = dir.file("wrong_kernel.so");
  model.writeWith(path, text);
  EXPECT_THAT(refusal(path, CNNC_ERROR_FORMAT),
              ::testing::MatchesRegex(
                  "malformed metadata in '.*': (prepare|steps)\\[0\\] \"" + regexEscape(a.name) +
                  "\": calls kernel " + b->kernel + " \\(\".*\"\\) with " + std::to_string(a.args) +
                  " arguments, but the kernel takes " + std::to_string(b->args)));
}
#endif

} // namespace
