//===- ModelCompiler.cpp - fused cnn IR -> Halide kernels -> model.so -----===//
//
// The back end as a recipe: plan buffers and kernels (ModelPlan), lower each
// kernel to Halide (HalideLowering), schedule it (the target's scheduler or an
// autoscheduler), compile it ahead of time without the Halide runtime, add
// one standalone runtime object, generate the glue C file that exports
// cnnc_model_v1 with the metadata and the Halide runtime entry points the
// cnnc runtime calls, and link everything with the system C compiler (`cc`,
// or $CNNC_CC) into model.so, with a version script that exports
// cnnc_model_v1 alone. Kernel objects and the runtime object come from the
// compile cache (CompileCache.h) when it holds them.
//
//===----------------------------------------------------------------------===//
#include "compiler/Target/ModelCompiler.h"
#include "compiler/Lowering/Halide/HalideLowering.h"
#include "compiler/Schedule/Scheduler.h"
#include "compiler/Target/ArgumentChecks.h"
#include "compiler/Target/CompileCache.h"
#include "compiler/Target/DefaultParameters.h"
#include "compiler/Target/ModelPlan.h"

#include "cnnc/model_schema.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Object/ObjectFile.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Parallel.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

#include <chrono>
#include <fstream>
#include <map>

#include <unistd.h>

using namespace mlir;
using namespace cnnc;

static const char *const kModelAbiHeader =
#include "ModelAbiHeader.inc"
    ;

/// The ELF section of model.so that holds the metadata JSON (readModelMetadata).
static const llvm::StringRef kMetadataSection(schema::kMetadataSection.data(),
                                              schema::kMetadataSection.size());

/// True when /proc/cpuinfo lists `flag` (false where there is no such file).
static bool cpuHasFlag(llvm::StringRef flag) {
  auto info = llvm::MemoryBuffer::getFileAsStream("/proc/cpuinfo");
  if (!info)
    return false;
  llvm::SmallVector<llvm::StringRef> words;
  llvm::SplitString((*info)->getBuffer(), words, " \t\n");
  return llvm::is_contained(words, flag);
}

/// The target string of the options; "host" is this machine. Halide 14
/// calls AMD Zen 4 "avx512_sapphirerapids", which lets LLVM emit the
/// VEX-encoded AVX-VNNI dot products Zen 4 lacks (SIGILL at run time): on a
/// host without the avx_vnni flag that feature is dropped (the target stays
/// avx512_cannonlake, which covers the rest of what the kernels use).
static Halide::Target targetOf(const CompileOptions &options) {
  if (options.target != "host")
    return Halide::Target(options.target);
  Halide::Target host = Halide::get_host_target();
  if (host.has_feature(Halide::Target::AVX512_SapphireRapids) && !cpuHasFlag("avx_vnni"))
    host = host.without_feature(Halide::Target::AVX512_SapphireRapids);
  return host;
}

/// The device API a GPU target's kernels run on, or "" for a CPU target.
static std::string deviceApiOf(const Halide::Target &target) {
  if (target.has_feature(Halide::Target::CUDA))
    return std::string(schema::device_api::kCuda);
  if (target.has_feature(Halide::Target::OpenCL))
    return std::string(schema::device_api::kOpenCL);
  return "";
}

std::string cnnc::validateOptions(const CompileOptions &options) {
  if (options.target != "host" && !Halide::Target::validate_target_string(options.target))
    return "invalid --target '" + options.target +
           "' (expected a Halide target string such as host, host-cuda, host-opencl or "
           "x86-64-linux-avx2-fma-f16c-sse41)";
  Halide::Target t = targetOf(options);
  if (t.has_gpu_feature() && deviceApiOf(t).empty())
    return "--target '" + options.target +
           "' asks for a GPU API cnnc does not support (use cuda or opencl)";
  std::string error;
  halide::makeScheduler(options.schedule, t, error);
  return error;
}

static halide::KernelPhase kernelPhase(const PlannedKernel &planned,
                                       const halide::KernelStages &stages) {
  if (stages.overParameters)
    return halide::KernelPhase::Parameters;
  return planned.phase == Phase::Inference ? halide::KernelPhase::Inference
                                           : halide::KernelPhase::Training;
}

