//===- train.cpp - Initialization, train steps and evaluation -------------===//
//
// The training half of the C API (docs/runtime-abi.md, "Training"): the
// runtime owns parameters, optimizer state, the step count and the seed;
// the model's kernels do all arithmetic. A train step fills the hyper
// buffers (lr, a 24-bit seed derived from the model's seed and the step, and
// the optimizer's settings, optimizer.cpp), binds the caller's inputs and
// labels (no copy where possible),
// runs train.steps, then exchanges the storage of each swap pair [current,
// next] -- host memory, device memory and dirty flags; every
// halide_buffer_t viewing either root follows -- so the updated values
// become current without a copy. A GPU model then copies only the loss and
// the correct count to the host. Batched buffers are
// allocated once per batch size (storage only grows), so a step allocates no
// buffer memory. Initialization draws from one splitmix64 stream per
// parameter seeded from (seed, name), so values do not depend on the order
// or number of other parameters or on the C++ library.
//
//===----------------------------------------------------------------------===//
#include "device.h"
#include "error.h"
#include "model.h"

#include "cnnc/model_schema.h"

#include <cmath>
#include <cstdio>
#include <cstring>

using namespace cnnc::rt;

namespace {

/// The 64-bit FNV-1a hash of a name (stream selection for initialization).
uint64_t hashName(const std::string &name) {
  uint64_t h = 0xCBF29CE484222325ULL;
  for (unsigned char c : name) {
    h ^= c;
    h *= 0x100000001B3ULL;
  }
  return h;
}

/// The number of classes: the width of the model's one batched output, or 0.
int64_t classCount(const cnnc_model &model) {
  if (model.outputs.size() != 1 || !model.outputs[0].batched)
    return 0;
  return model.outputs[0].itemCount;
}

/// Checks the arguments shared by train_step and evaluate.
void checkBatchArguments(const cnnc_model &model, int64_t batch, const float *const *inputs,
                         const float *labels, const float *outLoss, const float *outCorrect,
                         const char *fn) {
  if (batch < 1)
    fail(CNNC_ERROR_INVALID_ARGUMENT,
         std::string(fn) + ": batch size must be at least 1, got " + std::to_string(batch));
  if (!model.inputs.empty() && !inputs)
    fail(CNNC_ERROR_INVALID_ARGUMENT, std::string(fn) + ": inputs is null");
  for (size_t i = 0; i < model.inputs.size(); ++i)
    if (!inputs[i])
      fail(CNNC_ERROR_INVALID_ARGUMENT,
           std::string(fn) + ": input '" + model.inputs[i].name + "' is null");
  if (!labels)
    fail(CNNC_ERROR_INVALID_ARGUMENT, std::string(fn) + ": labels is null");
  if (!outLoss || !outCorrect)
    fail(CNNC_ERROR_INVALID_ARGUMENT, std::string(fn) + ": out_loss or out_correct is null");
  int64_t classes = classCount(model);
  for (int64_t n = 0; n < batch; ++n) {
    float y = labels[n];
    if (!std::isfinite(y) || y < 0 || y != std::floor(y) || (classes > 0 && y >= float(classes)))
      fail(CNNC_ERROR_INVALID_ARGUMENT,
           std::string(fn) + ": label " + std::to_string(n) + " is " + std::to_string(y) +
               ", expected a class index (an integer in [0, " +
               (classes > 0 ? std::to_string(classes) : std::string("classes")) + "))");
  }
}

/// Binds inputs and labels for one call (the binding restores on scope exit).
void bindBatch(cnnc_model &model, HostBinding &binding, int64_t batch, const float *const *inputs,
               const float *labels) {
  for (size_t i = 0; i < model.inputs.size(); ++i) {
    const TensorDesc &t = model.inputs[i];
    binding.bindOrCopy(t.buffer, inputs[i], t.batched ? t.itemCount * batch : t.itemCount);
  }
  binding.bindOrCopy(model.train.labels, labels, batch);
}

float readScalar(const cnnc_model &model, int buffer) {
  return currentHostData(model, model.buffers[buffer].root)[0];
}

/// Exchanges the storage of root buffers a and b. Both halide_buffer_t's
/// keep describing "their" values: host pointers, device memory and dirty
/// flags move together, and every view of either root follows its root.
void swapStorage(cnnc_model &model, int a, int b) {
  std::swap(model.storage[a], model.storage[b]);
  std::swap(model.storageCount[a], model.storageCount[b]);
  std::swap(model.deviceCount[a], model.deviceCount[b]);
  halide_buffer_t &ha = model.halideBuffers[a], &hb = model.halideBuffers[b];
  std::swap(ha.device, hb.device);
  std::swap(ha.device_interface, hb.device_interface);
  std::swap(ha.flags, hb.flags);
  for (int root : {a, b}) {
    const halide_buffer_t &owner = model.halideBuffers[root];
    for (int view : model.sharers[root]) {
      halide_buffer_t &v = model.halideBuffers[view];
      v.host = reinterpret_cast<uint8_t *>(model.storage[root].get());
      v.device = owner.device;
      v.device_interface = owner.device_interface;
      v.flags = owner.flags;
    }
  }
}

/// Fills the label smoothing and clipping hyper buffers of the next step
/// (a GPU model uploads them only when they changed).
void applyRegularization(cnnc_model &model) {
  setHyper(model, model.train.labelSmoothingBuffer, model.labelSmoothing);
  setHyper(model, model.train.clipGradNormBuffer, model.clipGradNorm);
}

/// A float as the shortest text printf's %g gives.
std::string numberText(float value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", double(value));
  return text;
}

/// The seed passed to the kernels for step `step`: 24 bits, exact in a float.
float stepSeed(uint64_t seed, uint64_t step) {
  SplitMix64 rng(seed ^ (step * 0xD1B54A32D192ED03ULL));
  return float(rng.next() >> 40);
}

} // namespace

