//===- Elementwise.cpp - Halide algorithms of point-wise and small ops ----===//
//
// Activations, residual add, inference batch norm, softmax, channel concat
// and the parameter-only batch-norm folding. Each works on 4-D (x, y, c, n)
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

Func add(Func lhs, Func rhs, int rank) {
  return pointwise("add", rank, [&](auto &a) { return lhs(a) + rhs(a); });
}

Func mul(Func lhs, Func rhs, int rank) {
  return pointwise("mul", rank, [&](auto &a) { return lhs(a) * rhs(a); });
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
