//===- model_test.cpp - Loading and running models ------------------------===//
//
// Tests cnnc_model_load and cnnc_model_run against the hand-written test
// model (test_model.c): metadata listing, results at several batch sizes
// checked against a C++ reference, prepare re-running after a parameter
// change, every load/run error path with its message, and the full-shape
// checks of arrays (cnnc_model_check_shape, cnnc_model_set_parameter_shaped).
// Uses the C API directly and through the C++ wrapper.
//
//===----------------------------------------------------------------------===//
#include "cnnc/runtime.h"
#include "cnnc/runtime.hpp"
#include "test_util.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

using namespace cnnc::test;
using ::testing::HasSubstr;

namespace {

/// Loads the test model with its parameters set.
cnnc::Model loadedModel() {
  cnnc::Model m(CNNC_TEST_MODEL);
  m.setParameter("fc.weight", testWeight());
  m.setParameter("fc.bias", testBias());
  return m;
}

std::vector<float> inputFor(int batch) {
  std::vector<float> x(size_t(batch) * 4);
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = float(int(i * 7 % 11) - 5) * 0.3f;
  return x;
}

TEST(Model, LoadsAndListsMetadata) {
  cnnc_model *m = nullptr;
  ASSERT_EQ(cnnc_model_load(CNNC_TEST_MODEL, &m), CNNC_OK) << cnnc_last_error();
  ASSERT_NE(m, nullptr);
  EXPECT_STREQ(cnnc_model_name(m), "tiny_dense");
  EXPECT_STREQ(cnnc_model_target(m), "test-c");
  EXPECT_STREQ(cnnc_model_device_api(m), ""); // a CPU model
  ASSERT_EQ(cnnc_model_num_tensors(m, CNNC_ROLE_INPUT), 1u);
  ASSERT_EQ(cnnc_model_num_tensors(m, CNNC_ROLE_OUTPUT), 1u);
  ASSERT_EQ(cnnc_model_num_tensors(m, CNNC_ROLE_PARAMETER), 2u);
  cnnc_tensor_info info;
  ASSERT_EQ(cnnc_model_get_tensor_info(m, CNNC_ROLE_INPUT, 0, &info), CNNC_OK);
  EXPECT_STREQ(info.name, "input");
  ASSERT_EQ(info.rank, 2);
  EXPECT_EQ(info.shape[0], -1);
  EXPECT_EQ(info.shape[1], 4);
  EXPECT_EQ(info.item_count, 4);
  EXPECT_EQ(info.batched, 1);
  ASSERT_EQ(cnnc_model_get_tensor_info(m, CNNC_ROLE_PARAMETER, 0, &info), CNNC_OK);
  EXPECT_STREQ(info.name, "fc.weight");
  EXPECT_EQ(info.item_count, 12);
  EXPECT_EQ(info.batched, 0);
  ASSERT_EQ(cnnc_model_get_tensor_info(m, CNNC_ROLE_PARAMETER, 1, &info), CNNC_OK);
  EXPECT_STREQ(info.name, "fc.bias");
  EXPECT_EQ(cnnc_model_get_tensor_info(m, CNNC_ROLE_PARAMETER, 2, &info),
            CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("out of range"));
  ASSERT_EQ(cnnc_model_num_steps(m), 2u);
  cnnc_step_info step;
  ASSERT_EQ(cnnc_model_get_step_info(m, 0, &step), CNNC_OK);
  EXPECT_STREQ(step.name, "dense");
  EXPECT_EQ(step.flops, 27);
  ASSERT_EQ(cnnc_model_get_step_info(m, 1, &step), CNNC_OK);
  EXPECT_STREQ(step.name, "relu");
  EXPECT_EQ(step.flops, 3);
  cnnc_model_free(m);
}

TEST(Model, WrapperListsMetadata) {
  cnnc::Model m(CNNC_TEST_MODEL);
  auto outputs = m.outputs();
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].name, "output");
  EXPECT_EQ(outputs[0].shape, (std::vector<int64_t>{-1, 3}));
  EXPECT_EQ(outputs[0].shapeFor(5), (std::vector<int64_t>{5, 3}));
  EXPECT_EQ(m.parameters()[0].shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(m.steps().size(), 2u);
}

class RunAtBatch : public ::testing::TestWithParam<int> {};

TEST_P(RunAtBatch, MatchesReference) {
  int batch = GetParam();
  cnnc::Model m = loadedModel();
  std::vector<float> x = inputFor(batch);
  std::vector<float> y = m.run(batch, x);
  std::vector<float> ref = referenceForward(testWeight(), testBias(), x, batch);
  ASSERT_EQ(y.size(), ref.size());
  int positives = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    EXPECT_FLOAT_EQ(y[i], ref[i]) << "element " << i;
    positives += y[i] > 0;
  }
  EXPECT_GT(positives, 0); // the data exercises both sides of the relu
  EXPECT_LT(positives, int(y.size()));
}

