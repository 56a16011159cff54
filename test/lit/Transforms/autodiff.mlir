// RUN: cnnc-opt --split-input-file --cnnc-autodiff %s | FileCheck %s

// conv -> relu -> max pool -> flatten -> dense -> softmax with SGD+momentum:
// the train step computes CE from the logits before the softmax, the
// gradient of every op in reverse order, no gradient for the input image,
// and one momentum update per parameter.
// CHECK-LABEL: func.func @net(
// CHECK-LABEL: func.func @net_train(
// CHECK-SAME: %[[X:[^:]*]]: tensor<?x1x6x6xf32> {cnn.name = "input"}, %[[L:[^:]*]]: tensor<?xf32> {cnn.name = "labels"})
// CHECK-SAME: -> (tensor<1xf32> {cnn.name = "loss"}, tensor<1xf32> {cnn.name = "correct"})
// CHECK-SAME: cnn.init = {conv.bias = ["uniform", 0.33333{{[0-9]*}}], conv.weight = ["uniform", 0.33333{{[0-9]*}}], fc.weight = ["uniform", 5.000000e-01]}
// CHECK-SAME: cnn.role = "train"
// CHECK-SAME: cnn.train = {{{.*}}momentum = 9.000000e-01 : f64{{.*}}optimizer = "sgd"
// CHECK-DAG: %[[LR:.*]] = cnn.hyper "lr"
// CHECK-DAG: %[[WD:.*]] = cnn.hyper "weight_decay"
// CHECK-DAG: %[[MU:.*]] = cnn.hyper "momentum"
// CHECK-DAG: %[[DAMP:.*]] = cnn.hyper "dampening"
// CHECK-DAG: %[[NEST:.*]] = cnn.hyper "nesterov"
// CHECK: %[[W:.*]] = cnn.param "conv.weight"
// CHECK: %[[B:.*]] = cnn.param "conv.bias"
// CHECK: %[[C:.*]] = cnn.conv2d %[[X]], %[[W]], %[[B]]
// CHECK: %[[R:.*]] = cnn.relu %[[C]]
// CHECK: %[[P:.*]] = cnn.max_pool2d %[[R]]
// CHECK: %[[F:.*]] = cnn.flatten %[[P]]
// CHECK: %[[FW:.*]] = cnn.param "fc.weight"
// CHECK: %[[Z:.*]] = cnn.dense %[[F]], %[[FW]]
// CHECK: %[[LOSS:.*]] = cnn.softmax_cross_entropy %[[Z]], %[[L]]
// CHECK: %[[DZ:.*]] = cnn.softmax_cross_entropy_grad %[[Z]], %[[L]]
// CHECK: %[[CORRECT:.*]] = cnn.count_correct %[[Z]], %[[L]]
// CHECK: %[[DF:.*]] = cnn.dense_grad_input %[[DZ]], %[[FW]]
// CHECK: %[[DFW:.*]] = cnn.dense_grad_weight %[[F]], %[[DZ]]
// CHECK: %[[DP:.*]] = cnn.reshape %[[DF]] : (tensor<?x4xf32>) -> tensor<?x1x2x2xf32>
// CHECK: %[[DR:.*]] = cnn.max_pool2d_grad %[[R]], %[[DP]]
// CHECK: %[[DC:.*]] = cnn.activation_grad "relu" %[[R]], %[[DR]]
// CHECK-NOT: conv2d_grad_input
// CHECK: %[[DW:.*]] = cnn.conv2d_grad_weight %[[X]], %[[DC]]
// CHECK: %[[DB:.*]] = cnn.reduce_to_channels %[[DC]]
// CHECK: %[[M:.*]] = cnn.state "conv.weight.momentum_buffer"
// CHECK: %[[W2:[^,]*]], %[[M2:[^ ]*]] = cnn.sgd_momentum_update %[[W]], %[[DW]], %[[M]] lr %[[LR]] weight_decay %[[WD]] momentum %[[MU]] dampening %[[DAMP]] nesterov %[[NEST]] : tensor<1x1x3x3xf32>
// CHECK: cnn.assign "conv.weight", %[[W2]]
// CHECK: cnn.assign "conv.weight.momentum_buffer", %[[M2]]
// CHECK: cnn.sgd_momentum_update %[[FW]], %[[DFW]], %{{.*}} lr %[[LR]]
// CHECK: return %[[LOSS]], %[[CORRECT]]
// CHECK-LABEL: func.func @net_eval(
// CHECK-SAME: cnn.role = "eval"
// CHECK: cnn.softmax_cross_entropy
// CHECK-NOT: cnn.assign
// CHECK: return
func.func @net(%x: tensor<?x1x6x6xf32> {cnn.name = "input"}) -> (tensor<?x3xf32> {cnn.name = "output"})
    attributes {cnn.train = {optimizer = "sgd", lr = 0.1 : f64, momentum = 0.9 : f64}} {
  %w = cnn.param "conv.weight" : tensor<1x1x3x3xf32>
  %b = cnn.param "conv.bias" : tensor<1xf32>
  %c = cnn.conv2d %x, %w, %b {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x1x6x6xf32>, tensor<1x1x3x3xf32>, tensor<1xf32>) -> tensor<?x1x4x4xf32>
  %r = cnn.relu %c : tensor<?x1x4x4xf32>
  %p = cnn.max_pool2d %r {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<?x1x4x4xf32>) -> tensor<?x1x2x2xf32>
  %f = cnn.flatten %p : (tensor<?x1x2x2xf32>) -> tensor<?x4xf32>
  %fw = cnn.param "fc.weight" : tensor<3x4xf32>
  %z = cnn.dense %f, %fw : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<?x3xf32>
  %s = cnn.softmax %z : tensor<?x3xf32>
  return %s : tensor<?x3xf32>
}

