//===- session_test.cpp - Threads: the in-use flag and sessions -----------===//
//
// A model used by two threads at once reports the second call as busy;
// sessions of one model run on several threads at once and give exactly
// the single-threaded results; the parameters cannot change while a
// session is open; a session keeps a freed model alive; scratch memory is
// returned when a model is freed; an allocation that fails at run time
// names the buffer, its size and the batch. test_session_model.c is the
// model (its `scale` kernel can be held inside a call). With a compiled
// CPU model (CNNC_TEST_MNIST_CPU, outside runtime-only builds), sessions
// run real Halide kernels on several threads too. The suite is meant to
// run clean under ThreadSanitizer (docs/runtime.md, "Threads").
//
//===----------------------------------------------------------------------===//
#include "cnnc/runtime.h"
#include "cnnc/runtime.hpp"
#include "model.h"
#include "scratch.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <dlfcn.h>
#include <sched.h>

#include <string>
#include <thread>
#include <vector>

using ::testing::HasSubstr;

namespace {

const float kW[4] = {1.0f, -2.0f, 0.5f, 3.0f};

/// The model's formula: y[n] = sum_i x[n][i] * (w_i^2 + 1) + sum_i (w_i^2 + 1).
std::vector<float> expected(const std::vector<float> &x) {
  std::vector<float> y(x.size() / 4);
  float d[4], s = 0;
  for (int i = 0; i < 4; ++i) {
    d[i] = kW[i] * kW[i] + 1.0f;
    s += d[i];
  }
  for (size_t n = 0; n < y.size(); ++n) {
    float acc = 0;
    for (int i = 0; i < 4; ++i)
      acc += x[4 * n + i] * d[i];
    y[n] = acc + s;
  }
  return y;
}

/// `batch` rows of distinct values, different for each `seed`.
std::vector<float> inputFor(int64_t batch, int seed) {
  std::vector<float> x(size_t(batch) * 4);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = float((int(i) * 7 + seed * 13) % 23) * 0.25f - 2.0f;
  return x;
}

/// The test model's hooks: how many calls wait inside `scale`, and letting them go.
struct Hold {
  int (*entered)() = nullptr;
  void (*release)(int) = nullptr;
  void *library = nullptr;
  Hold() {
    library = dlopen(CNNC_TEST_SESSION_MODEL, RTLD_NOW | RTLD_LOCAL);
    if (!library)
      return;
    entered = reinterpret_cast<int (*)()>(dlsym(library, "cnnc_test_session_entered"));
    release = reinterpret_cast<void (*)(int)>(dlsym(library, "cnnc_test_session_release"));
    release(0);
  }
  ~Hold() {
    if (library) {
      release(1);
      dlclose(library);
    }
  }
  void waitUntilEntered(int calls) {
    while (entered() < calls)
      sched_yield();
  }
};

class SessionTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_EQ(cnnc_model_load(CNNC_TEST_SESSION_MODEL, &model), CNNC_OK) << cnnc_last_error();
    ASSERT_EQ(cnnc_model_set_parameter(model, "w", kW, 4), CNNC_OK) << cnnc_last_error();
    ASSERT_TRUE(hold.entered && hold.release);
  }
  void TearDown() override { cnnc_model_free(model); }

  /// Runs `x` through the model itself.
  std::vector<float> runModel(const std::vector<float> &x) {
    std::vector<float> y(x.size() / 4);
    const float *in[] = {x.data()};
    float *out[] = {y.data()};
    EXPECT_EQ(cnnc_model_run(model, int64_t(y.size()), in, out), CNNC_OK) << cnnc_last_error();
    return y;
  }

  Hold hold;
  cnnc_model *model = nullptr;
};

TEST_F(SessionTest, TheModelComputesItsFormula) {
  std::vector<float> x = inputFor(5, 1);
  EXPECT_EQ(runModel(x), expected(x));
}

