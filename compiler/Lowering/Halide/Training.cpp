//===- Training.cpp - Halide algorithms of losses and optimizers ----------===//
//
// Losses read logits or outputs (f, n) and labels (n) that hold class
// indices as floats; a label outside [0, classes) is clamped. The loss is the
// mean over the batch (cross-entropy) or over all elements (MSE against
// one-hot targets), as PyTorch's default `reduction='mean'`. The optimizer
// updates follow torch.optim.SGD and torch.optim.Adam exactly, elementwise.
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

/// The gradient with L2 weight decay, as torch.optim adds it.
static Expr decayed(Func grad, Func param, const std::vector<Var> &a, double weightDecay) {
  return weightDecay != 0 ? grad(a) + float(weightDecay) * param(a) : grad(a);
}

Func sgdMomentum(Func buffer, Func grad, Func param, int rank, double momentum, double dampening,
                 double weightDecay) {
  std::vector<Var> a = argsOf(rank);
  Func f("sgd_momentum");
  f(a) =
      float(momentum) * buffer(a) + float(1.0 - dampening) * decayed(grad, param, a, weightDecay);
  return f;
}

Func sgdStep(Func param, Func grad, std::optional<Func> buffer, Func lr, int rank, double momentum,
             double weightDecay, bool nesterov) {
  std::vector<Var> a = argsOf(rank);
  Expr d = decayed(grad, param, a, weightDecay);
  if (buffer)
    d = nesterov ? d + float(momentum) * (*buffer)(a) : (*buffer)(a);
  Func f("sgd_step");
  f(a) = param(a) - lr(0) * d;
  return f;
}

Func adamMoment(Func moment, Func grad, Func param, int rank, double beta, double weightDecay,
                bool squared) {
  std::vector<Var> a = argsOf(rank);
  Expr d = decayed(grad, param, a, weightDecay);
  Func f(squared ? "adam_second_moment" : "adam_first_moment");
  f(a) = float(beta) * moment(a) + float(1.0 - beta) * (squared ? d * d : d);
  return f;
}

Func adamStep(Func param, Func m, Func v, Func lr, Func step, int rank, double beta1, double beta2,
              double epsilon, std::vector<Func> &scalars) {
  std::vector<Var> a = argsOf(rank);
  // The step size and bias correction of this step, once per kernel call.
  Expr t = step(0);
  Func stepSize("adam_step_size"), correction2("adam_sqrt_correction2");
  stepSize() = lr(0) / (1.0f - pow(float(beta1), t));
  correction2() = sqrt(1.0f - pow(float(beta2), t));
  scalars.push_back(stepSize);
  scalars.push_back(correction2);
  Expr denominator = sqrt(v(a)) / correction2() + float(epsilon);
  Func f("adam_step");
  f(a) = param(a) - stepSize() * m(a) / denominator;
  return f;
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
