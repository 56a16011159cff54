// Round trip of the sequence and pooling-variant ops (embedding, global_max_pool, kmax_pool,
// min_pool2d, l2_pool2d), their gradient ops, and the reshape that views a conv1d weight.
// RUN: cnnc-opt %s | cnnc-opt | FileCheck %s

// CHECK-LABEL: func.func @text
func.func @text(%ids: tensor<?x20xf32>) -> tensor<?x4x1x3xf32> {
  // CHECK: %[[T:.*]] = cnn.param "emb.weight" : tensor<50x8xf32>
  %t = cnn.param "emb.weight" : tensor<50x8xf32>
  // CHECK: %[[E:.*]] = cnn.embedding %{{.*}}, %[[T]] : (tensor<?x20xf32>, tensor<50x8xf32>) -> tensor<?x8x1x20xf32>
  %e = cnn.embedding %ids, %t : (tensor<?x20xf32>, tensor<50x8xf32>) -> tensor<?x8x1x20xf32>
  %w = cnn.param "c.weight" : tensor<4x8x3xf32>
  // CHECK: %[[V:.*]] = cnn.reshape %{{.*}} : (tensor<4x8x3xf32>) -> tensor<4x8x1x3xf32>
  %v = cnn.reshape %w : (tensor<4x8x3xf32>) -> tensor<4x8x1x3xf32>
  // CHECK: %[[C:.*]] = cnn.conv2d %[[E]], %[[V]]
  %c = cnn.conv2d %e, %v {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x8x1x20xf32>, tensor<4x8x1x3xf32>) -> tensor<?x4x1x18xf32>
  // CHECK: cnn.global_max_pool %[[C]] : (tensor<?x4x1x18xf32>) -> tensor<?x4x1x1xf32>
  %g = cnn.global_max_pool %c : (tensor<?x4x1x18xf32>) -> tensor<?x4x1x1xf32>
  // CHECK: %[[K:.*]] = cnn.kmax_pool %[[C]] {k = 3 : i64} : (tensor<?x4x1x18xf32>) -> tensor<?x4x1x3xf32>
  %k = cnn.kmax_pool %c {k = 3 : i64} : (tensor<?x4x1x18xf32>) -> tensor<?x4x1x3xf32>
  return %k : tensor<?x4x1x3xf32>
}

// CHECK-LABEL: func.func @pools
func.func @pools(%x: tensor<?x3x9x9xf32>) -> tensor<?x3x5x5xf32> {
  // CHECK: cnn.min_pool2d %{{.*}} {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<?x3x9x9xf32>) -> tensor<?x3x4x4xf32>
  %a = cnn.min_pool2d %x {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<?x3x9x9xf32>) -> tensor<?x3x4x4xf32>
  // CHECK: cnn.l2_pool2d %{{.*}} {ceil_mode = true, kernel = array<i64: 3, 3>, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} : (tensor<?x3x9x9xf32>) -> tensor<?x3x5x5xf32>
  %b = cnn.l2_pool2d %x {ceil_mode = true, kernel = array<i64: 3, 3>, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} : (tensor<?x3x9x9xf32>) -> tensor<?x3x5x5xf32>
  return %b : tensor<?x3x5x5xf32>
}

// CHECK-LABEL: func.func @grads
func.func @grads(%ids: tensor<?x20xf32>, %x: tensor<?x4x1x18xf32>, %d: tensor<?x8x1x20xf32>,
                 %dg: tensor<?x4x1x1xf32>, %dk: tensor<?x4x1x3xf32>, %p: tensor<?x4x1x9xf32>,
                 %dp: tensor<?x4x1x9xf32>) {
  // CHECK: cnn.embedding_grad_weight %{{.*}}, %{{.*}} : (tensor<?x20xf32>, tensor<?x8x1x20xf32>) -> tensor<50x8xf32>
  %0 = cnn.embedding_grad_weight %ids, %d : (tensor<?x20xf32>, tensor<?x8x1x20xf32>) -> tensor<50x8xf32>
  // CHECK: cnn.global_max_pool_grad
  %1 = cnn.global_max_pool_grad %x, %dg : (tensor<?x4x1x18xf32>, tensor<?x4x1x1xf32>) -> tensor<?x4x1x18xf32>
  // CHECK: cnn.kmax_pool_grad %{{.*}}, %{{.*}} {k = 3 : i64}
  %2 = cnn.kmax_pool_grad %x, %dk {k = 3 : i64} : (tensor<?x4x1x18xf32>, tensor<?x4x1x3xf32>) -> tensor<?x4x1x18xf32>
  // CHECK: cnn.min_pool2d_grad %{{.*}}, %{{.*}} {kernel = array<i64: 1, 2>
  %3 = cnn.min_pool2d_grad %x, %dp {kernel = array<i64: 1, 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 2>} : (tensor<?x4x1x18xf32>, tensor<?x4x1x9xf32>) -> tensor<?x4x1x18xf32>
  // CHECK: cnn.l2_pool2d_grad %{{.*}}, %{{.*}}, %{{.*}} {kernel = array<i64: 1, 2>
  %4 = cnn.l2_pool2d_grad %x, %p, %dp {kernel = array<i64: 1, 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 2>} : (tensor<?x4x1x18xf32>, tensor<?x4x1x9xf32>, tensor<?x4x1x9xf32>) -> tensor<?x4x1x18xf32>
  return
}
