//===- MLIRGen.h - ModelFile -> cnn dialect ---------------------*- C++ -*-===//
//
// Maps a parsed model file to a module of cnn ops, like the MLIRGen of the
// MLIR Toy tutorial: the function, its input and output, and a cnn.block
// per block instance. Each layer is built by its row of the op table
// (LayerOps.h) through the graph builder (frontends/common), which checks
// every shape before it builds an op, so a bad model is reported at its
// YAML node as a ModelError and never reaches an op builder that would
// abort on a failed type inference.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_FRONTENDS_YAML_MLIRGEN_H
#define CNNC_FRONTENDS_YAML_MLIRGEN_H

#include "frontends/common/GraphBuilder.h"
#include "frontends/yaml/ModelFile.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <vector>

namespace cnnc::model {

/// What the build function of a layer's op (LayerOps.h) works with.
class LayerContext {
  // First, so that `info` can use them.
  mlir::MLIRContext *context;
  llvm::StringRef file;

public:
  LayerContext(const Layer &layer, AttrReader &attrs, frontend::GraphBuilder &builder,
               mlir::MLIRContext *context, llvm::StringRef file)
      : context(context), file(file), layer(layer), attrs(attrs),
        builder(builder), info{attrs.name(), site(layer.loc)} {}

  const Layer &layer;
  AttrReader &attrs; ///< its attributes, under its block instance's bindings
  frontend::GraphBuilder &builder;
  frontend::LayerInfo info; ///< full name and site of the layer
  std::vector<frontend::Input> inputs;

  mlir::Value input() const { return inputs[0].value; }
  /// `loc` as a site (file:line:col); the layer's where `loc` is unknown.
  frontend::Site site(SourceLoc loc) const;
  /// Where the attribute `key` is written (its value), or the layer.
  frontend::Site siteOf(llvm::StringRef key) const { return site(attrs.locOf(key)); }
};

/// Builds the module of `model`, whose ops are located in `fileName`.
/// Throws ModelError on a shape error or a parameter name clash.
/// The `train:` settings as the `cnn.train` attribute cnnc-autodiff reads.
mlir::DictionaryAttr trainSettingsAttr(const std::vector<TrainSetting> &settings,
                                       mlir::MLIRContext *context);

mlir::OwningOpRef<mlir::ModuleOp> genModule(const ModelFile &model, mlir::MLIRContext *context,
                                            llvm::StringRef fileName);

} // namespace cnnc::model

#endif