// -----

// Batch norm in training form: batch statistics, the running ones updated
// with the layer's momentum (unbiased variance), and its gradient rule.
// AdamW (weight decay 0.01 by default) keeps Adam's two moments per
// parameter; its update reads the rule and all settings from hyper scalars.
// CHECK-LABEL: func.func @bn_train(
// CHECK-SAME: cnn.train = {{{.*}}optimizer = "adamw"{{.*}}weight_decay = 1.000000e-02 : f64}
// CHECK-DAG: %[[OPT:.*]] = cnn.hyper "optimizer"
// CHECK-DAG: %[[STEP:.*]] = cnn.hyper "step"
// CHECK-DAG: %[[B1:.*]] = cnn.hyper "beta1"
// CHECK-DAG: %[[B2:.*]] = cnn.hyper "beta2"
// CHECK-DAG: %[[EPS:.*]] = cnn.hyper "epsilon"
// CHECK: %[[G:.*]] = cnn.param "bn.weight"
// CHECK: %[[BETA:.*]] = cnn.param "bn.bias"
// CHECK: %[[RM:.*]] = cnn.param "bn.running_mean"
// CHECK: %[[RV:.*]] = cnn.param "bn.running_var"
// CHECK: %[[MEAN:.*]] = cnn.channel_mean %[[IN:[^ ]*]] :
// CHECK: %[[VAR:.*]] = cnn.channel_variance %[[IN]], %[[MEAN]] {unbiased = false}
// CHECK: %[[Y:.*]] = cnn.batch_norm %[[IN]], %[[G]], %[[BETA]], %[[MEAN]], %[[VAR]] {epsilon = 1.000000e-05 : f64, momentum = 2.000000e-01 : f64}
// CHECK: %[[UNBIASED:.*]] = cnn.channel_variance %[[IN]], %[[MEAN]] {unbiased = true}
// CHECK: %[[RM2:.*]] = cnn.ema %[[RM]], %[[MEAN]] {momentum = 2.000000e-01 : f64}
// CHECK: cnn.assign "bn.running_mean", %[[RM2]]
// CHECK: %[[RV2:.*]] = cnn.ema %[[RV]], %[[UNBIASED]]
// CHECK: cnn.assign "bn.running_var", %[[RV2]]
// CHECK: cnn.batch_norm_grad_input %[[IN]], %{{.*}}, %[[G]], %[[MEAN]], %[[VAR]]
// CHECK: cnn.batch_norm_grad_gamma %[[IN]], %{{.*}}, %[[MEAN]], %[[VAR]]
// CHECK: %[[M:.*]] = cnn.state "fc.weight.exp_avg"
// CHECK: %[[V:.*]] = cnn.state "fc.weight.exp_avg_sq"
// CHECK: %[[P2:[^,]*]], %[[M2:[^,]*]], %[[V2:[^ ]*]] = cnn.adam_update %{{.*}}, %{{.*}}, %[[M]], %[[V]] optimizer %[[OPT]] lr %{{.*}} step %[[STEP]] weight_decay %{{.*}} beta1 %[[B1]] beta2 %[[B2]] epsilon %[[EPS]] momentum
// CHECK: cnn.assign "fc.weight", %[[P2]]
// CHECK: cnn.assign "fc.weight.exp_avg", %[[M2]]
// CHECK: cnn.assign "fc.weight.exp_avg_sq", %[[V2]]
// CHECK-NOT: cnn.state "bn.running_mean
func.func @bn(%x: tensor<?x2xf32>) -> tensor<?x2xf32> attributes {cnn.train = {optimizer = "adamw"}} {
  %w = cnn.param "fc.weight" : tensor<2x2xf32>
  %d = cnn.dense %x, %w : (tensor<?x2xf32>, tensor<2x2xf32>) -> tensor<?x2xf32>
  %g = cnn.param "bn.weight" : tensor<2xf32>
  %b = cnn.param "bn.bias" : tensor<2xf32>
  %m = cnn.param "bn.running_mean" : tensor<2xf32>
  %v = cnn.param "bn.running_var" : tensor<2xf32>
  %y = cnn.batch_norm %d, %g, %b, %m, %v {epsilon = 1.0e-5 : f64, momentum = 0.2 : f64} : (tensor<?x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}

// -----

// Dropout in training: the mask comes from the per-step seed, and the
// gradient reapplies the same mask (same seed and salt).
// CHECK-LABEL: func.func @drop_train(
// CHECK: %[[SEED:.*]] = cnn.hyper "seed"
// CHECK: cnn.dropout_train %{{.*}}, %[[SEED]] {rate = 5.000000e-01 : f64, salt = 0 : i64}
// CHECK: cnn.dropout_grad %{{.*}}, %[[SEED]] {rate = 5.000000e-01 : f64, salt = 0 : i64}
func.func @drop(%x: tensor<?x4xf32>) -> tensor<?x2xf32> {
  %w1 = cnn.param "a.weight" : tensor<4x4xf32>
  %h = cnn.dense %x, %w1 : (tensor<?x4xf32>, tensor<4x4xf32>) -> tensor<?x4xf32>
  %d = cnn.dropout %h {rate = 0.5 : f64} : tensor<?x4xf32>
  %w2 = cnn.param "b.weight" : tensor<2x4xf32>
  %y = cnn.dense %d, %w2 : (tensor<?x4xf32>, tensor<2x4xf32>) -> tensor<?x2xf32>
  return %y : tensor<?x2xf32>
}
