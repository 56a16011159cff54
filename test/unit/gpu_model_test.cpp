//===- gpu_model_test.cpp - mnist_cnn compiled for CUDA, OpenCL and the CPU ===//
//
// Real GPU models: models/mnist_cnn.yaml compiled by cnnc at build time
// (test/unit/CMakeLists.txt) for CUDA (inference only, capability 8.0), for
// OpenCL and for the CPU (both with training). The CUDA model must fail to
// load with the exact missing-driver message where there is no CUDA driver
// (with a driver it loads, or names the missing device). The OpenCL model
// runs on whatever OpenCL platform is installed (PoCL on the CPU in CI; the
// tests skip, saying why, where there is none) and must match the CPU model:
// outputs, parameters after a train step from the same seed, optimizer
// state and loss, within max abs error <= 1e-4 * max(1, max|ref|). The
// transfers of steady-state inference and train steps are counted by
// wrapping the model's Halide copy and allocation entry points. Every
// model.so exports cnnc_model_v1 alone.
//
//===----------------------------------------------------------------------===//
#include "model.h"

#include "cnnc/runtime.h"
#include "cnnc/runtime.hpp"
#include "test_util.h"

#include <dlfcn.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <thread>

using namespace cnnc::test;
using ::testing::HasSubstr;

namespace {

#ifdef CNNC_TEST_MNIST_OPENCL
const char *const kCudaModel = CNNC_TEST_MNIST_CUDA;
const char *const kOpenClModel = CNNC_TEST_MNIST_OPENCL;
const char *const kCpuModel = CNNC_TEST_MNIST_CPU;
#define SKIP_WITHOUT_COMPILED_MODELS()
#else
const char *const kCudaModel = "", *const kOpenClModel = "", *const kCpuModel = "";
#define SKIP_WITHOUT_COMPILED_MODELS()                                                             \
  GTEST_SKIP() << "the runtime-only build has no cnnc to compile the GPU test models"
#endif

/// Max abs difference, and the bound 1e-4 * max(1, max|ref|) it must respect.
struct Comparison {
  double maxError = 0, bound = 0;
};

Comparison compare(const std::vector<float> &got, const std::vector<float> &ref) {
  Comparison c;
  double maxRef = 0;
  for (size_t i = 0; i < ref.size() && i < got.size(); ++i) {
    c.maxError = std::max(c.maxError, std::fabs(double(got[i]) - double(ref[i])));
    maxRef = std::max(maxRef, std::fabs(double(ref[i])));
  }
  c.bound = 1e-4 * std::max(1.0, maxRef);
  return c;
}

/// Expects `got` within the bound of `ref`, printing the error.
void expectClose(const std::vector<float> &got, const std::vector<float> &ref,
                 const std::string &what) {
  ASSERT_EQ(got.size(), ref.size()) << what;
  Comparison c = compare(got, ref);
  std::printf("  %-32s max abs error %.3g (bound %.3g)\n", what.c_str(), c.maxError, c.bound);
  EXPECT_LE(c.maxError, c.bound) << what;
}

/// Deterministic images in [0, 1) and labels in [0, 10).
std::vector<float> images(int64_t batch, uint64_t seed) {
  std::vector<float> x(size_t(batch) * 28 * 28);
  cnnc::rt::SplitMix64 rng(seed);
  for (float &v : x)
    v = float(rng.uniform());
  return x;
}

std::vector<float> labels(int64_t batch, uint64_t seed) {
  std::vector<float> y(static_cast<size_t>(batch));
  cnnc::rt::SplitMix64 rng(seed);
  for (float &v : y)
    v = float(rng.below(10));
  return y;
}

/// Counts the transfers and allocations the runtime asks of a model's Halide
/// runtime, by routing the copied entry points of its descriptor through here.
/// (Kernels copy nothing themselves: the runtime never hands them a
/// host-dirty buffer, as device_test.cpp checks.)
struct TransferCounts {
  static inline int toDevice = 0, toHost = 0, mallocs = 0;
  static inline cnnc_halide_runtime original = {};

