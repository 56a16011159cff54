/* cnnc model ABI: the one entry point every model.so exports.
 *
 * A model.so produced by `cnnc` contains one Halide AOT pipeline per fused
 * layer group plus a small generated C file that defines `cnnc_model_v1`.
 * The runtime dlopens the library, calls `cnnc_model_v1`, checks
 * `abi_version`, parses `metadata_json` (format: docs/runtime-abi.md) and
 * calls the kernels through their Halide `_argv` entry points.
 * This header is plain C and is shared by the compiler's generated glue and
 * the runtime; nothing C++ crosses it. */
#ifndef CNNC_MODEL_ABI_H
#define CNNC_MODEL_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever the layout of cnnc_model_desc or the metadata changes. */
#define CNNC_MODEL_ABI_VERSION 1u

/* A Halide AOT pipeline's argv entry point: args[i] is a halide_buffer_t*
 * for each buffer argument, in the order the metadata lists them. */
typedef int (*cnnc_kernel_fn)(void **args);

typedef struct cnnc_model_desc {
  uint32_t abi_version;      /* == CNNC_MODEL_ABI_VERSION */
  const char *metadata_json; /* NUL-terminated, docs/runtime-abi.md */
  uint32_t num_kernels;
  const cnnc_kernel_fn *kernels; /* indexed by "kernel" in the metadata */
  const char *const *kernel_names;
} cnnc_model_desc;

/* The versioned entry point; the runtime looks it up with dlsym. */
const cnnc_model_desc *cnnc_model_v1(void);

#ifdef __cplusplus
}
#endif
#endif
