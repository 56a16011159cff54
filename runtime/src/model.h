//===- model.h - The loaded model: metadata, buffers and state --*- C++ -*-===//
//
// Defines struct cnnc_model, shared by the runtime's source files: what the
// metadata says (buffers, inputs, outputs, parameters, prepare kernels and
// steps; docs/runtime-abi.md), the library handle it came from, and the run
// state (storage, one persistent halide_buffer_t per metadata buffer, which
// parameters are set, whether `prepare` is current, the allocated batch).
// A buffer with `view_of` owns no storage: it aliases its root buffer's, in
// host memory and, for a GPU model, in device memory (device.h).
// A training model (metadata "train") adds optimizer state, the hyper-
// parameter, label and `next` buffers, the train and eval calls, the swaps,
// the step count, the seed and the optimizer settings of the next step.
// Every C API call that runs, reads or changes the run state holds the
// model's in-use flag for its duration (ModelCall); sessions (session.cpp)
// are execution contexts that share the parameters of one model.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_RUNTIME_SRC_MODEL_H
#define CNNC_RUNTIME_SRC_MODEL_H

#include "cnnc/model_abi.h"
#include "cnnc/runtime.h"

#include <HalideRuntime.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace cnnc::rt {

/// What a metadata buffer holds.
enum class BufferKind { Input, Param, Derived, Temp, Output, State, Hyper, Labels, Next };

/// One entry of the metadata's `buffers`.
struct BufferDesc {
  std::vector<int64_t> shape; ///< outermost first; -1 = batch
  BufferKind kind = BufferKind::Temp;
  int viewOf = -1;       ///< the buffer whose storage this one shares, or -1
  int root = -1;         ///< the buffer owning the storage (itself if not a view)
  int batchDim = -1;     ///< index of the -1 dimension in shape, or -1
  int64_t itemCount = 1; ///< elements per batch item (all elements if unbatched)
};

/// One entry of `inputs`, `outputs` or `parameters`.
struct TensorDesc {
  std::string name;
  std::vector<int64_t> shape;
  std::string layout;
  int buffer = -1;
  int64_t itemCount = 1;
  bool batched = false;
};

/// One entry of `prepare` or `steps`: a kernel call.
struct CallDesc {
  std::string name;
  int kernel = -1;
  std::vector<int> args;
  int64_t flops = 0;
  std::vector<void *> argPointers; ///< &halideBuffers[args[i]], fixed after load
};

/// One entry of train.init: how to initialize a parameter.
struct InitDesc {
  int parameter = -1;  ///< index into cnnc_model::parameters
  bool uniform = true; ///< uniform(-bound, bound), else the constant `value`
  double bound = 0;    ///< uniform: half-width
  double value = 0;    ///< constant: the value
};

/// The optimizer the update kernels run and its settings (PyTorch's
/// names and meanings; cnnc_optimizer_settings with an owned name).
struct OptimizerSettings {
  std::string name; ///< "sgd", "adam" or "adamw"
  double momentum = 0, dampening = 0, weightDecay = 0;
  bool nesterov = false;
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
};

/// The optimizer state the train step was compiled with, per parameter:
/// none (plain SGD), a momentum buffer (SGD with momentum), or Adam's two
/// moments (Adam or AdamW; runs SGD too, the buffer in `exp_avg`).
enum class StateForm { None, MomentumBuffer, AdamMoments };

/// Which rule last wrote the optimizer state: none since it was zeroed
/// (initialization, or a switch between the SGD and the Adam family), SGD's
/// momentum, or Adam's moments.
enum class StateUse { Fresh, Sgd, Adam };

