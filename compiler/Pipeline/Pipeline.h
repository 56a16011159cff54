//===- Pipeline.h - the ordered list of cnnc stages -------------*- C++ -*-===//
//
// The one place that says in which order cnnc transforms a model: import,
// block expansion, graph optimization, fusion, lowering to Halide, AOT
// compilation and linking. Each stage has an --emit= name so it can be
// dumped and FileChecked.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_PIPELINE_PIPELINE_H
#define CNNC_PIPELINE_PIPELINE_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"
#include <optional>

namespace cnnc {

/// The --emit= ladder, in pipeline order.
enum class Stage {
  Import,    ///< mlir: the IR as the frontend built it
  Expanded,  ///< mlir-expanded: blocks inlined
  Train,     ///< mlir-train: train and eval steps built by autodiff
  Optimized, ///< mlir-optimized: canonicalized, batch norm folded, dead code removed
  Fused,     ///< mlir-fused: fusion groups formed (the input of lowering)
  Halide,    ///< halide: the lowered Halide statement of every kernel
  Library,   ///< so: the linked model.so (the default)
};

/// Parses an --emit= value; std::nullopt for an unknown name.
std::optional<Stage> parseStage(llvm::StringRef name);
/// The --emit= name of a stage.
llvm::StringRef stageName(Stage stage);

/// Runs the graph passes that take the module from `Stage::Import` to
/// `until` (at most Stage::Fused). Without `training` the Train stage builds
/// nothing. Calls `afterStage` after each stage.
mlir::LogicalResult runGraphPipeline(mlir::ModuleOp module, Stage until, bool training,
                                     llvm::function_ref<void(Stage)> afterStage = nullptr);

} // namespace cnnc

#endif
