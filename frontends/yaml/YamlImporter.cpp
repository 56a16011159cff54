//===- YamlImporter.cpp - YAML model file -> cnn dialect ------------------===//
//
// The entry point of the YAML frontend (YamlImporter.h): parses the main
// buffer of the SourceMgr (ModelFile.cpp), builds the IR (MLIRGen.cpp) and
// turns the first user error into an MLIR diagnostic at file:line:col, with
// its notes, so the driver's SourceMgrDiagnosticHandler prints it with the
// source line and a caret. No exception escapes this function.
//
//===----------------------------------------------------------------------===//
#include "frontends/yaml/YamlImporter.h"
#include "frontends/yaml/MLIRGen.h"
#include "frontends/yaml/ModelFile.h"

#include "compiler/Dialect/CNN/IR/CNNDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"

using namespace mlir;

OwningOpRef<ModuleOp> cnnc::importYamlModel(llvm::SourceMgr &sourceMgr, MLIRContext *context) {
  context->loadDialect<cnn::CNNDialect, func::FuncDialect>();
  const llvm::MemoryBuffer *buffer = sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
  std::string file = buffer->getBufferIdentifier().str();
  auto loc = [&](model::SourceLoc l) -> Location {
    if (!l.isValid())
      l = {1, 1};
    return FileLineColLoc::get(context, file, l.line, l.col);
  };
  try {
    model::ModelFile parsed = model::parseModelFile(buffer->getBuffer());
    return model::genModule(parsed, context, file);
  } catch (const model::ModelError &e) {
    InFlightDiagnostic diag = emitError(loc(e.loc)) << e.message;
    for (const auto &[noteLoc, note] : e.notes)
      diag.attachNote(loc(noteLoc)) << note;
  } catch (const YAML::Exception &e) {
    emitError(loc(model::SourceLoc::of(e.mark))) << "invalid YAML: " << e.msg;
  }
  return nullptr;
}