// A GPU model uploads a scalar only if it changed: the learning rate mostly
// does not, the step number always does.
void cnnc::rt::setHyper(cnnc_model &model, int buffer, float value) {
  if (buffer < 0)
    return;
  int root = model.buffers[buffer].root;
  float &current = model.storage[root][0];
  if (current == value)
    return;
  current = value;
  markHostWritten(model, root);
}

void cnnc::rt::requireTraining(const cnnc_model *model, const char *fn) {
  if (!model)
    fail(CNNC_ERROR_INVALID_ARGUMENT, std::string(fn) + ": model is null");
  if (!model->train.present)
    fail(CNNC_ERROR_INVALID_ARGUMENT,
         std::string(fn) + ": model '" + model->path +
             "' was compiled without training (its metadata has no \"" +
             std::string(cnnc::schema::key::kTrain) + "\" object)");
}

extern "C" int cnnc_model_has_training(const cnnc_model *model) {
  return model && model->train.present ? 1 : 0;
}

extern "C" cnnc_status cnnc_model_get_train_info(const cnnc_model *model,
                                                 cnnc_train_info *out_info) {
  return guard([&] {
    requireTraining(model, "cnnc_model_get_train_info");
    if (!out_info)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_get_train_info: out_info is null");
    out_info->loss = model->train.loss.c_str();
    out_info->optimizer = model->train.optimizer.c_str();
    out_info->lr = model->train.lr;
    out_info->batch = model->train.batch;
    out_info->epochs = model->train.epochs;
    out_info->classes = classCount(*model);
  });
}

extern "C" cnnc_status cnnc_model_init_parameters(cnnc_model *model, uint64_t seed) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_init_parameters", ModelAccess::ChangeParameters);
    requireTraining(model, "cnnc_model_init_parameters");
    for (const InitDesc &init : model->train.init) {
      const TensorDesc &p = model->parameters[init.parameter];
      float *data = model->storage[p.buffer].get();
      if (init.uniform) {
        SplitMix64 rng(seed ^ hashName(p.name));
        for (int64_t i = 0; i < p.itemCount; ++i) {
          // (2u - 1) * bound with u in [0, 1): within [-bound, bound) before rounding.
          float v = float((2.0 * rng.uniform() - 1.0) * init.bound);
          data[i] = std::fmin(std::fmax(v, -float(init.bound)), float(init.bound));
        }
      } else {
        std::fill(data, data + p.itemCount, float(init.value));
      }
      markHostWritten(*model, p.buffer);
      model->parameterSet[init.parameter] = true;
    }
    for (const TensorDesc &s : model->train.state) {
      std::memset(model->storage[s.buffer].get(), 0, size_t(s.itemCount) * sizeof(float));
      markHostWritten(*model, s.buffer);
    }
    model->stepCount = 0;
    model->seed = seed;
    model->stateUse = StateUse::Fresh;
    model->stateSteps = 0;
    model->prepared = false;
  });
}

