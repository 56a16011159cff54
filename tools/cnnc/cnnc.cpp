//===- cnnc.cpp - the cnnc compiler driver --------------------------------===//
//
// `cnnc model.yaml -o model.so` compiles a model file (an ONNX model, or cnn-dialect IR in a
// .mlir file) into a shared library; without -o it is named after the model file
// (models/resnet18.yaml -> resnet18.so). `--emit=<stage>` prints one stage of the pipeline
// instead (compiler/Pipeline/Pipeline.h lists them), and `--stats` the per-layer complexity
// report (docs/complexity.md). Errors are printed as `file:line:col: error: ...` with the
// source line and a caret; the exit code is 0 on success and 1 on any error. The options are
// checked before any work: unknown ones (with a suggestion), options that do nothing in the
// chosen mode, and an output path that cannot be written are errors. docs/cnnc.md documents
// them.
//
//===----------------------------------------------------------------------===//
#include "compiler/Analysis/Statistics.h"
#include "compiler/Dialect/CNN/IR/CNNDialect.h"
#include "compiler/Lowering/Halide/HalideLowering.h"
#include "compiler/Pipeline/Pipeline.h"
#include "compiler/Target/CompileCache.h"
#include "compiler/Target/DefaultParameters.h"
#include "compiler/Target/ModelCompiler.h"
#include "frontends/onnx/OnnxImporter.h"
#include "frontends/yaml/YamlImporter.h"

#include "cnnc/model_schema.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

#include <chrono>
#include <limits>
#include <optional>

#include <unistd.h>

namespace cl = llvm::cl;

/// cnnc's own options. `--help` lists these only, in the groups below;
/// `--help-hidden` lists LLVM's and MLIR's too (they stay usable, e.g.
/// --mlir-print-debuginfo).
static cl::OptionCategory cnncOptions("cnnc options");

static cl::opt<std::string>
    inputFile(cl::Positional, cl::desc("<model.yaml|model.onnx|model.mlir>"), cl::cat(cnncOptions));

// Output.
static cl::opt<std::string>
    outputFile("o",
               cl::desc("Write the model.so (with --emit: the stage) to this file, replacing it "
                        "(default: the model file's name with .so, in the current directory; with "
                        "--emit: standard output)"),
               cl::value_desc("path"), cl::init(""), cl::cat(cnncOptions));
static cl::opt<std::string>
    emit("emit",
         cl::desc("Print a stage instead of compiling: mlir, mlir-expanded, mlir-train, "
                  "mlir-optimized, mlir-fused or halide; so compiles (default: so)"),
         cl::value_desc("stage"), cl::init("so"), cl::cat(cnncOptions));
// Registered as "cnnc-stats" and renamed to "stats" once LLVM's own -stats
// option is removed (see main).
static cl::opt<bool> stats("cnnc-stats",
                           cl::desc("Print the per-layer complexity report (parameters, "
                                    "multiply-adds, memory) instead of compiling"),
                           cl::init(false), cl::cat(cnncOptions));
static cl::opt<bool> statsJson("json", cl::desc("With --stats: print the report as JSON"),
                               cl::init(false), cl::cat(cnncOptions));
static cl::opt<std::string> embedWeights(
    "embed-weights",
    cl::desc("Embed the parameter values of this safetensors file in model.so, loaded with the "
             "model (default: none; an ONNX model embeds its initializers without it)"),
    cl::value_desc("file.safetensors"), cl::init(""), cl::cat(cnncOptions));
static cl::opt<std::string> stripPrefix(
    "strip-prefix",
    cl::desc("With --embed-weights: read parameter NAME from the file's tensor PREFIX + NAME, "
             "e.g. module. for a torch.nn.DataParallel state_dict (default: none)"),
    cl::value_desc("prefix"), cl::init(""), cl::cat(cnncOptions));

// Target and schedule.
static cl::opt<std::string>
    target("target",
           cl::desc("Halide target string, e.g. host-cuda, host-opencl, "
                    "x86-64-linux-avx2-fma-f16c-sse41 (default: host, this machine's CPU)"),
           cl::value_desc("target"), cl::init("host"), cl::cat(cnncOptions));
