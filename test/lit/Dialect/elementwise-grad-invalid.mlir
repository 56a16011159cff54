// Verifier errors of the activation and softmax gradients, the channel
// slice (concat's gradient) and training-mode dropout, one case per split.
// RUN: cnnc-opt %s -split-input-file -verify-diagnostics

func.func @f(%y: tensor<?x8xf32>) {
  // expected-error @+1 {{'cnn.activation_grad' op expects kind relu, sigmoid or tanh, found 'gelu'}}
  %0 = cnn.activation_grad "gelu" %y, %y : tensor<?x8xf32>
  return
}

// -----

func.func @f(%y: tensor<?x8x3xf32>) {
  // expected-error @+1 {{'cnn.activation_grad' op expects the result to be an activation [N, F] or [N, C, H, W] (static but for N), found [?, 8, 3]}}
  %0 = cnn.activation_grad "relu" %y, %y : tensor<?x8x3xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'cnn.leaky_relu_grad' op expects a finite negative_slope, found INF}}
  %0 = cnn.leaky_relu_grad %x, %x {negative_slope = 0x7FF0000000000000 : f64} : tensor<?x8xf32>
  return
}

// -----

func.func @f(%y: tensor<?x3x8x8xf32>) {
  // expected-error @+1 {{'cnn.softmax_grad' op expects [N, F] with static F, found [?, 3, 8, 8]}}
  %0 = cnn.softmax_grad %y, %y : tensor<?x3x8x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8x4x4xf32>) {
  // expected-error @+1 {{'cnn.slice_channels' op expects channels [begin, begin + 3) within the input's 8 channels, found begin = 6}}
  %0 = cnn.slice_channels %x {begin = 6 : i64} : (tensor<?x8x4x4xf32>) -> tensor<?x3x4x4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8x4x4xf32>) {
  // expected-error @+1 {{'cnn.slice_channels' op expects channels [begin, begin + 3) within the input's 8 channels, found begin = -1}}
  %0 = cnn.slice_channels %x {begin = -1 : i64} : (tensor<?x8x4x4xf32>) -> tensor<?x3x4x4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8x4x4xf32>) {
  // expected-error @+1 {{'cnn.slice_channels' op expects the result to have the input's shape [?, 8, 4, 4] but for the channels, found [?, 3, 5, 4]}}
  %0 = cnn.slice_channels %x {begin = 0 : i64} : (tensor<?x8x4x4xf32>) -> tensor<?x3x5x4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8x4xf32>) {
  // expected-error @+1 {{'cnn.slice_channels' op expects input to be an activation [N, F] or [N, C, H, W] (static but for N), found [?, 8, 4]}}
  %0 = cnn.slice_channels %x {begin = 0 : i64} : (tensor<?x8x4xf32>) -> tensor<?x3x4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>, %seed: tensor<1xf32>) {
  // expected-error @+1 {{'cnn.dropout_train' op expects rate in [0, 1), found 1.000000e+00}}
  %0 = cnn.dropout_train %x, %seed {rate = 1.0 : f64, salt = 0 : i64} : (tensor<?x8xf32>, tensor<1xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>, %seed: tensor<2xf32>) {
  // expected-error @+1 {{'cnn.dropout_train' op expects seed to be [1] (one value), found [2]}}
  %0 = cnn.dropout_train %x, %seed {rate = 0.5 : f64, salt = 0 : i64} : (tensor<?x8xf32>, tensor<2xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>, %seed: tensor<1xf32>) {
  // expected-error @+1 {{'cnn.dropout_train' op expects the result to be [?, 8] (the shape of input), found [?, 4]}}
  %0 = cnn.dropout_train %x, %seed {rate = 0.5 : f64, salt = 0 : i64} : (tensor<?x8xf32>, tensor<1xf32>) -> tensor<?x4xf32>
  return
}

// -----

func.func @f(%d: tensor<?x8xf32>, %seed: tensor<1xf32>) {
  // expected-error @+1 {{'cnn.dropout_grad' op expects rate in [0, 1), found -5.000000e-01}}
  %0 = cnn.dropout_grad %d, %seed {rate = -0.5 : f64, salt = 0 : i64} : (tensor<?x8xf32>, tensor<1xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%d: tensor<?x8x2xf32>, %seed: tensor<1xf32>) {
  // expected-error @+1 {{'cnn.dropout_grad' op expects grad to be an activation [N, F] or [N, C, H, W] (static but for N), found [?, 8, 2]}}
  %0 = cnn.dropout_grad %d, %seed {rate = 0.5 : f64, salt = 0 : i64} : (tensor<?x8x2xf32>, tensor<1xf32>) -> tensor<?x8x2xf32>
  return
}
