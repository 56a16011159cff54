/* cnnc runtime: the C API for loading and running a compiled model.so.
 *
 * A model is loaded from a model.so built by `cnnc` (entry point and metadata:
 * cnnc/model_abi.h, docs/runtime-abi.md), given its parameters (from a
 * safetensors file or one by one) and run on batches of any size. Every
 * function returns a cnnc_status; on failure the calling thread's
 * cnnc_last_error() names the problem. Outputs come last and are named out_*.
 * No C++ types or exceptions cross this API; cnnc/runtime.hpp wraps it with
 * RAII for C++ callers. A cnnc_model runs one call at a time: a call made
 * while another thread's call on the same model runs fails at once with
 * CNNC_ERROR_BUSY. To serve several threads with one copy of a CPU model's
 * weights, give each thread a cnnc_session (one execution context sharing
 * the model's parameters, read only). Different models may be used from
 * different threads at once (docs/runtime.md, "Threads"). All tensors are
 * float32, dense, row-major (C order). A model
 * compiled for a GPU (CUDA or OpenCL) keeps its parameters, optimizer state
 * and activations in device memory; only the caller's inputs and outputs,
 * and what the caller reads or writes by name, cross (docs/runtime.md,
 * "Device model").
 * Models compiled with training also train: parameter initialization, a
 * train step, evaluation, checkpoints; datasets and learning-rate schedules
 * for the training loop are here too.
 * Documentation: docs/runtime.md. */
#ifndef CNNC_RUNTIME_H
#define CNNC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Result of every runtime call. Anything but CNNC_OK sets cnnc_last_error(). */
typedef enum cnnc_status {
  CNNC_OK = 0,
  CNNC_ERROR_INVALID_ARGUMENT = 1, /**< bad argument: null pointer, batch < 1, unknown name, size */
  CNNC_ERROR_IO = 2,               /**< a file is missing or cannot be read or written */
  CNNC_ERROR_FORMAT = 3,           /**< a file is malformed: not a library, bad JSON, truncated */
  CNNC_ERROR_ABI = 4,              /**< missing entry point or ABI version mismatch */
  CNNC_ERROR_PARAMETER = 5,        /**< a parameter is missing, mis-shaped or of the wrong dtype */
  CNNC_ERROR_KERNEL = 6,           /**< a kernel returned a nonzero code */
  CNNC_ERROR_OUT_OF_MEMORY = 7,    /**< host or device memory ran out, or a buffer is too large */
  CNNC_ERROR_DEVICE = 8,           /**< a GPU model's driver or device is missing or failed */
  CNNC_ERROR_BUSY = 9 /**< the model or session is in use by a call on another thread */
} cnnc_status;

/** The message of the last failed call on this thread ("" if none). The
 * pointer stays valid until the next runtime call on this thread. */
const char *cnnc_last_error(void);

/** A short name for a status, e.g. "format error". Never null. */
const char *cnnc_status_string(cnnc_status status);

/* ---------------------------------------------------------------- models */

/** An opaque loaded model: the library handle, its metadata and buffers. */
typedef struct cnnc_model cnnc_model;

/** Which list of tensors cnnc_model_get_tensor_info indexes. */
typedef enum cnnc_tensor_role {
  CNNC_ROLE_INPUT = 0,
  CNNC_ROLE_OUTPUT = 1,
  CNNC_ROLE_PARAMETER = 2,
  CNNC_ROLE_STATE = 3 /**< optimizer state of a training model (see cnnc_model_has_training) */
} cnnc_tensor_role;

/** Description of an input, output or parameter. The pointers stay valid
 * for the life of the model. shape[i] == -1 marks the batch dimension. */
typedef struct cnnc_tensor_info {
  const char *name;
  int32_t rank;
  const int64_t *shape; /**< rank entries, outermost first */
  int64_t item_count;   /**< elements per batch item (all elements if unbatched) */
  int32_t batched;      /**< 1 if one dimension is the batch (-1) dimension */
} cnnc_tensor_info;

/** Description of one inference step (a kernel call). */
typedef struct cnnc_step_info {
  const char *name;
  int64_t flops; /**< floating-point operations per batch item */
} cnnc_step_info;

