// relu6: round trip, its gradient rule in the train step (relu6_grad from the
// input: relu6's result cannot tell x <= 0 from x >= 6 at the clipped ends),
// and fusion into the conv before it.
// RUN: cnnc-opt %s | FileCheck %s --check-prefix=ROUND
// RUN: cnnc-opt %s --cnnc-autodiff | FileCheck %s --check-prefix=GRAD
// RUN: cnnc-opt %s --cnnc-fuse | FileCheck %s --check-prefix=FUSE

// ROUND-LABEL: func.func @net
// ROUND: cnn.relu6 %{{.*}} : tensor<?x2x4x4xf32>
// ROUND: cnn.relu6 %{{.*}} : tensor<?x8xf32>
// GRAD-LABEL: func.func @net_train
// GRAD: %[[C:.*]] = cnn.conv2d
// GRAD: %[[A:.*]] = cnn.relu6 %[[C]]
// GRAD: %[[H:.*]] = cnn.dense %{{.*}}, %{{.*}} :
// GRAD: cnn.relu6_grad %[[H]], %{{.*}} : tensor<?x8xf32>
// GRAD: cnn.relu6_grad %[[C]], %{{.*}} : tensor<?x2x4x4xf32>
// GRAD: cnn.conv2d_grad_weight
// FUSE-LABEL: func.func @net
// FUSE: cnn.group "conv2d+relu6"
// FUSE: cnn.conv2d
// FUSE-NEXT: cnn.relu6
// FUSE-NEXT: cnn.yield
func.func @net(%x: tensor<?x1x4x4xf32>) -> tensor<?x3xf32> {
  %w = cnn.param "conv.weight" : tensor<2x1x3x3xf32>
  %c = cnn.conv2d %x, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x1x4x4xf32>, tensor<2x1x3x3xf32>) -> tensor<?x2x4x4xf32>
  %a = cnn.relu6 %c : tensor<?x2x4x4xf32>
  %f = cnn.flatten %a : (tensor<?x2x4x4xf32>) -> tensor<?x32xf32>
  %w1 = cnn.param "fc1.weight" : tensor<8x32xf32>
  %h = cnn.dense %f, %w1 : (tensor<?x32xf32>, tensor<8x32xf32>) -> tensor<?x8xf32>
  %b = cnn.relu6 %h : tensor<?x8xf32>
  %w2 = cnn.param "fc2.weight" : tensor<3x8xf32>
  %y = cnn.dense %b, %w2 : (tensor<?x8xf32>, tensor<3x8xf32>) -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}