namespace {
/// One train step; with `stepMs`, the wall time of each kernel.
void trainStep(cnnc_model *model, int64_t batch, const float *const *inputs, const float *labels,
               float lr, float *out_loss, float *out_correct, double *stepMs) {
  requireTraining(model, "cnnc_model_train_step");
  checkBatchArguments(*model, batch, inputs, labels, out_loss, out_correct,
                      "cnnc_model_train_step");
  if (!std::isfinite(lr))
    fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_train_step: learning rate is not finite");
  checkParametersSet(*model);
  applyRegularization(*model);
  ensureBatch(*model, batch);
  uint64_t step = model->stepCount + 1;
  setHyper(*model, model->train.lrBuffer, lr);
  setHyper(*model, model->train.seedBuffer, stepSeed(model->seed, step));
  prepareOptimizerStep(*model);
  {
    HostBinding binding(*model);
    bindBatch(*model, binding, batch, inputs, labels);
    callKernels(*model, model->train.steps, "train step", stepMs);
  }
  for (const auto &[current, next] : model->train.swaps)
    swapStorage(*model, current, next);
  noteOptimizerStep(*model);
  model->stepCount = step;
  model->prepared = false; // batch-norm folding etc. must see the new parameters
  *out_loss = readScalar(*model, model->train.lossBuffer);
  *out_correct = readScalar(*model, model->train.correctBuffer);
}
} // namespace

extern "C" cnnc_status cnnc_model_train_step(cnnc_model *model, int64_t batch,
                                             const float *const *inputs, const float *labels,
                                             float lr, float *out_loss, float *out_correct) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_train_step", ModelAccess::ChangeParameters);
    trainStep(model, batch, inputs, labels, lr, out_loss, out_correct, nullptr);
  });
}

extern "C" cnnc_status cnnc_model_train_step_timed(cnnc_model *model, int64_t batch,
                                                   const float *const *inputs, const float *labels,
                                                   float lr, float *out_loss, float *out_correct,
                                                   double *out_step_ms) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_train_step_timed", ModelAccess::ChangeParameters);
    if (!out_step_ms)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_train_step_timed: out_step_ms is null");
    trainStep(model, batch, inputs, labels, lr, out_loss, out_correct, out_step_ms);
  });
}

extern "C" size_t cnnc_model_num_train_steps(const cnnc_model *model) {
  return model && model->train.present ? model->train.steps.size() : 0;
}

extern "C" cnnc_status cnnc_model_get_train_step_info(const cnnc_model *model, size_t index,
                                                      cnnc_step_info *out_info) {
  return guard([&] {
    requireTraining(model, "cnnc_model_get_train_step_info");
    if (!out_info || index >= model->train.steps.size())
      fail(CNNC_ERROR_INVALID_ARGUMENT,
           "cnnc_model_get_train_step_info: null out_info or index out of range");
    out_info->name = model->train.steps[index].name.c_str();
    out_info->flops = model->train.steps[index].flops;
  });
}

extern "C" cnnc_status cnnc_model_evaluate(cnnc_model *model, int64_t batch,
                                           const float *const *inputs, const float *labels,
                                           float *out_loss, float *out_correct) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_evaluate");
    requireTraining(model, "cnnc_model_evaluate");
    checkBatchArguments(*model, batch, inputs, labels, out_loss, out_correct,
                        "cnnc_model_evaluate");
    if (!model->prepared)
      prepareModel(*model);
    ensureBatch(*model, batch);
    applyRegularization(*model);
    HostBinding binding(*model);
    bindBatch(*model, binding, batch, inputs, labels);
    callKernels(*model, model->train.evalSteps, "eval step", nullptr);
    *out_loss = readScalar(*model, model->train.lossBuffer);
    *out_correct = readScalar(*model, model->train.correctBuffer);
  });
}

