//===- CNNOps.td - the cnn dialect's op catalogue ----------*- tablegen -*-===//
//
// The only list of cnn ops. Every op verifies its operands and attributes and
// infers its result type through the shape functions of ShapeInference.h,
// which the frontends' graph builder also calls to report shape errors at
// the model file's line:col. Docs in docs/dialect/ are generated from this
// file.
//
//===----------------------------------------------------------------------===//
#ifndef CNN_OPS_TD
#define CNN_OPS_TD

include "compiler/Dialect/CNN/IR/CNNDialect.td"
include "compiler/Dialect/CNN/IR/CNNInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/IR/RegionKindInterface.td"
include "mlir/IR/SymbolInterfaces.td"

def CNN_Tensor : RankedTensorOf<[F32]>;

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

def CNN_ParamOp : CNN_Op<"param", [Pure]> {
  let summary = "a named trainable parameter (weight, bias, statistic)";
  let description = [{
    Produces the parameter called `name` in the model's safetensors file. The
    name follows PyTorch's `state_dict` keys; the layout is PyTorch's.

    ```mlir
    %w = cnn.param "conv1.weight" : tensor<32x1x3x3xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Convolution and dense
//===----------------------------------------------------------------------===//

def CNN_Conv2DOp : CNN_Op<"conv2d",
    [CNN_Differentiable<["initializeParameters"]>,
     CNN_Cost<["getFlopsPerItem", "getMultiplyAdds", "getWeightCount", "getReceptiveField"]>,
     Pure,
     InferTypeOpAdaptor]> {
  let summary = "2-D cross-correlation with stride, padding, dilation, groups";
  let description = [{
    `y[n,o,i,j] = b[o] + sum_{c,u,v} w[o,c,u,v] * x[n, g*C/G + c, i*sh + u*dh - pt, j*sw + v*dw - pl]`
    (no kernel flip). `padding` is `[top, left, bottom, right]`; the
    frontend resolves the modes valid/same/full into it. The weight is `OIHW`
    with `I = C / groups`; the bias is optional.

    ```mlir
    %y = cnn.conv2d %x, %w, %b {dilation = array<i64: 1, 1>, groups = 1 : i64,
           padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>}
         : (tensor<?x3x32x32xf32>, tensor<16x3x3x3xf32>, tensor<16xf32>) -> tensor<?x16x32x32xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$weight, Optional<CNN_Tensor>:$bias,
                   DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding,
                   DenseI64ArrayAttr:$dilation, I64Attr:$groups);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)";
}

