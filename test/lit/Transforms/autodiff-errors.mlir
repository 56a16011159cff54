// Models cnnc-autodiff cannot train: without a train: section (no cnn.train
// attribute) a model without a class output compiles for inference only,
// with a warning; an unknown optimizer and Nesterov momentum without a
// momentum are errors.
// RUN: cnnc-opt --split-input-file --cnnc-autodiff --verify-diagnostics %s

// expected-warning @+1 {{training needs an output of shape [N, classes], found rank 4; compiling for inference only}}
func.func @image(%x: tensor<?x1x4x4xf32>) -> tensor<?x1x4x4xf32> {
  %y = cnn.relu %x : tensor<?x1x4x4xf32>
  return %y : tensor<?x1x4x4xf32>
}

// -----

// expected-error @+1 {{unknown optimizer 'lbfgs' (expected adam, adamw or sgd)}}
func.func @bad(%x: tensor<?x2xf32>) -> tensor<?x2xf32> attributes {cnn.train = {optimizer = "lbfgs"}} {
  %w = cnn.param "fc.weight" : tensor<2x2xf32>
  %d = cnn.dense %x, %w : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  return %d : tensor<?x2xf32>
}

// -----

// expected-error @+1 {{Nesterov momentum needs a momentum > 0 and zero dampening (as torch.optim.SGD), found momentum 0.000000e+00 and dampening 0.000000e+00}}
func.func @nesterov(%x: tensor<?x2xf32>) -> tensor<?x2xf32> attributes {cnn.train = {optimizer = "sgd", nesterov = true}} {
  %w = cnn.param "fc.weight" : tensor<2x2xf32>
  %d = cnn.dense %x, %w : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  return %d : tensor<?x2xf32>
}
