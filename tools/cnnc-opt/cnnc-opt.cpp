//===- cnnc-opt.cpp - run cnnc passes on IR text --------------------------===//
//
// mlir-opt for the cnn dialect: parses IR, runs the passes named on the
// command line (every cnnc-* pass plus MLIR's canonicalize and cse), prints
// the result. The lit tests drive it.
//
//===----------------------------------------------------------------------===//
#include "compiler/Dialect/CNN/IR/CNNDialect.h"
#include "compiler/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<cnnc::cnn::CNNDialect, mlir::func::FuncDialect>();
  cnnc::registerCNNCPasses();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  return mlir::asMainReturnCode(mlir::MlirOptMain(argc, argv, "cnnc optimizer driver\n", registry));
}
