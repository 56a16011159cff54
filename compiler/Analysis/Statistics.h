//===- Statistics.h - per-layer complexity of a model -*- C++ -*-===//
//
// `cnnc --stats` walks the inference function after block expansion and
// reports, per layer and in total: output shape, parameters (as PyTorch's
// parameters() counts them: biases included, batch-norm running statistics
// not), weights (Σ kh·kw·C_in·C_out/groups: the space term), multiply-adds
// per image (the time term), activation memory (the output feature maps,
// Σ H·W·C), the receptive field and each layer's share of the multiply-adds.
// docs/complexity.md gives the formulas per op.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_ANALYSIS_STATISTICS_H
#define CNNC_ANALYSIS_STATISTICS_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

namespace cnnc {

/// Prints the complexity report of the module's inference function, as a
/// table or (with `json`) as one JSON object. Fails with a diagnostic if the
/// module has no inference function.
mlir::LogicalResult printStatistics(mlir::ModuleOp module, bool json, llvm::raw_ostream &os);

} // namespace cnnc

#endif
