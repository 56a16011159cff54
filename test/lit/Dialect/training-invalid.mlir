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

func.func @f(%b: tensor<1x2x3x4x5xf32>, %s: tensor<1xf32>) {
  // expected-error @+1 {{'cnn.sgd_update' op expects a parameter of rank 1 to 4 with a static positive shape, found [1, 2, 3, 4, 5]}}
  %0 = cnn.sgd_update %b, %b lr %s weight_decay %s : tensor<1x2x3x4x5xf32>
  return
}

// -----

func.func @f(%p: tensor<4x3xf32>, %g: tensor<3x4xf32>, %s: tensor<1xf32>) {
  // expected-error @+1 {{'cnn.sgd_update' op failed to verify that all of {param, grad, new_param} have same type}}
  %0 = "cnn.sgd_update"(%p, %g, %s, %s) : (tensor<4x3xf32>, tensor<3x4xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @f(%p: tensor<4x3xf32>, %s: tensor<1xf32>, %lr: tensor<2xf32>) {
  // expected-error @+1 {{'cnn.sgd_momentum_update' op operand #3 must be a hyper-parameter scalar tensor<1xf32>, but got 'tensor<2xf32>'}}
  %0:2 = "cnn.sgd_momentum_update"(%p, %p, %p, %lr, %s, %s, %s, %s) : (tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<2xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> (tensor<4x3xf32>, tensor<4x3xf32>)
  return
}

// -----

func.func @f(%p: tensor<4x3xf32>, %v: tensor<4x4xf32>, %s: tensor<1xf32>) {
  // expected-error @+1 {{'cnn.adam_update' op failed to verify that all of {param, grad, exp_avg, exp_avg_sq, new_param, new_exp_avg, new_exp_avg_sq} have same type}}
  %0:3 = "cnn.adam_update"(%p, %p, %p, %v, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) : (tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x4xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> (tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>)
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
