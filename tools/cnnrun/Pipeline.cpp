//===- Pipeline.cpp - Fitting, augmenting, normalizing; the loader thread -===//
//
// The per-item transformations of Pipeline.h and the BatchLoader: a
// producer thread that fills a queue of at most kAhead prepared batches,
// which the training loop takes in order.
//
//===----------------------------------------------------------------------===//
#include "Pipeline.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <new>
#include <sstream>
#include <stdexcept>

namespace cnnrun {

namespace {
/// Batches the loader prepares ahead of the consumer.
constexpr size_t kAhead = 3;
} // namespace

void Preprocessing::parseAugment(const std::string &spec) {
  std::stringstream list(spec);
  std::string item;
  bool any = false;
  while (std::getline(list, item, ',')) {
    any = true;
    if (item == "flip") {
      flip = true;
    } else if (item.rfind("crop:", 0) == 0) {
      const char *p = item.c_str() + 5;
      char *end = nullptr;
      long long padding = std::strtoll(p, &end, 10);
      if (end == p || *end || padding < 0 || padding > 1024)
        throw std::runtime_error("--augment: '" + item +
                                 "' expects crop:P with a padding P of 0 to 1024 pixels");
      cropPadding = padding;
    } else {
      throw std::runtime_error("--augment: unknown augmentation '" + item +
                               "' (expected crop:P, flip, or both: crop:4,flip)");
    }
  }
  if (!any)
    throw std::runtime_error("--augment: empty list (expected crop:P, flip, or crop:4,flip)");
}

std::vector<float> Preprocessing::parseList(const std::string &flag, const std::string &text,
                                            bool positive) {
  std::vector<float> values;
  std::stringstream list(text);
  std::string item;
  while (std::getline(list, item, ',')) {
    char *end = nullptr;
    double v = std::strtod(item.c_str(), &end);
    if (item.empty() || *end || !std::isfinite(v) || (positive && v <= 0))
      throw std::runtime_error(flag + ": '" + item + "' is not a " + (positive ? "positive " : "") +
                               "number (expected " + flag + " X or X,Y,Z, one per channel)");
    values.push_back(float(v));
  }
  if (values.empty())
    throw std::runtime_error(flag + ": expected a number, or one per channel (X,Y,Z)");
  return values;
}

ItemPipeline::ItemPipeline(const ItemShape &source, const ItemShape &model, const Preprocessing &p)
    : source_(source), model_(model), p_(p) {
  if (source.channels != model.channels && source.channels != 1 &&
      !(source.channels == 3 && model.channels == 1))
    throw std::runtime_error("the data has " + source.str() + " items and the model's input is " +
                             model.str() + ": cannot convert " + std::to_string(source.channels) +
                             " channels to " + std::to_string(model.channels));
  for (auto [flag, list] :
       {std::pair<const char *, std::vector<float> *>{"--mean", &p_.mean}, {"--std", &p_.std}}) {
    if (list->size() == 1)
      list->assign(size_t(model.channels), list->front());
    else if (!list->empty() && int64_t(list->size()) != model.channels)
      throw std::runtime_error(std::string(flag) + " has " + std::to_string(list->size()) +
                               " values; the model's input has " + std::to_string(model.channels) +
                               " channels (give 1 or " + std::to_string(model.channels) + ")");
  }
  if (p_.mean.empty() != p_.std.empty())
    throw std::runtime_error("--mean and --std go together (normalization is (x - mean) / std)");
}

void ItemPipeline::apply(const float *in, float *out, Random *rng) const {
  const int64_t C = model_.channels, H = model_.height, W = model_.width;
  // Scratch space of this thread: the loader calls apply for every item.
  thread_local std::vector<float> resized, shifted;
  // 1. Size first (on the stored channels: fewer when 1 becomes 3), then channels.
  const float *item = in;
  if (source_.height != H || source_.width != W) {
    resized.resize(size_t(source_.channels * H * W));
    resizeBilinear(in, source_.channels, source_.height, source_.width, resized.data(), H, W);
    item = resized.data();
  }
  const int64_t plane = H * W;
  if (source_.channels == C)
    std::copy(item, item + C * plane, out);
  else
    for (int64_t k = 0; k < C; ++k)
      for (int64_t i = 0; i < plane; ++i)
        out[k * plane + i] = source_.channels == 1 ? item[i]
                                                   : 0.299f * item[i] + 0.587f * item[plane + i] +
                                                         0.114f * item[2 * plane + i];
  // 2. Augmentation: crop (a shift with zero fill) and flip.
  if (rng && (p_.cropPadding > 0 || p_.flip)) {
    int64_t pad = std::max<int64_t>(p_.cropPadding, 0);
    int64_t dy = pad ? int64_t(rng->below(uint64_t(2 * pad + 1))) - pad : 0;
    int64_t dx = pad ? int64_t(rng->below(uint64_t(2 * pad + 1))) - pad : 0;
    bool flip = p_.flip && (rng->next() >> 63);
    shifted.assign(out, out + C * H * W);
    const std::vector<float> &copy = shifted;
    for (int64_t k = 0; k < C; ++k)
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          int64_t sy = y + dy, sx = (flip ? W - 1 - x : x) + dx;
          out[(k * H + y) * W + x] =
              sy >= 0 && sy < H && sx >= 0 && sx < W ? copy[size_t((k * H + sy) * W + sx)] : 0.0f;
        }
  }
  // 3. Normalization.
  if (!p_.mean.empty())
    for (int64_t k = 0; k < C; ++k) {
      float mean = p_.mean[size_t(k)], inv = 1.0f / p_.std[size_t(k)];
      for (float *v = out + k * H * W, *e = v + H * W; v != e; ++v)
        *v = (*v - mean) * inv;
    }
}

