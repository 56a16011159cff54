//===- dataset_test.cpp - IDX datasets, shuffling, batching, LR schedules -===//
//
// Tests cnnc_dataset on small IDX files written here (gzipped and plain):
// loading (pixels / 255, labels, --limit), shuffling that is reproducible
// from (seed, epoch), differs between epochs and covers every item exactly
// once, batching with the last partial batch, and load errors; then the
// learning-rate schedules and their parse errors.
//
//===----------------------------------------------------------------------===//
#include "cnnc/runtime.h"
#include "cnnc/runtime.hpp"
#include "test_util.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

using namespace cnnc::test;
using ::testing::HasSubstr;

namespace {

/// Writes a dataset of `n` 2x2 items whose first pixel is the item index.
void writeIndexed(TempDir &dir, int n, bool gzip) {
  std::vector<uint8_t> images(size_t(n) * 4, 0), labels(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    images[i * 4] = uint8_t(i);
    images[i * 4 + 1] = 255;
    labels[i] = uint8_t(i % 10);
  }
  writeIdx(dir.file("images"), {uint32_t(n), 2, 2}, images, gzip);
  writeIdx(dir.file("labels"), {uint32_t(n)}, labels, gzip);
}

/// The item indices of one epoch, batch by batch.
std::vector<int> epochOrder(cnnc::Dataset &d, int64_t batch, std::vector<int64_t> *counts) {
  std::vector<int> order;
  std::vector<float> x(size_t(batch) * 4), y(static_cast<size_t>(batch));
  for (int64_t b = 0; b < d.numBatches(batch); ++b) {
    int64_t n = d.getBatch(b, batch, x.data(), y.data());
    if (counts)
      counts->push_back(n);
    for (int64_t k = 0; k < n; ++k) {
      int index = int(std::lround(x[k * 4] * 255.0f));
      EXPECT_FLOAT_EQ(x[k * 4 + 1], 1.0f);
      EXPECT_EQ(y[k], float(index % 10)); // labels travel with their items
      order.push_back(index);
    }
  }
  return order;
}

TEST(Dataset, LoadsGzippedAndPlainIdx) {
  for (bool gzip : {true, false}) {
    TempDir dir;
    writeIndexed(dir, 10, gzip);
    cnnc::Dataset d(dir.path() + "/images", dir.path() + "/labels");
    EXPECT_EQ(d.size(), 10);
    EXPECT_EQ(d.itemCount(), 4);
    std::vector<int64_t> counts;
    std::vector<int> order = epochOrder(d, 4, &counts);
    EXPECT_EQ(counts, (std::vector<int64_t>{4, 4, 2})); // the last partial batch included
    for (int i = 0; i < 10; ++i)
      EXPECT_EQ(order[i], i); // file order before any shuffle
  }
}

TEST(Dataset, LimitKeepsTheFirstItems) {
  TempDir dir;
  writeIndexed(dir, 10, false);
  cnnc::Dataset d(dir.path() + "/images", dir.path() + "/labels", 7);
  EXPECT_EQ(d.size(), 7);
  EXPECT_EQ(d.numBatches(7), 1);
  EXPECT_EQ(d.numBatches(3), 3);
}

TEST(Dataset, ShuffleIsReproducibleAndCoversEveryItem) {
  TempDir dir;
  writeIndexed(dir, 50, true);
  cnnc::Dataset a(dir.path() + "/images", dir.path() + "/labels");
  cnnc::Dataset b(dir.path() + "/images", dir.path() + "/labels");
  a.shuffle(42, 3);
  b.shuffle(42, 0); // any history: the order depends on (seed, epoch) only
  b.shuffle(42, 3);
  std::vector<int> oa = epochOrder(a, 8, nullptr), ob = epochOrder(b, 8, nullptr);
  EXPECT_EQ(oa, ob);
  std::vector<int> sorted = oa;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(sorted[i], i);
  a.shuffle(42, 4);
  EXPECT_NE(epochOrder(a, 8, nullptr), oa);
  a.shuffle(43, 3);
  EXPECT_NE(epochOrder(a, 8, nullptr), oa);
  a.resetOrder();
  std::vector<int> identity(50);
  for (int i = 0; i < 50; ++i)
    identity[i] = i;
  EXPECT_EQ(epochOrder(a, 8, nullptr), identity);
}

TEST(Dataset, Errors) {
  TempDir dir;
  writeIndexed(dir, 10, false);
  std::string labels5 = dir.file("labels5");
  writeIdx(labels5, {5}, std::vector<uint8_t>(5), false);
  cnnc_dataset *d = nullptr;
  EXPECT_EQ(cnnc_dataset_load_idx((dir.path() + "/images").c_str(), labels5.c_str(), 0, &d),
            CNNC_ERROR_FORMAT);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("5 labels for 10 images"));
  EXPECT_EQ(cnnc_dataset_load_idx("/nonexistent/images", labels5.c_str(), 0, &d), CNNC_ERROR_IO);
  EXPECT_THAT(cnnc_last_error(), HasSubstr("cannot open '/nonexistent/images'"));
  EXPECT_EQ(d, nullptr);
  cnnc::Dataset ok(dir.path() + "/images", dir.path() + "/labels");
  std::vector<float> x(16), y(4);
  int64_t count = 0;
  EXPECT_EQ(cnnc_dataset_get_batch(nullptr, 0, 4, x.data(), y.data(), &count),
            CNNC_ERROR_INVALID_ARGUMENT);
  try {
    ok.getBatch(3, 4, x.data(), y.data());
    FAIL();
  } catch (const cnnc::Error &e) {
    EXPECT_THAT(e.what(), HasSubstr("batch 3 out of range (3 batches)"));
  }
}

TEST(LrSchedule, Values) {
  cnnc::LrSchedule constant("constant"), step("step:2:0.5"), cosine("cosine");
  EXPECT_DOUBLE_EQ(constant.at(0.1, 123, 10, 5), 0.1);
  // 10 steps per epoch: epochs 0-1 at 0.1, 2-3 at 0.05, 4 at 0.025.
  EXPECT_DOUBLE_EQ(step.at(0.1, 0, 10, 5), 0.1);
  EXPECT_DOUBLE_EQ(step.at(0.1, 19, 10, 5), 0.1);
  EXPECT_DOUBLE_EQ(step.at(0.1, 20, 10, 5), 0.05);
  EXPECT_DOUBLE_EQ(step.at(0.1, 45, 10, 5), 0.025);
  EXPECT_DOUBLE_EQ(cosine.at(0.1, 0, 10, 5), 0.1);
  EXPECT_NEAR(cosine.at(0.1, 25, 10, 5), 0.05, 1e-12);
  EXPECT_NEAR(cosine.at(0.1, 50, 10, 5), 0.0, 1e-12);
  EXPECT_GT(cosine.at(0.1, 10, 10, 5), cosine.at(0.1, 11, 10, 5));
}

TEST(LrSchedule, ParseErrors) {
  for (const char *bad : {"step", "step:0:0.5", "step:2", "step:2:x", "step:2:-1", "linear"}) {
    cnnc_lr_schedule s;
    EXPECT_EQ(cnnc_lr_schedule_parse(bad, &s), CNNC_ERROR_INVALID_ARGUMENT) << bad;
    EXPECT_THAT(cnnc_last_error(), HasSubstr("schedule")) << bad;
  }
}

} // namespace