/// Lowers and schedules one planned kernel; `summary` receives the
/// scheduler's account of its choices.
static FailureOr<LoweredKernel> buildKernel(PlannedKernel &planned, halide::Scheduler &scheduler,
                                            std::string *summary = nullptr) {
  FailureOr<LoweredKernel> kernel = lowerToHalide(planned.op, planned.inputs);
  if (failed(kernel))
    return failure();
  try {
    std::string chosen = scheduler.schedule(kernel->stages, kernelPhase(planned, kernel->stages));
    if (summary)
      *summary = chosen;
  } catch (const Halide::Error &e) {
    return planned.op->emitError("scheduling kernel '")
           << planned.label << "' failed: " << e.what();
  }
  planned.flops = kernel->flops;
  return kernel;
}

/// The scheduler of the options (validated before).
static std::unique_ptr<halide::Scheduler> schedulerOf(const CompileOptions &options,
                                                      const Halide::Target &target) {
  std::string error;
  std::unique_ptr<halide::Scheduler> scheduler =
      halide::makeScheduler(options.schedule, target, error);
  if (!scheduler)
    llvm::report_fatal_error(llvm::Twine("invalid compile options: ") + error);
  return scheduler;
}

static std::vector<Halide::Argument> argumentsOf(const LoweredKernel &kernel) {
  std::vector<Halide::Argument> args;
  for (const Halide::ImageParam &p : kernel.stages.inputs)
    args.push_back(p);
  return args;
}

/// The Halide pipeline of a kernel, its argument checks dropped unless the
/// options keep them.
static Halide::Pipeline pipelineOf(const LoweredKernel &kernel, const CompileOptions &options) {
  Halide::Pipeline pipeline(halide::outputsOf(kernel.stages));
  if (!options.kernelChecks)
    dropArgumentChecks(pipeline);
  return pipeline;
}

/// Compiles one kernel ahead of time into `path`; returns Halide's error or "".
static std::string compileObject(const LoweredKernel &kernel, const CompileOptions &options,
                                 const std::string &symbol, const std::string &path,
                                 const Halide::Target &target) {
  try {
    pipelineOf(kernel, options).compile_to_object(path, argumentsOf(kernel), symbol, target);
  } catch (const Halide::Error &e) {
    return e.what();
  }
  return "";
}

/// A scratch directory removed when the compilation ends.
struct ScratchDir {
  llvm::SmallString<128> path;
  ~ScratchDir() {
    if (!path.empty() && !getenv("CNNC_KEEP_TEMPS"))
      llvm::sys::fs::remove_directories(path);
  }
  std::string file(llvm::StringRef name) const {
    llvm::SmallString<128> p(path);
    llvm::sys::path::append(p, name);
    return p.str().str();
  }
};

LogicalResult cnnc::emitHalideStatements(ModuleOp module, const CompileOptions &options,
                                         llvm::raw_ostream &os) {
  FailureOr<ModelPlan> plan = planModel(module);
  if (failed(plan) || failed(checkResourceLimits(*plan, options.maxMemoryBytes)))
    return failure();
  Halide::Target target = targetOf(options);
  std::unique_ptr<halide::Scheduler> scheduler = schedulerOf(options, target);
  ScratchDir dir;
  if (llvm::sys::fs::createUniqueDirectory("cnnc", dir.path))
    return module.emitError("cannot create a temporary directory");
  for (PlannedKernel &planned : plan->kernels) {
    std::string summary;
    FailureOr<LoweredKernel> kernel = buildKernel(planned, *scheduler, &summary);
    if (failed(kernel))
      return failure();
    std::string path = dir.file(planned.symbol + ".stmt");
    try {
      pipelineOf(*kernel, options)
          .compile_to_lowered_stmt(path, argumentsOf(*kernel), Halide::Text, target);
    } catch (const Halide::Error &e) {
      return planned.op->emitError("Halide lowering of '")
             << planned.label << "' failed: " << e.what();
    }
    auto text = llvm::MemoryBuffer::getFile(path);
    if (!text)
      return module.emitError("cannot read ") << path;
    os << "// kernel " << planned.symbol << " (" << planned.label << ")"
       << (planned.prepare ? " [prepare]" : "") << "\n"
       << "// schedule: " << summary << "\n"
       << (*text)->getBuffer() << "\n";
  }
  return success();
}

