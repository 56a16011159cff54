// cnnc-dce erases unused side-effect-free ops, parameters included, and
// whole dead chains in one sweep.
// RUN: cnnc-opt --split-input-file --cnnc-dce %s | FileCheck %s

// CHECK-LABEL: func.func @dead_chain
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>)
// CHECK-NEXT: %[[R:.*]] = cnn.relu %[[X]]
// CHECK-NEXT: return %[[R]]
func.func @dead_chain(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %r = cnn.relu %x : tensor<?x8xf32>
  %w = cnn.param "unused.weight" : tensor<4x8xf32>
  %d = cnn.dense %r, %w : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32>
  %s = cnn.softmax %d : tensor<?x4xf32>
  return %r : tensor<?x8xf32>
}

// -----

// Dead ops inside a region go too; used parameters stay.
// CHECK-LABEL: func.func @in_block
// CHECK: cnn.block
// CHECK-NEXT: ^bb0
// CHECK-NEXT: cnn.param "fc.weight"
// CHECK-NEXT: cnn.dense
// CHECK-NEXT: cnn.yield
func.func @in_block(%x: tensor<?x8xf32>) -> tensor<?x4xf32> {
  %b = cnn.block "b" of "u" (%x) : (tensor<?x8xf32>) -> tensor<?x4xf32> {
  ^bb0(%in: tensor<?x8xf32>):
    %w = cnn.param "fc.weight" : tensor<4x8xf32>
    %t = cnn.tanh %in : tensor<?x8xf32>
    %d = cnn.dense %in, %w : (tensor<?x8xf32>, tensor<4x8xf32>) -> tensor<?x4xf32>
    cnn.yield %d : tensor<?x4xf32>
  }
  return %b : tensor<?x4xf32>
}