TEST_F(SessionTest, ThreadsRunSessionsLikeOneThreadRunsTheModel) {
  constexpr int kThreads = 4, kRuns = 25;
  // The single-threaded results, per batch size and seed.
  std::vector<std::vector<float>> reference;
  for (int r = 0; r < kRuns; ++r)
    reference.push_back(runModel(inputFor(1 + r % 9, r)));
  // Opening a session is a call on the model: done before the model runs on this thread.
  std::vector<cnnc_session *> sessions(kThreads);
  for (cnnc_session *&session : sessions)
    ASSERT_EQ(cnnc_session_create(model, &session), CNNC_OK) << cnnc_last_error();
  std::vector<std::vector<std::vector<float>>> results(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      cnnc_session *session = sessions[t];
      for (int r = 0; r < kRuns; ++r) {
        // Each thread goes through the batches in its own order.
        int k = (r + t * 7) % kRuns;
        std::vector<float> x = inputFor(1 + k % 9, k), y(x.size() / 4);
        const float *in[] = {x.data()};
        float *out[] = {y.data()};
        if (cnnc_session_run(session, int64_t(y.size()), in, out) != CNNC_OK) {
          errors[t] = cnnc_last_error();
          break;
        }
        results[t].resize(kRuns);
        results[t][k] = y;
      }
      cnnc_session_free(session);
    });
  // The model runs its own calls meanwhile.
  for (int r = 0; r < kRuns; ++r)
    EXPECT_EQ(runModel(inputFor(1 + r % 9, r)), reference[r]);
  for (std::thread &t : threads)
    t.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(errors[t], "") << "thread " << t;
    for (int r = 0; r < kRuns; ++r)
      EXPECT_EQ(results[t][r], reference[r]) << "thread " << t << ", run " << r;
  }
  EXPECT_EQ(reference[3], expected(inputFor(4, 3)));
}

TEST_F(SessionTest, ASecondThreadsCallOnABusyModelIsRefused) {
  std::vector<float> x = inputFor(2, 0);
  x[0] = -777.0f; // held inside the `scale` kernel until released
  std::vector<float> y(2);
  cnnc_status first = CNNC_ERROR_KERNEL;
  std::thread owner([&] {
    const float *in[] = {x.data()};
    float *out[] = {y.data()};
    first = cnnc_model_run(model, 2, in, out);
  });
  hold.waitUntilEntered(1);

  std::vector<float> x2 = inputFor(2, 1), y2(2);
  const float *in2[] = {x2.data()};
  float *out2[] = {y2.data()};
  EXPECT_EQ(cnnc_model_run(model, 2, in2, out2), CNNC_ERROR_BUSY);
  EXPECT_STREQ(cnnc_last_error(),
               "cnnc_model_run: model 'session_test' is in use by another thread: a model runs "
               "one call at a time; use one session per thread (cnnc_session_create)");
  EXPECT_STREQ(cnnc_status_string(CNNC_ERROR_BUSY), "in use");
  EXPECT_EQ(cnnc_model_set_parameter(model, "w", kW, 4), CNNC_ERROR_BUSY);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("cnnc_model_set_parameter: model 'session_test' is in "
                                           "use by another thread"));
  float w[4];
  EXPECT_EQ(cnnc_model_get_parameter(model, "w", 4, w), CNNC_ERROR_BUSY);
  EXPECT_EQ(cnnc_model_prepare(model), CNNC_ERROR_BUSY);
  cnnc_session *session = nullptr;
  EXPECT_EQ(cnnc_session_create(model, &session), CNNC_ERROR_BUSY);
  EXPECT_EQ(session, nullptr);

  hold.release(1);
  owner.join();
  EXPECT_EQ(first, CNNC_OK);
  // Free again: the refused calls left nothing behind.
  EXPECT_EQ(cnnc_model_run(model, 2, in2, out2), CNNC_OK) << cnnc_last_error();
  EXPECT_EQ(y2, expected(x2));
}

