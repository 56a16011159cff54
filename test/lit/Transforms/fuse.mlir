// cnnc-fuse groups conv2d/dense with their add, activation and a
// non-overlapping pooling (conv) or softmax (dense); labels join the NameLoc
// layer names with '+'. An optimizer update is a group of its own.
// RUN: cnnc-opt --split-input-file --cnnc-fuse %s | FileCheck %s

// CHECK-LABEL: func.func @conv_relu_pool
// CHECK-SAME: (%[[X:.*]]: tensor<?x1x8x8xf32>)
// CHECK: %[[W:.*]] = cnn.param "c.weight"
// CHECK: %[[G:.*]] = cnn.group "c+c.relu+pool" (%[[X]], %[[W]]) : (tensor<?x1x8x8xf32>, tensor<2x1x3x3xf32>) -> tensor<?x2x3x3xf32> {
// CHECK-NEXT: ^bb0(%[[A:.*]]: tensor<?x1x8x8xf32>, %[[B:.*]]: tensor<2x1x3x3xf32>):
// CHECK-NEXT: %[[C:.*]] = cnn.conv2d %[[A]], %[[B]]
// CHECK-NEXT: %[[R:.*]] = cnn.relu %[[C]]
// CHECK-NEXT: %[[P:.*]] = cnn.max_pool2d %[[R]]
// CHECK-NEXT: cnn.yield %[[P]]
// CHECK: return %[[G]]
func.func @conv_relu_pool(%x: tensor<?x1x8x8xf32>) -> tensor<?x2x3x3xf32> {
  %w = cnn.param "c.weight" : tensor<2x1x3x3xf32> loc(#c)
  %c = cnn.conv2d %x, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x1x8x8xf32>, tensor<2x1x3x3xf32>) -> tensor<?x2x6x6xf32> loc(#c)
  %r = cnn.relu %c : tensor<?x2x6x6xf32> loc(#cr)
  %p = cnn.max_pool2d %r {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 2, 2>} : (tensor<?x2x6x6xf32>) -> tensor<?x2x3x3xf32> loc(#pool)
  return %p : tensor<?x2x3x3xf32>
}
#c = loc("c"("m.yaml":1:1))
#cr = loc("c.relu"("m.yaml":1:1))
#pool = loc("pool"("m.yaml":2:1))

// -----

// An overlapping pool (stride < kernel) is not fused; the residual add is.
// CHECK-LABEL: func.func @residual
// CHECK-SAME: (%[[X:.*]]: tensor<?x2x6x6xf32>)
// CHECK: %[[G:.*]] = cnn.group "conv2d+add+relu" (%[[X]], %{{[^,)]*}}) :
// CHECK: cnn.conv2d
// CHECK-NEXT: cnn.add
// CHECK-NEXT: cnn.relu
// CHECK-NEXT: cnn.yield
// CHECK: %[[P:.*]] = cnn.max_pool2d %[[G]]
// CHECK: return %[[P]]
func.func @residual(%x: tensor<?x2x6x6xf32>) -> tensor<?x2x5x5xf32> {
  %w = cnn.param "c.weight" : tensor<2x2x3x3xf32>
  %c = cnn.conv2d %x, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (tensor<?x2x6x6xf32>, tensor<2x2x3x3xf32>) -> tensor<?x2x6x6xf32>
  %s = cnn.add %c, %x : tensor<?x2x6x6xf32>
  %r = cnn.relu %s : tensor<?x2x6x6xf32>
  %p = cnn.max_pool2d %r {kernel = array<i64: 2, 2>, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x2x6x6xf32>) -> tensor<?x2x5x5xf32>
  return %p : tensor<?x2x5x5xf32>
}

// -----

// dense + softmax fuse; a conv whose output has two users stays alone.
// CHECK-LABEL: func.func @dense_softmax
// CHECK: %[[C:.*]] = cnn.group "conv2d" (
// CHECK: cnn.relu %[[C]]
// CHECK: cnn.sigmoid %[[C]]
// CHECK: cnn.group "dense+softmax"
// CHECK: cnn.dense
// CHECK-NEXT: cnn.softmax
func.func @dense_softmax(%x: tensor<?x1x3x3xf32>, %v: tensor<4x9xf32>) -> tensor<?x4xf32> {
  %w = cnn.param "c.weight" : tensor<1x1x1x1xf32>
  %c = cnn.conv2d %x, %w {dilation = array<i64: 1, 1>, groups = 1 : i64, padding = array<i64: 0, 0, 0, 0>, stride = array<i64: 1, 1>} : (tensor<?x1x3x3xf32>, tensor<1x1x1x1xf32>) -> tensor<?x1x3x3xf32>
  %r = cnn.relu %c : tensor<?x1x3x3xf32>
  %s = cnn.sigmoid %c : tensor<?x1x3x3xf32>
  %a = cnn.add %r, %s : tensor<?x1x3x3xf32>
  %f = cnn.flatten %a : (tensor<?x1x3x3xf32>) -> tensor<?x9xf32>
  %d = cnn.dense %f, %v : (tensor<?x9xf32>, tensor<4x9xf32>) -> tensor<?x4xf32>
  %sm = cnn.softmax %d : tensor<?x4xf32>
  return %sm : tensor<?x4xf32>
}

// -----

// An optimizer update becomes a kernel of its own with several results: the
// new parameter and state values, which the assigns (moved after it) read.
// CHECK-LABEL: func.func @adam_update
// CHECK: %[[G:.*]]:3 = cnn.group "fc.adam" (%{{.*}}) : ({{.*}}) -> (tensor<4x3xf32>, tensor<4x3xf32>, tensor<4x3xf32>) {
// CHECK: %[[P:[^,]*]], %[[M:[^,]*]], %[[V:[^ ]*]] = cnn.adam_update
// CHECK-NEXT: cnn.yield %[[P]], %[[M]], %[[V]]
// CHECK: cnn.assign "fc.weight", %[[G]]#0
// CHECK: cnn.assign "fc.weight.exp_avg", %[[G]]#1
// CHECK: cnn.assign "fc.weight.exp_avg_sq", %[[G]]#2
func.func @adam_update(%dw: tensor<4x3xf32>, %s: tensor<1xf32>) {
  %w = cnn.param "fc.weight" : tensor<4x3xf32> loc(#fc)
  %m = cnn.state "fc.weight.exp_avg" : tensor<4x3xf32> loc(#fc)
  %v = cnn.state "fc.weight.exp_avg_sq" : tensor<4x3xf32> loc(#fc)
  %w1, %m1, %v1 = cnn.adam_update %w, %dw, %m, %v optimizer %s lr %s step %s weight_decay %s beta1 %s beta2 %s epsilon %s momentum %s dampening %s nesterov %s : tensor<4x3xf32> loc(#fc)
  cnn.assign "fc.weight", %w1 : tensor<4x3xf32> loc(#fc)
  cnn.assign "fc.weight.exp_avg", %m1 : tensor<4x3xf32> loc(#fc)
  cnn.assign "fc.weight.exp_avg_sq", %v1 : tensor<4x3xf32> loc(#fc)
  return
}
#fc = loc("fc"("m.yaml":3:1))
