// hardswish, hardsigmoid, silu and mul: round trip (hardsigmoid's PyTorch
// defaults alpha 1/6, beta 1/2 are implied), the gradient rules of the train
// step (from the activation's input; mul passes δ times the other operand),
// fusion of the activations into the conv before them, and the verifiers.
// RUN: cnnc-opt %s --split-input-file --verify-diagnostics | FileCheck %s --check-prefix=ROUND
// RUN: cnnc-opt %s --split-input-file --verify-diagnostics --cnnc-autodiff | FileCheck %s --check-prefix=GRAD
// RUN: cnnc-opt %s --split-input-file --verify-diagnostics --cnnc-fuse | FileCheck %s --check-prefix=FUSE

// ROUND-LABEL: func.func @net
// ROUND: cnn.hardswish %{{.*}} : tensor<?x2x4x4xf32>
// ROUND: cnn.hardsigmoid %{{.*}} : tensor<?x2x4x4xf32>
// ROUND: cnn.hardsigmoid %{{.*}} {alpha = 2.000000e-01 : f64, beta = 6.000000e-01 : f64} : tensor<?x2x4x4xf32>
// ROUND: cnn.mul %{{.*}}, %{{.*}} : tensor<?x2x4x4xf32>
// ROUND: cnn.silu %{{.*}} : tensor<?x8xf32>
// GRAD-LABEL: func.func @net_train
// GRAD: %[[C:.*]] = cnn.conv2d
// GRAD: %[[HS:.*]] = cnn.hardswish %[[C]]
// GRAD: %[[G:.*]] = cnn.hardsigmoid %[[HS]] :
// GRAD: %[[G2:.*]] = cnn.hardsigmoid %[[HS]] {alpha
// GRAD: %[[M:.*]] = cnn.mul %[[G]], %[[G2]]
// GRAD: %[[H:.*]] = cnn.dense
// GRAD: cnn.silu_grad %[[H]], %{{.*}} : tensor<?x8xf32>
// GRAD-DAG: cnn.mul %{{.*}}, %[[G2]] : tensor<?x2x4x4xf32>
// GRAD-DAG: cnn.mul %{{.*}}, %[[G]] : tensor<?x2x4x4xf32>
// GRAD-DAG: cnn.hardsigmoid_grad %[[HS]], %{{.*}} {alpha = 2.000000e-01 : f64, beta = 6.000000e-01 : f64}
// GRAD-DAG: cnn.hardsigmoid_grad %[[HS]], %{{.*}} {alpha = 0.16666666666666666 : f64, beta = 5.000000e-01 : f64}
// GRAD: cnn.hardswish_grad %[[C]], %{{.*}} : tensor<?x2x4x4xf32>
// GRAD: cnn.conv2d_grad_weight
// FUSE-LABEL: func.func @net
// FUSE: cnn.group "conv2d+hardswish"
// FUSE: cnn.conv2d
// FUSE-NEXT: cnn.hardswish
// FUSE-NEXT: cnn.yield
func.func @net(%x: tensor<?x1x4x4xf32>) -> tensor<?x3xf32> {
  %w = cnn.param "conv.weight" : tensor<2x1x3x3xf32>
  %c = cnn.conv2d %x, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x1x4x4xf32>, tensor<2x1x3x3xf32>) -> tensor<?x2x4x4xf32>
  %a = cnn.hardswish %c : tensor<?x2x4x4xf32>
  %g = cnn.hardsigmoid %a : tensor<?x2x4x4xf32>
  %g2 = cnn.hardsigmoid %a {alpha = 0.2 : f64, beta = 0.6 : f64} : tensor<?x2x4x4xf32>
  %m = cnn.mul %g, %g2 : tensor<?x2x4x4xf32>
  %f = cnn.flatten %m : (tensor<?x2x4x4xf32>) -> tensor<?x32xf32>
  %w1 = cnn.param "fc1.weight" : tensor<8x32xf32>
  %h = cnn.dense %f, %w1 : (tensor<?x32xf32>, tensor<8x32xf32>) -> tensor<?x8xf32>
  %b = cnn.silu %h : tensor<?x8xf32>
  %w2 = cnn.param "fc2.weight" : tensor<3x8xf32>
  %y = cnn.dense %b, %w2 : (tensor<?x8xf32>, tensor<3x8xf32>) -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}

// -----

func.func @bad_alpha(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'cnn.hardsigmoid' op alpha and beta must be finite}}
  %y = cnn.hardsigmoid %x {alpha = 0x7FF0000000000000 : f64} : tensor<?x8xf32>
  return
}

// -----

func.func @bad_rank(%x: tensor<?x8x3xf32>) {
  // expected-error @+1 {{'cnn.silu' op expects an activation [N, F] or [N, C, H, W], found [?, 8, 3]}}
  %y = cnn.silu %x : tensor<?x8x3xf32>
  return
}

// -----

func.func @bad_mul(%a: tensor<?x8x3xf32>) {
  // expected-error @+1 {{'cnn.mul' op expects an activation [N, F] or [N, C, H, W], found [?, 8, 3]}}
  %y = cnn.mul %a, %a : tensor<?x8x3xf32>
  return
}
