// Round trip of every cnn op through the printer and parser.
// RUN: cnnc-opt %s | cnnc-opt | FileCheck %s

// CHECK-LABEL: func.func @layers
func.func @layers(%x: tensor<?x3x32x32xf32>) -> tensor<?x10xf32> {
  // CHECK: %[[W:.*]] = cnn.param "conv1.weight" : tensor<16x3x3x3xf32>
  %w = cnn.param "conv1.weight" : tensor<16x3x3x3xf32>
  %b = cnn.param "conv1.bias" : tensor<16xf32>
  // CHECK: %[[C:.*]] = cnn.conv2d %{{.*}}, %[[W]], %{{.*}} {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x3x32x32xf32>, tensor<16x3x3x3xf32>, tensor<16xf32>) -> tensor<?x16x32x32xf32>
  %c = cnn.conv2d %x, %w, %b {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x3x32x32xf32>, tensor<16x3x3x3xf32>, tensor<16xf32>) -> tensor<?x16x32x32xf32>
  // CHECK: cnn.conv2d %[[C]], %{{[^,]*}} {{{.*}}groups = 4 : i64{{.*}}} : (tensor<?x16x32x32xf32>, tensor<16x4x3x3xf32>) -> tensor<?x16x30x30xf32>
  %wg = cnn.param "g.weight" : tensor<16x4x3x3xf32>
  %g = cnn.conv2d %c, %wg {dilation = array<i64: 1, 1>, groups = 4 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x16x32x32xf32>, tensor<16x4x3x3xf32>) -> tensor<?x16x30x30xf32>
  %gamma = cnn.param "bn.weight" : tensor<16xf32>
  %beta = cnn.param "bn.bias" : tensor<16xf32>
  %mean = cnn.param "bn.running_mean" : tensor<16xf32>
  %var = cnn.param "bn.running_var" : tensor<16xf32>
  // CHECK: cnn.batch_norm {{.*}} {epsilon = 1.000000e-05 : f64}
  %bn = cnn.batch_norm %g, %gamma, %beta, %mean, %var {epsilon = 1.0e-05 : f64} : (tensor<?x16x30x30xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<?x16x30x30xf32>
  // CHECK: cnn.bn_fold_weight {{.*}} -> tensor<16x4x3x3xf32>
  %fw = cnn.bn_fold_weight %wg, %gamma, %var {epsilon = 1.0e-05 : f64} : (tensor<16x4x3x3xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<16x4x3x3xf32>
  // CHECK: cnn.bn_fold_bias {{.*}} -> tensor<16xf32>
  %fb = cnn.bn_fold_bias %gamma, %beta, %mean, %var, %b {epsilon = 1.0e-05 : f64} : (tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>, tensor<16xf32>) -> tensor<16xf32>
  // CHECK: cnn.relu %{{.*}} : tensor<?x16x30x30xf32>
  %r = cnn.relu %bn : tensor<?x16x30x30xf32>
  // CHECK: cnn.sigmoid
  %s = cnn.sigmoid %r : tensor<?x16x30x30xf32>
  // CHECK: cnn.tanh
  %t = cnn.tanh %s : tensor<?x16x30x30xf32>
  // CHECK: cnn.add
  %a = cnn.add %t, %r : tensor<?x16x30x30xf32>
  // CHECK: cnn.max_pool2d {{.*}} {ceil_mode = true, kernel = array<i64: 3, 3>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<?x16x30x30xf32>) -> tensor<?x16x15x15xf32>
  %mp = cnn.max_pool2d %a {ceil_mode = true, kernel = array<i64: 3, 3>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<?x16x30x30xf32>) -> tensor<?x16x15x15xf32>
  // CHECK: cnn.avg_pool2d {{.*}} {count_include_pad = false, kernel = array<i64: 3, 3>, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>}
  %ap = cnn.avg_pool2d %mp {count_include_pad = false, kernel = array<i64: 3, 3>, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x16x15x15xf32>) -> tensor<?x16x15x15xf32>
  // CHECK: cnn.concat {{.*}} -> tensor<?x32x15x15xf32>
  %cat = cnn.concat %ap, %mp : (tensor<?x16x15x15xf32>, tensor<?x16x15x15xf32>) -> tensor<?x32x15x15xf32>
  // CHECK: cnn.global_avg_pool {{.*}} -> tensor<?x32x1x1xf32>
  %gap = cnn.global_avg_pool %cat : (tensor<?x32x15x15xf32>) -> tensor<?x32x1x1xf32>
  // CHECK: cnn.flatten {{.*}} -> tensor<?x32xf32>
  %f = cnn.flatten %gap : (tensor<?x32x1x1xf32>) -> tensor<?x32xf32>
  // CHECK: cnn.dropout {{.*}} {rate = 5.000000e-01 : f64} : tensor<?x32xf32>
  %d = cnn.dropout %f {rate = 0.5 : f64} : tensor<?x32xf32>
  %fcw = cnn.param "fc.weight" : tensor<10x32xf32>
  // CHECK: cnn.dense {{.*}} : (tensor<?x32xf32>, tensor<10x32xf32>) -> tensor<?x10xf32>
  %y = cnn.dense %d, %fcw : (tensor<?x32xf32>, tensor<10x32xf32>) -> tensor<?x10xf32>
  // CHECK: cnn.softmax {{.*}} : tensor<?x10xf32>
  %sm = cnn.softmax %y : tensor<?x10xf32>
  return %sm : tensor<?x10xf32>
}

// CHECK-LABEL: func.func @regions
func.func @regions(%x: tensor<?x8xf32>) -> tensor<?x4xf32> {
  // CHECK: %[[B:.*]] = cnn.block "b1" of "unit" (%{{.*}}) : (tensor<?x8xf32>) -> tensor<?x8xf32> {
  // CHECK-NEXT: ^bb0(%[[A:.*]]: tensor<?x8xf32>):
  // CHECK-NEXT: %[[R:.*]] = cnn.relu %[[A]]
  // CHECK-NEXT: cnn.yield %[[R]] : tensor<?x8xf32>
  %b = cnn.block "b1" of "unit" (%x) : (tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%in: tensor<?x8xf32>):
    %r = cnn.relu %in : tensor<?x8xf32>
    cnn.yield %r : tensor<?x8xf32>
  }
  %w = cnn.param "fc.weight" : tensor<4x8xf32>
  // CHECK: cnn.group "fc+fc.relu" (%[[B]], %{{.*}}) : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32> {
  // CHECK: cnn.dense
  // CHECK: cnn.yield
  %g = cnn.group "fc+fc.relu" (%b, %w) : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32> {
  ^bb0(%a: tensor<?x8xf32>, %ww: tensor<4x8xf32>):
    %d = cnn.dense %a, %ww : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32>
    %r = cnn.relu %d : tensor<?x4xf32>
    cnn.yield %r : tensor<?x4xf32>
  }
  return %g : tensor<?x4xf32>
}