def CNN_DenseOp : CNN_Op<"dense",
    [CNN_Differentiable<["initializeParameters"]>,
     CNN_Cost<["getFlopsPerItem", "getMultiplyAdds", "getWeightCount", "getReceptiveField"]>,
     Pure,
     InferTypeOpAdaptor]> {
  let summary = "fully connected layer y = x W^T + b";
  let description = [{
    Input `[N, F]`, weight `[O, F]` (PyTorch `nn.Linear` layout), optional bias `[O]`.

    ```mlir
    %y = cnn.dense %x, %w, %b : (tensor<?x576xf32>, tensor<64x576xf32>, tensor<64xf32>) -> tensor<?x64xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$weight, Optional<CNN_Tensor>:$bias);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Convolution family: transposed convolution, connection tables, per-position
// bias
//===----------------------------------------------------------------------===//

def CNN_ConvTranspose2DOp : CNN_Op<"conv_transpose2d",
    [CNN_Differentiable<["initializeParameters"]>,
     CNN_Cost<["getFlopsPerItem", "getMultiplyAdds", "getWeightCount", "getReceptiveField"]>,
     Pure,
     InferTypeOpAdaptor]> {
  let summary = "transposed (fractionally strided) 2-D convolution, a = Wᵀ z";
  let description = [{
    PyTorch's `nn.ConvTranspose2d`: the input gradient of a conv2d with the
    same weight and attributes (a wide convolution of the
    zero-interleaved input with rot180(W)), plus a bias:
    `y[n,o,i,j] = b[o] + Σ_{c,u,v} w[c,o',u,v] · x[n,c,(i+pt-u·dh)/sh,(j+pl-v·dw)/sw]`
    over the exact, in-range divisions, `c` in `o`'s group, `o' = o mod (O/groups)`.
    The weight is PyTorch's `[C, O/groups, kh, kw]`; `padding` is
    `[top, left, bottom, right]` and `output_padding` (smaller than the
    stride) adds rows/columns at the bottom/right:
    `H_out = (H-1)·sh - pt - pb + dh·(kh-1) + oph + 1`. It is lowered with
    conv2d_grad_input's algorithm and schedule; its gradients are a conv2d
    (input) and a conv2d_grad_weight with the roles of input and δ swapped.

    ```mlir
    %y = cnn.conv_transpose2d %x, %w, %b {dilation = array<i64: 1, 1>, groups = 1 : i64,
           output_padding = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>,
           stride = array<i64: 2, 2>}
         : (tensor<?x16x7x7xf32>, tensor<16x8x3x3xf32>, tensor<8xf32>) -> tensor<?x8x14x14xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$weight, Optional<CNN_Tensor>:$bias,
                   DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding,
                   DenseI64ArrayAttr:$output_padding, DenseI64ArrayAttr:$dilation,
                   I64Attr:$groups);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)";
}

def CNN_ConnectionTable : TypedArrayAttrBase<DenseI64ArrayAttr,
    "connection table: for each output channel, the input channels it reads">;

def CNN_ScatterConnectionsOp : CNN_Op<"scatter_connections",
    [CNN_Differentiable<["initializeParameters"]>,
     CNN_Cost<>,
     Pure]> {
  let summary = "expands a compact connection-table weight [K, kh, kw] to a dense OIHW one";
  let description = [{
    LeNet-5's layer C3: output map `o` reads only the input maps
    listed in `connections[o]`. The parameter holds one `kh × kw` kernel per
    connection, in table order (K = number of connections), so the layer has
    `K·kh·kw + O` parameters; this op places them into a dense
    `[O, C, kh, kw]` weight with zeros elsewhere, feeding a plain conv2d. Its
    operand is a parameter, so in inference it runs once at load time.

    ```mlir
    %w = cnn.scatter_connections %wc {connections = [array<i64: 0, 1>, array<i64: 1, 2>]}
         : (tensor<4x5x5xf32>) -> tensor<2x3x5x5xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$weight, CNN_ConnectionTable:$connections);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$weight attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_PositionBiasOp : CNN_Op<"position_bias",
    [CNN_Differentiable<["initializeParameters"]>,
     CNN_Cost<["getFlopsPerItem"]>,
     Pure,
     InferTypeOpAdaptor]> {
  let summary = "adds a learnable bias per channel and position: y = x + b[c, h, w]";
  let description = [{
    The AlphaGo policy network's last layer ("a different bias for
    each position"). Input `[N, C, H, W]`, bias `[C, H, W]`.

    ```mlir
    %y = cnn.position_bias %x, %b : (tensor<?x1x19x19xf32>, tensor<1x19x19xf32>) -> tensor<?x1x19x19xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$bias);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input `,` $bias attr-dict `:` functional-type(operands, results)";
}

def CNN_LocalResponseNormOp : CNN_Op<"local_response_norm",
    [CNN_Differentiable<>,
     CNN_Cost<["getFlopsPerItem", "getMultiplyAdds"]>,
     Pure,
     SameOperandsAndResultType]> {
  let summary = "local response normalization across channels (AlexNet)";
  let description = [{
    `torch.nn.LocalResponseNorm`: `y_c = x_c / (k + alpha/size · Σ_{c'} x_{c'}²)^beta`
    over the channels `c' ∈ [c - size/2, c + (size-1)/2]` of `[N, C, H, W]`
    (missing channels count as zero). `k` must be positive.

    ```mlir
    %y = cnn.local_response_norm %x {alpha = 1.0e-04 : f64, beta = 7.5e-01 : f64,
           k = 2.0 : f64, size = 5 : i64} : tensor<?x96x55x55xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input, I64Attr:$size, F64Attr:$alpha, F64Attr:$beta,
                   F64Attr:$k);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Pooling
//===----------------------------------------------------------------------===//

class CNN_Pool2DOp<string mnemonic, string what>
    : CNN_Op<mnemonic, [Pure, InferTypeOpAdaptor, CNN_Differentiable<>,
                        CNN_Cost<["getFlopsPerItem", "getReceptiveField"]>]> {
  let summary = what # " pooling over K×K windows";
  let description = [{
    Window `kernel = [kh, kw]`, `stride`, `padding = [top, left, bottom, right]`;
    with `ceil_mode` the output size rounds up (PyTorch semantics: the last
    window must start inside the input or its left padding).
  }];
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def CNN_MaxPool2DOp : CNN_Pool2DOp<"max_pool2d", "max"> {
  let description = [{
    Window `kernel = [kh, kw]`, `stride`, `padding = [top, left, bottom, right]`
    and `dilation` (the taps `dilation` apart, as `nn.MaxPool2d`'s); with
    `ceil_mode` the output size rounds up (PyTorch semantics: the last
    window must start inside the input or its left padding).
  }];
  let arguments = (ins CNN_Tensor:$input, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding,
                   DefaultValuedAttr<BoolAttr, "false">:$ceil_mode,
                   DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$dilation);
}

def CNN_AvgPool2DOp : CNN_Pool2DOp<"avg_pool2d", "average"> {
  let description = [{
    Average over each window. With `count_include_pad` (PyTorch's default) the
    divisor counts padded positions inside the padded input; without it only
    real input positions count.

    ```mlir
    %y = cnn.avg_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>,
           padding = array<i64: 0, 0, 0, 0>} : (tensor<?x6x28x28xf32>) -> tensor<?x6x14x14xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding,
                   DefaultValuedAttr<BoolAttr, "false">:$ceil_mode,
                   DefaultValuedAttr<BoolAttr, "true">:$count_include_pad);
}

def CNN_GlobalAvgPoolOp : CNN_Op<"global_avg_pool",
    [CNN_Differentiable<>,
     CNN_Cost<["getFlopsPerItem", "getReceptiveField"]>,
     Pure,
     InferTypeOpAdaptor]> {
  let summary = "mean over H and W: [N,C,H,W] -> [N,C,1,1]";
  let description = [{
    The NiN / GoogLeNet / ResNet head (`nn.AdaptiveAvgPool2d(1)`).

    ```mlir
    %y = cnn.global_avg_pool %x : (tensor<?x512x7x7xf32>) -> tensor<?x512x1x1xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Sequences and pooling variants (text CNN): a sequence is [N, C, 1, L]
//===----------------------------------------------------------------------===//

def CNN_EmbeddingOp : CNN_Op<"embedding",
    [CNN_Differentiable<["initializeParameters"]>,
     CNN_Cost<["getWeightCount", "getReceptiveField"]>,
     Pure,
     InferTypeOpAdaptor]> {
  let summary = "token ids [N, L] -> embedded sequence [N, E, 1, L]";
  let description = [{
    `y[n, e, 0, t] = weight[clamp(round(ids[n, t]), 0, V - 1), e]`: the rows of
    the table `weight` (`[V, E]`, PyTorch's `nn.Embedding` layout) picked by
    the token ids, already transposed to a sequence of `E` channels (what a
    1-D convolution reads). The ids are float32 values holding integers, like
    labels; an id outside `[0, V)` is clamped to the nearest valid row. No
    gradient flows to the ids.

    ```mlir
    %y = cnn.embedding %ids, %w : (tensor<?x64xf32>, tensor<5000x128xf32>) -> tensor<?x128x1x64xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$ids, CNN_Tensor:$weight);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$ids `,` $weight attr-dict `:` functional-type(operands, results)";
}

def CNN_GlobalMaxPoolOp : CNN_Op<"global_max_pool",
    [CNN_Differentiable<>,
     CNN_Cost<["getFlopsPerItem", "getReceptiveField"]>,
     Pure,
     InferTypeOpAdaptor]> {
  let summary = "maximum over H and W: [N,C,H,W] -> [N,C,1,1] (max over time)";
  let description = [{
    The text CNN's max-over-time pooling (`nn.AdaptiveMaxPool2d(1)`); its
    gradient goes to the first maximum of each plane in row-major order.

    ```mlir
    %y = cnn.global_max_pool %x : (tensor<?x100x1x62xf32>) -> tensor<?x100x1x1xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def CNN_KMaxPoolOp : CNN_Op<"kmax_pool",
    [CNN_Differentiable<>,
     CNN_Cost<["getFlopsPerItem", "getReceptiveField"]>,
     Pure,
     InferTypeOpAdaptor]> {
  let summary = "k-max pooling: the k largest values of each plane, in order";
  let description = [{
    Kalchbrenner et al.'s k-max pooling with a fixed `k`: each channel's
    `H*W` values are read as one sequence (row-major) and the `k` largest are
    kept in their original order: `[N,C,H,W] -> [N,C,1,k]`. Ties go to the
    earlier position (a value beats every later equal value). The gradient
    flows back to the selected positions.

    ```mlir
    %y = cnn.kmax_pool %x {k = 3 : i64} : (tensor<?x6x1x20xf32>) -> tensor<?x6x1x3xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input, I64Attr:$k);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def CNN_MinPool2DOp : CNN_Pool2DOp<"min_pool2d", "min"> {
  let description = [{
    The minimum of each window (padded positions never win), with max_pool2d's
    attributes and output size rule; its gradient goes to the first minimum.

    ```mlir
    %y = cnn.min_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>,
           padding = array<i64: 0, 0, 0, 0>} : (tensor<?x6x28x28xf32>) -> tensor<?x6x14x14xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding,
                   DefaultValuedAttr<BoolAttr, "false">:$ceil_mode);
}

def CNN_L2Pool2DOp : CNN_Pool2DOp<"l2_pool2d", "L2-norm"> {
  let description = [{
    `y = sqrt(Σ x²)` over each window (`torch.nn.LPPool2d(2, kernel, stride)`;
    padded positions count as zeros). Gradient `δ·x/y`, 0 where `y = 0`.

    ```mlir
    %y = cnn.l2_pool2d %x {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>,
           padding = array<i64: 0, 0, 0, 0>} : (tensor<?x6x28x28xf32>) -> tensor<?x6x14x14xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding,
                   DefaultValuedAttr<BoolAttr, "false">:$ceil_mode);
}

//===----------------------------------------------------------------------===//
// Element-wise and normalization
//===----------------------------------------------------------------------===//

class CNN_UnaryOp<string mnemonic, string what>
    : CNN_Op<mnemonic, [Pure, SameOperandsAndResultType, CNN_Activation, CNN_Differentiable<>,
                        CNN_Cost<["getFlopsPerItem"]>]> {
  let summary = what;
  let description = "Applied element-wise; the result has the input's type.\n\n"
      "```mlir\n%y = cnn." # mnemonic # " %x : tensor<?x32x26x26xf32>\n```";
  let arguments = (ins CNN_Tensor:$input);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def CNN_ReluOp : CNN_UnaryOp<"relu", "rectified linear unit max(x, 0)">;
def CNN_SigmoidOp : CNN_UnaryOp<"sigmoid", "logistic sigmoid 1 / (1 + exp(-x))">;
def CNN_TanhOp : CNN_UnaryOp<"tanh", "hyperbolic tangent">;
def CNN_Relu6Op : CNN_UnaryOp<"relu6", "rectified linear unit clipped at 6: min(max(x, 0), 6)">;
def CNN_HardswishOp : CNN_UnaryOp<"hardswish",
    "hard swish x · min(max(x + 3, 0), 6) / 6 (nn.Hardswish, MobileNetV3)">;
def CNN_SiluOp : CNN_UnaryOp<"silu", "sigmoid-weighted linear unit x · sigmoid(x) (nn.SiLU, swish)">;

def CNN_HardSigmoidOp : CNN_Op<"hardsigmoid",
    [Pure, SameOperandsAndResultType, CNN_Activation, CNN_Differentiable<>,
     CNN_Cost<["getFlopsPerItem"]>]> {
  let summary = "hard sigmoid min(max(alpha·x + beta, 0), 1)";
  let description = [{
    Applied element-wise. The defaults are PyTorch's `nn.Hardsigmoid`
    (alpha 1/6, beta 1/2); ONNX's HardSigmoid gives its own.

    ```mlir
    %y = cnn.hardsigmoid %x {alpha = 2.000000e-01 : f64, beta = 5.000000e-01 : f64} : tensor<?x32x26x26xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input,
                   DefaultValuedAttr<F64Attr, "1.0 / 6.0">:$alpha,
                   DefaultValuedAttr<F64Attr, "0.5">:$beta);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def CNN_ClipOp : CNN_Op<"clip",
    [Pure, SameOperandsAndResultType, CNN_Activation, CNN_Differentiable<>,
     CNN_Cost<["getFlopsPerItem"]>]> {
  let summary = "min(max(x, min), max) (torch.clamp, nn.Hardtanh, ONNX Clip)";
  let description = [{
    Applied element-wise; `min` < `max`, either may be infinite. Gradient:
    δ where min < x < max (PyTorch's `hardtanh_backward`), from the input.
    Clipping to [0, 6] is `relu6`.

    ```mlir
    %y = cnn.clip %x {max = 1.000000e+00 : f64, min = -1.000000e+00 : f64} : tensor<?x8xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input, F64Attr:$min, F64Attr:$max);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def CNN_LeakyReluOp : CNN_Op<"leaky_relu",
    [Pure, SameOperandsAndResultType, CNN_Activation, CNN_Differentiable<>,
     CNN_Cost<["getFlopsPerItem"]>]> {
  let summary = "leaky rectified linear unit: x where x > 0, negative_slope·x elsewhere";
  let description = [{
    PyTorch's `nn.LeakyReLU` (default slope 0.01), applied element-wise.

    ```mlir
    %y = cnn.leaky_relu %x {negative_slope = 2.000000e-01 : f64} : tensor<?x32x26x26xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input, DefaultValuedAttr<F64Attr, "0.01">:$negative_slope);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def CNN_DropoutOp : CNN_Op<"dropout",
    [CNN_Differentiable<["buildTrainingForm"]>,
     CNN_Cost<>,
     Pure,
     SameOperandsAndResultType]> {
  let summary = "dropout (identity at inference)";
  let description = [{
    Zeroes each element with probability `rate` during training and scales the
    others by 1/(1-rate); at inference it is the identity, and folds away.

    ```mlir
    %y = cnn.dropout %x {rate = 5.000000e-01 : f64} : tensor<?x4096xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input, F64Attr:$rate);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def CNN_SoftmaxOp : CNN_Op<"softmax",
    [CNN_Differentiable<>,
     CNN_Cost<["getFlopsPerItem"]>,
     Pure,
     SameOperandsAndResultType]> {
  let summary = "softmax over the feature dimension of [N, F]";
  let description = [{
    `y[n,i] = exp(x[n,i] - max_j x[n,j]) / sum_j exp(x[n,j] - max_j x[n,j])`.

    ```mlir
    %y = cnn.softmax %x : tensor<?x10xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def CNN_BatchNormOp : CNN_Op<"batch_norm",
    [CNN_Differentiable<["buildTrainingForm", "initializeParameters"]>,
     CNN_Cost<["getFlopsPerItem", "getParameterCount"]>,
     Pure,
     InferTypeOpAdaptor]> {
  let summary = "batch normalization, inference form";
  let description = [{
    `y = (x - mean[c]) / sqrt(var[c] + epsilon) * weight[c] + bias[c]` over the
    channel dimension (dim 1) of `[N,C,H,W]` or `[N,C]`, with PyTorch's
    `running_mean` / `running_var` as `mean` / `var`. `momentum` is PyTorch's
    running-statistics momentum, used when training.

    ```mlir
    %y = cnn.batch_norm %x, %g, %b, %m, %v {epsilon = 1.0e-05 : f64}
         : (tensor<?x64x56x56xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x64x56x56xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$weight, CNN_Tensor:$bias,
                   CNN_Tensor:$mean, CNN_Tensor:$variance, F64Attr:$epsilon,
                   DefaultValuedAttr<F64Attr, "0.1">:$momentum);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input `,` $weight `,` $bias `,` $mean `,` $variance attr-dict `:` functional-type(operands, results)";
}

def CNN_BnFoldWeightOp : CNN_Op<"bn_fold_weight",
    [CNN_Cost<["getFlopsPerItem"]>,
     Pure,
     InferTypeOpAdaptor]> {
  let summary = "scales each output row of a weight by gamma / sqrt(var + eps)";
  let description = [{
    Produced by `cnnc-fold-batch-norm`: `w'[o, ...] = w[o, ...] * gamma[o] / sqrt(var[o] + epsilon)`.
    Its operands are parameters, so it runs once when parameters are loaded.

    ```mlir
    %w2 = cnn.bn_fold_weight %w, %g, %v {epsilon = 1.0e-05 : f64}
          : (tensor<64x64x3x3xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<64x64x3x3xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$weight, CNN_Tensor:$gamma, CNN_Tensor:$variance, F64Attr:$epsilon);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$weight `,` $gamma `,` $variance attr-dict `:` functional-type(operands, results)";
}

def CNN_BnFoldBiasOp : CNN_Op<"bn_fold_bias",
    [CNN_Cost<["getFlopsPerItem"]>,
     Pure,
     InferTypeOpAdaptor]> {
  let summary = "the bias of a conv/dense with a folded batch norm";
  let description = [{
    Produced by `cnnc-fold-batch-norm`:
    `b'[o] = (b[o] - mean[o]) * gamma[o] / sqrt(var[o] + epsilon) + beta[o]`
    (`b` is zero when the layer had no bias).

    ```mlir
    %b2 = cnn.bn_fold_bias %g, %beta, %m, %v {epsilon = 1.0e-05 : f64}
          : (tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<64xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$gamma, CNN_Tensor:$beta, CNN_Tensor:$mean,
                   CNN_Tensor:$variance, Optional<CNN_Tensor>:$bias, F64Attr:$epsilon);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$gamma `,` $beta `,` $mean `,` $variance (`,` $bias^)? attr-dict `:` functional-type(operands, results)";
}

//===----------------------------------------------------------------------===//
// Structure: arithmetic, shuffles, upsampling, concat, flatten
//===----------------------------------------------------------------------===//

class CNN_BinaryOp<string mnemonic, string what, string gradient>
    : CNN_Op<mnemonic, [CNN_Differentiable<>, CNN_Cost<["getFlopsPerItem"]>, Pure,
                        AllTypesMatch<["lhs", "result"]>]> {
  let summary = what;
  let description = "The result has `lhs`'s type. `rhs` has `lhs`'s shape or broadcasts to it "
      "as in NumPy: its dimensions align with `lhs`'s last ones, and each is 1 or equal "
      "(a squeeze-and-excitation scale `[N, C, 1, 1]`, a per-channel constant `[C, 1, 1]`, a "
      "scalar `[1]`). " # gradient # "\n\n"
      "```mlir\n%y = cnn." # mnemonic # " %a, %b : tensor<?x64x56x56xf32>\n"
      "%z = cnn." # mnemonic # " %a, %s : tensor<?x64x56x56xf32>, tensor<?x64x1x1xf32>\n```";
  let arguments = (ins CNN_Tensor:$lhs, CNN_Tensor:$rhs);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` custom<BroadcastTypes>(type($lhs), type($rhs))";
  let hasVerifier = 1;
}

def CNN_AddOp : CNN_BinaryOp<"add", "element-wise sum (residual shortcut), rhs broadcast",
    "Gradient: δ for `lhs`, δ summed over the broadcast dimensions for `rhs`.">;
def CNN_SubOp : CNN_BinaryOp<"sub", "element-wise difference lhs - rhs, rhs broadcast",
    "Gradient: δ for `lhs`, -δ summed over the broadcast dimensions for `rhs`.">;
def CNN_MulOp : CNN_BinaryOp<"mul",
    "element-wise product (gating, squeeze-and-excitation scaling), rhs broadcast",
    "Gradient: δ·rhs for `lhs`, δ·lhs summed over the broadcast dimensions for `rhs`.">;
def CNN_DivOp : CNN_BinaryOp<"div", "element-wise quotient lhs / rhs, rhs broadcast",
    "Gradient: δ/rhs for `lhs`, -δ·lhs/rhs² summed over the broadcast dimensions for `rhs`.">;

def CNN_AffineOp : CNN_Op<"affine",
    [Pure, SameOperandsAndResultType, CNN_Activation, CNN_Differentiable<>,
     CNN_Cost<["getFlopsPerItem"]>]> {
  let summary = "scale·x + shift with scalar constants (arithmetic with a number)";
  let description = [{
    What `x * 0.5`, `x - 1`, `1 - x` or `x / 255` become. Gradient: scale·δ.

    ```mlir
    %y = cnn.affine %x {scale = 5.000000e-01 : f64, shift = 1.000000e+00 : f64} : tensor<?x8x4x4xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input, DefaultValuedAttr<F64Attr, "1.0">:$scale,
                   DefaultValuedAttr<F64Attr, "0.0">:$shift);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def CNN_PReluOp : CNN_Op<"prelu",
    [Pure, CNN_Differentiable<["initializeParameters"]>, CNN_Cost<["getFlopsPerItem"]>,
     AllTypesMatch<["input", "result"]>]> {
  let summary = "parametric ReLU: x where x > 0, slope[c]·x elsewhere (nn.PReLU)";
  let description = [{
    `slope` is `[C]` (one per channel, dim 1) or `[1]` (shared), a learned
    parameter, initialized to 0.25 as in PyTorch. Gradient: δ where x > 0,
    slope·δ elsewhere; for the slope, Σ δ·min(x, 0) per channel.

    ```mlir
    %y = cnn.prelu %x, %a : tensor<?x8x4x4xf32>, tensor<8xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$slope);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input `,` $slope attr-dict `:` type($input) `,` type($slope)";
  let hasVerifier = 1;
}

def CNN_UpsampleOp : CNN_Op<"upsample",
    [Pure, CNN_Differentiable<>, CNN_Cost<["getFlopsPerItem"]>]> {
  let summary = "spatial upsampling, nearest or bilinear (nn.Upsample, ONNX Resize)";
  let description = [{
    The result's height and width (at least the input's) give the scale.
    `mode` is `nearest` (source pixel ⌊o·in/out⌋, PyTorch's `nearest`) or
    `bilinear` (PyTorch's `bilinear`: source (o + ½)·in/out − ½ clamped at
    0, or o·(in − 1)/(out − 1) with `align_corners`). Gradient:
    `upsample_grad`, each output's δ spread back with the same weights.

    ```mlir
    %y = cnn.upsample %x {mode = "bilinear"} : (tensor<?x8x4x4xf32>) -> tensor<?x8x8x8xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input, StrAttr:$mode,
                   DefaultValuedAttr<BoolAttr, "false">:$align_corners);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_PadOp : CNN_Op<"pad",
    [Pure, CNN_Differentiable<>, CNN_Cost<>]> {
  let summary = "constant padding of H and W: `padding = [top, left, bottom, right]` (nn.ConstantPad2d)";
  let description = [{
    The result is the input surrounded by `value`. (A conv or pooling pads
    its own window; this op is for padding on its own, or with a value other
    than 0.) Gradient: `crop`, the inner window of δ.

    ```mlir
    %y = cnn.pad %x {padding = array<i64: 1, 2, 1, 2>, value = 5.000000e-01 : f64} : (tensor<?x3x4x4xf32>) -> tensor<?x3x6x8xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input, DenseI64ArrayAttr:$padding,
                   DefaultValuedAttr<F64Attr, "0.0">:$value);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_ChannelShuffleOp : CNN_Op<"channel_shuffle",
    [Pure, SameOperandsAndResultType, CNN_Differentiable<>, CNN_Cost<>]> {
  let summary = "ShuffleNet's channel shuffle: [N, g, C/g, H, W] transposed to [N, C/g, g, H, W]";
  let description = [{
    Output channel `c` is input channel `(c mod g)·C/g + ⌊c/g⌋`, as
    `x.view(N, g, C/g, H, W).transpose(1, 2).reshape(N, C, H, W)`. Its
    gradient is the shuffle with `C/g` groups.

    ```mlir
    %y = cnn.channel_shuffle %x {groups = 2 : i64} : tensor<?x8x4x4xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input, I64Attr:$groups);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def CNN_ConcatOp : CNN_Op<"concat", [CNN_Differentiable<>, CNN_Cost<>, Pure, InferTypeOpAdaptor]> {
  let summary = "concatenation along channels (dim 1)";
  let description = [{
    The Inception merge: all inputs agree on every dimension but the channels.

    ```mlir
    %y = cnn.concat %a, %b : (tensor<?x64x28x28xf32>, tensor<?x32x28x28xf32>) -> tensor<?x96x28x28xf32>
    ```
  }];
  let arguments = (ins Variadic<CNN_Tensor>:$inputs);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$inputs attr-dict `:` functional-type($inputs, results)";
}

def CNN_FlattenOp : CNN_Op<"flatten",
    [CNN_Differentiable<>,
     CNN_Cost<["getActivationElements", "getReceptiveField"]>,
     Pure,
     InferTypeOpAdaptor]> {
  let summary = "[N, C, H, W] -> [N, C*H*W] (row-major, as torch.flatten(x, 1))";
  let description = [{
    A view: it moves no data.

    ```mlir
    %y = cnn.flatten %x : (tensor<?x64x3x3xf32>) -> tensor<?x576xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Regions: blocks (before expansion) and fusion groups (after fusion)
//===----------------------------------------------------------------------===//

def CNN_YieldOp : CNN_Op<"yield", [Pure, Terminator,
                                   ParentOneOf<["BlockOp", "GroupOp"]>]> {
  let summary = "returns the results of a block or group";
  let arguments = (ins Variadic<CNN_Tensor>:$values);
  let assemblyFormat = "$values attr-dict `:` type($values)";
}

class CNN_RegionOp<string mnemonic> : CNN_Op<mnemonic,
    [IsolatedFromAbove, SingleBlock]> {
  let regions = (region SizedRegion<1>:$body);
  let results = (outs Variadic<CNN_Tensor>:$results);
  let hasVerifier = 1;
}

def CNN_BlockOp : CNN_RegionOp<"block"> {
  let summary = "one instance of a reusable model block (Inception module, residual unit)";
  let description = [{
    The YAML frontend emits one `cnn.block` per block instance; its region's
    arguments are the block's inputs. `cnnc-expand-blocks` inlines it.

    ```mlir
    %y = cnn.block "layer1.0" of "residual" (%x) : (tensor<?x64x56x56xf32>) -> tensor<?x64x56x56xf32> {
    ^bb0(%in: tensor<?x64x56x56xf32>):
      ...
      cnn.yield %out : tensor<?x64x56x56xf32>
    }
    ```
  }];
  let arguments = (ins Variadic<CNN_Tensor>:$inputs, StrAttr:$instance, StrAttr:$kind);
  let assemblyFormat = "$instance `of` $kind ` ` `(` $inputs `)` attr-dict `:` functional-type($inputs, results) $body";
}

def CNN_GroupOp : CNN_RegionOp<"group"> {
  let summary = "a fusion group: ops compiled together into one Halide pipeline";
  let description = [{
    Formed by `cnnc-fuse`: a conv or dense with its bias, activation and, where
    it pays, the following pooling. The region's arguments are the group's
    inputs (activations and parameters).

    ```mlir
    %y = cnn.group "conv1" (%x, %w, %b) : (...) -> tensor<?x32x26x26xf32> {
    ^bb0(%a: ..., %b: ..., %c: ...):
      %0 = cnn.conv2d %a, %b, %c {...} : ...
      %1 = cnn.relu %0 : tensor<?x32x26x26xf32>
      cnn.yield %1 : tensor<?x32x26x26xf32>
    }
    ```
  }];
  let arguments = (ins Variadic<CNN_Tensor>:$inputs, StrAttr:$label);
  let assemblyFormat = "$label ` ` `(` $inputs `)` attr-dict `:` functional-type($inputs, results) $body";
}


//===----------------------------------------------------------------------===//
// Training: state, gradients, losses, optimizers (built by cnnc-autodiff)
//===----------------------------------------------------------------------===//

def CNN_StateOp : CNN_Op<"state", [Pure]> {
  let summary = "a named optimizer state tensor (zero-initialized)";
  let description = [{
    Adam's `exp_avg` / `exp_avg_sq` or SGD's `momentum_buffer` of a parameter,
    named `<parameter>.<slot>`. Saved in checkpoints with the parameters.

    ```mlir
    %m = cnn.state "conv1.weight.exp_avg" : tensor<32x1x3x3xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def CNN_HyperOp : CNN_Op<"hyper", [Pure]> {
  let summary = "a scalar the runtime sets before each train step (lr, optimizer settings, ...)";
  let description = [{
    The learning rate, Adam's step number, the dropout seed and the
    optimizer's settings (docs/runtime-abi.md lists the names).

    ```mlir
    %lr = cnn.hyper "lr" : tensor<1xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def CNN_AssignOp : CNN_Op<"assign"> {
  let summary = "makes a value the new content of a parameter or state tensor";
  let description = [{
    Ends a train step: after all kernels ran, the parameter or state named
    `target` holds `value` (the runtime swaps storage, nothing is copied), so
    `value` has the type of that `cnn.param` or `cnn.state`.

    ```mlir
    cnn.assign "conv1.weight", %new : tensor<32x1x3x3xf32>
    ```
  }];
  let arguments = (ins StrAttr:$target, CNN_Tensor:$value);
  let assemblyFormat = "$target `,` $value attr-dict `:` type($value)";
  let hasVerifier = 1;
}

// A pure op with one tensor result and a one-line summary: the gradient,
// statistics, loss and optimizer ops of the train step, and views.
class CNN_PureOp<string mnemonic, string what, list<Trait> traits = []>
    : CNN_Op<mnemonic, !listconcat([Pure], traits)> {
  let summary = what;
  let results = (outs CNN_Tensor:$result);
}

def CNN_Conv2DGradInputOp : CNN_PureOp<"conv2d_grad_input",
    "gradient of conv2d w.r.t. its input: rot180(W) wide-convolved with δ",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let description = [{
    `dx[n,c,i,j] = Σ_{o,u,v} w[o,c,u,v] · δ[n,o,(i+pt-u·dh)/sh,(j+pl-v·dw)/sw]`
    over the positions where the division is exact and in range — for
    stride 1 the wide (full) convolution of δ with the flipped kernel.
    The result type gives the input's shape.
  }];
  let arguments = (ins CNN_Tensor:$grad, CNN_Tensor:$weight,
                   DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding,
                   DenseI64ArrayAttr:$dilation, I64Attr:$groups);
  let assemblyFormat = "$grad `,` $weight attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_Conv2DGradWeightOp : CNN_PureOp<"conv2d_grad_weight",
    "gradient of conv2d w.r.t. its weight: the input cross-correlated with δ",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let description = [{
    `dw[o,c,u,v] = Σ_{n,i,j} δ[n,o,i,j] · x[n, g·C/G + c, i·sh + u·dh - pt, j·sw + v·dw - pl]`;
    shared weights accumulate the gradient of every position.
  }];
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$grad,
                   DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding,
                   DenseI64ArrayAttr:$dilation, I64Attr:$groups);
  let assemblyFormat = "$input `,` $grad attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_GatherConnectionsOp : CNN_PureOp<"gather_connections",
    "gradient of scatter_connections: the dense weight gradient at the table's connections",
    [CNN_Cost<>]> {
  let description = [{
    `[O, C, kh, kw] -> [K, kh, kw]`: row `k` is `dw[o, c]` of the k-th
    connection `(o, c)` in table order.
  }];
  let arguments = (ins CNN_Tensor:$grad, CNN_ConnectionTable:$connections);
  let assemblyFormat = "$grad attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_ReduceOverBatchOp : CNN_PureOp<"reduce_over_batch",
    "sum over the batch: [N, C, H, W] -> [C, H, W] (position_bias's gradient)",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let arguments = (ins CNN_Tensor:$input);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_LocalResponseNormGradOp : CNN_PureOp<"local_response_norm_grad",
    "gradient of local_response_norm w.r.t. its input",
    [CNN_Cost<["getFlopsPerItem"]>, AllTypesMatch<["input", "grad", "result"]>]> {
  let description = [{
    With `D_c = k + alpha/size · Σ_{c' ∈ window(c)} x_{c'}²`:
    `dx_j = δ_j · D_j^-beta - 2·alpha·beta/size · x_j · Σ_{c : j ∈ window(c)} δ_c · x_c · D_c^(-beta-1)`.
  }];
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$grad, I64Attr:$size, F64Attr:$alpha,
                   F64Attr:$beta, F64Attr:$k);
  let assemblyFormat = "$input `,` $grad attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def CNN_ReduceToChannelsOp : CNN_PureOp<"reduce_to_channels",
    "sum over every dimension but the channels (dim 1): bias gradients",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let description = [{
    `[N, C, H, W] -> [C]` or `[N, C] -> [C]`.
  }];
  let arguments = (ins CNN_Tensor:$input);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_DenseGradInputOp : CNN_PureOp<"dense_grad_input", "δ W: gradient of dense w.r.t. its input",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let arguments = (ins CNN_Tensor:$grad, CNN_Tensor:$weight);
  let assemblyFormat = "$grad `,` $weight attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_DenseGradWeightOp : CNN_PureOp<"dense_grad_weight", "δᵀ x: gradient of dense w.r.t. its weight",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$grad);
  let assemblyFormat = "$input `,` $grad attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_ActivationGradOp : CNN_PureOp<"activation_grad",
    "gradient through relu / sigmoid / tanh, from the activation's output",
    [CNN_Cost<["getFlopsPerItem"]>, AllTypesMatch<["output", "grad", "result"]>]> {
  let description = [{
    `kind` is `relu` (δ where y > 0), `sigmoid` (δ·y·(1-y)) or `tanh` (δ·(1-y²)).
  }];
  let arguments = (ins CNN_Tensor:$output, CNN_Tensor:$grad, StrAttr:$kind);
  let assemblyFormat = "$kind $output `,` $grad attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def CNN_LeakyReluGradOp : CNN_PureOp<"leaky_relu_grad",
    "gradient through leaky_relu: δ where x > 0, negative_slope·δ elsewhere",
    [CNN_Cost<["getFlopsPerItem"]>, AllTypesMatch<["input", "grad", "result"]>]> {
  let description = [{
    Computed from the activation's input `x`, so any slope (negative ones
    too) is exact.
  }];
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$grad, F64Attr:$negative_slope);
  let assemblyFormat = "$input `,` $grad attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def CNN_Relu6GradOp : CNN_PureOp<"relu6_grad",
    "gradient through relu6: δ where 0 < x < 6, 0 elsewhere",
    [CNN_Cost<["getFlopsPerItem"]>, AllTypesMatch<["input", "grad", "result"]>]> {
  let description = [{
    Computed from the activation's input `x` (PyTorch's `hardtanh_backward`:
    the gradient is 0 at x = 0 and at x = 6).
  }];
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$grad);
  let assemblyFormat = "$input `,` $grad attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def CNN_HardswishGradOp : CNN_PureOp<"hardswish_grad",
    "gradient through hardswish: 0 where x < -3, δ where x > 3, δ·(2x + 3)/6 between",
    [CNN_Cost<["getFlopsPerItem"]>, AllTypesMatch<["input", "grad", "result"]>]> {
  let description = [{
    Computed from the activation's input `x`, as PyTorch's
    `hardswish_backward` (the middle branch includes x = -3 and x = 3).
  }];
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$grad);
  let assemblyFormat = "$input `,` $grad attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def CNN_SiluGradOp : CNN_PureOp<"silu_grad",
    "gradient through silu: δ·s·(1 + x·(1 - s)) with s = sigmoid(x)",
    [CNN_Cost<["getFlopsPerItem"]>, AllTypesMatch<["input", "grad", "result"]>]> {
  let description = [{ Computed from the activation's input `x`. }];
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$grad);
  let assemblyFormat = "$input `,` $grad attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def CNN_ClipGradOp : CNN_PureOp<"clip_grad",
    "gradient through clip: δ where min < x < max, 0 elsewhere",
    [CNN_Cost<["getFlopsPerItem"]>, AllTypesMatch<["input", "grad", "result"]>]> {
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$grad, F64Attr:$min, F64Attr:$max);
  let assemblyFormat = "$input `,` $grad attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def CNN_HardSigmoidGradOp : CNN_PureOp<"hardsigmoid_grad",
    "gradient through hardsigmoid: alpha·δ where 0 < alpha·x + beta < 1, 0 elsewhere",
    [CNN_Cost<["getFlopsPerItem"]>, AllTypesMatch<["input", "grad", "result"]>]> {
  let description = [{
    Computed from the activation's input `x` (PyTorch's `hardsigmoid_backward`:
    0 at both kinks).
  }];
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$grad, F64Attr:$alpha, F64Attr:$beta);
  let assemblyFormat = "$input `,` $grad attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def CNN_MaxPool2DGradOp : CNN_PureOp<"max_pool2d_grad",
    "routes δ to the position of each window's maximum",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let description = [{
    Ties go to the first maximum in row-major window order (as PyTorch does);
    overlapping windows add up. `grad` has the shape of the max_pool2d of
    `input` with this window, rounded down or (ceil_mode is not kept) up.
  }];
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$grad, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding,
                   DefaultValuedAttr<DenseI64ArrayAttr, "{1, 1}">:$dilation);
  let assemblyFormat = "$input `,` $grad attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_AvgPool2DGradOp : CNN_PureOp<"avg_pool2d_grad",
    "spreads δ evenly over each window (padding and overlap included)",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let arguments = (ins CNN_Tensor:$grad, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding,
                   BoolAttr:$count_include_pad);
  let assemblyFormat = "$grad attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_GlobalAvgPoolGradOp : CNN_PureOp<"global_avg_pool_grad", "δ / (H·W) broadcast over the plane",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let arguments = (ins CNN_Tensor:$grad);
  let assemblyFormat = "$grad attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_SoftmaxGradOp : CNN_PureOp<"softmax_grad", "y ⊙ (δ - Σ δ ⊙ y)",
    [CNN_Cost<["getFlopsPerItem"]>, AllTypesMatch<["output", "grad", "result"]>]> {
  let arguments = (ins CNN_Tensor:$output, CNN_Tensor:$grad);
  let assemblyFormat = "$output `,` $grad attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def CNN_SliceChannelsOp : CNN_PureOp<"slice_channels",
    "channels [begin, begin + count) of a value (split, slice; concat's gradient)",
    [CNN_Differentiable<>, CNN_Cost<>]> {
  let description = [{
    The result has the input's shape but for its `count` channels (dim 1),
    which lie within the input's. Its gradient is `pad_channels`.
  }];
  let arguments = (ins CNN_Tensor:$input, I64Attr:$begin);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_PadChannelsOp : CNN_PureOp<"pad_channels",
    "δ of a channel slice placed at channels [begin, begin + count), zeros elsewhere",
    [CNN_Cost<>]> {
  let description = [{
    The result has the input's shape but for its channels (dim 1), which
    contain the input's: slice_channels' gradient.
  }];
  let arguments = (ins CNN_Tensor:$input, I64Attr:$begin);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_CropOp : CNN_PureOp<"crop",
    "the inner window of δ, without `padding = [top, left, bottom, right]` (pad's gradient)",
    [CNN_Cost<>]> {
  let arguments = (ins CNN_Tensor:$input, DenseI64ArrayAttr:$padding);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_SumToShapeOp : CNN_PureOp<"sum_to_shape",
    "δ summed over the dimensions a binary op broadcast its rhs along",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let description = [{
    The result's shape broadcasts to the input's (NumPy rules): the input is
    summed over its leading dimensions the result lacks and over those where
    the result has 1.

    ```mlir
    %ds = cnn.sum_to_shape %d : (tensor<?x8x4x4xf32>) -> tensor<?x8x1x1xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_PReluGradInputOp : CNN_PureOp<"prelu_grad_input",
    "gradient through prelu w.r.t. its input: δ where x > 0, slope·δ elsewhere",
    [CNN_Cost<["getFlopsPerItem"]>, AllTypesMatch<["input", "grad", "result"]>]> {
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$slope, CNN_Tensor:$grad);
  let assemblyFormat = "$input `,` $slope `,` $grad attr-dict `:` type($input) `,` type($slope)";
  let hasVerifier = 1;
}

def CNN_PReluGradSlopeOp : CNN_PureOp<"prelu_grad_slope",
    "δ·min(x, 0) element-wise; summed per channel it is prelu's slope gradient",
    [CNN_Cost<["getFlopsPerItem"]>, AllTypesMatch<["input", "grad", "result"]>]> {
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$grad);
  let assemblyFormat = "$input `,` $grad attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def CNN_UpsampleGradOp : CNN_PureOp<"upsample_grad",
    "gradient of upsample: each output's δ added back to the pixels it read, with their weights",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let arguments = (ins CNN_Tensor:$grad, StrAttr:$mode,
                   DefaultValuedAttr<BoolAttr, "false">:$align_corners);
  let assemblyFormat = "$grad attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_TransposeOp : CNN_PureOp<"transpose",
    "a matrix [R, C] transposed to [C, R] (a dense weight stored as [in, out])",
    [CNN_Differentiable<>, CNN_Cost<>]> {
  let description = [{
    What an ONNX `MatMul` by a constant, or a `Gemm` with `transB = 0`,
    makes of its weight `[in, out]`: the `[out, in]` that `dense` reads. Over
    a parameter it runs when the parameters are loaded (every step in
    training). Its gradient is the transposed δ.

    ```mlir
    %w = cnn.transpose %b : (tensor<64x10xf32>) -> tensor<10x64xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_ReshapeOp : CNN_PureOp<"reshape", "the same data with another static shape (flatten's gradient); a view",
    [CNN_Differentiable<>, CNN_Cost<["getActivationElements"]>]> {
  let description = [{
    Moves no data. Besides flatten's gradient it views a conv1d weight
    `[O, C/g, k]` (PyTorch's layout) as the conv2d weight `[O, C/g, 1, k]`.
    The element counts must match (a dynamic batch on both sides).
  }];
  let hasVerifier = 1;
  let arguments = (ins CNN_Tensor:$input);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
}

def CNN_DropoutTrainOp : CNN_PureOp<"dropout_train",
    "training dropout: x·mask/(1-rate), mask drawn from a hash of (seed, position)",
    [CNN_Differentiable<>, CNN_Cost<["getFlopsPerItem"]>]> {
  let description = [{
    The mask is a pure function of the seed (a `cnn.hyper` the runtime sets per
    step) and the element's coordinates, so `dropout_grad` recomputes it
    instead of storing it.
  }];
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$seed, F64Attr:$rate, I64Attr:$salt);
  let assemblyFormat = "$input `,` $seed attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_DropoutGradOp : CNN_PureOp<"dropout_grad", "δ·mask/(1-rate) with dropout_train's mask",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let arguments = (ins CNN_Tensor:$grad, CNN_Tensor:$seed, F64Attr:$rate, I64Attr:$salt);
  let assemblyFormat = "$grad `,` $seed attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_ChannelMeanOp : CNN_PureOp<"channel_mean", "batch mean per channel: [N,C,...] -> [C]",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let arguments = (ins CNN_Tensor:$input);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_ChannelVarianceOp : CNN_PureOp<"channel_variance",
    "batch variance per channel (biased, or unbiased for running statistics)",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$mean, BoolAttr:$unbiased);
  let assemblyFormat = "$input `,` $mean attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_BatchNormGradInputOp : CNN_PureOp<"batch_norm_grad_input",
    "gradient of training-mode batch norm w.r.t. its input",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let description = [{
    `dx = γ/σ · (δ - mean(δ) - x̂ · mean(δ · x̂))` with batch statistics, per channel.
  }];
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$grad, CNN_Tensor:$gamma,
                   CNN_Tensor:$mean, CNN_Tensor:$variance, F64Attr:$epsilon);
  let assemblyFormat = "$input `,` $grad `,` $gamma `,` $mean `,` $variance attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_BatchNormGradGammaOp : CNN_PureOp<"batch_norm_grad_gamma", "Σ δ · x̂ per channel",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$grad, CNN_Tensor:$mean,
                   CNN_Tensor:$variance, F64Attr:$epsilon);
  let assemblyFormat = "$input `,` $grad `,` $mean `,` $variance attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_EmaOp : CNN_PureOp<"ema", "(1 - momentum)·running + momentum·batch (running statistics)",
    [CNN_Cost<["getFlopsPerItem"]>, AllTypesMatch<["running", "batch", "result"]>]> {
  let arguments = (ins CNN_Tensor:$running, CNN_Tensor:$batch, F64Attr:$momentum);
  let assemblyFormat = "$running `,` $batch attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def CNN_SoftmaxCrossEntropyOp : CNN_PureOp<"softmax_cross_entropy",
    "mean over the batch of logsumexp(z) - z[label] (fused, stable), with label smoothing",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let description = [{
    Logits `[N, K]`, labels `[N]` (class indices as f32) -> `[1]`. With a
    `smoothing` scalar ε (`[1]`, a `cnn.hyper`), PyTorch's
    `cross_entropy(z, y, label_smoothing=ε)`: per row
    `(1-ε)·(lse(z) - z[y]) + ε·mean_k(lse(z) - z[k])`.

    ```mlir
    %loss = cnn.softmax_cross_entropy %z, %y smoothing %eps : (tensor<?x10xf32>, tensor<?xf32>, tensor<1xf32>) -> tensor<1xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$logits, CNN_Tensor:$labels, Optional<CNN_Tensor>:$smoothing);
  let assemblyFormat = "$logits `,` $labels (`smoothing` $smoothing^)? attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_SoftmaxCrossEntropyGradOp : CNN_PureOp<"softmax_cross_entropy_grad",
    "(softmax(z) - target) / N, target onehot(label) or its smoothing",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let description = [{
    The gradient of `softmax_cross_entropy` w.r.t. the logits. With a
    `smoothing` scalar ε the target is `(1-ε)·onehot(label) + ε/K`.

    ```mlir
    %dz = cnn.softmax_cross_entropy_grad %z, %y smoothing %eps : (tensor<?x10xf32>, tensor<?xf32>, tensor<1xf32>) -> tensor<?x10xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$logits, CNN_Tensor:$labels, Optional<CNN_Tensor>:$smoothing);
  let assemblyFormat = "$logits `,` $labels (`smoothing` $smoothing^)? attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_SumSquaresOp : CNN_PureOp<"sum_squares", "Σ x² over every element (a squared L2 norm)",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let description = [{
    A gradient's squared norm for clipping by the global norm: a parameter-
    shaped tensor (static shape, rank 1 to 4) -> `[1]`.

    ```mlir
    %sq = cnn.sum_squares %g : (tensor<32x1x3x3xf32>) -> tensor<1xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input);
  let assemblyFormat = "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_ClipGradientOp : CNN_PureOp<"clip_gradient", "g · coefficient: a gradient scaled for clipping",
    [CNN_Cost<["getFlopsPerItem"]>, AllTypesMatch<["grad", "result"]>]> {
  let description = [{
    A parameter's gradient (static shape, rank 1 to 4) multiplied by the
    `[1]` result of `clip_coefficient`, before the optimizer update reads it
    (`cnnc-fuse` puts it into the update's kernel).

    ```mlir
    %g2 = cnn.clip_gradient %g, %coefficient : tensor<32x1x3x3xf32>, tensor<1xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$grad, CNN_Tensor:$coefficient);
  let assemblyFormat = "$grad `,` $coefficient attr-dict `:` type($grad) `,` type($coefficient)";
  let hasVerifier = 1;
}

def CNN_ClipCoefficientOp : CNN_PureOp<"clip_coefficient",
    "min(1, max_norm / (sqrt(Σ squares) + 1e-6)); 1 when max_norm is 0",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let description = [{
    The factor `torch.nn.utils.clip_grad_norm_` multiplies every gradient
    by: the global norm is the square root of the sum of the `squares`
    operands (each a gradient's `sum_squares`); `max_norm` (`[1]`, a
    `cnn.hyper`) of 0 turns clipping off. All operands and the result are
    `[1]`.

    ```mlir
    %s = cnn.clip_coefficient %max_norm, %sq1, %sq2 : (tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$max_norm, Variadic<CNN_Tensor>:$squares);
  let assemblyFormat = "$max_norm `,` $squares attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_MseLossOp : CNN_PureOp<"mse_loss", "mean over all elements of (y - onehot(label))²",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let arguments = (ins CNN_Tensor:$output, CNN_Tensor:$labels);
  let assemblyFormat = "$output `,` $labels attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_MseLossGradOp : CNN_PureOp<"mse_loss_grad", "2 (y - onehot(label)) / (N·K)",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let arguments = (ins CNN_Tensor:$output, CNN_Tensor:$labels);
  let assemblyFormat = "$output `,` $labels attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_CountCorrectOp : CNN_PureOp<"count_correct", "number of rows whose argmax equals the label",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let arguments = (ins CNN_Tensor:$scores, CNN_Tensor:$labels);
  let assemblyFormat = "$scores `,` $labels attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

// The optimizer updates read their settings from `cnn.hyper` scalars, so
// the runtime can change them (and, within what the state holds, the rule)
// between steps. One op per form of compiled optimizer state.
def CNN_HyperScalar : Type<
    CPred<"::llvm::isa<::mlir::RankedTensorType>($_self) && "
          "::llvm::cast<::mlir::RankedTensorType>($_self).getShape() == "
          "::llvm::ArrayRef<int64_t>{1} && "
          "::llvm::cast<::mlir::RankedTensorType>($_self).getElementType().isF32()">,
    "a hyper-parameter scalar tensor<1xf32>">,
  BuildableType<"::mlir::RankedTensorType::get({1}, $_builder.getF32Type())">;

def CNN_SgdUpdateOp : CNN_Op<"sgd_update",
    [Pure, CNN_Cost<["getFlopsPerItem"]>,
     AllTypesMatch<["param", "grad", "new_param"]>]> {
  let summary = "plain SGD: p - lr·(g + weight_decay·p)";
  let description = [{
    PyTorch's torch.optim.SGD without momentum, for a model compiled without
    optimizer state. The learning rate and the weight decay are run-time
    scalars.

    ```mlir
    %p1 = cnn.sgd_update %w, %dw lr %lr weight_decay %wd : tensor<4x3xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$param, CNN_Tensor:$grad, CNN_HyperScalar:$lr,
                   CNN_HyperScalar:$weight_decay);
  let results = (outs CNN_Tensor:$new_param);
  let assemblyFormat = [{
    $param `,` $grad `lr` $lr `weight_decay` $weight_decay attr-dict `:` type($param)
  }];
  let hasVerifier = 1;
}

def CNN_SgdMomentumUpdateOp : CNN_Op<"sgd_momentum_update",
    [Pure, CNN_Cost<["getFlopsPerItem"]>,
     AllTypesMatch<["param", "grad", "buffer", "new_param", "new_buffer"]>]> {
  let summary = "SGD with a momentum buffer (momentum ≥ 0, dampening, Nesterov)";
  let description = [{
    PyTorch's torch.optim.SGD with every setting a run-time scalar. With
    `d = g + weight_decay·p`: for momentum μ > 0, `buf' = μ·buf +
    (1 - dampening)·d` and `p' = p - lr·buf'`, or with Nesterov (`nesterov` =
    1) `p' = p - lr·(d + μ·buf')`; for μ = 0 the buffer is kept as it is and
    `p' = p - lr·d`. The runtime passes dampening 0 on the buffer's first
    step (PyTorch's `buf = d`). Results: the new parameter, the new buffer.

    ```mlir
    %p1, %b1 = cnn.sgd_momentum_update %w, %dw, %buf lr %lr weight_decay %wd
        momentum %mu dampening %damp nesterov %nest : tensor<4x3xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$param, CNN_Tensor:$grad, CNN_Tensor:$buffer,
                   CNN_HyperScalar:$lr, CNN_HyperScalar:$weight_decay,
                   CNN_HyperScalar:$momentum, CNN_HyperScalar:$dampening,
                   CNN_HyperScalar:$nesterov);
  let results = (outs CNN_Tensor:$new_param, CNN_Tensor:$new_buffer);
  let assemblyFormat = [{
    $param `,` $grad `,` $buffer `lr` $lr `weight_decay` $weight_decay `momentum` $momentum
    `dampening` $dampening `nesterov` $nesterov attr-dict `:` type($param)
  }];
  let hasVerifier = 1;
}

def CNN_AdamUpdateOp : CNN_Op<"adam_update",
    [Pure, CNN_Cost<["getFlopsPerItem"]>,
     AllTypesMatch<["param", "grad", "exp_avg", "exp_avg_sq", "new_param", "new_exp_avg",
                    "new_exp_avg_sq"]>]> {
  let summary = "Adam, AdamW or SGD over two state tensors, chosen at run time";
  let description = [{
    The `optimizer` scalar selects the rule (0 SGD, 1 Adam, 2 AdamW, PyTorch's
    torch.optim semantics). Adam: with `d = g + weight_decay·p`,
    `m' = β1·m + (1 - β1)·d`, `v' = β2·v + (1 - β2)·d²` and
    `p' = p - lr/(1 - β1ᵗ) · m' / (sqrt(v')/sqrt(1 - β2ᵗ) + ε)`, t being the
    1-based `step`. AdamW: the same with `d = g` and `p` first decayed to
    `p·(1 - lr·weight_decay)`. SGD: `exp_avg` is the momentum buffer (as in
    `cnn.sgd_momentum_update`) and `exp_avg_sq` is kept as it is. Results: the
    new parameter, `exp_avg`, `exp_avg_sq`.

    ```mlir
    %p1, %m1, %v1 = cnn.adam_update %w, %dw, %m, %v optimizer %opt lr %lr step %t
        weight_decay %wd beta1 %b1 beta2 %b2 epsilon %eps momentum %mu
        dampening %damp nesterov %nest : tensor<4x3xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$param, CNN_Tensor:$grad, CNN_Tensor:$exp_avg,
                   CNN_Tensor:$exp_avg_sq, CNN_HyperScalar:$optimizer, CNN_HyperScalar:$lr,
                   CNN_HyperScalar:$step, CNN_HyperScalar:$weight_decay,
                   CNN_HyperScalar:$beta1, CNN_HyperScalar:$beta2, CNN_HyperScalar:$epsilon,
                   CNN_HyperScalar:$momentum, CNN_HyperScalar:$dampening,
                   CNN_HyperScalar:$nesterov);
  let results = (outs CNN_Tensor:$new_param, CNN_Tensor:$new_exp_avg,
                      CNN_Tensor:$new_exp_avg_sq);
  let assemblyFormat = [{
    $param `,` $grad `,` $exp_avg `,` $exp_avg_sq `optimizer` $optimizer `lr` $lr `step` $step
    `weight_decay` $weight_decay `beta1` $beta1 `beta2` $beta2 `epsilon` $epsilon
    `momentum` $momentum `dampening` $dampening `nesterov` $nesterov attr-dict `:` type($param)
  }];
  let hasVerifier = 1;
}

def CNN_EmbeddingGradWeightOp : CNN_PureOp<"embedding_grad_weight",
    "gradient of embedding w.r.t. its table: δ scatter-added into the rows of the ids",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let description = [{
    `dw[v, e] = Σ_{n,t : clamp(round(ids[n,t])) = v} δ[n, e, 0, t]`; the result
    type gives the table's shape `[V, E]`.
  }];
  let arguments = (ins CNN_Tensor:$ids, CNN_Tensor:$grad);
  let assemblyFormat = "$ids `,` $grad attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_GlobalMaxPoolGradOp : CNN_PureOp<"global_max_pool_grad",
    "δ to the first maximum of each plane (row-major)",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$grad);
  let assemblyFormat = "$input `,` $grad attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_KMaxPoolGradOp : CNN_PureOp<"kmax_pool_grad",
    "δ of each k-max output back to the position it was taken from",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$grad, I64Attr:$k);
  let assemblyFormat = "$input `,` $grad attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_MinPool2DGradOp : CNN_PureOp<"min_pool2d_grad",
    "routes δ to the position of each window's (first) minimum",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$grad, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding);
  let assemblyFormat = "$input `,` $grad attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def CNN_L2Pool2DGradOp : CNN_PureOp<"l2_pool2d_grad",
    "x · Σ δ/y over the windows containing x (0 where y = 0)",
    [CNN_Cost<["getFlopsPerItem"]>]> {
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$output, CNN_Tensor:$grad,
                   DenseI64ArrayAttr:$kernel, DenseI64ArrayAttr:$stride,
                   DenseI64ArrayAttr:$padding);
  let assemblyFormat = "$input `,` $output `,` $grad attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

#endif // CNN_OPS_TD