INSTANTIATE_TEST_SUITE_P(Batches, RunAtBatch, ::testing::Values(1, 7, 64));

TEST(Model, BatchSizeChangesBetweenRuns) {
  cnnc::Model m = loadedModel();
  for (int batch : {7, 1, 7, 3}) {
    std::vector<float> x = inputFor(batch);
    EXPECT_EQ(m.run(batch, x), referenceForward(testWeight(), testBias(), x, batch));
  }
}

TEST(Model, PrepareRerunsAfterParameterChange) {
  cnnc::Model m = loadedModel();
  std::vector<float> x = inputFor(2);
  m.run(2, x);
  std::vector<float> bias = {5.0f, 6.0f, 7.0f};
  m.setParameter("fc.bias", bias);
  EXPECT_EQ(m.run(2, x), referenceForward(testWeight(), bias, x, 2));
}

TEST(Model, TimedRunReportsEachStep) {
  cnnc::Model m = loadedModel();
  std::vector<float> x = inputFor(3), y(9);
  std::vector<double> ms = m.runTimed(3, {x.data()}, {y.data()});
  ASSERT_EQ(ms.size(), 2u);
  for (double t : ms)
    EXPECT_GE(t, 0.0);
  EXPECT_EQ(y, referenceForward(testWeight(), testBias(), x, 3));
}

TEST(Model, RunBeforeParametersNamesTheMissingOne) {
  cnnc::Model m(CNNC_TEST_MODEL);
  m.setParameter("fc.weight", testWeight());
  std::vector<float> x = inputFor(1), y(3);
  const float *in[] = {x.data()};
  float *out[] = {y.data()};
  EXPECT_EQ(cnnc_model_run(m.get(), 1, in, out), CNNC_ERROR_PARAMETER);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("'fc.bias' has not been set"));
}

TEST(Model, RejectsBatchBelowOne) {
  cnnc::Model m = loadedModel();
  std::vector<float> x = inputFor(1), y(3);
  const float *in[] = {x.data()};
  float *out[] = {y.data()};
  EXPECT_EQ(cnnc_model_run(m.get(), 0, in, out), CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("batch size must be at least 1, got 0"));
  EXPECT_EQ(cnnc_model_run(m.get(), -3, in, out), CNNC_ERROR_INVALID_ARGUMENT);
}

TEST(Model, ReserveAllocatesABatchOrSaysWhyNot) {
  cnnc::Model m = loadedModel();
  EXPECT_EQ(cnnc_model_reserve(m.get(), 0), CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("batch size must be at least 1, got 0"));
  // 4 values per item: 2^30 items exceed the kernels' 32-bit extents.
  EXPECT_EQ(cnnc_model_reserve(m.get(), int64_t(1) << 30), CNNC_ERROR_OUT_OF_MEMORY);
  EXPECT_THAT(cnnc_last_error(),
              HasSubstr("input 'input' of shape [-1,4] at batch 1073741824 exceeds Halide's "
                        "32-bit extents"));
  EXPECT_EQ(cnnc_model_reserve(m.get(), 5), CNNC_OK) << cnnc_last_error();
  std::vector<float> x = inputFor(5), y(15);
  const float *in[] = {x.data()};
  float *out[] = {y.data()};
  EXPECT_EQ(cnnc_model_run(m.get(), 5, in, out), CNNC_OK) << cnnc_last_error();
}

TEST(Model, RejectsNullBuffers) {
  cnnc::Model m = loadedModel();
  std::vector<float> y(3);
  float *out[] = {y.data()};
  EXPECT_EQ(cnnc_model_run(m.get(), 1, nullptr, out), CNNC_ERROR_INVALID_ARGUMENT);
  const float *in[] = {nullptr};
  EXPECT_EQ(cnnc_model_run(m.get(), 1, in, out), CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("input 'input' is null"));
}

TEST(Model, ReportsKernelFailureWithStepAndCode) {
  cnnc::Model m = loadedModel();
  std::vector<float> x = inputFor(2);
  x[5] = -999.0f; // the test kernel's failure trigger
  try {
    m.run(2, x);
    FAIL() << "expected a kernel error";
  } catch (const cnnc::Error &e) {
    EXPECT_EQ(e.status(), CNNC_ERROR_KERNEL);
    EXPECT_THAT(e.what(), HasSubstr("step 'dense'"));
    EXPECT_THAT(e.what(), HasSubstr("error code -42"));
    // The kernel's own message, caught by the runtime's Halide error handler
    // (Halide's default handler would abort the process).
    EXPECT_THAT(e.what(), HasSubstr("Input buffer in0 holds the poison value -999"));
  }
  // The model still works afterwards.
  x[5] = 1.0f;
  EXPECT_EQ(m.run(2, x), referenceForward(testWeight(), testBias(), x, 2));
}

