//===- LayerOps.h - the ops a model file's layers may use -------*- C++ -*-===//
//
// The one table of YAML ops: for each `op:` name, the attributes it accepts,
// how many inputs it reads, and the function that reads its attributes into
// a graph-builder spec (frontends/common/GraphBuilder.h) and builds it.
// parseModelFile checks layers against the table (unknown ops and
// attributes, input counts); MLIRGen builds each layer through its row.
// This header needs no MLIR, so ModelFile.cpp stays free of it.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_FRONTENDS_YAML_LAYEROPS_H
#define CNNC_FRONTENDS_YAML_LAYEROPS_H

#include "llvm/ADT/StringRef.h"

#include <string>
#include <vector>

namespace mlir {
class Value;
} // namespace mlir

namespace cnnc::model {

class LayerContext; // MLIRGen.h

/// One row of the table.
struct LayerOp {
  std::string name;               ///< the `op:` name, also the cnn op's
  std::vector<std::string> attrs; ///< the attributes it accepts
  unsigned minInputs = 1;
  bool variadic = false; ///< more than minInputs allowed
  /// Reads the layer's attributes and builds it; a null Value after an
  /// error, which the context's reporter holds.
  mlir::Value (*build)(LayerContext &context);
};

/// Every op, in the order messages list them.
const std::vector<LayerOp> &layerOps();

/// The row of `name`, or null.
const LayerOp *findLayerOp(llvm::StringRef name);

} // namespace cnnc::model

#endif
