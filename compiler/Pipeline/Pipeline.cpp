//===- Pipeline.cpp - the ordered list of cnnc graph passes ---------------===//
//
// Reads as the recipe: each stage is a short list of passes; the verifier
// runs after every pass, so a broken rewrite is caught where it happens.
//
//===----------------------------------------------------------------------===//
#include "compiler/Pipeline/Pipeline.h"
#include "compiler/Transforms/Passes.h"

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

LogicalResult cnnc::runGraphPipeline(ModuleOp module, Stage until, bool training,
                                     llvm::function_ref<void(Stage)> afterStage) {
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