TEST_F(SessionTest, ASessionRunsOneCallAtATimeAndOthersRunMeanwhile) {
  cnnc_session *held = nullptr, *other = nullptr;
  ASSERT_EQ(cnnc_session_create(model, &held), CNNC_OK) << cnnc_last_error();
  ASSERT_EQ(cnnc_session_create(model, &other), CNNC_OK) << cnnc_last_error();
  std::vector<float> x = inputFor(3, 0), y(3);
  x[4] = -777.0f;
  cnnc_status first = CNNC_ERROR_KERNEL;
  std::thread owner([&] {
    const float *in[] = {x.data()};
    float *out[] = {y.data()};
    first = cnnc_session_run(held, 3, in, out);
  });
  hold.waitUntilEntered(1);

  std::vector<float> x2 = inputFor(3, 2), y2(3);
  const float *in2[] = {x2.data()};
  float *out2[] = {y2.data()};
  EXPECT_EQ(cnnc_session_run(held, 3, in2, out2), CNNC_ERROR_BUSY);
  EXPECT_STREQ(cnnc_last_error(),
               "cnnc_session_run: a session of model 'session_test' is in use by another "
               "thread: a session runs one call at a time; create one session per thread");
  // Another session and the model itself run while the first session waits.
  EXPECT_EQ(cnnc_session_run(other, 3, in2, out2), CNNC_OK) << cnnc_last_error();
  EXPECT_EQ(y2, expected(x2));
  std::fill(y2.begin(), y2.end(), 0.0f);
  EXPECT_EQ(cnnc_model_run(model, 3, in2, out2), CNNC_OK) << cnnc_last_error();
  EXPECT_EQ(y2, expected(x2));

  hold.release(1);
  owner.join();
  EXPECT_EQ(first, CNNC_OK);
  EXPECT_EQ(y, expected(x));
  cnnc_session_free(held);
  cnnc_session_free(other);
}

TEST_F(SessionTest, ParametersCannotChangeWhileASessionIsOpen) {
  cnnc::Model wrapper = cnnc::Model(CNNC_TEST_SESSION_MODEL);
  wrapper.setParameter("w", std::vector<float>(kW, kW + 4));
  {
    cnnc::Session a(wrapper), b(wrapper);
    try {
      wrapper.setParameter("w", std::vector<float>(4, 1.0f));
      FAIL() << "setParameter succeeded with sessions open";
    } catch (const cnnc::Error &e) {
      EXPECT_EQ(e.status(), CNNC_ERROR_BUSY);
      EXPECT_STREQ(e.what(), "cnnc_model_set_parameter: model 'session_test' has 2 open "
                             "sessions, which read its parameters: free them "
                             "(cnnc_session_free) before changing the parameters");
    }
    EXPECT_EQ(cnnc_model_load_parameters(wrapper.get(), "/nonexistent.safetensors"),
              CNNC_ERROR_BUSY);
    EXPECT_THAT(cnnc_last_error(), HasSubstr("cnnc_model_load_parameters: model 'session_test' "
                                             "has 2 open sessions"));
    // Preparing again would rewrite what the sessions read: nothing runs.
    EXPECT_EQ(cnnc_model_prepare(wrapper.get()), CNNC_OK) << cnnc_last_error();
    std::vector<float> x = inputFor(2, 5);
    EXPECT_EQ(a.run(2, x), expected(x));
    EXPECT_EQ(wrapper.run(2, x), expected(x));
    EXPECT_EQ(wrapper.getParameter("w"), std::vector<float>(kW, kW + 4));
  }
  // Once the sessions are freed, the parameters change again.
  wrapper.setParameter("w", std::vector<float>(4, 0.0f));
  EXPECT_EQ(wrapper.run(1, std::vector<float>{1, 1, 1, 1}), std::vector<float>{8.0f});
}

TEST_F(SessionTest, ASessionKeepsAFreedModelLoaded) {
  cnnc_session *session = nullptr;
  ASSERT_EQ(cnnc_session_create(model, &session), CNNC_OK) << cnnc_last_error();
  EXPECT_STREQ(cnnc_model_name(cnnc_session_model(session)), "session_test");
  cnnc_model_free(model);
  model = nullptr;
  std::vector<float> x = inputFor(4, 9), y(4);
  const float *in[] = {x.data()};
  float *out[] = {y.data()};
  EXPECT_EQ(cnnc_session_run(session, 4, in, out), CNNC_OK) << cnnc_last_error();
  EXPECT_EQ(y, expected(x));
  cnnc_session_free(session); // frees the model too (ASan and TSan builds check it)
}