static cl::opt<std::string>
    schedule("schedule",
             cl::desc("default (the target's hand schedules), cpu, gpu, auto:Adams2019, "
                      "auto:Mullapudi2016 (CPU) or auto:Li2018 (CPU or GPU) (default: default)"),
             cl::value_desc("name"), cl::init("default"), cl::cat(cnncOptions));

// Training settings.
static cl::opt<bool>
    inferenceOnly("inference-only",
                  cl::desc("Build no train/eval step: smaller, faster to compile (default: off)"),
                  cl::init(false), cl::cat(cnncOptions));
static cl::opt<std::string> trainConfig(
    "train-config",
    cl::desc("Read the training settings from this YAML file (`train: {loss, optimizer, lr, "
             "batch, epochs}`, as in a model file) instead of the model file's (default: none)"),
    cl::value_desc("train.yaml"), cl::init(""), cl::cat(cnncOptions));
// One setting each: they override the model file's `train:` and
// --train-config's, key by key.
static cl::opt<std::string> lossOpt("loss",
                                    cl::desc("cross_entropy or mse (default: cross_entropy)"),
                                    cl::value_desc("loss"), cl::cat(cnncOptions));
static cl::opt<std::string> optimizerOpt("optimizer",
                                         cl::desc("adam, adamw or sgd (default: adam)"),
                                         cl::value_desc("name"), cl::cat(cnncOptions));
static cl::opt<std::string>
    lrOpt("lr", cl::desc("Learning rate (default: 0.001 for adam and adamw, 0.01 for sgd)"),
          cl::value_desc("number"), cl::cat(cnncOptions));
static cl::opt<std::string> weightDecayOpt("weight-decay",
                                           cl::desc("Weight decay: L2 (adam, sgd) or decoupled "
                                                    "(adamw) (default: 0; 0.01 for adamw)"),
                                           cl::value_desc("number"), cl::cat(cnncOptions));
static cl::opt<std::string> momentumOpt("momentum", cl::desc("SGD momentum (default: 0)"),
                                        cl::value_desc("number"), cl::cat(cnncOptions));
static cl::opt<std::string> dampeningOpt("dampening", cl::desc("SGD dampening (default: 0)"),
                                         cl::value_desc("number"), cl::cat(cnncOptions));
static cl::opt<bool> nesterovOpt("nesterov",
                                 cl::desc("SGD with Nesterov momentum (default: off; "
                                          "--nesterov=false turns off the model's)"),
                                 cl::cat(cnncOptions));
static cl::opt<std::string> beta1Opt("beta1", cl::desc("Adam/AdamW beta1 (default: 0.9)"),
                                     cl::value_desc("number"), cl::cat(cnncOptions));
static cl::opt<std::string> beta2Opt("beta2", cl::desc("Adam/AdamW beta2 (default: 0.999)"),
                                     cl::value_desc("number"), cl::cat(cnncOptions));
static cl::opt<std::string> epsilonOpt("epsilon", cl::desc("Adam/AdamW epsilon (default: 1e-8)"),
                                       cl::value_desc("number"), cl::cat(cnncOptions));
static cl::opt<std::string> labelSmoothingOpt(
    "label-smoothing",
    cl::desc("Cross-entropy label smoothing in [0, 1), as PyTorch's label_smoothing; the runtime "
             "can change it between steps (default: 0)"),
    cl::value_desc("number"), cl::cat(cnncOptions));
static cl::opt<std::string> clipGradNormOpt(
    "clip-grad-norm",
    cl::desc("Compile gradient clipping by the global norm in, with this max_norm (0: off until "
             "the runtime sets one), as torch.nn.utils.clip_grad_norm_ (default: not compiled)"),
    cl::value_desc("number"), cl::cat(cnncOptions));
static cl::opt<std::string> batchOpt("batch",
                                     cl::desc("Batch size `cnnrun train` uses (default: 32)"),
                                     cl::value_desc("n"), cl::cat(cnncOptions));
static cl::opt<std::string> epochsOpt("epochs", cl::desc("Epochs `cnnrun train` runs (default: 1)"),
                                      cl::value_desc("n"), cl::cat(cnncOptions));

// Compilation and debugging.
static cl::opt<bool> timeReport(
    "time-report",
    cl::desc("Print the time of each compilation step, how many kernels were compiled and how "
             "many came from the compile cache (default: off)"),
    cl::init(false), cl::cat(cnncOptions));
