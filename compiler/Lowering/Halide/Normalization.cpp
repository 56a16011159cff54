//===- Normalization.cpp - Halide algorithm of local response norm --------===//
//
// torch.nn.LocalResponseNorm (AlexNet) and its gradient. The
// window over channels c' ∈ [c - size/2, c + (size-1)/2] is an unrolled sum
// (size is a small static integer); channels outside [0, C) count as zero.
// x^-beta uses square roots for AlexNet's beta = 0.75 (and 0.5, 1), so the
// usual case stays exact and vectorizes; other betas use pow.
//
//===----------------------------------------------------------------------===//
#include "compiler/Lowering/Halide/Algorithms.h"

using namespace Halide;

namespace cnnc::halide {

/// Σ_{i = lo..hi} f(x, y, c + i, n), zero outside [0, channels).
static Expr channelWindow(Func f, int channels, int lo, int hi) {
  auto &v = vars();
  Expr total = 0.0f;
  for (int i = lo; i <= hi; ++i) {
    Expr c = v.c + i;
    total += select(c >= 0 && c < channels, f(v.x, v.y, clamp(c, 0, channels - 1), v.n), 0.0f);
  }
  return total;
}

/// d^-beta for d > 0.
static Expr powNegative(Expr d, double beta) {
  if (beta == 0.0)
    return Expr(1.0f);
  if (beta == 0.5)
    return 1.0f / sqrt(d);
  if (beta == 0.75)
    return 1.0f / (sqrt(d) * sqrt(sqrt(d)));
  if (beta == 1.0)
    return 1.0f / d;
  return pow(d, float(-beta));
}

/// D = k + alpha/size · Σ_window x², over (x, y, c, n).
static Func windowDenominator(Func in, int channels, int size, double alpha, double k) {
  auto &v = vars();
  Func square("lrn_square");
  square(v.x, v.y, v.c, v.n) = in(v.x, v.y, v.c, v.n) * in(v.x, v.y, v.c, v.n);
  Func d("lrn_denominator");
  d(v.x, v.y, v.c, v.n) =
      float(k) + float(alpha / size) * channelWindow(square, channels, -(size / 2), (size - 1) / 2);
  return d;
}

Func localResponseNorm(Func in, int channels, int size, double alpha, double beta, double k) {
  auto &v = vars();
  Func d = windowDenominator(in, channels, size, alpha, k);
  Func f("local_response_norm");
  f(v.x, v.y, v.c, v.n) = in(v.x, v.y, v.c, v.n) * powNegative(d(v.x, v.y, v.c, v.n), beta);
  return f;
}

Func localResponseNormGrad(Func in, Func grad, int channels, int size, double alpha, double beta,
                           double k, std::vector<Func> &planes) {
  auto &v = vars();
  // y_c = x_c D_c^-β, so dx_j = δ_j D_j^-β - (2αβ/size) x_j Σ_{c ∋ j} δ_c x_c D_c^(-β-1)
  // where c ∋ j means j is in c's window: c ∈ [j - (size-1)/2, j + size/2].
  Func d = windowDenominator(in, channels, size, alpha, k);
  Func t("lrn_grad_term");
  Expr dc = d(v.x, v.y, v.c, v.n);
  t(v.x, v.y, v.c, v.n) =
      grad(v.x, v.y, v.c, v.n) * in(v.x, v.y, v.c, v.n) * powNegative(dc, beta) / dc;
  planes = {d, t};
  Func f("local_response_norm_grad");
  f(v.x, v.y, v.c, v.n) = grad(v.x, v.y, v.c, v.n) * powNegative(dc, beta) -
                          float(2.0 * alpha * beta / size) * in(v.x, v.y, v.c, v.n) *
                              channelWindow(t, channels, -((size - 1) / 2), size / 2);
  return f;
}

} // namespace cnnc::halide
