//===- cnnrun_pipeline_test.cpp - cnnrun's item pipeline and loader -------===//
//
// What happens to an item on its way into a training batch (Pipeline.h):
// channel conversion, bilinear resizing, crop and flip augmentation from a
// seeded stream, normalization, and the loader thread delivering every
// batch of an epoch in order whatever the timing. The resize is also
// compared with PyTorch end to end in test/e2e/test_trainer.py.
//
//===----------------------------------------------------------------------===//
#include "Data.h"
#include "Pipeline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <numeric>
#include <set>

using namespace cnnrun;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

namespace {

/// A C×H×W item whose value at (c, y, x) is 100c + 10y + x.
std::vector<float> ramp(ItemShape s) {
  std::vector<float> v(size_t(s.count()));
  for (int64_t c = 0; c < s.channels; ++c)
    for (int64_t y = 0; y < s.height; ++y)
      for (int64_t x = 0; x < s.width; ++x)
        v[size_t((c * s.height + y) * s.width + x)] = float(100 * c + 10 * y + x);
  return v;
}

std::string errorOf(const std::function<void()> &f) {
  try {
    f();
  } catch (const std::exception &e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST(CnnrunPipeline, ResizeBilinearHalfPixel) {
  // 1x2 -> 1x4: sources at -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
  float in[2] = {0, 4};
  float out[4];
  resizeBilinear(in, 1, 1, 2, out, 1, 4);
  EXPECT_THAT(out, ElementsAre(0, 1, 3, 4));
  // Same size: the identity.
  std::vector<float> item = ramp({2, 3, 3}), same(item.size());
  resizeBilinear(item.data(), 2, 3, 3, same.data(), 3, 3);
  EXPECT_EQ(same, item);
}

TEST(CnnrunPipeline, ChannelsAreRepeatedOrReducedToLuminance) {
  Preprocessing none;
  std::vector<float> gray = {0.5f, 1.0f}, out(6);
  ItemPipeline({1, 1, 2}, {3, 1, 2}, none).apply(gray.data(), out.data(), nullptr);
  EXPECT_THAT(out, ElementsAre(0.5f, 1.0f, 0.5f, 1.0f, 0.5f, 1.0f));
  std::vector<float> rgb = {1, 0, 0}, luma(1);
  ItemPipeline({3, 1, 1}, {1, 1, 1}, none).apply(rgb.data(), luma.data(), nullptr);
  EXPECT_FLOAT_EQ(luma[0], 0.299f);
  EXPECT_THAT(errorOf([&] {
                ItemPipeline({2, 4, 4}, {3, 4, 4}, none);
              }),
              HasSubstr("cannot convert 2 channels to 3"));
}

TEST(CnnrunPipeline, NormalizationPerChannel) {
  Preprocessing p;
  p.mean = {1, 2};
  p.std = {2, 4};
  std::vector<float> in = {3, 10}, out(2);
  ItemPipeline({2, 1, 1}, {2, 1, 1}, p).apply(in.data(), out.data(), nullptr);
  EXPECT_THAT(out, ElementsAre(1.0f, 2.0f));
  p.mean = {1, 2, 3};
  EXPECT_THAT(errorOf([&] {
                ItemPipeline({2, 1, 1}, {2, 1, 1}, p);
              }),
              HasSubstr("--mean has 3 values; the model's input has 2 channels"));
}

TEST(CnnrunPipeline, CropShiftsWithZerosAndFlipMirrors) {
  ItemShape s{1, 4, 4};
  std::vector<float> item = ramp(s);
  Preprocessing flipOnly;
  flipOnly.parseAugment("flip");
  ItemPipeline flipper(s, s, flipOnly);
  // Over seeds, a flip happens sometimes, and it mirrors each row exactly.
  int flipped = 0;
  for (uint64_t seed = 0; seed < 64; ++seed) {
    Random rng(seed);
    std::vector<float> out(item.size());
    flipper.apply(item.data(), out.data(), &rng);
    if (out != item) {
      ++flipped;
      for (int64_t y = 0; y < 4; ++y)
        for (int64_t x = 0; x < 4; ++x)
          EXPECT_EQ(out[size_t(y * 4 + x)], item[size_t(y * 4 + 3 - x)]);
    }
  }
  EXPECT_GT(flipped, 16);
  EXPECT_LT(flipped, 48);

  Preprocessing crop;
  crop.parseAugment("crop:1");
  ItemPipeline cropper(s, s, crop);
  std::set<std::vector<float>> seen;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Random rng(seed), again(seed);
    std::vector<float> out(item.size()), repeat(item.size());
    cropper.apply(item.data(), out.data(), &rng);
    cropper.apply(item.data(), repeat.data(), &again);
    EXPECT_EQ(out, repeat); // the same stream, the same crop
    // Each output pixel is the input shifted by (dy, dx) in [-1, 1], or a zero of the padding.
    bool matched = false;
    for (int dy = -1; dy <= 1 && !matched; ++dy)
      for (int dx = -1; dx <= 1 && !matched; ++dx) {
        bool all = true;
        for (int y = 0; y < 4; ++y)
          for (int x = 0; x < 4; ++x) {
            int sy = y + dy, sx = x + dx;
            float want = sy >= 0 && sy < 4 && sx >= 0 && sx < 4 ? item[size_t(sy * 4 + sx)] : 0;
            all = all && out[size_t(y * 4 + x)] == want;
          }
        matched = all;
      }
    EXPECT_TRUE(matched) << "seed " << seed;
    seen.insert(out);
  }
  EXPECT_EQ(seen.size(), 9u); // every shift of a 1-pixel padding occurs
}

TEST(CnnrunPipeline, LoaderDeliversEveryBatchInOrder) {
  Dataset d;
  d.shape = {1, 1, 2};
  for (int i = 0; i < 23; ++i) {
    d.items.insert(d.items.end(), {float(i), float(-i)});
    d.labels.push_back(float(i % 3));
  }
  ItemPipeline pipeline(d.shape, d.shape, Preprocessing{});
  std::vector<int64_t> order = epochOrder(d.size(), 4, 1);
  // Starting at batch 2 of batches of 5: items 10..22 of the order, the last batch short.
  BatchLoader loader(d, pipeline, order, 5, 2, std::nullopt, 1);
  Batch b;
  std::vector<int64_t> counts;
  int64_t position = 10;
  while (loader.next(b)) {
    counts.push_back(b.count);
    for (int64_t k = 0; k < b.count; ++k, ++position) {
      EXPECT_EQ(b.x[size_t(2 * k)], float(order[size_t(position)]));
      EXPECT_EQ(b.y[size_t(k)], float(order[size_t(position)] % 3));
    }
  }
  EXPECT_THAT(counts, ElementsAre(5, 5, 3));
  // The order is a permutation that depends on (seed, epoch) only.
  std::vector<int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(23);
  std::iota(iota.begin(), iota.end(), 0);
  EXPECT_EQ(sorted, iota);
  EXPECT_EQ(epochOrder(23, 4, 1), order);
  EXPECT_NE(epochOrder(23, 4, 2), order);
}
