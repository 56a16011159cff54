//===- YamlImporter.cpp - YAML model file -> cnn dialect ------------------===//
//
// The entry points of the YAML frontend (YamlImporter.h): parses the main
// buffer of the SourceMgr (ModelFile.cpp), builds the IR (MLIRGen.cpp) and
// turns the first user error into an MLIR diagnostic at file:line:col, with
// its notes, so the driver's SourceMgrDiagnosticHandler prints it with the
// source line and a caret; likewise for a training-settings file. No
// exception escapes these functions.
//
//===----------------------------------------------------------------------===//
#include "frontends/yaml/YamlImporter.h"
#include "frontends/yaml/MLIRGen.h"
#include "frontends/yaml/ModelFile.h"

#include "compiler/Dialect/CNN/IR/CNNDialect.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"

using namespace mlir;
namespace model = cnnc::model;

/// Runs `parse` on the text of buffer `bufferId`; a ModelError or YAML error
/// becomes a diagnostic at its file:line:col. Returns whether it succeeded.
template <typename Parse>
static bool reportingErrors(llvm::SourceMgr &sourceMgr, unsigned bufferId, MLIRContext *context,
                            Parse parse) {
  const llvm::MemoryBuffer *buffer = sourceMgr.getMemoryBuffer(bufferId);
  std::string file = buffer->getBufferIdentifier().str();
  auto loc = [&](model::SourceLoc l) -> Location {
    if (!l.isValid())
      l = {1, 1};
    return FileLineColLoc::get(context, file, l.line, l.col);
  };
  try {
    parse(buffer->getBuffer(), file);
    return true;
  } catch (const model::ModelError &e) {
    InFlightDiagnostic diag = emitError(loc(e.loc)) << e.message;
    for (const auto &[noteLoc, note] : e.notes)
      diag.attachNote(loc(noteLoc)) << note;
  } catch (const YAML::Exception &e) {
    emitError(loc(model::SourceLoc::of(e.mark))) << "invalid YAML: " << e.msg;
  }
  return false;
}

OwningOpRef<ModuleOp> cnnc::importYamlModel(llvm::SourceMgr &sourceMgr, MLIRContext *context) {
  context->loadDialect<cnn::CNNDialect, func::FuncDialect>();
  OwningOpRef<ModuleOp> module;
  bool ok = reportingErrors(sourceMgr, sourceMgr.getMainFileID(), context,
                            [&](llvm::StringRef text, const std::string &file) {
                              model::ModelFile parsed = model::parseModelFile(text);
                              module = model::genModule(parsed, context, file);
                            });
  return ok ? std::move(module) : nullptr;
}

LogicalResult cnnc::importTrainSettings(llvm::SourceMgr &sourceMgr, unsigned bufferId,
                                        ModuleOp module) {
  MLIRContext *context = module.getContext();
  std::vector<model::TrainSetting> settings;
  if (!reportingErrors(sourceMgr, bufferId, context,
                       [&](llvm::StringRef text, const std::string &) {
                         settings = model::parseTrainFile(text);
                       }))
    return failure();
  for (func::FuncOp fn : module.getOps<func::FuncOp>())
    fn->setAttr("cnn.train", model::trainSettingsAttr(settings, context));
  return success();
}
