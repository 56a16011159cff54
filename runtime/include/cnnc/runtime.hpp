//===- runtime.hpp - C++ wrapper over the cnnc runtime C API ----*- C++ -*-===//
//
// Header-only RAII classes over cnnc/runtime.h: cnnc::Model owns a loaded
// model.so (and trains it if it was compiled with training), cnnc::Session
// is one serving thread's execution context of a model, cnnc::Array
// owns an array read from .npy or IDX, cnnc::Dataset a labelled IDX dataset,
// cnnc::LrSchedule a learning-rate schedule. Every failing C
// call becomes a cnnc::Error carrying the status and cnnc_last_error()'s
// message. Nothing here adds behaviour; it only changes the spelling.
// Example:
//   cnnc::Model model("model.so");
//   model.loadParameters("w.safetensors");
//   std::vector<float> y = model.run(batch, x); // one input, one output
// Training:
//   model.initParameters(/*seed=*/0);
//   model.setOptimizer({"sgd", /*momentum=*/0.9}); // optional: the model file's by default
//   cnnc::StepResult r = model.trainStep(batch, x, labels, 0.01f);
//   model.save("ckpt.safetensors");
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_RUNTIME_HPP
#define CNNC_RUNTIME_HPP

#include "cnnc/runtime.h"

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace cnnc {

/// A failed runtime call: the status and the runtime's message.
class Error : public std::runtime_error {
public:
  Error(cnnc_status status, const std::string &message)
      : std::runtime_error(message), status_(status) {}
  /// The C status of the failed call.
  cnnc_status status() const { return status_; }

private:
  cnnc_status status_;
};

/// Throws cnnc::Error if `status` is not CNNC_OK.
inline void check(cnnc_status status) {
  if (status != CNNC_OK)
    throw Error(status, cnnc_last_error());
}

/// An input, output or parameter of a model. shape[i] == -1 is the batch.
struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;
  int64_t itemCount = 0; ///< elements per batch item (all if unbatched)
  bool batched = false;

  /// The shape with the batch dimension set to `batch`.
  std::vector<int64_t> shapeFor(int64_t batch) const {
    std::vector<int64_t> s = shape;
    for (int64_t &d : s)
      if (d == -1)
        d = batch;
    return s;
  }
  /// Elements for `batch` items.
  int64_t countFor(int64_t batch) const { return batched ? itemCount * batch : itemCount; }
};

/// One inference step.
struct StepInfo {
  std::string name;
  int64_t flops = 0; ///< per batch item
};

/// The defaults of a training model (its `train:` section).
struct TrainInfo {
  std::string loss, optimizer;
  double lr = 0;
  int64_t batch = 0, epochs = 0; ///< 0 if unspecified
  int64_t classes = 0;           ///< labels lie in [0, classes); 0 if unknown
};

/// The optimizer of the next train steps (cnnc_optimizer_settings): what
/// each field means and which optimizers a model can run are documented
/// there.
struct OptimizerSettings {
  std::string name; // "sgd", "adam" or "adamw"
  double momentum = 0, dampening = 0, weightDecay = 0;
  bool nesterov = false;
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
};

/// What a train or eval step reports.
struct StepResult {
  float loss = 0;    ///< mean loss over the batch
  float correct = 0; ///< number of correctly classified items
};

/// A loaded model.so; move-only, unloaded on destruction.
class Model {
public:
  /// Loads the model library at `path`.
  explicit Model(const std::string &path) {
    cnnc_model *m = nullptr;
    check(cnnc_model_load(path.c_str(), &m));
    model_.reset(m);
  }

  /// The metadata's model name.
  std::string name() const { return cnnc_model_name(get()); }
  /// The Halide target the kernels were compiled for.
  std::string target() const { return cnnc_model_target(get()); }
  /// "cuda" or "opencl" for a GPU model, "" for a CPU model.
  std::string deviceApi() const { return cnnc_model_device_api(get()); }

  std::vector<TensorInfo> inputs() const { return tensors(CNNC_ROLE_INPUT); }
  std::vector<TensorInfo> outputs() const { return tensors(CNNC_ROLE_OUTPUT); }
  std::vector<TensorInfo> parameters() const { return tensors(CNNC_ROLE_PARAMETER); }

  /// The inference steps in execution order.
  std::vector<StepInfo> steps() const {
    std::vector<StepInfo> result;
    for (size_t i = 0, n = cnnc_model_num_steps(get()); i < n; ++i) {
      cnnc_step_info info;
      check(cnnc_model_get_step_info(get(), i, &info));
      result.push_back({info.name, info.flops});
    }
    return result;
  }