/** Loads `path` (dlopen RTLD_NOW|RTLD_LOCAL), checks its ABI version and
 * parses its metadata. On success *out_model owns the library; release it
 * with cnnc_model_free. A path without '/' is taken relative to the
 * current directory, not searched for. A GPU model also needs its driver
 * and a device (CNNC_ERROR_DEVICE otherwise, naming what is missing) and
 * gets device memory for its parameters and state here. */
cnnc_status cnnc_model_load(const char *path, cnnc_model **out_model);

/** Frees a model and unloads its library. Null is allowed. A model with
 * open sessions stays loaded until the last of them is freed. Not to be
 * called while another thread's call on the model runs. */
void cnnc_model_free(cnnc_model *model);

/** The model's name from its metadata ("" if none). */
const char *cnnc_model_name(const cnnc_model *model);

/** The Halide target string the model was compiled for ("" if none). */
const char *cnnc_model_target(const cnnc_model *model);

/** The GPU API the model's kernels run on: "cuda" or "opencl", or "" for a
 * CPU model (and for null). */
const char *cnnc_model_device_api(const cnnc_model *model);

/** The number of inputs, outputs or parameters (0 for a null model). */
size_t cnnc_model_num_tensors(const cnnc_model *model, cnnc_tensor_role role);

/** Describes the index-th tensor of a role, in metadata (graph) order. */
cnnc_status cnnc_model_get_tensor_info(const cnnc_model *model, cnnc_tensor_role role, size_t index,
                                       cnnc_tensor_info *out_info);

/** Checks that an array of `shape` (rank entries) fits the tensor `name` of
 * `role`: the same rank and the same dimensions, the batch dimension (-1)
 * matching any size >= 1. For a batched tensor, a *inout_batch > 0 is the
 * batch the array must have (that of an earlier input), and otherwise the
 * array's batch is stored there (inout_batch may be null). A mismatch is
 * CNNC_ERROR_INVALID_ARGUMENT naming both shapes, e.g. "input 'input' needs
 * shape [2,1,28,28] for batch 2, got [2,28,28,1]". For callers that hold
 * arrays with shapes (cnnc_model_run takes bare pointers). */
cnnc_status cnnc_model_check_shape(const cnnc_model *model, cnnc_tensor_role role, const char *name,
                                   int32_t rank, const int64_t *shape, int64_t *inout_batch);

/** The number of inference steps. */
size_t cnnc_model_num_steps(const cnnc_model *model);

/** Describes the index-th step. */
cnnc_status cnnc_model_get_step_info(const cnnc_model *model, size_t index,
                                     cnnc_step_info *out_info);

/* ------------------------------------------------------------ parameters */

/** Loads every model parameter from a safetensors file. Tensors the model
 * does not have are ignored (whatever their dtype); every parameter must be
 * present as F32 with exactly the expected shape. On failure no parameter
 * is changed. A missing parameter's message names the file's nearest
 * tensor names, and the prefix every parameter has in the file if there is
 * one (e.g. "module."). A file of another format (a torch.save checkpoint,
 * a pickle, NumPy, ONNX) is named as such (CNNC_ERROR_FORMAT). */
cnnc_status cnnc_model_load_parameters(cnnc_model *model, const char *path);

/** cnnc_model_load_parameters reading parameter NAME from the file's tensor
 * strip_prefix + NAME (e.g. "module." for a torch.nn.DataParallel
 * state_dict); tensors without the prefix are ignored. A null or empty
 * strip_prefix is cnnc_model_load_parameters. */
cnnc_status cnnc_model_load_parameters_prefixed(cnnc_model *model, const char *path,
                                                const char *strip_prefix);

/** 1 if the model.so embeds values for its parameters (an ONNX model's
 * initializers, `cnnc --embed-weights`), else 0. cnnc_model_load sets the
 * parameters from them. */
int cnnc_model_has_default_parameters(const cnnc_model *model);

/** Sets every parameter again from the values the model.so embeds; fails for
 * a model without them. */
