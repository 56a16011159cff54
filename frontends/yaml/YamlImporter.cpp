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

#include <charconv>
#include <map>

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

/// The model-file text of one setting's value.
static std::string yamlText(Attribute value) {
  if (auto s = dyn_cast<StringAttr>(value))
    return s.getValue().str();
  if (auto b = dyn_cast<BoolAttr>(value))
    return b.getValue() ? "true" : "false";
  if (auto i = dyn_cast<IntegerAttr>(value))
    return std::to_string(i.getInt());
  if (auto f = dyn_cast<FloatAttr>(value)) {
    char text[32]; // the shortest text that reads back as the same double
    auto [end, ec] = std::to_chars(text, text + sizeof(text), f.getValueAsDouble());
    return std::string(text, end);
  }
  return "";
}

LogicalResult cnnc::overrideTrainSettings(llvm::SourceMgr &sourceMgr,
                                          const TrainOverrides &overrides, ModuleOp module) {
  if (overrides.empty())
    return success();
  auto functions = module.getOps<func::FuncOp>();
  if (functions.empty())
    return success();
  func::FuncOp fn = *functions.begin();
  // The settings the model has (from its file or --train-config), as text.
  std::map<std::string, std::string> settings;
  if (auto train = fn->getAttrOfType<DictionaryAttr>("cnn.train"))
    for (NamedAttribute entry : train)
      settings[entry.getName().str()] = yamlText(entry.getValue());
  const std::vector<std::string> optimizerOptions = {"beta1",    "beta2",     "epsilon",
                                                     "momentum", "dampening", "nesterov"};
  for (const auto &[key, value] : overrides) {
    if (key == "optimizer" && settings.count("optimizer") && settings["optimizer"] != value)
      for (const std::string &option : optimizerOptions)
        settings.erase(option);
    settings[key] = value;
  }
  // As a model file's section: the optimizer's options in its map.
  std::string top, options;
  for (const auto &[key, value] : settings) {
    bool ofOptimizer = llvm::is_contained(optimizerOptions, key) || key == "weight_decay";
    if (key == "optimizer")
      continue;
    (ofOptimizer ? options : top) += ", " + key + ": " + value;
  }
  std::string text = "train: {" + (top.empty() ? std::string() : top.substr(2));
  if (settings.count("optimizer") || !options.empty()) {
    std::string name = settings.count("optimizer") ? settings["optimizer"] : "adam";
    text += std::string(top.empty() ? "" : ", ") + "optimizer: {name: " + name + options + "}";
  }
  text += "}\n";
  unsigned id = sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(text, "<command line>"), llvm::SMLoc());
  return importTrainSettings(sourceMgr, id, module);
}
