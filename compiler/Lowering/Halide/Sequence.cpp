//===- Sequence.cpp - Halide algorithms of embedding and k-max pooling ----===//
//
// The text-CNN ops that are not 2-D window ops over a 1 x L plane: the
// embedding lookup (and its table gradient, the one scatter-add of the
// backward pass: rows are picked by data, so it cannot be written as a
// gather without visiting every row for every token) and k-max pooling,
// whose selection is a rank count over each plane plus a scan. Token ids are
// float32 holding integers; they are rounded and clamped to the table.
//
//===----------------------------------------------------------------------===//
#include "compiler/Lowering/Halide/Algorithms.h"

using namespace Halide;

namespace cnnc::halide {

/// The table row of a token id: round, then clamp to [0, vocab).
static Expr rowOf(Expr id, int vocab) { return clamp(cast<int>(round(id)), 0, vocab - 1); }

Func embedding(Func ids, Func weight, int vocab) {
  auto &v = vars();
  Func f("embedding");
  f(v.x, v.y, v.c, v.n) = weight(v.c, rowOf(ids(v.x, v.n), vocab));
  return f;
}

EmbeddingGradStages embeddingGradWeight(Func ids, Func grad, int length, int vocab, int dim,
                                        Expr batch) {
  auto &v = vars();
  EmbeddingGradStages s;
  s.dim = dim;
  s.r = RDom(0, length, 0, batch, "r");
  s.table = Func("embedding_grad");
  // Dimensions (e, row): the embedding dimension innermost, as the table's.
  s.table(v.f, v.n) = 0.0f;
  s.table(v.f, rowOf(ids(s.r.x, s.r.y), vocab)) += grad(s.r.x, 0, v.f, s.r.y);
  return s;
}

/// rank and pos of KMaxStages over the flattened plane of `input`.
static void kmaxSelect(Func input, Extent4D in, int k, KMaxStages &s) {
  auto &v = vars();
  Var p("p");
  s.length = in.w * in.h;
  s.k = k;
  auto flat = [&](Expr i) { return input(i % in.w, i / in.w, v.c, v.n); };
  s.q = RDom(0, s.length, "q");
  // A value beats position p if it is larger, or equal and earlier: the
  // ranks are a permutation of [0, H*W), so exactly k have rank < k.
  s.rank = Func("kmax_rank");
  s.rank(p, v.c, v.n) = 0;
  Expr other = flat(s.q), mine = flat(p);
  s.rank(p, v.c, v.n) += select(other > mine || (other == mine && s.q < p), 1, 0);
  s.pos = Func("kmax_pos");
  s.pos(p, v.c, v.n) = 0;
  if (s.length > 1) {
    RDom t(1, s.length - 1, "t");
    s.pos(t, v.c, v.n) = s.pos(t - 1, v.c, v.n) + select(s.rank(t - 1, v.c, v.n) < k, 1, 0);
  }
}

Func kmaxPool(Func input, Extent4D in, int k, KMaxStages &s) {
  auto &v = vars();
  kmaxSelect(input, in, k, s);
  Var j("j");
  s.index = Func("kmax_index");
  s.index(j, v.c, v.n) = 0;
  RDom t(0, s.length, "t");
  Expr slot = clamp(s.pos(t, v.c, v.n), 0, k - 1);
  s.index(slot, v.c, v.n) = select(s.rank(t, v.c, v.n) < k, t, s.index(slot, v.c, v.n));
  Expr at = clamp(s.index(v.x, v.c, v.n), 0, s.length - 1);
  Func f("kmax_pool");
  f(v.x, v.y, v.c, v.n) = input(at % in.w, at / in.w, v.c, v.n);
  return f;
}

Func kmaxPoolGrad(Func input, Extent4D in, Func grad, int k, KMaxStages &s) {
  auto &v = vars();
  kmaxSelect(input, in, k, s);
  Expr p = v.y * in.w + v.x;
  Func f("kmax_pool_grad");
  f(v.x, v.y, v.c, v.n) =
      select(s.rank(p, v.c, v.n) < k, grad(clamp(s.pos(p, v.c, v.n), 0, k - 1), 0, v.c, v.n), 0.0f);
  return f;
}

} // namespace cnnc::halide
