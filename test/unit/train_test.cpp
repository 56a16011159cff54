//===- train_test.cpp - Training, evaluation and checkpoints --------------===//
//
// Tests the training half of the runtime against test_train_model.c (softmax
// regression trained with SGD + momentum): seeded initialization within the
// bounds; one and two train steps against a hand computation in double (so
// the swaps of parameters and momentum really exchange storage); the hyper
// values the kernels see; learning on a separable toy set; evaluation (which
// must re-run the stale `prepare`); the step count; checkpoint round trip;
// bitwise resume; every malformed-checkpoint case and bad metadata/labels
// with their messages, a failed load changing nothing; the optimizer
// settings: the model file's defaults, the values the kernels see after
// cnnc_model_set_optimizer (a fresh momentum buffer undampened), every
// rejected setting with its message, and their checkpoint round trip.
//
//===----------------------------------------------------------------------===//
#include "cnnc/runtime.h"
#include "cnnc/runtime.hpp"
#include "test_util.h"

#include <dlfcn.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

using namespace cnnc::test;
using ::testing::HasSubstr;

namespace {

/// A toy batch: item n has class n % 3, a bright pixel at that class's
/// position and a little class-independent texture.
void toyBatch(int batch, int offset, std::vector<float> &x, std::vector<float> &y) {
  x.assign(size_t(batch) * 4, 0.0f);
  y.assign(size_t(batch), 0.0f);
  for (int n = 0; n < batch; ++n) {
    int c = (n + offset) % 3;
    y[n] = float(c);
    x[n * 4 + c] = 1.0f;
    x[n * 4 + 3] = 0.25f * float((n + offset) % 4);
  }
}

/// Double-precision reference of the fake model's train step (mean softmax
/// cross-entropy, SGD with momentum, 0.9 by default): updates w, b, mw, mb;
/// returns the loss.
double referenceStep(std::vector<double> &w, std::vector<double> &b, std::vector<double> &mw,
                     std::vector<double> &mb, const std::vector<float> &x,
                     const std::vector<float> &y, int batch, double lr, double *correct,
                     double momentum = 0.9, double dampening = 0) {
  std::vector<double> gw(12, 0.0), gb(3, 0.0);
  double loss = 0;
  *correct = 0;
  for (int n = 0; n < batch; ++n) {
    double z[3], m = -1e300, s = 0;
    for (int o = 0; o < 3; ++o) {
      z[o] = b[o];
      for (int i = 0; i < 4; ++i)
        z[o] += w[o * 4 + i] * x[n * 4 + i];
      m = std::max(m, z[o]);
    }
    int best = 0;
    for (int o = 1; o < 3; ++o)
      if (z[o] > z[best])
        best = o;
    *correct += best == int(y[n]);
    for (int o = 0; o < 3; ++o)
      s += std::exp(z[o] - m);
    loss += std::log(s) + m - z[int(y[n])];
    for (int o = 0; o < 3; ++o) {
      double d = (std::exp(z[o] - m) / s - (o == int(y[n]) ? 1.0 : 0.0)) / batch;
      gb[o] += d;
      for (int i = 0; i < 4; ++i)
        gw[o * 4 + i] += d * x[n * 4 + i];
    }
  }
  for (int k = 0; k < 12; ++k) {
    mw[k] = momentum * mw[k] + (1 - dampening) * gw[k];
    w[k] -= lr * mw[k];
  }
  for (int k = 0; k < 3; ++k) {
    mb[k] = momentum * mb[k] + (1 - dampening) * gb[k];
    b[k] -= lr * mb[k];
  }
  return loss / batch;
}

std::vector<double> toDouble(const std::vector<float> &v) { return {v.begin(), v.end()}; }

void expectNear(const std::vector<float> &got, const std::vector<double> &want, double tol,
                const char *what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], tol) << what << "[" << i << "]";
}

/// The test model's exported record of the hyper values its kernels saw.
struct HyperRecord {
  void *lib = dlopen(CNNC_TEST_TRAIN_MODEL, RTLD_NOW | RTLD_LOCAL);
  ~HyperRecord() {
    if (lib)
      dlclose(lib);
  }
  float get(const char *name) const { return *static_cast<float *>(dlsym(lib, name)); }
};

