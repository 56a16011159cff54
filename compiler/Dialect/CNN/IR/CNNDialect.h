//===- CNNDialect.h - the cnn dialect ---------------------------*- C++ -*-===//
//
// Declares the cnn dialect (graph IR of cnnc) and its ops. Include this
// header to use any cnn op.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_DIALECT_CNN_IR_CNNDIALECT_H
#define CNNC_DIALECT_CNN_IR_CNNDIALECT_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/RegionKindInterface.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "compiler/Dialect/CNN/IR/CNNDialect.h.inc"
#include "compiler/Dialect/CNN/IR/CNNInterfaces.h"

#define GET_OP_CLASSES
#include "compiler/Dialect/CNN/IR/CNNOps.h.inc"

namespace cnnc::cnn {
/// The type of an activation or parameter: a ranked f32 tensor.
mlir::RankedTensorType tensorType(mlir::MLIRContext *ctx, llvm::ArrayRef<int64_t> shape);

/// The layer name(s) of an op, from the NameLoc the frontend attaches
/// ('+'-joined when a rewrite fused several layers into a FusedLoc), or the
/// op's name without the dialect prefix when it has none.
std::string layerName(mlir::Operation *op);
} // namespace cnnc::cnn

#endif