TEST_F(SessionTest, ArgumentsAreChecked) {
  cnnc_session *session = nullptr;
  EXPECT_EQ(cnnc_session_create(nullptr, &session), CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(cnnc_last_error(), "cnnc_session_create: model is null");
  EXPECT_EQ(cnnc_session_create(model, nullptr), CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(cnnc_session_run(nullptr, 1, nullptr, nullptr), CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(cnnc_last_error(), "cnnc_session_run: session is null");
  ASSERT_EQ(cnnc_session_create(model, &session), CNNC_OK) << cnnc_last_error();
  float y[1];
  float *out[] = {y};
  EXPECT_EQ(cnnc_session_run(session, 1, nullptr, out), CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(cnnc_last_error(), "cnnc_session_run: inputs is null");
  EXPECT_EQ(cnnc_session_run(session, 0, nullptr, out), CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(cnnc_last_error(), "batch size must be at least 1, got 0");
  cnnc_session_free(session);
  cnnc_session_free(nullptr);
  EXPECT_EQ(cnnc_session_model(nullptr), nullptr);
}

TEST(Session, NeedsEveryParameterSet) {
  cnnc_model *model = nullptr;
  ASSERT_EQ(cnnc_model_load(CNNC_TEST_SESSION_MODEL, &model), CNNC_OK) << cnnc_last_error();
  cnnc_session *session = nullptr;
  EXPECT_EQ(cnnc_session_create(model, &session), CNNC_ERROR_PARAMETER);
  EXPECT_STREQ(cnnc_last_error(), "parameter 'w' has not been set (load a safetensors file first)");
  EXPECT_EQ(session, nullptr);
  cnnc_model_free(model);
}

TEST(Session, AGpuModelHasNone) {
  cnnc_model *model = nullptr;
  ASSERT_EQ(cnnc_model_load(CNNC_TEST_MODEL_FAKE_DEVICE, &model), CNNC_OK) << cnnc_last_error();
  cnnc_session *session = nullptr;
  EXPECT_EQ(cnnc_session_create(model, &session), CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(cnnc_last_error(),
               "cnnc_session_create: model 'tiny_dense' runs on opencl: sessions share a CPU "
               "model's parameters only; use one model per thread");
  cnnc_model_free(model);
}

TEST(Scratch, IsReturnedWhenTheModelIsFreed) {
  cnnc_model *model = nullptr;
  ASSERT_EQ(cnnc_model_load(CNNC_TEST_SESSION_MODEL, &model), CNNC_OK) << cnnc_last_error();
  ASSERT_EQ(cnnc_model_set_parameter(model, "w", kW, 4), CNNC_OK) << cnnc_last_error();
  std::vector<float> x = inputFor(64, 0), y(64);
  const float *in[] = {x.data()};
  float *out[] = {y.data()};
  ASSERT_EQ(cnnc_model_run(model, 64, in, out), CNNC_OK) << cnnc_last_error();
  // The kernel's block of 64 * 4 floats is kept for the next call.
  EXPECT_GE(cnnc::rt::scratchBytesKept(), 64u * 4 * sizeof(float));
  EXPECT_EQ(cnnc::rt::scratchBytesInUse(), 0u);
  size_t kept = cnnc::rt::scratchBytesKept();
  ASSERT_EQ(cnnc_model_run(model, 64, in, out), CNNC_OK) << cnnc_last_error();
  EXPECT_EQ(cnnc::rt::scratchBytesKept(), kept); // reused, nothing new
  cnnc_model_free(model);
  EXPECT_EQ(cnnc::rt::scratchBytesKept(), 0u);
}

/// Makes ensureBatch fail above `bytes`, as if memory ran out, while it lives.
struct AllocationLimit {
  explicit AllocationLimit(size_t bytes) { cnnc::rt::setHostAllocationLimit(bytes); }
  ~AllocationLimit() { cnnc::rt::setHostAllocationLimit(0); }
};

TEST_F(SessionTest, AFailedAllocationNamesTheBufferItsSizeAndTheBatch) {
  std::vector<float> x = inputFor(3, 0), y(3);
  const float *in[] = {x.data()};
  float *out[] = {y.data()};
  cnnc_session *session = nullptr;
  ASSERT_EQ(cnnc_session_create(model, &session), CNNC_OK) << cnnc_last_error();
  {
    AllocationLimit limit(1 << 20);
    // Only the sizes matter: nothing is read before the allocation fails.
    EXPECT_EQ(cnnc_model_run(model, 100000, in, out), CNNC_ERROR_OUT_OF_MEMORY);
    EXPECT_STREQ(cnnc_last_error(),
                 "cannot allocate 1600000 bytes for input 'input' (shape [-1,4], batch 100000)");
    EXPECT_EQ(cnnc_session_run(session, 70000, in, out), CNNC_ERROR_OUT_OF_MEMORY);
    EXPECT_STREQ(cnnc_last_error(),
                 "cannot allocate 1120000 bytes for input 'input' (shape [-1,4], batch 70000)");
  }
  // Beyond Halide's 32-bit extents: refused before anything is allocated.
  EXPECT_EQ(cnnc_model_run(model, int64_t(1) << 30, in, out), CNNC_ERROR_OUT_OF_MEMORY);
  EXPECT_STREQ(cnnc_last_error(),
               "input 'input' of shape [-1,4] at batch 1073741824 exceeds Halide's 32-bit "
               "extents (at most 2147483647 elements)");
  EXPECT_EQ(cnnc_model_run(model, int64_t(1) << 40, in, out), CNNC_ERROR_OUT_OF_MEMORY);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("at batch 1099511627776 exceeds Halide's 32-bit"));
  // The failures left both usable.
  EXPECT_EQ(cnnc_model_run(model, 3, in, out), CNNC_OK) << cnnc_last_error();
  EXPECT_EQ(y, expected(x));
  std::fill(y.begin(), y.end(), 0.0f);
  EXPECT_EQ(cnnc_session_run(session, 3, in, out), CNNC_OK) << cnnc_last_error();
  EXPECT_EQ(y, expected(x));
  cnnc_session_free(session);
}

TEST(Session, RealKernelsOnSeveralThreads) {
#ifndef CNNC_TEST_MNIST_CPU
  GTEST_SKIP() << "the runtime-only build has no cnnc to compile the CPU test model";
#else
  cnnc::Model model(CNNC_TEST_MNIST_CPU);
  model.initParameters(7);
  constexpr int kThreads = 3, kRuns = 4;
  const int64_t batch = 5;
  std::vector<cnnc::TensorInfo> in = model.inputs(), out = model.outputs();
  ASSERT_EQ(in.size(), 1u);
  ASSERT_EQ(out.size(), 1u);
  std::vector<std::vector<float>> inputs, reference;
  for (int r = 0; r < kRuns; ++r) {
    std::vector<float> x(size_t(in[0].countFor(batch)));
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = float((i * 31 + size_t(r) * 17) % 255) / 255.0f;
    inputs.push_back(x);
    reference.push_back(model.run(batch, x));
  }
  std::vector<cnnc::Session> sessions;
  for (int t = 0; t < kThreads; ++t)
    sessions.emplace_back(model);
  std::vector<std::vector<std::vector<float>>> results(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      try {
        for (int r = 0; r < kRuns; ++r)
          results[t].push_back(sessions[t].run(batch, inputs[(r + t) % kRuns]));
      } catch (const cnnc::Error &e) {
        errors[t] = e.what();
      }
    });
  for (std::thread &t : threads)
    t.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(errors[t], "") << "thread " << t;
    for (int r = 0; r < kRuns; ++r)
      EXPECT_EQ(results[t][r], reference[(r + t) % kRuns]) << "thread " << t << ", run " << r;
  }
#endif
}

} // namespace