  /// Loads all parameters from a safetensors file; with `stripPrefix`
  /// (e.g. "module."), parameter NAME is read from the tensor stripPrefix + NAME.
  void loadParameters(const std::string &path, const std::string &stripPrefix = "") {
    check(cnnc_model_load_parameters_prefixed(get(), path.c_str(), stripPrefix.c_str()));
  }
  /// Whether model.so embeds parameter values (set when it is loaded).
  bool hasDefaultParameters() const { return cnnc_model_has_default_parameters(get()) != 0; }
  /// Sets every parameter again from the values model.so embeds.
  void loadDefaultParameters() { check(cnnc_model_load_default_parameters(get())); }
  /// Saves all parameters to a safetensors file.
  void saveParameters(const std::string &path) const {
    check(cnnc_model_save_parameters(get(), path.c_str()));
  }
  /// Sets one parameter; `data` must have exactly its element count.
  void setParameter(const std::string &name, const std::vector<float> &data) {
    check(cnnc_model_set_parameter(get(), name.c_str(), data.data(), data.size()));
  }
  /// Sets one parameter from an array of `shape`, which must be its shape
  /// exactly (e.g. an Array's data() and shape()).
  void setParameter(const std::string &name, const float *data, const std::vector<int64_t> &shape) {
    check(cnnc_model_set_parameter_shaped(get(), name.c_str(), data, int32_t(shape.size()),
                                          shape.data()));
  }
  /// Returns a copy of one parameter.
  std::vector<float> getParameter(const std::string &name) const {
    for (const TensorInfo &p : parameters())
      if (p.name == name) {
        std::vector<float> data(size_t(p.itemCount));
        check(cnnc_model_get_parameter(get(), name.c_str(), data.size(), data.data()));
        return data;
      }
    throw Error(CNNC_ERROR_INVALID_ARGUMENT, "the model has no parameter '" + name + "'");
  }
  /// Optimizer state tensors of a training model (empty otherwise).
  std::vector<TensorInfo> state() const { return tensors(CNNC_ROLE_STATE); }
  /// Returns a copy of one optimizer state tensor.
  std::vector<float> getState(const std::string &name) const {
    for (const TensorInfo &s : state())
      if (s.name == name) {
        std::vector<float> data(size_t(s.itemCount));
        check(cnnc_model_get_state(get(), name.c_str(), data.size(), data.data()));
        return data;
      }
    throw Error(CNNC_ERROR_INVALID_ARGUMENT, "the model has no state tensor '" + name + "'");
  }

