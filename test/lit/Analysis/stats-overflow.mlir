// cnnc --stats counts in checked 64-bit integers: each of these layers does
// about 2^62 multiply-adds (2^31 - 1 elements x a window of 2^31 - 1
// channels), and the sum of three is refused at the layer where it
// overflows, not wrapped around.
// RUN: not cnnc --stats %s 2>&1 | FileCheck %s
func.func @m(%x: tensor<?x1x1x2147483647xf32>) -> tensor<?x1x1x2147483647xf32> {
  %a = cnn.local_response_norm %x {alpha = 1.0e-04 : f64, beta = 7.5e-01 : f64, k = 1.0 : f64, size = 2147483647 : i64} : tensor<?x1x1x2147483647xf32>
  %b = cnn.local_response_norm %a {alpha = 1.0e-04 : f64, beta = 7.5e-01 : f64, k = 1.0 : f64, size = 2147483647 : i64} : tensor<?x1x1x2147483647xf32>
  // CHECK: stats-overflow.mlir:[[@LINE+1]]:8: error: --stats: the model's totals do not fit in a 64-bit count from layer 'local_response_norm' on
  %c = cnn.local_response_norm %b {alpha = 1.0e-04 : f64, beta = 7.5e-01 : f64, k = 1.0 : f64, size = 2147483647 : i64} : tensor<?x1x1x2147483647xf32>
  return %c : tensor<?x1x1x2147483647xf32>
}
