/* test_train_model.c - a hand-written stand-in for a model.so compiled with training.
 *
 * Softmax regression y = W x + b on [-1,1,2,2] inputs (flattened to [-1,4]
 * through a view of the input), 3 classes, trained with mean softmax
 * cross-entropy and SGD with momentum (PyTorch semantics: buf = momentum buf
 * + (1 - dampening) g; p = p - lr buf; the model file's momentum 0.9,
 * dampening 0). The metadata follows docs/runtime-abi.md, "Training": state
 * tensors <param>.momentum_buffer, hyper buffers lr/step/seed and the
 * optimizer settings the runtime fills, a labels buffer, `next` buffers the update
 * kernels write and the swaps that make them current, eval steps, an init
 * list, loss and correct buffers of kind "output" that no entry of
 * "outputs" names (as cnnc emits them), and an inference `prepare` kernel (an identity "fold" of
 * the bias into a derived buffer) that must re-run after every train step. The kernels are plain C
 * over halide_buffer_t and check float32 type, rank and dense strides (returning -100 - arg on a
 * mismatch); each has Halide metadata (its arguments' kinds and ranks) as a compiled kernel
 * does. The momentum kernel records the step, seed, momentum, dampening, weight decay and
 * Nesterov hyper values it saw, the apply kernel the lr, in exported globals the tests read.
 * Variant CNNC_TEST_BAD_TRAIN: a swap pairs buffers of different shapes. */
#include "cnnc/model_abi.h"
#include "test_kernel_metadata.h"

#include <HalideRuntime.h>

#include <math.h>
#include <stddef.h>

float cnnc_test_last_lr = -1, cnnc_test_last_step = -1, cnnc_test_last_seed = -1;
float cnnc_test_last_momentum = -1, cnnc_test_last_dampening = -1, cnnc_test_last_weight_decay = -1,
      cnnc_test_last_nesterov = -1;

/* Checks a dense float32 buffer of `rank` dims; returns its element count or -1. */
static long check(const halide_buffer_t *b, int rank) {
  long count = 1;
  int i;
  if (!b || !b->host || b->type.code != halide_type_float || b->type.bits != 32 ||
      b->type.lanes != 1 || b->dimensions != rank)
    return -1;
  for (i = 0; i < rank; ++i) {
    if (b->dim[i].min != 0 || b->dim[i].stride != count)
      return -1;
    count *= b->dim[i].extent;
  }
  return count;
}

#define F(b) ((float *)(b)->host)
#define ARG(i) ((halide_buffer_t *)args[i])

/* derived = bias (an identity "fold": inference reads the derived buffer) */
static int fold(void **args) {
  long n = check(ARG(0), 1), i;
  if (n != 3)
    return -100;
  if (check(ARG(1), 1) != 3)
    return -101;
  for (i = 0; i < n; ++i)
    F(ARG(1))[i] = F(ARG(0))[i];
  return 0;
}

/* y[n][o] = sum_i W[o][i] x[n][i] + b[o]; x [-1,4], W [3,4], b [3], y [-1,3] */
static int dense(void **args) {
  int n, o, i, batch;
  if (check(ARG(0), 2) < 0 || ARG(0)->dim[0].extent != 4)
    return -100;
  if (check(ARG(1), 2) != 12)
    return -101;
  if (check(ARG(2), 1) != 3)
    return -102;
  batch = ARG(0)->dim[1].extent;
  if (check(ARG(3), 2) != 3L * batch)
    return -103;
  for (n = 0; n < batch; ++n)
    for (o = 0; o < 3; ++o) {
      float acc = F(ARG(2))[o];
      for (i = 0; i < 4; ++i)
        acc += F(ARG(1))[o * 4 + i] * F(ARG(0))[n * 4 + i];
      F(ARG(3))[n * 3 + o] = acc;
    }
  return 0;
}

