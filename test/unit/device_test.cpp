//===- device_test.cpp - A GPU model's buffers stay on the device ---------===//
//
// Runs the fake GPU variant of the test model (test_model.c,
// CNNC_TEST_FAKE_DEVICE: device_api "opencl", device memory malloc'd by the
// descriptor's Halide entry points, which count every call) with the driver
// check replaced, and checks the device model of docs/runtime.md exactly:
// what is allocated at load and per batch size, that views share their
// root's device memory, that a run copies the input in and the output out
// and nothing else, that parameters upload once and are read back only when
// a kernel changed them, that timed runs wait around each step, that a
// failed device allocation is CNNC_ERROR_OUT_OF_MEMORY and a failed driver
// check CNNC_ERROR_DEVICE, and what freeing the model releases.
//
//===----------------------------------------------------------------------===//
#include "device.h"
#include "error.h"
#include "model.h"

#include "cnnc/runtime.h"
#include "cnnc/runtime.hpp"
#include "test_util.h"

#include <dlfcn.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

using namespace cnnc::test;
using ::testing::HasSubstr;

namespace {

/// The fake device's call counters, read from the loaded test library.
struct DeviceCounters {
  int mallocs = 0, frees = 0, toDevice = 0, toHost = 0, syncs = 0, releases = 0;
  bool operator==(const DeviceCounters &o) const {
    return mallocs == o.mallocs && frees == o.frees && toDevice == o.toDevice &&
           toHost == o.toHost && syncs == o.syncs && releases == o.releases;
  }
};

std::ostream &operator<<(std::ostream &os, const DeviceCounters &c) {
  return os << "{mallocs " << c.mallocs << ", frees " << c.frees << ", to device " << c.toDevice
            << ", to host " << c.toHost << ", syncs " << c.syncs << ", releases " << c.releases
            << "}";
}

/// Loads fake GPU models without a driver, and reads the fake device's counters.
class FakeGpu : public ::testing::Test {
protected:
  void SetUp() override {
    savedCheck = cnnc::rt::deviceDriverCheck;
    cnnc::rt::deviceDriverCheck = [](const std::string &) {};
    library = dlopen(CNNC_TEST_MODEL_FAKE_DEVICE, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(library, nullptr) << dlerror();
    for (const char *name :
         {"cnnc_test_device_mallocs", "cnnc_test_device_frees", "cnnc_test_copies_to_device",
          "cnnc_test_copies_to_host", "cnnc_test_device_syncs", "cnnc_test_device_releases"}) {
      int *counter = static_cast<int *>(dlsym(library, name));
      ASSERT_NE(counter, nullptr) << name;
      *counter = 0;
      counters.push_back(counter);
    }
    limitBytes = static_cast<size_t *>(dlsym(library, "cnnc_test_device_limit_bytes"));
    ASSERT_NE(limitBytes, nullptr);
    savedLimit = *limitBytes;
  }
  void TearDown() override {
    cnnc::rt::deviceDriverCheck = savedCheck;
    if (library) {
      *limitBytes = savedLimit;
      dlclose(library);
    }
  }

  DeviceCounters now() const {
    return {*counters[0], *counters[1], *counters[2], *counters[3], *counters[4], *counters[5]};
  }

  /// The fake GPU model with its parameters set.
  static cnnc::Model loadedModel() {
    cnnc::Model m(CNNC_TEST_MODEL_FAKE_DEVICE);
    m.setParameter("fc.weight", testWeight());
    m.setParameter("fc.bias", testBias());
    return m;
  }

  static std::vector<float> inputFor(int batch) {
    std::vector<float> x(size_t(batch) * 4);
    for (size_t i = 0; i < x.size(); ++i)
      x[i] = float(int(i * 7 % 11) - 5) * 0.3f;
    return x;
  }

  cnnc::rt::DriverCheck savedCheck = nullptr;
  void *library = nullptr;
  std::vector<int *> counters;
  size_t *limitBytes = nullptr;
  size_t savedLimit = 0;
};

// Buffers of the test model: 0 input [-1,4], 1 fc.weight, 2 fc.bias, 3 derived,
// 4 temp [-1,3], 5 its view [-1,3,1], 6 output [-1,3]. Roots: all but 5.

TEST_F(FakeGpu, RunsWithEveryBufferOnTheDevice) {
  {
    cnnc::Model m(CNNC_TEST_MODEL_FAKE_DEVICE);
    EXPECT_EQ(m.deviceApi(), "opencl");
    // At load: device memory for the unbatched roots (weight, bias, derived), nothing copied.
    EXPECT_EQ(now(), (DeviceCounters{3, 0, 0, 0, 0, 0}));
    m.setParameter("fc.weight", testWeight());
    m.setParameter("fc.bias", testBias());
    EXPECT_EQ(now(), (DeviceCounters{3, 0, 0, 0, 0, 0})); // uploaded when first read

    // First run at batch 7: the batched roots (input, temp, output) get memory; the
    // parameters go up once (bias for `prepare`, weight for `dense`), the input in and
    // the output out.
    std::vector<float> x = inputFor(7);
    EXPECT_EQ(m.run(7, x), referenceForward(testWeight(), testBias(), x, 7));
    EXPECT_EQ(now(), (DeviceCounters{6, 0, 3, 1, 0, 0}));

    // Steady state, and smaller batches reusing the memory: input in, output out.
    DeviceCounters expected = now();
    for (int batch : {7, 2, 7, 1}) {
      x = inputFor(batch);
      EXPECT_EQ(m.run(batch, x), referenceForward(testWeight(), testBias(), x, batch));
      ++expected.toDevice;
      ++expected.toHost;
      EXPECT_EQ(now(), expected) << "batch " << batch;
    }

    // Parameters no kernel changed are read from the host copy: no transfer.
    EXPECT_EQ(m.getParameter("fc.weight"), testWeight());
    EXPECT_EQ(now(), expected);
  }
  // Freeing the model frees each root's memory once (views own none) and releases
  // the device state of the library's Halide runtime.
  EXPECT_EQ(now(), (DeviceCounters{6, 6, 7, 5, 0, 1}));
}

TEST_F(FakeGpu, ViewsShareTheirRootsDeviceMemory) {
  cnnc::Model m = loadedModel();
  std::vector<float> x = inputFor(3);
  m.run(3, x);
  const cnnc_model &model = *m.get();
  ASSERT_EQ(model.buffers[5].viewOf, 4);
  EXPECT_NE(model.halideBuffers[4].device, 0u);
  EXPECT_EQ(model.halideBuffers[5].device, model.halideBuffers[4].device);
  EXPECT_EQ(model.halideBuffers[5].device_interface, model.halideBuffers[4].device_interface);
  // The kernel's result is on the device only; the flags agree across root and view.
  EXPECT_EQ(model.halideBuffers[4].flags, uint64_t(halide_buffer_flag_device_dirty));
  EXPECT_EQ(model.halideBuffers[5].flags, model.halideBuffers[4].flags);
  // A GPU model's batched buffers have no host memory.
  EXPECT_EQ(model.halideBuffers[4].host, nullptr);
}

TEST_F(FakeGpu, GrowingTheBatchReallocatesOnlyBatchedRoots) {
  cnnc::Model m = loadedModel();
  std::vector<float> x = inputFor(2);
  m.run(2, x);
  DeviceCounters before = now();
  x = inputFor(9);
  EXPECT_EQ(m.run(9, x), referenceForward(testWeight(), testBias(), x, 9));
  DeviceCounters after = now();
  EXPECT_EQ(after.mallocs - before.mallocs, 3); // input, temp, output
  EXPECT_EQ(after.frees - before.frees, 3);
  EXPECT_EQ(after.toDevice - before.toDevice, 1);
}

TEST_F(FakeGpu, ChangedParameterUploadsOnce) {
  cnnc::Model m = loadedModel();
  std::vector<float> x = inputFor(2);
  m.run(2, x);
  std::vector<float> bias = {5.0f, 6.0f, 7.0f};
  m.setParameter("fc.bias", bias);
  DeviceCounters before = now();
  EXPECT_EQ(m.run(2, x), referenceForward(testWeight(), bias, x, 2));
  EXPECT_EQ(m.run(2, x), referenceForward(testWeight(), bias, x, 2));
  // The bias once (for the re-run `prepare`), then one input per run.
  EXPECT_EQ(now().toDevice - before.toDevice, 3);
  EXPECT_EQ(m.getParameter("fc.bias"), bias);
}

TEST_F(FakeGpu, TimedRunWaitsForTheDeviceAroundEachStep) {
  cnnc::Model m = loadedModel();
  std::vector<float> x = inputFor(3), y(9);
  m.run(3, x);
  EXPECT_EQ(now().syncs, 0); // an untimed run never waits explicitly
  std::vector<double> ms = m.runTimed(3, {x.data()}, {y.data()});
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_EQ(now().syncs, 4); // before and after each of the two steps
  EXPECT_EQ(y, referenceForward(testWeight(), testBias(), x, 3));
}

TEST_F(FakeGpu, OutOfDeviceMemoryIsAStatus) {
  cnnc::Model m = loadedModel();
  *limitBytes = 4 * 4 * 100; // room for 100 items of the widest buffer
  std::vector<float> x = inputFor(200), y(600);
  const float *in[] = {x.data()};
  float *out[] = {y.data()};
  EXPECT_EQ(cnnc_model_run(m.get(), 200, in, out), CNNC_ERROR_OUT_OF_MEMORY);
  EXPECT_THAT(cnnc_last_error(),
              HasSubstr("cannot allocate 3200 bytes of device memory for buffer 0 [-1,4] at "
                        "batch 200: fake device: out of memory (Halide error -16)"));
  // The model still runs at a batch that fits.
  x = inputFor(50);
  EXPECT_EQ(m.run(50, x), referenceForward(testWeight(), testBias(), x, 50));
}

TEST_F(FakeGpu, FailedDriverCheckIsAStatus) {
  cnnc::rt::deviceDriverCheck = [](const std::string &api) {
    cnnc::rt::fail(CNNC_ERROR_DEVICE, "no driver for " + api);
  };
  cnnc_model *m = reinterpret_cast<cnnc_model *>(1);
  EXPECT_EQ(cnnc_model_load(CNNC_TEST_MODEL_FAKE_DEVICE, &m), CNNC_ERROR_DEVICE);
  EXPECT_EQ(m, nullptr);
  EXPECT_STREQ(cnnc_last_error(), "no driver for opencl");
  EXPECT_STREQ(cnnc_status_string(CNNC_ERROR_DEVICE), "device error");
  EXPECT_EQ(now().mallocs, 0);
}

TEST_F(FakeGpu, TwoHandlesOfOneLibraryReleaseOnce) {
  {
    cnnc::Model a = loadedModel();
    {
      cnnc::Model b = loadedModel();
      std::vector<float> x = inputFor(2);
      EXPECT_EQ(a.run(2, x), b.run(2, x));
    }
    EXPECT_EQ(now().releases, 0); // `a` still uses the library's runtime
  }
  EXPECT_EQ(now().releases, 1);
}

} // namespace
