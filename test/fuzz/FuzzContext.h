//===- FuzzContext.h - One MLIR context for many fuzz inputs ----*- C++ -*-===//
//
// Creating an MLIRContext and loading the cnn dialect costs more than
// importing most inputs, so the frontend targets share one context across
// inputs and start a fresh one every kInputsPerContext inputs: the types,
// attributes and names each input adds to the context then cannot grow
// without bound over a long campaign. Diagnostics are consumed, not printed:
// a refused model is the expected outcome of most inputs.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_TEST_FUZZ_FUZZCONTEXT_H
#define CNNC_TEST_FUZZ_FUZZCONTEXT_H

#include "compiler/Dialect/CNN/IR/CNNDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <memory>

namespace cnnc::fuzz {

inline constexpr int kInputsPerContext = 256;

/// The context for the next input, with the cnn and func dialects loaded and
/// a handler that swallows diagnostics.
inline mlir::MLIRContext &nextContext() {
  static std::unique_ptr<mlir::MLIRContext> context;
  static std::unique_ptr<mlir::ScopedDiagnosticHandler> quiet;
  static int inputs = 0;
  if (!context || ++inputs == kInputsPerContext) {
    inputs = 0;
    quiet.reset();
    context = std::make_unique<mlir::MLIRContext>(mlir::MLIRContext::Threading::DISABLED);
    context->printOpOnDiagnostic(false);
    context->loadDialect<cnn::CNNDialect, mlir::func::FuncDialect>();
    quiet = std::make_unique<mlir::ScopedDiagnosticHandler>(
        context.get(), [](mlir::Diagnostic &) { return mlir::success(); });
  }
  return *context;
}

} // namespace cnnc::fuzz

#endif