TEST(Model, SetParameterChecksNameAndSize) {
  cnnc::Model m(CNNC_TEST_MODEL);
  std::vector<float> w(11);
  EXPECT_EQ(cnnc_model_set_parameter(m.get(), "fc.weight", w.data(), w.size()),
            CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("has 12 elements, got 11"));
  EXPECT_EQ(cnnc_model_set_parameter(m.get(), "conv9.weight", w.data(), w.size()),
            CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("no parameter 'conv9.weight'"));
  std::vector<float> out(12);
  EXPECT_EQ(cnnc_model_get_parameter(m.get(), "fc.weight", 12, out.data()), CNNC_ERROR_PARAMETER);
  m.setParameter("fc.weight", testWeight());
  EXPECT_EQ(m.getParameter("fc.weight"), testWeight());
}

TEST(Model, SetParameterShapedChecksTheWholeShape) {
  cnnc::Model m(CNNC_TEST_MODEL);
  std::vector<float> w = testWeight();
  // The right element count in another layout is refused with both shapes.
  int64_t transposed[] = {4, 3};
  EXPECT_EQ(cnnc_model_set_parameter_shaped(m.get(), "fc.weight", w.data(), 2, transposed),
            CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("parameter 'fc.weight' needs shape [3,4], got [4,3]"));
  int64_t flat[] = {12};
  EXPECT_EQ(cnnc_model_set_parameter_shaped(m.get(), "fc.weight", w.data(), 1, flat),
            CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("needs shape [3,4], got [12]"));
  EXPECT_EQ(cnnc_model_set_parameter_shaped(m.get(), "conv9.weight", w.data(), 1, flat),
            CNNC_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("no parameter 'conv9.weight'"));
  EXPECT_EQ(cnnc_model_set_parameter_shaped(m.get(), "fc.weight", w.data(), 2, nullptr),
            CNNC_ERROR_INVALID_ARGUMENT);
  std::vector<float> out(12);
  EXPECT_EQ(cnnc_model_get_parameter(m.get(), "fc.weight", 12, out.data()), CNNC_ERROR_PARAMETER);
  m.setParameter("fc.weight", w.data(), {3, 4});
  EXPECT_EQ(m.getParameter("fc.weight"), w);
}

TEST(Model, CheckShapeOfInputs) {
  cnnc::Model m(CNNC_TEST_MODEL); // input [-1,4]
  EXPECT_EQ(m.checkShape(CNNC_ROLE_INPUT, "input", {5, 4}), 5);
  EXPECT_EQ(m.checkInputShapes({{2, 4}}), 2);
  EXPECT_EQ(m.checkShape(CNNC_ROLE_PARAMETER, "fc.bias", {3}), 0);
  auto message = [&](cnnc_tensor_role role, const char *name, std::vector<int64_t> shape,
                     int64_t batch) {
    cnnc_status s =
        cnnc_model_check_shape(m.get(), role, name, int32_t(shape.size()), shape.data(), &batch);
    EXPECT_EQ(s, CNNC_ERROR_INVALID_ARGUMENT) << name;
    return std::string(cnnc_last_error());
  };
  EXPECT_THAT(message(CNNC_ROLE_INPUT, "input", {4, 2}, 0),
              HasSubstr("input 'input' needs shape [4,4] for batch 4, got [4,2]"));
  EXPECT_THAT(message(CNNC_ROLE_INPUT, "input", {2, 4}, 3),
              HasSubstr("input 'input' needs shape [3,4] for batch 3, got [2,4]"));
  EXPECT_THAT(message(CNNC_ROLE_INPUT, "input", {4}, 0),
              HasSubstr("input 'input' needs shape [N,4], got [4]"));
  EXPECT_THAT(message(CNNC_ROLE_INPUT, "input", {0, 4}, 0),
              HasSubstr("input 'input' needs at least one batch item, got shape [0,4]"));
  EXPECT_THAT(message(CNNC_ROLE_OUTPUT, "output", {2, 4}, 2),
              HasSubstr("output 'output' needs shape [2,3] for batch 2, got [2,4]"));
  EXPECT_THAT(message(CNNC_ROLE_PARAMETER, "fc.bias", {1, 3}, 0),
              HasSubstr("parameter 'fc.bias' needs shape [3], got [1,3]"));
  EXPECT_THAT(message(CNNC_ROLE_INPUT, "image", {2, 4}, 0),
              HasSubstr("cnnc_model_check_shape: the model has no input 'image'"));
  try {
    m.checkInputShapes({{2, 4}, {2, 4}});
    ADD_FAILURE() << "no error";
  } catch (const cnnc::Error &e) {
    EXPECT_THAT(e.what(), HasSubstr("the model has 1 input(s), got 2"));
  }
}

