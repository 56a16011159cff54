//===- checkpoint.cpp - Training checkpoints in safetensors ---------------===//
//
// cnnc_model_save_checkpoint / load_checkpoint. A checkpoint is a
// safetensors file holding every parameter and every optimizer state tensor
// (F32, by name; parameters first, both in metadata order) and
// __metadata__ {"format": "cnnc-checkpoint-1", "cnnc_step": "<count>",
// "cnnc_seed": "<seed>", "cnnc_optimizer": "<JSON>"} (and "cnnc_note", an
// application's text, when given), written atomically (safetensors.h).
// "cnnc_optimizer" holds the optimizer settings of the next step and what the
// state holds (optimizer.cpp); a checkpoint written before it existed loads
// with the model's current settings. Loading checks the header, the metadata
// and every tensor, then reads all data into scratch memory, and only then
// changes the model, so a bad or truncated file leaves the model exactly as
// it was.
//
//===----------------------------------------------------------------------===//
#include "error.h"
#include "model.h"
#include "safetensors.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>

using namespace cnnc::rt;

namespace {

/// The checkpoint's __metadata__: its format and the run state it carries.
constexpr char kFormat[] = "cnnc-checkpoint-1";
constexpr char kStepKey[] = "cnnc_step";
constexpr char kSeedKey[] = "cnnc_seed";
constexpr char kOptimizerKey[] = "cnnc_optimizer";
constexpr char kNoteKey[] = "cnnc_note";

/// Parses a decimal uint64 metadata value, or fails naming the key.
uint64_t parseCounter(const std::string &path, const char *key, const std::string &text) {
  bool digits = !text.empty() && text.size() <= 20;
  for (char c : text)
    digits = digits && c >= '0' && c <= '9';
  errno = 0;
  unsigned long long v = digits ? std::strtoull(text.c_str(), nullptr, 10) : 0;
  if (!digits || errno)
    fail(CNNC_ERROR_FORMAT, "malformed checkpoint '" + path + "': " + safetensors_key::kMetadata +
                                " \"" + key + "\" is \"" + text +
                                "\", expected a non-negative integer");
  return v;
}

void saveCheckpoint(const cnnc_model &model, const std::string &path, const std::string &note) {
  std::vector<SafetensorsTensor> tensors;
  for (size_t i = 0; i < model.parameters.size(); ++i) {
    const TensorDesc &p = model.parameters[i];
    if (!model.parameterSet[i])
      fail(CNNC_ERROR_PARAMETER,
           "cannot save a checkpoint: parameter '" + p.name + "' has not been set");
    tensors.push_back({p.name, p.shape, currentHostData(model, p.buffer), p.itemCount});
  }
  for (const TensorDesc &s : model.train.state)
    tensors.push_back({s.name, s.shape, currentHostData(model, s.buffer), s.itemCount});
  std::vector<std::pair<std::string, std::string>> metadata = {
      {safetensors_key::kFormat, kFormat},
      {kStepKey, std::to_string(model.stepCount)},
      {kSeedKey, std::to_string(model.seed)}};
  if (model.train.present)
    metadata.push_back({kOptimizerKey, optimizerRecord(model)});
  if (!note.empty())
    metadata.push_back({kNoteKey, note});
  writeSafetensors(path, metadata, tensors, "checkpoint");
}

void loadCheckpoint(cnnc_model &model, const std::string &path) {
  SafetensorsReader reader(path, "checkpoint");
  auto step = reader.metadata.find(kStepKey);
  if (step == reader.metadata.end())
    fail(CNNC_ERROR_FORMAT, "'" + path + "' is not a cnnc checkpoint: its " +
                                safetensors_key::kMetadata + " has no \"" + kStepKey +
                                "\" (a parameters-only file? load it as weights)");
  auto format = reader.metadata.find(safetensors_key::kFormat);
  if (format != reader.metadata.end() && format->second != kFormat)
    fail(CNNC_ERROR_FORMAT, "checkpoint '" + path + "' has format \"" + format->second +
                                "\", this runtime reads \"" + kFormat + "\"");
  uint64_t stepCount = parseCounter(path, kStepKey, step->second);
  uint64_t seed = 0;
  if (auto it = reader.metadata.find(kSeedKey); it != reader.metadata.end())
    seed = parseCounter(path, kSeedKey, it->second);
  // Without a record (an older checkpoint) the run used the compiled
  // optimizer throughout: its state is that family's, written every step.
  OptimizerSettings optimizer = model.optimizer;
  StateUse stateUse = StateUse::Fresh;
  uint64_t stateSteps = stepCount;
  if (stepCount > 0 && model.train.stateForm != StateForm::None)
    stateUse = model.train.stateForm == StateForm::AdamMoments ? StateUse::Adam : StateUse::Sgd;
  if (auto it = reader.metadata.find(kOptimizerKey);
      it != reader.metadata.end() && model.train.present)
    parseOptimizerRecord(model, path, it->second, optimizer, stateUse, stateSteps);

  // Validate every tensor, then read them all, before changing anything.
  std::vector<const TensorDesc *> tensors;
  std::vector<const SafetensorsEntry *> entries;
  for (const TensorDesc &p : model.parameters) {
    tensors.push_back(&p);
    entries.push_back(&reader.require(p.name, p.shape, "parameter"));
  }
  for (const TensorDesc &s : model.train.state) {
    tensors.push_back(&s);
    entries.push_back(&reader.require(s.name, s.shape, "optimizer state tensor"));
  }
  std::vector<std::vector<float>> data(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    data[i].resize(size_t(tensors[i]->itemCount));
    if (!reader.read(*entries[i], data[i].data()))
      fail(CNNC_ERROR_IO, "cannot read '" + tensors[i]->name + "' from checkpoint '" + path + "'");
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    std::memcpy(model.storage[tensors[i]->buffer].get(), data[i].data(),
                data[i].size() * sizeof(float));
    markHostWritten(model, tensors[i]->buffer);
  }
  std::fill(model.parameterSet.begin(), model.parameterSet.end(), true);
  model.stepCount = stepCount;
  model.seed = seed;
  model.optimizer = optimizer;
  model.stateUse = stateUse;
  model.stateSteps = stateSteps;
  model.prepared = false;
  auto note = reader.metadata.find(kNoteKey);
  model.checkpointNote = note == reader.metadata.end() ? "" : note->second;
}

} // namespace

extern "C" cnnc_status cnnc_model_save_checkpoint(const cnnc_model *model, const char *path) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_save_checkpoint");
    if (!model || !path || !*path)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_save_checkpoint: null model or empty path");
    saveCheckpoint(*model, path, "");
  });
}

extern "C" cnnc_status cnnc_model_save_checkpoint_with_note(const cnnc_model *model,
                                                            const char *path, const char *note) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_save_checkpoint_with_note");
    if (!model || !path || !*path)
      fail(CNNC_ERROR_INVALID_ARGUMENT,
           "cnnc_model_save_checkpoint_with_note: null model or empty path");
    saveCheckpoint(*model, path, note ? note : "");
  });
}

extern "C" const char *cnnc_model_checkpoint_note(const cnnc_model *model) {
  return model ? model->checkpointNote.c_str() : "";
}

extern "C" cnnc_status cnnc_model_load_checkpoint(cnnc_model *model, const char *path) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_load_checkpoint", ModelAccess::ChangeParameters);
    if (!model || !path || !*path)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_load_checkpoint: null model or empty path");
    loadCheckpoint(*model, path);
  });
}