  /// True if the model was compiled with training.
  bool hasTraining() const { return cnnc_model_has_training(get()) != 0; }
  /// The training defaults (throws for a model without training).
  TrainInfo trainInfo() const {
    cnnc_train_info info;
    check(cnnc_model_get_train_info(get(), &info));
    return {info.loss, info.optimizer, info.lr, info.batch, info.epochs, info.classes};
  }
  /// The optimizer settings of the next train step (the model file's after loading).
  OptimizerSettings optimizer() const {
    cnnc_optimizer_settings s;
    check(cnnc_model_get_optimizer(get(), &s));
    OptimizerSettings r;
    r.name = s.name;
    r.momentum = s.momentum;
    r.dampening = s.dampening;
    r.weightDecay = s.weight_decay;
    r.nesterov = s.nesterov != 0;
    r.beta1 = s.beta1;
    r.beta2 = s.beta2;
    r.epsilon = s.epsilon;
    return r;
  }
  /// Sets the optimizer of the following train steps; throws (changing
  /// nothing) for a bad value or one the compiled state cannot run.
  void setOptimizer(const OptimizerSettings &settings) {
    cnnc_optimizer_settings s;
    s.name = settings.name.c_str();
    s.momentum = settings.momentum;
    s.dampening = settings.dampening;
    s.weight_decay = settings.weightDecay;
    s.nesterov = settings.nesterov ? 1 : 0;
    s.beta1 = settings.beta1;
    s.beta2 = settings.beta2;
    s.epsilon = settings.epsilon;
    check(cnnc_model_set_optimizer(get(), &s));
  }
  /// Initializes parameters (PyTorch defaults, seeded), zeroes state and the step count.
  void initParameters(uint64_t seed) { check(cnnc_model_init_parameters(get(), seed)); }
  /// One train step: one pointer per input, `batch` labels, this step's learning rate.
  StepResult trainStep(int64_t batch, const std::vector<const float *> &inputs, const float *labels,
                       float lr) {
    checkCounts(inputs.size(), cnnc_model_num_tensors(get(), CNNC_ROLE_INPUT));
    StepResult r;
    check(cnnc_model_train_step(get(), batch, inputs.data(), labels, lr, &r.loss, &r.correct));
    return r;
  }
  /// A train step that also returns the wall time of each of its kernels
  /// (in the order of trainSteps()), for profiling.
  StepResult trainStepTimed(int64_t batch, const std::vector<const float *> &inputs,
                            const float *labels, float lr, std::vector<double> &stepMs) {
    checkCounts(inputs.size(), cnnc_model_num_tensors(get(), CNNC_ROLE_INPUT));
    stepMs.assign(cnnc_model_num_train_steps(get()), 0.0);
    StepResult r;
    check(cnnc_model_train_step_timed(get(), batch, inputs.data(), labels, lr, &r.loss, &r.correct,
                                      stepMs.data()));
    return r;
  }
  /// The kernels of one train step in execution order.
  std::vector<StepInfo> trainSteps() const {
    std::vector<StepInfo> result;
    for (size_t i = 0, n = cnnc_model_num_train_steps(get()); i < n; ++i) {
      cnnc_step_info info;
      check(cnnc_model_get_train_step_info(get(), i, &info));
      result.push_back({info.name, info.flops});
    }
    return result;
  }
  /// Convenience for a model with one input.
  StepResult trainStep(int64_t batch, const std::vector<float> &input,
                       const std::vector<float> &labels, float lr) {
    checkBatch(batch, input, labels);
    return trainStep(batch, std::vector<const float *>{input.data()}, labels.data(), lr);
  }
  /// Loss and correct count of one batch in inference mode; changes nothing.
  StepResult evaluate(int64_t batch, const std::vector<const float *> &inputs,
                      const float *labels) {
    checkCounts(inputs.size(), cnnc_model_num_tensors(get(), CNNC_ROLE_OUTPUT));
    StepResult r;
    check(cnnc_model_evaluate(get(), batch, inputs.data(), labels, &r.loss, &r.correct));
    return r;
  }
  /// Convenience for a model with one input.
  StepResult evaluate(int64_t batch, const std::vector<float> &input,
                      const std::vector<float> &labels) {
    checkBatch(batch, input, labels);
    return evaluate(batch, std::vector<const float *>{input.data()}, labels.data());
  }
  /// Cross-entropy label smoothing of the following train and eval steps,
  /// in [0, 1) (cnnc_model_set_label_smoothing); throws on a bad value.
  void setLabelSmoothing(double eps) { check(cnnc_model_set_label_smoothing(get(), float(eps))); }
  /// The label smoothing of the next step (the model file's after loading).
  double labelSmoothing() const {
    float eps = 0;
    check(cnnc_model_get_label_smoothing(get(), &eps));
    return eps;
  }
  /// Whether the train step computes the gradients' global norm (clipping).
  bool hasClipGradNorm() const { return cnnc_model_has_clip_grad_norm(get()) != 0; }
  /// Clips the gradients of the following train steps to this global norm
  /// (0: off; cnnc_model_set_clip_grad_norm); throws on a bad value or, for
  /// a non-zero one, a model compiled without clipping.
  void setClipGradNorm(double maxNorm) {
    check(cnnc_model_set_clip_grad_norm(get(), float(maxNorm)));
  }
  /// The max_norm of the next train step (0: no clipping).
  double clipGradNorm() const {
    float maxNorm = 0;
    check(cnnc_model_get_clip_grad_norm(get(), &maxNorm));
    return maxNorm;
  }
  /// Train steps taken since initialization.
  uint64_t stepCount() const { return cnnc_model_step_count(get()); }
  /// The seed of the last initialization or loaded checkpoint.
  uint64_t seed() const { return cnnc_model_seed(get()); }
  /// Writes a checkpoint (parameters, optimizer state, step count, seed).
  void save(const std::string &path) const {
    check(cnnc_model_save_checkpoint(get(), path.c_str()));
  }
  /// save() with an application's note (e.g. JSON of a trainer's state).
  void save(const std::string &path, const std::string &note) const {
    check(cnnc_model_save_checkpoint_with_note(get(), path.c_str(), note.c_str()));
  }
  /// Reads a checkpoint written by save().
  void load(const std::string &path) { check(cnnc_model_load_checkpoint(get(), path.c_str())); }
  /// The note of the checkpoint last read by load() ("" if none).
  std::string checkpointNote() const { return cnnc_model_checkpoint_note(get()); }

