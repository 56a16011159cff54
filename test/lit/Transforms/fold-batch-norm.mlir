// cnnc-fold-batch-norm folds batch_norm into a single-use conv2d or dense.
// RUN: cnnc-opt --split-input-file --cnnc-fold-batch-norm %s | FileCheck %s

// CHECK-LABEL: func.func @conv_with_bias
// CHECK-SAME: (%[[X:.*]]: tensor<?x3x8x8xf32>)
// CHECK-DAG: %[[W:.*]] = cnn.param "c.weight"
// CHECK-DAG: %[[B:.*]] = cnn.param "c.bias"
// CHECK-DAG: %[[G:.*]] = cnn.param "bn.weight"
// CHECK-DAG: %[[BETA:.*]] = cnn.param "bn.bias"
// CHECK-DAG: %[[M:.*]] = cnn.param "bn.running_mean"
// CHECK-DAG: %[[V:.*]] = cnn.param "bn.running_var"
// CHECK: %[[FW:.*]] = cnn.bn_fold_weight %[[W]], %[[G]], %[[V]] {epsilon = 1.000000e-03 : f64}
// CHECK: %[[FB:.*]] = cnn.bn_fold_bias %[[G]], %[[BETA]], %[[M]], %[[V]], %[[B]] {epsilon = 1.000000e-03 : f64}
// CHECK: %[[C:.*]] = cnn.conv2d %[[X]], %[[FW]], %[[FB]] {{{.*}}padding = array<i64: 1, 1, 1, 1>{{.*}}}
// CHECK-NOT: cnn.batch_norm
// CHECK: return %[[C]]
func.func @conv_with_bias(%x: tensor<?x3x8x8xf32>) -> tensor<?x4x8x8xf32> {
  %w = cnn.param "c.weight" : tensor<4x3x3x3xf32>
  %b = cnn.param "c.bias" : tensor<4xf32>
  %c = cnn.conv2d %x, %w, %b {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
  %g = cnn.param "bn.weight" : tensor<4xf32>
  %beta = cnn.param "bn.bias" : tensor<4xf32>
  %m = cnn.param "bn.running_mean" : tensor<4xf32>
  %v = cnn.param "bn.running_var" : tensor<4xf32>
  %y = cnn.batch_norm %c, %g, %beta, %m, %v {epsilon = 1.0e-03 : f64} : (tensor<?x4x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4x8x8xf32>
  return %y : tensor<?x4x8x8xf32>
}

// -----

// Without a bias the folded bias has no bias operand.
// CHECK-LABEL: func.func @dense_without_bias
// CHECK: %[[FW:.*]] = cnn.bn_fold_weight
// CHECK: %[[FB:.*]] = cnn.bn_fold_bias %{{[^,]*}}, %{{[^,]*}}, %{{[^,]*}}, %{{[^ ,]*}} {epsilon
// CHECK: %[[D:.*]] = cnn.dense %{{.*}}, %[[FW]], %[[FB]]
// CHECK-NOT: cnn.batch_norm
// CHECK: return %[[D]]
func.func @dense_without_bias(%x: tensor<?x8xf32>) -> tensor<?x4xf32> {
  %w = cnn.param "fc.weight" : tensor<4x8xf32>
  %d = cnn.dense %x, %w : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32>
  %g = cnn.param "bn.weight" : tensor<4xf32>
  %beta = cnn.param "bn.bias" : tensor<4xf32>
  %m = cnn.param "bn.running_mean" : tensor<4xf32>
  %v = cnn.param "bn.running_var" : tensor<4xf32>
  %y = cnn.batch_norm %d, %g, %beta, %m, %v {epsilon = 1.0e-05 : f64} : (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}

// -----

// A conv with another user keeps its batch norm.
// CHECK-LABEL: func.func @conv_with_two_users
// CHECK-NOT: cnn.bn_fold_weight
// CHECK: %[[C:.*]] = cnn.conv2d
// CHECK: %[[BN:.*]] = cnn.batch_norm %[[C]]
// CHECK: cnn.add %[[BN]], %[[C]]
func.func @conv_with_two_users(%x: tensor<?x3x8x8xf32>) -> tensor<?x4x6x6xf32> {
  %w = cnn.param "c.weight" : tensor<4x3x3x3xf32>
  %c = cnn.conv2d %x, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<?x4x6x6xf32>
  %g = cnn.param "bn.weight" : tensor<4xf32>
  %y = cnn.batch_norm %c, %g, %g, %g, %g {epsilon = 1.0e-05 : f64} : (tensor<?x4x6x6xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4x6x6xf32>
  %s = cnn.add %y, %c : tensor<?x4x6x6xf32>
  return %s : tensor<?x4x6x6xf32>
}

// -----

// A batch norm after a non-foldable op stays.
// CHECK-LABEL: func.func @after_relu
// CHECK: cnn.batch_norm
func.func @after_relu(%x: tensor<?x4xf32>, %v: tensor<4xf32>) -> tensor<?x4xf32> {
  %r = cnn.relu %x : tensor<?x4xf32>
  %y = cnn.batch_norm %r, %v, %v, %v, %v {epsilon = 1.0e-05 : f64} : (tensor<?x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x4xf32>
  return %y : tensor<?x4xf32>
}
