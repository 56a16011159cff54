//===- Pooling.cpp - Halide algorithms of max/avg/global pooling ----------===//
//
// Window pooling with stride, asymmetric padding and PyTorch's divisor rule
// for average pooling (count_include_pad counts padded positions that lie
// inside the padded input; windows clipped by ceil mode count less); min
// pooling (+inf padding) and L2-norm pooling (sqrt of the sum of squares,
// zero padding) share the max and average paths. Global max pooling.
//
//===----------------------------------------------------------------------===//
#include "compiler/Lowering/Halide/Algorithms.h"

using namespace Halide;

namespace cnnc::halide {

PoolStages pooling(Func input, Extent4D in, Extent4D out, const PoolAttrs &a) {
  auto &v = vars();
  PoolStages s;
  s.attrs = a;
  s.input = in;
  s.output = out;
  // Max and min pooling select a tap; average and L2 pooling sum (squares).
  bool isMax = a.kind == PoolKind::Max, isMin = a.kind == PoolKind::Min;
  bool isL2 = a.kind == PoolKind::L2;
  bool selects = isMax || isMin;
  const float inf = std::numeric_limits<float>::infinity();
  Func source = input;
  // Windows may reach past the padded input in ceil mode: pad whenever the
  // last window is not fully inside the input.
  int spanW = (a.kernelW - 1) * a.dilationX + 1, spanH = (a.kernelH - 1) * a.dilationY + 1;
  bool needsPadding = a.padLeft || a.padTop || (out.w - 1) * a.strideX + spanW > in.w ||
                      (out.h - 1) * a.strideY + spanH > in.h;
  if (needsPadding) {
    s.padded = paddedInput(input, in, isMax ? -inf : isMin ? inf : 0.0f, "pool_padded");
    source = s.padded;
  }
  s.pool = Func(isMax ? "max_pool" : isMin ? "min_pool" : isL2 ? "l2_pool" : "avg_pool");
  auto tap = [&](Expr kx, Expr ky) {
    Expr t = source(v.x * a.strideX + kx * a.dilationX - a.padLeft,
                    v.y * a.strideY + ky * a.dilationY - a.padTop, v.c, v.n);
    return isL2 ? t * t : t;
  };
  Expr small; // the whole window as one expression, for small windows
  if (a.kernelW * a.kernelH <= kSmallPoolWindow)
    for (int ky = 0; ky < a.kernelH; ++ky)
      for (int kx = 0; kx < a.kernelW; ++kx)
        small = !small.defined() ? tap(kx, ky)
                : isMax          ? max(small, tap(kx, ky))
                : isMin          ? min(small, tap(kx, ky))
                                 : small + tap(kx, ky);
  if (selects) {
    if (small.defined()) {
      s.pool(v.x, v.y, v.c, v.n) = small;
      return s;
    }
    s.r = RDom(0, a.kernelW, 0, a.kernelH, "r");
    s.pool(v.x, v.y, v.c, v.n) = isMax ? -inf : inf;
    Expr current = s.pool(v.x, v.y, v.c, v.n);
    s.pool(v.x, v.y, v.c, v.n) =
        isMax ? max(current, tap(s.r.x, s.r.y)) : min(current, tap(s.r.x, s.r.y));
    return s;
  }
  Expr windowSum = small;
  if (!small.defined()) {
    s.r = RDom(0, a.kernelW, 0, a.kernelH, "r");
    s.sum = Func("pool_sum");
    s.sum(v.x, v.y, v.c, v.n) = 0.0f;
    s.sum(v.x, v.y, v.c, v.n) += tap(s.r.x, s.r.y);
    windowSum = s.sum(v.x, v.y, v.c, v.n);
  }
  if (isL2) {
    // torch.nn.LPPool2d(2, ...): the square root of the window's sum of squares.
    s.pool(v.x, v.y, v.c, v.n) = sqrt(windowSum);
    return s;
  }
  // PyTorch: the window [start, start + k) clipped to the padded input
  // [-pad, in + pad) is the count with padding; clipped to [0, in) without.
  Expr x0 = v.x * a.strideX - a.padLeft, y0 = v.y * a.strideY - a.padTop;
  Expr x1 = min(x0 + a.kernelW, in.w + a.padRight);
  Expr y1 = min(y0 + a.kernelH, in.h + a.padBottom);
  Expr count = (x1 - x0) * (y1 - y0);
  if (!a.countIncludePad)
    count = (min(x1, in.w) - max(x0, 0)) * (min(y1, in.h) - max(y0, 0));
  s.pool(v.x, v.y, v.c, v.n) = windowSum / cast<float>(count);
  return s;
}

Func globalAveragePool(Func input, Extent4D in, Func &total) {
  auto &v = vars();
  Func mean("global_avg_pool");
  total = Func("gap_sum");
  RDom r(0, in.w, 0, in.h, "r");
  total(v.c, v.n) = 0.0f;
  total(v.c, v.n) += input(r.x, r.y, v.c, v.n);
  mean(v.x, v.y, v.c, v.n) = total(v.c, v.n) / float(in.w * in.h);
  return mean;
}

Func globalMaxPool(Func input, Extent4D in, Func &best) {
  auto &v = vars();
  best = Func("gmp_max");
  RDom r(0, in.w, 0, in.h, "r");
  best(v.c, v.n) = -std::numeric_limits<float>::infinity();
  best(v.c, v.n) = max(best(v.c, v.n), input(r.x, r.y, v.c, v.n));
  Func f("global_max_pool");
  f(v.x, v.y, v.c, v.n) = best(v.c, v.n);
  return f;
}

} // namespace cnnc::halide
