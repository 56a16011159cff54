//===- dataset.cpp - Labelled datasets and learning-rate schedules --------===//
//
// cnnc_dataset: items (float32, pixels / 255) and float labels read from a
// pair of IDX files (cnnc_idx_load: gzipped or plain), with an order that a
// seeded Fisher-Yates shuffle sets from (seed, epoch) alone -- so epoch e of
// a resumed run sees exactly the order of an uninterrupted one -- and
// batching in that order with the last partial batch included. Also the
// learning-rate schedules, pure functions of the step number so that resumed
// runs get the same rates.
//
//===----------------------------------------------------------------------===//
#include "error.h"
#include "model.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <numeric>

using namespace cnnc::rt;

/// The opaque dataset of the C API.
struct cnnc_dataset {
  int64_t size = 0, itemCount = 0;
  std::vector<float> items, labels;
  std::vector<int64_t> order;
};

namespace {

/// Frees a cnnc_array on scope exit.
struct ArrayGuard {
  cnnc_array a{};
  ~ArrayGuard() { cnnc_array_free(&a); }
};

void loadIdx(const char *path, cnnc_array &out) {
  cnnc_status status = cnnc_idx_load(path, &out);
  if (status != CNNC_OK)
    fail(status, cnnc_last_error());
}

void requireDataset(const cnnc_dataset *d, const char *fn) {
  if (!d)
    fail(CNNC_ERROR_INVALID_ARGUMENT, std::string(fn) + ": dataset is null");
}

} // namespace

extern "C" cnnc_status cnnc_dataset_load_idx(const char *images_path, const char *labels_path,
                                             int64_t limit, cnnc_dataset **out_dataset) {
  return guard([&] {
    if (!out_dataset)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_dataset_load_idx: out_dataset is null");
    *out_dataset = nullptr;
    if (!images_path || !labels_path)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_dataset_load_idx: null path");
    if (limit < 0)
      fail(CNNC_ERROR_INVALID_ARGUMENT,
           "cnnc_dataset_load_idx: limit must be >= 0, got " + std::to_string(limit));
    ArrayGuard images, labels;
    loadIdx(images_path, images.a);
    loadIdx(labels_path, labels.a);
    if (images.a.rank < 1 || images.a.shape[0] < 1)
      fail(CNNC_ERROR_FORMAT, std::string(images_path) + ": no images");
    if (labels.a.rank != 1)
      fail(CNNC_ERROR_FORMAT, std::string(labels_path) +
                                  ": labels must be a 1-D IDX array, found rank " +
                                  std::to_string(labels.a.rank));
    if (labels.a.shape[0] != images.a.shape[0])
      fail(CNNC_ERROR_FORMAT, std::string(labels_path) + ": " + std::to_string(labels.a.shape[0]) +
                                  " labels for " + std::to_string(images.a.shape[0]) +
                                  " images in '" + images_path + "'");
    auto d = std::make_unique<cnnc_dataset>();
    d->size = images.a.shape[0];
    if (limit > 0 && limit < d->size)
      d->size = limit;
    d->itemCount = d->size ? images.a.count / images.a.shape[0] : 0;
    try {
      d->items.resize(size_t(d->size * d->itemCount)); // <= images.a.count, which exists
    } catch (const std::bad_alloc &) {
      fail(CNNC_ERROR_OUT_OF_MEMORY, std::string(images_path) + ": cannot allocate " +
                                         std::to_string(d->size * d->itemCount * 4) +
                                         " bytes for " + std::to_string(d->size) + " items");
    }
    for (size_t i = 0; i < d->items.size(); ++i)
      d->items[i] = images.a.data[i] / 255.0f;
    d->labels.assign(labels.a.data, labels.a.data + d->size);
    d->order.resize(size_t(d->size));
    std::iota(d->order.begin(), d->order.end(), 0);
    *out_dataset = d.release();
  });
}

extern "C" void cnnc_dataset_free(cnnc_dataset *dataset) { delete dataset; }

extern "C" int64_t cnnc_dataset_size(const cnnc_dataset *dataset) {
  return dataset ? dataset->size : 0;
}

extern "C" int64_t cnnc_dataset_item_count(const cnnc_dataset *dataset) {
  return dataset ? dataset->itemCount : 0;
}

extern "C" cnnc_status cnnc_dataset_shuffle(cnnc_dataset *dataset, uint64_t seed, uint64_t epoch) {
  return guard([&] {
    requireDataset(dataset, "cnnc_dataset_shuffle");
    std::iota(dataset->order.begin(), dataset->order.end(), 0);
    // One stream per (seed, epoch); Fisher-Yates from the back (Durstenfeld).
    SplitMix64 rng(SplitMix64(seed).next() ^ (epoch * 0x9E3779B97F4A7C15ULL));
    for (int64_t i = dataset->size - 1; i > 0; --i)
      std::swap(dataset->order[size_t(i)], dataset->order[size_t(rng.below(uint64_t(i) + 1))]);
  });
}

