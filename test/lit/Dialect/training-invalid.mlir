// Verifier errors of the losses, the accuracy count, the optimizer updates
// and the optimizer state and its assignment, one case per split.
// RUN: cnnc-opt %s -split-input-file -verify-diagnostics

func.func @f(%z: tensor<?x10x1xf32>, %l: tensor<?xf32>) {
  // expected-error @+1 {{'cnn.softmax_cross_entropy' op expects logits to be [N, K] with static K, found [?, 10, 1]}}
  %0 = cnn.softmax_cross_entropy %z, %l : (tensor<?x10x1xf32>, tensor<?xf32>) -> tensor<1xf32>
  return
}

// -----

func.func @f(%z: tensor<?x10xf32>, %l: tensor<?x1xf32>) {
  // expected-error @+1 {{'cnn.softmax_cross_entropy' op expects labels to be [?] (one class index per row of logits), found [?, 1]}}
  %0 = cnn.softmax_cross_entropy %z, %l : (tensor<?x10xf32>, tensor<?x1xf32>) -> tensor<1xf32>
  return
}

// -----

func.func @f(%z: tensor<4x10xf32>, %l: tensor<5xf32>) {
  // expected-error @+1 {{'cnn.softmax_cross_entropy' op expects labels to be [4] (one class index per row of logits), found [5]}}
  %0 = cnn.softmax_cross_entropy %z, %l : (tensor<4x10xf32>, tensor<5xf32>) -> tensor<1xf32>
  return
}

// -----

func.func @f(%z: tensor<?x10xf32>, %l: tensor<?xf32>) {
  // expected-error @+1 {{'cnn.softmax_cross_entropy' op expects the result to be [1] (one value), found [?]}}
  %0 = cnn.softmax_cross_entropy %z, %l : (tensor<?x10xf32>, tensor<?xf32>) -> tensor<?xf32>
  return
}

// -----

func.func @f(%z: tensor<?x10xf32>, %l: tensor<?xf32>) {
  // expected-error @+1 {{'cnn.softmax_cross_entropy_grad' op expects the result to be [?, 10] (the shape of logits), found [?, 9]}}
  %0 = cnn.softmax_cross_entropy_grad %z, %l : (tensor<?x10xf32>, tensor<?xf32>) -> tensor<?x9xf32>
  return
}

// -----

func.func @f(%y: tensor<?x?xf32>, %l: tensor<?xf32>) {
  // expected-error @+1 {{'cnn.mse_loss' op expects output to be [N, K] with static K, found [?, ?]}}
  %0 = cnn.mse_loss %y, %l : (tensor<?x?xf32>, tensor<?xf32>) -> tensor<1xf32>
  return
}

// -----

func.func @f(%y: tensor<?x10xf32>, %l: tensor<?xf32>) {
  // expected-error @+1 {{'cnn.mse_loss_grad' op expects the result to be [?, 10] (the shape of output), found [1]}}
  %0 = cnn.mse_loss_grad %y, %l : (tensor<?x10xf32>, tensor<?xf32>) -> tensor<1xf32>
  return
}

// -----

func.func @f(%s: tensor<?x10xf32>, %l: tensor<?xf32>) {
  // expected-error @+1 {{'cnn.count_correct' op expects the result to be [1] (one value), found [2]}}
  %0 = cnn.count_correct %s, %l : (tensor<?x10xf32>, tensor<?xf32>) -> tensor<2xf32>
  return
}

// -----

func.func @f(%b: tensor<4x3xf32>) {
  // expected-error @+1 {{'cnn.sgd_momentum' op expects dampening in [0, 1], found 2.000000e+00}}
  %0 = cnn.sgd_momentum %b, %b, %b {dampening = 2.0 : f64, momentum = 0.9 : f64, weight_decay = 0.0 : f64} : tensor<4x3xf32>
  return
}

// -----

func.func @f(%b: tensor<4x3xf32>) {
  // expected-error @+1 {{'cnn.sgd_momentum' op expects momentum in [0, inf), found -9.000000e-01}}
  %0 = cnn.sgd_momentum %b, %b, %b {dampening = 0.0 : f64, momentum = -0.9 : f64, weight_decay = 0.0 : f64} : tensor<4x3xf32>
  return
}

// -----

func.func @f(%b: tensor<1x2x3x4x5xf32>) {
  // expected-error @+1 {{'cnn.sgd_momentum' op expects a parameter of rank 1 to 4 with a static positive shape, found [1, 2, 3, 4, 5]}}
  %0 = cnn.sgd_momentum %b, %b, %b {dampening = 0.0 : f64, momentum = 0.9 : f64, weight_decay = 0.0 : f64} : tensor<1x2x3x4x5xf32>
  return
}

// -----

