// Verifier and shape errors of conv_transpose2d, scatter/gather_connections,
// position_bias, reduce_over_batch and local_response_norm.
// RUN: cnnc-opt %s -split-input-file -verify-diagnostics

func.func @f(%x: tensor<?x4x7x7xf32>, %w: tensor<3x2x3x3xf32>) {
  // expected-error @+2 {{conv_transpose2d weight [3, 2, 3, 3] expects 3 input channels, found 4}}
  // expected-error @+1 {{'cnn.conv_transpose2d' op failed to infer returned types}}
  %y = cnn.conv_transpose2d %x, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, output_padding = array<i64: 0, 0>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x4x7x7xf32>, tensor<3x2x3x3xf32>) -> tensor<?x2x9x9xf32>
  return
}

// -----

func.func @f(%x: tensor<?x4x7x7xf32>, %w: tensor<4x2x3x3xf32>) {
  // expected-error @+2 {{output_padding must be >= 0 and smaller than the stride (2), found 2}}
  // expected-error @+1 {{'cnn.conv_transpose2d' op failed to infer returned types}}
  %y = cnn.conv_transpose2d %x, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, output_padding = array<i64: 2, 0>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<?x4x7x7xf32>, tensor<4x2x3x3xf32>) -> tensor<?x2x17x15xf32>
  return
}

// -----

func.func @f(%x: tensor<?x4x2x2xf32>, %w: tensor<4x2x3x3xf32>) {
  // expected-error @+2 {{conv_transpose2d output height would be 0: the padding (2 + 2) removes more than the upsampled input provides}}
  // expected-error @+1 {{'cnn.conv_transpose2d' op failed to infer returned types}}
  %y = cnn.conv_transpose2d %x, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, output_padding = array<i64: 0, 0>, padding = array<i64: 2, 0, 2, 0>, stride = array<i64: 1, 1>} : (tensor<?x4x2x2xf32>, tensor<4x2x3x3xf32>) -> tensor<?x2x1x4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x4x7x7xf32>, %w: tensor<4x2x3x3xf32>, %b: tensor<3xf32>) {
  // expected-error @+2 {{conv_transpose2d bias must be [2], found [3]}}
  // expected-error @+1 {{'cnn.conv_transpose2d' op failed to infer returned types}}
  %y = cnn.conv_transpose2d %x, %w, %b {dilation = array<i64: 1, 1>, groups = 1 : i64, output_padding = array<i64: 0, 0>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x4x7x7xf32>, tensor<4x2x3x3xf32>, tensor<3xf32>) -> tensor<?x2x9x9xf32>
  return
}

// -----

func.func @f(%w: tensor<5x3x3xf32>) {
  // expected-error @+1 {{'cnn.scatter_connections' op the table has 4 connections but the compact weight [5, 3, 3] holds 5 kernels}}
  %d = cnn.scatter_connections %w {connections = [array<i64: 0, 1>, array<i64: 1, 2>]} : (tensor<5x3x3xf32>) -> tensor<2x3x3x3xf32>
  return
}

// -----

func.func @f(%w: tensor<4x3x3xf32>) {
  // expected-error @+1 {{'cnn.scatter_connections' op output channel 1 reads input channel 3, but the input has channels 0..2}}
  %d = cnn.scatter_connections %w {connections = [array<i64: 0, 1>, array<i64: 1, 3>]} : (tensor<4x3x3xf32>) -> tensor<2x3x3x3xf32>
  return
}

// -----

func.func @f(%w: tensor<4x3x3xf32>) {
  // expected-error @+1 {{'cnn.scatter_connections' op output channel 0 lists input channel 1 twice}}
  %d = cnn.scatter_connections %w {connections = [array<i64: 1, 1>, array<i64: 1, 2>]} : (tensor<4x3x3xf32>) -> tensor<2x3x3x3xf32>
  return
}

// -----