TEST(Train, MetadataAndDefaults) {
  cnnc::Model m(CNNC_TEST_TRAIN_MODEL);
  EXPECT_TRUE(m.hasTraining());
  cnnc::TrainInfo info = m.trainInfo();
  EXPECT_EQ(info.loss, "softmax_cross_entropy");
  EXPECT_EQ(info.optimizer, "sgd");
  EXPECT_DOUBLE_EQ(info.lr, 0.5);
  EXPECT_EQ(info.batch, 4);
  EXPECT_EQ(info.epochs, 3);
  EXPECT_EQ(info.classes, 3);
  std::vector<cnnc::TensorInfo> state = m.state();
  ASSERT_EQ(state.size(), 2u);
  EXPECT_EQ(state[0].name, "fc.weight.momentum_buffer");
  EXPECT_EQ(state[0].shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(state[1].name, "fc.bias.momentum_buffer");
  EXPECT_EQ(m.stepCount(), 0u);
}

TEST(Train, InferenceOnlyModelHasNoTraining) {
  cnnc::Model m(CNNC_TEST_MODEL);
  EXPECT_FALSE(m.hasTraining());
  EXPECT_TRUE(m.state().empty());
  EXPECT_EQ(cnnc_model_init_parameters(m.get(), 1), CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("was compiled without training"));
  std::vector<float> x(4), y(1);
  const float *in[] = {x.data()};
  float loss, correct;
  EXPECT_EQ(cnnc_model_train_step(m.get(), 1, in, y.data(), 0.1f, &loss, &correct),
            CNNC_ERROR_INVALID_ARGUMENT);
}

TEST(Train, BadTrainMetadataIsRejected) {
  cnnc_model *m = nullptr;
  EXPECT_EQ(cnnc_model_load(CNNC_TEST_TRAIN_MODEL_BAD, &m), CNNC_ERROR_FORMAT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("train.swaps[0]: shapes [3,4] and [3] differ"));
}

TEST(Train, InitIsSeededReproducibleAndWithinBounds) {
  cnnc::Model a(CNNC_TEST_TRAIN_MODEL), b(CNNC_TEST_TRAIN_MODEL), c(CNNC_TEST_TRAIN_MODEL);
  a.initParameters(7);
  b.initParameters(7);
  c.initParameters(8);
  EXPECT_EQ(a.getParameter("fc.weight"), b.getParameter("fc.weight"));
  EXPECT_EQ(a.getParameter("fc.bias"), b.getParameter("fc.bias"));
  EXPECT_NE(a.getParameter("fc.weight"), c.getParameter("fc.weight"));
  // Weight and bias draw from different streams.
  std::vector<float> w = a.getParameter("fc.weight"), bias = a.getParameter("fc.bias");
  EXPECT_NE(std::vector<float>(w.begin(), w.begin() + 3), bias);
  float lo = 1, hi = -1;
  for (float v : w) {
    EXPECT_GE(v, -0.5f);
    EXPECT_LE(v, 0.5f);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  EXPECT_LT(lo, 0.0f); // spread over both signs
  EXPECT_GT(hi, 0.0f);
  EXPECT_EQ(a.seed(), 7u);
  // Re-initialization after training resets state and the step count.
  std::vector<float> x, y;
  toyBatch(4, 0, x, y);
  a.trainStep(4, x, y, 0.1f);
  EXPECT_EQ(a.stepCount(), 1u);
  a.initParameters(7);
  EXPECT_EQ(a.stepCount(), 0u);
  EXPECT_EQ(a.getParameter("fc.weight"), b.getParameter("fc.weight"));
  EXPECT_EQ(a.getState("fc.weight.momentum_buffer"), std::vector<float>(12, 0.0f));
}

TEST(Train, TwoStepsMatchHandComputation) {
  cnnc::Model m(CNNC_TEST_TRAIN_MODEL);
  m.setParameter("fc.weight", testWeight());
  m.setParameter("fc.bias", testBias());
  std::vector<double> w = toDouble(testWeight()), b = toDouble(testBias()), mw(12, 0.0), mb(3, 0.0);
  HyperRecord hyper;
  ASSERT_NE(hyper.lib, nullptr);
  float seeds[2];
  for (int step = 1; step <= 2; ++step) {
    std::vector<float> x, y;
    toyBatch(step == 1 ? 5 : 3, step, x, y);
    int batch = int(y.size());
    double correct;
    double loss = referenceStep(w, b, mw, mb, x, y, batch, 0.1, &correct);
    cnnc::StepResult r = m.trainStep(batch, x, y, 0.1f);
    EXPECT_NEAR(r.loss, loss, 1e-5) << "step " << step;
    EXPECT_EQ(r.correct, float(correct)) << "step " << step;
    expectNear(m.getParameter("fc.weight"), w, 1e-5, "fc.weight");
    expectNear(m.getParameter("fc.bias"), b, 1e-5, "fc.bias");
    expectNear(m.getState("fc.weight.momentum_buffer"), mw, 1e-5, "momentum");
    expectNear(m.getState("fc.bias.momentum_buffer"), mb, 1e-5, "bias momentum");
    EXPECT_EQ(m.stepCount(), uint64_t(step));
    EXPECT_EQ(hyper.get("cnnc_test_last_step"), float(step));
    EXPECT_FLOAT_EQ(hyper.get("cnnc_test_last_lr"), 0.1f);
    seeds[step - 1] = hyper.get("cnnc_test_last_seed");
    EXPECT_EQ(seeds[step - 1], std::floor(seeds[step - 1]));
    EXPECT_GE(seeds[step - 1], 0.0f);
    EXPECT_LT(seeds[step - 1], 16777216.0f);
  }
  EXPECT_NE(seeds[0], seeds[1]);
}

TEST(Train, LearnsSeparableToySet) {
  cnnc::Model m(CNNC_TEST_TRAIN_MODEL);
  m.initParameters(1);
  std::vector<float> x, y;
  toyBatch(12, 0, x, y);
  float first = m.evaluate(12, x, y).loss;
  float loss = first;
  for (int i = 0; i < 40; ++i) {
    std::vector<float> bx, by;
    toyBatch(i % 2 ? 4 : 3, i, bx, by); // alternating batch sizes reuse storage
    loss = m.trainStep(int64_t(by.size()), bx, by, 0.5f).loss;
  }
  cnnc::StepResult r = m.evaluate(12, x, y);
  EXPECT_LT(r.loss, first * 0.2f);
  EXPECT_EQ(r.correct, 12.0f);
  EXPECT_LT(loss, first);
  EXPECT_EQ(m.stepCount(), 40u);
}

TEST(Train, EvaluateAndInferenceSeeTheUpdatedParameters) {
  cnnc::Model m(CNNC_TEST_TRAIN_MODEL);
  m.initParameters(3);
  std::vector<float> x, y;
  toyBatch(6, 0, x, y);
  m.evaluate(6, x, y); // runs prepare (the bias fold) for the initial parameters
  m.run(6, x);
  m.trainStep(6, x, y, 0.3f);
  std::vector<double> w = toDouble(m.getParameter("fc.weight")),
                      b = toDouble(m.getParameter("fc.bias")), mw(12, 0.0), mb(3, 0.0);
  double correct;
  double loss = referenceStep(w, b, mw, mb, x, y, 6, 0.0, &correct); // lr 0: loss only
  std::vector<float> before = m.getParameter("fc.weight");
  cnnc::StepResult r = m.evaluate(6, x, y);
  EXPECT_NEAR(r.loss, loss, 1e-5); // the stale fold re-ran: eval reads the new bias
  EXPECT_EQ(r.correct, float(correct));
  EXPECT_EQ(m.getParameter("fc.weight"), before); // evaluation changes nothing
  EXPECT_EQ(m.stepCount(), 1u);
  std::vector<float> out = m.run(6, x);
  for (int n = 0; n < 6; ++n)
    for (int o = 0; o < 3; ++o) {
      double z = b[o];
      for (int i = 0; i < 4; ++i)
        z += w[o * 4 + i] * x[n * 4 + i];
      EXPECT_NEAR(out[n * 3 + o], z, 1e-5);
    }
}

TEST(Train, RejectsBadLabelsAndArguments) {
  cnnc::Model m(CNNC_TEST_TRAIN_MODEL);
  m.initParameters(0);
  std::vector<float> x, y;
  toyBatch(2, 0, x, y);
  for (float bad : {3.0f, 1.5f, -1.0f, NAN}) {
    y[1] = bad;
    try {
      m.trainStep(2, x, y, 0.1f);
      FAIL() << "label " << bad << " accepted";
    } catch (const cnnc::Error &e) {
      EXPECT_EQ(e.status(), CNNC_ERROR_INVALID_ARGUMENT);
      EXPECT_THAT(e.what(), HasSubstr("label 1 is"));
      EXPECT_THAT(e.what(), HasSubstr("an integer in [0, 3)"));
    }
  }
  EXPECT_EQ(m.stepCount(), 0u);
  y[1] = 1;
  float loss, correct;
  const float *in[] = {x.data()};
  EXPECT_EQ(cnnc_model_train_step(m.get(), 0, in, y.data(), 0.1f, &loss, &correct),
            CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(cnnc_model_train_step(m.get(), 2, in, nullptr, 0.1f, &loss, &correct),
            CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("labels is null"));
  EXPECT_EQ(cnnc_model_train_step(m.get(), 2, in, y.data(), NAN, &loss, &correct),
            CNNC_ERROR_INVALID_ARGUMENT);
  cnnc::Model fresh(CNNC_TEST_TRAIN_MODEL);
  EXPECT_EQ(cnnc_model_train_step(fresh.get(), 2, in, y.data(), 0.1f, &loss, &correct),
            CNNC_ERROR_PARAMETER);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("has not been set"));
}

TEST(Optimizer, StartsWithTheModelFilesSettings) {
  cnnc::Model m(CNNC_TEST_TRAIN_MODEL);
  cnnc::OptimizerSettings s = m.optimizer();
  EXPECT_EQ(s.name, "sgd");
  EXPECT_DOUBLE_EQ(s.momentum, 0.9);
  EXPECT_EQ(s.dampening, 0.0);
  EXPECT_EQ(s.weightDecay, 0.0);
  EXPECT_FALSE(s.nesterov);
  // Options of the other family: PyTorch's defaults.
  EXPECT_DOUBLE_EQ(s.beta1, 0.9);
  EXPECT_DOUBLE_EQ(s.beta2, 0.999);
  EXPECT_DOUBLE_EQ(s.epsilon, 1e-8);
  cnnc::Model inference(CNNC_TEST_MODEL);
  cnnc_optimizer_settings c;
  EXPECT_EQ(cnnc_model_get_optimizer(inference.get(), &c), CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("was compiled without training"));
}

TEST(Optimizer, SettingsReachTheKernelsBetweenSteps) {
  cnnc::Model m(CNNC_TEST_TRAIN_MODEL);
  m.setParameter("fc.weight", testWeight());
  m.setParameter("fc.bias", testBias());
  cnnc::OptimizerSettings s = m.optimizer();
  s.momentum = 0.5;
  s.dampening = 0.25;
  s.weightDecay = 0.01;
  m.setOptimizer(s);
  EXPECT_DOUBLE_EQ(m.optimizer().momentum, 0.5);
  std::vector<double> w = toDouble(testWeight()), b = toDouble(testBias()), mw(12, 0.0), mb(3, 0.0);
  HyperRecord hyper;
  for (int step = 1; step <= 3; ++step) {
    if (step == 3) { // a change between steps keeps the buffer
      s.momentum = 0.8;
      m.setOptimizer(s);
    }
    std::vector<float> x, y;
    toyBatch(4, step, x, y);
    double correct;
    // PyTorch's new momentum buffer is the first gradient itself: no dampening.
    double dampening = step == 1 ? 0.0 : 0.25;
    referenceStep(w, b, mw, mb, x, y, 4, 0.1, &correct, s.momentum, dampening);
    m.trainStep(4, x, y, 0.1f);
    EXPECT_FLOAT_EQ(hyper.get("cnnc_test_last_momentum"), float(s.momentum)) << "step " << step;
    EXPECT_EQ(hyper.get("cnnc_test_last_dampening"), float(dampening)) << "step " << step;
    EXPECT_FLOAT_EQ(hyper.get("cnnc_test_last_weight_decay"), 0.01f);
    EXPECT_EQ(hyper.get("cnnc_test_last_nesterov"), 0.0f);
    EXPECT_EQ(hyper.get("cnnc_test_last_step"), float(step));
    expectNear(m.getState("fc.weight.momentum_buffer"), mw, 1e-5, "momentum");
    expectNear(m.getParameter("fc.weight"), w, 1e-5, "fc.weight");
  }
  s.nesterov = true;
  s.dampening = 0;
  m.setOptimizer(s);
  std::vector<float> x, y;
  toyBatch(4, 0, x, y);
  m.trainStep(4, x, y, 0.1f);
  EXPECT_EQ(hyper.get("cnnc_test_last_nesterov"), 1.0f);
  // Initialization zeroes the state and keeps the settings: the buffer is new again.
  m.initParameters(3);
  EXPECT_TRUE(m.optimizer().nesterov);
  s.nesterov = false;
  s.dampening = 0.5;
  m.setOptimizer(s);
  m.trainStep(4, x, y, 0.1f);
  EXPECT_EQ(hyper.get("cnnc_test_last_dampening"), 0.0f);
  EXPECT_EQ(hyper.get("cnnc_test_last_step"), 1.0f);
}

TEST(Optimizer, RejectsBadSettingsAndWhatTheStateCannotRun) {
  cnnc::Model m(CNNC_TEST_TRAIN_MODEL);
  const cnnc::OptimizerSettings good = m.optimizer();
  struct Case {
    void (*change)(cnnc::OptimizerSettings &);
    const char *message;
  } cases[] = {
      {[](cnnc::OptimizerSettings &s) { s.name = "lbfgs"; },
       "unknown optimizer \"lbfgs\" (expected \"sgd\", \"adam\" or \"adamw\")"},
      {[](cnnc::OptimizerSettings &s) { s.momentum = -0.5; },
       "momentum must be a finite number >= 0, got -0.5"},
      {[](cnnc::OptimizerSettings &s) { s.weightDecay = NAN; },
       "weight_decay must be a finite number >= 0, got nan"},
      {[](cnnc::OptimizerSettings &s) { s.dampening = 2; }, "dampening must be in [0, 1], got 2"},
      {[](cnnc::OptimizerSettings &s) { s.beta1 = 1; }, "beta1 must be in [0, 1), got 1"},
      {[](cnnc::OptimizerSettings &s) { s.beta2 = -0.1; }, "beta2 must be in [0, 1), got -0.1"},
      {[](cnnc::OptimizerSettings &s) { s.epsilon = 0; },
       "epsilon must be a finite number > 0, got 0"},
      {[](cnnc::OptimizerSettings &s) {
         s.nesterov = true;
         s.dampening = 0.1;
       },
       "Nesterov momentum needs a momentum > 0 and zero dampening (as torch.optim.SGD), got "
       "momentum 0.9 and dampening 0.1"},
      {[](cnnc::OptimizerSettings &s) {
         s.nesterov = true;
         s.momentum = 0;
       },
       "Nesterov momentum needs a momentum > 0 and zero dampening"},
      {[](cnnc::OptimizerSettings &s) { s.name = "adam"; },
       "was compiled for sgd with momentum: its state is one momentum buffer per parameter, so "
       "it runs sgd only (any momentum >= 0, Nesterov or not), not adam (two moments per "
       "parameter); compile it with --optimizer adam (or adamw) to switch between sgd, adam and "
       "adamw at run time"},
  };
  for (const Case &c : cases) {
    cnnc::OptimizerSettings s = good;
    c.change(s);
    try {
      m.setOptimizer(s);
      ADD_FAILURE() << "accepted: " << c.message;
    } catch (const cnnc::Error &e) {
      EXPECT_EQ(e.status(), CNNC_ERROR_INVALID_ARGUMENT);
      EXPECT_THAT(e.what(), ::testing::StartsWith("cnnc_model_set_optimizer: "));
      EXPECT_THAT(e.what(), HasSubstr(c.message));
    }
    EXPECT_DOUBLE_EQ(m.optimizer().momentum, 0.9); // nothing changed
    EXPECT_EQ(m.optimizer().name, "sgd");
  }
  // Momentum 0 and any weight decay are within what the state holds.
  cnnc::OptimizerSettings plain = good;
  plain.momentum = 0;
  plain.weightDecay = 5e-4;
  m.setOptimizer(plain);
  EXPECT_EQ(m.optimizer().momentum, 0.0);
  cnnc_optimizer_settings c{};
  EXPECT_EQ(cnnc_model_set_optimizer(m.get(), &c), CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("settings or its name is null"));
  EXPECT_EQ(cnnc_model_set_optimizer(m.get(), nullptr), CNNC_ERROR_INVALID_ARGUMENT);
}

/// A model initialized with `seed` and trained for `steps` toy steps.
cnnc::Model trained(uint64_t seed, int steps) {
  cnnc::Model m(CNNC_TEST_TRAIN_MODEL);
  m.initParameters(seed);
  for (int i = 0; i < steps; ++i) {
    std::vector<float> x, y;
    toyBatch(4, i, x, y);
    m.trainStep(4, x, y, 0.2f);
  }
  return m;
}

TEST(Checkpoint, RoundTrip) {
  TempDir dir;
  std::string path = dir.file("ckpt.safetensors");
  cnnc::Model a = trained(5, 3);
  a.save(path);
  cnnc::Model b(CNNC_TEST_TRAIN_MODEL);
  b.load(path);
  EXPECT_EQ(b.stepCount(), 3u);
  EXPECT_EQ(b.seed(), 5u);
  EXPECT_EQ(b.getParameter("fc.weight"), a.getParameter("fc.weight"));
  EXPECT_EQ(b.getParameter("fc.bias"), a.getParameter("fc.bias"));
  EXPECT_EQ(b.getState("fc.weight.momentum_buffer"), a.getState("fc.weight.momentum_buffer"));
  EXPECT_EQ(b.getState("fc.bias.momentum_buffer"), a.getState("fc.bias.momentum_buffer"));
  EXPECT_NE(a.getState("fc.bias.momentum_buffer"), std::vector<float>(3, 0.0f));
  // The file is plain safetensors: its parameters load as weights too.
  cnnc::Model c(CNNC_TEST_TRAIN_MODEL);
  c.loadParameters(path);
  EXPECT_EQ(c.getParameter("fc.weight"), a.getParameter("fc.weight"));
  // No temporary file is left behind.
  std::ifstream tmp(path + ".tmp-" + std::to_string(getpid()));
  EXPECT_FALSE(tmp.good());
}

TEST(Checkpoint, ResumeGivesTheSameNextStepBitwise) {
  TempDir dir;
  std::string path = dir.file("ckpt.safetensors");
  HyperRecord hyper;
  cnnc::Model a = trained(11, 2);
  a.save(path);
  std::vector<float> x, y;
  toyBatch(4, 7, x, y);
  cnnc::StepResult ra = a.trainStep(4, x, y, 0.2f);
  float seedA = hyper.get("cnnc_test_last_seed");
  cnnc::Model b(CNNC_TEST_TRAIN_MODEL);
  b.load(path);
  cnnc::StepResult rb = b.trainStep(4, x, y, 0.2f);
  EXPECT_EQ(hyper.get("cnnc_test_last_seed"), seedA);
  EXPECT_EQ(rb.loss, ra.loss);
  EXPECT_EQ(rb.correct, ra.correct);
  EXPECT_EQ(b.stepCount(), a.stepCount());
  EXPECT_EQ(b.getParameter("fc.weight"), a.getParameter("fc.weight"));
  EXPECT_EQ(b.getParameter("fc.bias"), a.getParameter("fc.bias"));
  EXPECT_EQ(b.getState("fc.weight.momentum_buffer"), a.getState("fc.weight.momentum_buffer"));
}

TEST(Checkpoint, RestoresTheOptimizerSettings) {
  TempDir dir;
  std::string path = dir.file("ckpt.safetensors");
  HyperRecord hyper;
  cnnc::Model a(CNNC_TEST_TRAIN_MODEL);
  a.initParameters(4);
  cnnc::OptimizerSettings s = a.optimizer();
  s.momentum = 0.7;
  s.dampening = 0.2;
  s.weightDecay = 0.003;
  a.setOptimizer(s);
  std::vector<float> x, y;
  toyBatch(4, 1, x, y);
  a.trainStep(4, x, y, 0.2f);
  a.save(path);
  cnnc::Model b(CNNC_TEST_TRAIN_MODEL);
  b.load(path);
  cnnc::OptimizerSettings r = b.optimizer();
  EXPECT_EQ(r.name, "sgd");
  EXPECT_EQ(r.momentum, 0.7);
  EXPECT_EQ(r.dampening, 0.2);
  EXPECT_EQ(r.weightDecay, 0.003);
  // The buffer is not new any more: the resumed step is dampened, as the uninterrupted one.
  a.trainStep(4, x, y, 0.2f);
  b.trainStep(4, x, y, 0.2f);
  EXPECT_FLOAT_EQ(hyper.get("cnnc_test_last_dampening"), 0.2f);
  EXPECT_EQ(b.getState("fc.weight.momentum_buffer"), a.getState("fc.weight.momentum_buffer"));
  EXPECT_EQ(b.getParameter("fc.weight"), a.getParameter("fc.weight"));
}

const char *const kCheckpointMeta =
    "{\"format\":\"cnnc-checkpoint-1\",\"cnnc_step\":\"4\",\"cnnc_seed\":\"0\"}";

std::vector<RawTensor> goodTensors() {
  return {{"fc.weight", "F32", "[3,4]", floatBytes(testWeight())},
          {"fc.bias", "F32", "[3]", floatBytes(testBias())},
          {"fc.weight.momentum_buffer", "F32", "[3,4]", floatBytes(std::vector<float>(12, 1))},
          {"fc.bias.momentum_buffer", "F32", "[3]", floatBytes(std::vector<float>(3, 1))}};
}

/// Loads `bytes` as a checkpoint into a trained model; checks that a failure
/// changes nothing, returns the status and the message.
cnnc_status loadCheckpointBytes(const std::string &bytes, std::string &message) {
  TempDir dir;
  std::string path = dir.file("bad.safetensors");
  writeFile(path, bytes);
  cnnc::Model m = trained(2, 1);
  std::vector<float> w = m.getParameter("fc.weight"), mw = m.getState("fc.weight.momentum_buffer");
  cnnc_status s = cnnc_model_load_checkpoint(m.get(), path.c_str());
  message = cnnc_last_error();
  if (s != CNNC_OK) {
    EXPECT_EQ(m.getParameter("fc.weight"), w);
    EXPECT_EQ(m.getState("fc.weight.momentum_buffer"), mw);
    EXPECT_EQ(m.stepCount(), 1u);
  }
  return s;
}

TEST(Checkpoint, HandWrittenCheckpointLoads) {
  std::string msg;
  ASSERT_EQ(loadCheckpointBytes(makeSafetensors(goodTensors(), kCheckpointMeta), msg), CNNC_OK)
      << msg;
}

TEST(Checkpoint, WithoutOptimizerSettingsKeepsTheCurrentOnes) {
  TempDir dir;
  std::string path = dir.file("old.safetensors");
  writeFile(path, makeSafetensors(goodTensors(), kCheckpointMeta));
  cnnc::Model m(CNNC_TEST_TRAIN_MODEL);
  cnnc::OptimizerSettings s = m.optimizer();
  s.momentum = 0.6;
  s.dampening = 0.3;
  m.setOptimizer(s);
  m.load(path);
  EXPECT_EQ(m.optimizer().momentum, 0.6);
  // Four steps in, the buffer is in use: dampened.
  HyperRecord hyper;
  std::vector<float> x, y;
  toyBatch(4, 0, x, y);
  m.trainStep(4, x, y, 0.1f);
  EXPECT_FLOAT_EQ(hyper.get("cnnc_test_last_dampening"), 0.3f);
  EXPECT_EQ(hyper.get("cnnc_test_last_step"), 5.0f);
}

TEST(Checkpoint, BadOptimizerSettings) {
  std::string settings = "{\\\"name\\\":\\\"adam\\\",\\\"momentum\\\":0,\\\"dampening\\\":0,"
                         "\\\"weight_decay\\\":0,\\\"nesterov\\\":false,\\\"beta1\\\":0.9,"
                         "\\\"beta2\\\":0.999,\\\"epsilon\\\":1e-8,\\\"state\\\":\\\"adam\\\","
                         "\\\"state_steps\\\":4}";
  std::string meta = "{\"format\":\"cnnc-checkpoint-1\",\"cnnc_step\":\"4\",\"cnnc_seed\":\"0\","
                     "\"cnnc_optimizer\":\"" +
                     settings + "\"}";
  std::string msg;
  EXPECT_EQ(loadCheckpointBytes(makeSafetensors(goodTensors(), meta), msg), CNNC_ERROR_FORMAT);
  EXPECT_THAT(msg, HasSubstr("optimizer settings (cnnc_optimizer) of checkpoint"));
  EXPECT_THAT(msg, HasSubstr("was compiled for sgd with momentum"));
  meta =
      "{\"format\":\"cnnc-checkpoint-1\",\"cnnc_step\":\"4\",\"cnnc_optimizer\":\"{\\\"name\\\"\"}";
  EXPECT_EQ(loadCheckpointBytes(makeSafetensors(goodTensors(), meta), msg), CNNC_ERROR_FORMAT);
  EXPECT_THAT(msg, HasSubstr("malformed optimizer settings (cnnc_optimizer) of checkpoint"));
}

TEST(Checkpoint, MissingStateTensor) {
  std::vector<RawTensor> t = goodTensors();
  t.pop_back();
  std::string msg;
  EXPECT_EQ(loadCheckpointBytes(makeSafetensors(t, kCheckpointMeta), msg), CNNC_ERROR_PARAMETER);
  EXPECT_THAT(msg, HasSubstr("missing optimizer state tensor 'fc.bias.momentum_buffer'"));
}

TEST(Checkpoint, WrongShape) {
  std::vector<RawTensor> t = goodTensors();
  t[2].shape = "[4,3]";
  std::string msg;
  EXPECT_EQ(loadCheckpointBytes(makeSafetensors(t, kCheckpointMeta), msg), CNNC_ERROR_PARAMETER);
  EXPECT_THAT(msg, HasSubstr("fc.weight.momentum_buffer: expected [3,4], found [4,3]"));
}

TEST(Checkpoint, WrongDtype) {
  std::vector<RawTensor> t = goodTensors();
  t[3].dtype = "F64";
  t[3].bytes += t[3].bytes;
  std::string msg;
  EXPECT_EQ(loadCheckpointBytes(makeSafetensors(t, kCheckpointMeta), msg), CNNC_ERROR_PARAMETER);
  EXPECT_THAT(msg, HasSubstr("fc.bias.momentum_buffer: expected dtype F32, found F64"));
}

TEST(Checkpoint, Truncated) {
  TempDir dir;
  std::string path = dir.file("ckpt.safetensors");
  trained(1, 1).save(path);
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string msg;
  EXPECT_EQ(loadCheckpointBytes(bytes.substr(0, bytes.size() - 10), msg), CNNC_ERROR_FORMAT);
  EXPECT_THAT(msg, HasSubstr("truncated safetensors file"));
  EXPECT_EQ(loadCheckpointBytes(bytes.substr(0, 5), msg), CNNC_ERROR_FORMAT);
  EXPECT_THAT(msg, HasSubstr("truncated"));
}

TEST(Checkpoint, ParametersOnlyFileIsNotACheckpoint) {
  TempDir dir;
  std::string path = dir.file("w.safetensors");
  trained(1, 1).saveParameters(path);
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string msg;
  EXPECT_EQ(loadCheckpointBytes(bytes, msg), CNNC_ERROR_FORMAT);
  EXPECT_THAT(msg, HasSubstr("is not a cnnc checkpoint"));
  EXPECT_THAT(msg, HasSubstr("no \"cnnc_step\""));
}

TEST(Checkpoint, BadMetadataValues) {
  std::string msg;
  EXPECT_EQ(loadCheckpointBytes(makeSafetensors(goodTensors(), "{\"format\":\"cnnc-checkpoint-1\","
                                                               "\"cnnc_step\":\"four\"}"),
                                msg),
            CNNC_ERROR_FORMAT);
  EXPECT_THAT(msg, HasSubstr("\"cnnc_step\" is \"four\", expected a non-negative integer"));
  EXPECT_EQ(loadCheckpointBytes(makeSafetensors(goodTensors(), "{\"format\":\"cnnc-checkpoint-9\","
                                                               "\"cnnc_step\":\"1\"}"),
                                msg),
            CNNC_ERROR_FORMAT);
  EXPECT_THAT(msg, HasSubstr("has format \"cnnc-checkpoint-9\""));
}

TEST(Checkpoint, MissingFileAndUnwritablePath) {
  cnnc::Model m = trained(1, 1);
  EXPECT_EQ(cnnc_model_load_checkpoint(m.get(), "/nonexistent/c.safetensors"), CNNC_ERROR_IO);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("cannot open checkpoint '/nonexistent/c.safetensors'"));
  EXPECT_EQ(cnnc_model_save_checkpoint(m.get(), "/nonexistent/c.safetensors"), CNNC_ERROR_IO);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("cannot write checkpoint"));
}

