//===- YamlImporter.h - YAML model file -> cnn dialect ----------*- C++ -*-===//
//
// Reads a cnnc model file (docs/model-format.md) and builds a module holding
// one func.func: its argument is the model input (`tensor<?xCxHxWxf32>`,
// arg attribute `cnn.name`), its result the model output (result attribute
// `cnn.name`). Every op is located at NameLoc(layer name, file:line:col of
// its YAML node). Each block instance becomes a cnn.block region. Errors are
// emitted as MLIR diagnostics at the offending node and yield a null module.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_FRONTENDS_YAML_YAMLIMPORTER_H
#define CNNC_FRONTENDS_YAML_YAMLIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/SourceMgr.h"

#include <string>
#include <utility>
#include <vector>

namespace cnnc {

/// Imports the model file held as the main buffer of `sourceMgr`. Returns
/// null after emitting diagnostics when the model is invalid.
mlir::OwningOpRef<mlir::ModuleOp> importYamlModel(llvm::SourceMgr &sourceMgr,
                                                  mlir::MLIRContext *context);

/// Reads the training settings file held as buffer `bufferId` of
/// `sourceMgr` (`train: {loss, optimizer, lr, batch, epochs}`, as in a model
/// file) and gives them to the model function of `module`, replacing any it
/// has. Emits a diagnostic in that file and fails when the file is invalid.
mlir::LogicalResult importTrainSettings(llvm::SourceMgr &sourceMgr, unsigned bufferId,
                                        mlir::ModuleOp module);

/// Training settings given one by one on the command line, by their model
/// file names (`loss`, `optimizer`, `lr`, `momentum`, `weight_decay`, ...),
/// each value as written.
using TrainOverrides = std::vector<std::pair<std::string, std::string>>;

/// Overrides the training settings of the model function of `module` key by
/// key with `overrides` (a new optimizer drops the old one's options), and
/// checks the result as a model file's `train:` section would be checked,
/// reporting errors in a buffer called "<command line>". Nothing to do when
/// `overrides` is empty.
mlir::LogicalResult overrideTrainSettings(llvm::SourceMgr &sourceMgr,
                                          const TrainOverrides &overrides,
                                          mlir::ModuleOp module);

} // namespace cnnc

#endif
