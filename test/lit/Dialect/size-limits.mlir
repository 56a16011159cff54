// Sizes past what a kernel can index are verifier errors, computed without
// overflow: window settings and padded inputs up to 2^31 - 1, tensors up to
// 2^31 - 1 elements per batch item (the runtime's limit too).
// RUN: cnnc-opt %s -split-input-file -verify-diagnostics

// Padding of 2^63 - 1 wrapped around to a small output before.
func.func @f(%x: tensor<?x1x8x8xf32>, %w: tensor<2x1x3x3xf32>) {
  // expected-error @+2 {{padding must be at most 2147483647 (2^31 - 1), found 9223372036854775807}}
  // expected-error @+1 {{'cnn.conv2d' op failed to infer returned types}}
  %y = cnn.conv2d %x, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 9223372036854775807, 9223372036854775807, 9223372036854775807, 9223372036854775807>, stride = array<i64: 1, 1>} : (tensor<?x1x8x8xf32>, tensor<2x1x3x3xf32>) -> tensor<?x2x4x4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x1x8x8xf32>, %w: tensor<2x1x3x3xf32>) {
  // expected-error @+2 {{the padded input width 4000000008 (input 8 + padding 2000000000 + 2000000000) must be at most 2147483647 (2^31 - 1)}}
  // expected-error @+1 {{'cnn.conv2d' op failed to infer returned types}}
  %y = cnn.conv2d %x, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 2000000000, 0, 2000000000>, stride = array<i64: 1, 1>} : (tensor<?x1x8x8xf32>, tensor<2x1x3x3xf32>) -> tensor<?x2x6x4000000006xf32>
  return
}

// -----

func.func @f(%x: tensor<?x1x8x8xf32>, %w: tensor<2x1x3x3xf32>) {
  // expected-error @+2 {{the dilated kernel height (kernel 3, dilation 2000000000) must be at most 2147483647 (2^31 - 1), found 4000000001}}
  // expected-error @+1 {{'cnn.conv2d' op failed to infer returned types}}
  %y = cnn.conv2d %x, %w {dilation = array<i64: 2000000000, 1>, groups = 1 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x1x8x8xf32>, tensor<2x1x3x3xf32>) -> tensor<?x2x1x6xf32>
  return
}

// -----

func.func @f(%x: tensor<?x64x64x64xf32>, %w: tensor<1000000x64x3x3xf32>) {
  // expected-error @+2 {{conv2d output [?, 1000000, 62, 62] has 3844000000 elements per batch item, more than the 2147483647 (2^31 - 1) a buffer can hold}}
  // expected-error @+1 {{'cnn.conv2d' op failed to infer returned types}}
  %y = cnn.conv2d %x, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x64x64x64xf32>, tensor<1000000x64x3x3xf32>) -> tensor<?x1000000x62x62xf32>
  return
}

// -----

func.func @f(%x: tensor<?x1x2000000000x1xf32>, %w: tensor<1x1x3x1xf32>) {
  // expected-error @+2 {{conv_transpose2d input height 2000000000 upsampled by stride 2 with the kernel's span 3 on each side must be at most 2147483647 (2^31 - 1)}}
  // expected-error @+1 {{'cnn.conv_transpose2d' op failed to infer returned types}}
  %y = cnn.conv_transpose2d %x, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, output_padding = array<i64: 0, 0>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 1>} : (tensor<?x1x2000000000x1xf32>, tensor<1x1x3x1xf32>) -> tensor<?x1x4000000001x1xf32>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{'cnn.param' op parameter 'w' [4611686018427387904, 4] has more than 2^63 - 1 elements, more than the 2147483647 (2^31 - 1) a buffer can hold}}
  %w = cnn.param "w" : tensor<4611686018427387904x4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x4611686018427387904x4xf32>) {
  // expected-error @+2 {{flatten input [?, 3, 4611686018427387904, 4] has more than 2^63 - 1 elements per batch item}}
  // expected-error @+1 {{'cnn.flatten' op failed to infer returned types}}
  %y = cnn.flatten %x : (tensor<?x3x4611686018427387904x4xf32>) -> tensor<?x4xf32>
  return
}
