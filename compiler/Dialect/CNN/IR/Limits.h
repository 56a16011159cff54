//===- Limits.h - the sizes cnnc compiles, and checked arithmetic -*- C++ -*-===//
//
// Every limit cnnc puts on the sizes of a model at compile time, in one
// place, and the overflow-checked integer arithmetic that the shape
// functions, the padding resolution, the complexity report, the planner and
// the schedules compute sizes with: a sum or product that does not fit in 64
// bits is an error reported at the layer, never a wrapped value. Plain C++
// (no MLIR, no LLVM, no Halide), so the Halide algorithms and schedules can
// include it too.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_DIALECT_CNN_IR_LIMITS_H
#define CNNC_DIALECT_CNN_IR_LIMITS_H

#include "cnnc/model_schema.h"

#include <cstdint>
#include <limits>
#include <optional>

namespace cnnc::limits {

/// The largest extent of one dimension of a tensor, and the largest kernel
/// size, stride, dilation, padding, dilated kernel span and padded input
/// extent: the kernels compute indices with 32-bit integers (Halide without
/// its large_buffers feature).
inline constexpr int64_t kMaxExtent = 2147483647; // 2^31 - 1

/// The most elements one buffer may hold per batch item, and in all at the
/// batch the model is compiled for (the train batch). The runtime enforces
/// the same limit on the metadata and on the batch of each call.
inline constexpr int64_t kMaxBufferElements = schema::kMaxBufferElements;

/// Bytes per element of every buffer (f32).
inline constexpr int64_t kBytesPerElement = 4;

/// The default memory budget of a model (`cnnc --max-memory`): the sum of
/// its planned buffers at the train batch (per item for a model without a
/// train step). 64 GiB: VGG-16 with its train step at batch 256, the largest
/// model of models/, plans 48.6 GiB.
inline constexpr uint64_t kDefaultMaxMemoryBytes = uint64_t(64) << 30;

/// CPU and GPU schedules: a kernel window of at most this many taps is
/// unrolled completely (3x3, 5x5, 1x25), so its accumulators stay in
/// registers and every tap is one instruction.
inline constexpr int64_t kMaxUnrolledTaps = 25;
/// Past kMaxUnrolledTaps, one kernel row (the taps along x) is unrolled
/// completely when it has at most this many taps (7x7, 11x11) ...
inline constexpr int64_t kMaxUnrolledRow = 16;
/// ... and a longer row is split, this many taps unrolled inside a loop
/// over the rest, so the generated code and the compile time do not grow
/// with a kernel size the model file chooses.
inline constexpr int kTapUnrollFactor = 8;

/// An int64_t computation that remembers whether it overflowed: every
/// operation on an overflowed value stays overflowed, so a whole formula is
/// written plainly and checked once at the end.
class Checked {
public:
  Checked(int64_t value) : value_(value) {}
  static Checked overflowed() { return Checked(); }

  bool ok() const { return value_.has_value(); }
  /// The value; only when ok().
  int64_t value() const { return *value_; }
  /// The value, or `fallback` after an overflow.
  int64_t valueOr(int64_t fallback) const { return value_.value_or(fallback); }
  /// The value, or INT64_MAX after an overflow: for figures that are only
  /// reported (a report prints the saturated value as "overflow").
  int64_t saturated() const { return valueOr(std::numeric_limits<int64_t>::max()); }

  friend Checked operator+(Checked a, Checked b) {
    int64_t r;
    if (!a.ok() || !b.ok() || __builtin_add_overflow(*a.value_, *b.value_, &r))
      return overflowed();
    return r;
  }
  friend Checked operator-(Checked a, Checked b) {
    int64_t r;
    if (!a.ok() || !b.ok() || __builtin_sub_overflow(*a.value_, *b.value_, &r))
      return overflowed();
    return r;
  }
  friend Checked operator*(Checked a, Checked b) {
    int64_t r;
    if (!a.ok() || !b.ok() || __builtin_mul_overflow(*a.value_, *b.value_, &r))
      return overflowed();
    return r;
  }
  /// Integer division rounding towards zero; a zero divisor or
  /// INT64_MIN / -1 overflows.
  friend Checked operator/(Checked a, Checked b) {
    if (!a.ok() || !b.ok() || *b.value_ == 0 ||
        (*a.value_ == std::numeric_limits<int64_t>::min() && *b.value_ == -1))
      return overflowed();
    return *a.value_ / *b.value_;
  }
  Checked &operator+=(Checked b) { return *this = *this + b; }
  Checked &operator*=(Checked b) { return *this = *this * b; }

private:
  Checked() = default;
  std::optional<int64_t> value_;
};

/// The product of the dimensions of `shape` that are >= 0 (a negative one is
/// the dynamic batch and counts as 1), checked.
template <typename Range> inline Checked productOfStatic(const Range &shape) {
  Checked n = 1;
  for (int64_t d : shape)
    if (d >= 0)
      n *= d;
  return n;
}

} // namespace cnnc::limits

#endif