/// Escapes `text` as the body of a C string literal.
static std::string cString(llvm::StringRef text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\')
      out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

/// The Halide runtime functions the descriptor hands to the cnnc runtime,
/// with their C prototypes from HalideRuntime.h (whose directory the C
/// compiler need not know).
static const char *const kHalideRuntimePrototypes = R"c(
extern int halide_copy_to_host(void *user_context, struct halide_buffer_t *buf);
extern int halide_copy_to_device(void *user_context, struct halide_buffer_t *buf,
                                 const struct halide_device_interface_t *device_interface);
extern int halide_device_malloc(void *user_context, struct halide_buffer_t *buf,
                                const struct halide_device_interface_t *device_interface);
extern int halide_device_free(void *user_context, struct halide_buffer_t *buf);
extern int halide_device_sync(void *user_context, struct halide_buffer_t *buf);
extern void halide_device_release(void *user_context,
                                  const struct halide_device_interface_t *device_interface);
extern int halide_reuse_device_allocations(void *user_context, bool flag);
extern cnnc_halide_error_handler halide_set_error_handler(cnnc_halide_error_handler handler);
extern cnnc_halide_malloc halide_set_custom_malloc(cnnc_halide_malloc user_malloc);
extern cnnc_halide_free halide_set_custom_free(cnnc_halide_free user_free);
)c";

/// The C source defining cnnc_model_v1: kernels, their Halide metadata
/// getters, the metadata and the Halide runtime entry points, the device
/// interface getter only for a GPU model.
static std::string glueSource(const ModelPlan &plan, const std::string &metadata,
                              const std::string &deviceApi, uint64_t defaultParametersSize) {
  std::string src = "/* Generated by cnnc: the entry point of this model.so. */\n";
  src += kModelAbiHeader;
  src += "\n";
  src += kHalideRuntimePrototypes;
  std::string deviceInterface;
  if (!deviceApi.empty()) {
    std::string getter = "halide_" + deviceApi + "_device_interface";
    src += "extern const struct halide_device_interface_t *" + getter + "(void);\n";
    deviceInterface = "  .device_interface = " + getter + ",\n";
  }
  src += "static const cnnc_halide_runtime halide_runtime = {\n"
         "  .copy_to_host = halide_copy_to_host,\n"
         "  .copy_to_device = halide_copy_to_device,\n"
         "  .device_malloc = halide_device_malloc,\n"
         "  .device_free = halide_device_free,\n"
         "  .device_sync = halide_device_sync,\n"
         "  .device_release = halide_device_release,\n" +
         deviceInterface +
         "  .reuse_device_allocations = halide_reuse_device_allocations,\n"
         "  .set_error_handler = halide_set_error_handler,\n"
         "  .set_custom_malloc = halide_set_custom_malloc,\n"
         "  .set_custom_free = halide_set_custom_free,\n"
         "};\n\n";
  // Halide emits, next to each pipeline, `_argv` (the entry point) and
  // `_metadata` (its arguments' kinds, types and ranks).
  for (const PlannedKernel &k : plan.kernels)
    if (k.sharedWith < 0)
      src += "extern int " + k.symbol + "_argv(void **args);\n" +
             "extern const struct halide_filter_metadata_t *" + k.symbol + "_metadata(void);\n";
  src += "static const cnnc_kernel_fn kernels[] = {\n";
  for (const PlannedKernel &k : plan.kernels)
    src += "  " + k.symbol + "_argv,\n";
  src += "};\nstatic const cnnc_kernel_metadata_fn kernel_metadata[] = {\n";
  for (const PlannedKernel &k : plan.kernels)
    src += "  " + k.symbol + "_metadata,\n";
  // The shapes each kernel was compiled for (its arguments' buffers).
  src += "};\n";
  for (auto [i, k] : llvm::enumerate(plan.kernels)) {
    src += "static const int64_t kernel_shape_" + std::to_string(i) + "[] = {";
    for (int a : k.args)
      for (int64_t d : plan.buffers[a].shape)
        src += std::to_string(d) + ",";
    src += k.args.empty() ? "0};\n" : "};\n";
  }
  src += "static const int64_t *const kernel_shapes[] = {\n";
  for (size_t i = 0; i < plan.kernels.size(); ++i)
    src += "  kernel_shape_" + std::to_string(i) + ",\n";
  src += "};\nstatic const char *const kernel_names[] = {\n";
  for (const PlannedKernel &k : plan.kernels)
    src += "  \"" + cString(k.label) + "\",\n";
  src += "};\nstatic const char metadata[] __attribute__((section(\"" + kMetadataSection.str() +
         "\"))) = \"" + cString(metadata) + "\";\n";
  std::string defaults;
  if (defaultParametersSize) {
    src += "extern const unsigned char cnnc_default_parameters[];\n";
    defaults = "    .default_parameters = cnnc_default_parameters,\n"
               "    .default_parameters_size = " +
               std::to_string(defaultParametersSize) + "u,\n";
  }
  src += "__attribute__((visibility(\"default\")))\n"
         "const cnnc_model_desc *cnnc_model_v1(void) {\n"
         "  static const cnnc_model_desc desc = {\n"
         "    .abi_version = CNNC_MODEL_ABI_VERSION,\n"
         "    .metadata_json = metadata,\n"
         "    .num_kernels = sizeof(kernels) / sizeof(kernels[0]),\n"
         "    .kernels = kernels,\n"
         "    .kernel_names = kernel_names,\n"
         "    .halide = &halide_runtime,\n"
         "    .kernel_metadata = kernel_metadata,\n"
         "    .kernel_shapes = kernel_shapes,\n" +
         defaults +
         "  };\n"
         "  return &desc;\n}\n";
  return src;
}

