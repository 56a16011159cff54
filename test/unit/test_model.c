/* test_model.c - a hand-written stand-in for a cnnc-compiled model.so.
 *
 * Defines cnnc_model_v1 with metadata for y = relu(W x + 2 b): input [-1,4],
 * parameters fc.weight [3,4] and fc.bias [3], a `prepare` kernel computing the
 * derived buffer 2*b, a temp [-1,3] viewed as [-1,3,1] and the output [-1,3].
 * The kernels are plain C over halide_buffer_t and check every buffer's type,
 * rank, extents and strides as docs/runtime-abi.md prescribes (returning
 * -100 - arg on a mismatch), so the unit tests verify how the runtime builds
 * buffers. `dense` returns -42 if an input element is -999 (to test kernel
 * error reporting). Compile-time variants: CNNC_TEST_ABI_VERSION (wrong
 * version), CNNC_TEST_NO_ENTRY (no entry point), CNNC_TEST_BAD_METADATA (a
 * step argument out of range), CNNC_TEST_FAKE_DEVICE (`dense` leaves its
 * result "on a device" -- a side array, device handle 1, device_dirty set --
 * and the descriptor's Halide entry points copy_to_host and device_free are
 * fakes, as a GPU model's embedded Halide runtime would provide). */
#include "cnnc/model_abi.h"

#include <HalideRuntime.h>

#include <stddef.h>
#include <string.h>

#ifndef CNNC_TEST_ABI_VERSION
#define CNNC_TEST_ABI_VERSION CNNC_MODEL_ABI_VERSION
#endif

/* Checks that b is a dense float32 buffer of `rank` dims whose extents,
 * innermost first, are `extents` (-1: any). Returns 0 if so. */
static int check_buffer(const halide_buffer_t *b, int rank, const int *extents) {
  int i;
  int32_t stride = 1;
  if (!b || !b->host || b->type.code != halide_type_float || b->type.bits != 32 ||
      b->type.lanes != 1 || b->dimensions != rank)
    return 1;
#ifndef CNNC_TEST_FAKE_DEVICE
  if (b->device != 0 || b->flags != 0)
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
    ((float *)out->host)[i] = 2.0f * ((const float *)bias->host)[i];
  return 0;
}

#ifdef CNNC_TEST_FAKE_DEVICE
/* The fake device memory of dense's output, and counters the tests read. */
static float device_memory[3 * 1024];
int cnnc_test_copies_to_host = 0;
int cnnc_test_device_frees = 0;

static int fake_copy_to_host(void *user_context, halide_buffer_t *buf) {
  (void)user_context;
  if (buf->device != 1 || buf->dim[1].extent > 1024)
    return -1;
  memcpy(buf->host, device_memory, sizeof(float) * 3 * buf->dim[1].extent);
  buf->flags &= ~(uint64_t)halide_buffer_flag_device_dirty;
  ++cnnc_test_copies_to_host;
  return 0;
}

static int fake_device_free(void *user_context, halide_buffer_t *buf) {
  (void)user_context;
  buf->device = 0;
  ++cnnc_test_device_frees;
  return 0;
}
#endif

/* Halide's error handler, as the runtime installs it through the descriptor. */
static cnnc_halide_error_handler error_handler;
static cnnc_halide_error_handler set_error_handler(cnnc_halide_error_handler handler) {
  cnnc_halide_error_handler old = error_handler;
  error_handler = handler;
  return old;
}

/* The Halide runtime entry points of the descriptor. */
#ifdef CNNC_TEST_FAKE_DEVICE
static const cnnc_halide_runtime halide_runtime = {.copy_to_host = fake_copy_to_host,
                                                   .device_free = fake_device_free,
                                                   .set_error_handler = set_error_handler};
#else
static const cnnc_halide_runtime halide_runtime = {.set_error_handler = set_error_handler};
#endif

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
    const float *xn = (const float *)x->host + n * x->dim[1].stride;
#ifdef CNNC_TEST_FAKE_DEVICE
    float *yn = device_memory + n * y->dim[1].stride;
    if (batch > 1024)
      return -1;
#else
    float *yn = (float *)y->host + n * y->dim[1].stride;
#endif
    for (i = 0; i < 4; ++i)
      if (xn[i] == -999.0f) {
        /* Like a Halide bounds check: report through the error handler. */
        if (error_handler)
          error_handler(0, "Input buffer in0 holds the poison value -999\n");
        return -42;
      }
    for (o = 0; o < 3; ++o) {
      float acc = ((const float *)b->host)[o];
      for (i = 0; i < 4; ++i)
        acc += ((const float *)w->host)[o * w->dim[1].stride + i] * xn[i];
      yn[o] = acc;
    }
  }
#ifdef CNNC_TEST_FAKE_DEVICE
  y->device = 1;
  y->flags |= halide_buffer_flag_device_dirty;
#endif
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
      float v = ((const float *)in->host)[n * in->dim[2].stride + o * in->dim[1].stride];
      ((float *)out->host)[n * out->dim[1].stride + o] = v > 0 ? v : 0;
    }
  return 0;
}

static const char metadata[] =
    "{\n"
    "  \"abi_version\": 2,\n"
    "  \"name\": \"tiny_dense\",\n"
    "  \"target\": \"test-c\",\n"
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

static const cnnc_model_desc desc = {
    .abi_version = CNNC_TEST_ABI_VERSION,
    .metadata_json = metadata,
    .num_kernels = 3,
    .kernels = kernels,
    .kernel_names = kernel_names,
    .halide = &halide_runtime,
};

#ifdef CNNC_TEST_NO_ENTRY
const cnnc_model_desc *not_the_entry_point(void) { return &desc; }
#else
const cnnc_model_desc *cnnc_model_v1(void) { return &desc; }
#endif