cnnc_status cnnc_model_load_default_parameters(cnnc_model *model);

/** Writes every parameter to a safetensors file (F32, metadata names and
 * order). Fails if a parameter has not been set. */
cnnc_status cnnc_model_save_parameters(const cnnc_model *model, const char *path);

/** Sets one parameter from `count` floats (count must equal its element count). */
cnnc_status cnnc_model_set_parameter(cnnc_model *model, const char *name, const float *data,
                                     size_t count);

/** Sets one parameter from an array of `shape` (rank entries), which must be
 * the parameter's shape exactly: an array of the right element count but
 * another layout (e.g. [3, 3, 1, 32] for [32, 1, 3, 3]) is refused with
 * both shapes in the message. */
cnnc_status cnnc_model_set_parameter_shaped(cnnc_model *model, const char *name, const float *data,
                                            int32_t rank, const int64_t *shape);

/** Copies one parameter (which must have been set) into out_data[0..count). */
cnnc_status cnnc_model_get_parameter(const cnnc_model *model, const char *name, size_t count,
                                     float *out_data);

/** Runs the `prepare` kernels now. cnnc_model_run does it on its own when
 * parameters changed; this is for callers who want it out of the timing.
 * With sessions open the parameters are prepared already: nothing runs. */
cnnc_status cnnc_model_prepare(cnnc_model *model);

/* ------------------------------------------------------------- execution */

/** Allocates the internal buffers for `batch` items (>= 1) now, as the
 * first run, train step or evaluation of that batch would: a batch whose
 * buffers exceed the kernels' 32-bit extents, or that memory cannot hold,
 * fails here (CNNC_ERROR_INVALID_ARGUMENT or CNNC_ERROR_OUT_OF_MEMORY, naming
 * the buffer, its size and the batch) before the caller prepares its data. */
cnnc_status cnnc_model_reserve(cnnc_model *model, int64_t batch);

/** Runs every step for `batch` items (>= 1). inputs[i] holds batch *
 * item_count floats of input i, outputs[i] receives those of output i (both
 * in metadata order). Internal buffers are allocated when the batch size
 * grows past what is allocated. Returns when the outputs are written (for a
 * GPU model: copied from the device). */
cnnc_status cnnc_model_run(cnnc_model *model, int64_t batch, const float *const *inputs,
                           float *const *outputs);

/** Like cnnc_model_run, and stores the wall time of each step, in
 * milliseconds, in out_step_ms[0..cnnc_model_num_steps). For a GPU model
 * it waits for the device before and after each step, so the times are the
 * kernels' own (and the whole call is slower than cnnc_model_run). */
cnnc_status cnnc_model_run_timed(cnnc_model *model, int64_t batch, const float *const *inputs,
                                 float *const *outputs, double *out_step_ms);

/* -------------------------------------------------------------- sessions */

/** An execution context of a loaded CPU model for one thread: its own
 * buffers for the inputs, temporaries and outputs of the inference steps,
 * the model's parameters shared, read only. Each of several threads runs
 * its own session of one model at once. */
typedef struct cnnc_session cnnc_session;

/** Opens a session of `model`, whose parameters must all be set; runs the
 * `prepare` kernels first if the parameters changed. Until the last session
 * of a model is freed, the calls that would change its parameters
 * (cnnc_model_set_parameter*, cnnc_model_load_parameters*,
 * cnnc_model_load_default_parameters, cnnc_model_init_parameters,
 * cnnc_model_train_step*, cnnc_model_load_checkpoint) fail with
 * CNNC_ERROR_BUSY; the model's other calls work as before. The session
 * allocates its unbatched temporaries here and its batched buffers on its
 * first run of a larger batch. Opening a session is a call on the model:
 * CNNC_ERROR_BUSY while another thread's call on it runs, so open the
 * sessions before the threads start. A GPU model has no sessions
 * (CNNC_ERROR_INVALID_ARGUMENT): use one model per thread. */
cnnc_status cnnc_session_create(cnnc_model *model, cnnc_session **out_session);

/** Frees a session (null is allowed), and its model if the model was freed
 * before it. */
