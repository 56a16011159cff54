/* cnnc runtime: the C API for loading and running a compiled model.so.
 *
 * A model is loaded from a model.so built by `cnnc` (entry point and metadata:
 * cnnc/model_abi.h, docs/runtime-abi.md), given its parameters (from a
 * safetensors file or one by one) and run on batches of any size. Every
 * function returns a cnnc_status; on failure the calling thread's
 * cnnc_last_error() names the problem. Outputs come last and are named out_*.
 * No C++ types or exceptions cross this API; cnnc/runtime.hpp wraps it with
 * RAII for C++ callers. A cnnc_model is not thread-safe: use one per thread
 * or serialise calls. All tensors are float32, dense, row-major (C order).
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
  CNNC_ERROR_OUT_OF_MEMORY = 7     /**< an allocation failed or a buffer is too large */
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
  CNNC_ROLE_PARAMETER = 2
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
 * current directory, not searched for. */
cnnc_status cnnc_model_load(const char *path, cnnc_model **out_model);

/** Frees a model and unloads its library. Null is allowed. */
void cnnc_model_free(cnnc_model *model);

/** The model's name from its metadata ("" if none). */
const char *cnnc_model_name(const cnnc_model *model);

/** The Halide target string the model was compiled for ("" if none). */
const char *cnnc_model_target(const cnnc_model *model);

/** The number of inputs, outputs or parameters (0 for a null model). */
size_t cnnc_model_num_tensors(const cnnc_model *model, cnnc_tensor_role role);

/** Describes the index-th tensor of a role, in metadata (graph) order. */
cnnc_status cnnc_model_get_tensor_info(const cnnc_model *model, cnnc_tensor_role role, size_t index,
                                       cnnc_tensor_info *out_info);

/** The number of inference steps. */
size_t cnnc_model_num_steps(const cnnc_model *model);

/** Describes the index-th step. */
cnnc_status cnnc_model_get_step_info(const cnnc_model *model, size_t index,
                                     cnnc_step_info *out_info);

/* ------------------------------------------------------------ parameters */

/** Loads every model parameter from a safetensors file. Tensors the model
 * does not have are ignored (whatever their dtype); every parameter must be
 * present as F32 with exactly the expected shape. On failure no parameter
 * is changed. */
cnnc_status cnnc_model_load_parameters(cnnc_model *model, const char *path);

/** Writes every parameter to a safetensors file (F32, metadata names and
 * order). Fails if a parameter has not been set. */
cnnc_status cnnc_model_save_parameters(const cnnc_model *model, const char *path);

/** Sets one parameter from `count` floats (count must equal its element count). */
cnnc_status cnnc_model_set_parameter(cnnc_model *model, const char *name, const float *data,
                                     size_t count);

/** Copies one parameter (which must have been set) into out_data[0..count). */
cnnc_status cnnc_model_get_parameter(const cnnc_model *model, const char *name, size_t count,
                                     float *out_data);

/** Runs the `prepare` kernels now. cnnc_model_run does it on its own when
 * parameters changed; this is for callers who want it out of the timing. */
cnnc_status cnnc_model_prepare(cnnc_model *model);

/* ------------------------------------------------------------- execution */

/** Runs every step for `batch` items (>= 1). inputs[i] holds batch *
 * item_count floats of input i, outputs[i] receives those of output i (both
 * in metadata order). Internal buffers are (re)allocated when the batch size
 * changes. */
cnnc_status cnnc_model_run(cnnc_model *model, int64_t batch, const float *const *inputs,
                           float *const *outputs);

/** Like cnnc_model_run, and stores the wall time of each step, in
 * milliseconds, in out_step_ms[0..cnnc_model_num_steps). */
cnnc_status cnnc_model_run_timed(cnnc_model *model, int64_t batch, const float *const *inputs,
                                 float *const *outputs, double *out_step_ms);

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

/** Writes a NumPy .npy file (format v1, '<f4', C order). */
cnnc_status cnnc_npy_save(const char *path, const float *data, int32_t rank, const int64_t *shape);

/** Reads an IDX file of unsigned bytes (type 0x08), gzipped or plain, as
 * floats holding the raw values 0..255 (images: divide by 255). */
cnnc_status cnnc_idx_load(const char *path, cnnc_array *out_array);

#ifdef __cplusplus
}
#endif
#endif
