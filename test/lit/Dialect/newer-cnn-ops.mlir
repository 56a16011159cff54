// The arithmetic ops with a broadcast rhs (a squeeze-and-excitation scale, a
// per-channel parameter), affine, clip, prelu, upsample, pad, channel_shuffle,
// channel slices, transpose and dilated max pooling: round trip (a broadcast
// binary op prints both types), the gradients of the train step (a broadcast
// operand's δ summed back to its shape, a slice's δ padded back, a pad's
// cropped, the shuffle undone with C/g groups), and the verifiers.
// RUN: cnnc-opt %s --split-input-file --verify-diagnostics | FileCheck %s --check-prefix=ROUND
// RUN: cnnc-opt %s --split-input-file --verify-diagnostics --cnnc-autodiff | FileCheck %s --check-prefix=GRAD

// ROUND-LABEL: func.func @net
// ROUND: cnn.prelu %{{.*}}, %{{.*}} : tensor<?x4x4x4xf32>, tensor<4xf32>
// ROUND: cnn.mul %{{.*}}, %{{.*}} : tensor<?x4x4x4xf32>, tensor<?x4x1x1xf32>
// ROUND: cnn.sub %{{.*}}, %{{.*}} : tensor<?x4x4x4xf32>, tensor<4x1x1xf32>
// ROUND: cnn.div %{{.*}}, %{{.*}} : tensor<?x4x4x4xf32>
// ROUND: cnn.affine %{{.*}} {scale = -5.000000e-01 : f64, shift = 1.000000e+00 : f64} : tensor<?x4x4x4xf32>
// ROUND: cnn.channel_shuffle %{{.*}} {groups = 2 : i64} : tensor<?x4x4x4xf32>
// ROUND: cnn.upsample %{{.*}} {mode = "bilinear"} : (tensor<?x4x4x4xf32>) -> tensor<?x4x8x12xf32>
// ROUND: cnn.slice_channels %{{.*}} {begin = 1 : i64} : (tensor<?x4x8x12xf32>) -> tensor<?x2x8x12xf32>
// GRAD-LABEL: func.func @net_train
// GRAD: cnn.pad_channels %{{.*}} {begin = 1 : i64} : (tensor<?x2x8x12xf32>) -> tensor<?x4x8x12xf32>
// GRAD: cnn.upsample_grad %{{.*}} {mode = "bilinear"} : (tensor<?x4x8x12xf32>) -> tensor<?x4x4x4xf32>
// GRAD: cnn.channel_shuffle %{{.*}} {groups = 2 : i64} : tensor<?x4x4x4xf32>
// GRAD: cnn.affine %{{.*}} {scale = -5.000000e-01 : f64} : tensor<?x4x4x4xf32>
// GRAD-DAG: cnn.div %{{.*}}, %{{.*}} : tensor<?x4x4x4xf32>
// GRAD-DAG: %[[S:.*]] = cnn.sum_to_shape %{{.*}} : (tensor<?x4x4x4xf32>) -> tensor<4x1x1xf32>
// GRAD-DAG: cnn.affine %[[S]] {scale = -1.000000e+00 : f64} : tensor<4x1x1xf32>
// GRAD-DAG: cnn.sum_to_shape %{{.*}} : (tensor<?x4x4x4xf32>) -> tensor<?x4x1x1xf32>
// GRAD-DAG: cnn.prelu_grad_input %{{.*}}, %{{.*}}, %{{.*}} : tensor<?x4x4x4xf32>, tensor<4xf32>
// GRAD-DAG: %[[PS:.*]] = cnn.prelu_grad_slope %{{.*}}, %{{.*}} : tensor<?x4x4x4xf32>
// GRAD-DAG: cnn.reduce_to_channels %[[PS]] : (tensor<?x4x4x4xf32>) -> tensor<4xf32>
func.func @net(%x: tensor<?x4x4x4xf32>) -> tensor<?x3xf32> {
  %a = cnn.param "p.weight" : tensor<4xf32>
  %p = cnn.prelu %x, %a : tensor<?x4x4x4xf32>, tensor<4xf32>
  %s = cnn.global_avg_pool %p : (tensor<?x4x4x4xf32>) -> tensor<?x4x1x1xf32>
  %m = cnn.mul %p, %s : tensor<?x4x4x4xf32>, tensor<?x4x1x1xf32>
  %mean = cnn.param "mean" : tensor<4x1x1xf32>
  %d = cnn.sub %m, %mean : tensor<?x4x4x4xf32>, tensor<4x1x1xf32>
  %q = cnn.div %d, %m : tensor<?x4x4x4xf32>
  %f = cnn.affine %q {scale = -0.5 : f64, shift = 1.0 : f64} : tensor<?x4x4x4xf32>
  %sh = cnn.channel_shuffle %f {groups = 2 : i64} : tensor<?x4x4x4xf32>
  %u = cnn.upsample %sh {mode = "bilinear"} : (tensor<?x4x4x4xf32>) -> tensor<?x4x8x12xf32>
  %c = cnn.slice_channels %u {begin = 1 : i64} : (tensor<?x4x8x12xf32>) -> tensor<?x2x8x12xf32>
  %flat = cnn.flatten %c : (tensor<?x2x8x12xf32>) -> tensor<?x192xf32>
  %w = cnn.param "fc.weight" : tensor<3x192xf32>
  %y = cnn.dense %flat, %w : (tensor<?x192xf32>, tensor<3x192xf32>) -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}

