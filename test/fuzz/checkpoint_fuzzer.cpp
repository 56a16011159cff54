//===- checkpoint_fuzzer.cpp - Fuzz target: the checkpoint loader ---------===//
//
// Loads the input as a training checkpoint (cnnc_model_load_checkpoint, as
// `cnnrun train --resume` does) into the unit tests' hand-written training
// model (test/unit/test_train_model.c: softmax regression with SGD momentum,
// loaded once). A refused file is a status, and must leave the model exactly
// as it was (docs/runtime.md): every parameter and state tensor, the step
// count, the seed and the optimizer settings are compared with their values
// before the load; a loaded one is undone by initializing the model again and
// restoring the optimizer, so each input starts from the same model. Any crash,
// sanitizer report, leak, hang or change made by a refused checkpoint is a
// finding. The loader takes a path, so the bytes go through an in-memory
// file (FuzzFile.h). Seeds: test/fuzz/corpus/checkpoint (make_corpus.py).
//
//===----------------------------------------------------------------------===//
#include "FuzzFile.h"

#include "cnnc/runtime.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace {

/// The parameters and optimizer state of the test model, by name and size.
const struct {
  const char *name;
  size_t count;
  bool state;
} kTensors[] = {{"fc.weight", 12, false},
                {"fc.bias", 3, false},
                {"fc.weight.momentum_buffer", 12, true},
                {"fc.bias.momentum_buffer", 3, true}};

cnnc_model *loadModel() {
  cnnc_model *model = nullptr;
  if (cnnc_model_load(CNNC_TEST_TRAIN_MODEL, &model) != CNNC_OK ||
      cnnc_model_init_parameters(model, 1) != CNNC_OK) {
    std::fprintf(stderr, "cannot set up the test model: %s\n", cnnc_last_error());
    std::abort();
  }
  return model;
}

/// Everything a checkpoint sets, as numbers.
std::vector<double> snapshot(const cnnc_model *model) {
  cnnc_optimizer_settings o{};
  if (cnnc_model_get_optimizer(model, &o) != CNNC_OK)
    std::abort();
  std::vector<double> all = {double(cnnc_model_step_count(model)),
                             double(cnnc_model_seed(model)),
                             double(std::hash<std::string>()(o.name)),
                             o.momentum,
                             o.dampening,
                             o.weight_decay,
                             double(o.nesterov),
                             o.beta1,
                             o.beta2,
                             o.epsilon};
  for (const auto &t : kTensors) {
    std::vector<float> v(t.count);
    cnnc_status s = t.state ? cnnc_model_get_state(model, t.name, t.count, v.data())
                            : cnnc_model_get_parameter(model, t.name, t.count, v.data());
    if (s != CNNC_OK) {
      std::fprintf(stderr, "cannot read '%s': %s\n", t.name, cnnc_last_error());
      std::abort();
    }
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static cnnc_model *model = loadModel();
  static const std::vector<double> initial = snapshot(model);
  static cnnc_optimizer_settings optimizer = [] {
    cnnc_optimizer_settings o{};
    if (cnnc_model_get_optimizer(model, &o) != CNNC_OK)
      std::abort();
    return o;
  }();
  static cnnc::fuzz::MemFile file("checkpoint.safetensors");
  cnnc::fuzz::FileLeakCheck leaks("cnnc_model_load_checkpoint");
  file.write(data, size);
  if (cnnc_model_load_checkpoint(model, file.path.c_str()) == CNNC_OK) {
    if (cnnc_model_init_parameters(model, 1) != CNNC_OK ||
        cnnc_model_set_optimizer(model, &optimizer) != CNNC_OK)
      std::abort();
  } else if (snapshot(model) != initial) {
    std::fprintf(stderr, "a refused checkpoint changed the model: %s\n", cnnc_last_error());
    std::abort();
  }
  return 0;
}
