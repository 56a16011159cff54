/* test_session_model.c - a hand-written stand-in for a cnnc-compiled model.so
 * for the tests of sessions, of the in-use flag and of scratch memory.
 *
 * y[n] = sum_i x[n][i] * d[i] + s, with d = w * w + 1 (a `prepare` kernel:
 * a derived buffer) and s = sum_i d[i] (an unbatched temporary computed by
 * a step). Input [-1,4], parameter "w" [4], a batched temporary [-1,4]
 * viewed as [-1,2,2], output [-1,1]. The `scale` kernel computes through a
 * scratch block of batch * 4 floats taken from the allocator the runtime
 * installs (halide_malloc's replacement, as a Halide kernel's scratch), and
 * an input row starting with -777 makes it wait inside the call until the
 * test releases it (cnnc_test_session_entered / cnnc_test_session_release),
 * so a test can hold a model or session busy. */
#include "cnnc/model_abi.h"
#include "test_kernel_metadata.h"

#include <HalideRuntime.h>

#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static cnnc_halide_error_handler error_handler;
static cnnc_halide_malloc custom_malloc;
static cnnc_halide_free custom_free;

static cnnc_halide_error_handler set_error_handler(cnnc_halide_error_handler handler) {
  cnnc_halide_error_handler old = error_handler;
  error_handler = handler;
  return old;
}

static cnnc_halide_malloc set_custom_malloc(cnnc_halide_malloc fn) {
  cnnc_halide_malloc old = custom_malloc;
  custom_malloc = fn;
  return old;
}

static cnnc_halide_free set_custom_free(cnnc_halide_free fn) {
  cnnc_halide_free old = custom_free;
  custom_free = fn;
  return old;
}

static const cnnc_halide_runtime halide_runtime = {.set_error_handler = set_error_handler,
                                                   .set_custom_malloc = set_custom_malloc,
                                                   .set_custom_free = set_custom_free};

/* Calls waiting inside `scale`, and whether they may go on. */
static atomic_int entered, released;

/* The number of calls waiting inside `scale` now. */
int cnnc_test_session_entered(void) { return atomic_load(&entered); }

/* Lets every waiting call (and later ones) go on (1), or makes later ones wait (0). */
void cnnc_test_session_release(int release) { atomic_store(&released, release); }

static const float *in(void *arg) { return (const float *)((halide_buffer_t *)arg)->host; }
static float *out(void *arg) { return (float *)((halide_buffer_t *)arg)->host; }
static int extent(void *arg, int dim) { return ((halide_buffer_t *)arg)->dim[dim].extent; }

/* d[i] = w[i] * w[i] + 1 */
static int square(void **args) {
  int i;
  for (i = 0; i < 4; ++i)
    out(args[1])[i] = in(args[0])[i] * in(args[0])[i] + 1.0f;
  return 0;
}

/* s = sum_i d[i] */
static int total(void **args) {
  out(args[1])[0] = in(args[0])[0] + in(args[0])[1] + in(args[0])[2] + in(args[0])[3];
  return 0;
}

/* t[n][i] = x[n][i] * d[i], through a scratch block */
static int scale(void **args) {
  int batch = extent(args[0], 1), n, i;
  const float *x = in(args[0]), *d = in(args[1]);
  float *scratch;
  if (!custom_malloc || !custom_free || extent(args[2], 1) != batch)
    return -1;
  scratch = (float *)custom_malloc(0, sizeof(float) * 4 * (size_t)batch);
  if (!scratch) {
    if (error_handler)
      error_handler(0, "scale: out of scratch memory\n");
    return halide_error_code_out_of_memory;
  }
  for (n = 0; n < batch; ++n) {
    if (x[4 * n] == -777.0f) {
      atomic_fetch_add(&entered, 1);
      while (!atomic_load(&released))
        sched_yield();
      atomic_fetch_sub(&entered, 1);
    }
    for (i = 0; i < 4; ++i)
      scratch[4 * n + i] = x[4 * n + i] * d[i];
  }
  for (n = 0; n < 4 * batch; ++n)
    out(args[2])[n] = scratch[n];
  custom_free(0, scratch);
  return 0;
}

/* y[n] = sum_{j,k} v[n][j][k] + s, v the temporary viewed as [-1,2,2] */
static int reduce(void **args) {
  int batch = extent(args[0], 2), n, i;
  if (extent(args[2], 1) != batch)
    return -1;
  for (n = 0; n < batch; ++n) {
    float acc = 0;
    for (i = 0; i < 4; ++i)
      acc += in(args[0])[4 * n + i];
    out(args[2])[n] = acc + in(args[1])[0];
  }
  return 0;
}

static const char metadata[] =
    "{\n"
    "  \"abi_version\": 5,\n"
    "  \"name\": \"session_test\",\n"
    "  \"target\": \"test-c\",\n"
    "  \"inputs\": [{\"name\": \"input\", \"shape\": [-1, 4], \"buffer\": 0}],\n"
    "  \"outputs\": [{\"name\": \"output\", \"shape\": [-1, 1], \"buffer\": 6}],\n"
    "  \"parameters\": [{\"name\": \"w\", \"shape\": [4], \"layout\": \"C\", \"buffer\": 1}],\n"
    "  \"buffers\": [\n"
    "    {\"shape\": [-1, 4], \"kind\": \"input\"},\n"
    "    {\"shape\": [4], \"kind\": \"param\"},\n"
    "    {\"shape\": [4], \"kind\": \"derived\"},\n"
    "    {\"shape\": [-1, 4], \"kind\": \"temp\"},\n"
    "    {\"shape\": [-1, 2, 2], \"kind\": \"temp\", \"view_of\": 3},\n"
    "    {\"shape\": [1], \"kind\": \"temp\"},\n"
    "    {\"shape\": [-1, 1], \"kind\": \"output\"}],\n"
    "  \"prepare\": [{\"kernel\": 0, \"name\": \"square\", \"args\": [1, 2]}],\n"
    "  \"steps\": [\n"
    "    {\"kernel\": 1, \"name\": \"total\", \"args\": [2, 5], \"flops\": 0},\n"
    "    {\"kernel\": 2, \"name\": \"scale\", \"args\": [0, 2, 3], \"flops\": 4},\n"
    "    {\"kernel\": 3, \"name\": \"reduce\", \"args\": [4, 5, 6], \"flops\": 4}]\n"
    "}\n";

static const cnnc_kernel_fn kernels[] = {square, total, scale, reduce};
static const char *const kernel_names[] = {"square", "total", "scale", "reduce"};

/* Each kernel's Halide metadata: the kind and rank of its float32 arguments
 * (test_kernel_metadata.h). */
KERNEL_METADATA(square, IN(1), OUT(1))
KERNEL_METADATA(total, IN(1), OUT(1))
KERNEL_METADATA(scale, IN(2), IN(1), OUT(2))
KERNEL_METADATA(reduce, IN(3), IN(1), OUT(2))
static const cnnc_kernel_metadata_fn kernel_metadata[] = {square_metadata, total_metadata,
                                                          scale_metadata, reduce_metadata};

static const cnnc_model_desc desc = {
    .abi_version = CNNC_MODEL_ABI_VERSION,
    .metadata_json = metadata,
    .num_kernels = 4,
    .kernels = kernels,
    .kernel_names = kernel_names,
    .halide = &halide_runtime,
    .kernel_metadata = kernel_metadata,
};

const cnnc_model_desc *cnnc_model_v1(void) { return &desc; }