static cl::opt<bool> noCache(
    "no-cache",
    cl::desc("Compile every kernel afresh: neither read nor write the compile cache "
             "($CNNC_CACHE_DIR, else $XDG_CACHE_HOME/cnnc, else ~/.cache/cnnc) (default: off)"),
    cl::init(false), cl::cat(cnncOptions));
static cl::opt<std::string> maxMemory(
    "max-memory",
    cl::desc("Refuse a model whose buffers need more memory than this at the train batch (for "
             "one item without a train step): bytes, or with a suffix K, M, G or T (powers of "
             "1024), e.g. 512M (default: 64G)"),
    cl::value_desc("size"), cl::init(""), cl::cat(cnncOptions));
static cl::opt<bool> kernelChecks(
    "kernel-checks",
    cl::desc("Keep Halide's checks of every kernel's buffer arguments (type, rank, extents, "
             "strides, bounds): slower to compile, for debugging the compiler (default: off)"),
    cl::init(false), cl::cat(cnncOptions));

/// The training options, by their model file names.
static const std::pair<const char *, cl::Option *> kTrainingOptions[] = {
    {"loss", &lossOpt},
    {"optimizer", &optimizerOpt},
    {"lr", &lrOpt},
    {"weight_decay", &weightDecayOpt},
    {"momentum", &momentumOpt},
    {"dampening", &dampeningOpt},
    {"nesterov", &nesterovOpt},
    {"beta1", &beta1Opt},
    {"beta2", &beta2Opt},
    {"epsilon", &epsilonOpt},
    {"label_smoothing", &labelSmoothingOpt},
    {"clip_grad_norm", &clipGradNormOpt},
    {"batch", &batchOpt},
    {"epochs", &epochsOpt},
};

/// The training options given on the command line, by their model file names.
static cnnc::TrainOverrides trainOverrides() {
  cnnc::TrainOverrides out;
  for (auto [key, option] : kTrainingOptions) {
    if (!option->getNumOccurrences())
      continue;
    if (option == &nesterovOpt)
      out.push_back({key, nesterovOpt ? "true" : "false"});
    else
      out.push_back({key, *static_cast<cl::opt<std::string> *>(option)});
  }
  return out;
}

/// The groups `--help` prints, in order.
struct HelpGroup {
  const char *title;
  std::vector<cl::Option *> options;
};
static std::vector<HelpGroup> helpGroups() {
  std::vector<cl::Option *> training = {&inferenceOnly, &trainConfig};
  for (auto [key, option] : kTrainingOptions)
    training.push_back(option);
  return {
      {"Output", {&outputFile, &emit, &stats, &statsJson, &embedWeights, &stripPrefix}},
      {"Target and schedule", {&target, &schedule}},
      {"Training settings (each option overrides the model file's `train:` setting or "
       "--train-config's; the defaults apply where neither gives one)",
       training},
      {"Compilation and debugging", {&timeReport, &noCache, &maxMemory, &kernelChecks}},
  };
}

/// How an option is spelled in help and messages: `--name=<value>`, `-o <path>`.
static std::string spelling(const cl::Option &option, bool withValue = true) {
  std::string out = (option.ArgStr.size() == 1 ? "-" : "--") + option.ArgStr.str();
  if (withValue && option.getValueExpectedFlag() == cl::ValueRequired)
    out += (option.ArgStr.size() == 1 ? " <" : "=<") + option.ValueStr.str() + ">";
  return out;
}

/// Prints `text` from column `indent` on, wrapped at 100 columns; the first
/// line continues at column `column`.
static void printWrapped(llvm::raw_ostream &os, llvm::StringRef text, size_t column,
                         size_t indent) {
  size_t width = 100;
  llvm::SmallVector<llvm::StringRef> words;
  text.split(words, ' ', -1, /*KeepEmpty=*/false);
  for (llvm::StringRef word : words) {
    if (column > indent && column + 1 + word.size() > width) {
      os << "\n";
      os.indent(indent);
      column = indent;
    } else if (column > indent) {
      os << " ";
      ++column;
    }
    os << word;
    column += word.size();
  }
  os << "\n";
}

