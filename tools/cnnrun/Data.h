//===- Data.h - Labelled image datasets for cnnrun train and eval -*- C++ -*-===//
//
// What `--data DIR` may hold and how it is read into memory. Three layouts
// are recognised, in this order:
//   IDX:     DIR/train-images-idx3-ubyte[.gz], DIR/train-labels-idx1-ubyte[.gz]
//            and the DIR/t10k-* test pair (MNIST, Fashion-MNIST);
//   .npy:    DIR/train_images.npy (N×C×H×W or N×H×W, float32 as is, uint8
//            divided by 255) with DIR/train_labels.npy (N integers), and
//            optionally val_* and test_* pairs;
//   folders: DIR/<class>/*.png|jpg|jpeg|bmp|gif (the training set), or
//            DIR/train/<class>/..., with DIR/val/<class>/... and
//            DIR/test/<class>/...; classes are the folder names in sorted
//            order, images are decoded (stb_image) to the model's channel
//            count and resized to its height and width.
// Items are kept as float32 in their stored shape; fitting them to the
// model's input, augmentation and normalization happen per batch
// (Pipeline.h).
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_TOOLS_CNNRUN_DATA_H
#define CNNC_TOOLS_CNNRUN_DATA_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cnnrun {

/// The shape of one item: channels, height, width.
struct ItemShape {
  int64_t channels = 0, height = 0, width = 0;
  int64_t count() const { return channels * height * width; }
  std::string str() const; ///< "3×32×32"
};

/// Labelled items in memory: item i is `shape.count()` floats at
/// items[i * shape.count()], its label (a class index) labels[i].
struct Dataset {
  ItemShape shape;
  std::vector<float> items;
  std::vector<float> labels;
  std::string origin; ///< where it came from, for messages ("DIR/train_images.npy")

  int64_t size() const { return int64_t(labels.size()); }
  const float *item(int64_t i) const { return items.data() + i * shape.count(); }
  /// The items at `indices`, in that order, as a dataset of their own.
  Dataset subset(const std::vector<int64_t> &indices, const std::string &origin) const;
};

/// The splits found in a data directory.
struct DataSplits {
  std::string layout; ///< "IDX", ".npy" or "image folders"
  Dataset train;
  std::optional<Dataset> val, test;
  std::vector<std::string> classNames; ///< image folders only
};

/// Which splits to read (training reads all of them, evaluation only test).
enum class Splits { All, TestOnly };

/// Reads DIR. `model` is the model's input item shape: image folders are
/// decoded to it; other layouts keep their stored shape. `limit` and
/// `testLimit` keep only the first N items of train (and val) and of test
/// (0: all). Throws std::runtime_error naming what DIR must contain.
DataSplits loadData(const std::string &dir, const ItemShape &model, Splits splits, int64_t limit,
                    int64_t testLimit);

/// Resizes a C×h×w image to C×H×W, bilinear with half-pixel centres
/// (PyTorch's interpolate(mode='bilinear', align_corners=False)).
void resizeBilinear(const float *in, int64_t c, int64_t h, int64_t w, float *out, int64_t H,
                    int64_t W);

/// What --data DIR must contain, for the help of train and eval.
extern const char *const kDataHelp;

/// A splitmix64 stream: the shuffles and augmentations of cnnrun depend on
/// nothing but their seeds.
class Random {
public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n) for n >= 1.
  uint64_t below(uint64_t n) { return next() % n; }

private:
  uint64_t state_;
};

/// The training order of `size` items in epoch `epoch`: a Fisher-Yates
/// shuffle seeded by (seed, epoch) alone, so a resumed run sees the order
/// of an uninterrupted one.
std::vector<int64_t> epochOrder(int64_t size, uint64_t seed, uint64_t epoch);

} // namespace cnnrun

#endif
