//===- MLIRGen.h - ModelFile -> cnn dialect ---------------------*- C++ -*-===//
//
// Maps a parsed model file to a module of cnn ops, like the MLIRGen of the
// MLIR Toy tutorial. Every shape is checked with the dialect's shape
// functions (ShapeInference.h) before an op is built, so a bad model is
// reported at its YAML node as a ModelError and never reaches an op builder
// that would abort on a failed type inference.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_FRONTENDS_YAML_MLIRGEN_H
#define CNNC_FRONTENDS_YAML_MLIRGEN_H

#include "frontends/yaml/ModelFile.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace cnnc::model {

/// Builds the module of `model`, whose ops are located in `fileName`.
/// Throws ModelError on a shape error or a parameter name clash.
mlir::OwningOpRef<mlir::ModuleOp> genModule(const ModelFile &model,
                                            mlir::MLIRContext *context,
                                            llvm::StringRef fileName);

} // namespace cnnc::model

#endif