static void printHelp(llvm::raw_ostream &os) {
  os << "OVERVIEW: cnnc compiles a CNN model file into a shared library of Halide kernels\n"
        "\n"
        "USAGE: cnnc [options] <model.yaml|model.onnx|model.mlir>\n"
        "\n"
        "  cnnc model.yaml [-o model.so]      compile (train and eval steps included)\n"
        "  cnnc model.yaml --emit=<stage>     print one stage of the pipeline\n"
        "  cnnc --stats model.yaml [--json]   print the per-layer complexity report\n";
  const size_t descColumn = 30;
  for (const HelpGroup &group : helpGroups()) {
    os << "\n";
    printWrapped(os, llvm::StringRef(group.title).str() + ":", 0, 2);
    for (cl::Option *option : group.options) {
      std::string name = "  " + spelling(*option);
      os << name;
      size_t column = name.size();
      if (column + 2 > descColumn) {
        os << "\n";
        column = 0;
      }
      os.indent(descColumn - column);
      printWrapped(os, option->HelpStr, descColumn, descColumn);
    }
  }
  os << "\n";
  printWrapped(
      os,
      "Options that do nothing in the chosen mode are errors: with --stats only --json "
      "applies; with --emit=mlir* the training settings and --inference-only do "
      "(--inference-only from mlir-train on); --emit=halide adds --target, --schedule, "
      "--max-memory and --kernel-checks; --embed-weights, --time-report and --no-cache apply to "
      "compiling only; --inference-only excludes the training settings. "
      "docs/cnnc.md has the details.",
      0, 0);
  os << "\n  --help          this text\n"
        "  --help-hidden   every option, LLVM's and MLIR's included\n"
        "  --version       cnnc's version and those of MLIR/LLVM and Halide\n";
}

static void printVersion(llvm::raw_ostream &os) {
  os << "cnnc " << cnnc::cnncVersion() << "\n  MLIR/LLVM " << cnnc::llvmVersion() << "\n  Halide "
     << cnnc::halideVersion() << "\n";
}

static int fail(const llvm::Twine &message) {
  llvm::errs() << "cnnc: error: " << message << "\n";
  return 1;
}

/// Reads a --max-memory size: a positive whole number of bytes, optionally
/// followed by K, M, G or T (powers of 1024, either case); std::nullopt for
/// anything else, 0, or a size past 2^64 - 1 bytes.
static std::optional<uint64_t> parseMemorySize(llvm::StringRef text) {
  unsigned shift = 0;
  if (!text.empty()) {
    switch (llvm::toLower(text.back())) {
    case 'k':
      shift = 10;
      break;
    case 'm':
      shift = 20;
      break;
    case 'g':
      shift = 30;
      break;
    case 't':
      shift = 40;
      break;
    default:
      break;
    }
  }
  if (shift)
    text = text.drop_back();
  uint64_t value;
  if (text.empty() || !llvm::all_of(text, llvm::isDigit) || text.getAsInteger(10, value) ||
      value == 0 || value > (std::numeric_limits<uint64_t>::max() >> shift))
    return std::nullopt;
  return value << shift;
}

/// The cnnc option closest to `name` (no dashes, no value), or null when
/// none is close enough to suggest.
static cl::Option *closestOption(llvm::StringRef name) {
  cl::Option *best = nullptr;
  unsigned bestDistance = ~0u;
  for (const HelpGroup &group : helpGroups())
    for (cl::Option *option : group.options) {
      llvm::StringRef candidate = option->ArgStr;
      if (candidate.size() < 2)
        continue;
      unsigned distance = name.edit_distance(candidate, /*AllowReplacements=*/true);
      // A prefix of a name (--infer, --time) is a close miss too.
      if (name.size() >= 3 && candidate.starts_with(name))
        distance = std::min(distance, 1u);
      if (distance < bestDistance) {
        bestDistance = distance;
        best = option;
      }
    }
  unsigned limit = std::max<unsigned>(2, name.size() / 3);
  return bestDistance <= limit ? best : nullptr;
}

