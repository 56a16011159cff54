// cnnc-expand-blocks inlines every cnn.block, nested ones too.
// RUN: cnnc-opt --split-input-file --cnnc-expand-blocks %s | FileCheck %s

// CHECK-LABEL: func.func @single
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>)
// CHECK-NOT: cnn.block
// CHECK: %[[W:.*]] = cnn.param "b.fc.weight"
// CHECK: %[[D:.*]] = cnn.dense %[[X]], %[[W]]
// CHECK: %[[R:.*]] = cnn.relu %[[D]]
// CHECK: return %[[R]]
func.func @single(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %b = cnn.block "b" of "unit" (%x) : (tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%in: tensor<?x8xf32>):
    %w = cnn.param "b.fc.weight" : tensor<8x8xf32>
    %d = cnn.dense %in, %w : (tensor<?x8xf32>, tensor<8x8xf32>) -> tensor<?x8xf32>
    %r = cnn.relu %d : tensor<?x8xf32>
    cnn.yield %r : tensor<?x8xf32>
  }
  return %b : tensor<?x8xf32>
}

// -----

// CHECK-LABEL: func.func @nested
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>)
// CHECK-NOT: cnn.block
// CHECK: %[[A:.*]] = cnn.relu %[[X]]
// CHECK: %[[B:.*]] = cnn.sigmoid %[[A]]
// CHECK: %[[S:.*]] = cnn.add %[[B]], %[[X]]
// CHECK: return %[[S]]
func.func @nested(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %o = cnn.block "o" of "outer" (%x) : (tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%in: tensor<?x8xf32>):
    %i = cnn.block "o.i" of "inner" (%in) : (tensor<?x8xf32>) -> tensor<?x8xf32> {
    ^bb0(%in2: tensor<?x8xf32>):
      %r = cnn.relu %in2 : tensor<?x8xf32>
      %s = cnn.sigmoid %r : tensor<?x8xf32>
      cnn.yield %s : tensor<?x8xf32>
    }
    %sum = cnn.add %i, %in : tensor<?x8xf32>
    cnn.yield %sum : tensor<?x8xf32>
  }
  return %o : tensor<?x8xf32>
}

// -----

// A block whose output is its input leaves nothing behind.
// CHECK-LABEL: func.func @identity
// CHECK-SAME: (%[[X:.*]]: tensor<?x8xf32>)
// CHECK-NEXT: return %[[X]]
func.func @identity(%x: tensor<?x8xf32>) -> tensor<?x8xf32> {
  %b = cnn.block "b" of "id" (%x) : (tensor<?x8xf32>) -> tensor<?x8xf32> {
  ^bb0(%in: tensor<?x8xf32>):
    cnn.yield %in : tensor<?x8xf32>
  }
  return %b : tensor<?x8xf32>
}
