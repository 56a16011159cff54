// Round trip of the gradient, statistics, loss and optimizer ops in the
// forms cnnc-autodiff builds: their verifiers accept them.
// RUN: cnnc-opt %s | cnnc-opt | FileCheck %s

// CHECK-LABEL: func.func @conv_dense_grads
func.func @conv_dense_grads(%x: tensor<?x4x9x9xf32>, %w: tensor<6x2x3x3xf32>,
                            %d: tensor<?x6x4x4xf32>, %f: tensor<?x8xf32>,
                            %fw: tensor<5x8xf32>, %df: tensor<?x5xf32>) {
  // Stride 2, groups 2: the last row and column of x are in no window.
  // CHECK: cnn.conv2d_grad_input {{.*}} : (tensor<?x6x4x4xf32>, tensor<6x2x3x3xf32>) -> tensor<?x4x9x9xf32>
  %0 = cnn.conv2d_grad_input %d, %w {dilation = array<i64: 1, 1>, groups = 2 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<?x6x4x4xf32>, tensor<6x2x3x3xf32>) -> tensor<?x4x9x9xf32>
  // CHECK: cnn.conv2d_grad_weight {{.*}} : (tensor<?x4x9x9xf32>, tensor<?x6x4x4xf32>) -> tensor<6x2x3x3xf32>
  %1 = cnn.conv2d_grad_weight %x, %d {dilation = array<i64: 1, 1>, groups = 2 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<?x4x9x9xf32>, tensor<?x6x4x4xf32>) -> tensor<6x2x3x3xf32>
  // CHECK: cnn.reduce_to_channels {{.*}} : (tensor<?x6x4x4xf32>) -> tensor<6xf32>
  %2 = cnn.reduce_to_channels %d : (tensor<?x6x4x4xf32>) -> tensor<6xf32>
  // CHECK: cnn.dense_grad_input {{.*}} : (tensor<?x5xf32>, tensor<5x8xf32>) -> tensor<?x8xf32>
  %3 = cnn.dense_grad_input %df, %fw : (tensor<?x5xf32>, tensor<5x8xf32>) -> tensor<?x8xf32>
  // CHECK: cnn.dense_grad_weight {{.*}} : (tensor<?x8xf32>, tensor<?x5xf32>) -> tensor<5x8xf32>
  %4 = cnn.dense_grad_weight %f, %df : (tensor<?x8xf32>, tensor<?x5xf32>) -> tensor<5x8xf32>
  // CHECK: cnn.reduce_to_channels {{.*}} : (tensor<?x5xf32>) -> tensor<5xf32>
  %5 = cnn.reduce_to_channels %df : (tensor<?x5xf32>) -> tensor<5xf32>
  return
}

// CHECK-LABEL: func.func @pool_grads
func.func @pool_grads(%x: tensor<?x3x7x7xf32>, %floor: tensor<?x3x3x3xf32>,
                      %ceil: tensor<?x3x4x4xf32>, %g: tensor<?x3x1x1xf32>) {
  // A max pooling in ceil mode: the gradient op does not keep ceil_mode.
  // CHECK: cnn.max_pool2d_grad {{.*}} : (tensor<?x3x7x7xf32>, tensor<?x3x4x4xf32>) -> tensor<?x3x7x7xf32>
  %0 = cnn.max_pool2d_grad %x, %ceil {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<?x3x7x7xf32>, tensor<?x3x4x4xf32>) -> tensor<?x3x7x7xf32>
  // CHECK: cnn.avg_pool2d_grad {{.*}} : (tensor<?x3x3x3xf32>) -> tensor<?x3x7x7xf32>
  %1 = cnn.avg_pool2d_grad %floor {count_include_pad = true, kernel = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<?x3x3x3xf32>) -> tensor<?x3x7x7xf32>
  // CHECK: cnn.global_avg_pool_grad {{.*}} : (tensor<?x3x1x1xf32>) -> tensor<?x3x7x7xf32>
  %2 = cnn.global_avg_pool_grad %g : (tensor<?x3x1x1xf32>) -> tensor<?x3x7x7xf32>
  return
}