// The test model has neither a label_smoothing nor a clip_grad_norm hyper
// buffer: both settings stay 0, the only value it accepts; bad values are
// refused before that, and a refused call changes nothing.
TEST(Regularization, SettersValidateAndNeedTheirHyperBuffers) {
  cnnc::Model m(CNNC_TEST_TRAIN_MODEL);
  EXPECT_EQ(m.labelSmoothing(), 0.0);
  EXPECT_EQ(m.clipGradNorm(), 0.0);
  EXPECT_FALSE(m.hasClipGradNorm());
  m.setLabelSmoothing(0);
  m.setClipGradNorm(0);
  EXPECT_EQ(cnnc_model_set_label_smoothing(m.get(), 0.1f), CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("has no \"label_smoothing\" hyper-parameter"));
  for (float bad : {1.0f, -0.1f, NAN}) {
    EXPECT_EQ(cnnc_model_set_label_smoothing(m.get(), bad), CNNC_ERROR_INVALID_ARGUMENT);
    EXPECT_THAT(cnnc_last_error(), HasSubstr("label smoothing must be in [0, 1), got"));
  }
  EXPECT_EQ(cnnc_model_set_clip_grad_norm(m.get(), 1.0f), CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(cnnc_last_error(),
              HasSubstr("was compiled without gradient clipping; compile it with "
                        "--clip-grad-norm MAX_NORM"));
  for (float bad : {-1.0f, INFINITY, NAN}) {
    EXPECT_EQ(cnnc_model_set_clip_grad_norm(m.get(), bad), CNNC_ERROR_INVALID_ARGUMENT);
    EXPECT_THAT(cnnc_last_error(), HasSubstr("max_norm must be finite and >= 0"));
  }
  EXPECT_EQ(m.labelSmoothing(), 0.0);
  EXPECT_EQ(m.clipGradNorm(), 0.0);
  float value = 0;
  EXPECT_EQ(cnnc_model_get_label_smoothing(m.get(), nullptr), CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(cnnc_model_get_clip_grad_norm(nullptr, &value), CNNC_ERROR_INVALID_ARGUMENT);
  cnnc::Model inference(CNNC_TEST_MODEL);
  EXPECT_EQ(cnnc_model_set_clip_grad_norm(inference.get(), 0), CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("was compiled without training"));
  EXPECT_EQ(cnnc_model_has_clip_grad_norm(inference.get()), 0);
}

} // namespace