/// Checks the command line before LLVM parses it: every option must exist
/// (an unknown one gets a suggestion) and exactly one model file be given.
static bool checkArguments(llvm::ArrayRef<char *> args) {
  llvm::StringMap<cl::Option *> &registered = cl::getRegisteredOptions();
  std::vector<llvm::StringRef> positionals;
  bool onlyPositionals = false;
  for (size_t i = 1; i < args.size(); ++i) {
    llvm::StringRef arg(args[i]);
    if (onlyPositionals || !arg.starts_with("-") || arg == "-") {
      positionals.push_back(arg);
      continue;
    }
    if (arg == "--") {
      onlyPositionals = true;
      continue;
    }
    auto [name, value] = arg.ltrim('-').split('=');
    cl::Option *option = registered.lookup(name);
    if (!option) {
      std::string message = "unknown option '" + arg.str() + "'";
      if (cl::Option *close = closestOption(name)) {
        std::string suggestion = spelling(*close, false);
        if (arg.contains('='))
          suggestion += "=" + value.str();
        message += "; did you mean '" + suggestion + "'?";
      } else {
        message += " (cnnc --help lists the options)";
      }
      fail(message);
      return false;
    }
    // `--name value`: the next argument is the value.
    if (!arg.contains('=') && option->getValueExpectedFlag() == cl::ValueRequired)
      ++i;
  }
  if (positionals.empty()) {
    fail("no model file given (usage: cnnc [options] <model.yaml|model.onnx|model.mlir>; "
         "cnnc --help lists the options)");
    return false;
  }
  if (positionals.size() > 1) {
    fail("more than one model file given: '" + positionals[0].str() + "' and '" +
         positionals[1].str() + "' (cnnc compiles one model at a time)");
    return false;
  }
  return true;
}

/// The options given on the command line, as `--name` for messages.
static std::vector<std::string> given(llvm::ArrayRef<cl::Option *> options) {
  std::vector<std::string> out;
  for (cl::Option *option : options)
    if (option->getNumOccurrences())
      out.push_back(spelling(*option, false));
  return out;
}

/// Refuses options that do nothing in the mode the command line chose.
static bool checkMode(cnnc::Stage stage) {
  std::vector<cl::Option *> trainingOptions = {&trainConfig};
  for (auto [key, option] : kTrainingOptions)
    trainingOptions.push_back(option);
  auto refuse = [](const std::vector<std::string> &names, const llvm::Twine &why) {
    if (names.empty())
      return false;
    fail(names.front() + " " + why);
    return true;
  };
  if (statsJson && !stats)
    return !refuse({"--json"}, "only applies to --stats");
  if (stripPrefix.getNumOccurrences() && embedWeights.empty())
    return !refuse({"--strip-prefix"}, "only applies to --embed-weights");
  if (stats) {
    if (refuse(given({&outputFile}), "does not apply to --stats: the report goes to standard "
                                     "output (redirect it to keep it)") ||
        refuse(given({&emit}), "does not apply to --stats: use one or the other") ||
        refuse(given({&target, &schedule, &kernelChecks, &maxMemory, &embedWeights}),
               "does not apply to --stats: the report describes the model, not its code") ||
        refuse(given({&timeReport, &noCache}), "does not apply to --stats: it compiles nothing") ||
        refuse(given({&inferenceOnly}),
               "does not apply to --stats: the report is of the inference graph") ||
        refuse(given(trainingOptions),
               "does not apply to --stats: the report is of the inference graph"))
      return false;
    return true;
  }
  if (inferenceOnly && refuse(given(trainingOptions),
                              "does not apply with --inference-only, which builds no train step"))
    return false;
  if (stage == cnnc::Stage::Library)
    return true;
  std::string emitted = "--emit=" + emit;
  if (refuse(given({&timeReport, &noCache, &embedWeights}),
             "does not apply to " + emitted + ": it only affects compiling into a model.so"))
    return false;
  if (stage != cnnc::Stage::Halide &&
      refuse(given({&target, &schedule, &kernelChecks, &maxMemory}),
             "does not apply to " + emitted +
                 ": the graph stages do not depend on it (--emit=halide shows its effect)"))
    return false;
  if (stage < cnnc::Stage::Train &&
      refuse(given({&inferenceOnly}),
             "does not apply to " + emitted + ": the train step is built at mlir-train"))
    return false;
  return true;
}

