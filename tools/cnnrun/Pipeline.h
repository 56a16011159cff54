//===- Pipeline.h - From stored items to model batches ----------*- C++ -*-===//
//
// What happens to an item on its way into a batch, in order:
//   1. fit: channels converted (1 -> C repeats it, 3 -> 1 takes the
//      luminance) and the image resized (bilinear) to the model's input;
//   2. augmentation, training batches only: a random crop after zero
//      padding (--augment crop:P) and a random horizontal flip
//      (--augment flip), drawn from a stream seeded by (seed, epoch,
//      position in the epoch), so a resumed run augments exactly as an
//      uninterrupted one;
//   3. normalization: (x - mean[c]) / std[c] (--mean, --std).
// A BatchLoader prepares the batches of an epoch in a thread of its own, a
// few ahead of the train step that consumes them, so that reading and
// augmenting does not add to the step time; the time the consumer waited
// for it is reported.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_TOOLS_CNNRUN_PIPELINE_H
#define CNNC_TOOLS_CNNRUN_PIPELINE_H

#include "Data.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>

namespace cnnrun {

/// The preprocessing the command line asks for.
struct Preprocessing {
  std::vector<float> mean, std; ///< one value, or one per model channel (empty: none)
  int64_t cropPadding = -1;     ///< random crop after this much zero padding (-1: none)
  bool flip = false;            ///< random horizontal flip

  bool augments() const { return cropPadding >= 0 || flip; }
  /// Parses --augment "crop:4,flip" into this; throws on a malformed list.
  void parseAugment(const std::string &spec);
  /// Parses a --mean / --std list "0.5" or "0.485,0.456,0.406".
  static std::vector<float> parseList(const std::string &flag, const std::string &text,
                                      bool positive);
};

/// Turns a stored item into a model input item.
class ItemPipeline {
public:
  /// Throws if `source` items cannot be fitted to `model` or the mean/std
  /// lists do not match the model's channels.
  ItemPipeline(const ItemShape &source, const ItemShape &model, const Preprocessing &p);

  /// Writes the model input for `in` to `out` (model.count() floats); with
  /// `rng`, augmented from it.
  void apply(const float *in, float *out, Random *rng) const;

  /// "1x28x28 resized to 3x32x32, normalized, augmented (crop:4, flip)".
  std::string describe(bool training) const;
  const ItemShape &model() const { return model_; }

private:
  ItemShape source_, model_;
  Preprocessing p_;
};

/// One batch of model inputs and labels.
struct Batch {
  std::vector<float> x, y;
  int64_t count = 0; ///< items in it (the last batch of an epoch may be short)
};

/// Prepares the batches of one pass over a dataset in a thread of its own.
class BatchLoader {
public:
  /// Batches [first, ...) of `order` (item indices), `batchSize` items each.
  /// With `augmentSeed`, items are augmented from (seed, epoch, position).
  BatchLoader(const Dataset &data, const ItemPipeline &pipeline, std::vector<int64_t> order,
              int64_t batchSize, int64_t first, std::optional<uint64_t> augmentSeed,
              uint64_t epoch);
  ~BatchLoader();
  BatchLoader(const BatchLoader &) = delete;
  BatchLoader &operator=(const BatchLoader &) = delete;

  /// Moves the next batch into `batch`; false after the last. Rethrows an
  /// error of the loading thread.
  bool next(Batch &batch);
  /// Seconds next() spent waiting for the loader so far.
  double waitSeconds() const { return waited_; }

private:
  void produce();

  const Dataset &data_;
  const ItemPipeline &pipeline_;
  std::vector<int64_t> order_;
  int64_t batchSize_, next_;
  std::optional<uint64_t> augmentSeed_;
  uint64_t epoch_;
  double waited_ = 0;

  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> ready_;
  bool done_ = false, stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

} // namespace cnnrun

#endif
