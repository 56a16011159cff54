// Verifier errors of the gradient ops of convolution, dense, pooling and
// embedding layers, one case per split.
// RUN: cnnc-opt %s -split-input-file -verify-diagnostics

func.func @f(%d: tensor<?x4x6x6xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'cnn.conv2d_grad_input' op stride must have 2 values, found 3}}
  %0 = cnn.conv2d_grad_input %d, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1, 1>} : (tensor<?x4x6x6xf32>, tensor<4x3x3x3xf32>) -> tensor<?x3x8x8xf32>
  return
}

// -----

func.func @f(%d: tensor<?x4x6x6xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'cnn.conv2d_grad_input' op for conv2d(result, weight): conv2d input must be a 4-D activation [N, C, H, W], found [?, 24]}}
  %0 = cnn.conv2d_grad_input %d, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x4x6x6xf32>, tensor<4x3x3x3xf32>) -> tensor<?x24xf32>
  return
}

// -----

func.func @f(%d: tensor<?x4x5x5xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'cnn.conv2d_grad_input' op expects grad to be [?, 4, 6, 6] (the shape of conv2d(result, weight)), found [?, 4, 5, 5]}}
  %0 = cnn.conv2d_grad_input %d, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x4x5x5xf32>, tensor<4x3x3x3xf32>) -> tensor<?x3x8x8xf32>
  return
}

// -----

func.func @f(%d: tensor<2x4x6x6xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'cnn.conv2d_grad_input' op expects grad to be [3, 4, 6, 6] (the shape of conv2d(result, weight)), found [2, 4, 6, 6]}}
  %0 = cnn.conv2d_grad_input %d, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<2x4x6x6xf32>, tensor<4x3x3x3xf32>) -> tensor<3x3x8x8xf32>
  return
}

// -----

func.func @f(%d: tensor<?x4x6x6xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'cnn.conv2d_grad_input' op for conv2d(result, weight): groups = 2 must divide the input channels (3) and the output channels (4)}}
  %0 = cnn.conv2d_grad_input %d, %w {dilation = array<i64: 1, 1>, groups = 2 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x4x6x6xf32>, tensor<4x3x3x3xf32>) -> tensor<?x3x8x8xf32>
  return
}

// -----

func.func @f(%d: tensor<?x4x6x6xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+1 {{'cnn.conv2d_grad_input' op for conv2d(result, weight): stride must be >= 1, found 0}}
  %0 = cnn.conv2d_grad_input %d, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 0, 1>} : (tensor<?x4x6x6xf32>, tensor<4x3x3x3xf32>) -> tensor<?x3x8x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %d: tensor<?x4x6x6xf32>) {
  // expected-error @+1 {{'cnn.conv2d_grad_weight' op for conv2d(input, result): conv2d weight expects 2 input channels per group (weight [4, 2, 3, 3]), found 3 input channels / 1 groups}}
  %0 = cnn.conv2d_grad_weight %x, %d {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x3x8x8xf32>, tensor<?x4x6x6xf32>) -> tensor<4x2x3x3xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %d: tensor<?x4x6x6xf32>) {
  // expected-error @+1 {{'cnn.conv2d_grad_weight' op expects grad to be [?, 4, 3, 3] (the shape of conv2d(input, result)), found [?, 4, 6, 6]}}
  %0 = cnn.conv2d_grad_weight %x, %d {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<?x3x8x8xf32>, tensor<?x4x6x6xf32>) -> tensor<4x3x3x3xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %d: tensor<?x4x6x6xf32>) {
  // expected-error @+1 {{'cnn.conv2d_grad_weight' op padding [top, left, bottom, right] must have 4 values, found 2}}
  %0 = cnn.conv2d_grad_weight %x, %d {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x3x8x8xf32>, tensor<?x4x6x6xf32>) -> tensor<4x3x3x3xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %d: tensor<?x4x6x6xf32>) {
  // expected-error @+1 {{'cnn.conv2d_grad_weight' op expects a conv2d weight with a static positive shape, found [?, 3, 3, 3]}}
  %0 = cnn.conv2d_grad_weight %x, %d {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x3x8x8xf32>, tensor<?x4x6x6xf32>) -> tensor<?x3x3x3xf32>
  return
}

// -----