/// Checks, before any work, that `path` can be written: not a directory, in
/// an existing directory where a file can be created.
static bool checkOutputPath(const std::string &path) {
  if (llvm::sys::fs::is_directory(path))
    return !fail("cannot write '" + path + "': it is a directory");
  llvm::SmallString<256> parent(llvm::sys::path::parent_path(path));
  if (parent.empty())
    parent = ".";
  if (!llvm::sys::fs::exists(parent))
    return !fail("cannot write '" + path + "': directory '" + parent + "' does not exist");
  if (!llvm::sys::fs::is_directory(parent))
    return !fail("cannot write '" + path + "': '" + parent + "' is not a directory");
  // The only sure test of writability is to write.
  int fd;
  llvm::SmallString<256> probe;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(path + ".probe-%%%%%%", fd, probe))
    return !fail("cannot write '" + path + "': cannot create a file in '" + parent +
                 "': " + ec.message());
  ::close(fd);
  llvm::sys::fs::remove(probe);
  return true;
}

/// The default output of compiling `input`: its name with .so, in the
/// current directory. Refuses (returns "") when that file exists and is
/// not a model compiled from a file of the same name.
static std::string defaultOutputPath(llvm::StringRef input) {
  llvm::StringRef file = llvm::sys::path::filename(input);
  std::string path = llvm::sys::path::stem(file).str() + ".so";
  if (!llvm::sys::fs::exists(path) || llvm::sys::fs::is_directory(path))
    return path; // a directory is refused by checkOutputPath
  std::string source;
  if (std::optional<std::string> metadata = cnnc::readModelMetadata(path)) {
    if (llvm::Expected<llvm::json::Value> json = llvm::json::parse(*metadata)) {
      if (const llvm::json::Object *object = json->getAsObject())
        if (std::optional<llvm::StringRef> s =
                object->getString(std::string(cnnc::schema::key::kSource)))
          source = s->str();
    } else {
      llvm::consumeError(json.takeError());
    }
  }
  if (source == file)
    return path;
  fail("'" + path + "' exists and is not a model compiled from " + file.str() +
       (source.empty() ? "" : " (it was compiled from " + source + ")") + "; pass -o " + path +
       " to replace it, or -o another path");
  return "";
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // LLVM registers an option of its own named -stats (LLVM's statistics);
  // cnnc's report takes its name.
  llvm::StringMap<cl::Option *> &registered = cl::getRegisteredOptions();
  if (cl::Option *llvmStats = registered.lookup("stats"))
    llvmStats->removeArgument();
  stats.setArgStr("stats");
  // MLIR's printing options (e.g. --mlir-print-debuginfo for locations).
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  cl::SetVersionPrinter(printVersion);

  llvm::ArrayRef<char *> args(argv, argc);
  bool helpHidden = false;
  for (llvm::StringRef a : args.drop_front()) {
    if (a == "--help" || a == "-help" || a == "-h") {
      printHelp(llvm::outs());
      return 0;
    }
    if (a == "--version" || a == "-version") {
      printVersion(llvm::outs());
      return 0;
    }
    helpHidden |= a.starts_with("--help-") || a.starts_with("-help-");
  }
  // --help-hidden and --help-list-hidden print every option, LLVM's too.
  if (!helpHidden) {
    cl::HideUnrelatedOptions(cnncOptions);
    if (!checkArguments(args))
      return 1;
  }
  if (!cl::ParseCommandLineOptions(argc, argv, "cnnc: compile a CNN model into a model.so\n",
                                   &llvm::errs()))
    return 1;

  std::optional<cnnc::Stage> stage = cnnc::parseStage(emit);
  if (!stage)
    return fail("unknown --emit stage '" + emit +
                "' (expected mlir, mlir-expanded, mlir-train, mlir-optimized, mlir-fused, "
                "halide or so)");
  if (!checkMode(*stage))
    return 1;
  cnnc::CompileOptions options;
  options.target = target;
  options.schedule = schedule;
  options.kernelChecks = kernelChecks;
  if (maxMemory.getNumOccurrences()) {
    std::optional<uint64_t> bytes = parseMemorySize(maxMemory);
    if (!bytes)
      return fail("--max-memory=" + maxMemory +
                  ": expected a positive size in bytes, optionally with a suffix K, M, G or T "
                  "(powers of 1024), e.g. 16G or 512M");
    options.maxMemoryBytes = *bytes;
  }
  if (std::string err = cnnc::validateOptions(options); !err.empty())
    return fail(err);

  mlir::DialectRegistry registry;
  cnnc::registerHalideLowerings(registry);
  mlir::MLIRContext context(registry);
  context.printOpOnDiagnostic(false); // diagnostics point into the model file
  context.loadDialect<cnnc::cnn::CNNDialect, mlir::func::FuncDialect>();
  std::string error;
  auto file = mlir::openInputFile(inputFile, &error);
  if (!file)
    return fail(error);
  // The output is checked before the model is imported: a path that cannot
  // be written fails now, not after minutes of code generation.
  std::string outPath = outputFile;
  if (!stats && outPath.empty()) {
    if (*stage != cnnc::Stage::Library)
      outPath = "-";
    else if (inputFile == "-")
      return fail("a model read from standard input needs -o");
    else if (outPath = defaultOutputPath(inputFile); outPath.empty())
      return 1;
  }
  if (!stats && outPath != "-") {
    if (llvm::sys::fs::equivalent(outPath, inputFile))
      return fail("-o " + outPath + " would replace the model file itself");
    if (!checkOutputPath(outPath))
      return 1;
  }

  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(file), llvm::SMLoc());
  mlir::SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);

  llvm::StringRef inputPath(inputFile);
  cnnc::DefaultParameters parameters;
  mlir::OwningOpRef<mlir::ModuleOp> module =
      inputPath.ends_with(".mlir") ? mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &context)
      : inputPath.ends_with(".onnx")
          ? cnnc::importOnnxModel(inputPath, &context, llvm::errs(), parameters)
          : cnnc::importYamlModel(sourceMgr, &context);
  if (!module || failed(module->verify()))
    return 1;
  if (!trainConfig.empty()) {
    auto trainFile = mlir::openInputFile(trainConfig, &error);
    if (!trainFile)
      return fail(error);
    unsigned id = sourceMgr.AddNewSourceBuffer(std::move(trainFile), llvm::SMLoc());
    if (failed(cnnc::importTrainSettings(sourceMgr, id, *module)))
      return 1;
  }
  if (failed(cnnc::overrideTrainSettings(sourceMgr, trainOverrides(), *module)))
    return 1;
  if (!embedWeights.empty()) {
    llvm::Expected<cnnc::DefaultParameters> read =
        cnnc::readSafetensorsFile(embedWeights, stripPrefix);
    if (!read)
      return fail(llvm::toString(read.takeError()));
    parameters = std::move(*read);
  }
  if (!parameters.tensors.empty() || !embedWeights.empty())
    options.defaultParameters = &parameters;

  if (stats) {
    if (failed(cnnc::runGraphPipeline(*module, cnnc::Stage::Expanded, /*training=*/false)))
      return 1;
    return failed(cnnc::printStatistics(*module, statsJson, llvm::outs())) ? 1 : 0;
  }

  if (*stage != cnnc::Stage::Library) {
    auto out = mlir::openOutputFile(outPath, &error);
    if (!out)
      return fail(error);
    auto print = [&](cnnc::Stage s) {
      if (s == *stage)
        module->print(out->os());
    };
    if (failed(cnnc::runGraphPipeline(*module, std::min(*stage, cnnc::Stage::Fused), !inferenceOnly,
                                      print)))
      return 1;
    if (*stage == cnnc::Stage::Halide &&
        failed(cnnc::emitHalideStatements(*module, options, out->os())))
      return 1;
    out->keep();
    return 0;
  }
  options.sourceName = llvm::sys::path::filename(inputPath).str();
  if (!noCache)
    options.cacheDirectory = cnnc::defaultCacheDirectory();
  auto start = std::chrono::steady_clock::now();
  if (failed(cnnc::runGraphPipeline(*module, cnnc::Stage::Fused, !inferenceOnly)))
    return 1;
  if (timeReport) {
    options.report = &llvm::errs();
    llvm::errs() << llvm::format(
        "cnnc: %7.2f s  import and graph passes\n",
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return failed(cnnc::compileModelLibrary(*module, options, outPath)) ? 1 : 0;
}