/// Links `inputs` into the shared library `output`, exporting cnnc_model_v1
/// alone (`versionScript` is a scratch file path): the Halide runtime stays
/// private to the library and binds to itself, never to another copy loaded
/// in the process. The library is written under a temporary name in the
/// output's directory and renamed into place once complete.
static LogicalResult link(ModuleOp module, const std::vector<std::string> &inputs,
                          const std::string &finalOutput, const std::string &versionScript) {
  const char *cc = getenv("CNNC_CC");
  auto program = llvm::sys::findProgramByName(cc ? cc : "cc");
  if (!program)
    return module.emitError("cannot find the C compiler '")
           << (cc ? cc : "cc") << "' needed to link model.so (set CNNC_CC)";
  {
    std::ofstream script(versionScript);
    script << "{ global: " << schema::kEntryPoint << "; local: *; };\n";
    if (!script)
      return module.emitError("cannot write ") << versionScript;
  }
  int fd;
  llvm::SmallString<256> temp;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(finalOutput + ".tmp-%%%%%%", fd, temp))
    return module.emitError("cannot write ") << finalOutput << ": " << ec.message();
  ::close(fd);
  // Removes the temporary library unless it was renamed into place.
  struct RemoveTemp {
    llvm::SmallString<256> &path;
    ~RemoveTemp() {
      if (!path.empty())
        llvm::sys::fs::remove(path);
    }
  } removeTemp{temp};
  std::string output(temp);
  std::vector<std::string> argv = {
      *program, "-shared", "-fPIC", "-O2", "-Wl,--version-script=" + versionScript, "-o", output};
  argv.insert(argv.end(), inputs.begin(), inputs.end());
  for (const char *lib : {"-lpthread", "-ldl", "-lm"})
    argv.push_back(lib);
  std::vector<llvm::StringRef> args(argv.begin(), argv.end());
  std::string message;
  int rc = llvm::sys::ExecuteAndWait(*program, args, std::nullopt, {}, 0, 0, &message);
  if (rc != 0)
    return module.emitError("linking ")
           << finalOutput << " failed (" << *program << " exited with " << rc << ") " << message;
  // The linker creates its output with the mode of a new file; keep that.
  if (std::error_code ec = llvm::sys::fs::rename(temp, finalOutput))
    return module.emitError("cannot write ") << finalOutput << ": " << ec.message();
  temp.clear();
  return success();
}

