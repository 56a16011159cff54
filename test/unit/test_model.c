/* test_model.c - a hand-written stand-in for a cnnc-compiled model.so.
 *
 * Defines cnnc_model_v1 with metadata for y = relu(W x + 2 b): input [-1,4],
 * parameters fc.weight [3,4] and fc.bias [3], a `prepare` kernel computing the
 * derived buffer 2*b, a temp [-1,3] viewed as [-1,3,1] and the output [-1,3].
 * The kernels are plain C over halide_buffer_t and check every buffer's type,
 * rank, extents and strides as docs/runtime-abi.md prescribes (returning
 * -100 - arg on a mismatch), so the unit tests verify how the runtime builds
 * buffers. `dense` returns -42 if an input element is -999 (to test kernel
 * error reporting). Each kernel has Halide metadata (the kinds and ranks of
 * its arguments) as a compiled kernel does. Compile-time variants:
 * CNNC_TEST_ABI_VERSION (wrong version), CNNC_TEST_NO_ENTRY (no entry point,
 * and a constructor that sets CNNC_TEST_CONSTRUCTOR_RAN in the environment,
 * to show whether the library was loaded), CNNC_TEST_BAD_METADATA (a
 * step argument out of range), CNNC_TEST_FAKE_DEVICE (a GPU model, "device_api"
 * "opencl", on a fake device: device memory is malloc'd, the descriptor's
 * Halide entry points allocate, copy, sync and free it and count each call
 * in exported globals, and the kernels, like Halide GPU pipelines, compute
 * in device memory and mark their results device-dirty; an argument without
 * device memory or still host-dirty, which the runtime must never pass, is
 * a mismatch like a wrong stride). */
#include "cnnc/model_abi.h"
#include "test_kernel_metadata.h"

#include <HalideRuntime.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef CNNC_TEST_ABI_VERSION
#define CNNC_TEST_ABI_VERSION CNNC_MODEL_ABI_VERSION
#endif

/* Halide's error handler, as the runtime installs it through the descriptor. */
static cnnc_halide_error_handler error_handler;
static cnnc_halide_error_handler set_error_handler(cnnc_halide_error_handler handler) {
  cnnc_halide_error_handler old = error_handler;
  error_handler = handler;
  return old;
}

#ifdef CNNC_TEST_FAKE_DEVICE
/* Calls of the fake device's entry points, and the largest allocation it grants. */
int cnnc_test_device_mallocs, cnnc_test_device_frees, cnnc_test_copies_to_device,
    cnnc_test_copies_to_host, cnnc_test_device_syncs, cnnc_test_device_releases;
size_t cnnc_test_device_limit_bytes = (size_t)1 << 20;

static const struct halide_device_interface_t fake_interface;

static const struct halide_device_interface_t *fake_device_interface(void) {
  return &fake_interface;
}

static size_t bytes_of(const halide_buffer_t *b) {
  size_t bytes = sizeof(float);
  int i;
  for (i = 0; i < b->dimensions; ++i)
    bytes *= (size_t)b->dim[i].extent;
  return bytes;
}

static int fake_device_malloc(void *user_context, halide_buffer_t *b,
                              const struct halide_device_interface_t *interface) {
  void *memory;
  (void)user_context;
  if (b->device)
    return 0; /* like Halide: an allocation is kept */
  if (interface != &fake_interface)
    return -1;
  if (bytes_of(b) > cnnc_test_device_limit_bytes) {
    if (error_handler)
      error_handler(0, "fake device: out of memory\n");
    return halide_error_code_device_malloc_failed;
  }
  memory = malloc(bytes_of(b));
  if (!memory)
    return halide_error_code_device_malloc_failed;
  b->device = (uint64_t)(uintptr_t)memory;
  b->device_interface = interface;
  ++cnnc_test_device_mallocs;
  return 0;
}

static int fake_device_free(void *user_context, halide_buffer_t *b) {
  (void)user_context;
  free((void *)(uintptr_t)b->device);
  b->device = 0;
  b->device_interface = 0;
  ++cnnc_test_device_frees;
  return 0;
}

static int fake_copy_to_device(void *user_context, halide_buffer_t *b,
                               const struct halide_device_interface_t *interface) {
  if (!b->device && fake_device_malloc(user_context, b, interface))
    return halide_error_code_device_malloc_failed;
  if (!(b->flags & halide_buffer_flag_host_dirty))
    return 0;
  if ((b->flags & halide_buffer_flag_device_dirty) || !b->host)
    return halide_error_code_copy_to_device_failed;
  memcpy((void *)(uintptr_t)b->device, b->host, bytes_of(b));
  b->flags &= ~(uint64_t)halide_buffer_flag_host_dirty;
  ++cnnc_test_copies_to_device;
  return 0;
}