func.func @f(%p: tensor<4x3xf32>, %lr: tensor<2xf32>) {
  // expected-error @+1 {{'cnn.sgd_step' op expects lr to be [1] (one value), found [2]}}
  %0 = cnn.sgd_step %p, %p, %lr {momentum = 0.0 : f64, nesterov = false, weight_decay = 0.0 : f64} : (tensor<4x3xf32>, tensor<4x3xf32>, tensor<2xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @f(%p: tensor<4x3xf32>, %g: tensor<3x4xf32>, %lr: tensor<1xf32>) {
  // expected-error @+1 {{'cnn.sgd_step' op expects grad to be [4, 3] (the result's shape), found [3, 4]}}
  %0 = cnn.sgd_step %p, %g, %lr {momentum = 0.0 : f64, nesterov = false, weight_decay = 0.0 : f64} : (tensor<4x3xf32>, tensor<3x4xf32>, tensor<1xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @f(%p: tensor<4x3xf32>, %lr: tensor<1xf32>) {
  // expected-error @+1 {{'cnn.sgd_step' op expects a momentum buffer with momentum 9.000000e-01}}
  %0 = cnn.sgd_step %p, %p, %lr {momentum = 0.9 : f64, nesterov = false, weight_decay = 0.0 : f64} : (tensor<4x3xf32>, tensor<4x3xf32>, tensor<1xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @f(%p: tensor<4x3xf32>, %lr: tensor<1xf32>) {
  // expected-error @+1 {{'cnn.sgd_step' op expects no momentum buffer with momentum 0}}
  %0 = cnn.sgd_step %p, %p, %lr, %p {momentum = 0.0 : f64, nesterov = false, weight_decay = 0.0 : f64} : (tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<1xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @f(%p: tensor<4x3xf32>, %lr: tensor<1xf32>) {
  // expected-error @+1 {{'cnn.sgd_step' op expects weight_decay in [0, inf), found -1.000000e+00}}
  %0 = cnn.sgd_step %p, %p, %lr {momentum = 0.0 : f64, nesterov = false, weight_decay = -1.0 : f64} : (tensor<4x3xf32>, tensor<4x3xf32>, tensor<1xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @f(%m: tensor<4x3xf32>) {
  // expected-error @+1 {{'cnn.adam_moment' op expects beta in [0, 1), found 1.000000e+00}}
  %0 = cnn.adam_moment %m, %m, %m {beta = 1.0 : f64, squared = false, weight_decay = 0.0 : f64} : tensor<4x3xf32>
  return
}

// -----

func.func @f(%p: tensor<4x3xf32>, %s: tensor<1xf32>) {
  // expected-error @+1 {{'cnn.adam_step' op expects epsilon in (0, inf), found 0.000000e+00}}
  %0 = cnn.adam_step %p, %p, %p, %s, %s {beta1 = 0.9 : f64, beta2 = 0.999 : f64, epsilon = 0.0 : f64} : (tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @f(%p: tensor<4x3xf32>, %s: tensor<1xf32>) {
  // expected-error @+1 {{'cnn.adam_step' op expects beta2 in [0, 1), found 1.500000e+00}}
  %0 = cnn.adam_step %p, %p, %p, %s, %s {beta1 = 0.9 : f64, beta2 = 1.5 : f64, epsilon = 1.0e-08 : f64} : (tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @f(%p: tensor<4x3xf32>, %s: tensor<1xf32>, %t: tensor<?xf32>) {
  // expected-error @+1 {{'cnn.adam_step' op expects step to be [1] (one value), found [?]}}
  %0 = cnn.adam_step %p, %p, %p, %s, %t {beta1 = 0.9 : f64, beta2 = 0.999 : f64, epsilon = 1.0e-08 : f64} : (tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<1xf32>, tensor<?xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @f(%p: tensor<4x3xf32>, %v: tensor<4x4xf32>, %s: tensor<1xf32>) {
  // expected-error @+1 {{'cnn.adam_step' op expects moment2 to be [4, 3] (the result's shape), found [4, 4]}}
  %0 = cnn.adam_step %p, %p, %v, %s, %s {beta1 = 0.9 : f64, beta2 = 0.999 : f64, epsilon = 1.0e-08 : f64} : (tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x4xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{'cnn.state' op needs a non-empty state name}}
  %0 = cnn.state "" : tensor<4x3xf32>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{'cnn.state' op state 'w.exp_avg' must have a static positive shape}}
  %0 = cnn.state "w.exp_avg" : tensor<?x3xf32>
  return
}

// -----

func.func @f(%v: tensor<3x4xf32>) {
  %w = cnn.param "w" : tensor<4x3xf32>
  // expected-error @+1 {{'cnn.assign' op assigns a value of type 'tensor<3x4xf32>' to 'w' of type 'tensor<4x3xf32>'}}
  cnn.assign "w", %v : tensor<3x4xf32>
  return
}

// -----

func.func @f(%v: tensor<4x3xf32>) {
  %m = cnn.state "w.exp_avg" : tensor<4x4xf32>
  // expected-error @+1 {{'cnn.assign' op assigns a value of type 'tensor<4x3xf32>' to 'w.exp_avg' of type 'tensor<4x4xf32>'}}
  cnn.assign "w.exp_avg", %v : tensor<4x3xf32>
  return
}

// -----

func.func @f(%v: tensor<4x3xf32>) {
  // expected-error @+1 {{'cnn.assign' op needs a non-empty target name}}
  cnn.assign "", %v : tensor<4x3xf32>
  return
}

// -----

func.func @f(%v: tensor<?x3xf32>) {
  // expected-error @+1 {{'cnn.assign' op expects a value with a static positive shape, found 'tensor<?x3xf32>'}}
  cnn.assign "w", %v : tensor<?x3xf32>
  return
}