/// The metadata's "train" object (docs/runtime-abi.md, "Training").
struct TrainDesc {
  bool present = false;
  std::string loss, optimizer;
  double lr = 0;
  OptimizerSettings defaults; ///< train.optimizer, the settings a loaded model starts with
  StateForm stateForm = StateForm::None;
  int64_t batch = 0, epochs = 0;
  int labels = -1; ///< the labels buffer
  // Hyper buffers (-1: absent): the runtime fills them before every step.
  int lrBuffer = -1, stepBuffer = -1, seedBuffer = -1;
  int optimizerBuffer = -1, weightDecayBuffer = -1, momentumBuffer = -1, dampeningBuffer = -1,
      nesterovBuffer = -1, beta1Buffer = -1, beta2Buffer = -1, epsilonBuffer = -1;
  int lossBuffer = -1, correctBuffer = -1;
  std::vector<TensorDesc> state;
  std::vector<InitDesc> init; ///< one per parameter, in parameter order
  std::vector<CallDesc> steps, evalSteps;
  std::vector<std::pair<int, int>> swaps; ///< [current, next]
  /// Label smoothing (a cross-entropy model's `label_smoothing` hyper
  /// buffer) and gradient clipping (`clip_grad_norm`, compiled in on
  /// request): the buffers (-1: absent) and the model file's defaults.
  int labelSmoothingBuffer = -1, clipGradNormBuffer = -1;
  double labelSmoothing = 0, clipGradNorm = 0;
};

/// 64-byte aligned float storage.
struct FreeDeleter {
  void operator()(float *p) const { std::free(p); }
};
using AlignedFloats = std::unique_ptr<float[], FreeDeleter>;

/// Allocates `count` zeroed floats aligned to 64 bytes; throws on failure.
AlignedFloats allocateFloats(int64_t count);

/// What a C API call does with a model, for ModelCall.
enum class ModelAccess {
  Use,              ///< runs it, reads or changes its run state or settings
  ChangeParameters, ///< changes its parameters: refused while sessions read them
};

/// Holds a model's in-use flag for one C API call: every entry point that
/// runs a model or reads or changes its run state takes one first. The flag
/// is taken by compare-exchange, never waited for: a call from a second
/// thread while one runs fails at once with CNNC_ERROR_BUSY, `fn` (the C
/// function) and the model named. ChangeParameters also fails while
/// sessions share the parameters. A null model is let through: the call
/// reports it itself.
class ModelCall {
public:
  ModelCall(const cnnc_model *model, const char *fn, ModelAccess access = ModelAccess::Use);
  ~ModelCall();
  ModelCall(const ModelCall &) = delete;
  ModelCall &operator=(const ModelCall &) = delete;

private:
  std::atomic<bool> *flag = nullptr;
};

/// Drops the caller's reference to `model` (cnnc_model_free) or a
/// session's; the last one deletes it (session.cpp).
void releaseModel(cnnc_model *model);

} // namespace cnnc::rt

/// The opaque model handle of the C API.
struct cnnc_model {
  // Where it came from.
  void *library = nullptr;
  const cnnc_model_desc *desc = nullptr;
  std::string path, name, target;
  /// The embedded Halide runtime's entry points (a copy of *desc->halide;
  /// all null if the model has none).
  cnnc_halide_runtime halide = {};
  /// "cuda" or "opencl" for a GPU model, "" for a CPU model.
  std::string deviceApi;
  /// The GPU model's Halide device interface; null for a CPU model.
  const halide_device_interface_t *deviceInterface = nullptr;

  // What the metadata says.
  std::vector<cnnc::rt::BufferDesc> buffers;
  std::vector<cnnc::rt::TensorDesc> inputs, outputs, parameters;
  std::vector<cnnc::rt::CallDesc> prepare, steps;
  cnnc::rt::TrainDesc train;

