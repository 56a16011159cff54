//===- CNNOps.td - the cnn dialect's op catalogue ----------*- tablegen -*-===//
//
// The only list of cnn ops. Every op verifies its operands and attributes and
// infers its result type through the shape functions of ShapeInference.h,
// which the YAML frontend also calls to report shape errors at the model
// file's line:col. Docs in docs/dialect/ are generated from this file.
//
//===----------------------------------------------------------------------===//
#ifndef CNN_OPS_TD
#define CNN_OPS_TD

include "compiler/Dialect/CNN/IR/CNNDialect.td"
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

def CNN_Conv2DOp : CNN_Op<"conv2d", [Pure, InferTypeOpAdaptor]> {
  let summary = "2-D cross-correlation with stride, padding, dilation, groups";
  let description = [{
    `y[n,o,i,j] = b[o] + sum_{c,u,v} w[o,c,u,v] * x[n, g*C/G + c, i*sh + u*dh - pt, j*sw + v*dw - pl]`
    (no kernel flip, SPEC §1). `padding` is `[top, left, bottom, right]`; the
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

def CNN_DenseOp : CNN_Op<"dense", [Pure, InferTypeOpAdaptor]> {
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
// Pooling
//===----------------------------------------------------------------------===//

class CNN_Pool2DOp<string mnemonic, string what> : CNN_Op<mnemonic, [Pure, InferTypeOpAdaptor]> {
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
  let arguments = (ins CNN_Tensor:$input, DenseI64ArrayAttr:$kernel,
                   DenseI64ArrayAttr:$stride, DenseI64ArrayAttr:$padding,
                   DefaultValuedAttr<BoolAttr, "false">:$ceil_mode);
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

def CNN_GlobalAvgPoolOp : CNN_Op<"global_avg_pool", [Pure, InferTypeOpAdaptor]> {
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
// Element-wise and normalization
//===----------------------------------------------------------------------===//

class CNN_UnaryOp<string mnemonic, string what>
    : CNN_Op<mnemonic, [Pure, SameOperandsAndResultType]> {
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

def CNN_DropoutOp : CNN_Op<"dropout", [Pure, SameOperandsAndResultType]> {
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

def CNN_SoftmaxOp : CNN_Op<"softmax", [Pure, SameOperandsAndResultType]> {
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

def CNN_BatchNormOp : CNN_Op<"batch_norm", [Pure, InferTypeOpAdaptor]> {
  let summary = "batch normalization, inference form";
  let description = [{
    `y = (x - mean[c]) / sqrt(var[c] + epsilon) * weight[c] + bias[c]` over the
    channel dimension (dim 1) of `[N,C,H,W]` or `[N,C]`, with PyTorch's
    `running_mean` / `running_var` as `mean` / `var`.

    ```mlir
    %y = cnn.batch_norm %x, %g, %b, %m, %v {epsilon = 1.0e-05 : f64}
         : (tensor<?x64x56x56xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<?x64x56x56xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$input, CNN_Tensor:$weight, CNN_Tensor:$bias,
                   CNN_Tensor:$mean, CNN_Tensor:$variance, F64Attr:$epsilon);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$input `,` $weight `,` $bias `,` $mean `,` $variance attr-dict `:` functional-type(operands, results)";
}

def CNN_BnFoldWeightOp : CNN_Op<"bn_fold_weight", [Pure, InferTypeOpAdaptor]> {
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

def CNN_BnFoldBiasOp : CNN_Op<"bn_fold_bias", [Pure, InferTypeOpAdaptor]> {
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
// Structure: add, concat, flatten
//===----------------------------------------------------------------------===//

def CNN_AddOp : CNN_Op<"add", [Pure, SameOperandsAndResultType, Commutative]> {
  let summary = "element-wise sum (residual shortcut)";
  let description = [{
    ```mlir
    %y = cnn.add %a, %b : tensor<?x64x56x56xf32>
    ```
  }];
  let arguments = (ins CNN_Tensor:$lhs, CNN_Tensor:$rhs);
  let results = (outs CNN_Tensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def CNN_ConcatOp : CNN_Op<"concat", [Pure, InferTypeOpAdaptor]> {
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

def CNN_FlattenOp : CNN_Op<"flatten", [Pure, InferTypeOpAdaptor]> {
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

#endif // CNN_OPS_TD
