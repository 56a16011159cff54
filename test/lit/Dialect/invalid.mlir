// Verifier and shape-inference errors of every op family, one case per split.
// RUN: cnnc-opt %s -split-input-file -verify-diagnostics

func.func @f(%x: tensor<?x3x8x8xf32>, %w: tensor<4x2x3x3xf32>) {
  // expected-error @+2 {{conv2d weight expects 2 input channels per group (weight [4, 2, 3, 3]), found 3 input channels / 1 groups}}
  // expected-error @+1 {{'cnn.conv2d' op failed to infer returned types}}
  %y = cnn.conv2d %x, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x3x8x8xf32>, tensor<4x2x3x3xf32>) -> tensor<?x4x6x6xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+2 {{'cnn.conv2d' op inferred type(s) 'tensor<?x4x6x6xf32>' are incompatible with return type(s) of operation 'tensor<?x4x8x8xf32>'}}
  // expected-error @+1 {{'cnn.conv2d' op failed to infer returned types}}
  %y = cnn.conv2d %x, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<?x4x8x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x2x2xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+2 {{window of height 3 (kernel 3, dilation 1) is larger than the padded input height 2 (input 2 + padding 0 + 0)}}
  // expected-error @+1 {{'cnn.conv2d' op failed to infer returned types}}
  %y = cnn.conv2d %x, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x3x2x2xf32>, tensor<4x3x3x3xf32>) -> tensor<?x4x1x1xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %w: tensor<4x3x3x3xf32>) {
  // expected-error @+2 {{padding [top, left, bottom, right] must have 4 values, found 2}}
  // expected-error @+1 {{'cnn.conv2d' op failed to infer returned types}}
  %y = cnn.conv2d %x, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x3x8x8xf32>, tensor<4x3x3x3xf32>) -> tensor<?x4x6x6xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>, %w: tensor<4x9xf32>) {
  // expected-error @+2 {{dense weight [4, 9] expects 9 input features, found 8}}
  // expected-error @+1 {{'cnn.dense' op failed to infer returned types}}
  %y = cnn.dense %x, %w : (tensor<?x8xf32>, tensor<4x9xf32>) -> tensor<?x4xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>) {
  // expected-error @+2 {{pooling padding must be smaller than the kernel size (2), found 2}}
  // expected-error @+1 {{'cnn.max_pool2d' op failed to infer returned types}}
  %y = cnn.max_pool2d %x {kernel = array<i64: 2, 2>, padding = array<i64: 2, 2, 2, 2>, stride = array<i64: 2, 2>} : (tensor<?x3x8x8xf32>) -> tensor<?x3x6x6xf32>
  return
}

// -----

func.func @f(%x: tensor<?x3x8x8xf32>, %v: tensor<4xf32>) {
  // expected-error @+2 {{batch_norm parameters must be [3], found [4]}}
  // expected-error @+1 {{'cnn.batch_norm' op failed to infer returned types}}
  %y = cnn.batch_norm %x, %v, %v, %v, %v {epsilon = 1.0e-05 : f64} : (tensor<?x3x8x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<?x3x8x8xf32>
  return
}

// -----

func.func @f(%a: tensor<?x3x8x8xf32>, %b: tensor<?x3x4x4xf32>) {
  // expected-error @+2 {{concat inputs must agree on all dimensions but channels: [?, 3, 8, 8] vs [?, 3, 4, 4]}}
  // expected-error @+1 {{'cnn.concat' op failed to infer returned types}}
  %y = cnn.concat %a, %b : (tensor<?x3x8x8xf32>, tensor<?x3x4x4xf32>) -> tensor<?x6x8x8xf32>
  return
}

// -----

func.func @f(%a: tensor<?x3x8x8xf32>, %b: tensor<?x4x8x8xf32>) {
  // expected-error @+1 {{'cnn.add' op expects rhs to broadcast to lhs: [?, 4, 8, 8] does not broadcast to [?, 3, 8, 8]: its dimensions must match the last ones of the other operand, each equal or 1}}
  %y = "cnn.add"(%a, %b) : (tensor<?x3x8x8xf32>, tensor<?x4x8x8xf32>) -> tensor<?x3x8x8xf32>
  return
}

// -----

func.func @f(%a: tensor<?x3x8x8xf32>, %b: tensor<?x3x8x8xf32>) {
  // expected-error @+1 {{'cnn.add' op failed to verify that all of {lhs, result} have same type}}
  %y = "cnn.add"(%a, %b) : (tensor<?x3x8x8xf32>, tensor<?x3x8x8xf32>) -> tensor<?x3x4x4xf32>
  return
}

// -----

func.func @f(%a: tensor<?x3x8x8xf32>) {
  // expected-error @+1 {{'cnn.softmax' op expects [N, F] (flatten first), found [?, 3, 8, 8]}}
  %y = cnn.softmax %a : tensor<?x3x8x8xf32>
  return
}

// -----

func.func @f(%a: tensor<?x8xf32>) {
  // expected-error @+1 {{'cnn.dropout' op rate must be in [0, 1), found 1.000000e+00}}
  %y = cnn.dropout %a {rate = 1.0 : f64} : tensor<?x8xf32>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{'cnn.param' op needs a non-empty parameter name}}
  %p = cnn.param "" : tensor<3xf32>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{'cnn.param' op parameter 'w' must have a static positive shape}}
  %p = cnn.param "w" : tensor<?x3xf32>
  return
}

