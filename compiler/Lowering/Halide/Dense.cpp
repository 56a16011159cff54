//===- Dense.cpp - Halide algorithm of dense (fully connected) ------------===//
//
// y(o, n) = bias(o) + Σ_i w(i, o) x(i, n). The weight is PyTorch's [out, in]
// row-major, so i is the contiguous dimension of both operands: the schedule
// splits the reduction over i into vector-wide partial sums.
//
//===----------------------------------------------------------------------===//
#include "compiler/Lowering/Halide/Algorithms.h"

using namespace Halide;

namespace cnnc::halide {

DenseStages dense(Func input, int inFeatures, Func weight, std::optional<Func> bias,
                  int outFeatures) {
  auto &v = vars();
  DenseStages s;
  s.inFeatures = inFeatures;
  s.outFeatures = outFeatures;
  s.input = input;
  s.weight = weight;
  s.r = RDom(0, inFeatures, "r");
  s.dense = Func("dense");
  s.dense(v.f, v.n) = bias ? (*bias)(v.f) : Expr(0.0f);
  s.dense(v.f, v.n) += weight(s.r, v.f) * input(s.r, v.n);
  return s;
}

} // namespace cnnc::halide
