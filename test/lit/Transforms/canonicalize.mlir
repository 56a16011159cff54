// The folders the pipeline's canonicalize relies on: dropout is the identity
// at inference, flatten of an [N, F] value is the identity.
// RUN: cnnc-opt --split-input-file --canonicalize %s | FileCheck %s

// CHECK-LABEL: func.func @dropout
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>)
// CHECK-NOT: cnn.dropout
// CHECK: %[[R:.*]] = cnn.relu %[[X]]
// CHECK: return %[[R]]
func.func @dropout(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %d = cnn.dropout %x {rate = 0.5 : f64} : tensor<?x8xf32>
  %r = cnn.relu %d : tensor<?x8xf32>
  return %r : tensor<?x8xf32>
}

// -----

// CHECK-LABEL: func.func @flatten
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>, %[[Y:.*]]: tensor<?x2x2x2xf32>)
// CHECK-NOT: cnn.flatten %[[X]]
// CHECK: %[[F:.*]] = cnn.flatten %[[Y]] : (tensor<?x2x2x2xf32>) -> tensor<?x8xf32>
// CHECK: %[[S:.*]] = cnn.add %[[X]], %[[F]]
// CHECK: return %[[S]]
func.func @flatten(%x: tensor<?x8xf32>, %y: tensor<?x2x2x2xf32>) -> tensor<?x8xf32> {
  %a = cnn.flatten %x : (tensor<?x8xf32>) -> tensor<?x8xf32>
  %b = cnn.flatten %y : (tensor<?x2x2x2xf32>) -> tensor<?x8xf32>
  %s = cnn.add %a, %b : tensor<?x8xf32>
  return %s : tensor<?x8xf32>
}

// -----

// Unused pure ops are erased.
// CHECK-LABEL: func.func @unused
// CHECK-NOT: cnn.param
// CHECK-NOT: cnn.sigmoid
func.func @unused(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %w = cnn.param "w" : tensor<8x8xf32>
  %s = cnn.sigmoid %x : tensor<?x8xf32>
  return %x : tensor<?x8xf32>
}
