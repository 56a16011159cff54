// An output that is the model's input itself gets a kernel of its own, the
// identity affine (scale 1 and shift 0, the defaults); computed outputs are
// left as they are.
// RUN: cnnc-opt %s --cnnc-copy-passthrough-outputs | FileCheck %s

// CHECK-LABEL: func.func @passthrough
// CHECK: %[[R:.*]] = cnn.relu %arg0
// CHECK: %[[C:.*]] = cnn.affine %arg0 : tensor<?x4xf32>
// CHECK: return %[[C]], %[[R]]
func.func @passthrough(%x: tensor<?x4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>) {
  %r = cnn.relu %x : tensor<?x4xf32>
  return %x, %r : tensor<?x4xf32>, tensor<?x4xf32>
}