std::string ItemPipeline::describe(bool training) const {
  std::string s = source_.str();
  if (source_.channels != model_.channels || source_.height != model_.height ||
      source_.width != model_.width)
    s += " fitted to " + model_.str();
  if (!p_.mean.empty())
    s += ", normalized";
  if (training && p_.augments()) {
    s += ", augmented (";
    if (p_.cropPadding >= 0)
      s += "crop:" + std::to_string(p_.cropPadding) + (p_.flip ? ", " : "");
    s += p_.flip ? "flip)" : ")";
  }
  return s;
}

BatchLoader::BatchLoader(const Dataset &data, const ItemPipeline &pipeline,
                         std::vector<int64_t> order, int64_t batchSize, int64_t first,
                         std::optional<uint64_t> augmentSeed, uint64_t epoch)
    : data_(data), pipeline_(pipeline), order_(std::move(order)), batchSize_(batchSize),
      next_(first), augmentSeed_(augmentSeed), epoch_(epoch) {
  thread_ = std::thread([this] { produce(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void BatchLoader::produce() {
  try {
    int64_t itemCount = pipeline_.model().count();
    int64_t total = int64_t(order_.size());
    int64_t batches = total / batchSize_ + (total % batchSize_ != 0);
    for (int64_t b = next_; b < batches; ++b) {
      Batch batch;
      int64_t firstItem = b * batchSize_;
      batch.count = std::min(batchSize_, total - firstItem);
      try {
        batch.x.resize(size_t(batch.count * itemCount));
        batch.y.resize(size_t(batch.count));
      } catch (const std::bad_alloc &) {
        throw std::runtime_error("out of memory: cannot allocate " +
                                 std::to_string(batch.count * itemCount * 4) +
                                 " bytes for a batch of " + std::to_string(batch.count) +
                                 " items of " + pipeline_.model().str());
      }
      for (int64_t k = 0; k < batch.count; ++k) {
        int64_t position = firstItem + k, item = order_[size_t(position)];
        std::optional<Random> rng;
        if (augmentSeed_)
          rng.emplace(Random(*augmentSeed_ ^ 0x5DEECE66DULL).next() ^
                      (epoch_ * 0x9E3779B97F4A7C15ULL) ^
                      (uint64_t(position) * 0xD1B54A32D192ED03ULL));
        pipeline_.apply(data_.item(item), batch.x.data() + k * itemCount, rng ? &*rng : nullptr);
        batch.y[size_t(k)] = data_.labels[size_t(item)];
      }
      std::unique_lock<std::mutex> lock(mutex_);
      changed_.wait(lock, [&] { return stop_ || ready_.size() < kAhead; });
      if (stop_)
        return;
      ready_.push_back(std::move(batch));
      changed_.notify_all();
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex_);
    error_ = std::current_exception();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  done_ = true;
  changed_.notify_all();
}

bool BatchLoader::next(Batch &batch) {
  auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return !ready_.empty() || done_; });
  waited_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (ready_.empty()) {
    if (error_)
      std::rethrow_exception(error_);
    return false;
  }
  batch = std::move(ready_.front());
  ready_.pop_front();
  changed_.notify_all();
  return true;
}

} // namespace cnnrun