// -----

func.func @bad_broadcast(%a: tensor<?x4x4x4xf32>, %b: tensor<?x4x1x2xf32>) {
  // expected-error @+1 {{'cnn.mul' op expects rhs to broadcast to lhs: [?, 4, 1, 2] does not broadcast to [?, 4, 4, 4]}}
  %y = cnn.mul %a, %b : tensor<?x4x4x4xf32>, tensor<?x4x1x2xf32>
  return
}

// -----

func.func @bad_slope(%x: tensor<?x4x4x4xf32>, %a: tensor<3xf32>) {
  // expected-error @+1 {{'cnn.prelu' op expects slope [4] or [1], found [3]}}
  %y = cnn.prelu %x, %a : tensor<?x4x4x4xf32>, tensor<3xf32>
  return
}

// -----

func.func @bad_groups(%x: tensor<?x6x4x4xf32>) {
  // expected-error @+1 {{'cnn.channel_shuffle' op expects [N, C, H, W] with groups dividing C, found groups = 4 and [?, 6, 4, 4]}}
  %y = cnn.channel_shuffle %x {groups = 4 : i64} : tensor<?x6x4x4xf32>
  return
}

// -----

func.func @bad_mode(%x: tensor<?x4x4x4xf32>) {
  // expected-error @+1 {{'cnn.upsample' op expects mode 'nearest' or 'bilinear', found 'bicubic'}}
  %y = cnn.upsample %x {mode = "bicubic"} : (tensor<?x4x4x4xf32>) -> tensor<?x4x8x8xf32>
  return
}

// -----

func.func @downsample(%x: tensor<?x4x4x4xf32>) {
  // expected-error @+1 {{'cnn.upsample' op upsampling [?, 4, 4, 4] must give [N, C, H', W'] with H' >= 4 and W' >= 4, found [?, 4, 2, 2]}}
  %y = cnn.upsample %x {mode = "nearest"} : (tensor<?x4x4x4xf32>) -> tensor<?x4x2x2xf32>
  return
}

// -----

func.func @bad_affine(%x: tensor<?x4xf32>) {
  // expected-error @+1 {{'cnn.affine' op scale and shift must be finite}}
  %y = cnn.affine %x {scale = 0x7FF0000000000000 : f64} : tensor<?x4xf32>
  return
}

// -----

// A dense weight stored [in, out] (ONNX MatMul's B): transposed for dense,
// and δ transposed back in the train step.
// ROUND-LABEL: func.func @matmul
// ROUND: cnn.transpose %{{.*}} : (tensor<8x3xf32>) -> tensor<3x8xf32>
// GRAD-LABEL: func.func @matmul_train
// GRAD: %[[DW:.*]] = cnn.dense_grad_weight
// GRAD: cnn.transpose %[[DW]] : (tensor<3x8xf32>) -> tensor<8x3xf32>
func.func @matmul(%x: tensor<?x8xf32>) -> tensor<?x3xf32> {
  %b = cnn.param "proj" : tensor<8x3xf32>
  %w = cnn.transpose %b : (tensor<8x3xf32>) -> tensor<3x8xf32>
  %y = cnn.dense %x, %w : (tensor<?x8xf32>, tensor<3x8xf32>) -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}

// -----

func.func @bad_transpose(%b: tensor<8x3xf32>) {
  // expected-error @+1 {{'cnn.transpose' op expects a matrix [R, C] and its transpose [C, R], found [8, 3] -> [8, 3]}}
  %w = cnn.transpose %b : (tensor<8x3xf32>) -> tensor<8x3xf32>
  return
}

// -----

