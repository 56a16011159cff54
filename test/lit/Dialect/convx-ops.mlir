// Round trip of the less common convolution-family ops (transposed conv,
// connection tables, per-position bias, local response norm) and their
// gradient ops through the printer and parser.
// RUN: cnnc-opt %s | cnnc-opt | FileCheck %s

// CHECK-LABEL: func.func @forward
func.func @forward(%x: tensor<?x16x7x7xf32>) -> tensor<?x3x14x14xf32> {
  %w = cnn.param "up.weight" : tensor<16x4x3x3xf32>
  %b = cnn.param "up.bias" : tensor<8xf32>
  // CHECK: %[[U:.*]] = cnn.conv_transpose2d %{{.*}}, %{{.*}}, %{{.*}} {dilation = array<i64: 1, 1>, groups = 2 : i64, output_padding = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} : (tensor<?x16x7x7xf32>, tensor<16x4x3x3xf32>, tensor<8xf32>) -> tensor<?x8x14x14xf32>
  %u = cnn.conv_transpose2d %x, %w, %b {dilation = array<i64: 1, 1>, groups = 2 : i64, output_padding = array<i64: 1, 1>, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 2, 2>} : (tensor<?x16x7x7xf32>, tensor<16x4x3x3xf32>, tensor<8xf32>) -> tensor<?x8x14x14xf32>
  %wc = cnn.param "c3.weight" : tensor<6x5x5xf32>
  // CHECK: %[[D:.*]] = cnn.scatter_connections %{{.*}} {connections = [array<i64: 0, 1, 2>, array<i64: 7>, array<i64: 3, 5>]} : (tensor<6x5x5xf32>) -> tensor<3x8x5x5xf32>
  %wd = cnn.scatter_connections %wc {connections = [array<i64: 0, 1, 2>, array<i64: 7>, array<i64: 3, 5>]} : (tensor<6x5x5xf32>) -> tensor<3x8x5x5xf32>
  // CHECK: %[[C:.*]] = cnn.conv2d %[[U]], %[[D]] {{.*}} -> tensor<?x3x14x14xf32>
  %c = cnn.conv2d %u, %wd {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 2, 2, 2, 2>, stride = array<i64: 1, 1>} : (tensor<?x8x14x14xf32>, tensor<3x8x5x5xf32>) -> tensor<?x3x14x14xf32>
  %pb = cnn.param "pb.bias" : tensor<3x14x14xf32>
  // CHECK: %[[P:.*]] = cnn.position_bias %[[C]], %{{.*}} : (tensor<?x3x14x14xf32>, tensor<3x14x14xf32>) -> tensor<?x3x14x14xf32>
  %p = cnn.position_bias %c, %pb : (tensor<?x3x14x14xf32>, tensor<3x14x14xf32>) -> tensor<?x3x14x14xf32>
  // CHECK: cnn.local_response_norm %[[P]] {alpha = 1.000000e-04 : f64, beta = 7.500000e-01 : f64, k = 2.000000e+00 : f64, size = 5 : i64} : tensor<?x3x14x14xf32>
  %n = cnn.local_response_norm %p {alpha = 1.0e-04 : f64, beta = 7.5e-01 : f64, k = 2.0 : f64, size = 5 : i64} : tensor<?x3x14x14xf32>
  return %n : tensor<?x3x14x14xf32>
}

// CHECK-LABEL: func.func @gradients
func.func @gradients(%x: tensor<?x3x14x14xf32>, %d: tensor<?x3x14x14xf32>, %dw: tensor<3x8x5x5xf32>) {
  // CHECK: cnn.gather_connections %{{.*}} {connections = [array<i64: 0, 1, 2>, array<i64: 7>, array<i64: 3, 5>]} : (tensor<3x8x5x5xf32>) -> tensor<6x5x5xf32>
  %g = cnn.gather_connections %dw {connections = [array<i64: 0, 1, 2>, array<i64: 7>, array<i64: 3, 5>]} : (tensor<3x8x5x5xf32>) -> tensor<6x5x5xf32>
  // CHECK: cnn.reduce_over_batch %{{.*}} : (tensor<?x3x14x14xf32>) -> tensor<3x14x14xf32>
  %r = cnn.reduce_over_batch %d : (tensor<?x3x14x14xf32>) -> tensor<3x14x14xf32>
  // CHECK: cnn.local_response_norm_grad %{{.*}}, %{{.*}} {alpha = 1.000000e-04 : f64, beta = 7.500000e-01 : f64, k = 2.000000e+00 : f64, size = 5 : i64} : tensor<?x3x14x14xf32>
  %l = cnn.local_response_norm_grad %x, %d {alpha = 1.0e-04 : f64, beta = 7.5e-01 : f64, k = 2.0 : f64, size = 5 : i64} : tensor<?x3x14x14xf32>
  return
}
