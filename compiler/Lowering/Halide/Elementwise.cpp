//===- Elementwise.cpp - Halide algorithms of point-wise and small ops ----===//
//
// Activations, arithmetic with NumPy broadcasting (residual add, squeeze-
// and-excitation scaling), prelu, upsampling, channel shuffle, inference
// batch norm, softmax, channel concat and the parameter-only batch-norm
// folding. Each works on 4-D (x, y, c, n)
// or 2-D (f, n) Funcs; channels are dim 2 of a 4-D Func and dim 0 of 2-D.
//
//===----------------------------------------------------------------------===//
#include "compiler/Lowering/Halide/Algorithms.h"

using namespace Halide;

namespace cnnc::halide {

std::vector<Var> argsOf(int rank) {
  auto &v = vars();
  if (rank == 4)
    return {v.x, v.y, v.c, v.n};
  if (rank == 2)
    return {v.f, v.n};
  static const std::vector<Var> generic = {Var("d0"), Var("d1"), Var("d2"), Var("d3")};
  return std::vector<Var>(generic.begin(), generic.begin() + rank);
}

/// The channel variable of an activation of the given rank.
static Var channelOf(int rank) { return rank == 4 ? vars().c : vars().f; }

static Func pointwise(const char *name, int rank,
                      const std::function<Expr(const std::vector<Expr> &)> &body) {
  std::vector<Var> args = argsOf(rank);
  Func f(name);
  f(args) = body(std::vector<Expr>(args.begin(), args.end()));
  return f;
}

Func relu(Func in, int rank) {
  return pointwise("relu", rank, [&](auto &a) { return max(in(a), 0.0f); });
}

Func sigmoid(Func in, int rank) {
  return pointwise("sigmoid", rank, [&](auto &a) { return 1.0f / (1.0f + exp(-in(a))); });
}

Func tanh(Func in, int rank) {
  return pointwise("tanh", rank, [&](auto &a) { return Halide::tanh(in(a)); });
}

Func leakyRelu(Func in, int rank, float negativeSlope) {
  return pointwise("leaky_relu", rank, [&](auto &a) {
    Expr x = in(a);
    return select(x > 0.0f, x, negativeSlope * x);
  });
}

Func leakyReluGrad(Func input, Func grad, int rank, float negativeSlope) {
  return pointwise("leaky_relu_grad", rank, [&](auto &a) {
    return select(input(a) > 0.0f, grad(a), negativeSlope * grad(a));
  });
}

Func relu6(Func in, int rank) {
  return pointwise("relu6", rank, [&](auto &a) { return clamp(in(a), 0.0f, 6.0f); });
}

Func relu6Grad(Func input, Func grad, int rank) {
  return pointwise("relu6_grad", rank, [&](auto &a) {
    Expr x = input(a);
    return select(x > 0.0f && x < 6.0f, grad(a), 0.0f);
  });
}

Func hardswish(Func in, int rank) {
  return pointwise("hardswish", rank, [&](auto &a) {
    Expr x = in(a);
    return x * clamp(x + 3.0f, 0.0f, 6.0f) / 6.0f;
  });
}

Func hardswishGrad(Func input, Func grad, int rank) {
  return pointwise("hardswish_grad", rank, [&](auto &a) {
    Expr x = input(a);
    return select(x < -3.0f, 0.0f, x <= 3.0f, grad(a) * (x / 3.0f + 0.5f), grad(a));
  });
}

Func silu(Func in, int rank) {
  return pointwise("silu", rank, [&](auto &a) {
    Expr x = in(a);
    return x / (1.0f + exp(-x));
  });
}

Func siluGrad(Func input, Func grad, int rank) {
  return pointwise("silu_grad", rank, [&](auto &a) {
    Expr x = input(a);
    Expr s = 1.0f / (1.0f + exp(-x));
    return grad(a) * s * (1.0f + x * (1.0f - s));
  });
}

Func clip(Func in, int rank, float lo, float hi) {
  return pointwise("clip", rank, [&](auto &a) { return min(max(in(a), lo), hi); });
}

Func clipGrad(Func input, Func grad, int rank, float lo, float hi) {
  return pointwise("clip_grad", rank, [&](auto &a) {
    Expr x = input(a);
    return select(x > lo && x < hi, grad(a), 0.0f);
  });
}

Func hardSigmoid(Func in, int rank, float alpha, float beta) {
  return pointwise("hardsigmoid", rank,
                   [&](auto &a) { return clamp(alpha * in(a) + beta, 0.0f, 1.0f); });
}

Func hardSigmoidGrad(Func input, Func grad, int rank, float alpha, float beta) {
  return pointwise("hardsigmoid_grad", rank, [&](auto &a) {
    Expr t = alpha * input(a) + beta;
    return select(t > 0.0f && t < 1.0f, alpha * grad(a), 0.0f);
  });
}

Func broadcast(Func in, const std::vector<int64_t> &from, const std::vector<int64_t> &to) {
  std::vector<Var> args = argsOf(int(to.size()));
  // Halide dimension i is dimension size-1-i of a shape: the innermost first.
  std::vector<Expr> at;
  for (size_t i = 0; i < from.size(); ++i) {
    bool spread = from[from.size() - 1 - i] == 1 && to[to.size() - 1 - i] != 1;
    at.push_back(spread ? Expr(0) : Expr(args[i]));
  }
  Func f("broadcast");
  f(args) = in(at);
  return f;
}

Func sumToShape(Func in, const std::vector<int64_t> &from, const std::vector<int64_t> &to,
                Expr batch) {
  std::vector<Var> args = argsOf(int(to.size()));
  Region summed;
  std::vector<int> summedDim; // the Halide dimension of `in` each RDom dimension walks
  for (size_t i = 0; i < from.size(); ++i) {
    int64_t f = from[from.size() - 1 - i];
    bool reduce = i >= to.size() || (to[to.size() - 1 - i] == 1 && f != 1);
    if (reduce) {
      summed.push_back(Range(0, f < 0 ? batch : Expr(int(f))));
      summedDim.push_back(int(i));
    }
  }
  RDom r(summed, "r");
  std::vector<Expr> at;
  for (size_t i = 0, k = 0; i < from.size(); ++i) {
    if (k < summedDim.size() && summedDim[k] == int(i))
      at.push_back(r[int(k++)]);
    else
      at.push_back(args[i]);
  }
  Func f("sum_to_shape");
  f(args) = sum(in(at));
  return f;
}

Func add(Func lhs, Func rhs, int rank) {
  return pointwise("add", rank, [&](auto &a) { return lhs(a) + rhs(a); });
}

Func sub(Func lhs, Func rhs, int rank) {
  return pointwise("sub", rank, [&](auto &a) { return lhs(a) - rhs(a); });
}

Func mul(Func lhs, Func rhs, int rank) {
  return pointwise("mul", rank, [&](auto &a) { return lhs(a) * rhs(a); });
}

Func div(Func lhs, Func rhs, int rank) {
  return pointwise("div", rank, [&](auto &a) { return lhs(a) / rhs(a); });
}

Func affine(Func in, int rank, float scale, float shift) {
  return pointwise("affine", rank, [&](auto &a) { return scale * in(a) + shift; });
}

/// The slope of the element at `a`: per channel, or the one shared value.
static Expr slopeAt(Func slope, int rank, int slopes, const std::vector<Expr> &a) {
  return slopes == 1 ? slope(0) : slope(a[rank == 4 ? 2 : 0]);
}

Func prelu(Func in, Func slope, int rank, int slopes) {
  return pointwise("prelu", rank, [&](auto &a) {
    Expr x = in(a);
    return select(x > 0.0f, x, slopeAt(slope, rank, slopes, a) * x);
  });
}

Func preluGradInput(Func in, Func slope, Func grad, int rank, int slopes) {
  return pointwise("prelu_grad_input", rank, [&](auto &a) {
    return select(in(a) > 0.0f, grad(a), slopeAt(slope, rank, slopes, a) * grad(a));
  });
}

Func preluGradSlope(Func in, Func grad, int rank) {
  return pointwise("prelu_grad_slope", rank,
                   [&](auto &a) { return select(in(a) > 0.0f, 0.0f, grad(a) * in(a)); });
}

namespace {
/// Where output position `o` of an upsampled axis reads its input (extent
/// `in` upsampled to `out`): pixels i0 and i1 with weights 1 - frac and frac
/// (PyTorch's upsample_bilinear2d), or pixel i0 alone (nearest).
struct UpsampleTaps {
  Expr i0, i1, frac;
};

UpsampleTaps upsampleTaps(Expr o, int in, int out, bool bilinear, bool alignCorners) {
  if (!bilinear) {
    Expr i = min((o * in) / out, in - 1);
    return {i, i, 0.0f};
  }
  Expr src;
  if (alignCorners)
    src = out > 1 ? cast<float>(o) * (float(in - 1) / float(out - 1)) : Expr(0.0f);
  else
    src = max((float(in) / float(out)) * (cast<float>(o) + 0.5f) - 0.5f, 0.0f);
  Expr i0 = min(cast<int>(floor(src)), in - 1);
  return {i0, min(i0 + 1, in - 1), src - cast<float>(i0)};
}

/// The weight with which output `o` reads input pixel `i` along one axis.
Expr upsampleWeight(Expr o, Expr i, int in, int out, bool bilinear, bool alignCorners) {
  UpsampleTaps t = upsampleTaps(o, in, out, bilinear, alignCorners);
  if (!bilinear)
    return select(t.i0 == i, 1.0f, 0.0f);
  return select(t.i0 == i, 1.0f - t.frac, 0.0f) + select(t.i1 == i, t.frac, 0.0f);
}

/// The outputs that may read input pixel `i` along one axis: [first,
/// first + span), a superset (the weight is 0 for the others).
std::pair<Expr, int> upsampleReaders(Expr i, int in, int out, bool bilinear, bool alignCorners) {
  if (in == 1)
    return {Expr(0), out};
  if (!bilinear) // ⌊o·in/out⌋ = i for o in [⌈i·out/in⌉, ⌈(i+1)·out/in⌉)
    return {(i * out + in - 1) / in, (out + in - 1) / in};
  // An output reads i only if its source position lies in (i - 1, i + 1)
  // (or is clamped onto i at an edge); the source advances by den/num per
  // output, so those outputs lie within 3·num/den + 4 of `first`.
  int num = alignCorners ? out - 1 : out, den = alignCorners ? in - 1 : in;
  Expr first = max(((i - 1) * num) / den - 2, 0);
  return {first, (3 * num + den - 1) / den + 4};
}
} // namespace

Func upsample(Func in, Extent4D inExtent, Extent4D outExtent, bool bilinear, bool alignCorners) {
  auto &v = vars();
  UpsampleTaps tx = upsampleTaps(v.x, inExtent.w, outExtent.w, bilinear, alignCorners);
  UpsampleTaps ty = upsampleTaps(v.y, inExtent.h, outExtent.h, bilinear, alignCorners);
  Func f("upsample");
  if (!bilinear) {
    f(v.x, v.y, v.c, v.n) = in(tx.i0, ty.i0, v.c, v.n);
    return f;
  }
  Expr top = (1.0f - tx.frac) * in(tx.i0, ty.i0, v.c, v.n) + tx.frac * in(tx.i1, ty.i0, v.c, v.n);
  Expr bottom =
      (1.0f - tx.frac) * in(tx.i0, ty.i1, v.c, v.n) + tx.frac * in(tx.i1, ty.i1, v.c, v.n);
  f(v.x, v.y, v.c, v.n) = (1.0f - ty.frac) * top + ty.frac * bottom;
  return f;
}

Func upsampleGrad(Func grad, Extent4D inExtent, Extent4D outExtent, bool bilinear,
                  bool alignCorners) {
  auto &v = vars();
  // Separable: along x into (input x, output y), then along y.
  auto [firstX, spanX] = upsampleReaders(v.x, inExtent.w, outExtent.w, bilinear, alignCorners);
  RDom rx(0, spanX, "rx");
  Expr ox = firstX + rx;
  Func alongX("upsample_grad_x");
  alongX(v.x, v.y, v.c, v.n) =
      sum(select(ox < outExtent.w,
                 upsampleWeight(ox, v.x, inExtent.w, outExtent.w, bilinear, alignCorners) *
                     grad(min(ox, outExtent.w - 1), v.y, v.c, v.n),
                 0.0f));
  auto [firstY, spanY] = upsampleReaders(v.y, inExtent.h, outExtent.h, bilinear, alignCorners);
  RDom ry(0, spanY, "ry");
  Expr oy = firstY + ry;
  Func f("upsample_grad");
  f(v.x, v.y, v.c, v.n) =
      sum(select(oy < outExtent.h,
                 upsampleWeight(oy, v.y, inExtent.h, outExtent.h, bilinear, alignCorners) *
                     alongX(v.x, min(oy, outExtent.h - 1), v.c, v.n),
                 0.0f));
  return f;
}

Func pad(Func in, Extent4D inExtent, int top, int left, float value) {
  auto &v = vars();
  Expr x = v.x - left, y = v.y - top;
  Expr inside = x >= 0 && x < inExtent.w && y >= 0 && y < inExtent.h;
  Func f("pad");
  f(v.x, v.y, v.c, v.n) =
      select(inside, in(clamp(x, 0, inExtent.w - 1), clamp(y, 0, inExtent.h - 1), v.c, v.n), value);
  return f;
}

Func crop(Func in, int top, int left) {
  auto &v = vars();
  Func f("crop");
  f(v.x, v.y, v.c, v.n) = in(v.x + left, v.y + top, v.c, v.n);
  return f;
}

Func channelShuffle(Func in, int channels, int groups) {
  auto &v = vars();
  int perGroup = channels / groups;
  Func f("channel_shuffle");
  f(v.x, v.y, v.c, v.n) = in(v.x, v.y, (v.c % groups) * perGroup + v.c / groups, v.n);
  return f;
}

Func batchNorm(Func in, int rank, Func gamma, Func beta, Func mean, Func variance, float epsilon) {
  Var ch = channelOf(rank);
  return pointwise("batch_norm", rank, [&](auto &a) {
    return (in(a)-mean(ch)) * (gamma(ch) / sqrt(variance(ch) + epsilon)) + beta(ch);
  });
}

SoftmaxStages softmax(Func in, int features) {
  auto &v = vars();
  SoftmaxStages s{Func("softmax_max"), Func("softmax_sum"), Func("softmax")};
  RDom r(0, features, "r");
  s.maximum(v.n) = -std::numeric_limits<float>::infinity();
  s.maximum(v.n) = max(s.maximum(v.n), in(r, v.n));
  s.sum(v.n) = 0.0f;
  s.sum(v.n) += exp(in(r, v.n) - s.maximum(v.n));
  s.softmax(v.f, v.n) = exp(in(v.f, v.n) - s.maximum(v.n)) / s.sum(v.n);
  return s;
}

Func concat(const std::vector<Func> &inputs, const std::vector<int> &channels, int rank) {
  std::vector<Var> args = argsOf(rank);
  int channelDim = rank == 4 ? 2 : 0;
  Var ch = args[channelDim];
  // select(c < end0, in0(c), c < end1, in1(c - end0), ...): each input is
  // read at a clamped channel so every branch stays in bounds.
  Expr value;
  for (int i = int(inputs.size()) - 1; i >= 0; --i) {
    int start = 0;
    for (int j = 0; j < i; ++j)
      start += channels[j];
    std::vector<Expr> at(args.begin(), args.end());
    at[channelDim] = clamp(ch - start, 0, channels[i] - 1);
    Expr read = inputs[i](at);
    value = value.defined() ? select(ch < start + channels[i], read, value) : read;
  }
  Func f("concat");
  f(args) = value;
  return f;
}

Func bnFoldWeight(Func weight, int rank, Func gamma, Func variance, float epsilon) {
  std::vector<Var> args;
  for (int i = 0; i < rank; ++i)
    args.push_back(Var("d" + std::to_string(i)));
  Var out = args.back(); // PyTorch's outermost dim (O) is Halide's last
  Func f("bn_fold_weight");
  f(args) = weight(args) * (gamma(out) / sqrt(variance(out) + epsilon));
  return f;
}

Func bnFoldBias(Func gamma, Func beta, Func mean, Func variance, std::optional<Func> bias,
                float epsilon) {
  Var o("o");
  Func f("bn_fold_bias");
  Expr b = bias ? (*bias)(o) : Expr(0.0f);
  f(o) = (b - mean(o)) * (gamma(o) / sqrt(variance(o) + epsilon)) + beta(o);
  return f;
}

Func positionBias(Func in, Func bias) {
  auto &v = vars();
  Func f("position_bias");
  f(v.x, v.y, v.c, v.n) = in(v.x, v.y, v.c, v.n) + bias(v.x, v.y, v.c);
  return f;
}

Func reduceOverBatch(Func in, int rank, Expr batch) {
  std::vector<Var> args = argsOf(rank);
  args.pop_back(); // the batch
  std::vector<Expr> at(args.begin(), args.end());
  RDom r(0, batch, "r");
  at.push_back(r);
  Func f("reduce_over_batch");
  f(args) = sum(in(at));
  return f;
}

} // namespace cnnc::halide