extern "C" uint64_t cnnc_model_step_count(const cnnc_model *model) {
  return model ? model->stepCount : 0;
}

extern "C" uint64_t cnnc_model_seed(const cnnc_model *model) { return model ? model->seed : 0; }

extern "C" cnnc_status cnnc_model_get_state(const cnnc_model *model, const char *name, size_t count,
                                            float *out_data) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_get_state");
    if (!model || !name)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_get_state: null model or name");
    int i = findState(*model, name);
    if (i < 0)
      fail(CNNC_ERROR_INVALID_ARGUMENT,
           std::string("cnnc_model_get_state: the model has no state tensor '") + name + "'");
    const TensorDesc &s = model->train.state[i];
    if (count != size_t(s.itemCount))
      fail(CNNC_ERROR_INVALID_ARGUMENT,
           "cnnc_model_get_state: '" + s.name + "' " + shapeString(s.shape) + " has " +
               std::to_string(s.itemCount) + " elements, got " + std::to_string(count));
    if (!out_data && count)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_get_state: out_data is null");
    std::memcpy(out_data, currentHostData(*model, s.buffer), count * sizeof(float));
  });
}

extern "C" cnnc_status cnnc_model_set_label_smoothing(cnnc_model *model, float eps) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_set_label_smoothing");
    requireTraining(model, "cnnc_model_set_label_smoothing");
    if (!(eps >= 0 && eps < 1))
      fail(CNNC_ERROR_INVALID_ARGUMENT,
           "cnnc_model_set_label_smoothing: label smoothing must be in [0, 1), got " +
               numberText(eps));
    if (eps != 0 && model->train.labelSmoothingBuffer < 0)
      fail(CNNC_ERROR_INVALID_ARGUMENT,
           "cnnc_model_set_label_smoothing: model '" + model->path +
               (model->train.loss == cnnc::schema::loss::kSoftmaxCrossEntropy
                    ? std::string("' has no \"") +
                          std::string(cnnc::schema::hyper::kLabelSmoothing) +
                          "\" hyper-parameter in its metadata"
                    : "' trains with the " + model->train.loss +
                          " loss; label smoothing applies to the cross-entropy loss (compile "
                          "with --loss cross_entropy)"));
    model->labelSmoothing = eps;
  });
}

extern "C" cnnc_status cnnc_model_get_label_smoothing(const cnnc_model *model, float *out_eps) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_get_label_smoothing");
    requireTraining(model, "cnnc_model_get_label_smoothing");
    if (!out_eps)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_get_label_smoothing: out_eps is null");
    *out_eps = model->labelSmoothing;
  });
}

extern "C" int cnnc_model_has_clip_grad_norm(const cnnc_model *model) {
  return model && model->train.present && model->train.clipGradNormBuffer >= 0 ? 1 : 0;
}

extern "C" cnnc_status cnnc_model_set_clip_grad_norm(cnnc_model *model, float max_norm) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_set_clip_grad_norm");
    requireTraining(model, "cnnc_model_set_clip_grad_norm");
    if (!(max_norm >= 0 && std::isfinite(max_norm)))
      fail(CNNC_ERROR_INVALID_ARGUMENT,
           "cnnc_model_set_clip_grad_norm: max_norm must be finite and >= 0 (0: no clipping), "
           "got " +
               numberText(max_norm));
    if (max_norm != 0 && model->train.clipGradNormBuffer < 0)
      fail(CNNC_ERROR_INVALID_ARGUMENT,
           "cnnc_model_set_clip_grad_norm: model '" + model->path +
               "' was compiled without gradient clipping; compile it with --clip-grad-norm "
               "MAX_NORM (or `clip_grad_norm: MAX_NORM` in the model file's train: section; 0 "
               "compiles clipping in, off until set)");
    model->clipGradNorm = max_norm;
  });
}

extern "C" cnnc_status cnnc_model_get_clip_grad_norm(const cnnc_model *model, float *out_max_norm) {
  return guard([&] {
    ModelCall call(model, "cnnc_model_get_clip_grad_norm");
    requireTraining(model, "cnnc_model_get_clip_grad_norm");
    if (!out_max_norm)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_model_get_clip_grad_norm: out_max_norm is null");
    *out_max_norm = model->clipGradNorm;
  });
}
