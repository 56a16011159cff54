// RUN: cnnc-opt --split-input-file --cnnc-autodiff %s | FileCheck %s

// A text CNN in miniature: embedding -> conv1d (a conv2d reading its weight through a
// reshape view) -> relu -> global max pool and k-max pool. The train step scatter-adds δ into
// the embedding table (no gradient for the token ids), views the conv weight's gradient
// back to the parameter's [O, C, k] layout, and routes δ through both poolings.
// CHECK-LABEL: func.func @text_train(
// CHECK-SAME: cnn.init = {c.bias = ["uniform", 0.40824{{[0-9]*}}], c.weight = ["uniform", 0.40824{{[0-9]*}}], emb.weight = ["uniform", 1.7320{{[0-9]*}}], fc.weight = ["uniform", 0.2886{{[0-9]*}}]}
// CHECK: %[[T:.*]] = cnn.param "emb.weight" : tensor<10x2xf32>
// CHECK: %[[E:.*]] = cnn.embedding %[[IDS:[^,]*]], %[[T]]
// CHECK: %[[W:.*]] = cnn.param "c.weight" : tensor<4x2x3xf32>
// CHECK: %[[V:.*]] = cnn.reshape %[[W]] : (tensor<4x2x3xf32>) -> tensor<4x2x1x3xf32>
// CHECK: %[[C:.*]] = cnn.conv2d %[[E]], %[[V]]
// CHECK: %[[R:.*]] = cnn.relu %[[C]]
// CHECK: %[[G:.*]] = cnn.global_max_pool %[[R]]
// CHECK: %[[K:.*]] = cnn.kmax_pool %[[R]] {k = 2 : i64}
// CHECK-DAG: %[[DK:.*]] = cnn.kmax_pool_grad %[[R]], %{{.*}} {k = 2 : i64} : (tensor<?x4x1x6xf32>, tensor<?x4x1x2xf32>) -> tensor<?x4x1x6xf32>
// CHECK-DAG: %[[DG:.*]] = cnn.global_max_pool_grad %[[R]], %{{.*}} : (tensor<?x4x1x6xf32>, tensor<?x4x1x1xf32>) -> tensor<?x4x1x6xf32>
// CHECK: %[[DR:.*]] = cnn.add
// CHECK: %[[DC:.*]] = cnn.activation_grad "relu" %[[R]], %[[DR]]
// CHECK: %[[DE:.*]] = cnn.conv2d_grad_input %[[DC]], %[[V]]
// CHECK: %[[DV:.*]] = cnn.conv2d_grad_weight %[[E]], %[[DC]] {{.*}} -> tensor<4x2x1x3xf32>
// CHECK: %[[DW:.*]] = cnn.reshape %[[DV]] : (tensor<4x2x1x3xf32>) -> tensor<4x2x3xf32>
// CHECK: %[[DT:.*]] = cnn.embedding_grad_weight %[[IDS]], %[[DE]] : (tensor<?x8xf32>, tensor<?x2x1x8xf32>) -> tensor<10x2xf32>
// CHECK-NOT: embedding_grad_input
// CHECK: cnn.sgd_update %[[T]], %[[DT]] lr
// CHECK: cnn.sgd_update %[[W]], %[[DW]] lr
func.func @text(%ids: tensor<?x8xf32>) -> tensor<?x3xf32> attributes {cnn.train = {optimizer = "sgd", lr = 1.0 : f64}} {
  %t = cnn.param "emb.weight" : tensor<10x2xf32>
  %e = cnn.embedding %ids, %t : (tensor<?x8xf32>, tensor<10x2xf32>) -> tensor<?x2x1x8xf32>
  %w = cnn.param "c.weight" : tensor<4x2x3xf32>
  %v = cnn.reshape %w : (tensor<4x2x3xf32>) -> tensor<4x2x1x3xf32>
  %b = cnn.param "c.bias" : tensor<4xf32>
  %c = cnn.conv2d %e, %v, %b {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x2x1x8xf32>, tensor<4x2x1x3xf32>, tensor<4xf32>) -> tensor<?x4x1x6xf32>
  %r = cnn.relu %c : tensor<?x4x1x6xf32>
  %g = cnn.global_max_pool %r : (tensor<?x4x1x6xf32>) -> tensor<?x4x1x1xf32>
  %k = cnn.kmax_pool %r {k = 2 : i64} : (tensor<?x4x1x6xf32>) -> tensor<?x4x1x2xf32>
  %gf = cnn.flatten %g : (tensor<?x4x1x1xf32>) -> tensor<?x4xf32>
  %kf = cnn.flatten %k : (tensor<?x4x1x2xf32>) -> tensor<?x8xf32>
  %f = cnn.concat %gf, %kf : (tensor<?x4xf32>, tensor<?x8xf32>) -> tensor<?x12xf32>
  %fw = cnn.param "fc.weight" : tensor<3x12xf32>
  %y = cnn.dense %f, %fw : (tensor<?x12xf32>, tensor<3x12xf32>) -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}

// -----

// min and L2 pooling: the L2 gradient reads the pooling's output.
// CHECK-LABEL: func.func @pools_train(
// CHECK: %[[M:.*]] = cnn.min_pool2d %[[X:[^ ]*]]
// CHECK: %[[L:.*]] = cnn.l2_pool2d %[[M]]
// CHECK: %[[DL:.*]] = cnn.l2_pool2d_grad %[[M]], %[[L]], %{{.*}} {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>}
// CHECK: cnn.min_pool2d_grad %[[X]], %[[DL]] {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>}
func.func @pools(%x: tensor<?x1x8x8xf32>) -> tensor<?x2xf32> attributes {cnn.train = {optimizer = "sgd"}} {
  %w = cnn.param "c.weight" : tensor<2x1x1x1xf32>
  %c = cnn.conv2d %x, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x1x8x8xf32>, tensor<2x1x1x1xf32>) -> tensor<?x2x8x8xf32>
  %m = cnn.min_pool2d %c {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<?x2x8x8xf32>) -> tensor<?x2x4x4xf32>
  %l = cnn.l2_pool2d %m {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x2x4x4xf32>) -> tensor<?x2x3x3xf32>
  %g = cnn.global_max_pool %l : (tensor<?x2x3x3xf32>) -> tensor<?x2x1x1xf32>
  %f = cnn.flatten %g : (tensor<?x2x1x1xf32>) -> tensor<?x2xf32>
  return %f : tensor<?x2xf32>
}
