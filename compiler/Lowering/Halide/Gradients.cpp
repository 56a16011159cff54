//===- Gradients.cpp - Halide algorithms of the backward ops --------------===//
//
// The gradient rules of the cnn ops as Halide definitions. Every rule is written
// in gather form (each output element sums what flows into it), so no
// kernel scatters and none needs atomics: conv's input gradient is a
// convolution of the upsampled δ with the flipped kernel, pooling gradients
// visit the windows that contain each input position. Batch-wide sums take
// the run-time batch extent `batch`.
//
//===----------------------------------------------------------------------===//
#include "compiler/Lowering/Halide/Algorithms.h"

using namespace Halide;

namespace cnnc::halide {

ConvStages convolutionGradInput(Func grad, Extent4D gradExtent, Func weight, const ConvAttrs &f,
                                Extent4D inputExtent, std::optional<Func> bias) {
  auto &v = vars();
  ConvStages s;
  // δ upsampled by the stride (zeros between) and zero outside: a stride-1
  // convolution over it with padding d·(k-1) - p gives the input gradient.
  s.padded = Func("upsampled_grad");
  Expr inside = v.x >= 0 && v.x <= (gradExtent.w - 1) * f.strideX && v.y >= 0 &&
                v.y <= (gradExtent.h - 1) * f.strideY;
  if (f.strideX > 1)
    inside = inside && v.x % f.strideX == 0;
  if (f.strideY > 1)
    inside = inside && v.y % f.strideY == 0;
  s.padded(v.x, v.y, v.c, v.n) = select(inside,
                                        grad(clamp(v.x / f.strideX, 0, gradExtent.w - 1),
                                             clamp(v.y / f.strideY, 0, gradExtent.h - 1), v.c, v.n),
                                        0.0f);
  s.source = s.padded;
  ConvAttrs a;
  a.kernelW = f.kernelW;
  a.kernelH = f.kernelH;
  a.dilationX = f.dilationX;
  a.dilationY = f.dilationY;
  a.padLeft = f.dilationX * (f.kernelW - 1) - f.padLeft;
  a.padRight = f.dilationX * (f.kernelW - 1) - f.padRight;
  a.padTop = f.dilationY * (f.kernelH - 1) - f.padTop;
  a.padBottom = f.dilationY * (f.kernelH - 1) - f.padBottom;
  a.groups = f.groups;
  a.outChannels = inputExtent.c;
  s.attrs = a;
  s.input = {(gradExtent.w - 1) * f.strideX + 1, (gradExtent.h - 1) * f.strideY + 1, gradExtent.c};
  s.output = inputExtent;
  int outPerGroup = f.outChannels / f.groups, inPerGroup = inputExtent.c / f.groups;
  // rot180(W), with input and output channels exchanged within each group.
  s.r = RDom(0, a.kernelW, 0, a.kernelH, 0, outPerGroup, "r");
  Var kx("kx"), ky("ky"), oi("oi"), c("ci");
  s.weights = Func("flipped_weights");
  s.weights(kx, ky, oi, c) = weight(a.kernelW - 1 - kx, a.kernelH - 1 - ky, c % inPerGroup,
                                    (c / inPerGroup) * outPerGroup + oi);
  Expr o = (v.c / inPerGroup) * outPerGroup + s.r.z;
  s.conv = Func("conv");
  s.conv(v.x, v.y, v.c, v.n) = bias ? (*bias)(v.c) : Expr(0.0f);
  s.conv(v.x, v.y, v.c, v.n) +=
      s.weights(s.r.x, s.r.y, s.r.z, v.c) *
      s.padded(v.x + s.r.x * a.dilationX - a.padLeft, v.y + s.r.y * a.dilationY - a.padTop, o, v.n);
  return s;
}

ConvGradWeightStages convolutionGradWeight(Func input, Extent4D in, Func grad, Extent4D g,
                                           const ConvAttrs &f, int inPerGroup, Expr batch) {
  auto &v = vars();
  ConvGradWeightStages s;
  s.attrs = f;
  s.input = in;
  s.grad = g;
  s.inputPadded = paddedInput(input, in, 0.0f, "input_padded");
  // δ zero past the end of its rows, so a schedule may sum whole vectors of a row.
  s.gradCopy = Func("grad_copy");
  s.gradCopy(v.x, v.y, v.c, v.n) = select(v.x < g.w, grad(min(v.x, g.w - 1), v.y, v.c, v.n), 0.0f);
  int outPerGroup = f.outChannels / f.groups;
  Var kx("kx"), ky("ky"), ci("ci"), o("o");
  s.r = RDom(0, g.w, 0, g.h, 0, batch, "r");
  s.gradWeight = Func("conv_grad_weight");
  s.gradWeight(kx, ky, ci, o) = 0.0f;
  s.gradWeight(kx, ky, ci, o) += s.gradCopy(s.r.x, s.r.y, o, s.r.z) *
                                 s.inputPadded(s.r.x * f.strideX + kx * f.dilationX - f.padLeft,
                                               s.r.y * f.strideY + ky * f.dilationY - f.padTop,
                                               (o / outPerGroup) * inPerGroup + ci, s.r.z);
  return s;
}

VectorReduction denseGradInput(Func grad, Func weight, int outFeatures, int inFeatures) {
  auto &v = vars();
  VectorReduction s;
  s.extent0 = inFeatures;
  s.r = RDom(0, outFeatures, "r");
  s.func = Func("dense_grad_input");
  s.func(v.f, v.n) = 0.0f;
  s.func(v.f, v.n) += grad(s.r, v.n) * weight(v.f, s.r);
  return s;
}

VectorReduction denseGradWeight(Func input, Func grad, int inFeatures, Expr batch) {
  auto &v = vars();
  VectorReduction s;
  s.extent0 = inFeatures;
  s.r = RDom(0, batch, "r");
  s.func = Func("dense_grad_weight");
  s.func(v.f, v.n) = 0.0f; // (in feature, out feature)
  s.func(v.f, v.n) += grad(v.n, s.r) * input(v.f, s.r);
  return s;
}

/// Sums `value(x, y, c, n)` (rank 4) or `value(c, n)` (rank 2) per channel.
/// For rank 4 the sum reads the pure `name_term`, the value zero past the
/// end of a row, so a schedule may sum whole vectors of a row.
static ChannelSum perChannelSum(const std::function<Expr(Expr, Expr, Var, Expr)> &value, int rank,
                                const std::vector<int> &extents, Expr batch, const char *name) {
  Var c("ch");
  ChannelSum s;
  s.sum = Func(name);
  s.sum(c) = 0.0f;
  if (rank == 4) {
    auto &v = vars();
    int width = extents[0];
    Func term(std::string(name) + "_term");
    term(v.x, v.y, c, v.n) = select(v.x < width, value(min(v.x, width - 1), v.y, c, v.n), 0.0f);
    s.r = RDom(0, width, 0, extents[1], 0, batch, "r");
    s.sum(c) += term(s.r.x, s.r.y, c, s.r.z);
  } else {
    s.r = RDom(0, batch, "r");
    s.sum(c) += value(Expr(), Expr(), c, s.r.x);
  }
  return s;
}

/// Reads a rank-4 or rank-2 value at (x, y, c, n) (x, y unused for rank 2).
static Expr at(Func f, int rank, Expr x, Expr y, Expr c, Expr n) {
  return rank == 4 ? f(x, y, c, n) : f(c, n);
}

/// The number of elements per channel of a batch.
static Expr perChannelCount(int rank, const std::vector<int> &extents, Expr batch) {
  return cast<float>(rank == 4 ? batch * extents[0] * extents[1] : batch);
}

Func reduceToChannels(Func in, int rank, const std::vector<int> &extents, Expr batch,
                      ChannelSum &sum) {
  sum = perChannelSum([&](Expr x, Expr y, Var c, Expr n) { return at(in, rank, x, y, c, n); }, rank,
                      extents, batch, "reduce_to_channels");
  return sum.sum;
}

Func activationGrad(const std::string &kind, Func output, Func grad, int rank) {
  std::vector<Var> a = argsOf(rank);
  Expr y = output(a), dy = grad(a);
  Func f("activation_grad");
  if (kind == "relu")
    f(a) = select(y > 0.0f, dy, 0.0f);
  else if (kind == "sigmoid")
    f(a) = dy * y * (1.0f - y);
  else
    f(a) = dy * (1.0f - y * y);
  return f;
}

/// The output window `o` along one dimension whose tap `k` reads input
/// position `pos`, and whether it exists.
static std::pair<Expr, Expr> windowAt(Expr pos, int k, int stride, int pad, int outExtent) {
  Expr start = pos + pad - k;
  Expr o = start / stride;
  Expr valid = start >= 0 && o < outExtent;
  if (stride > 1)
    valid = valid && start % stride == 0;
  return {clamp(o, 0, outExtent - 1), valid};
}

Func maxPoolGrad(Func input, Extent4D in, Func grad, Extent4D out, const PoolAttrs &a,
                 Func &winner) {
  auto &v = vars();
  // min_pool2d's gradient is the same rule for the first minimum (+inf padding).
  bool isMin = a.kind == PoolKind::Min;
  float inf = std::numeric_limits<float>::infinity();
  Func padded = paddedInput(input, in, isMin ? inf : -inf, "pool_padded");
  // The winning tap of each window: the first maximum in row-major order.
  // Small windows compare their taps in one unrolled expression (a pure,
  // vectorizable Func); larger ones use Halide's argmax.
  winner = Func("pool_winner");
  int taps = a.kernelW * a.kernelH;
  auto tap = [&](int i) {
    return padded(v.x * a.strideX + (i % a.kernelW) * a.dilationX - a.padLeft,
                  v.y * a.strideY + (i / a.kernelW) * a.dilationY - a.padTop, v.c, v.n);
  };
  if (taps <= kSmallPoolWindow) {
    Expr best = tap(0);
    for (int i = 1; i < taps; ++i)
      best = isMin ? min(best, tap(i)) : max(best, tap(i));
    Expr index = taps - 1;
    for (int i = taps - 2; i >= 0; --i)
      index = select(tap(i) == best, i, index);
    winner(v.x, v.y, v.c, v.n) = index;
  } else {
    RDom r(0, a.kernelW, 0, a.kernelH, "r");
    Expr value = padded(v.x * a.strideX + r.x * a.dilationX - a.padLeft,
                        v.y * a.strideY + r.y * a.dilationY - a.padTop, v.c, v.n);
    Tuple best = isMin ? argmin(r, value) : argmax(r, value);
    winner(v.x, v.y, v.c, v.n) = best[1] * a.kernelW + best[0];
  }
  Func f("max_pool_grad");
  if (a.strideX == a.kernelW && a.strideY == a.kernelH && a.padLeft == 0 && a.padTop == 0 &&
      a.dilationX == 1 && a.dilationY == 1) {
    // Non-overlapping windows: each input position is in at most one window.
    Expr ox = v.x / a.strideX, oy = v.y / a.strideY;
    Expr tap = (v.y % a.strideY) * a.kernelW + v.x % a.strideX;
    Expr inWindow = ox < out.w && oy < out.h;
    ox = min(ox, out.w - 1);
    oy = min(oy, out.h - 1);
    f(v.x, v.y, v.c, v.n) =
        select(inWindow && winner(ox, oy, v.c, v.n) == tap, grad(ox, oy, v.c, v.n), 0.0f);
    return f;
  }
  Expr total = 0.0f;
  for (int ky = 0; ky < a.kernelH; ++ky)
    for (int kx = 0; kx < a.kernelW; ++kx) {
      auto [ox, vx] = windowAt(v.x, kx * a.dilationX, a.strideX, a.padLeft, out.w);
      auto [oy, vy] = windowAt(v.y, ky * a.dilationY, a.strideY, a.padTop, out.h);
      total += select(vx && vy && winner(ox, oy, v.c, v.n) == ky * a.kernelW + kx,
                      grad(ox, oy, v.c, v.n), 0.0f);
    }
  f(v.x, v.y, v.c, v.n) = total;
  return f;
}

Func l2PoolGrad(Func input, Extent4D in, Func output, Func grad, Extent4D out, const PoolAttrs &a) {
  auto &v = vars();
  // ∂y/∂x = x / y for each window containing x; a window with y = 0 (all
  // zeros) passes nothing, where PyTorch's sqrt would give NaN.
  Expr total = 0.0f;
  for (int ky = 0; ky < a.kernelH; ++ky)
    for (int kx = 0; kx < a.kernelW; ++kx) {
      auto [ox, vx] = windowAt(v.x, kx, a.strideX, a.padLeft, out.w);
      auto [oy, vy] = windowAt(v.y, ky, a.strideY, a.padTop, out.h);
      Expr y = output(ox, oy, v.c, v.n);
      total += select(vx && vy && y > 0.0f, grad(ox, oy, v.c, v.n) / max(y, 1e-30f), 0.0f);
    }
  Func f("l2_pool_grad");
  f(v.x, v.y, v.c, v.n) = input(v.x, v.y, v.c, v.n) * total;
  return f;
}

Func globalMaxPoolGrad(Func input, Extent4D in, Func grad, Func &winner) {
  auto &v = vars();
  // Halide's argmax keeps the first maximum in iteration order (r.x inner):
  // the first in row-major order, as the forward pass defines it.
  winner = Func("gmp_winner");
  RDom r(0, in.w, 0, in.h, "r");
  Tuple best = argmax(r, input(r.x, r.y, v.c, v.n));
  winner(v.c, v.n) = best[1] * in.w + best[0];
  Func f("global_max_pool_grad");
  f(v.x, v.y, v.c, v.n) = select(v.y * in.w + v.x == winner(v.c, v.n), grad(0, 0, v.c, v.n), 0.0f);
  return f;
}

Func avgPoolGrad(Func grad, Extent4D in, Extent4D out, const PoolAttrs &a) {
  auto &v = vars();
  // The divisor of output window (ox, oy), as in the forward pass.
  auto divisor = [&](Expr ox, Expr oy) {
    Expr x0 = ox * a.strideX - a.padLeft, y0 = oy * a.strideY - a.padTop;
    Expr x1 = min(x0 + a.kernelW, in.w + a.padRight);
    Expr y1 = min(y0 + a.kernelH, in.h + a.padBottom);
    if (a.countIncludePad)
      return cast<float>((x1 - x0) * (y1 - y0));
    return cast<float>((min(x1, in.w) - max(x0, 0)) * (min(y1, in.h) - max(y0, 0)));
  };
  Expr total = 0.0f;
  for (int ky = 0; ky < a.kernelH; ++ky)
    for (int kx = 0; kx < a.kernelW; ++kx) {
      auto [ox, vx] = windowAt(v.x, kx, a.strideX, a.padLeft, out.w);
      auto [oy, vy] = windowAt(v.y, ky, a.strideY, a.padTop, out.h);
      total += select(vx && vy, grad(ox, oy, v.c, v.n) / divisor(ox, oy), 0.0f);
    }
  Func f("avg_pool_grad");
  f(v.x, v.y, v.c, v.n) = total;
  return f;
}

Func globalAvgPoolGrad(Func grad, Extent4D in) {
  auto &v = vars();
  Func f("global_avg_pool_grad");
  f(v.x, v.y, v.c, v.n) = grad(0, 0, v.c, v.n) / float(in.w * in.h);
  return f;
}

Func softmaxGrad(Func output, Func grad, int features, Func &dot) {
  auto &v = vars();
  RDom r(0, features, "r");
  dot = Func("softmax_grad_dot");
  dot(v.n) = 0.0f;
  dot(v.n) += grad(r, v.n) * output(r, v.n);
  Func f("softmax_grad");
  f(v.f, v.n) = output(v.f, v.n) * (grad(v.f, v.n) - dot(v.n));
  return f;
}

Func sliceChannels(Func in, int rank, int begin) {
  std::vector<Var> a = argsOf(rank);
  std::vector<Expr> at(a.begin(), a.end());
  at[rank == 4 ? 2 : 0] += begin;
  Func f("slice_channels");
  f(a) = in(at);
  return f;
}

Func padChannels(Func in, int rank, int begin, int count) {
  std::vector<Var> a = argsOf(rank);
  int channelDim = rank == 4 ? 2 : 0;
  Var ch = a[channelDim];
  std::vector<Expr> at(a.begin(), a.end());
  at[channelDim] = clamp(ch - begin, 0, count - 1);
  Func f("pad_channels");
  f(a) = select(ch >= begin && ch < begin + count, in(at), 0.0f);
  return f;
}

/// A uniform float in [0, 1) from a hash of the coordinates and a seed.
static Expr uniformHash(const std::vector<Var> &coords, Expr seed) {
  auto constant = [](uint32_t value) { return Internal::make_const(UInt(32), uint64_t(value)); };
  Expr h = cast<uint32_t>(seed) * constant(0x9E3779B9u);
  for (const Var &c : coords) {
    h = (h ^ cast<uint32_t>(c)) * constant(0x85EBCA6Bu);
    h = h ^ (h >> 13);
    h = h * constant(0xC2B2AE35u);
    h = h ^ (h >> 16);
  }
  return cast<float>(h >> 8) * (1.0f / 16777216.0f);
}

Func dropout(Func in, int rank, Func seed, double rate, int salt) {
  std::vector<Var> a = argsOf(rank);
  Expr key = cast<int32_t>(seed(0)) * 1000003 + salt;
  Expr keep = uniformHash(a, key) >= float(rate);
  Func f("dropout");
  f(a) = select(keep, in(a) * float(1.0 / (1.0 - rate)), 0.0f);
  return f;
}

Func channelMean(Func in, int rank, const std::vector<int> &extents, Expr batch, ChannelSum &sum) {
  sum = perChannelSum([&](Expr x, Expr y, Var c, Expr n) { return at(in, rank, x, y, c, n); }, rank,
                      extents, batch, "channel_sum");
  Var c("ch");
  Func f("channel_mean");
  f(c) = sum.sum(c) / perChannelCount(rank, extents, batch);
  return f;
}

Func channelVariance(Func in, Func mean, int rank, const std::vector<int> &extents, Expr batch,
                     bool unbiased, ChannelSum &sum) {
  sum = perChannelSum(
      [&](Expr x, Expr y, Var c, Expr n) {
        Expr d = at(in, rank, x, y, c, n) - mean(c);
        return d * d;
      },
      rank, extents, batch, "channel_square_sum");
  Expr count = perChannelCount(rank, extents, batch);
  Var c("ch");
  Func f("channel_variance");
  f(c) = sum.sum(c) / (unbiased ? max(count - 1.0f, 1.0f) : count);
  return f;
}

Func batchNormGradInput(Func in, Func grad, Func gamma, Func mean, Func variance, float epsilon,
                        int rank, const std::vector<int> &extents, Expr batch,
                        std::vector<ChannelSum> &sums) {
  auto normalized = [&](Expr x, Expr y, Expr c, Expr n) {
    return (at(in, rank, x, y, c, n) - mean(c)) / sqrt(variance(c) + epsilon);
  };
  ChannelSum sumGrad =
      perChannelSum([&](Expr x, Expr y, Var c, Expr n) { return at(grad, rank, x, y, c, n); }, rank,
                    extents, batch, "bn_grad_sum");
  ChannelSum sumGradNormalized =
      perChannelSum([&](Expr x, Expr y, Var c,
                        Expr n) { return at(grad, rank, x, y, c, n) * normalized(x, y, c, n); },
                    rank, extents, batch, "bn_grad_dot");
  sums = {sumGrad, sumGradNormalized};
  Expr count = perChannelCount(rank, extents, batch);
  std::vector<Var> a = argsOf(rank);
  Var c = rank == 4 ? vars().c : vars().f;
  Expr x = rank == 4 ? Expr(a[0]) : Expr(), y = rank == 4 ? Expr(a[1]) : Expr();
  Expr n = a.back();
  Func f("batch_norm_grad_input");
  f(a) = gamma(c) / sqrt(variance(c) + epsilon) *
         (at(grad, rank, x, y, c, n) - sumGrad.sum(c) / count -
          normalized(x, y, c, n) * sumGradNormalized.sum(c) / count);
  return f;
}

Func batchNormGradGamma(Func in, Func grad, Func mean, Func variance, float epsilon, int rank,
                        const std::vector<int> &extents, Expr batch, ChannelSum &sum) {
  sum = perChannelSum(
      [&](Expr x, Expr y, Var c, Expr n) {
        return at(grad, rank, x, y, c, n) * (at(in, rank, x, y, c, n) - mean(c)) /
               sqrt(variance(c) + epsilon);
      },
      rank, extents, batch, "batch_norm_grad_gamma");
  return sum.sum;
}

} // namespace cnnc::halide