  // Run state.
  std::vector<cnnc::rt::AlignedFloats> storage; ///< host memory per root buffer
  std::vector<int64_t> storageCount;            ///< elements allocated per root
  std::vector<int64_t> deviceCount;             ///< elements of device memory per root
  std::vector<std::vector<int>> sharers;        ///< per root: itself and its views
  std::vector<halide_buffer_t> halideBuffers;   ///< one per metadata buffer
  std::vector<std::vector<halide_dimension_t>> dims;
  std::vector<bool> parameterSet;
  bool prepared = false;
  int64_t allocatedBatch = 0;
  uint64_t stepCount = 0; ///< train steps since initialization
  uint64_t seed = 0;      ///< of the last initialization (or checkpoint)
  /// The optimizer the next train step runs (train.defaults when loaded).
  cnnc::rt::OptimizerSettings optimizer;
  /// What the optimizer state holds, and how many steps wrote it since it
  /// was zeroed (Adam's bias-correction step t - 1; 0: a fresh momentum buffer).
  cnnc::rt::StateUse stateUse = cnnc::rt::StateUse::Fresh;
  uint64_t stateSteps = 0;
  std::string checkpointNote; ///< "cnnc_note" of the last checkpoint read
  /// Label smoothing and clipping's max_norm of the next train and eval
  /// steps (the defaults of `train` when loaded).
  float labelSmoothing = 0, clipGradNorm = 0;
  /// Per root buffer: true if no call of this model reads or writes it, so
  /// it gets no memory (a session's training buffers); empty: all are used.
  std::vector<bool> unused;

  // Concurrency (ModelCall, session.cpp).
  /// Set while a C API call runs on the model.
  mutable std::atomic<bool> inUse{false};
  /// Open sessions sharing the parameters.
  std::atomic<int> sessions{0};
  /// The caller's handle (until cnnc_model_free) plus one per session: the
  /// model is deleted when the last one goes.
  std::atomic<int> references{1};

  /// True for a GPU model: its buffers live in device memory.
  bool onDevice() const { return deviceInterface != nullptr; }

  ~cnnc_model();
};

