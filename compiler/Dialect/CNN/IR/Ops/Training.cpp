//===- Training.cpp - losses and optimizer updates: costs -----------------===//
//
// The ops the train step appends after the forward pass: the losses and
// their seeds of the backward pass, the accuracy count, and the SGD and Adam
// updates. They are not differentiated; only their FLOP counts live here.
// The Halide algorithms are in compiler/Lowering/Halide/Ops/Training.cpp.
//
//===----------------------------------------------------------------------===//
#include "compiler/Dialect/CNN/IR/Ops/OpUtils.h"

using namespace mlir;
using namespace cnnc::cnn;

/// The number of classes of a [N, K] value.
static double classes(Value v) { return double(shapeOf(v)[1]); }

double SoftmaxCrossEntropyOp::getFlopsPerItem() { return 4.0 * classes(getLogits()); }
double SoftmaxCrossEntropyGradOp::getFlopsPerItem() { return 6.0 * classes(getLogits()); }
double MseLossOp::getFlopsPerItem() { return 3.0 * classes(getOutput()); }
double MseLossGradOp::getFlopsPerItem() { return 3.0 * classes(getOutput()); }
double CountCorrectOp::getFlopsPerItem() { return classes(getScores()); }

double SgdMomentumOp::getFlopsPerItem() { return pointwiseFlops(*this, 4); }
double SgdStepOp::getFlopsPerItem() { return pointwiseFlops(*this, 4); }
double AdamMomentOp::getFlopsPerItem() { return pointwiseFlops(*this, 4); }
double AdamStepOp::getFlopsPerItem() { return pointwiseFlops(*this, 6); }