  static int copyToDevice(void *context, halide_buffer_t *buf,
                          const halide_device_interface_t *interface) {
    ++toDevice;
    return original.copy_to_device(context, buf, interface);
  }
  static int copyToHost(void *context, halide_buffer_t *buf) {
    ++toHost;
    return original.copy_to_host(context, buf);
  }
  static int deviceMalloc(void *context, halide_buffer_t *buf,
                          const halide_device_interface_t *interface) {
    ++mallocs;
    return original.device_malloc(context, buf, interface);
  }
  static void install(cnnc_model &model) {
    original = model.halide;
    model.halide.copy_to_device = copyToDevice;
    model.halide.copy_to_host = copyToHost;
    model.halide.device_malloc = deviceMalloc;
    reset();
  }
  static void reset() { toDevice = toHost = mallocs = 0; }
};

/// Loads the OpenCL model, or says why it cannot run here.
std::unique_ptr<cnnc::Model> loadOpenCl(std::string &whyNot) {
  try {
    return std::make_unique<cnnc::Model>(kOpenClModel);
  } catch (const cnnc::Error &e) {
    if (e.status() != CNNC_ERROR_DEVICE)
      throw;
    whyNot = e.what();
    return nullptr;
  }
}

#define LOAD_OPENCL_OR_SKIP(name)                                                                  \
  SKIP_WITHOUT_COMPILED_MODELS();                                                                  \
  std::string whyNot;                                                                              \
  std::unique_ptr<cnnc::Model> name = loadOpenCl(whyNot);                                          \
  if (!name)                                                                                       \
  GTEST_SKIP() << "no OpenCL device to run on: " << whyNot

TEST(CudaModel, NeedsADriverAndADevice) {
  SKIP_WITHOUT_COMPILED_MODELS();
  cnnc_model *m = nullptr;
  cnnc_status status = cnnc_model_load(kCudaModel, &m);
  std::string message = cnnc_last_error();
  void *driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!driver) {
    std::printf("  no CUDA driver here: %s\n", message.c_str());
    EXPECT_EQ(status, CNNC_ERROR_DEVICE);
    EXPECT_EQ(message, "model.so targets CUDA, but no CUDA driver (libcuda.so.1) was found");
    EXPECT_EQ(m, nullptr);
    return;
  }
  dlclose(driver);
  if (status == CNNC_OK) {
    std::printf("  a CUDA driver and device are present: the model loaded\n");
    EXPECT_STREQ(cnnc_model_device_api(m), "cuda");
    cnnc_model_free(m);
    return;
  }
  std::printf("  a CUDA driver without a usable device: %s\n", message.c_str());
  EXPECT_EQ(status, CNNC_ERROR_DEVICE);
  EXPECT_THAT(message, HasSubstr("model.so targets CUDA, but "));
}

TEST(CompiledModel, ExportsTheEntryPointAlone) {
  SKIP_WITHOUT_COMPILED_MODELS();
  for (const char *path : {kCpuModel, kOpenClModel, kCudaModel}) {
    void *library = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
    ASSERT_NE(library, nullptr) << dlerror();
    EXPECT_NE(dlsym(library, "cnnc_model_v1"), nullptr) << path;
    for (const char *hidden : {"halide_copy_to_host", "halide_device_malloc",
                               "halide_set_error_handler", "halide_malloc"})
      EXPECT_EQ(dlsym(library, hidden), nullptr) << path << " exports " << hidden;
    dlclose(library);
  }
}

TEST(OpenClModel, RunMatchesTheCpuModel) {
  LOAD_OPENCL_OR_SKIP(gpu);
  cnnc::Model cpu(kCpuModel);
  EXPECT_EQ(gpu->deviceApi(), "opencl");
  EXPECT_EQ(cpu.deviceApi(), "");
  gpu->initParameters(3);
  cpu.initParameters(3);
  for (int64_t batch : {5, 2, 5}) {
    std::vector<float> x = images(batch, uint64_t(batch));
    expectClose(gpu->run(batch, x), cpu.run(batch, x), "output at batch " + std::to_string(batch));
  }
}

