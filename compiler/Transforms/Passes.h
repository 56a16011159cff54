//===- Passes.h - cnnc graph passes -----------------------------*- C++ -*-===//
//
// Declarations generated from Passes.td: create*() for every pass and
// registerCNNCPasses() for cnnc-opt.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_TRANSFORMS_PASSES_H
#define CNNC_TRANSFORMS_PASSES_H

#include "compiler/Dialect/CNN/IR/CNNDialect.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace cnnc {
#define GEN_PASS_DECL
#include "compiler/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "compiler/Transforms/Passes.h.inc"
} // namespace cnnc

#endif