// CHECK-LABEL: func.func @elementwise_grads
func.func @elementwise_grads(%y: tensor<?x6x4x4xf32>, %d: tensor<?x6x4x4xf32>,
                             %s: tensor<?x10xf32>, %ds: tensor<?x10xf32>,
                             %seed: tensor<1xf32>) {
  // CHECK: cnn.activation_grad "sigmoid" {{.*}} : tensor<?x6x4x4xf32>
  %0 = cnn.activation_grad "sigmoid" %y, %d : tensor<?x6x4x4xf32>
  // CHECK: cnn.softmax_grad {{.*}} : tensor<?x10xf32>
  %1 = cnn.softmax_grad %s, %ds : tensor<?x10xf32>
  // CHECK: cnn.slice_channels {{.*}} {begin = 4 : i64} : (tensor<?x6x4x4xf32>) -> tensor<?x2x4x4xf32>
  %2 = cnn.slice_channels %d {begin = 4 : i64} : (tensor<?x6x4x4xf32>) -> tensor<?x2x4x4xf32>
  // CHECK: cnn.dropout_train {{.*}} : (tensor<?x10xf32>, tensor<1xf32>) -> tensor<?x10xf32>
  %3 = cnn.dropout_train %s, %seed {rate = 5.000000e-01 : f64, salt = 0 : i64} : (tensor<?x10xf32>, tensor<1xf32>) -> tensor<?x10xf32>
  // CHECK: cnn.dropout_grad {{.*}} : (tensor<?x10xf32>, tensor<1xf32>) -> tensor<?x10xf32>
  %4 = cnn.dropout_grad %ds, %seed {rate = 5.000000e-01 : f64, salt = 0 : i64} : (tensor<?x10xf32>, tensor<1xf32>) -> tensor<?x10xf32>
  return
}

