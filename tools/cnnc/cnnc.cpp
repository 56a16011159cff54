//===- cnnc.cpp - the cnnc compiler driver --------------------------------===//
//
// `cnnc model.yaml -o model.so` compiles a model file (an ONNX model, or cnn-dialect IR in a
// .mlir file) into a shared library. `--emit=<stage>` prints one stage of
// the pipeline instead (compiler/Pipeline/Pipeline.h lists them). Errors are
// printed as `file:line:col: error: ...` with the source line and a caret;
// the exit code is 0 on success and 1 on any error. `--stats` prints the
// complexity report of the course notes instead of compiling.
//
//===----------------------------------------------------------------------===//
#include "compiler/Analysis/Statistics.h"
#include "compiler/Dialect/CNN/IR/CNNDialect.h"
#include "compiler/Lowering/Halide/HalideLowering.h"
#include "compiler/Pipeline/Pipeline.h"
#include "compiler/Target/DefaultParameters.h"
#include "compiler/Target/ModelCompiler.h"
#include "frontends/onnx/OnnxImporter.h"
#include "frontends/yaml/YamlImporter.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

#include <chrono>

namespace cl = llvm::cl;

/// cnnc's own options: `--help` lists these only (LLVM's and MLIR's, such as
/// --mlir-print-debuginfo, still work).
static cl::OptionCategory cnncOptions("cnnc options");

static cl::opt<std::string> inputFile(cl::Positional,
                                      cl::desc("<model.yaml|model.onnx|model.mlir>"), cl::Required,
                                      cl::cat(cnncOptions));
static cl::opt<std::string>
    outputFile("o", cl::desc("Output file (default: model.so, or stdout with --emit)"),
               cl::value_desc("path"), cl::init(""), cl::cat(cnncOptions));
static cl::opt<std::string> emit(
    "emit",
    cl::desc("Stage to print: mlir | mlir-expanded | mlir-train | mlir-optimized | mlir-fused | "
             "halide | so (default)"),
    cl::init("so"), cl::cat(cnncOptions));
static cl::opt<bool>
    inferenceOnly("inference-only",
                  cl::desc("Build no train/eval step (smaller, faster to compile)"),
                  cl::init(false), cl::cat(cnncOptions));
static cl::opt<std::string>
    target("target",
           cl::desc("Halide target string (default: host; e.g. host-cuda, host-opencl, "
                    "x86-64-linux-avx2-fma-f16c-sse41)"),
           cl::init("host"), cl::cat(cnncOptions));
static cl::opt<std::string>
    schedule("schedule",
             cl::desc("default (the target's hand schedules) | cpu | gpu | auto:Adams2019 | "
                      "auto:Mullapudi2016 | auto:Li2018 (CPU or GPU)"),
             cl::init("default"), cl::cat(cnncOptions));

static cl::opt<bool> timeReport(
    "time-report",
    cl::desc("Print the time of each compilation step and how many kernels were compiled"),
    cl::init(false), cl::cat(cnncOptions));

static cl::opt<std::string> embedWeights(
    "embed-weights",
    cl::desc("Embed the parameter values of this safetensors file in model.so, loaded with the "
             "model (an ONNX model embeds its initializers without it)"),
    cl::value_desc("file.safetensors"), cl::init(""), cl::cat(cnncOptions));

static cl::opt<std::string> trainConfig(
    "train-config",
    cl::desc("Training settings for the train step (a YAML file `train: {loss, optimizer, lr, "
             "batch, epochs}`, as in a model file; it replaces the model file's, and the "
             "training options below override it)"),
    cl::value_desc("train.yaml"), cl::init(""), cl::cat(cnncOptions));

// Training settings one by one (they override the model file's `train:` and
// --train-config's, key by key).
static cl::OptionCategory trainOptions("cnnc training options (override the model's train: "
                                       "settings one by one)");
static cl::opt<std::string> lossOpt("loss", cl::desc("cross_entropy | mse"), cl::value_desc("loss"),
                                    cl::cat(trainOptions));
static cl::opt<std::string> optimizerOpt("optimizer", cl::desc("adam | adamw | sgd"),
                                         cl::value_desc("name"), cl::cat(trainOptions));
static cl::opt<std::string> lrOpt("lr", cl::desc("Learning rate"), cl::value_desc("number"),
                                  cl::cat(trainOptions));
static cl::opt<std::string> weightDecayOpt("weight-decay", cl::desc("L2 weight decay"),
                                           cl::value_desc("number"), cl::cat(trainOptions));
static cl::opt<std::string> momentumOpt("momentum", cl::desc("SGD momentum"),
                                        cl::value_desc("number"), cl::cat(trainOptions));
static cl::opt<std::string> dampeningOpt("dampening", cl::desc("SGD dampening"),
                                         cl::value_desc("number"), cl::cat(trainOptions));
static cl::opt<bool> nesterovOpt("nesterov", cl::desc("SGD with Nesterov momentum"),
                                 cl::cat(trainOptions));
static cl::opt<std::string> beta1Opt("beta1", cl::desc("Adam beta1"), cl::value_desc("number"),
                                     cl::cat(trainOptions));
static cl::opt<std::string> beta2Opt("beta2", cl::desc("Adam beta2"), cl::value_desc("number"),
                                     cl::cat(trainOptions));
