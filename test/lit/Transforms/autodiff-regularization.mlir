// Label smoothing and gradient clipping in cnnc-autodiff and cnnc-fuse:
// each gradient's clip_gradient joins its optimizer update's group (one
// kernel), with Adam and with plain SGD. The mse loss takes no smoothing
// scalar. Bad settings in cnn.train are errors at the function.
// RUN: rm -rf %t && mkdir -p %t && split-file %s %t
// RUN: cnnc-opt --cnnc-autodiff --cnnc-fuse %t/adam.mlir | FileCheck %s --check-prefix=ADAM
// RUN: cnnc-opt --cnnc-autodiff --cnnc-fuse %t/sgd.mlir | FileCheck %s --check-prefix=SGD
// RUN: cnnc-opt --split-input-file --cnnc-autodiff --verify-diagnostics %t/errors.mlir

// ADAM-LABEL: func.func @a_train(
// ADAM: %[[C:.*]] = cnn.clip_coefficient
// ADAM: cnn.group "{{.*}}.adam" (%{{[^,]*}}, %[[C]], {{.*}} {
// ADAM-NEXT: ^bb0(%[[G:[^:]*]]: tensor<2x4xf32>, %[[K:[^:]*]]: tensor<1xf32>
// ADAM-NEXT: %[[S:.*]] = cnn.clip_gradient %[[G]], %[[K]]
// ADAM-NEXT: cnn.adam_update %{{[^,]*}}, %[[S]],
// ADAM-NEXT: cnn.yield
// ADAM-LABEL: func.func @a_eval(
// ADAM-NOT: clip
// ADAM: return

//--- adam.mlir
func.func @a(%x: tensor<?x4xf32>) -> tensor<?x2xf32>
    attributes {cnn.train = {optimizer = "adam", clip_grad_norm = 1.0 : f64}} {
  %w = cnn.param "fc.weight" : tensor<2x4xf32>
  %y = cnn.dense %x, %w : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// SGD-LABEL: func.func @s_train(
// SGD-SAME: clip_grad_norm = 0.000000e+00 : f64
// SGD-NOT: label_smoothing
// SGD: cnn.mse_loss
// SGD: %[[C:.*]] = cnn.clip_coefficient
// SGD: cnn.group "{{.*}}.sgd" (%{{[^,]*}}, %[[C]], {{.*}} {
// SGD-NEXT: ^bb0(
// SGD-NEXT: %[[S:.*]] = cnn.clip_gradient
// SGD-NEXT: cnn.sgd_update %{{[^,]*}}, %[[S]] lr
// SGD-NEXT: cnn.yield

//--- sgd.mlir
func.func @s(%x: tensor<?x4xf32>) -> tensor<?x2xf32>
    attributes {cnn.train = {optimizer = "sgd", loss = "mse", clip_grad_norm = 0.0 : f64}} {
  %w = cnn.param "fc.weight" : tensor<2x4xf32>
  %y = cnn.dense %x, %w : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

//--- errors.mlir
// expected-error @+1 {{label_smoothing must be a number in [0, 1), found 1.000000e+00 : f64}}
func.func @e(%x: tensor<?x4xf32>) -> tensor<?x2xf32>
    attributes {cnn.train = {label_smoothing = 1.0 : f64}} {
  %w = cnn.param "fc.weight" : tensor<2x4xf32>
  %y = cnn.dense %x, %w : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// expected-error @+1 {{clip_grad_norm must be a finite number >= 0, found -1.000000e+00 : f64}}
func.func @e(%x: tensor<?x4xf32>) -> tensor<?x2xf32>
    attributes {cnn.train = {clip_grad_norm = -1.0 : f64}} {
  %w = cnn.param "fc.weight" : tensor<2x4xf32>
  %y = cnn.dense %x, %w : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// expected-error @+1 {{label_smoothing applies to the cross_entropy loss, not mse}}
func.func @e(%x: tensor<?x4xf32>) -> tensor<?x2xf32>
    attributes {cnn.train = {loss = "mse", label_smoothing = 0.1 : f64}} {
  %w = cnn.param "fc.weight" : tensor<2x4xf32>
  %y = cnn.dense %x, %w : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