func.func @f(%d: tensor<?x4xf32>, %w: tensor<4x9xf32>) {
  // expected-error @+1 {{'cnn.dense_grad_input' op for dense(result, weight): dense weight [4, 9] expects 9 input features, found 8}}
  %0 = cnn.dense_grad_input %d, %w : (tensor<?x4xf32>, tensor<4x9xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%d: tensor<?x5xf32>, %w: tensor<4x8xf32>) {
  // expected-error @+1 {{'cnn.dense_grad_input' op expects grad to be [?, 4] (the shape of dense(result, weight)), found [?, 5]}}
  %0 = cnn.dense_grad_input %d, %w : (tensor<?x5xf32>, tensor<4x8xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8x2xf32>, %d: tensor<?x4xf32>) {
  // expected-error @+1 {{'cnn.dense_grad_weight' op for dense(input, result): dense input must be [N, F] with static F (flatten a 4-D activation first), found [?, 8, 2]}}
  %0 = cnn.dense_grad_weight %x, %d : (tensor<?x8x2xf32>, tensor<?x4xf32>) -> tensor<4x16xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>, %d: tensor<?x4xf32>) {
  // expected-error @+1 {{'cnn.dense_grad_weight' op expects grad to be [?, 5] (the shape of dense(input, result)), found [?, 4]}}
  %0 = cnn.dense_grad_weight %x, %d : (tensor<?x8xf32>, tensor<?x4xf32>) -> tensor<5x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %d: tensor<?x3x4x4xf32>) {
  // expected-error @+1 {{'cnn.max_pool2d_grad' op kernel must have 2 values, found 1}}
  %0 = cnn.max_pool2d_grad %x, %d {kernel = array<i64: 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<?x3x8x8xf32>, tensor<?x3x4x4xf32>) -> tensor<?x3x8x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %d: tensor<?x3x3x3xf32>) {
  // expected-error @+1 {{'cnn.max_pool2d_grad' op expects grad to be [?, 3, 4, 4] (the shape of max_pool2d(input)), found [?, 3, 3, 3]}}
  %0 = cnn.max_pool2d_grad %x, %d {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<?x3x8x8xf32>, tensor<?x3x3x3xf32>) -> tensor<?x3x8x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x7x7xf32>, %d: tensor<?x3x5x5xf32>) {
  // expected-error @+1 {{'cnn.max_pool2d_grad' op expects grad to be [?, 3, 3, 3] (the shape of max_pool2d(input), or [?, 3, 4, 4] in ceil mode), found [?, 3, 5, 5]}}
  %0 = cnn.max_pool2d_grad %x, %d {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<?x3x7x7xf32>, tensor<?x3x5x5xf32>) -> tensor<?x3x7x7xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %d: tensor<?x3x4x4xf32>) {
  // expected-error @+1 {{'cnn.max_pool2d_grad' op expects the result to be [?, 3, 8, 8] (the input's shape), found [?, 3, 8, 4]}}
  %0 = cnn.max_pool2d_grad %x, %d {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<?x3x8x8xf32>, tensor<?x3x4x4xf32>) -> tensor<?x3x8x4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>, %d: tensor<?x4xf32>) {
  // expected-error @+1 {{'cnn.min_pool2d_grad' op for min_pool2d(input): pooling input must be a 4-D activation [N, C, H, W], found [?, 8]}}
  %0 = cnn.min_pool2d_grad %x, %d {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<?x8xf32>, tensor<?x4xf32>) -> tensor<?x8xf32>
  return
}

// -----

func.func @f(%d: tensor<?x3x4x4xf32>) {
  // expected-error @+1 {{'cnn.avg_pool2d_grad' op for avg_pool2d(result): pooling padding must be smaller than the kernel size (2), found 2}}
  %0 = cnn.avg_pool2d_grad %d {count_include_pad = true, kernel = array<i64: 2, 2>, padding = array<i64: 2, 2, 2, 2>, stride = array<i64: 2, 2>} : (tensor<?x3x4x4xf32>) -> tensor<?x3x8x8xf32>
  return
}

// -----

func.func @f(%d: tensor<?x3x4x4xf32>) {
  // expected-error @+1 {{'cnn.avg_pool2d_grad' op expects grad to be [?, 4, 4, 4] (the shape of avg_pool2d(result)), found [?, 3, 4, 4]}}
  %0 = cnn.avg_pool2d_grad %d {count_include_pad = true, kernel = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<?x3x4x4xf32>) -> tensor<?x4x8x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x4x1x18xf32>, %p: tensor<?x4x1x8xf32>, %d: tensor<?x4x1x8xf32>) {
  // expected-error @+1 {{'cnn.l2_pool2d_grad' op expects output to be [?, 4, 1, 9] (the shape of l2_pool2d(input)), found [?, 4, 1, 8]}}
  %0 = cnn.l2_pool2d_grad %x, %p, %d {kernel = array<i64: 1, 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 2>} : (tensor<?x4x1x18xf32>, tensor<?x4x1x8xf32>, tensor<?x4x1x8xf32>) -> tensor<?x4x1x18xf32>
  return
}

// -----

func.func @f(%x: tensor<?x4x1x18xf32>, %p: tensor<?x4x1x9xf32>, %d: tensor<?x4x1x8xf32>) {
  // expected-error @+1 {{'cnn.l2_pool2d_grad' op expects grad to be [?, 4, 1, 9] (the shape of output), found [?, 4, 1, 8]}}
  %0 = cnn.l2_pool2d_grad %x, %p, %d {kernel = array<i64: 1, 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 2>} : (tensor<?x4x1x18xf32>, tensor<?x4x1x9xf32>, tensor<?x4x1x8xf32>) -> tensor<?x4x1x18xf32>
  return
}

// -----

func.func @f(%d: tensor<?x3x1x1xf32>) {
  // expected-error @+1 {{'cnn.global_avg_pool_grad' op the result must be a 4-D activation [N, C, H, W], found [?, 3]}}
  %0 = cnn.global_avg_pool_grad %d : (tensor<?x3x1x1xf32>) -> tensor<?x3xf32>
  return
}

// -----

func.func @f(%d: tensor<?x3x2x2xf32>) {
  // expected-error @+1 {{'cnn.global_avg_pool_grad' op expects grad to be [?, 3, 1, 1] (the result pooled over H and W), found [?, 3, 2, 2]}}
  %0 = cnn.global_avg_pool_grad %d : (tensor<?x3x2x2xf32>) -> tensor<?x3x7x7xf32>
  return
}

// -----

func.func @f(%x: tensor<?x4x1x18xf32>, %d: tensor<?x5x1x1xf32>) {
  // expected-error @+1 {{'cnn.global_max_pool_grad' op expects grad to be [?, 4, 1, 1] (the input pooled over H and W), found [?, 5, 1, 1]}}
  %0 = cnn.global_max_pool_grad %x, %d : (tensor<?x4x1x18xf32>, tensor<?x5x1x1xf32>) -> tensor<?x4x1x18xf32>
  return
}

// -----

func.func @f(%x: tensor<?x4x1x18xf32>, %d: tensor<?x4x1x1xf32>) {
  // expected-error @+1 {{'cnn.global_max_pool_grad' op expects the result to be [?, 4, 1, 18] (the input's shape), found [?, 4, 18, 1]}}
  %0 = cnn.global_max_pool_grad %x, %d : (tensor<?x4x1x18xf32>, tensor<?x4x1x1xf32>) -> tensor<?x4x18x1xf32>
  return
}

// -----

func.func @f(%x: tensor<?x4x1x18xf32>, %d: tensor<?x4x1x20xf32>) {
  // expected-error @+1 {{'cnn.kmax_pool_grad' op kmax_pool k must be in [1, H*W = 18], found 20}}
  %0 = cnn.kmax_pool_grad %x, %d {k = 20 : i64} : (tensor<?x4x1x18xf32>, tensor<?x4x1x20xf32>) -> tensor<?x4x1x18xf32>
  return
}

// -----

func.func @f(%x: tensor<?x4x1x18xf32>, %d: tensor<?x4x1x2xf32>) {
  // expected-error @+1 {{'cnn.kmax_pool_grad' op expects grad to be [?, 4, 1, 3] (the shape of kmax_pool(input)), found [?, 4, 1, 2]}}
  %0 = cnn.kmax_pool_grad %x, %d {k = 3 : i64} : (tensor<?x4x1x18xf32>, tensor<?x4x1x2xf32>) -> tensor<?x4x1x18xf32>
  return
}

// -----

func.func @f(%ids: tensor<?x20x1xf32>, %d: tensor<?x8x1x20xf32>) {
  // expected-error @+1 {{'cnn.embedding_grad_weight' op for embedding(ids, result): embedding input must be token ids [N, L] with static L, found [?, 20, 1]}}
  %0 = cnn.embedding_grad_weight %ids, %d : (tensor<?x20x1xf32>, tensor<?x8x1x20xf32>) -> tensor<50x8xf32>
  return
}

// -----

func.func @f(%ids: tensor<?x20xf32>, %d: tensor<?x8x1x19xf32>) {
  // expected-error @+1 {{'cnn.embedding_grad_weight' op expects grad to be [?, 8, 1, 20] (the shape of embedding(ids, result)), found [?, 8, 1, 19]}}
  %0 = cnn.embedding_grad_weight %ids, %d : (tensor<?x20xf32>, tensor<?x8x1x19xf32>) -> tensor<50x8xf32>
  return
}