func.func @f(%w: tensor<2x3x3xf32>) {
  // expected-error @+1 {{'cnn.scatter_connections' op output channel 1 reads no input channel}}
  %d = cnn.scatter_connections %w {connections = [array<i64: 1, 2>, array<i64>]} : (tensor<2x3x3xf32>) -> tensor<2x3x3x3xf32>
  return
}

// -----

func.func @f(%w: tensor<2x3x3xf32>) {
  // expected-error @+1 {{'cnn.scatter_connections' op the connection table must have one list per output channel (3), found 1}}
  %d = cnn.scatter_connections %w {connections = [array<i64: 1, 2>]} : (tensor<2x3x3xf32>) -> tensor<3x3x3x3xf32>
  return
}

// -----

func.func @f(%w: tensor<2x3x3xf32>) {
  // expected-error @+1 {{'cnn.scatter_connections' op expects a compact weight [K, kh, kw] and a dense weight [O, C, kh, kw] with the same kernel, found [2, 3, 3] and [1, 3, 5, 5]}}
  %d = cnn.scatter_connections %w {connections = [array<i64: 1, 2>]} : (tensor<2x3x3xf32>) -> tensor<1x3x5x5xf32>
  return
}

// -----

func.func @f(%g: tensor<2x3x3x3xf32>) {
  // expected-error @+1 {{'cnn.gather_connections' op the table has 3 connections but the compact weight [4, 3, 3] holds 4 kernels}}
  %c = cnn.gather_connections %g {connections = [array<i64: 0, 1>, array<i64: 2>]} : (tensor<2x3x3x3xf32>) -> tensor<4x3x3xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x5x5xf32>, %b: tensor<3x5x4xf32>) {
  // expected-error @+2 {{position_bias bias must be [C, H, W] = [3, 5, 5], found [3, 5, 4]}}
  // expected-error @+1 {{'cnn.position_bias' op failed to infer returned types}}
  %y = cnn.position_bias %x, %b : (tensor<?x3x5x5xf32>, tensor<3x5x4xf32>) -> tensor<?x3x5x5xf32>
  return
}

// -----

func.func @f(%x: tensor<?x12xf32>, %b: tensor<12xf32>) {
  // expected-error @+2 {{position_bias input must be a 4-D activation [N, C, H, W], found [?, 12]}}
  // expected-error @+1 {{'cnn.position_bias' op failed to infer returned types}}
  %y = cnn.position_bias %x, %b : (tensor<?x12xf32>, tensor<12xf32>) -> tensor<?x12xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x5x5xf32>) {
  // expected-error @+1 {{'cnn.reduce_over_batch' op expects the result to be the input's shape without the batch, found [?, 3, 5, 5] -> [3, 5]}}
  %y = cnn.reduce_over_batch %x : (tensor<?x3x5x5xf32>) -> tensor<3x5xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x5x5xf32>) {
  // expected-error @+1 {{'cnn.local_response_norm' op local_response_norm size must be in [1, 2147483647 (2^31 - 1)], found 0}}
  %y = cnn.local_response_norm %x {alpha = 1.0e-04 : f64, beta = 7.5e-01 : f64, k = 1.0 : f64, size = 0 : i64} : tensor<?x3x5x5xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x5x5xf32>) {
  // expected-error @+1 {{'cnn.local_response_norm' op local_response_norm k must be positive, found 0}}
  %y = cnn.local_response_norm %x {alpha = 1.0e-04 : f64, beta = 7.5e-01 : f64, k = 0.0 : f64, size = 3 : i64} : tensor<?x3x5x5xf32>
  return
}

// -----

func.func @f(%x: tensor<?x48xf32>) {
  // expected-error @+1 {{'cnn.local_response_norm' op local_response_norm input must be a 4-D activation [N, C, H, W], found [?, 48]}}
  %y = cnn.local_response_norm %x {alpha = 1.0e-04 : f64, beta = 7.5e-01 : f64, k = 1.0 : f64, size = 3 : i64} : tensor<?x48xf32>
  return
}