extern "C" cnnc_status cnnc_dataset_reset_order(cnnc_dataset *dataset) {
  return guard([&] {
    requireDataset(dataset, "cnnc_dataset_reset_order");
    std::iota(dataset->order.begin(), dataset->order.end(), 0);
  });
}

extern "C" int64_t cnnc_dataset_num_batches(const cnnc_dataset *dataset, int64_t batch_size) {
  if (!dataset || batch_size < 1)
    return 0;
  return (dataset->size + batch_size - 1) / batch_size;
}

extern "C" cnnc_status cnnc_dataset_get_batch(const cnnc_dataset *dataset, int64_t index,
                                              int64_t batch_size, float *out_items,
                                              float *out_labels, int64_t *out_count) {
  return guard([&] {
    requireDataset(dataset, "cnnc_dataset_get_batch");
    if (batch_size < 1)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_dataset_get_batch: batch size must be at least 1");
    if (!out_items || !out_labels || !out_count)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_dataset_get_batch: null output");
    int64_t batches = cnnc_dataset_num_batches(dataset, batch_size);
    if (index < 0 || index >= batches)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_dataset_get_batch: batch " + std::to_string(index) +
                                            " out of range (" + std::to_string(batches) +
                                            " batches)");
    int64_t first = index * batch_size;
    int64_t count = std::min(batch_size, dataset->size - first);
    size_t itemBytes = size_t(dataset->itemCount) * sizeof(float);
    for (int64_t k = 0; k < count; ++k) {
      int64_t item = dataset->order[size_t(first + k)];
      std::memcpy(out_items + k * dataset->itemCount,
                  dataset->items.data() + item * dataset->itemCount, itemBytes);
      out_labels[k] = dataset->labels[size_t(item)];
    }
    *out_count = count;
  });
}

extern "C" cnnc_status cnnc_lr_schedule_parse(const char *spec, cnnc_lr_schedule *out_schedule) {
  return guard([&] {
    if (!spec || !out_schedule)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_lr_schedule_parse: null argument");
    std::string s = spec;
    cnnc_lr_schedule r{CNNC_LR_CONSTANT, 1, 1.0};
    if (s == "constant") {
    } else if (s == "cosine") {
      r.kind = CNNC_LR_COSINE;
    } else if (s.rfind("step:", 0) == 0) {
      r.kind = CNNC_LR_STEP;
      const char *p = s.c_str() + 5;
      char *end = nullptr;
      errno = 0;
      long long e = std::strtoll(p, &end, 10);
      bool ok = !errno && end != p && *end == ':' && e >= 1;
      double g = 0;
      if (ok) {
        const char *q = end + 1;
        g = std::strtod(q, &end);
        ok = end != q && !*end && std::isfinite(g) && g > 0;
      }
      if (!ok)
        fail(CNNC_ERROR_INVALID_ARGUMENT,
             "learning-rate schedule '" + s +
                 "': expected step:E:G with E >= 1 epochs and a factor G > 0, e.g. step:2:0.5");
      r.step_epochs = e;
      r.gamma = g;
    } else {
      fail(CNNC_ERROR_INVALID_ARGUMENT,
           "unknown learning-rate schedule '" + s + "' (expected constant, step:E:G or cosine)");
    }
    *out_schedule = r;
  });
}

extern "C" cnnc_status cnnc_lr_schedule_at(const cnnc_lr_schedule *schedule, double base_lr,
                                           uint64_t step, int64_t steps_per_epoch, int64_t epochs,
                                           double *out_lr) {
  return guard([&] {
    if (!schedule || !out_lr)
      fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_lr_schedule_at: null argument");
    if (steps_per_epoch < 1 || epochs < 1)
      fail(CNNC_ERROR_INVALID_ARGUMENT,
           "cnnc_lr_schedule_at: steps_per_epoch and epochs must be at least 1");
    switch (schedule->kind) {
    case CNNC_LR_CONSTANT:
      *out_lr = base_lr;
      return;
    case CNNC_LR_STEP: {
      if (schedule->step_epochs < 1)
        fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_lr_schedule_at: step_epochs must be >= 1");
      uint64_t epoch = step / uint64_t(steps_per_epoch);
      *out_lr =
          base_lr * std::pow(schedule->gamma, double(epoch / uint64_t(schedule->step_epochs)));
      return;
    }
    case CNNC_LR_COSINE: {
      double total = double(steps_per_epoch) * double(epochs);
      double t = std::min(double(step), total);
      *out_lr = base_lr * 0.5 * (1.0 + std::cos(M_PI * t / total));
      return;
    }
    }
    fail(CNNC_ERROR_INVALID_ARGUMENT, "cnnc_lr_schedule_at: unknown schedule kind");
  });
}
