// leaky_relu: round trip (default and explicit slope), its gradient rule in
// the train step (from the input, so negative slopes are exact), and fusion
// into the conv before it.
// RUN: cnnc-opt %s | FileCheck %s --check-prefix=ROUND
// RUN: cnnc-opt %s --cnnc-autodiff | FileCheck %s --check-prefix=GRAD
// RUN: cnnc-opt %s --cnnc-fuse | FileCheck %s --check-prefix=FUSE

// ROUND-LABEL: func.func @net
// ROUND: cnn.leaky_relu %{{.*}} {negative_slope = 2.000000e-01 : f64} : tensor<?x2x4x4xf32>
// ROUND: cnn.leaky_relu %{{.*}} : tensor<?x8xf32>
// GRAD-LABEL: func.func @net_train
// GRAD: %[[C:.*]] = cnn.conv2d
// GRAD: %[[A:.*]] = cnn.leaky_relu %[[C]] {negative_slope = 2.000000e-01 : f64}
// GRAD: %[[D:.*]] = cnn.dense_grad_input
// GRAD: %[[DB:.*]] = cnn.leaky_relu_grad %{{.*}}, %{{.*}} {negative_slope = 1.000000e-02 : f64} : tensor<?x8xf32>
// GRAD: cnn.leaky_relu_grad %[[C]], %{{.*}} {negative_slope = 2.000000e-01 : f64} : tensor<?x2x4x4xf32>
// GRAD: cnn.conv2d_grad_weight
// FUSE-LABEL: func.func @net
// FUSE: cnn.group "conv2d+leaky_relu"
// FUSE: cnn.conv2d
// FUSE-NEXT: cnn.leaky_relu
// FUSE-NEXT: cnn.yield
func.func @net(%x: tensor<?x1x4x4xf32>) -> tensor<?x3xf32> {
  %w = cnn.param "conv.weight" : tensor<2x1x3x3xf32>
  %c = cnn.conv2d %x, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x1x4x4xf32>, tensor<2x1x3x3xf32>) -> tensor<?x2x4x4xf32>
  %a = cnn.leaky_relu %c {negative_slope = 0.2 : f64} : tensor<?x2x4x4xf32>
  %f = cnn.flatten %a : (tensor<?x2x4x4xf32>) -> tensor<?x32xf32>
  %w1 = cnn.param "fc1.weight" : tensor<8x32xf32>
  %h = cnn.dense %f, %w1 : (tensor<?x32xf32>, tensor<8x32xf32>) -> tensor<?x8xf32>
  %b = cnn.leaky_relu %h : tensor<?x8xf32>
  %w2 = cnn.param "fc2.weight" : tensor<3x8xf32>
  %y = cnn.dense %b, %w2 : (tensor<?x8xf32>, tensor<3x8xf32>) -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}