/* Checks logits [-1,3] and labels [-1]; returns the batch or -1. */
static int check_logits(void **args) {
  int batch;
  if (check(ARG(0), 2) < 0 || ARG(0)->dim[0].extent != 3)
    return -1;
  batch = ARG(0)->dim[1].extent;
  if (check(ARG(1), 1) != batch)
    return -1;
  return batch;
}

/* loss[0] = mean_n (logsumexp(z_n) - z_n[y_n]) */
static int xent(void **args) {
  int n, o, batch = check_logits(args);
  double total = 0;
  if (batch < 0)
    return -100;
  if (check(ARG(2), 1) != 1)
    return -102;
  for (n = 0; n < batch; ++n) {
    const float *z = F(ARG(0)) + n * 3;
    int y = (int)F(ARG(1))[n];
    float m = z[0] > z[1] ? (z[0] > z[2] ? z[0] : z[2]) : (z[1] > z[2] ? z[1] : z[2]);
    double s = 0;
    if (y < 0 || y > 2)
      return -101;
    for (o = 0; o < 3; ++o)
      s += exp((double)(z[o] - m));
    total += log(s) + m - z[y];
  }
  F(ARG(2))[0] = (float)(total / batch);
  return 0;
}

/* correct[0] = #{n : argmax z_n == y_n} (first maximum wins) */
static int correct(void **args) {
  int n, o, batch = check_logits(args), count = 0;
  if (batch < 0)
    return -100;
  if (check(ARG(2), 1) != 1)
    return -102;
  for (n = 0; n < batch; ++n) {
    const float *z = F(ARG(0)) + n * 3;
    int best = 0;
    for (o = 1; o < 3; ++o)
      if (z[o] > z[best])
        best = o;
    count += best == (int)F(ARG(1))[n];
  }
  F(ARG(2))[0] = (float)count;
  return 0;
}

/* dz[n][o] = (softmax(z_n)[o] - [o == y_n]) / batch */
static int dlogits(void **args) {
  int n, o, batch = check_logits(args);
  if (batch < 0)
    return -100;
  if (check(ARG(2), 2) != 3L * batch)
    return -102;
  for (n = 0; n < batch; ++n) {
    const float *z = F(ARG(0)) + n * 3;
    float *dz = F(ARG(2)) + n * 3;
    int y = (int)F(ARG(1))[n];
    float m = z[0] > z[1] ? (z[0] > z[2] ? z[0] : z[2]) : (z[1] > z[2] ? z[1] : z[2]);
    double e[3], s = 0;
    for (o = 0; o < 3; ++o)
      s += e[o] = exp((double)(z[o] - m));
    for (o = 0; o < 3; ++o)
      dz[o] = (float)((e[o] / s - (o == y ? 1.0 : 0.0)) / batch);
  }
  return 0;
}

/* dW[o][i] = sum_n dz[n][o] x[n][i] */
static int dweight(void **args) {
  int n, o, i, batch;
  if (check(ARG(0), 2) < 0 || ARG(0)->dim[0].extent != 3)
    return -100;
  batch = ARG(0)->dim[1].extent;
  if (check(ARG(1), 2) != 4L * batch)
    return -101;
  if (check(ARG(2), 2) != 12)
    return -102;
  for (o = 0; o < 3; ++o)
    for (i = 0; i < 4; ++i) {
      float acc = 0;
      for (n = 0; n < batch; ++n)
        acc += F(ARG(0))[n * 3 + o] * F(ARG(1))[n * 4 + i];
      F(ARG(2))[o * 4 + i] = acc;
    }
  return 0;
}

/* db[o] = sum_n dz[n][o] */
static int dbias(void **args) {
  int n, o, batch;
  if (check(ARG(0), 2) < 0 || ARG(0)->dim[0].extent != 3)
    return -100;
  batch = ARG(0)->dim[1].extent;
  if (check(ARG(1), 1) != 3)
    return -101;
  for (o = 0; o < 3; ++o) {
    float acc = 0;
    for (n = 0; n < batch; ++n)
      acc += F(ARG(0))[n * 3 + o];
    F(ARG(1))[o] = acc;
  }
  return 0;
}