static int fake_copy_to_host(void *user_context, halide_buffer_t *b) {
  (void)user_context;
  if (!(b->flags & halide_buffer_flag_device_dirty))
    return 0;
  if ((b->flags & halide_buffer_flag_host_dirty) || !b->host || !b->device)
    return halide_error_code_copy_to_host_failed;
  memcpy(b->host, (void *)(uintptr_t)b->device, bytes_of(b));
  b->flags &= ~(uint64_t)halide_buffer_flag_device_dirty;
  ++cnnc_test_copies_to_host;
  return 0;
}

static int fake_device_sync(void *user_context, halide_buffer_t *b) {
  (void)user_context;
  if (!b->device)
    return -1;
  ++cnnc_test_device_syncs;
  return 0;
}

static void fake_device_release(void *user_context,
                                const struct halide_device_interface_t *interface) {
  (void)user_context;
  (void)interface;
  ++cnnc_test_device_releases;
}

static int fake_reuse_device_allocations(void *user_context, bool flag) {
  (void)user_context;
  (void)flag;
  return 0;
}

static const cnnc_halide_runtime halide_runtime = {
    .copy_to_host = fake_copy_to_host,
    .copy_to_device = fake_copy_to_device,
    .device_malloc = fake_device_malloc,
    .device_free = fake_device_free,
    .device_sync = fake_device_sync,
    .device_release = fake_device_release,
    .device_interface = fake_device_interface,
    .reuse_device_allocations = fake_reuse_device_allocations,
    .set_error_handler = set_error_handler,
};

/* A kernel computes in device memory. */
static float *data_of(const halide_buffer_t *b) { return (float *)(uintptr_t)b->device; }
#else
static const cnnc_halide_runtime halide_runtime = {.set_error_handler = set_error_handler};

static float *data_of(const halide_buffer_t *b) { return (float *)b->host; }
#endif

/* Checks that b is a dense float32 buffer of `rank` dims whose extents,
 * innermost first, are `extents` (-1: any), in host memory (a CPU model) or
 * in device memory and not host-dirty (a GPU model). Returns 0 if so. */
static int check_buffer(const halide_buffer_t *b, int rank, const int *extents) {
  int i;
  int32_t stride = 1;
  if (!b || b->type.code != halide_type_float || b->type.bits != 32 || b->type.lanes != 1 ||
      b->dimensions != rank)
    return 1;
#ifdef CNNC_TEST_FAKE_DEVICE
  if (!b->device || b->device_interface != &fake_interface ||
      (b->flags & halide_buffer_flag_host_dirty))
    return 1;
#else
  if (!b->host || b->device != 0 || b->flags != 0)
    return 1;
#endif
  for (i = 0; i < rank; ++i) {
    if (b->dim[i].min != 0 || b->dim[i].stride != stride)
      return 1;
    if (extents[i] >= 0 && b->dim[i].extent != extents[i])
      return 1;
    stride *= b->dim[i].extent;
  }
  return 0;
}

/* Marks a kernel's result as a GPU pipeline does. */
static void mark_written(halide_buffer_t *b) {
#ifdef CNNC_TEST_FAKE_DEVICE
  b->flags |= halide_buffer_flag_device_dirty;
#else
  (void)b;
#endif
}

/* derived[i] = 2 * bias[i] */
static int fold(void **args) {
  const halide_buffer_t *bias = (const halide_buffer_t *)args[0];
  halide_buffer_t *out = (halide_buffer_t *)args[1];
  static const int e3[] = {3};
  int i;
  if (check_buffer(bias, 1, e3))
    return -100;
  if (check_buffer(out, 1, e3))
    return -101;
  for (i = 0; i < 3; ++i)
    data_of(out)[i] = 2.0f * data_of(bias)[i];
  mark_written(out);
  return 0;
}

/* y[n][o] = sum_i W[o][i] x[n][i] + b[o] */
static int dense(void **args) {
  const halide_buffer_t *x = (const halide_buffer_t *)args[0];
  const halide_buffer_t *w = (const halide_buffer_t *)args[1];
  const halide_buffer_t *b = (const halide_buffer_t *)args[2];
  halide_buffer_t *y = (halide_buffer_t *)args[3];
  static const int ex[] = {4, -1}, ew[] = {4, 3}, eb[] = {3}, ey[] = {3, -1};
  int n, o, i, batch;
  if (check_buffer(x, 2, ex))
    return -100;
  if (check_buffer(w, 2, ew))
    return -101;
  if (check_buffer(b, 1, eb))
    return -102;
  if (check_buffer(y, 2, ey))
    return -103;
  batch = x->dim[1].extent;
  if (y->dim[1].extent != batch)
    return -103;
  for (n = 0; n < batch; ++n) {
    const float *xn = data_of(x) + n * x->dim[1].stride;
    float *yn = data_of(y) + n * y->dim[1].stride;
    for (i = 0; i < 4; ++i)
      if (xn[i] == -999.0f) {
        /* Like a Halide bounds check: report through the error handler. */
        if (error_handler)
          error_handler(0, "Input buffer in0 holds the poison value -999\n");
        return -42;
      }
    for (o = 0; o < 3; ++o) {
      float acc = data_of(b)[o];
      for (i = 0; i < 4; ++i)
        acc += data_of(w)[o * w->dim[1].stride + i] * xn[i];
      yn[o] = acc;
    }
  }
  mark_written(y);
  return 0;
}