/// Writes the values of every parameter of the plan, in its order, as one
/// safetensors blob and an assembler file that places it in read-only data
/// as `cnnc_default_parameters` (added to `objects`); returns its size.
static FailureOr<uint64_t> embedParameters(ModuleOp module, const ModelPlan &plan,
                                           const DefaultParameters &values, const ScratchDir &dir,
                                           std::vector<std::string> &objects) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> parameters;
  for (const NamedBuffer &p : plan.parameters)
    parameters.push_back({p.name, plan.buffers[p.buffer].shape});
  llvm::Expected<std::vector<const ParameterValues *>> ordered =
      selectParameters(values, parameters);
  if (!ordered)
    return module.emitError("") << llvm::toString(ordered.takeError());
  std::string blobPath = dir.file("default_parameters.safetensors");
  std::string asmPath = dir.file("default_parameters.S");
  std::string blob = safetensorsBlob(*ordered);
  {
    std::ofstream out(blobPath, std::ios::binary);
    out.write(blob.data(), std::streamsize(blob.size()));
    std::ofstream as(asmPath);
    as << "  .section .rodata\n"
          "  .balign 64\n"
          "  .globl cnnc_default_parameters\n"
          "  .hidden cnnc_default_parameters\n"
          "cnnc_default_parameters:\n"
          "  .incbin \""
       << blobPath
       << "\"\n"
          "  .section .note.GNU-stack,\"\",@progbits\n";
    if (!out || !as)
      return module.emitError("cannot write ") << blobPath;
  }
  objects.push_back(asmPath);
  return uint64_t(blob.size());
}

/// Prints the wall time of each back-end step to a report stream, if any.
struct StepTimer {
  llvm::raw_ostream *os;
  std::chrono::steady_clock::time_point last = std::chrono::steady_clock::now();
  explicit StepTimer(llvm::raw_ostream *os) : os(os) {}
  void step(const std::string &what) {
    auto now = std::chrono::steady_clock::now();
    if (os)
      *os << llvm::format("cnnc: %7.2f s  ", std::chrono::duration<double>(now - last).count())
          << what << "\n";
    last = now;
  }
};

/// Gives kernels with equal fingerprints (and the same kind of schedule) the
/// symbol of the first of them; returns the indices of those first kernels,
/// the only ones to compile, each with the text that determines its code.
/// Their flop counts are copied after lowering.
static std::vector<std::pair<size_t, std::string>>
shareIdenticalKernels(ModelPlan &plan, const CompileOptions &options) {
  bool autoSchedule = halide::isAutoScheduleOption(options.schedule);
  std::map<std::string, size_t> firstWith;
  std::vector<std::pair<size_t, std::string>> distinct;
  for (size_t k = 0; k < plan.kernels.size(); ++k) {
    PlannedKernel &kernel = plan.kernels[k];
    // Autoschedulers only schedule inference kernels (see buildKernel).
    bool autoScheduled = autoSchedule && kernel.phase == Phase::Inference;
    std::string key = (autoScheduled ? "auto " : "cpu ") + kernelFingerprint(kernel);
    auto [it, isNew] = firstWith.try_emplace(key, k);
    if (isNew) {
      distinct.emplace_back(k, std::move(key));
      continue;
    }
    kernel.sharedWith = int(it->second);
  }
  return distinct;
}

/// What, besides a kernel's own IR, determines its object: the compiler, the
/// target, the options that change code generation, and Halide's
/// environment variables (the autoschedulers read HL_BEAM_SIZE and others).
static std::string codeGenerationContext(const CompileOptions &options,
                                         const Halide::Target &kernelTarget) {
  std::string context = compilerIdentity() + "\ntarget " + kernelTarget.to_string() +
                        "\nschedule " + options.schedule +
                        (options.kernelChecks ? "\nkernel checks" : "") + "\n";
  std::vector<std::string> halideEnvironment;
  for (char **e = environ; *e; ++e)
    if (llvm::StringRef(*e).starts_with("HL_"))
      halideEnvironment.push_back(*e);
  llvm::sort(halideEnvironment);
  for (const std::string &e : halideEnvironment)
    context += e + "\n";
  return context;
}