/* buf_next = momentum buf + (1 - dampening) g over any shape; args: g, buf, step, seed,
 * momentum, dampening, weight_decay, nesterov, buf_next (weight_decay and nesterov are only
 * recorded) */
static int momentum(void **args) {
  int rank = ARG(0)->dimensions, k;
  long n = check(ARG(0), rank), i;
  float mu, damp;
  if (n < 0)
    return -100;
  if (check(ARG(1), rank) != n)
    return -101;
  for (k = 2; k < 8; ++k)
    if (check(ARG(k), 1) != 1)
      return -100 - k;
  if (check(ARG(8), rank) != n)
    return -108;
  cnnc_test_last_step = F(ARG(2))[0];
  cnnc_test_last_seed = F(ARG(3))[0];
  mu = cnnc_test_last_momentum = F(ARG(4))[0];
  damp = cnnc_test_last_dampening = F(ARG(5))[0];
  cnnc_test_last_weight_decay = F(ARG(6))[0];
  cnnc_test_last_nesterov = F(ARG(7))[0];
  for (i = 0; i < n; ++i)
    F(ARG(8))[i] = mu * F(ARG(1))[i] + (1.0f - damp) * F(ARG(0))[i];
  return 0;
}

/* p_next = p - lr buf_next over any shape; args: p, buf_next, lr, p_next */
static int apply(void **args) {
  int rank = ARG(0)->dimensions;
  long n = check(ARG(0), rank), i;
  if (n < 0)
    return -100;
  if (check(ARG(1), rank) != n)
    return -101;
  if (check(ARG(2), 1) != 1)
    return -102;
  if (check(ARG(3), rank) != n)
    return -103;
  cnnc_test_last_lr = F(ARG(2))[0];
  for (i = 0; i < n; ++i)
    F(ARG(3))[i] = F(ARG(0))[i] - F(ARG(2))[0] * F(ARG(1))[i];
  return 0;
}

