// Verifier and shape-inference errors of the sequence and pooling-variant ops.
// RUN: cnnc-opt %s -split-input-file -verify-diagnostics

func.func @f(%x: tensor<?x3x1x20xf32>, %w: tensor<50x8xf32>) {
  // expected-error @+2 {{embedding input must be token ids [N, L] with static L, found [?, 3, 1, 20]}}
  // expected-error @+1 {{'cnn.embedding' op failed to infer returned types}}
  %y = cnn.embedding %x, %w : (tensor<?x3x1x20xf32>, tensor<50x8xf32>) -> tensor<?x8x1x20xf32>
  return
}

// -----

func.func @f(%ids: tensor<?x20xf32>, %w: tensor<400xf32>) {
  // expected-error @+2 {{embedding weight must be [num_embeddings, embedding_dim], found [400]}}
  // expected-error @+1 {{'cnn.embedding' op failed to infer returned types}}
  %y = cnn.embedding %ids, %w : (tensor<?x20xf32>, tensor<400xf32>) -> tensor<?x8x1x20xf32>
  return
}

// -----

func.func @f(%ids: tensor<?x20xf32>, %w: tensor<50x8xf32>) {
  // expected-error @+2 {{'cnn.embedding' op inferred type(s) 'tensor<?x8x1x20xf32>' are incompatible with return type(s) of operation 'tensor<?x20x8xf32>'}}
  // expected-error @+1 {{'cnn.embedding' op failed to infer returned types}}
  %y = cnn.embedding %ids, %w : (tensor<?x20xf32>, tensor<50x8xf32>) -> tensor<?x20x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x4x1x5xf32>) {
  // expected-error @+2 {{kmax_pool k must be in [1, H*W = 5], found 6}}
  // expected-error @+1 {{'cnn.kmax_pool' op failed to infer returned types}}
  %y = cnn.kmax_pool %x {k = 6 : i64} : (tensor<?x4x1x5xf32>) -> tensor<?x4x1x6xf32>
  return
}

// -----

func.func @f(%x: tensor<?x4x2x5xf32>) {
  // expected-error @+2 {{kmax_pool k must be in [1, H*W = 10], found 0}}
  // expected-error @+1 {{'cnn.kmax_pool' op failed to infer returned types}}
  %y = cnn.kmax_pool %x {k = 0 : i64} : (tensor<?x4x2x5xf32>) -> tensor<?x4x1x0xf32>
  return
}

// -----

func.func @f(%x: tensor<?x20xf32>) {
  // expected-error @+2 {{global_max_pool input must be a 4-D activation [N, C, H, W], found [?, 20]}}
  // expected-error @+1 {{'cnn.global_max_pool' op failed to infer returned types}}
  %y = cnn.global_max_pool %x : (tensor<?x20xf32>) -> tensor<?x20x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x4x4xf32>) {
  // expected-error @+2 {{window of height 5 (kernel 5, dilation 1) is larger than the padded input height 4 (input 4 + padding 0 + 0)}}
  // expected-error @+1 {{'cnn.min_pool2d' op failed to infer returned types}}
  %y = cnn.min_pool2d %x {kernel = array<i64: 5, 5>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x3x4x4xf32>) -> tensor<?x3x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>) {
  // expected-error @+2 {{pooling padding must be smaller than the kernel size (2), found 2}}
  // expected-error @+1 {{'cnn.l2_pool2d' op failed to infer returned types}}
  %y = cnn.l2_pool2d %x {kernel = array<i64: 2, 2>, padding = array<i64: 2, 2, 2, 2>, stride = array<i64: 2, 2>} : (tensor<?x3x8x8xf32>) -> tensor<?x3x6x6xf32>
  return
}

// -----

func.func @f(%w: tensor<4x8x3xf32>) {
  // expected-error @+1 {{'cnn.reshape' op reshape must keep the number of elements, found [4, 8, 3] -> [4, 8, 1, 4]}}
  %v = cnn.reshape %w : (tensor<4x8x3xf32>) -> tensor<4x8x1x4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x6xf32>) {
  // expected-error @+1 {{'cnn.reshape' op reshape must keep the number of elements, found [?, 6] -> [6]}}
  %v = cnn.reshape %x : (tensor<?x6xf32>) -> tensor<6xf32>
  return
}
