// Verifier errors of the batch statistics, batch norm gradients, running
// statistics and local response norm gradient, one case per split.
// RUN: cnnc-opt %s -split-input-file -verify-diagnostics

func.func @f(%x: tensor<?x3x8xf32>) {
  // expected-error @+1 {{'cnn.channel_mean' op expects input to be [N, C] or [N, C, H, W] (static but for N), found [?, 3, 8]}}
  %0 = cnn.channel_mean %x : (tensor<?x3x8xf32>) -> tensor<3xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>) {
  // expected-error @+1 {{'cnn.channel_mean' op expects the result to be [3] (one value per channel), found [4]}}
  %0 = cnn.channel_mean %x : (tensor<?x3x8x8xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %m: tensor<4xf32>) {
  // expected-error @+1 {{'cnn.channel_variance' op expects mean to be [3] (one value per channel), found [4]}}
  %0 = cnn.channel_variance %x, %m {unbiased = true} : (tensor<?x3x8x8xf32>, tensor<4xf32>) -> tensor<3xf32>
  return
}

// -----

func.func @f(%x: tensor<?x?xf32>) {
  // expected-error @+1 {{'cnn.reduce_to_channels' op expects input to be [N, C] or [N, C, H, W] (static but for N), found [?, ?]}}
  %0 = cnn.reduce_to_channels %x : (tensor<?x?xf32>) -> tensor<3xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>) {
  // expected-error @+1 {{'cnn.reduce_to_channels' op expects the result to be [3] (one value per channel), found [3, 1]}}
  %0 = cnn.reduce_to_channels %x : (tensor<?x3x8x8xf32>) -> tensor<3x1xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %d: tensor<?x3x4x4xf32>, %v: tensor<3xf32>) {
  // expected-error @+1 {{'cnn.batch_norm_grad_input' op expects grad to be [?, 3, 8, 8] (the input's shape), found [?, 3, 4, 4]}}
  %0 = cnn.batch_norm_grad_input %x, %d, %v, %v, %v {epsilon = 1.0e-05 : f64} : (tensor<?x3x8x8xf32>, tensor<?x3x4x4xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<?x3x8x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %v: tensor<3xf32>) {
  // expected-error @+1 {{'cnn.batch_norm_grad_input' op expects the result to be [?, 3, 8, 8] (the input's shape), found [?, 3, 8]}}
  %0 = cnn.batch_norm_grad_input %x, %x, %v, %v, %v {epsilon = 1.0e-05 : f64} : (tensor<?x3x8x8xf32>, tensor<?x3x8x8xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<?x3x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %g: tensor<4xf32>, %v: tensor<3xf32>) {
  // expected-error @+1 {{'cnn.batch_norm_grad_input' op expects gamma to be [3] (one value per channel), found [4]}}
  %0 = cnn.batch_norm_grad_input %x, %x, %g, %v, %v {epsilon = 1.0e-05 : f64} : (tensor<?x3x8x8xf32>, tensor<?x3x8x8xf32>, tensor<4xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<?x3x8x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3xf32>, %v: tensor<3xf32>) {
  // expected-error @+1 {{'cnn.batch_norm_grad_input' op expects epsilon in (0, inf), found 0.000000e+00}}
  %0 = cnn.batch_norm_grad_input %x, %x, %v, %v, %v {epsilon = 0.0 : f64} : (tensor<?x3xf32>, tensor<?x3xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<?x3xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %m: tensor<3xf32>, %v: tensor<2xf32>) {
  // expected-error @+1 {{'cnn.batch_norm_grad_gamma' op expects variance to be [3] (one value per channel), found [2]}}
  %0 = cnn.batch_norm_grad_gamma %x, %x, %m, %v {epsilon = 1.0e-05 : f64} : (tensor<?x3x8x8xf32>, tensor<?x3x8x8xf32>, tensor<3xf32>, tensor<2xf32>) -> tensor<3xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %m: tensor<3xf32>) {
  // expected-error @+1 {{'cnn.batch_norm_grad_gamma' op expects the result to be [3] (one value per channel), found [?, 3, 8, 8]}}
  %0 = cnn.batch_norm_grad_gamma %x, %x, %m, %m {epsilon = 1.0e-05 : f64} : (tensor<?x3x8x8xf32>, tensor<?x3x8x8xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<?x3x8x8xf32>
  return
}

// -----

func.func @f(%r: tensor<3xf32>) {
  // expected-error @+1 {{'cnn.ema' op expects momentum in [0, 1], found 1.500000e+00}}
  %0 = cnn.ema %r, %r {momentum = 1.5 : f64} : tensor<3xf32>
  return
}

// -----

func.func @f(%r: tensor<?xf32>) {
  // expected-error @+1 {{'cnn.ema' op expects the running statistic to have a static positive shape, found [?]}}
  %0 = cnn.ema %r, %r {momentum = 0.1 : f64} : tensor<?xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8x4x4xf32>) {
  // expected-error @+1 {{'cnn.local_response_norm_grad' op local_response_norm size must be in [1, 2147483647 (2^31 - 1)], found 0}}
  %0 = cnn.local_response_norm_grad %x, %x {alpha = 1.0e-04 : f64, beta = 7.5e-01 : f64, k = 2.0 : f64, size = 0 : i64} : tensor<?x8x4x4xf32>
  return
}