/* out[n][o] = max(0, in[n][o][0]), in viewed as [-1,3,1] */
static int relu(void **args) {
  const halide_buffer_t *in = (const halide_buffer_t *)args[0];
  halide_buffer_t *out = (halide_buffer_t *)args[1];
  static const int ei[] = {1, 3, -1}, eo[] = {3, -1};
  int n, o;
  if (check_buffer(in, 3, ei))
    return -100;
  if (check_buffer(out, 2, eo))
    return -101;
  if (in->dim[2].extent != out->dim[1].extent)
    return -101;
  for (n = 0; n < out->dim[1].extent; ++n)
    for (o = 0; o < 3; ++o) {
      float v = data_of(in)[n * in->dim[2].stride + o * in->dim[1].stride];
      data_of(out)[n * out->dim[1].stride + o] = v > 0 ? v : 0;
    }
  mark_written(out);
  return 0;
}

static const char metadata[] =
    "{\n"
    "  \"abi_version\": 5,\n"
    "  \"name\": \"tiny_dense\",\n"
    "  \"target\": \"test-c\",\n"
#ifdef CNNC_TEST_FAKE_DEVICE
    "  \"device_api\": \"opencl\",\n"
#endif
    "  \"inputs\": [{\"name\": \"input\", \"shape\": [-1, 4], \"buffer\": 0}],\n"
    "  \"outputs\": [{\"name\": \"output\", \"shape\": [-1, 3], \"buffer\": 6}],\n"
    "  \"parameters\": [\n"
    "    {\"name\": \"fc.weight\", \"shape\": [3, 4], \"layout\": \"OI\", \"buffer\": 1},\n"
    "    {\"name\": \"fc.bias\", \"shape\": [3], \"layout\": \"C\", \"buffer\": 2}],\n"
    "  \"buffers\": [\n"
    "    {\"shape\": [-1, 4], \"kind\": \"input\"},\n"
    "    {\"shape\": [3, 4], \"kind\": \"param\"},\n"
    "    {\"shape\": [3], \"kind\": \"param\"},\n"
    "    {\"shape\": [3], \"kind\": \"derived\"},\n"
    "    {\"shape\": [-1, 3], \"kind\": \"temp\"},\n"
    "    {\"shape\": [-1, 3, 1], \"kind\": \"temp\", \"view_of\": 4},\n"
    "    {\"shape\": [-1, 3], \"kind\": \"output\"}],\n"
    "  \"prepare\": [{\"kernel\": 0, \"name\": \"fold\", \"args\": [2, 3]}],\n"
    "  \"steps\": [\n"
#ifdef CNNC_TEST_BAD_METADATA
    "    {\"kernel\": 1, \"name\": \"dense\", \"args\": [0, 1, 3, 42], \"flops\": 27},\n"
#else
    "    {\"kernel\": 1, \"name\": \"dense\", \"args\": [0, 1, 3, 4], \"flops\": 27},\n"
#endif
    "    {\"kernel\": 2, \"name\": \"relu\", \"args\": [5, 6], \"flops\": 3}]\n"
    "}\n";

static const cnnc_kernel_fn kernels[] = {fold, dense, relu};
static const char *const kernel_names[] = {"fold", "dense", "relu"};

/* Each kernel's Halide metadata: the kind and rank of its float32 arguments
 * (test_kernel_metadata.h). */
KERNEL_METADATA(fold, IN(1), OUT(1))
KERNEL_METADATA(dense, IN(2), IN(2), IN(1), OUT(2))
KERNEL_METADATA(relu, IN(3), OUT(2))
static const cnnc_kernel_metadata_fn kernel_metadata[] = {fold_metadata, dense_metadata,
                                                          relu_metadata};

static const cnnc_model_desc desc = {
    .abi_version = CNNC_TEST_ABI_VERSION,
    .metadata_json = metadata,
    .num_kernels = 3,
    .kernels = kernels,
    .kernel_names = kernel_names,
    .halide = &halide_runtime,
    .kernel_metadata = kernel_metadata,
};

#ifdef CNNC_TEST_NO_ENTRY
const cnnc_model_desc *not_the_entry_point(void) { return &desc; }

/* Shows whether the library's code ran: the runtime must refuse it unloaded. */
__attribute__((constructor)) static void announce_loading(void) {
  setenv("CNNC_TEST_CONSTRUCTOR_RAN", "1", 1);
}
#else
const cnnc_model_desc *cnnc_model_v1(void) { return &desc; }
#endif