TEST(ModelLoad, MissingFile) {
  cnnc_model *m = reinterpret_cast<cnnc_model *>(1);
  EXPECT_EQ(cnnc_model_load("/nonexistent/model.so", &m), CNNC_ERROR_IO);
  EXPECT_EQ(m, nullptr);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("cannot open model '/nonexistent/model.so'"));
  EXPECT_THAT(cnnc_last_error(), HasSubstr("No such file"));
}

TEST(ModelLoad, NotALibrary) {
  TempDir dir;
  std::string path = dir.file("garbage.so");
  writeFile(path, "this is not an ELF file\n");
  cnnc_model *m = nullptr;
  EXPECT_EQ(cnnc_model_load(path.c_str(), &m), CNNC_ERROR_FORMAT);
  EXPECT_EQ(m, nullptr);
  EXPECT_EQ(std::string(cnnc_last_error()),
            "'" + path + "' is not a model library: it is not an ELF file");
}

TEST(ModelLoad, Directory) {
  cnnc_model *m = nullptr;
  EXPECT_EQ(cnnc_model_load("/tmp", &m), CNNC_ERROR_IO);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("is a directory"));
}

TEST(ModelLoad, MissingEntryPointIsRefusedBeforeItsCodeRuns) {
  // That library's constructor sets CNNC_TEST_CONSTRUCTOR_RAN.
  unsetenv("CNNC_TEST_CONSTRUCTOR_RAN");
  cnnc_model *m = nullptr;
  EXPECT_EQ(cnnc_model_load(CNNC_TEST_MODEL_NO_ENTRY, &m), CNNC_ERROR_FORMAT);
  EXPECT_EQ(std::string(cnnc_last_error()),
            std::string("'") + CNNC_TEST_MODEL_NO_ENTRY +
                "' is not a cnnc model: it exports no cnnc_model_v1");
  EXPECT_EQ(getenv("CNNC_TEST_CONSTRUCTOR_RAN"), nullptr);
}

TEST(ModelLoad, WrongAbiVersionGivesBothNumbers) {
  try {
    cnnc::Model m(CNNC_TEST_MODEL_BAD_ABI);
    FAIL() << "expected an ABI error";
  } catch (const cnnc::Error &e) {
    EXPECT_EQ(e.status(), CNNC_ERROR_ABI);
    EXPECT_THAT(e.what(), HasSubstr("has ABI version 99, this runtime supports version 5"));
  }
}

TEST(ModelLoad, MalformedMetadata) {
  cnnc_model *m = nullptr;
  EXPECT_EQ(cnnc_model_load(CNNC_TEST_MODEL_BAD_METADATA, &m), CNNC_ERROR_FORMAT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("malformed metadata"));
  EXPECT_THAT(cnnc_last_error(), HasSubstr("steps[0].args[3]: buffer index 42 out of range"));
}

TEST(ModelLoad, NullArguments) {
  EXPECT_EQ(cnnc_model_load(CNNC_TEST_MODEL, nullptr), CNNC_ERROR_INVALID_ARGUMENT);
  cnnc_model *m = nullptr;
  EXPECT_EQ(cnnc_model_load(nullptr, &m), CNNC_ERROR_INVALID_ARGUMENT);
  cnnc_model_free(nullptr);
}

TEST(ModelLoad, TwoModelsAtOnce) {
  cnnc::Model a = loadedModel(), b = loadedModel();
  std::vector<float> x = inputFor(2);
  EXPECT_EQ(a.run(2, x), b.run(2, x));
}

TEST(ModelLoad, HandlesRunConcurrently) {
  // One handle per thread, all of the same library, each at its own batch sizes.
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t, &mismatches] {
      cnnc::Model m = loadedModel();
      for (int round = 0; round < 50; ++round) {
        int batch = 1 + (round * 7 + t) % 9;
        std::vector<float> x = inputFor(batch);
        mismatches[t] += m.run(batch, x) != referenceForward(testWeight(), testBias(), x, batch);
      }
    });
  for (std::thread &thread : threads)
    thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

} // namespace