/// Puts the standalone Halide runtime of `target` at `path`, from the cache
/// when it holds it; `cached` says which.
static LogicalResult halideRuntimeObject(ModuleOp module, const Halide::Target &target,
                                         CompileCache &cache, const std::string &path,
                                         bool &cached) {
  std::string key =
      CompileCache::key("halide runtime\n" + compilerIdentity() + "\n" + target.to_string());
  cached = cache.fetch("runtime", key, path) == CompileCache::Lookup::Hit;
  if (cached)
    return success();
  try {
    Halide::compile_standalone_runtime(path, target);
  } catch (const Halide::Error &e) {
    return module.emitError("Halide runtime compilation failed: ") << e.what();
  }
  cache.store("runtime", key, path);
  return success();
}

LogicalResult cnnc::compileModelLibrary(ModuleOp module, const CompileOptions &options,
                                        const std::string &outputPath) {
  FailureOr<ModelPlan> plan = planModel(module);
  if (failed(plan) || failed(checkResourceLimits(*plan, options.maxMemoryBytes)))
    return failure();
  Halide::Target target = targetOf(options);
  Halide::Target kernelTarget = target.with_feature(Halide::Target::NoRuntime);
  std::unique_ptr<halide::Scheduler> scheduler = schedulerOf(options, target);
  CompileCache cache(options.cacheDirectory, llvm::errs());
  ScratchDir dir;
  if (llvm::sys::fs::createUniqueDirectory("cnnc", dir.path))
    return module.emitError("cannot create a temporary directory");

  // Kernels that compute the same function (the repeated units of a ResNet,
  // the same layer in the inference and eval steps) share one object: only
  // the first of each is lowered and compiled, the others call its symbol.
  // That symbol is named after the object's cache key, so a cached object
  // serves any model that has the kernel.
  std::vector<std::pair<size_t, std::string>> distinct = shareIdenticalKernels(*plan, options);
  std::string context = codeGenerationContext(options, kernelTarget);
  std::vector<std::string> keys;
  for (auto &[k, text] : distinct) {
    keys.push_back(CompileCache::key("kernel\n" + context + text));
    plan->kernels[k].symbol = "cnnc_k_" + keys.back().substr(0, 16);
  }
  for (PlannedKernel &planned : plan->kernels)
    if (planned.sharedWith >= 0)
      planned.symbol = plan->kernels[planned.sharedWith].symbol;
  if (options.report) {
    MemoryUse use = memoryUse(*plan);
    *options.report << "cnnc: planned memory " << formatBytes(use.totalBytes())
                    << (use.trainBatch ? " at the train batch " + std::to_string(use.batch)
                                       : std::string(" for one item"))
                    << " (" << formatBytes(use.fixedBytes) << " of parameters and state, "
                    << formatBytes(use.perItemBytes)
                    << " per item; --max-memory=" << formatBytes(options.maxMemoryBytes) << ")\n";
  }
  StepTimer timer(options.report);

  // Every distinct kernel is lowered (its flop count goes into the
  // metadata); those the cache holds are not scheduled or compiled. Lowering
  // and scheduling touch the IR: done in order. Halide's code generation
  // (most of the time) runs on every core, one kernel per task.
  std::vector<std::string> objects;
  std::vector<LoweredKernel> kernels; // the kernels to compile
  std::vector<size_t> toCompile;      // their positions in `distinct`
  size_t fromCache = 0, corrupt = 0;
  for (auto [i, entry] : llvm::enumerate(distinct)) {
    PlannedKernel &planned = plan->kernels[entry.first];
    objects.push_back(dir.file(planned.symbol + ".o"));
    CompileCache::Lookup found = cache.fetch("kernel", keys[i], objects.back());
    if (found == CompileCache::Lookup::Hit) {
      FailureOr<LoweredKernel> kernel = lowerToHalide(planned.op, planned.inputs);
      if (failed(kernel))
        return failure();
      planned.flops = kernel->flops;
      ++fromCache;
      continue;
    }
    corrupt += found == CompileCache::Lookup::Corrupt;
    FailureOr<LoweredKernel> kernel = buildKernel(planned, *scheduler);
    if (failed(kernel))
      return failure();
    kernels.push_back(std::move(*kernel));
    toCompile.push_back(i);
  }
  for (PlannedKernel &planned : plan->kernels)
    if (planned.sharedWith >= 0)
      planned.flops = plan->kernels[planned.sharedWith].flops;
  timer.step("lower " + std::to_string(distinct.size()) + " distinct kernels of " +
             std::to_string(plan->kernels.size()) + ", schedule " + std::to_string(kernels.size()));
  std::vector<std::string> errors(kernels.size());
  std::vector<bool> fellBack(kernels.size(), false);
  llvm::parallelFor(0, kernels.size(), [&](size_t j) {
    size_t i = toCompile[j];
    errors[j] = compileObject(kernels[j], options, plan->kernels[distinct[i].first].symbol,
                              objects[i], kernelTarget);
  });
  unsigned threads = llvm::parallel::strategy.compute_thread_count();
  for (size_t j = 0; j < kernels.size(); ++j) {
    size_t i = toCompile[j];
    if (errors[j].empty()) {
      cache.store("kernel", keys[i], objects[i]);
      continue;
    }
    PlannedKernel &planned = plan->kernels[distinct[i].first];
    // An autoscheduler can produce a schedule Halide cannot compile (Li2018
    // on a dense+softmax group: "Atomic predicated store"); that kernel
    // falls back to cnnc's own schedule, with a warning (and is not cached,
    // so the warning comes again next time).
    if (halide::isAutoScheduleOption(options.schedule) && planned.phase == Phase::Inference) {
      planned.op->emitWarning("the ")
          << options.schedule << " schedule of '" << planned.label << "' does not compile ("
          << llvm::StringRef(errors[j]).trim() << "); using cnnc's own schedule for it";
      CompileOptions hand = options;
      hand.schedule = "default";
      FailureOr<LoweredKernel> kernel = buildKernel(planned, *schedulerOf(hand, target));
      if (failed(kernel))
        return failure();
      errors[j] = compileObject(*kernel, options, planned.symbol, objects[i], kernelTarget);
      if (errors[j].empty())
        continue;
    }
    return planned.op->emitError("Halide compilation of '")
           << planned.label << "' failed: " << errors[j];
  }
  std::string generated = "generate code for " + std::to_string(kernels.size()) + " kernels (" +
                          std::to_string(threads) + " threads), ";
  if (!cache.enabled())
    generated += "compile cache off";
  else
    generated += std::to_string(fromCache) + " from the cache " + cache.path();
  if (corrupt)
    generated += " (" + std::to_string(corrupt) + " damaged entries rebuilt)";
  timer.step(generated);

  std::string runtime = dir.file("halide_runtime.o");
  bool runtimeCached = false;
  if (failed(halideRuntimeObject(module, target, cache, runtime, runtimeCached)))
    return failure();
  objects.push_back(runtime);
  uint64_t defaultParametersSize = 0;
  if (options.defaultParameters) {
    FailureOr<uint64_t> size =
        embedParameters(module, *plan, *options.defaultParameters, dir, objects);
    if (failed(size))
      return failure();
    defaultParametersSize = *size;
  }

  std::string gluePath = dir.file("model_glue.c");
  {
    std::ofstream glue(gluePath);
    std::string deviceApi = deviceApiOf(target);
    glue << glueSource(*plan, plan->metadataJson(target.to_string(), deviceApi, options.sourceName),
                       deviceApi, defaultParametersSize);
    if (!glue)
      return module.emitError("cannot write ") << gluePath;
  }
  objects.insert(objects.begin(), gluePath);
  if (failed(link(module, objects, outputPath, dir.file("exports.map"))))
    return failure();
  timer.step(std::string(runtimeCached ? "Halide runtime from the cache" : "Halide runtime") +
             ", glue and link");
  cache.trim(CompileCache::sizeLimit(llvm::errs()));
  return success();
}

std::optional<std::string> cnnc::readModelMetadata(const std::string &path) {
  auto binary = llvm::object::ObjectFile::createObjectFile(path);
  if (!binary) {
    llvm::consumeError(binary.takeError());
    return std::nullopt;
  }
  for (const llvm::object::SectionRef &section : binary->getBinary()->sections()) {
    llvm::Expected<StringRef> name = section.getName();
    if (!name) {
      llvm::consumeError(name.takeError());
      continue;
    }
    if (*name != kMetadataSection)
      continue;
    llvm::Expected<StringRef> contents = section.getContents();
    if (!contents) {
      llvm::consumeError(contents.takeError());
      return std::nullopt;
    }
    return contents->split('\0').first.str();
  }
  return std::nullopt;
}