// -----

func.func @f(%a: tensor<?x8x3xf32>) {
  // expected-error @+1 {{'cnn.relu' op expects an activation [N, F] or [N, C, H, W], found [?, 8, 3]}}
  %y = cnn.relu %a : tensor<?x8x3xf32>
  return
}

// -----

func.func @f(%a: tensor<?x8xf32>) {
  // expected-error @+2 {{'cnn.flatten' op inferred type(s) 'tensor<?x8xf32>' are incompatible with return type(s) of operation 'tensor<?x4xf32>'}}
  // expected-error @+1 {{'cnn.flatten' op failed to infer returned types}}
  %y = cnn.flatten %a : (tensor<?x8xf32>) -> tensor<?x4xf32>
  return
}

// -----

func.func @f(%a: tensor<?x3x8x8xf32>) {
  // expected-error @+2 {{'cnn.global_avg_pool' op inferred type(s) 'tensor<?x3x1x1xf32>' are incompatible with return type(s) of operation 'tensor<?x3x8x8xf32>'}}
  // expected-error @+1 {{'cnn.global_avg_pool' op failed to infer returned types}}
  %y = cnn.global_avg_pool %a : (tensor<?x3x8x8xf32>) -> tensor<?x3x8x8xf32>
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'cnn.block' op region argument type 'tensor<?x4xf32>' does not match input type 'tensor<?x8xf32>'}}
  %b = cnn.block "b" of "u" (%x) : (tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%in: tensor<?x4xf32>):
    cnn.yield %in : tensor<?x4xf32>
  }
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>) {
  // expected-error @+1 {{'cnn.block' op yielded types do not match the result types}}
  %b = cnn.block "b" of "u" (%x) : (tensor<?x8xf32>) -> tensor<?x4xf32> {
  ^bb0(%in: tensor<?x8xf32>):
    cnn.yield %in : tensor<?x8xf32>
  }
  return
}

// -----

func.func @f(%x: tensor<?x8xf32>) {
  // expected-note @+1 {{required by region isolation constraints}}
  %b = cnn.group "g" (%x) : (tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%in: tensor<?x8xf32>):
    // expected-error @+1 {{'cnn.yield' op using value defined outside the region}}
    cnn.yield %x : tensor<?x8xf32>
  }
  return
}

// -----

func.func @f(%x: tensor<?x4xf32>, %g: tensor<3xf32>, %w: tensor<4x2xf32>) {
  // expected-error @+2 {{bn_fold_weight: gamma and variance must be vectors of the weight's first dimension, weight [4, 2]}}
  // expected-error @+1 {{'cnn.bn_fold_weight' op failed to infer returned types}}
  %y = cnn.bn_fold_weight %w, %g, %g {epsilon = 1.0e-05 : f64} : (tensor<4x2xf32>, tensor<3xf32>, tensor<3xf32>) -> tensor<4x2xf32>
  return
}
