// Round trip of label smoothing and gradient clipping as cnnc-autodiff
// builds them: cross-entropy and its gradient with a smoothing scalar, the
// squared norm of parameter-shaped gradients of each rank, the clipping
// coefficient over several of them, and gradients scaled by it.
// RUN: cnnc-opt %s | cnnc-opt | FileCheck %s

// CHECK-LABEL: func.func @smoothing
func.func @smoothing(%z: tensor<?x10xf32>, %labels: tensor<?xf32>, %eps: tensor<1xf32>) {
  // CHECK: cnn.softmax_cross_entropy %{{.*}}, %{{.*}} smoothing %{{.*}} : (tensor<?x10xf32>, tensor<?xf32>, tensor<1xf32>) -> tensor<1xf32>
  %0 = cnn.softmax_cross_entropy %z, %labels smoothing %eps : (tensor<?x10xf32>, tensor<?xf32>, tensor<1xf32>) -> tensor<1xf32>
  // CHECK: cnn.softmax_cross_entropy_grad %{{.*}}, %{{.*}} smoothing %{{.*}} : (tensor<?x10xf32>, tensor<?xf32>, tensor<1xf32>) -> tensor<?x10xf32>
  %1 = cnn.softmax_cross_entropy_grad %z, %labels smoothing %eps : (tensor<?x10xf32>, tensor<?xf32>, tensor<1xf32>) -> tensor<?x10xf32>
  return
}

// CHECK-LABEL: func.func @clipping
func.func @clipping(%w: tensor<8x3x3x3xf32>, %b: tensor<8xf32>, %fw: tensor<4x72xf32>,
                    %max: tensor<1xf32>) {
  // CHECK: %[[A:.*]] = cnn.sum_squares %{{.*}} : (tensor<8x3x3x3xf32>) -> tensor<1xf32>
  %a = cnn.sum_squares %w : (tensor<8x3x3x3xf32>) -> tensor<1xf32>
  // CHECK: %[[B:.*]] = cnn.sum_squares %{{.*}} : (tensor<8xf32>) -> tensor<1xf32>
  %c = cnn.sum_squares %b : (tensor<8xf32>) -> tensor<1xf32>
  // CHECK: %[[C:.*]] = cnn.sum_squares %{{.*}} : (tensor<4x72xf32>) -> tensor<1xf32>
  %d = cnn.sum_squares %fw : (tensor<4x72xf32>) -> tensor<1xf32>
  // CHECK: %[[S:.*]] = cnn.clip_coefficient %{{.*}}, %[[A]], %[[B]], %[[C]] : (tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1xf32>
  %s = cnn.clip_coefficient %max, %a, %c, %d : (tensor<1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> tensor<1xf32>
  // CHECK: cnn.clip_gradient %{{.*}}, %[[S]] : tensor<8x3x3x3xf32>, tensor<1xf32>
  %g = cnn.clip_gradient %w, %s : tensor<8x3x3x3xf32>, tensor<1xf32>
  // CHECK: cnn.clip_gradient %{{.*}}, %[[S]] : tensor<8xf32>, tensor<1xf32>
  %h = cnn.clip_gradient %b, %s : tensor<8xf32>, tensor<1xf32>
  return
}