void cnnc_session_free(cnnc_session *session);

/** cnnc_model_run on the session's own buffers: the same inputs and outputs
 * (metadata order, batch * item_count floats each). A session runs one call
 * at a time (CNNC_ERROR_BUSY for a second thread's); sessions of the same
 * model run at once, and at the same time as calls on the model itself. */
cnnc_status cnnc_session_run(cnnc_session *session, int64_t batch, const float *const *inputs,
                             float *const *outputs);

/** The model a session runs (null for null); valid while the session is
 * open, even after cnnc_model_free. For its tensor descriptions. */
const cnnc_model *cnnc_session_model(const cnnc_session *session);

/* -------------------------------------------------------------- training */

/** The defaults of a training model (the model file's `train:` section). The
 * strings stay valid for the life of the model. */
typedef struct cnnc_train_info {
  const char *loss;      /**< e.g. "softmax_cross_entropy" */
  const char *optimizer; /**< compiled default: "sgd", "adam" or "adamw" */
  double lr;             /**< default learning rate */
  int64_t batch;         /**< default batch size (0 if unspecified) */
  int64_t epochs;        /**< default number of epochs (0 if unspecified) */
  int64_t classes;       /**< labels must lie in [0, classes); 0 if unknown */
} cnnc_train_info;

/** 1 if the model was compiled with training (its metadata has "train"), else 0. */
int cnnc_model_has_training(const cnnc_model *model);

/** Describes the training defaults; fails for a model without training. */
cnnc_status cnnc_model_get_train_info(const cnnc_model *model, cnnc_train_info *out_info);

/** The optimizer of the next train steps, with torch.optim's names and
 * meanings (SGD, Adam, AdamW). The update kernels read every setting at run
 * time; the model fixes only the state it keeps per parameter, and so which
 * optimizers it can run: compiled with adam or adamw (two state tensors),
 * any of sgd, adam and adamw; with sgd and a momentum (one, the momentum
 * buffer), sgd with any momentum >= 0, Nesterov or not; with plain sgd (no
 * state), sgd without momentum (any weight decay). Fields a rule does not
 * use are kept for a later switch. */
typedef struct cnnc_optimizer_settings {
  const char *name;    /**< "sgd", "adam" or "adamw" */
  double momentum;     /**< sgd: momentum factor, >= 0 (0: none) */
  double dampening;    /**< sgd: dampening of the momentum, in [0, 1] */
  double weight_decay; /**< >= 0: L2 penalty added to the gradient (sgd, adam) or
                            decoupled decay p -= lr * weight_decay * p (adamw) */
  int32_t nesterov;    /**< sgd: nonzero for Nesterov momentum (needs momentum > 0 and
                            dampening 0) */
  double beta1, beta2; /**< adam, adamw: decay rates of the moments, in [0, 1) */
  double epsilon;      /**< adam, adamw: added to the denominator, > 0 */
} cnnc_optimizer_settings;

/** The optimizer settings of the next train step: after loading, the model
 * file's (cnnc_train_info.optimizer and its options; PyTorch's defaults for
 * the options of the other family). `name` points to a static string. */
cnnc_status cnnc_model_get_optimizer(const cnnc_model *model,
                                     cnnc_optimizer_settings *out_settings);

/** Sets the optimizer of the following train steps (kept until set again or
 * a checkpoint is loaded; cnnc_model_init_parameters keeps it). Every field
 * is validated as torch.optim does (momentum, weight_decay >= 0, dampening
 * in [0, 1], betas in [0, 1), epsilon > 0, Nesterov only with a momentum
 * and no dampening) and against the model's compiled state; on failure the
 * message says what the state holds and how to compile a model that can,
 * and nothing changes. Setting resets nothing. The optimizer state follows
 * PyTorch: a step that stays within the SGD family (sgd) or the Adam family
 * (adam, adamw) keeps it, as changing a torch optimizer's param_groups does;
 * the first step of the other family starts from zeroed state, as a new
 * torch.optim optimizer would (Adam's bias correction from step 1; a new
 * momentum buffer takes the first gradient undampened). */