static cl::opt<std::string> epsilonOpt("epsilon", cl::desc("Adam epsilon"),
                                       cl::value_desc("number"), cl::cat(trainOptions));
static cl::opt<std::string> batchOpt("batch", cl::desc("Default batch size of training"),
                                     cl::value_desc("n"), cl::cat(trainOptions));
static cl::opt<std::string> epochsOpt("epochs", cl::desc("Default number of epochs"),
                                      cl::value_desc("n"), cl::cat(trainOptions));

/// The training options given on the command line, by their model file names.
static cnnc::TrainOverrides trainOverrides() {
  cnnc::TrainOverrides out;
  auto add = [&](const char *key, const cl::opt<std::string> &opt) {
    if (opt.getNumOccurrences())
      out.push_back({key, opt});
  };
  add("loss", lossOpt);
  add("optimizer", optimizerOpt);
  add("lr", lrOpt);
  add("weight_decay", weightDecayOpt);
  add("momentum", momentumOpt);
  add("dampening", dampeningOpt);
  if (nesterovOpt.getNumOccurrences())
    out.push_back({"nesterov", nesterovOpt ? "true" : "false"});
  add("beta1", beta1Opt);
  add("beta2", beta2Opt);
  add("epsilon", epsilonOpt);
  add("batch", batchOpt);
  add("epochs", epochsOpt);
  return out;
}

static cl::opt<bool> kernelChecks(
    "kernel-checks",
    cl::desc("Keep Halide's checks of every kernel's buffer arguments (type, rank, extents, "
             "strides, bounds): slower to compile, for debugging the compiler"),
    cl::init(false), cl::cat(cnncOptions));

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // --stats (report) and --json are taken out before LLVM parses the
  // command line: LLVM registers its own -stats option.
  bool stats = false, statsJson = false;
  std::vector<char *> args;
  for (int i = 0; i < argc; ++i) {
    llvm::StringRef a(argv[i]);
    if (i > 0 && (a == "--stats" || a == "-stats"))
      stats = true;
    else if (i > 0 && (a == "--json" || a == "-json"))
      statsJson = true;
    else
      args.push_back(argv[i]);
  }
  argc = int(args.size());
  argv = args.data();
  if (statsJson && !stats) {
    llvm::errs() << "cnnc: error: --json only applies to --stats\n";
    return 1;
  }
  // MLIR's printing options (e.g. --mlir-print-debuginfo for locations).
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  cl::HideUnrelatedOptions({&cnncOptions, &trainOptions});
  cl::ParseCommandLineOptions(argc, argv,
                              "cnnc: compile a CNN model into model.so\n\n"
                              "  --stats [--json]  print the per-layer complexity report\n");

  std::optional<cnnc::Stage> stage = cnnc::parseStage(emit);
  if (!stage) {
    llvm::errs() << "cnnc: error: unknown --emit stage '" << emit
                 << "' (expected mlir, mlir-expanded, mlir-train, mlir-optimized, mlir-fused, "
                    "halide or so)\n";
    return 1;
  }
  cnnc::CompileOptions options;
  options.target = target;
  options.schedule = schedule;
  options.kernelChecks = kernelChecks;
  if (std::string err = cnnc::validateOptions(options); !err.empty()) {
    llvm::errs() << "cnnc: error: " << err << "\n";
    return 1;
  }

  mlir::DialectRegistry registry;
  cnnc::registerHalideLowerings(registry);
  mlir::MLIRContext context(registry);
  context.printOpOnDiagnostic(false); // diagnostics point into the model file
  context.loadDialect<cnnc::cnn::CNNDialect, mlir::func::FuncDialect>();
  std::string error;
  auto file = mlir::openInputFile(inputFile, &error);
  if (!file) {
    llvm::errs() << "cnnc: error: " << error << "\n";
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
    if (!trainFile) {
      llvm::errs() << "cnnc: error: " << error << "\n";
      return 1;
    }
    unsigned id = sourceMgr.AddNewSourceBuffer(std::move(trainFile), llvm::SMLoc());
    if (failed(cnnc::importTrainSettings(sourceMgr, id, *module)))
      return 1;
  }
  if (failed(cnnc::overrideTrainSettings(sourceMgr, trainOverrides(), *module)))
    return 1;
  if (!embedWeights.empty()) {
    llvm::Expected<cnnc::DefaultParameters> read = cnnc::readSafetensorsFile(embedWeights);
    if (!read) {
      llvm::errs() << "cnnc: error: " << llvm::toString(read.takeError()) << "\n";
      return 1;
    }
    parameters = std::move(*read);
  }
  if (!parameters.tensors.empty())
    options.defaultParameters = &parameters;

  if (stats) {
    if (failed(cnnc::runGraphPipeline(*module, cnnc::Stage::Expanded, /*training=*/false)))
      return 1;
    return failed(cnnc::printStatistics(*module, statsJson, llvm::outs())) ? 1 : 0;
  }

  std::string outPath = outputFile;
  if (outPath.empty())
    outPath = *stage == cnnc::Stage::Library ? "model.so" : "-";
  if (*stage != cnnc::Stage::Library) {
    auto out = mlir::openOutputFile(outPath, &error);
    if (!out) {
      llvm::errs() << "cnnc: error: " << error << "\n";
      return 1;
    }
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
