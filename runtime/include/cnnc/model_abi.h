/* cnnc model ABI: the one entry point every model.so exports.
 *
 * A model.so produced by `cnnc` contains one Halide AOT pipeline per fused
 * layer group, Halide's runtime (for the CPU, or for CUDA or OpenCL) and a
 * small generated C file that defines `cnnc_model_v1`. It exports nothing
 * else (it is linked with a version script), so the Halide runtime entry
 * points the cnnc runtime calls reach it through the descriptor. The runtime
 * checks the file (a complete ELF shared object exporting `cnnc_model_v1`),
 * dlopens the library, calls `cnnc_model_v1`, checks `abi_version`, parses
 * `metadata_json` (format: docs/runtime-abi.md), checks every kernel call
 * against the kernel's Halide metadata and calls the kernels through their
 * Halide `_argv` entry points.
 * This header is plain C and is shared by the compiler's generated glue and
 * the runtime; nothing C++ crosses it. */
#ifndef CNNC_MODEL_ABI_H
#define CNNC_MODEL_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever the layout of cnnc_model_desc or the metadata changes. */
#define CNNC_MODEL_ABI_VERSION 5u

/* A Halide AOT pipeline's argv entry point: args[i] is a halide_buffer_t*
 * for each buffer argument, in the order the metadata lists them. */
typedef int (*cnnc_kernel_fn)(void **args);

/* Defined in HalideRuntime.h; only pointers to them cross this ABI. */
struct halide_buffer_t;
struct halide_device_interface_t;
struct halide_filter_metadata_t;

/* A Halide AOT pipeline's metadata getter (`<name>_metadata`): the kind,
 * element type and rank of each of its arguments, in argv order. */
typedef const struct halide_filter_metadata_t *(*cnnc_kernel_metadata_fn)(void);

/* Halide's error handler, halide_malloc and halide_free replacements. */
typedef void (*cnnc_halide_error_handler)(void *user_context, const char *message);
typedef void *(*cnnc_halide_malloc)(void *user_context, size_t size);
typedef void (*cnnc_halide_free)(void *user_context, void *ptr);

/* Entry points of the Halide runtime inside model.so, each with the
 * prototype of the Halide function of the same name in HalideRuntime.h
 * (copy_to_host is halide_copy_to_host, and so on). device_interface is
 * halide_cuda_device_interface or halide_opencl_device_interface for a GPU
 * model and null for a CPU model, whose device entry points are never
 * called. */
typedef struct cnnc_halide_runtime {
  int (*copy_to_host)(void *user_context, struct halide_buffer_t *buf);
  int (*copy_to_device)(void *user_context, struct halide_buffer_t *buf,
                        const struct halide_device_interface_t *device_interface);
  int (*device_malloc)(void *user_context, struct halide_buffer_t *buf,
                       const struct halide_device_interface_t *device_interface);
  int (*device_free)(void *user_context, struct halide_buffer_t *buf);
  int (*device_sync)(void *user_context, struct halide_buffer_t *buf);
  void (*device_release)(void *user_context,
                         const struct halide_device_interface_t *device_interface);
  const struct halide_device_interface_t *(*device_interface)(void);
  int (*reuse_device_allocations)(void *user_context, bool flag);
  cnnc_halide_error_handler (*set_error_handler)(cnnc_halide_error_handler handler);
  cnnc_halide_malloc (*set_custom_malloc)(cnnc_halide_malloc user_malloc);
  cnnc_halide_free (*set_custom_free)(cnnc_halide_free user_free);
} cnnc_halide_runtime;

typedef struct cnnc_model_desc {
  uint32_t abi_version;      /* == CNNC_MODEL_ABI_VERSION */
  const char *metadata_json; /* NUL-terminated, docs/runtime-abi.md */
  uint32_t num_kernels;
  const cnnc_kernel_fn *kernels; /* indexed by "kernel" in the metadata */
  const char *const *kernel_names;
  const cnnc_halide_runtime *halide; /* the embedded Halide runtime */
  /* Values of every parameter, loaded with the model: a safetensors file of
   * default_parameters_size bytes (F32, the metadata's parameters in
   * order), or null and 0 when the model carries none. */
  const unsigned char *default_parameters;
  uint64_t default_parameters_size;
  /* The metadata getter of each kernel, indexed like `kernels`: the runtime
   * checks every call of the metadata against it before anything runs. */
  const cnnc_kernel_metadata_fn *kernel_metadata;
  /* The shape each kernel was compiled for, per kernel: the shapes of its
   * arguments one after the other, outermost dimension first, -1 for the
   * batch (each argument's rank is its metadata's `dimensions`). The kernels
   * trust these extents; the runtime checks the metadata's buffers against
   * them. May be null (then only ranks are checked). */
  const int64_t *const *kernel_shapes;
} cnnc_model_desc;

/* The versioned entry point; the runtime looks it up with dlsym. */
const cnnc_model_desc *cnnc_model_v1(void);

#ifdef __cplusplus
}
#endif
#endif
