// leaky_relu verifier errors.
// RUN: cnnc-opt %s -split-input-file -verify-diagnostics

func.func @bad(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'cnn.leaky_relu' op negative_slope must be finite}}
  %y = cnn.leaky_relu %x {negative_slope = 0x7FF0000000000000 : f64} : tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

func.func @rank3(%x: tensor<?x8x8xf32>) -> tensor<?x8x8xf32> {
  // expected-error @+1 {{'cnn.leaky_relu' op expects an activation [N, F] or [N, C, H, W], found [?, 8, 8]}}
  %y = cnn.leaky_relu %x : tensor<?x8x8xf32>
  return %y : tensor<?x8x8xf32>
}
