//===- Dense.cpp - Halide algorithm of dense (fully connected) ------------===//
//
// y(o, n) = bias(o) + Σ_i w(i, o) x(i, n). The weight is PyTorch's [out, in]
// row-major, so i is the contiguous dimension of both operands: the dot
// product is split into `lanes` interleaved partial sums (a vector FMA per
// step), then summed across lanes with an unrolled scalar tail for in % lanes.
//
//===----------------------------------------------------------------------===//
#include "compiler/Lowering/Halide/Algorithms.h"

using namespace Halide;

namespace cnnc::halide {

DenseStages dense(Func input, int inFeatures, Func weight, std::optional<Func> bias,
                  int outFeatures, int lanes) {
  auto &v = vars();
  DenseStages s;
  s.inFeatures = inFeatures;
  s.outFeatures = outFeatures;
  s.lanes = lanes;
  int vectorPart = inFeatures / lanes * lanes;
  s.partial = Func("partial");
  if (vectorPart > 0) {
    s.partial(v.v, v.f, v.n) = 0.0f;
    s.r = RDom(0, vectorPart / lanes, "r");
    s.partial(v.v, v.f, v.n) += weight(s.r * lanes + v.v, v.f) * input(s.r * lanes + v.v, v.n);
  }
  Expr total = bias ? (*bias)(v.f) : Expr(0.0f);
  if (vectorPart > 0)
    for (int lane = 0; lane < lanes; ++lane)
      total += s.partial(lane, v.f, v.n);
  for (int i = vectorPart; i < inFeatures; ++i)
    total += weight(i, v.f) * input(i, v.n);
  s.dense = Func("dense");
  s.dense(v.f, v.n) = total;
  return s;
}

} // namespace cnnc::halide
