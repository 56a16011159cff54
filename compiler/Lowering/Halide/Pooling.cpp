//===- Pooling.cpp - Halide algorithms of max/avg/global pooling ----------===//
//
// Window pooling with stride, asymmetric padding and PyTorch's divisor rule
// for average pooling (count_include_pad counts padded positions that lie
// inside the padded input; windows clipped by ceil mode count less).
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
  bool isMax = a.kind == PoolKind::Max;
  Func source = input;
  // Windows may reach past the padded input in ceil mode: pad whenever the
  // last window is not fully inside the input.
  bool needsPadding = a.padLeft || a.padTop ||
                      (out.w - 1) * a.strideX + a.kernelW > in.w ||
                      (out.h - 1) * a.strideY + a.kernelH > in.h;
  if (needsPadding) {
    s.padded = paddedInput(input, in,
                           isMax ? -std::numeric_limits<float>::infinity() : 0.0f,
                           "pool_padded");
    source = s.padded;
  }
  s.pool = Func(isMax ? "max_pool" : "avg_pool");
  auto tap = [&](Expr kx, Expr ky) {
    return source(v.x * a.strideX + kx - a.padLeft, v.y * a.strideY + ky - a.padTop,
                  v.c, v.n);
  };
  Expr small; // the whole window as one expression, for small windows
  if (a.kernelW * a.kernelH <= kSmallPoolWindow)
    for (int ky = 0; ky < a.kernelH; ++ky)
      for (int kx = 0; kx < a.kernelW; ++kx)
        small = !small.defined() ? tap(kx, ky)
                : isMax          ? max(small, tap(kx, ky))
                                 : small + tap(kx, ky);
  if (isMax) {
    if (small.defined()) {
      s.pool(v.x, v.y, v.c, v.n) = small;
      return s;
    }
    s.r = RDom(0, a.kernelW, 0, a.kernelH, "r");
    s.pool(v.x, v.y, v.c, v.n) = -std::numeric_limits<float>::infinity();
    s.pool(v.x, v.y, v.c, v.n) = max(s.pool(v.x, v.y, v.c, v.n), tap(s.r.x, s.r.y));
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

} // namespace cnnc::halide