  /// Checks that an array of `shape` fits the tensor `name` of `role` (the
  /// same rank and dimensions; for a batched tensor, the batch `batch` if it
  /// is > 0, else any) and returns the array's batch (0 for an unbatched
  /// tensor). Throws naming both shapes.
  int64_t checkShape(cnnc_tensor_role role, const std::string &name,
                     const std::vector<int64_t> &shape, int64_t batch = 0) const {
    check(cnnc_model_check_shape(get(), role, name.c_str(), int32_t(shape.size()), shape.data(),
                                 &batch));
    return batch;
  }
  /// Checks the shapes of arrays for the model's inputs (one each, in
  /// order): each must be its input's shape with one batch size for all.
  /// Returns that batch (0 if no input is batched).
  int64_t checkInputShapes(const std::vector<std::vector<int64_t>> &shapes) const {
    std::vector<TensorInfo> in = inputs();
    if (shapes.size() != in.size())
      throw Error(CNNC_ERROR_INVALID_ARGUMENT, "the model has " + std::to_string(in.size()) +
                                                   " input(s), got " +
                                                   std::to_string(shapes.size()));
    int64_t batch = 0;
    for (size_t i = 0; i < in.size(); ++i)
      batch = checkShape(CNNC_ROLE_INPUT, in[i].name, shapes[i], batch);
    return batch;
  }

  /// Runs the prepare kernels now (otherwise done by the first run).
  void prepare() { check(cnnc_model_prepare(get())); }

  /// Allocates the internal buffers for `batch` items now (cnnc_model_reserve).
  void reserve(int64_t batch) { check(cnnc_model_reserve(get(), batch)); }

  /// Runs a batch: one pointer per input and output, in metadata order.
  void run(int64_t batch, const std::vector<const float *> &inputs,
           const std::vector<float *> &outputs) {
    checkCounts(inputs.size(), outputs.size());
    check(cnnc_model_run(get(), batch, inputs.data(), outputs.data()));
  }
  /// Runs a batch and returns the wall time of each step in milliseconds.
  std::vector<double> runTimed(int64_t batch, const std::vector<const float *> &inputs,
                               const std::vector<float *> &outputs) {
    checkCounts(inputs.size(), outputs.size());
    std::vector<double> ms(cnnc_model_num_steps(get()));
    check(cnnc_model_run_timed(get(), batch, inputs.data(), outputs.data(), ms.data()));
    return ms;
  }
  /// Convenience for a model with one input and one output.
  std::vector<float> run(int64_t batch, const std::vector<float> &input) {
    std::vector<TensorInfo> in = inputs(), out = outputs();
    if (in.size() != 1 || out.size() != 1)
      throw Error(CNNC_ERROR_INVALID_ARGUMENT,
                  "Model::run(batch, input) needs a model with one input and one output");
    if (batch >= 1 && int64_t(input.size()) != in[0].countFor(batch))
      throw Error(CNNC_ERROR_INVALID_ARGUMENT, "input '" + in[0].name + "' needs " +
                                                   std::to_string(in[0].countFor(batch)) +
                                                   " floats for batch " + std::to_string(batch) +
                                                   ", got " + std::to_string(input.size()));
    std::vector<float> result(size_t(batch >= 1 ? out[0].countFor(batch) : 0));
    run(batch, {input.data()}, {result.data()});
    return result;
  }

  /// The underlying C handle (still owned by this object).
  cnnc_model *get() const { return model_.get(); }

private:
  struct Deleter {
    void operator()(cnnc_model *m) const { cnnc_model_free(m); }
  };
  std::unique_ptr<cnnc_model, Deleter> model_;

