// Verifier errors of label smoothing and gradient clipping: the smoothing
// operand, the squared norm's input and result, the clipping coefficient's
// operands, the scaled gradient and its coefficient.
// RUN: cnnc-opt %s -split-input-file -verify-diagnostics

func.func @f(%z: tensor<?x10xf32>, %l: tensor<?xf32>, %eps: tensor<2xf32>) {
  // expected-error @+1 {{'cnn.softmax_cross_entropy' op expects smoothing to be [1] (one value), found [2]}}
  %0 = cnn.softmax_cross_entropy %z, %l smoothing %eps : (tensor<?x10xf32>, tensor<?xf32>, tensor<2xf32>) -> tensor<1xf32>
  return
}

// -----

func.func @f(%z: tensor<?x10xf32>, %l: tensor<?xf32>, %eps: tensor<?xf32>) {
  // expected-error @+1 {{'cnn.softmax_cross_entropy_grad' op expects smoothing to be [1] (one value), found [?]}}
  %0 = cnn.softmax_cross_entropy_grad %z, %l smoothing %eps : (tensor<?x10xf32>, tensor<?xf32>, tensor<?xf32>) -> tensor<?x10xf32>
  return
}

// -----

func.func @f(%g: tensor<?x8xf32>) {
  // expected-error @+1 {{'cnn.sum_squares' op expects an input of rank 1 to 4 with a static positive shape (a parameter's gradient), found [?, 8]}}
  %0 = cnn.sum_squares %g : (tensor<?x8xf32>) -> tensor<1xf32>
  return
}

// -----

func.func @f(%g: tensor<8xf32>) {
  // expected-error @+1 {{'cnn.sum_squares' op expects the result to be [1] (one value), found [8]}}
  %0 = cnn.sum_squares %g : (tensor<8xf32>) -> tensor<8xf32>
  return
}

// -----

func.func @f(%max: tensor<1xf32>) {
  // expected-error @+1 {{'cnn.clip_coefficient' op expects at least one squared norm}}
  %0 = cnn.clip_coefficient %max, : (tensor<1xf32>) -> tensor<1xf32>
  return
}

// -----

func.func @f(%max: tensor<1xf32>, %a: tensor<1xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{'cnn.clip_coefficient' op expects squares #1 to be [1] (one value), found [3]}}
  %0 = cnn.clip_coefficient %max, %a, %b : (tensor<1xf32>, tensor<1xf32>, tensor<3xf32>) -> tensor<1xf32>
  return
}

// -----

func.func @f(%max: tensor<2xf32>, %a: tensor<1xf32>) {
  // expected-error @+1 {{'cnn.clip_coefficient' op expects max_norm to be [1] (one value), found [2]}}
  %0 = cnn.clip_coefficient %max, %a : (tensor<2xf32>, tensor<1xf32>) -> tensor<1xf32>
  return
}

// -----

func.func @f(%g: tensor<?x8xf32>, %c: tensor<1xf32>) {
  // expected-error @+1 {{'cnn.clip_gradient' op expects a gradient of rank 1 to 4 with a static positive shape (a parameter's gradient), found [?, 8]}}
  %0 = cnn.clip_gradient %g, %c : tensor<?x8xf32>, tensor<1xf32>
  return
}

// -----

func.func @f(%g: tensor<8xf32>, %c: tensor<8xf32>) {
  // expected-error @+1 {{'cnn.clip_gradient' op expects coefficient to be [1] (one value), found [8]}}
  %0 = cnn.clip_gradient %g, %c : tensor<8xf32>, tensor<8xf32>
  return
}