// CHECK-LABEL: func.func @batch_norm_train
func.func @batch_norm_train(%x: tensor<?x3x4x4xf32>, %d: tensor<?x3x4x4xf32>) {
  %g = cnn.param "bn.weight" : tensor<3xf32>
  %rm = cnn.param "bn.running_mean" : tensor<3xf32>
  // CHECK: cnn.channel_mean {{.*}} : (tensor<?x3x4x4xf32>) -> tensor<3xf32>
  %m = cnn.channel_mean %x : (tensor<?x3x4x4xf32>) -> tensor<3xf32>
  // CHECK: cnn.channel_variance {{.*}} {unbiased = false} : (tensor<?x3x4x4xf32>, tensor<3xf32>) -> tensor<3xf32>
  %v = cnn.channel_variance %x, %m {unbiased = false} : (tensor<?x3x4x4xf32>, tensor<3xf32>) -> tensor<3xf32>
  // CHECK: cnn.batch_norm_grad_input
  %0 = cnn.batch_norm_grad_input %x, %d, %g, %m, %v {epsilon = 1.000000e-05 : f64} : (tensor<?x3x4x4xf32>, tensor<?x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<?x3x4x4xf32>
  // CHECK: cnn.batch_norm_grad_gamma
  %1 = cnn.batch_norm_grad_gamma %x, %d, %m, %v {epsilon = 1.000000e-05 : f64} : (tensor<?x3x4x4xf32>, tensor<?x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<3xf32>
  // CHECK: cnn.ema {{.*}} {momentum = 1.000000e-01 : f64} : tensor<3xf32>
  %2 = cnn.ema %rm, %m {momentum = 1.000000e-01 : f64} : tensor<3xf32>
  // CHECK: cnn.assign "bn.running_mean"
  cnn.assign "bn.running_mean", %2 : tensor<3xf32>
  return
}

// CHECK-LABEL: func.func @losses_and_updates
func.func @losses_and_updates(%z: tensor<?x10xf32>, %labels: tensor<?xf32>,
                              %dw: tensor<4x3xf32>) {
  %w = cnn.param "fc.weight" : tensor<4x3xf32>
  // CHECK: cnn.softmax_cross_entropy {{.*}} : (tensor<?x10xf32>, tensor<?xf32>) -> tensor<1xf32>
  %0 = cnn.softmax_cross_entropy %z, %labels : (tensor<?x10xf32>, tensor<?xf32>) -> tensor<1xf32>
  // CHECK: cnn.softmax_cross_entropy_grad {{.*}} : (tensor<?x10xf32>, tensor<?xf32>) -> tensor<?x10xf32>
  %1 = cnn.softmax_cross_entropy_grad %z, %labels : (tensor<?x10xf32>, tensor<?xf32>) -> tensor<?x10xf32>
  // CHECK: cnn.mse_loss {{.*}} : (tensor<?x10xf32>, tensor<?xf32>) -> tensor<1xf32>
  %2 = cnn.mse_loss %z, %labels : (tensor<?x10xf32>, tensor<?xf32>) -> tensor<1xf32>
  // CHECK: cnn.mse_loss_grad {{.*}} : (tensor<?x10xf32>, tensor<?xf32>) -> tensor<?x10xf32>
  %3 = cnn.mse_loss_grad %z, %labels : (tensor<?x10xf32>, tensor<?xf32>) -> tensor<?x10xf32>
  // CHECK: cnn.count_correct {{.*}} : (tensor<?x10xf32>, tensor<?xf32>) -> tensor<1xf32>
  %4 = cnn.count_correct %z, %labels : (tensor<?x10xf32>, tensor<?xf32>) -> tensor<1xf32>
  return
}

// The optimizer updates read every setting from a hyper-parameter scalar
// (whose type the custom form leaves implicit); one op per form of state.
// CHECK-LABEL: func.func @updates
func.func @updates(%dw: tensor<4x3xf32>) {
  // CHECK: %[[LR:.*]] = cnn.hyper "lr" : tensor<1xf32>
  %lr = cnn.hyper "lr" : tensor<1xf32>
  %wd = cnn.hyper "weight_decay" : tensor<1xf32>
  %mu = cnn.hyper "momentum" : tensor<1xf32>
  %damp = cnn.hyper "dampening" : tensor<1xf32>
  %nest = cnn.hyper "nesterov" : tensor<1xf32>
  %opt = cnn.hyper "optimizer" : tensor<1xf32>
  %t = cnn.hyper "step" : tensor<1xf32>
  %b1 = cnn.hyper "beta1" : tensor<1xf32>
  %b2 = cnn.hyper "beta2" : tensor<1xf32>
  %eps = cnn.hyper "epsilon" : tensor<1xf32>
  // CHECK: %[[W:.*]] = cnn.param "fc.weight"
  %w = cnn.param "fc.weight" : tensor<4x3xf32>
  // CHECK: %[[W1:.*]] = cnn.sgd_update %[[W]], %{{.*}} lr %[[LR]] weight_decay %{{.*}} : tensor<4x3xf32>
  %w1 = cnn.sgd_update %w, %dw lr %lr weight_decay %wd : tensor<4x3xf32>
  // CHECK: cnn.assign "fc.weight", %[[W1]] : tensor<4x3xf32>
  cnn.assign "fc.weight", %w1 : tensor<4x3xf32>
  // CHECK: %[[BUF:.*]] = cnn.state "fc.weight.momentum_buffer" : tensor<4x3xf32>
  %buf = cnn.state "fc.weight.momentum_buffer" : tensor<4x3xf32>
  // CHECK: %{{[^,]*}}, %{{[^ ]*}} = cnn.sgd_momentum_update %[[W]], %{{.*}}, %[[BUF]] lr %[[LR]] weight_decay %{{.*}} momentum %{{.*}} dampening %{{.*}} nesterov %{{.*}} : tensor<4x3xf32>
  %w2, %buf2 = cnn.sgd_momentum_update %w, %dw, %buf lr %lr weight_decay %wd momentum %mu dampening %damp nesterov %nest : tensor<4x3xf32>
  %m = cnn.state "fc.weight.exp_avg" : tensor<4x3xf32>
  %v = cnn.state "fc.weight.exp_avg_sq" : tensor<4x3xf32>
  // CHECK: %{{[^,]*}}, %[[M3:[^,]*]], %{{[^ ]*}} = cnn.adam_update %[[W]], %{{.*}}, %{{.*}}, %{{.*}} optimizer %{{.*}} lr %[[LR]] step %{{.*}} weight_decay %{{.*}} beta1 %{{.*}} beta2 %{{.*}} epsilon %{{.*}} momentum %{{.*}} dampening %{{.*}} nesterov %{{.*}} : tensor<4x3xf32>
  %w3, %m3, %v3 = cnn.adam_update %w, %dw, %m, %v optimizer %opt lr %lr step %t weight_decay %wd beta1 %b1 beta2 %b2 epsilon %eps momentum %mu dampening %damp nesterov %nest : tensor<4x3xf32>
  // CHECK: cnn.assign "fc.weight.exp_avg", %[[M3]] : tensor<4x3xf32>
  cnn.assign "fc.weight.exp_avg", %m3 : tensor<4x3xf32>
  return
}