static const char metadata[] =
    "{\n"
    "  \"abi_version\": 5, \"name\": \"tiny_softmax\", \"target\": \"test-c\",\n"
    "  \"inputs\": [{\"name\": \"input\", \"shape\": [-1, 1, 2, 2], \"buffer\": 0}],\n"
    "  \"outputs\": [{\"name\": \"output\", \"shape\": [-1, 3], \"buffer\": 4}],\n"
    "  \"parameters\": [\n"
    "    {\"name\": \"fc.weight\", \"shape\": [3, 4], \"layout\": \"OI\", \"buffer\": 1},\n"
    "    {\"name\": \"fc.bias\", \"shape\": [3], \"layout\": \"C\", \"buffer\": 2}],\n"
    "  \"buffers\": [\n"
    "    {\"shape\": [-1, 1, 2, 2], \"kind\": \"input\"},\n"          /* 0 */
    "    {\"shape\": [3, 4], \"kind\": \"param\"},\n"                 /* 1 */
    "    {\"shape\": [3], \"kind\": \"param\"},\n"                    /* 2 */
    "    {\"shape\": [-1, 4], \"kind\": \"temp\", \"view_of\": 0},\n" /* 3 */
    "    {\"shape\": [-1, 3], \"kind\": \"output\"},\n"               /* 4 */
    "    {\"shape\": [3], \"kind\": \"derived\"},\n"                  /* 5 */
    "    {\"shape\": [-1], \"kind\": \"labels\"},\n"                  /* 6 */
    "    {\"shape\": [1], \"kind\": \"hyper\"},\n"                    /* 7 lr */
    "    {\"shape\": [1], \"kind\": \"hyper\"},\n"                    /* 8 step */
    "    {\"shape\": [1], \"kind\": \"hyper\"},\n"                    /* 9 seed */
    "    {\"shape\": [1], \"kind\": \"output\"},\n"                   /* 10 loss */
    "    {\"shape\": [1], \"kind\": \"output\"},\n"                   /* 11 correct */
    "    {\"shape\": [-1, 3], \"kind\": \"temp\"},\n"                 /* 12 logits */
    "    {\"shape\": [-1, 3], \"kind\": \"temp\"},\n"                 /* 13 dlogits */
    "    {\"shape\": [3, 4], \"kind\": \"temp\"},\n"                  /* 14 dW */
    "    {\"shape\": [3], \"kind\": \"temp\"},\n"                     /* 15 db */
    "    {\"shape\": [3, 4], \"kind\": \"state\"},\n"                 /* 16 */
    "    {\"shape\": [3], \"kind\": \"state\"},\n"                    /* 17 */
    "    {\"shape\": [3, 4], \"kind\": \"next\"},\n"                  /* 18 */
    "    {\"shape\": [3], \"kind\": \"next\"},\n"                     /* 19 */
    "    {\"shape\": [3, 4], \"kind\": \"next\"},\n"                  /* 20 */
    "    {\"shape\": [3], \"kind\": \"next\"},\n"                     /* 21 */
    "    {\"shape\": [1], \"kind\": \"hyper\"},\n"                    /* 22 weight_decay */
    "    {\"shape\": [1], \"kind\": \"hyper\"},\n"                    /* 23 momentum */
    "    {\"shape\": [1], \"kind\": \"hyper\"},\n"                    /* 24 dampening */
    "    {\"shape\": [1], \"kind\": \"hyper\"}],\n"                   /* 25 nesterov */
    "  \"prepare\": [{\"kernel\": 0, \"name\": \"fold\", \"args\": [2, 5]}],\n"
    "  \"steps\": [{\"kernel\": 1, \"name\": \"fc\", \"args\": [3, 1, 5, 4], \"flops\": 24}],\n"
    "  \"train\": {\n"
    "    \"loss\": \"softmax_cross_entropy\",\n"
    "    \"optimizer\": {\"name\": \"sgd\", \"lr\": 0.5, \"momentum\": 0.9, \"dampening\": 0.0,\n"
    "                  \"nesterov\": false, \"weight_decay\": 0.0},\n"
    "    \"batch\": 4, \"epochs\": 3,\n"
    "    \"labels\": 6,\n"
    "    \"hyper\": {\"lr\": 7, \"step\": 8, \"seed\": 9, \"weight_decay\": 22,\n"
    "              \"momentum\": 23, \"dampening\": 24, \"nesterov\": 25},\n"
    "    \"loss_buffer\": 10, \"correct_buffer\": 11,\n"
    "    \"state\": [\n"
    "      {\"name\": \"fc.weight.momentum_buffer\", \"shape\": [3, 4], \"buffer\": 16},\n"
    "      {\"name\": \"fc.bias.momentum_buffer\", \"shape\": [3], \"buffer\": 17}],\n"
    "    \"init\": [{\"name\": \"fc.weight\", \"kind\": \"uniform\", \"bound\": 0.5},\n"
    "             {\"name\": \"fc.bias\", \"kind\": \"uniform\", \"bound\": 0.5}],\n"
    "    \"steps\": [\n"
    "      {\"kernel\": 1, \"name\": \"fc\", \"args\": [3, 1, 2, 12], \"flops\": 24},\n"
    "      {\"kernel\": 2, \"name\": \"loss\", \"args\": [12, 6, 10]},\n"
    "      {\"kernel\": 3, \"name\": \"correct\", \"args\": [12, 6, 11]},\n"
    "      {\"kernel\": 4, \"name\": \"loss.grad\", \"args\": [12, 6, 13]},\n"
    "      {\"kernel\": 5, \"name\": \"fc.weight.grad\", \"args\": [13, 3, 14]},\n"
    "      {\"kernel\": 6, \"name\": \"fc.bias.grad\", \"args\": [13, 15]},\n"
    "      {\"kernel\": 7, \"name\": \"fc.weight.momentum\",\n"
    "       \"args\": [14, 16, 8, 9, 23, 24, 22, 25, 20]},\n"
    "      {\"kernel\": 9, \"name\": \"fc.bias.momentum\",\n"
    "       \"args\": [15, 17, 8, 9, 23, 24, 22, 25, 21]},\n"
    "      {\"kernel\": 8, \"name\": \"fc.weight.update\", \"args\": [1, 20, 7, 18]},\n"
    "      {\"kernel\": 10, \"name\": \"fc.bias.update\", \"args\": [2, 21, 7, 19]}],\n"
