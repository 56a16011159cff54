//===- Pipeline.cpp - the ordered list of cnnc graph passes ---------------===//
//
// Reads as the recipe: each stage is a short list of passes; the verifier
// runs after every pass, so a broken rewrite is caught where it happens.
//
//===----------------------------------------------------------------------===//
#include "compiler/Pipeline/Pipeline.h"
#include "compiler/Dialect/CNN/IR/CNNDialect.h"
#include "compiler/Dialect/CNN/IR/ShapeInference.h"
#include "compiler/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace cnnc;

std::optional<Stage> cnnc::parseStage(llvm::StringRef name) {
  return llvm::StringSwitch<std::optional<Stage>>(name)
      .Case("mlir", Stage::Import)
      .Case("mlir-expanded", Stage::Expanded)
      .Case("mlir-train", Stage::Train)
      .Case("mlir-optimized", Stage::Optimized)
      .Case("mlir-fused", Stage::Fused)
      .Case("halide", Stage::Halide)
      .Case("so", Stage::Library)
      .Default(std::nullopt);
}

llvm::StringRef cnnc::stageName(Stage stage) {
  switch (stage) {
  case Stage::Import:
    return "mlir";
  case Stage::Expanded:
    return "mlir-expanded";
  case Stage::Train:
    return "mlir-train";
  case Stage::Optimized:
    return "mlir-optimized";
  case Stage::Fused:
    return "mlir-fused";
  case Stage::Halide:
    return "halide";
  case Stage::Library:
    return "so";
  }
  return "";
}

/// Adds the passes that produce `stage` from the previous one. Autodiff runs
/// before canonicalization, which would fold the dropouts it must see.
static void addStagePasses(OpPassManager &pm, Stage stage, bool training) {
  if (stage == Stage::Train) {
    if (training)
      pm.addPass(createAutodiff());
    return;
  }
  OpPassManager &fn = pm.nest<func::FuncOp>();
  switch (stage) {
  case Stage::Expanded:
    fn.addPass(createExpandBlocks());
    break;
  case Stage::Optimized:
    fn.addPass(createCanonicalizerPass());
    fn.addPass(createFoldBatchNorm());
    fn.addPass(createCanonicalizerPass());
    fn.addPass(createCSEPass());
    fn.addPass(createEliminateDeadCode());
    fn.addPass(createCopyPassthroughOutputs());
    break;
  case Stage::Fused:
    fn.addPass(createFuse());
    break;
  default:
    break;
  }
}

/// Checks every tensor of the imported module against the buffer limits
/// (cnn::checkBufferSize): the shape functions check what they infer, and
/// this catches the rest (a model input, an op whose result type is given),
/// so the passes, the report and the planner count sizes that fit.
static LogicalResult checkBufferSizes(ModuleOp module) {
  for (auto fn : module.getOps<func::FuncOp>()) {
    for (BlockArgument arg : fn.getArguments()) {
      auto type = dyn_cast<RankedTensorType>(arg.getType());
      auto name = fn.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "cnn.name");
      std::string what = "model input '" + (name ? name.str() : "input") + "'";
      if (type)
        if (std::string err = cnn::checkBufferSize(type.getShape(), what); !err.empty())
          return emitError(isa<UnknownLoc>(arg.getLoc()) ? fn.getLoc() : arg.getLoc()) << err;
    }
    WalkResult walk = fn.walk([&](Operation *op) {
      for (Value result : op->getResults()) {
        auto type = dyn_cast<RankedTensorType>(result.getType());
        if (!type)
          continue;
        std::string what = "the result of '" + cnn::layerName(op) + "' (" +
                           op->getName().getStringRef().str() + ")";
        if (std::string err = cnn::checkBufferSize(type.getShape(), what); !err.empty()) {
          op->emitError(err);
          return WalkResult::interrupt();
        }
      }
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();
  }
  return success();
}

LogicalResult cnnc::runGraphPipeline(ModuleOp module, Stage until, bool training,
                                     llvm::function_ref<void(Stage)> afterStage) {
  if (failed(checkBufferSizes(module)))
    return failure();
  if (afterStage)
    afterStage(Stage::Import);
  for (Stage stage : {Stage::Expanded, Stage::Train, Stage::Optimized, Stage::Fused}) {
    if (stage > until)
      break;
    PassManager pm(module.getContext());
    addStagePasses(pm, stage, training);
    if (failed(pm.run(module)))
      return failure();
    if (afterStage)
      afterStage(stage);
  }
  return success();
}