  std::vector<TensorInfo> tensors(cnnc_tensor_role role) const {
    std::vector<TensorInfo> result;
    for (size_t i = 0, n = cnnc_model_num_tensors(get(), role); i < n; ++i) {
      cnnc_tensor_info info;
      check(cnnc_model_get_tensor_info(get(), role, i, &info));
      result.push_back({info.name, std::vector<int64_t>(info.shape, info.shape + info.rank),
                        info.item_count, info.batched != 0});
    }
    return result;
  }
  void checkBatch(int64_t batch, const std::vector<float> &input,
                  const std::vector<float> &labels) const {
    std::vector<TensorInfo> in = inputs();
    if (in.size() != 1)
      throw Error(CNNC_ERROR_INVALID_ARGUMENT, "this overload needs a model with one input");
    if (batch >= 1 &&
        (int64_t(input.size()) != in[0].countFor(batch) || int64_t(labels.size()) != batch))
      throw Error(CNNC_ERROR_INVALID_ARGUMENT, "batch " + std::to_string(batch) + " needs " +
                                                   std::to_string(in[0].countFor(batch)) +
                                                   " input floats and " + std::to_string(batch) +
                                                   " labels, got " + std::to_string(input.size()) +
                                                   " and " + std::to_string(labels.size()));
  }
  void checkCounts(size_t numInputs, size_t numOutputs) const {
    size_t wantIn = cnnc_model_num_tensors(get(), CNNC_ROLE_INPUT);
    size_t wantOut = cnnc_model_num_tensors(get(), CNNC_ROLE_OUTPUT);
    if (numInputs != wantIn || numOutputs != wantOut)
      throw Error(CNNC_ERROR_INVALID_ARGUMENT, "the model has " + std::to_string(wantIn) +
                                                   " inputs and " + std::to_string(wantOut) +
                                                   " outputs, got " + std::to_string(numInputs) +
                                                   " and " + std::to_string(numOutputs));
  }
};

/// One thread's execution context of a loaded CPU model (cnnc_session):
/// sessions of one model run at once on different threads, sharing its
/// parameters, which cannot change while a session is open. Move-only; may
/// outlive the Model it was created from (the model stays loaded).
///   cnnc::Session session(model); // in each serving thread
///   std::vector<float> y = session.run(batch, x);
class Session {
public:
  /// Opens a session of `model`, whose parameters must be set.
  explicit Session(Model &model) {
    cnnc_session *s = nullptr;
    check(cnnc_session_create(model.get(), &s));
    session_.reset(s);
  }

  /// Runs a batch: one pointer per input and output, in metadata order.
  void run(int64_t batch, const std::vector<const float *> &inputs,
           const std::vector<float *> &outputs) {
    const cnnc_model *m = cnnc_session_model(get());
    size_t wantIn = cnnc_model_num_tensors(m, CNNC_ROLE_INPUT);
    size_t wantOut = cnnc_model_num_tensors(m, CNNC_ROLE_OUTPUT);
    if (inputs.size() != wantIn || outputs.size() != wantOut)
      throw Error(CNNC_ERROR_INVALID_ARGUMENT,
                  "the model has " + std::to_string(wantIn) + " inputs and " +
                      std::to_string(wantOut) + " outputs, got " + std::to_string(inputs.size()) +
                      " and " + std::to_string(outputs.size()));
    check(cnnc_session_run(get(), batch, inputs.data(), outputs.data()));
  }
  /// Convenience for a model with one input and one output.
  std::vector<float> run(int64_t batch, const std::vector<float> &input) {
    const cnnc_model *m = cnnc_session_model(get());
    cnnc_tensor_info in, out;
    if (cnnc_model_num_tensors(m, CNNC_ROLE_INPUT) != 1 ||
        cnnc_model_num_tensors(m, CNNC_ROLE_OUTPUT) != 1)
      throw Error(CNNC_ERROR_INVALID_ARGUMENT,
                  "Session::run(batch, input) needs a model with one input and one output");
    check(cnnc_model_get_tensor_info(m, CNNC_ROLE_INPUT, 0, &in));
    check(cnnc_model_get_tensor_info(m, CNNC_ROLE_OUTPUT, 0, &out));
    auto countFor = [&](const cnnc_tensor_info &t) {
      return t.batched ? t.item_count * batch : t.item_count;
    };
    if (batch >= 1 && int64_t(input.size()) != countFor(in))
      throw Error(CNNC_ERROR_INVALID_ARGUMENT, std::string("input '") + in.name + "' needs " +
                                                   std::to_string(countFor(in)) +
                                                   " floats for batch " + std::to_string(batch) +
                                                   ", got " + std::to_string(input.size()));
    std::vector<float> result(size_t(batch >= 1 ? countFor(out) : 0));
    run(batch, {input.data()}, {result.data()});
    return result;
  }

