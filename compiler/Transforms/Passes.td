//===- Passes.td - cnnc graph passes -----------------------*- tablegen -*-===//
//
// Every graph pass of cnnc, one per file (the file is named after the def).
// Their order lives in compiler/Pipeline/Pipeline.cpp.
//
//===----------------------------------------------------------------------===//
#ifndef CNNC_TRANSFORMS_PASSES_TD
#define CNNC_TRANSFORMS_PASSES_TD

include "mlir/Pass/PassBase.td"

def ExpandBlocks : Pass<"cnnc-expand-blocks", "mlir::func::FuncOp"> {
  let summary = "Inline every cnn.block instance into primitive ops";
  let description = [{
    Replaces each `cnn.block` by the ops of its region, its arguments by the
    block's inputs and its results by the values `cnn.yield` returns. Nested
    blocks are expanded too.
  }];
}

def FoldBatchNorm : Pass<"cnnc-fold-batch-norm", "mlir::func::FuncOp"> {
  let summary = "Fold inference batch norm into the preceding conv2d or dense";
  let description = [{
    `batch_norm(conv2d(x, w, b))` becomes `conv2d(x, w', b')` with
    `w' = bn_fold_weight(w, gamma, var)` and `b' = bn_fold_bias(gamma, beta,
    mean, var, b)`. The conv must have no other user. The folded weights
    depend on parameters only, so they are computed once when parameters load.
  }];
  let dependentDialects = ["cnnc::cnn::CNNDialect"];
}

def Fuse : Pass<"cnnc-fuse", "mlir::func::FuncOp"> {
  let summary = "Group each conv, dense or backward anchor with its epilogue into one kernel";
  let description = [{
    Starting at each `conv2d`, `conv_transpose2d` or `dense`, takes the chain
    of single-use consumers that can be computed in the producer's loop nest:
    a residual `add` or `position_bias`, an activation (any op with the
    `CNNActivation` trait: relu, leaky_relu, relu6, hardswish, hardsigmoid,
    silu, sigmoid, tanh, clip, affine), a `softmax`
    after dense, and after a conv2d a non-overlapping unpadded max or average
    pooling (stride = kernel), where fusing saves a round trip through memory
    without recomputation. In train steps, a
    backward op producing the gradient of an activation's output
    (conv2d_grad_input, dense_grad_input, pooling gradients) takes that
    activation's `activation_grad` along; each parameter's optimizer update
    (moments or momentum and the step) becomes one group with several
    results. Each chain becomes a `cnn.group`, lowered to one Halide pipeline.
  }];
  let dependentDialects = ["cnnc::cnn::CNNDialect"];
}

def EliminateDeadCode : Pass<"cnnc-dce", "mlir::func::FuncOp"> {
  let summary = "Erase ops whose results are never used";
  let description = [{
    Walks each function bottom-up and erases side-effect-free ops without
    users, including unused parameters, so they neither get compiled nor
    appear in the model's parameter list.
  }];
}

def CopyPassthroughOutputs : Pass<"cnnc-copy-passthrough-outputs", "mlir::func::FuncOp"> {
  let summary = "Give a kernel to each model output that is one of the model's inputs";
  let description = [{
    A model may return one of its inputs: through an `Identity`, a dropout
    (the identity at inference, folded away), or `output: input` in a model
    file. Every output buffer is written by a kernel, so such an output gets
    `cnn.affine` with scale 1 and shift 0: the identity, computed as a copy.
  }];
}

def Autodiff : Pass<"cnnc-autodiff", "mlir::ModuleOp"> {
  let summary = "Build the train step and the evaluation step of a model";
  let description = [{
    From the inference function `@m` builds `@m_train(x, labels) -> (loss,
    correct)`: the forward pass in training form (batch norm with batch
    statistics and running-average updates, dropout with a seeded mask), the
    loss (softmax cross-entropy fused with a final softmax, or MSE against
    one-hot labels), the backward pass — one gradient rule per op, written as
    cnn ops so backward kernels are lowered and scheduled like forward ones —
    and the optimizer update of every trainable parameter (SGD with momentum,
    Nesterov, weight decay; Adam with bias correction), ending in cnn.assign.
    Also builds `@m_eval(x, labels) -> (loss, correct)` in inference form.
    Loss and optimizer come from the function's `cnn.train` attribute (the
    model file's `train:` section), with PyTorch's defaults otherwise.
  }];
  let dependentDialects = ["cnnc::cnn::CNNDialect"];
}

#endif