// clip: round trip, its gradient from the input, and its bounds.
// ROUND-LABEL: func.func @clip
// ROUND: cnn.clip %{{.*}} {max = 1.000000e+00 : f64, min = -1.000000e+00 : f64} : tensor<?x8xf32>
// GRAD-LABEL: func.func @clip_train
// GRAD: cnn.clip_grad %{{.*}}, %{{.*}} {max = 1.000000e+00 : f64, min = -1.000000e+00 : f64} : tensor<?x8xf32>
func.func @clip(%x: tensor<?x4xf32>) -> tensor<?x3xf32> {
  %w = cnn.param "fc.weight" : tensor<8x4xf32>
  %h = cnn.dense %x, %w : (tensor<?x4xf32>, tensor<8x4xf32>) -> tensor<?x8xf32>
  %c = cnn.clip %h {min = -1.0 : f64, max = 1.0 : f64} : tensor<?x8xf32>
  %w2 = cnn.param "fc2.weight" : tensor<3x8xf32>
  %y = cnn.dense %c, %w2 : (tensor<?x8xf32>, tensor<3x8xf32>) -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}

// -----

func.func @bad_clip(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'cnn.clip' op expects min < max, found min = 2.000000e+00 and max = 1.000000e+00}}
  %c = cnn.clip %x {min = 2.0 : f64, max = 1.0 : f64} : tensor<?x8xf32>
  return
}

// -----

// pad: round trip, and its gradient the inner window of δ (crop).
// ROUND-LABEL: func.func @pad
// ROUND: cnn.pad %{{.*}} {padding = array<i64: 1, 0, 0, 2>, value = 5.000000e-01 : f64} : (tensor<?x2x3x3xf32>) -> tensor<?x2x4x5xf32>
// GRAD-LABEL: func.func @pad_train
// GRAD: cnn.crop %{{.*}} {padding = array<i64: 1, 0, 0, 2>} : (tensor<?x2x4x5xf32>) -> tensor<?x2x3x3xf32>
func.func @pad(%x: tensor<?x2x3x3xf32>) -> tensor<?x3xf32> {
  %a = cnn.param "p.weight" : tensor<2xf32>
  %r = cnn.prelu %x, %a : tensor<?x2x3x3xf32>, tensor<2xf32>
  %p = cnn.pad %r {padding = array<i64: 1, 0, 0, 2>, value = 0.5 : f64} : (tensor<?x2x3x3xf32>) -> tensor<?x2x4x5xf32>
  %f = cnn.flatten %p : (tensor<?x2x4x5xf32>) -> tensor<?x40xf32>
  %w = cnn.param "fc.weight" : tensor<3x40xf32>
  %y = cnn.dense %f, %w : (tensor<?x40xf32>, tensor<3x40xf32>) -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}

// -----

func.func @bad_pad(%x: tensor<?x2x3x3xf32>) {
  // expected-error @+1 {{'cnn.pad' op expects [?, 2, 3, 3] padded by [1, 0, 0, 2] to be [?, 2, 4, 5], found [?, 2, 4, 4]}}
  %p = cnn.pad %x {padding = array<i64: 1, 0, 0, 2>} : (tensor<?x2x3x3xf32>) -> tensor<?x2x4x4xf32>
  return
}

// -----

// A dilated max pool: its taps `dilation` apart, the output size that way,
// the gradient with the same dilation.
// ROUND-LABEL: func.func @dilated_pool
// ROUND: cnn.max_pool2d %{{.*}} {dilation = array<i64: 2, 2>, kernel = array<i64: 3, 3>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x2x7x7xf32>) -> tensor<?x2x3x3xf32>
// GRAD-LABEL: func.func @dilated_pool_train
// GRAD: cnn.max_pool2d_grad %{{.*}}, %{{.*}} {dilation = array<i64: 2, 2>, kernel = array<i64: 3, 3>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>}
func.func @dilated_pool(%x: tensor<?x2x7x7xf32>) -> tensor<?x3xf32> {
  %a = cnn.param "p.weight" : tensor<2xf32>
  %r = cnn.prelu %x, %a : tensor<?x2x7x7xf32>, tensor<2xf32>
  %p = cnn.max_pool2d %r {kernel = array<i64: 3, 3>, stride = array<i64: 1, 1>, padding = array<i64: 0, 0, 0, 0>, dilation = array<i64: 2, 2>} : (tensor<?x2x7x7xf32>) -> tensor<?x2x3x3xf32>
  %f = cnn.flatten %p : (tensor<?x2x3x3xf32>) -> tensor<?x18xf32>
  %w = cnn.param "fc.weight" : tensor<3x18xf32>
  %y = cnn.dense %f, %w : (tensor<?x18xf32>, tensor<3x18xf32>) -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}