  /// The underlying C handle (still owned by this object).
  cnnc_session *get() const { return session_.get(); }

private:
  struct Deleter {
    void operator()(cnnc_session *s) const { cnnc_session_free(s); }
  };
  std::unique_ptr<cnnc_session, Deleter> session_;
};

/// A float32 array read from a file (owns its data; move-only).
class Array {
public:
  Array() = default;
  Array(Array &&other) noexcept : a_(other.a_) { other.a_ = cnnc_array{}; }
  Array &operator=(Array &&other) noexcept {
    if (this != &other) {
      cnnc_array_free(&a_);
      a_ = other.a_;
      other.a_ = cnnc_array{};
    }
    return *this;
  }
  Array(const Array &) = delete;
  Array &operator=(const Array &) = delete;
  ~Array() { cnnc_array_free(&a_); }

  /// Reads a .npy file (little-endian float32, C order).
  static Array loadNpy(const std::string &path) {
    Array a;
    check(cnnc_npy_load(path.c_str(), &a.a_));
    return a;
  }
  /// Reads a numeric .npy file (float, integer or bool, C order) as float32;
  /// `dtype` receives the file's element type.
  static Array loadNpyNumeric(const std::string &path, cnnc_dtype &dtype) {
    Array a;
    check(cnnc_npy_load_numeric(path.c_str(), &a.a_, &dtype));
    return a;
  }
  /// Reads an unsigned-byte IDX file, gzipped or plain; values are 0..255.
  static Array loadIdx(const std::string &path) {
    Array a;
    check(cnnc_idx_load(path.c_str(), &a.a_));
    return a;
  }
  /// Writes `data` with `shape` as a .npy file.
  static void saveNpy(const std::string &path, const float *data,
                      const std::vector<int64_t> &shape) {
    check(cnnc_npy_save(path.c_str(), data, int32_t(shape.size()), shape.data()));
  }

  std::vector<int64_t> shape() const { return {a_.shape, a_.shape + a_.rank}; }
  int64_t count() const { return a_.count; }
  const float *data() const { return a_.data; }
  float *data() { return a_.data; }

private:
  cnnc_array a_{};
};

/// A labelled dataset in memory (move-only): items, float labels, an order.
class Dataset {
public:
  /// Reads IDX images (divided by 255) and labels; `limit` > 0 keeps the first `limit`.
  Dataset(const std::string &imagesPath, const std::string &labelsPath, int64_t limit = 0) {
    cnnc_dataset *d = nullptr;
    check(cnnc_dataset_load_idx(imagesPath.c_str(), labelsPath.c_str(), limit, &d));
    d_.reset(d);
  }
  int64_t size() const { return cnnc_dataset_size(d_.get()); }
  /// Floats per item.
  int64_t itemCount() const { return cnnc_dataset_item_count(d_.get()); }
  /// Sets the order to the permutation of (seed, epoch).
  void shuffle(uint64_t seed, uint64_t epoch) {
    check(cnnc_dataset_shuffle(d_.get(), seed, epoch));
  }
  /// Restores the file order.
  void resetOrder() { check(cnnc_dataset_reset_order(d_.get())); }
  /// Batches of `batchSize`, the last partial one included.
  int64_t numBatches(int64_t batchSize) const {
    return cnnc_dataset_num_batches(d_.get(), batchSize);
  }
  /// Copies batch `index` into items / labels (sized for batchSize); returns its item count.
  int64_t getBatch(int64_t index, int64_t batchSize, float *items, float *labels) const {
    int64_t count = 0;
    check(cnnc_dataset_get_batch(d_.get(), index, batchSize, items, labels, &count));
    return count;
  }

private:
  struct Deleter {
    void operator()(cnnc_dataset *d) const { cnnc_dataset_free(d); }
  };
  std::unique_ptr<cnnc_dataset, Deleter> d_;
};

/// A learning-rate schedule: "constant", "step:E:G" or "cosine".
class LrSchedule {
public:
  explicit LrSchedule(const std::string &spec = "constant") {
    check(cnnc_lr_schedule_parse(spec.c_str(), &s_));
  }
  /// The rate of 0-based step `step` in a run of `epochs` x `stepsPerEpoch`.
  double at(double baseLr, uint64_t step, int64_t stepsPerEpoch, int64_t epochs) const {
    double lr = 0;
    check(cnnc_lr_schedule_at(&s_, baseLr, step, stepsPerEpoch, epochs, &lr));
    return lr;
  }

private:
  cnnc_lr_schedule s_{};
};

} // namespace cnnc

#endif