cnnc_status cnnc_model_set_optimizer(cnnc_model *model, const cnnc_optimizer_settings *settings);

/** Initializes every parameter as the metadata's "init" list says (PyTorch's
 * defaults: uniform in [-bound, bound] or a constant), zeroes the optimizer
 * state and sets the step count to 0. Reproducible: the values depend only
 * on `seed` and the parameter's name (splitmix64 stream per parameter,
 * docs/runtime.md). The seed is kept to derive per-step seeds (dropout). */
cnnc_status cnnc_model_init_parameters(cnnc_model *model, uint64_t seed);

/** One training step on `batch` (>= 1) items: forward, loss, backward and
 * optimizer update (cnnc_model_set_optimizer's), all in the model's kernels. inputs[i] holds batch
 * * item_count floats of input i; labels holds `batch` class indices as floats (integers in [0,
 * classes)). `lr` is this step's learning rate. Stores the mean loss over the batch and the number
 * of correctly classified items. Increments the step count; the next inference re-runs `prepare`.
 * On a kernel failure the parameters and state are unchanged (but for a state zeroed by a switch of
 * optimizer family, see cnnc_model_set_optimizer). Returns when the loss and count are read (for a
 * GPU model: copied from the device). */
cnnc_status cnnc_model_train_step(cnnc_model *model, int64_t batch, const float *const *inputs,
                                  const float *labels, float lr, float *out_loss,
                                  float *out_correct);

/** cnnc_model_train_step that also stores the wall time of each kernel of
 * the step in out_step_ms (cnnc_model_num_train_steps entries), for
 * profiling; a GPU model waits for the device around each kernel. */
cnnc_status cnnc_model_train_step_timed(cnnc_model *model, int64_t batch,
                                        const float *const *inputs, const float *labels, float lr,
                                        float *out_loss, float *out_correct, double *out_step_ms);

/** The number of kernels of one train step (0 without training). */
size_t cnnc_model_num_train_steps(const cnnc_model *model);

/** Name and FLOP count per batch item of the train step's kernel `index`. */
cnnc_status cnnc_model_get_train_step_info(const cnnc_model *model, size_t index,
                                           cnnc_step_info *out_info);

/** Evaluates one batch in inference mode (running `prepare` first if the
 * parameters changed): stores the mean loss and the number of correctly
 * classified items. Changes no parameter or state. */
cnnc_status cnnc_model_evaluate(cnnc_model *model, int64_t batch, const float *const *inputs,
                                const float *labels, float *out_loss, float *out_correct);

/** Label smoothing of the cross-entropy loss in the following train and
 * eval steps, as PyTorch's `cross_entropy(..., label_smoothing=eps)`: the
 * target is (1 - eps) * onehot + eps / classes, in the gradient and in the
 * reported loss (of evaluation too, as PyTorch's criterion reports it).
 * eps must be in [0, 1); a model with the mse loss accepts only 0. A loaded
 * model starts with its model file's `train: {label_smoothing: ...}` (0 if
 * none). Not stored in checkpoints. */
cnnc_status cnnc_model_set_label_smoothing(cnnc_model *model, float eps);
cnnc_status cnnc_model_get_label_smoothing(const cnnc_model *model, float *out_eps);

/** 1 if the model's train step computes the gradients' global norm (it was
 * compiled with `train: {clip_grad_norm: ...}` or cnnc --clip-grad-norm),
 * else 0. */
int cnnc_model_has_clip_grad_norm(const cnnc_model *model);

/** Gradient clipping by the global norm in the following train steps, as
 * torch.nn.utils.clip_grad_norm_(parameters, max_norm) before the optimizer
 * step: every gradient is multiplied by min(1, max_norm / (norm + 1e-6)),
 * norm = sqrt(sum of all gradients' squares); weight decay applies after.
 * max_norm must be finite and >= 0; 0 turns clipping off. A non-zero
 * max_norm on a model compiled without clipping is an error that says how
 * to compile it in. A loaded model starts with the model file's max_norm
 * (0 if none). Not stored in checkpoints. */