namespace cnnc::rt {

/// Parses and validates `json` into `model` (buffers, tensors, calls).
void parseMetadata(cnnc_model &model, const std::string &json);

/// Allocates the unbatched buffers and sets up the halide_buffer_t array.
void initBuffers(cnnc_model &model);

/// Sets up `session`, a copy of `model`'s metadata with no run state yet, as
/// an execution context of its own: storage for the inputs, temporaries and
/// outputs of the inference steps (batched ones on first run), the
/// parameter and derived buffers pointing at `model`'s storage, read only,
/// and nothing for the training buffers.
void initSessionBuffers(cnnc_model &session, const cnnc_model &model);

/// Runs the inference steps of `model` (a model or a session's context)
/// for `batch` items; `fn` names the C function in argument errors.
void runModel(cnnc_model &model, const char *fn, int64_t batch, const float *const *inputs,
              float *const *outputs, double *stepMs);

/// For tests: the largest host allocation (bytes) ensureBatch makes before
/// failing as if memory had run out; 0 (the default) for no limit.
void setHostAllocationLimit(size_t bytes);

/// Index of the parameter named `name`, or -1.
int findParameter(const cnnc_model &model, const std::string &name);

/// Sets every parameter from the values the model.so embeds, if it embeds
/// any (parameters.cpp).
void loadDefaultParameters(cnnc_model &model);

/// Checks that an array of `shape` (`rank` entries) fits tensor `t`, a
/// `role` ("input", "parameter"...): the same rank and dimensions, the
/// batch dimension (-1) equal to *batch if that is > 0. Fails with
/// CNNC_ERROR_INVALID_ARGUMENT naming both shapes. A batched tensor's batch
/// (at least 1) is stored in *batch if `batch` is not null.
void checkArrayShape(const TensorDesc &t, const char *role, int32_t rank, const int64_t *shape,
                     int64_t *batch);

/// Marks that the host copy of root buffer `root` changed (all of it), so a
/// GPU model uploads it before a kernel reads it.
void markHostWritten(cnnc_model &model, int root);

/// The host copy of root buffer `root`, brought up to date first (a GPU
/// model copies it from the device if a kernel changed it since). Only
/// unbatched roots have host memory in a GPU model.
const float *currentHostData(const cnnc_model &model, int root);

/// Index of the state tensor named `name`, or -1.
int findState(const cnnc_model &model, const std::string &name);

/// Fails (CNNC_ERROR_INVALID_ARGUMENT, naming `fn`) unless `model` is a
/// non-null model compiled with training (train.cpp).
void requireTraining(const cnnc_model *model, const char *fn);

/// Why `model` cannot run the optimizer `s` (a value out of range, a
/// combination torch.optim refuses, or a rule its compiled state cannot
/// hold), as a sentence; empty if it can (optimizer.cpp).
std::string optimizerProblem(const cnnc_model &model, const OptimizerSettings &s);

/// Fills the optimizer's hyper buffers for the next train step, first
/// zeroing the state if the step switches between the SGD and the Adam
/// family; `noteStep` records that the step ran (optimizer.cpp).
void prepareOptimizerStep(cnnc_model &model);
void noteOptimizerStep(cnnc_model &model);

/// The optimizer settings and state use as a checkpoint records them (JSON
/// text), and back: `parseOptimizerRecord` validates everything and fails
/// with CNNC_ERROR_FORMAT naming `path` (optimizer.cpp).
std::string optimizerRecord(const cnnc_model &model);
void parseOptimizerRecord(const cnnc_model &model, const std::string &path, const std::string &text,
                          OptimizerSettings &settings, StateUse &use, uint64_t &stateSteps);

/// Sets a hyper-parameter scalar (absent: buffer -1, nothing to do); a GPU
/// model uploads it only if it changed (train.cpp).
void setHyper(cnnc_model &model, int buffer, float value);

/// Makes the batched buffers hold `batch` items (reusing larger storage).
void ensureBatch(cnnc_model &model, int64_t batch);

/// Calls one kernel; with `ms`, stores its wall time in milliseconds (a GPU
/// model waits for the device before and after it). For a GPU model, first
/// uploads any argument the host changed; the kernel's results stay on the
/// device.
void callKernel(cnnc_model &model, CallDesc &call, const char *phase, double *ms = nullptr);

/// Calls `calls` in order; with `stepMs`, stores each one's wall time in ms
/// (a GPU model then waits for the device around each call).
void callKernels(cnnc_model &model, std::vector<CallDesc> &calls, const char *phase,
                 double *stepMs);

/// Fails unless every parameter has been set.
void checkParametersSet(const cnnc_model &model);

/// Runs the prepare kernels and marks the model prepared.
void prepareModel(cnnc_model &model);

/// Points a buffer (and every view of its storage) at caller memory for one
/// call. Only a root buffer of a CPU model is bound; a buffer bound once
/// stays bound (an input that is also an output keeps the input's memory).
/// The destructor restores the model's own storage. A GPU model binds
/// nothing: inputs are copied to the device and outputs from it.
class HostBinding {
public:
  explicit HostBinding(cnnc_model &model) : model(model) {}
  ~HostBinding();
  HostBinding(const HostBinding &) = delete;
  HostBinding &operator=(const HostBinding &) = delete;
  /// Binds `buffer` to `data`; false if it must be copied instead.
  bool bind(int buffer, float *data);
  /// Binds `buffer` to `data`, or copies `count` floats into its storage
  /// (a GPU model: into its device memory).
  void bindOrCopy(int buffer, const float *data, int64_t count);

private:
  void point(int root, uint8_t *host);
  cnnc_model &model;
  std::vector<int> bound;
};

/// The splitmix64 generator (Steele, Lea, Flood 2014): the runtime's one
/// source of pseudo-random numbers, portable and independent of the C++
/// library. `next()` advances the state by 0x9E3779B97F4A7C15 and mixes it.
struct SplitMix64 {
  uint64_t state;
  explicit SplitMix64(uint64_t seed) : state(seed) {}
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  /// A double uniform in [0, 1) with 53 random bits.
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
  /// An integer uniform in [0, n) (n >= 1), by rejection (no modulo bias).
  uint64_t below(uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
      x = next();
    while (x >= limit);
    return x % n;
  }
};

} // namespace cnnc::rt

#endif