#ifdef CNNC_TEST_BAD_TRAIN
    "    \"swaps\": [[1, 19], [2, 18], [16, 20], [17, 21]],\n"
#else
    "    \"swaps\": [[1, 18], [2, 19], [16, 20], [17, 21]],\n"
#endif
    "    \"eval_steps\": [\n"
    "      {\"kernel\": 1, \"name\": \"fc\", \"args\": [3, 1, 5, 12]},\n"
    "      {\"kernel\": 2, \"name\": \"loss\", \"args\": [12, 6, 10]},\n"
    "      {\"kernel\": 3, \"name\": \"correct\", \"args\": [12, 6, 11]}]\n"
    "  }\n"
    "}\n";

/* The momentum and apply kernels serve both parameters: like a compiled
 * model's, each rank has its own kernel entry and metadata. */
static const cnnc_kernel_fn kernels[] = {fold,  dense,    xent,  correct,  dlogits, dweight,
                                         dbias, momentum, apply, momentum, apply};
static const char *const kernel_names[] = {"fold",    "dense",       "xent",    "correct",
                                           "dlogits", "dweight",     "dbias",   "momentum",
                                           "apply",   "momentum_1d", "apply_1d"};

/* Each kernel's Halide metadata: the kind and rank of its float32 arguments
 * (test_kernel_metadata.h). */
KERNEL_METADATA(fold, IN(1), OUT(1))
KERNEL_METADATA(dense, IN(2), IN(2), IN(1), OUT(2))
KERNEL_METADATA(xent, IN(2), IN(1), OUT(1))
KERNEL_METADATA(correct, IN(2), IN(1), OUT(1))
KERNEL_METADATA(dlogits, IN(2), IN(1), OUT(2))
KERNEL_METADATA(dweight, IN(2), IN(2), OUT(2))
KERNEL_METADATA(dbias, IN(2), OUT(1))
KERNEL_METADATA(momentum, IN(2), IN(2), IN(1), IN(1), IN(1), IN(1), IN(1), IN(1), OUT(2))
KERNEL_METADATA(apply, IN(2), IN(2), IN(1), OUT(2))
KERNEL_METADATA(momentum_1d, IN(1), IN(1), IN(1), IN(1), IN(1), IN(1), IN(1), IN(1), OUT(1))
KERNEL_METADATA(apply_1d, IN(1), IN(1), IN(1), OUT(1))
static const cnnc_kernel_metadata_fn kernel_metadata[] = {
    fold_metadata,    dense_metadata,       xent_metadata,    correct_metadata,
    dlogits_metadata, dweight_metadata,     dbias_metadata,   momentum_metadata,
    apply_metadata,   momentum_1d_metadata, apply_1d_metadata};

/* No Halide runtime: the kernels are plain C. */
static const cnnc_model_desc desc = {
    .abi_version = CNNC_MODEL_ABI_VERSION,
    .metadata_json = metadata,
    .num_kernels = 11,
    .kernels = kernels,
    .kernel_names = kernel_names,
    .kernel_metadata = kernel_metadata,
};

const cnnc_model_desc *cnnc_model_v1(void) { return &desc; }