cnnc_status cnnc_model_set_clip_grad_norm(cnnc_model *model, float max_norm);
cnnc_status cnnc_model_get_clip_grad_norm(const cnnc_model *model, float *out_max_norm);

/** The number of train steps taken since initialization (kept in checkpoints). */
uint64_t cnnc_model_step_count(const cnnc_model *model);

/** The seed of the last initialization or loaded checkpoint (0 for null). */
uint64_t cnnc_model_seed(const cnnc_model *model);

/** Copies one optimizer state tensor (see CNNC_ROLE_STATE) into out_data[0..count). */
cnnc_status cnnc_model_get_state(const cnnc_model *model, const char *name, size_t count,
                                 float *out_data);

/** Writes a checkpoint: safetensors with every parameter and state tensor
 * (F32, by name) and __metadata__ {"format": "cnnc-checkpoint-1",
 * "cnnc_step": "<step count>", "cnnc_seed": "<seed>", "cnnc_optimizer":
 * "<the optimizer settings and what the state holds, as JSON>"}. Written to
 * `<path>.tmp-<pid>`, flushed, fsync'ed and renamed over `path`, so a crash
 * leaves either the old file or the new one, never a broken one. */
cnnc_status cnnc_model_save_checkpoint(const cnnc_model *model, const char *path);

/** Reads a checkpoint written by cnnc_model_save_checkpoint: parameters,
 * state, step count, seed and optimizer settings (a checkpoint without
 * them, from an older runtime, keeps the model's current settings).
 * Everything is validated and read before anything changes; a missing or
 * mis-shaped tensor, a wrong dtype, a truncated file, bad optimizer settings
 * or a file that is not a checkpoint (no "cnnc_step", e.g. a parameters-only
 * file) is a clear error and leaves the model as it was. */
cnnc_status cnnc_model_load_checkpoint(cnnc_model *model, const char *path);

/** cnnc_model_save_checkpoint with an application's note: any UTF-8 text
 * (e.g. JSON of a trainer's own state: data order, early-stopping counters)
 * stored in the checkpoint's __metadata__ as "cnnc_note". Null or "" stores
 * none. */
cnnc_status cnnc_model_save_checkpoint_with_note(const cnnc_model *model, const char *path,
                                                 const char *note);

/** The note of the checkpoint last read by cnnc_model_load_checkpoint ("" if
 * it had none or no checkpoint was read); valid until the next load or free. */
const char *cnnc_model_checkpoint_note(const cnnc_model *model);

/* -------------------------------------------------------------- datasets */

/** An in-memory labelled dataset: `size` items of `item_count` floats each,
 * one float label per item, and a current order (a permutation). */
typedef struct cnnc_dataset cnnc_dataset;

/** Reads an IDX image file and an IDX label file (unsigned bytes, gzipped or
 * plain, e.g. MNIST / Fashion-MNIST). Pixels are divided by 255; the first
 * dimension is the item count, the rest the item shape. `limit` > 0 keeps
 * only the first `limit` items (0: all). The order starts as the file order. */
cnnc_status cnnc_dataset_load_idx(const char *images_path, const char *labels_path, int64_t limit,
                                  cnnc_dataset **out_dataset);

/** Frees a dataset. Null is allowed. */
void cnnc_dataset_free(cnnc_dataset *dataset);

/** The number of items (0 for null). */
int64_t cnnc_dataset_size(const cnnc_dataset *dataset);

/** Floats per item (e.g. 784 for 28x28 images; 0 for null). */
int64_t cnnc_dataset_item_count(const cnnc_dataset *dataset);

/** Sets the order to a permutation that depends only on (seed, epoch):
 * Fisher-Yates over the identity, driven by splitmix64. */
cnnc_status cnnc_dataset_shuffle(cnnc_dataset *dataset, uint64_t seed, uint64_t epoch);

/** Restores the file order. */
cnnc_status cnnc_dataset_reset_order(cnnc_dataset *dataset);

/** The number of batches of `batch_size` items, the last partial one included. */
int64_t cnnc_dataset_num_batches(const cnnc_dataset *dataset, int64_t batch_size);