TEST(OpenClModel, ParametersRoundTrip) {
  LOAD_OPENCL_OR_SKIP(gpu);
  TempDir dir;
  std::string written = dir.file("cpu.safetensors"), reread = dir.file("gpu.safetensors");
  cnnc::Model cpu(kCpuModel);
  cpu.initParameters(11);
  cpu.saveParameters(written);
  gpu->loadParameters(written);
  std::vector<float> x = images(2, 1);
  gpu->run(2, x); // the parameters go to the device
  for (const cnnc::TensorInfo &p : cpu.parameters())
    EXPECT_EQ(gpu->getParameter(p.name), cpu.getParameter(p.name)) << p.name;
  gpu->saveParameters(reread);
  cnnc::Model check(kCpuModel);
  check.loadParameters(reread);
  for (const cnnc::TensorInfo &p : cpu.parameters())
    EXPECT_EQ(check.getParameter(p.name), cpu.getParameter(p.name)) << p.name;
}

/// The parameters of `model`, concatenated in metadata order.
std::vector<float> allParameters(const cnnc::Model &model) {
  std::vector<float> all;
  for (const cnnc::TensorInfo &p : model.parameters()) {
    std::vector<float> v = model.getParameter(p.name);
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

TEST(OpenClModel, TrainStepsMatchTheCpuModel) {
  LOAD_OPENCL_OR_SKIP(gpu);
  cnnc::Model cpu(kCpuModel);
  gpu->initParameters(7);
  cpu.initParameters(7);
  const int64_t batch = 8;
  float lr = float(cpu.trainInfo().lr);
  TempDir dir;
  // Three steps: the second and third read the parameters and state the swaps made current.
  for (uint64_t step = 1; step <= 3; ++step) {
    std::vector<float> x = images(batch, 20 + step), y = labels(batch, 30 + step);
    cnnc::StepResult g = gpu->trainStep(batch, x, y, lr);
    cnnc::StepResult c = cpu.trainStep(batch, x, y, lr);
    expectClose({g.loss}, {c.loss}, "loss of step " + std::to_string(step));
    EXPECT_EQ(g.correct, c.correct) << "step " << step;
    if (step != 1)
      continue;
    // Saving reads the parameters back from the device.
    std::string path = dir.file("trained.safetensors");
    gpu->saveParameters(path);
    cnnc::Model saved(kCpuModel);
    saved.loadParameters(path);
    expectClose(allParameters(saved), allParameters(cpu), "parameters after one step");
  }
  EXPECT_EQ(gpu->stepCount(), 3u);
  for (const cnnc::TensorInfo &s : cpu.state())
    expectClose(gpu->getState(s.name), cpu.getState(s.name), s.name + " after three steps");
  // Adam moves a parameter by about lr whatever the size of its gradient, so a gradient
  // within rounding of 0 may move the two models up to 2 lr apart per step.
  Comparison c = compare(allParameters(*gpu), allParameters(cpu));
  std::printf(
      "  parameters after three steps     max abs error %.3g (bound %.3g: 3 steps * 2 lr)\n",
      c.maxError, 6.0 * lr);
  EXPECT_LE(c.maxError, 6.0 * lr);
  std::vector<float> x = images(batch, 40), y = labels(batch, 41);
  cnnc::StepResult g = gpu->evaluate(batch, x, y), e = cpu.evaluate(batch, x, y);
  expectClose({g.loss}, {e.loss}, "evaluation loss");
  expectClose(gpu->run(batch, x), cpu.run(batch, x), "output after training");
}

TEST(OpenClModel, SteadyStateTransfersAreInputsOutputsAndResults) {
  LOAD_OPENCL_OR_SKIP(gpu);
  cnnc_model &model = *gpu->get();
  TransferCounts::install(model);
  gpu->initParameters(5);
  const int64_t batch = 4;
  std::vector<float> x = images(batch, 31), y = labels(batch, 32), out(size_t(batch) * 10);
  gpu->run(batch, {x.data()}, {out.data()}); // uploads the parameters, allocates the batch
  int batchedRoots = 0;
  for (size_t i = 0; i < model.buffers.size(); ++i)
    batchedRoots += model.buffers[i].root == int(i) && model.buffers[i].batchDim >= 0;
  EXPECT_EQ(TransferCounts::mallocs, batchedRoots);
  TransferCounts::reset();
  for (int i = 0; i < 3; ++i)
    gpu->run(batch, {x.data()}, {out.data()});
  std::printf("  3 inference steps: %d copies to the device, %d to the host, %d allocations\n",
              TransferCounts::toDevice, TransferCounts::toHost, TransferCounts::mallocs);
  EXPECT_EQ(TransferCounts::toDevice, 3 * int(model.inputs.size()));
  EXPECT_EQ(TransferCounts::toHost, 3 * int(model.outputs.size()));
  EXPECT_EQ(TransferCounts::mallocs, 0);

  float lr = float(gpu->trainInfo().lr);
  gpu->trainStep(batch, x, y, lr); // uploads the optimizer state and the learning rate
  TransferCounts::reset();
  for (int i = 0; i < 3; ++i)
    gpu->trainStep(batch, x, y, lr);
  // In: the inputs, the labels and the scalars that change each step (the step
  // number; the dropout seed if any). Out: the loss and the correct count.
  int changingScalars = (model.train.stepBuffer >= 0) + (model.train.seedBuffer >= 0);
  std::printf("  3 train steps: %d copies to the device, %d to the host, %d allocations\n",
              TransferCounts::toDevice, TransferCounts::toHost, TransferCounts::mallocs);
  EXPECT_EQ(TransferCounts::toDevice, 3 * (int(model.inputs.size()) + 1 + changingScalars));
  EXPECT_EQ(TransferCounts::toHost, 3 * 2);
  EXPECT_EQ(TransferCounts::mallocs, 0);

  // Reading a parameter a kernel changed copies it once; reading it again does not.
  TransferCounts::reset();
  std::string first = gpu->parameters()[0].name;
  std::vector<float> once = gpu->getParameter(first);
  EXPECT_EQ(gpu->getParameter(first), once);
  EXPECT_EQ(TransferCounts::toHost, 1);
  EXPECT_EQ(TransferCounts::toDevice, 0);
}

TEST(OpenClModel, HandlesRunConcurrently) {
  LOAD_OPENCL_OR_SKIP(first);
  std::unique_ptr<cnnc::Model> second = loadOpenCl(whyNot);
  cnnc::Model cpu(kCpuModel);
  for (cnnc::Model *m : {first.get(), second.get(), &cpu})
    m->initParameters(9);
  const int64_t batch = 3;
  std::vector<std::vector<float>> inputs, expected;
  for (uint64_t i = 0; i < 8; ++i) {
    inputs.push_back(images(batch, 100 + i));
    expected.push_back(cpu.run(batch, inputs.back()));
  }
  // Two handles of one model.so (one Halide runtime, one OpenCL context), one per thread.
  std::vector<double> worst(2, 0.0);
  auto work = [&](cnnc::Model &model, double &worstError) {
    for (int round = 0; round < 3; ++round)
      for (size_t i = 0; i < inputs.size(); ++i)
        worstError =
            std::max(worstError, compare(model.run(batch, inputs[i]), expected[i]).maxError);
  };
  std::thread a(work, std::ref(*first), std::ref(worst[0]));
  std::thread b(work, std::ref(*second), std::ref(worst[1]));
  a.join();
  b.join();
  std::printf("  concurrent runs: max abs error %.3g and %.3g\n", worst[0], worst[1]);
  for (double e : worst)
    EXPECT_LE(e, 1e-4);
}

TEST(OpenClModel, CnnrunShowsTheDeviceAndBenches) {
  LOAD_OPENCL_OR_SKIP(gpu);
  std::string out, err;
  const std::string cnnrun = std::string(CNNC_CNNRUN) + " ";
  ASSERT_EQ(runCommand(cnnrun + "info " + kOpenClModel, out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr("\ndevice API: opencl\n"));
  ASSERT_EQ(runCommand(cnnrun + "info --json " + kOpenClModel, out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr(",\"device_api\":\"opencl\"}"));
  ASSERT_EQ(runCommand(cnnrun + "info --json " + kCpuModel, out, &err), 0) << err;
  EXPECT_THAT(out, HasSubstr(",\"device_api\":null}"));
  for (const char *mode : {"", " --train"}) {
    ASSERT_EQ(runCommand(cnnrun + "bench " + kOpenClModel +
                             " --batch 2 --iters 2 --warmup 1 --json" + mode,
                         out, &err),
              0)
        << err;
    EXPECT_THAT(out, HasSubstr("\"images_per_s\""));
  }
}

} // namespace
