//===- Training.cpp - Halide algorithms of losses and optimizers ----------===//
//
// Losses read logits or outputs (f, n) and labels (n) that hold class
// indices as floats; a label outside [0, classes) is clamped. The loss is the
// mean over the batch (cross-entropy) or over all elements (MSE against
// one-hot targets), as PyTorch's default `reduction='mean'`. The optimizer
// updates follow torch.optim.SGD, Adam and AdamW, element-wise, with their
// settings read at run time.
//
//===----------------------------------------------------------------------===//
#include "compiler/Lowering/Halide/Algorithms.h"

#include <algorithm>

using namespace Halide;

namespace cnnc::halide {

static Expr labelOf(Func labels, Expr n, int classes) {
  return clamp(cast<int32_t>(labels(n)), 0, classes - 1);
}

/// Per row: the maximum logit and log Σ exp(z - max).
static std::pair<Func, Func> rowLogSumExp(Func logits, int classes, std::vector<Func> &reductions) {
  auto &v = vars();
  RDom r(0, classes, "r");
  Func rowMax("row_max"), rowSum("row_sum_exp");
  rowMax(v.n) = -std::numeric_limits<float>::infinity();
  rowMax(v.n) = max(rowMax(v.n), logits(r, v.n));
  rowSum(v.n) = 0.0f;
  rowSum(v.n) += exp(logits(r, v.n) - rowMax(v.n));
  reductions.push_back(rowMax);
  reductions.push_back(rowSum);
  return {rowMax, rowSum};
}

/// A one-element Func (the scalar results) over Var "i".
static Func scalar(const char *name, Expr value) {
  Var i("i");
  Func f(name);
  f(i) = value;
  return f;
}

/// Per row: the mean of the logits (label smoothing's uniform target).
static Func rowMeanLogit(Func logits, int classes, std::vector<Func> &reductions) {
  auto &v = vars();
  RDom r(0, classes, "r");
  Func rowTotal("row_sum_logits");
  rowTotal(v.n) = 0.0f;
  rowTotal(v.n) += logits(r, v.n);
  reductions.push_back(rowTotal);
  Func mean("row_mean_logit");
  mean(v.n) = rowTotal(v.n) / float(classes);
  return mean;
}

Func softmaxCrossEntropy(Func logits, Func labels, int classes, Expr batch,
                         std::vector<Func> &reductions, std::optional<Func> smoothing) {
  auto [rowMax, rowSum] = rowLogSumExp(logits, classes, reductions);
  RDom n(0, batch, "n");
  Expr logSumExp = rowMax(n) + log(rowSum(n));
  Expr picked = logits(labelOf(labels, n, classes), n);
  // -Σ_k target_k log p_k with target (1-ε)·onehot + ε/K.
  Expr loss = logSumExp - picked;
  if (smoothing) {
    Func mean = rowMeanLogit(logits, classes, reductions);
    Expr eps = (*smoothing)(0);
    loss = logSumExp - (1.0f - eps) * picked - eps * mean(n);
  }
  Func total("loss_sum");
  total() = 0.0f;
  total() += loss;
  reductions.push_back(total);
  return scalar("softmax_cross_entropy", total() / cast<float>(batch));
}

Func softmaxCrossEntropyGrad(Func logits, Func labels, int classes, Expr batch,
                             std::vector<Func> &reductions, std::optional<Func> smoothing) {
  auto &v = vars();
  auto [rowMax, rowSum] = rowLogSumExp(logits, classes, reductions);
  Expr p = exp(logits(v.f, v.n) - rowMax(v.n)) / rowSum(v.n);
  Expr target = select(v.f == labelOf(labels, v.n, classes), 1.0f, 0.0f);
  if (smoothing) {
    Expr eps = (*smoothing)(0);
    target = (1.0f - eps) * target + eps / float(classes);
  }
  Func f("softmax_cross_entropy_grad");
  f(v.f, v.n) = (p - target) / cast<float>(batch);
  return f;
}

Func mseLoss(Func output, Func labels, int classes, Expr batch, std::vector<Func> &reductions) {
  RDom r(0, classes, 0, batch, "r");
  Expr target = select(r.x == labelOf(labels, r.y, classes), 1.0f, 0.0f);
  Expr d = output(r.x, r.y) - target;
  Func total("loss_sum");
  total() = 0.0f;
  total() += d * d;
  reductions.push_back(total);
  return scalar("mse_loss", total() / (cast<float>(batch) * classes));
}

Func mseLossGrad(Func output, Func labels, int classes, Expr batch) {
  auto &v = vars();
  Expr target = select(v.f == labelOf(labels, v.n, classes), 1.0f, 0.0f);
  Func f("mse_loss_grad");
  f(v.f, v.n) = 2.0f * (output(v.f, v.n) - target) / (cast<float>(batch) * classes);
  return f;
}

Func countCorrect(Func scores, Func labels, int classes, Expr batch,
                  std::vector<Func> &reductions) {
  auto &v = vars();
  RDom r(0, classes, "r");
  Func best("row_argmax");
  best(v.n) = argmax(r, scores(r, v.n))[0];
  reductions.push_back(best);
  RDom n(0, batch, "n");
  Func total("correct_sum");
  total() = 0.0f;
  total() += select(best(n) == labelOf(labels, n, classes), 1.0f, 0.0f);
  reductions.push_back(total);
  return scalar("count_correct", total());
}

Func ema(Func running, Func batch, int rank, double momentum) {
  std::vector<Var> a = argsOf(rank);
  Func f("ema");
  f(a) = running(a) * float(1.0 - momentum) + batch(a) * float(momentum);
  return f;
}

OptimizerUpdate optimizerUpdate(Func param, Func grad, const std::vector<Func> &state,
                                const OptimizerHypers &h, int rank, std::vector<Func> &scalars) {
  std::vector<Var> a = argsOf(rank);
  OptimizerUpdate result;
  if (state.empty()) {
    result.param = Func("sgd_update");
    result.param(a) = param(a) - h.lr(0) * (grad(a) + h.weightDecay(0) * param(a));
    return result;
  }
  // Every rule is one formula whose coefficients depend only on the
  // settings, computed once per call (no branch per element):
  //   d = g + l2·p,  s1' = a1·s1 + b1·d,  s2' = a2·s2 + b2·d²,
  //   p' = p - (decoupled·p + (cd·d + cs·s1') / den),
  //   den = sqrt(s2')/c2 + ε for Adam and AdamW, else 1.
  Expr lr = h.lr(0), wd = h.weightDecay(0), mu = h.momentum(0), dampening = h.dampening(0);
  // SGD (torch.optim.SGD): without momentum the buffer is kept as it is and
  // d itself is the step.
  Expr withMomentum = mu != 0.0f, nesterov = h.nesterov(0) != 0.0f;
  Expr a1 = select(withMomentum, mu, 1.0f), b1 = select(withMomentum, 1.0f - dampening, 0.0f);
  Expr cd = select(withMomentum && !nesterov, 0.0f, lr);
  Expr cs = select(withMomentum, select(nesterov, lr * mu, lr), 0.0f);
  Func coefficients("optimizer_coefficients");
  scalars.push_back(coefficients);
  auto c = [&](int i) { return coefficients()[i]; };
  if (state.size() == 1) {
    coefficients() = Tuple(a1, b1, cd, cs);
    Expr d = grad(a) + wd * param(a);
    Func buffer("momentum_buffer");
    buffer(a) = c(0) * state[0](a) + c(1) * d;
    result.state.push_back(buffer);
    result.param = Func("sgd_momentum_update");
    result.param(a) = param(a) - (c(2) * d + c(3) * buffer(a));
    return result;
  }
  // torch.optim.Adam and AdamW with bias correction; t is the 1-based step.
  // AdamW decays the parameter by lr·wd instead of adding wd·p to g.
  Expr code = h.optimizer(0);
  Expr adam = code > 0.5f, adamw = code > 1.5f;
  Expr beta1 = h.beta1(0), beta2 = h.beta2(0), t = h.step(0);
  Expr correction1 = 1.0f - pow(beta1, t), correction2 = sqrt(1.0f - pow(beta2, t));
  coefficients() =
      Tuple(select(adam, beta1, a1), select(adam, 1.0f - beta1, b1), select(adam, 0.0f, cd),
            select(adam, lr / correction1, cs), select(adam, beta2, 1.0f),
            select(adam, 1.0f - beta2, 0.0f), select(adamw, 0.0f, wd), select(adamw, lr * wd, 0.0f),
            select(adam, 1.0f, 0.0f), correction2, h.epsilon(0));
  Expr d = grad(a) + c(6) * param(a);
  Func m("exp_avg"), v("exp_avg_sq");
  m(a) = c(0) * state[0](a) + c(1) * d;
  v(a) = c(4) * state[1](a) + c(5) * (d * d);
  result.state = {m, v};
  Expr denominator = select(c(8) > 0.5f, sqrt(v(a)) / c(9) + c(10), 1.0f);
  result.param = Func("adam_update");
  result.param(a) = param(a) - (c(7) * param(a) + (c(2) * d + c(3) * m(a)) / denominator);
  return result;
}

// Clipping by the global norm, as torch.nn.utils.clip_grad_norm_: the
// squared norm of each gradient, then the factor every gradient is
// multiplied by before the optimizer update.

Func sumSquares(Func in, const std::vector<int> &extents, SumSquaresStages &stages) {
  int rank = int(extents.size());
  // The innermost dimension long enough to fill vectors, else the longest.
  int dim = -1;
  for (int d = 0; d < rank && dim < 0; ++d)
    if (extents[d] >= 16)
      dim = d;
  if (dim < 0)
    dim = int(std::max_element(extents.begin(), extents.end()) - extents.begin());
  Var i("i");
  std::vector<Expr> at(rank);
  at[dim] = i;
  Func partial("sum_squares_partial");
  if (rank == 1) {
    partial(i) = in(i)*in(i);
  } else {
    Region others;
    for (int d = 0; d < rank; ++d)
      if (d != dim)
        others.push_back(Range(0, extents[d]));
    RDom r(others, "r");
    for (int d = 0, k = 0; d < rank; ++d)
      if (d != dim)
        at[d] = r[k++];
    Expr x = in(at);
    partial(i) = 0.0f;
    partial(i) += x * x;
    stages.r = r;
  }
  RDom ri(0, extents[dim], "ri");
  Func total("sum_squares_total");
  total() = 0.0f;
  total() += partial(ri);
  stages.partial = partial;
  stages.extent = extents[dim];
  stages.total = total;
  return scalar("sum_squares", total());
}

Func clipCoefficient(Func maxNorm, const std::vector<Func> &squares) {
  Expr sum = squares[0](0);
  for (size_t i = 1; i < squares.size(); ++i)
    sum += squares[i](0);
  Expr limit = maxNorm(0);
  Expr coefficient = min(1.0f, limit / (sqrt(sum) + 1e-6f));
  return scalar("clip_coefficient", select(limit > 0.0f, coefficient, 1.0f));
}

Func clipGradient(Func grad, Func coefficient, int rank) {
  std::vector<Var> a = argsOf(rank);
  Func f("clip_gradient");
  f(a) = grad(a) * coefficient(0);
  return f;
}

} // namespace cnnc::halide