/** Copies batch `index` (of batches of `batch_size` in the current order)
 * into out_items (batch_size * item_count floats) and out_labels
 * (batch_size floats); *out_count receives the items in it (the last batch
 * may be partial). */
cnnc_status cnnc_dataset_get_batch(const cnnc_dataset *dataset, int64_t index, int64_t batch_size,
                                   float *out_items, float *out_labels, int64_t *out_count);

/* ---------------------------------------------------- learning-rate schedules */

/** A learning-rate schedule: CNNC_LR_CONSTANT, CNNC_LR_STEP (multiply by
 * gamma every step_epochs epochs) or CNNC_LR_COSINE (cosine annealing from
 * the base rate to 0 over all steps of the run). */
typedef enum cnnc_lr_kind {
  CNNC_LR_CONSTANT = 0,
  CNNC_LR_STEP = 1,
  CNNC_LR_COSINE = 2
} cnnc_lr_kind;

typedef struct cnnc_lr_schedule {
  cnnc_lr_kind kind;
  int64_t step_epochs; /**< CNNC_LR_STEP: epochs between decays (>= 1) */
  double gamma;        /**< CNNC_LR_STEP: the decay factor */
} cnnc_lr_schedule;

/** Parses "constant", "step:E:G" (e.g. "step:2:0.5") or "cosine". */
cnnc_status cnnc_lr_schedule_parse(const char *spec, cnnc_lr_schedule *out_schedule);

/** The learning rate of the train step numbered `step` (0-based, i.e. the
 * step count before it) in a run of `epochs` epochs of `steps_per_epoch`
 * steps: a function of the step alone, so a resumed run gets the same rates. */
cnnc_status cnnc_lr_schedule_at(const cnnc_lr_schedule *schedule, double base_lr, uint64_t step,
                                int64_t steps_per_epoch, int64_t epochs, double *out_lr);

/* ---------------------------------------------------------------- arrays */

/** Maximum rank of a cnnc_array. */
#define CNNC_ARRAY_MAX_RANK 8

/** A dense float32 array read from a file; data is owned by the runtime and
 * released with cnnc_array_free. */
typedef struct cnnc_array {
  int32_t rank;
  int64_t shape[CNNC_ARRAY_MAX_RANK];
  int64_t count; /**< product of shape */
  float *data;
} cnnc_array;

/** Frees an array's data and zeroes it. Null is allowed. */
void cnnc_array_free(cnnc_array *array);

/** Reads a NumPy .npy file (format v1, v2 or v3): little-endian float32
 * ('<f4'), C order only. */
cnnc_status cnnc_npy_load(const char *path, cnnc_array *out_array);

/** The element type of a .npy file read by cnnc_npy_load_numeric. */
typedef enum cnnc_dtype {
  CNNC_DTYPE_FLOAT32 = 0,
  CNNC_DTYPE_FLOAT64,
  CNNC_DTYPE_UINT8,
  CNNC_DTYPE_INT8,
  CNNC_DTYPE_BOOL,
  CNNC_DTYPE_UINT16,
  CNNC_DTYPE_INT16,
  CNNC_DTYPE_UINT32,
  CNNC_DTYPE_INT32,
  CNNC_DTYPE_UINT64,
  CNNC_DTYPE_INT64
} cnnc_dtype;

/** Reads a NumPy .npy file (C order) of float32, float64, bool or any
 * little-endian integer type, converting each value to float32 (integers
 * beyond 2^24 round); `out_dtype` receives the file's type (uint8 images
 * are then usually divided by 255). */
cnnc_status cnnc_npy_load_numeric(const char *path, cnnc_array *out_array, cnnc_dtype *out_dtype);

/** Writes a NumPy .npy file (format v1, '<f4', C order). */
cnnc_status cnnc_npy_save(const char *path, const float *data, int32_t rank, const int64_t *shape);

/** Reads an IDX file of unsigned bytes (type 0x08), gzipped or plain, as
 * floats holding the raw values 0..255 (images: divide by 255). */
cnnc_status cnnc_idx_load(const char *path, cnnc_array *out_array);

#ifdef __cplusplus
}
#endif
#endif
