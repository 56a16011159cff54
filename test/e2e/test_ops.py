#!/usr/bin/python3
"""End-to-end numerical tests of every cnnc op, one small model per case.

Each case is a tiny YAML model (one op, or a short chain for the fused patterns), compiled
with `cnnc` into one model.so, run with `cnnrun` at batch 1 and batch 7, and compared with
PyTorch (float64, same float32 parameters and inputs) at max abs error
<= 1e-4 * max(1, max|reference|). Groups (select with --group, repeatable):
  conv    conv2d: kernels 1/3/5/1x3/3x1/7, strides 1/2/3, paddings int/pair/asymmetric/
          valid/same/full (even kernels: asymmetric 'same'), dilation, groups, depthwise,
          no bias, fused activations, odd channel counts and widths (1..56)
  pool    max/avg pooling (kernel 2..5, strides, padding, ceil_mode, count_include_pad,
          'same' and asymmetric padding, large windows) and global_avg_pool
  dense   dense layers (in features 1..576, bias or not, fused activations)
  act     relu/leaky_relu/relu6/hardswish/hardsigmoid/silu/sigmoid/tanh/softmax standalone
          (4-D and [N,F]), fused after conv, large magnitudes
  graph   add (2/3 inputs), concat (2/3 inputs), flatten, batch_norm (standalone, folded
          after conv and dense), dropout, `output:` naming an inner layer
  fused   conv+relu+maxpool, conv+avgpool, conv+bn+add+relu, dense+relu, dense+softmax, ...
  seq     sequences [N, C, 1, L]: embedding (clamped ids), conv1d (paddings int/[l, r]/same/
          full/valid, stride, dilation, groups), max/avg_pool1d, global_max_pool, kmax_pool
          (with ties: the earlier position wins), a miniature text CNN
  poolx   min_pool2d and l2_pool2d (padding, ceil_mode, 'same', asymmetric, large windows)
  convx   conv_transpose2d (strides, padding, output_padding, dilation, groups, fused
          activations), conv2d with a connection table (LeNet-5's C3), position_bias (fused
          after a conv), local_response_norm (sizes 1..9, beta 0.5/0.75/1/other)
Every case is compiled with --inference-only (no train step: faster, and a train step
would require an [N, classes] output; training is tested by test_grads.py/test_train.py).
Assumes: what harness.py assumes (cnnc/cnnrun in --bin-dir, Debian's torch); the pooling
semantics are PyTorch's (ceil_mode drops a last window that would start in the right
padding; count_include_pad counts the padding but not the ceil overhang); 'same' padding
is TensorFlow's split (odd pixel bottom/right), as docs/model-format.md says.
Run: /usr/bin/python3 test/e2e/test_ops.py [--bin-dir build/bin] [--group conv] [-k name]
"""

import math
import sys

import torch
import torch.nn.functional as F

import harness
from harness import (ACTIVATIONS, Case, model_yaml, pair, resolve_padding, seed_of,
                     sequence_input, token_ids)


# --------------------------------------------------------------------------- layer DSL
# A layer knows its YAML map, makes its parameters from the shapes of its inputs, and
# computes its PyTorch reference. A chain of layers becomes one Case.

def uniform(gen, shape, bound):
    return (torch.rand(shape, generator=gen) * 2 - 1) * bound


class Layer:
    op = None

    def __init__(self, name, inputs=None, **attrs):
        self.name, self.inputs, self.attrs = name, inputs, attrs

    def yaml(self):
        d = {"name": self.name, "op": self.op}
        if self.inputs is not None:
            d["inputs"] = self.inputs
        d.update({k: v for k, v in self.attrs.items() if v is not None})
        return d

    def params(self, xs, gen):
        return {}

    def weight_and_bias(self, gen, shape, fan_in, outputs):
        """<name>.weight of `shape`, uniform in +-1.7/sqrt(fan_in), then (unless `bias:
        false`) <name>.bias of [outputs], uniform in +-0.5."""
        p = {f"{self.name}.weight": uniform(gen, shape, 1.7 / math.sqrt(fan_in))}
        if self.attrs.get("bias", True):
            p[f"{self.name}.bias"] = uniform(gen, (outputs,), 0.5)
        return p

    def forward(self, xs, p):
        raise NotImplementedError

    def out_name(self):
        act = self.attrs.get("activation")
        return f"{self.name}.{act}" if act else self.name


def apply_activation(y, act):
    return y if act is None else ACTIVATIONS[act](y)


class Conv(Layer):
    """conv2d; the base of the other convolutions (same attributes and parameters)."""
    op = "conv2d"

    def __init__(self, name, out_channels, kernel, **kw):
        super().__init__(name, out_channels=out_channels, kernel=kernel, **kw)

    def kernel_size(self):
        return pair(self.attrs["kernel"])

    def weight_shape(self, c, o, g):
        """PyTorch's weight layout for c inputs, o outputs and g groups."""
        return (o, c // g) + self.kernel_size()

    def params(self, xs, gen):
        a = self.attrs
        c, g, o = xs[0].shape[1], a.get("groups") or 1, a["out_channels"]
        return self.weight_and_bias(gen, self.weight_shape(c, o, g),
                                    c // g * math.prod(self.kernel_size()), o)

    def forward(self, xs, p):
        a = self.attrs
        x = xs[0]
        stride, dil = a.get("stride") or 1, a.get("dilation") or 1
        t, l, b, r = resolve_padding(a.get("padding"), a["kernel"], stride, dil, x.shape[2:])
        x = F.pad(x, (l, r, t, b))
        y = F.conv2d(x, p[f"{self.name}.weight"], p.get(f"{self.name}.bias"),
                     stride=pair(stride), dilation=pair(dil), groups=a.get("groups") or 1)
        return apply_activation(y, a.get("activation"))


class Pool(Layer):
    """max_pool2d and avg_pool2d."""

    def __init__(self, name, op, kernel, **kw):
        super().__init__(name, kernel=kernel, **kw)
        self.op = op

    def window(self, x):
        """(kernel, stride, ceil_mode, (top, left, bottom, right) padding) on the input x."""
        a = self.attrs
        k = pair(a["kernel"])
        s = pair(a.get("stride") or a["kernel"])
        return k, s, bool(a.get("ceil_mode")), resolve_padding(a.get("padding"), k, s, 1,
                                                               x.shape[2:])

    def forward(self, xs, p):
        x = xs[0]
        k, s, ceil, (t, l, b, r) = self.window(x)
        cip = self.attrs.get("count_include_pad", True)
        if t == b and l == r and t <= k[0] // 2 and l <= k[1] // 2:
            # PyTorch's own semantics (ceil_mode, count_include_pad) with symmetric padding.
            if self.op == "max_pool2d":
                return F.max_pool2d(x, k, s, (t, l), ceil_mode=ceil)
            return F.avg_pool2d(x, k, s, (t, l), ceil_mode=ceil, count_include_pad=cip)
        assert not ceil, "reference: ceil_mode with asymmetric padding not modelled"
        if self.op == "max_pool2d":
            return F.max_pool2d(F.pad(x, (l, r, t, b), value=-math.inf), k, s)
        sums = F.avg_pool2d(F.pad(x, (l, r, t, b)), k, s, divisor_override=1)
        if cip:
            return sums / (k[0] * k[1])
        ones = torch.ones_like(x[:1, :1])
        counts = F.avg_pool2d(F.pad(ones, (l, r, t, b)), k, s, divisor_override=1)
        return sums / counts


class GlobalAvgPool(Layer):
    op = "global_avg_pool"

    def forward(self, xs, p):
        return xs[0].mean(dim=(2, 3), keepdim=True)


class Dense(Layer):
    op = "dense"

    def __init__(self, name, out_features, **kw):
        super().__init__(name, out_features=out_features, **kw)

    def params(self, xs, gen):
        n_in, o = xs[0].shape[1], self.attrs["out_features"]
        return self.weight_and_bias(gen, (o, n_in), n_in, o)

    def forward(self, xs, p):
        y = F.linear(xs[0], p[f"{self.name}.weight"], p.get(f"{self.name}.bias"))
        return apply_activation(y, self.attrs.get("activation"))


class BatchNorm(Layer):
    op = "batch_norm"

    def params(self, xs, gen):
        return {f"{self.name}.{k}": v for k, v in
                harness.randomize_batch_norm(gen, xs[0].shape[1]).items()}

    def forward(self, xs, p):
        n = self.name
        eps = self.attrs.get("epsilon", 1e-5)
        return F.batch_norm(xs[0], p[f"{n}.running_mean"], p[f"{n}.running_var"],
                            p[f"{n}.weight"], p[f"{n}.bias"], False, 0.0, eps)


class Simple(Layer):
    FUNCS = dict(ACTIVATIONS, flatten=lambda t: t.flatten(1), dropout=lambda t: t)

    def __init__(self, name, op, **kw):
        super().__init__(name, **kw)
        self.op = op

    def forward(self, xs, p):
        return self.FUNCS[self.op](xs[0])


class LeakyRelu(Layer):
    op = "leaky_relu"

    def forward(self, xs, p):
        slope = self.attrs.get("negative_slope")
        return F.leaky_relu(xs[0], 0.01 if slope is None else slope)


class Add(Layer):
    op = "add"

    def forward(self, xs, p):
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y


class Mul(Layer):
    op = "mul"

    def forward(self, xs, p):
        y = xs[0]
        for x in xs[1:]:
            y = y * x
        return y


class Concat(Layer):
    op = "concat"

    def forward(self, xs, p):
        return torch.cat(xs, dim=1)


def chain(name, input_shape, layers, output=None, input_fn=None, group=""):
    """A Case from a list of layers; a layer without inputs= reads the previous one."""
    gen = torch.Generator().manual_seed(seed_of(name))
    probe = torch.zeros([2] + list(input_shape), dtype=torch.float64)
    if len(input_shape) == 2:  # a sequence [C, L] is [N, C, 1, L] in cnnc
        probe = probe.unsqueeze(2)

    def evaluate(x, p, make_params=False):
        env = {"input": x}
        prev = "input"
        params = {}
        for layer in layers:
            names = layer.inputs if layer.inputs is not None else [prev]
            names = [names] if isinstance(names, str) else names
            xs = [env[n] for n in names]
            if make_params:
                new = layer.params(xs, gen)
                params.update(new)
                p = dict(p, **{k: v.double() for k, v in new.items()})
            y = layer.forward(xs, p)
            env[layer.name] = y
            env[layer.out_name()] = y
            prev = layer.out_name()
        return env[output or prev], params

    _, params = evaluate(probe, {}, make_params=True)
    yaml = model_yaml(name.replace(".", "_").replace("-", "_"), input_shape,
                      [l.yaml() for l in layers], output=output)
    return Case(name, yaml, input_shape, params, lambda xs, p: evaluate(xs[0], p)[0],
                cnnc_args=INFERENCE_ONLY, group=group, input_fn=input_fn)


# Inference numerics only: no train step (which would also demand an [N, classes] output).
INFERENCE_ONLY = ["--inference-only"]


def scaled_input(scale, offset=0.0):
    return lambda gen, shape: torch.randn(shape, generator=gen) * scale + offset


# --------------------------------------------------------------------------- conv

def conv_cases(args):
    C = []

    def conv(name, shape, out, kernel, **kw):
        C.append(chain("conv." + name, shape, [Conv("c", out, kernel, **kw)]))

    conv("k1_c3o6_13x13", [3, 13, 13], 6, 1)
    conv("k3_c3o6_7x7", [3, 7, 7], 6, 3)
    conv("k5_p2_c6o10_30x30", [6, 30, 30], 10, 5, padding=2)
    conv("k1x3_p0-1_c3o6_13x13", [3, 13, 13], 6, [1, 3], padding=[0, 1])
    conv("k3x1_p1-0_c6o10_13x30", [6, 13, 30], 10, [3, 1], padding=[1, 0])
    conv("k3_s2_p1_c3o10_56x56", [3, 56, 56], 10, 3, stride=2, padding=1)
    conv("k3_s3_c6o6_13x13", [6, 13, 13], 6, 3, stride=3)
    conv("k5_s2_p2_c10o6_30x30", [10, 30, 30], 6, 5, stride=2, padding=2)
    conv("k3_s2x1_p1_c3o6_13x7", [3, 13, 7], 6, 3, stride=[2, 1], padding=1)
    conv("k7_s2_p3_c3o8_30x30", [3, 30, 30], 8, 7, stride=2, padding=3)
    conv("k3_asym_0-1-2-0_c3o6_13x7", [3, 13, 7], 6, 3, padding=[0, 1, 2, 0])
    conv("k3_s2_asym_2-0-1-2_c6o6_13x13", [6, 13, 13], 6, 3, stride=2, padding=[2, 0, 1, 2])
    conv("k3_valid_c3o6_13x13", [3, 13, 13], 6, 3, padding="valid")
    conv("k3_same_c3o6_13x13", [3, 13, 13], 6, 3, padding="same")
    conv("k4_same_even_c3o6_13x13", [3, 13, 13], 6, 4, padding="same")
    conv("k2_s2_same_c6o10_13x13", [6, 13, 13], 10, 2, stride=2, padding="same")
    conv("k3_s2_same_c3o6_30x30", [3, 30, 30], 6, 3, stride=2, padding="same")
    conv("k2x4_same_c3o6_7x13", [3, 7, 13], 6, [2, 4], padding="same")
    conv("k3_full_c3o6_7x7", [3, 7, 7], 6, 3, padding="full")
    conv("k4_full_c6o3_13x13", [6, 13, 13], 3, 4, padding="full")
    conv("k3_d2_p2_c6o6_13x13", [6, 13, 13], 6, 3, dilation=2, padding=2)
    conv("k3_d2_s2_same_c3o6_30x30", [3, 30, 30], 6, 3, dilation=2, stride=2, padding="same")
    conv("k3_d2x1_p2-1_c3o6_13x13", [3, 13, 13], 6, 3, dilation=[2, 1], padding=[2, 1])
    conv("k3_d2_full_c3o6_7x7", [3, 7, 7], 6, 3, dilation=2, padding="full")
    conv("k3_g2_p1_c6o10_13x13", [6, 13, 13], 10, 3, groups=2, padding=1)
    conv("k1_g2_c10o6_30x30", [10, 30, 30], 6, 1, groups=2)
    conv("k3_g2_s2_nobias_c6o6_13x13", [6, 13, 13], 6, 3, groups=2, stride=2, bias=False)
    conv("k3_dw_p1_c6_13x13", [6, 13, 13], 6, 3, groups=6, padding=1)
    conv("k3_dw_s2_p1_c10_30x30", [10, 30, 30], 10, 3, groups=10, stride=2, padding=1)
    conv("k5_dw_x2_p2_c3o6_13x13", [3, 13, 13], 6, 5, groups=3, padding=2)
    conv("k3_dw_d2_same_c6_13x13", [6, 13, 13], 6, 3, groups=6, dilation=2, padding="same")
    conv("k3_dw_c32_7x7", [32, 7, 7], 32, 3, groups=32, padding=1)
    conv("k3_nobias_c3o6_13x13", [3, 13, 13], 6, 3, bias=False)
    conv("k3_c1o1_13x13", [1, 13, 13], 1, 3)
    conv("k3x1_c3o6_16x1", [3, 16, 1], 6, [3, 1])
    conv("k5_valid_to1x1_c3o10_5x5", [3, 5, 5], 10, 5)
    conv("k3_p1_c16o32_13x13", [16, 13, 13], 32, 3, padding=1)
    conv("k1_c32o20_7x7", [32, 7, 7], 20, 1)
    conv("k3_p1_c10o17_7x17", [10, 7, 17], 17, 3, padding=1)
    conv("k3_c3o6_9x33", [3, 9, 33], 6, 3)
    # A kernel row past the unrolled size: 8 taps unrolled at a time, 5 left over.
    conv("k1x29_p0-2_c3o8_3x40", [3, 3, 40], 8, [1, 29], padding=[0, 2])
    conv("k3_p1_c8o16_56x56", [8, 56, 56], 16, 3, padding=1)
    conv("k3_relu_c3o6_13x13", [3, 13, 13], 6, 3, activation="relu")
    conv("k3_sigmoid_c3o6_13x13", [3, 13, 13], 6, 3, padding=1, activation="sigmoid")
    conv("k3_tanh_s2_c6o10_30x30", [6, 30, 30], 10, 3, stride=2, activation="tanh")
    return C


# --------------------------------------------------------------------------- pool

def pool_cases(args):
    C = []

    def pool(name, op, shape, kernel, **kw):
        C.append(chain("pool." + name, shape, [Pool("p", op, kernel, **kw)]))

    for op, short in (("max_pool2d", "max"), ("avg_pool2d", "avg")):
        pool(f"{short}_k2_c3_13x13", op, [3, 13, 13], 2)
        pool(f"{short}_k2_s2_c10_8x8", op, [10, 8, 8], 2, stride=2)
        pool(f"{short}_k3_s2_p1_c6_13x13", op, [6, 13, 13], 3, stride=2, padding=1)
        pool(f"{short}_k3_s1_p1_c3_7x7", op, [3, 7, 7], 3, stride=1, padding=1)
        pool(f"{short}_k3_s2_overlap_c6_30x30", op, [6, 30, 30], 3, stride=2)
        pool(f"{short}_k2_s1_c3_7x13", op, [3, 7, 13], 2, stride=1)
        pool(f"{short}_k2_ceil_c3_7x7", op, [3, 7, 7], 2, ceil_mode=True)
        pool(f"{short}_k3_s2_ceil_c6_8x8", op, [6, 8, 8], 3, stride=2, ceil_mode=True)
        pool(f"{short}_k2_s2_p1_ceil_c3_7x7", op, [3, 7, 7], 2, stride=2, padding=1, ceil_mode=True)
        pool(f"{short}_k3_s2_p1_ceil_c3_8x8", op, [3, 8, 8], 3, stride=2, padding=1, ceil_mode=True)
        pool(f"{short}_k4_c3_30x30", op, [3, 30, 30], 4)
        pool(f"{short}_k5_s1_c6_13x13", op, [6, 13, 13], 5, stride=1)
        pool(f"{short}_k5_s2_p2_c3_13x13", op, [3, 13, 13], 5, stride=2, padding=2)
        pool(f"{short}_k2x3_s1x2_c3_7x13", op, [3, 7, 13], [2, 3], stride=[1, 2])
        pool(f"{short}_k3_s2_same_c3_13x13", op, [3, 13, 13], 3, stride=2, padding="same")
        pool(f"{short}_k2_same_c3_7x7", op, [3, 7, 7], 2, stride=1, padding="same")
        pool(f"{short}_k3_asym_1-0-0-1_c3_13x13", op, [3, 13, 13], 3, stride=2,
             padding=[1, 0, 0, 1])
        pool(f"{short}_k3_s2_c32_56x56", op, [32, 56, 56], 3, stride=2, padding=1)
    pool("avg_k3_s2_p1_nocip_c6_13x13", "avg_pool2d", [6, 13, 13], 3, stride=2, padding=1,
         count_include_pad=False)
    pool("avg_k3_s1_p1_nocip_c3_7x7", "avg_pool2d", [3, 7, 7], 3, stride=1, padding=1,
         count_include_pad=False)
    pool("avg_k3_s2_p1_ceil_nocip_c3_8x8", "avg_pool2d", [3, 8, 8], 3, stride=2, padding=1,
         ceil_mode=True, count_include_pad=False)
    pool("avg_k5_s2_p2_nocip_c3_13x13", "avg_pool2d", [3, 13, 13], 5, stride=2, padding=2,
         count_include_pad=False)
    pool("avg_k3_same_nocip_c3_13x13", "avg_pool2d", [3, 13, 13], 3, stride=2, padding="same",
         count_include_pad=False)
    pool("avg_k3_asym_nocip_c3_13x13", "avg_pool2d", [3, 13, 13], 3, stride=2,
         padding=[0, 1, 1, 0], count_include_pad=False)
    pool("max_k4_s2_p1_c3_13x13", "max_pool2d", [3, 13, 13], 4, stride=2, padding=1)
    pool("max_k4_s4_c3_32x32", "max_pool2d", [3, 32, 32], 4)
    for shape in ([3, 7, 7], [10, 13, 5], [6, 1, 1], [3, 56, 56], [64, 4, 4]):
        C.append(chain("pool.gap_c{}_{}x{}".format(*shape), shape, [GlobalAvgPool("g")]))
    return C


# --------------------------------------------------------------------------- dense

def dense_cases(args):
    C = []

    def dense(name, n_in, out, **kw):
        C.append(chain("dense." + name, [n_in], [Dense("fc", out, **kw)]))

    dense("in10_out5", 10, 5)
    dense("in84_out10", 84, 10)
    dense("in120_out84", 120, 84)
    dense("in576_out64", 576, 64)
    dense("in1_out3", 1, 3)
    dense("in16_out16", 16, 16)
    dense("in33_out7_nobias", 33, 7, bias=False)
    dense("in400_out120", 400, 120)
    dense("in10_out1", 10, 1)
    dense("in84_out10_relu", 84, 10, activation="relu")
    dense("in120_out84_sigmoid", 120, 84, activation="sigmoid")
    dense("in64_out30_tanh", 64, 30, activation="tanh")
    dense("in64_out10_softmax", 64, 10, activation="softmax")
    C.append(chain("dense.after_flatten_c3x5x5", [3, 5, 5],
                   [Simple("flat", "flatten"), Dense("fc", 13)]))
    C.append(chain("dense.chain_3_layers", [120],
                   [Dense("fc1", 84, activation="relu"), Dense("fc2", 84, activation="tanh"),
                    Dense("fc3", 10)]))
    return C


# --------------------------------------------------------------------------- activations

def act_cases(args):
    C = []
    for op in ("relu", "sigmoid", "tanh"):
        C.append(chain(f"act.{op}_c3_13x13", [3, 13, 13], [Simple("a", op)]))
        C.append(chain(f"act.{op}_f37", [37], [Simple("a", op)]))
        C.append(chain(f"act.{op}_after_conv_c3o10_13x13", [3, 13, 13],
                       [Conv("c", 10, 3, padding=1), Simple("a", op)]))
    C.append(chain("act.leaky_relu_default_c3_13x13", [3, 13, 13], [LeakyRelu("a")]))
    C.append(chain("act.leaky_relu_0.2_f37", [37], [LeakyRelu("a", negative_slope=0.2)]))
    C.append(chain("act.leaky_relu_negative_slope_c3_7x7", [3, 7, 7],
                   [LeakyRelu("a", negative_slope=-1.5)]))
    C.append(chain("act.leaky_relu_after_conv_c3o10_13x13", [3, 13, 13],
                   [Conv("c", 10, 3, padding=1, activation="leaky_relu")]))
    C.append(chain("act.leaky_relu_after_dense_f40", [40],
                   [Dense("d", 12, activation="leaky_relu")]))
    # relu6: inputs of scale 5 cover x < 0, 0 < x < 6 and x > 6.
    C.append(chain("act.relu6_c3_13x13", [3, 13, 13], [Simple("a", "relu6")],
                   input_fn=scaled_input(5.0)))
    C.append(chain("act.relu6_f37", [37], [Simple("a", "relu6")], input_fn=scaled_input(5.0)))
    C.append(chain("act.relu6_after_conv_c3o10_13x13", [3, 13, 13],
                   [Conv("c", 10, 3, padding=1, activation="relu6")], input_fn=scaled_input(5.0)))
    # hardswish, hardsigmoid (kinks at -3 and 3) and silu: scale 5 covers both sides.
    for op in ("hardswish", "hardsigmoid", "silu"):
        C.append(chain(f"act.{op}_c3_13x13", [3, 13, 13], [Simple("a", op)],
                       input_fn=scaled_input(5.0)))
        C.append(chain(f"act.{op}_f37", [37], [Simple("a", op)], input_fn=scaled_input(5.0)))
        C.append(chain(f"act.{op}_after_conv_c3o10_13x13", [3, 13, 13],
                       [Conv("c", 10, 3, padding=1, activation=op)], input_fn=scaled_input(5.0)))
    C.append(chain("act.sigmoid_large_c3_7x7", [3, 7, 7], [Simple("a", "sigmoid")],
                   input_fn=scaled_input(40.0)))
    C.append(chain("act.tanh_large_f100", [100], [Simple("a", "tanh")],
                   input_fn=scaled_input(30.0)))
    C.append(chain("act.softmax_f10", [10], [Simple("s", "softmax")]))
    C.append(chain("act.softmax_f1000", [1000], [Simple("s", "softmax")]))
    C.append(chain("act.softmax_f1", [1], [Simple("s", "softmax")]))
    C.append(chain("act.softmax_large_f37", [37], [Simple("s", "softmax")],
                   input_fn=scaled_input(100.0, offset=500.0)))
    C.append(chain("act.softmax_after_dense", [84],
                   [Dense("fc", 10), Simple("s", "softmax")]))
    return C


# --------------------------------------------------------------------------- graph ops

def graph_cases(args):
    C = []
    C.append(chain("graph.mul_gate_c3_9x9", [3, 9, 9],
                   [Conv("a", 5, 3, padding=1, inputs=["input"]),
                    Conv("g", 5, 1, inputs=["input"], activation="sigmoid"),
                    Mul("m", inputs=["a", "g"])]))
    C.append(chain("graph.add2_convs_c3_13x13", [3, 13, 13],
                   [Conv("a", 6, 3, padding=1, inputs=["input"]),
                    Conv("b", 6, 1, inputs=["input"]),
                    Add("s", inputs=["a", "b"])]))
    C.append(chain("graph.add3_convs_c3_7x30", [3, 7, 30],
                   [Conv("a", 10, 3, padding=1, inputs=["input"]),
                    Conv("b", 10, 1, inputs=["input"]),
                    Conv("c", 10, [1, 3], padding=[0, 1], inputs=["input"]),
                    Add("s", inputs=["a", "b", "c"])]))
    C.append(chain("graph.add_input_residual_c6_13x13", [6, 13, 13],
                   [Conv("a", 6, 3, padding=1, activation="relu"),
                    Add("s", inputs=["a", "input"])]))
    C.append(chain("graph.add_same_twice_c3_7x7", [3, 7, 7],
                   [Add("s", inputs=["input", "input"])]))
    C.append(chain("graph.add_dense_f20", [20],
                   [Dense("a", 12, inputs=["input"]), Dense("b", 12, inputs=["input"]),
                    Add("s", inputs=["a", "b"])]))
    C.append(chain("graph.concat2_c3c5_13x13", [3, 13, 13],
                   [Conv("a", 3, 3, padding=1, inputs=["input"]),
                    Conv("b", 5, 1, inputs=["input"]),
                    Concat("cat", inputs=["a", "b"])]))
    C.append(chain("graph.concat3_input_c3c6c1_13x7", [3, 13, 7],
                   [Conv("a", 6, 3, padding=1, inputs=["input"]),
                    Conv("b", 1, 1, inputs=["input"]),
                    Concat("cat", inputs=["input", "a", "b"])]))
    C.append(chain("graph.concat_pools_then_conv_c6_14x14", [6, 14, 14],
                   [Pool("m", "max_pool2d", 2, inputs=["input"]),
                    Pool("v", "avg_pool2d", 2, inputs=["input"]),
                    Concat("cat", inputs=["m", "v"]),
                    Conv("c", 10, 3, padding=1)]))
    C.append(chain("graph.concat_dense_f20", [20],
                   [Dense("a", 7, inputs=["input"]), Dense("b", 5, inputs=["input"]),
                    Concat("cat", inputs=["a", "b"])]))
    C.append(chain("graph.flatten_output_c6_5x7", [3, 5, 7],
                   [Conv("c", 6, 3, padding=1), Simple("f", "flatten")]))
    C.append(chain("graph.flatten_after_pool_dense_c6_13x13", [6, 13, 13],
                   [Pool("p", "max_pool2d", 2), Simple("f", "flatten"), Dense("fc", 10)]))
    C.append(chain("graph.bn_standalone_after_maxpool_c6_13x13", [6, 13, 13],
                   [Pool("p", "max_pool2d", 2), BatchNorm("bn")]))
    C.append(chain("graph.bn_standalone_after_avgpool_c10_30x30", [10, 30, 30],
                   [Pool("p", "avg_pool2d", 3, stride=2), BatchNorm("bn")]))
    C.append(chain("graph.bn_on_input_c3_7x7", [3, 7, 7], [BatchNorm("bn")]))
    C.append(chain("graph.bn_eps1e-3_c3_7x7", [3, 7, 7], [BatchNorm("bn", epsilon=0.001)]))
    C.append(chain("graph.bn_folded_after_conv_c3o10_13x13", [3, 13, 13],
                   [Conv("c", 10, 3, padding=1), BatchNorm("bn")]))
    C.append(chain("graph.bn_folded_after_conv_nobias_s2_c6o6_30x30", [6, 30, 30],
                   [Conv("c", 6, 3, stride=2, padding=1, bias=False), BatchNorm("bn")]))
    C.append(chain("graph.bn_folded_after_dwconv_c6_13x13", [6, 13, 13],
                   [Conv("c", 6, 3, padding=1, groups=6), BatchNorm("bn"),
                    Simple("r", "relu")]))
    C.append(chain("graph.bn_folded_after_dense_f84", [84],
                   [Dense("fc", 30), BatchNorm("bn")]))
    C.append(chain("graph.bn_folded_after_dense_nobias_relu_f120", [120],
                   [Dense("fc", 10, bias=False), BatchNorm("bn"), Simple("r", "relu")]))
    C.append(chain("graph.bn_on_features_f17", [17], [BatchNorm("bn")]))
    C.append(chain("graph.dropout_middle_c3_13x13", [3, 13, 13],
                   [Conv("c", 6, 3), Simple("d", "dropout", rate=0.5), Simple("r", "relu")]))
    C.append(chain("graph.dropout_last_f30", [30],
                   [Dense("fc", 10), Simple("d", "dropout", rate=0.3)]))
    C.append(chain("graph.output_inner_layer_c3_13x13", [3, 13, 13],
                   [Conv("a", 6, 3, padding=1), Conv("b", 4, 3)], output="a"))
    C.append(chain("graph.branch_reuse_c6_13x13", [6, 13, 13],
                   [Conv("a", 6, 3, padding=1, activation="relu"),
                    Conv("b", 6, 3, padding=1, inputs=["a"]),
                    Conv("c", 6, 1, inputs=["a"]),
                    Add("s", inputs=["b", "c", "a"]),
                    Simple("r", "relu")]))
    return C


# --------------------------------------------------------------------------- fused chains

def fused_cases(args):
    C = []
    C.append(chain("fused.conv_relu_maxpool_c1o32_28x28", [1, 28, 28],
                   [Conv("c", 32, 3, activation="relu"), Pool("p", "max_pool2d", 2)]))
    C.append(chain("fused.conv_relu_maxpool_odd_c3o10_13x13", [3, 13, 13],
                   [Conv("c", 10, 3, padding=1, activation="relu"), Pool("p", "max_pool2d", 2)]))
    C.append(chain("fused.conv_relu_sep_maxpool_k3s2p1_c3o6_30x30", [3, 30, 30],
                   [Conv("c", 6, 3, padding=1), Simple("r", "relu"),
                    Pool("p", "max_pool2d", 3, stride=2, padding=1)]))
    C.append(chain("fused.conv_avgpool_c6o10_13x13", [6, 13, 13],
                   [Conv("c", 10, 3), Pool("p", "avg_pool2d", 2)]))
    C.append(chain("fused.conv_avgpool_k3s1p1_c3o6_7x7", [3, 7, 7],
                   [Conv("c", 6, 3, padding=1), Pool("p", "avg_pool2d", 3, stride=1, padding=1,
                                                     count_include_pad=False)]))
    C.append(chain("fused.conv_relu_maxpool_k4_c3o8_30x30", [3, 30, 30],
                   [Conv("c", 8, 3, padding=1, activation="relu"), Pool("p", "max_pool2d", 4)]))
    C.append(chain("fused.conv_avgpool_k5s1_c3o6_13x13", [3, 13, 13],
                   [Conv("c", 6, 3), Pool("p", "avg_pool2d", 5, stride=1)]))
    C.append(chain("fused.conv_sigmoid_maxpool_c1o6_28x28", [1, 28, 28],
                   [Conv("c", 6, 5, padding=2, activation="sigmoid"),
                    Pool("p", "max_pool2d", 2, stride=2)]))
    C.append(chain("fused.conv_bn_relu_maxpool_c3o16_30x30", [3, 30, 30],
                   [Conv("c", 16, 3, padding=1, bias=False), BatchNorm("bn"),
                    Simple("r", "relu"), Pool("p", "max_pool2d", 3, stride=2, padding=1)]))
    C.append(chain("fused.conv_bn_add_relu_identity_c6_13x13", [6, 13, 13],
                   [Conv("c1", 6, 3, padding=1, bias=False), BatchNorm("bn1"),
                    Simple("r1", "relu"),
                    Conv("c2", 6, 3, padding=1, bias=False), BatchNorm("bn2"),
                    Add("add", inputs=["bn2", "input"]), Simple("r2", "relu")]))
    C.append(chain("fused.conv_bn_add_relu_projection_c6o10_13x13", [6, 13, 13],
                   [Conv("c1", 10, 3, stride=2, padding=1, bias=False), BatchNorm("bn1"),
                    Simple("r1", "relu"),
                    Conv("c2", 10, 3, padding=1, bias=False), BatchNorm("bn2"),
                    Conv("ds", 10, 1, stride=2, bias=False, inputs=["input"]),
                    BatchNorm("dsbn"),
                    Add("add", inputs=["bn2", "dsbn"]), Simple("r2", "relu")]))
    C.append(chain("fused.dense_relu_f576", [576], [Dense("fc", 64), Simple("r", "relu")]))
    C.append(chain("fused.dense_softmax_f64", [64], [Dense("fc", 10), Simple("s", "softmax")]))
    C.append(chain("fused.dense_bn_relu_f84", [84],
                   [Dense("fc", 20), BatchNorm("bn"), Simple("r", "relu")]))
    C.append(chain("fused.gap_flatten_dense_c10_7x7", [10, 7, 7],
                   [GlobalAvgPool("g"), Simple("f", "flatten"), Dense("fc", 5)]))
    return C

# --------------------------------------------------------------------------- sequences
# A sequence [C, L] is [N, C, 1, L] in cnnc (model input shape [C, L]); the references work
# on PyTorch's [N, C, L] and put the unit height back. Token ids are float32 integers.

def resolve_padding_1d(padding, kernel, stride, dilation, length):
    """(left, right) for the 1-D padding spellings: int, [left, right], valid/same/full."""
    ek = dilation * (kernel - 1) + 1
    if padding is None or padding == "valid":
        return (0, 0)
    if padding == "full":
        return (ek - 1, ek - 1)
    if padding == "same":
        out = -(-length // stride)
        total = max((out - 1) * stride + ek - length, 0)
        return (total // 2, total - total // 2)
    if isinstance(padding, int):
        return (padding, padding)
    return tuple(padding)


def as_sequence(x):
    """[N, C, 1, L] -> [N, C, L]."""
    assert x.dim() == 4 and x.shape[2] == 1, f"not a sequence: {list(x.shape)}"
    return x[:, :, 0, :]


class Embedding(Layer):
    op = "embedding"

    def __init__(self, name, vocab, dim, **kw):
        super().__init__(name, num_embeddings=vocab, embedding_dim=dim, **kw)

    def params(self, xs, gen):
        a = self.attrs
        return {f"{self.name}.weight": torch.randn((a["num_embeddings"], a["embedding_dim"]),
                                                   generator=gen)}

    def forward(self, xs, p):
        ids = xs[0].round().long().clamp(0, self.attrs["num_embeddings"] - 1)
        y = F.embedding(ids, p[f"{self.name}.weight"])  # [N, L, E]
        return y.permute(0, 2, 1).unsqueeze(2)


class Conv1d(Conv):
    op = "conv1d"

    def kernel_size(self):
        return (self.attrs["kernel"],)

    def forward(self, xs, p):
        a = self.attrs
        x = as_sequence(xs[0])
        stride, dil = a.get("stride") or 1, a.get("dilation") or 1
        l, r = resolve_padding_1d(a.get("padding"), a["kernel"], stride, dil, x.shape[2])
        y = F.conv1d(F.pad(x, (l, r)), p[f"{self.name}.weight"], p.get(f"{self.name}.bias"),
                     stride=stride, dilation=dil, groups=a.get("groups") or 1)
        return apply_activation(y, a.get("activation")).unsqueeze(2)


class Pool1d(Layer):
    def __init__(self, name, op, kernel, **kw):
        super().__init__(name, kernel=kernel, **kw)
        self.op = op

    def forward(self, xs, p):
        a = self.attrs
        x = as_sequence(xs[0])
        k = a["kernel"]
        s = a.get("stride") or k
        ceil = bool(a.get("ceil_mode"))
        cip = a.get("count_include_pad", True)
        l, r = resolve_padding_1d(a.get("padding"), k, s, 1, x.shape[2])
        if l == r:  # PyTorch's own semantics
            if self.op == "max_pool1d":
                y = F.max_pool1d(x, k, s, l, ceil_mode=ceil)
            else:
                y = F.avg_pool1d(x, k, s, l, ceil_mode=ceil, count_include_pad=cip)
            return y.unsqueeze(2)
        assert not ceil and cip, "reference: asymmetric 1-D padding only plain"
        if self.op == "max_pool1d":
            return F.max_pool1d(F.pad(x, (l, r), value=-math.inf), k, s).unsqueeze(2)
        return F.avg_pool1d(F.pad(x, (l, r)), k, s).unsqueeze(2)


class GlobalMaxPool(Layer):
    op = "global_max_pool"

    def forward(self, xs, p):
        return xs[0].amax(dim=(2, 3), keepdim=True)


def kmax_reference(x, k):
    """The k largest of each channel's row-major H*W values, in their original order; ties
    go to the earlier position (a stable descending sort). Without ties this is
    x.flatten(2).topk(k).indices.sort().values, gathered."""
    flat = x.flatten(2)
    order = torch.sort(flat, dim=2, descending=True, stable=True).indices[:, :, :k]
    idx = order.sort(dim=2).values
    return flat.gather(2, idx).unsqueeze(2)


class KMaxPool(Layer):
    op = "kmax_pool"

    def __init__(self, name, k, **kw):
        super().__init__(name, k=k, **kw)

    def forward(self, xs, p):
        y = kmax_reference(xs[0], self.attrs["k"])
        if not getattr(self, "ties", False):  # no ties: equal to the topk formulation
            flat = xs[0].flatten(2)
            idx = flat.topk(self.attrs["k"], dim=2).indices.sort(dim=2).values
            assert torch.equal(flat.gather(2, idx).unsqueeze(2), y)
        return y


def seq_cases(args):
    C = []
    C.append(chain("seq.embedding_v50_e8_l20", [20], [Embedding("emb", 50, 8)],
                   input_fn=token_ids(50)))
    C.append(chain("seq.embedding_clamped_ids_v7_e5_l33", [33], [Embedding("emb", 7, 5)],
                   input_fn=token_ids(7, outside=4)))
    C.append(chain("seq.embedding_v1000_e128_l64", [64], [Embedding("emb", 1000, 128)],
                   input_fn=token_ids(1000)))

    def conv1d(name, shape, out, kernel, **kw):
        C.append(chain("seq.conv1d_" + name, shape, [Conv1d("c", out, kernel, **kw)],
                       input_fn=sequence_input()))

    conv1d("k3_c4o6_l20", [4, 20], 6, 3)
    conv1d("k1_c8o5_l9", [8, 9], 5, 1)
    conv1d("k5_p2_c3o7_l31", [3, 31], 7, 5, padding=2)
    conv1d("k4_same_c3o6_l17", [3, 17], 6, 4, padding="same")
    conv1d("k3_full_c2o4_l10", [2, 10], 4, 3, padding="full")
    conv1d("k3_valid_c2o4_l10", [2, 10], 4, 3, padding="valid")
    conv1d("k3_pad_l2r0_c3o5_l12", [3, 12], 5, 3, padding=[2, 0])
    conv1d("k3_s2_p1_c6o8_l33", [6, 33], 8, 3, stride=2, padding=1)
    conv1d("k3_d2_p2_c4o4_l20", [4, 20], 4, 3, dilation=2, padding=2)
    conv1d("k3_g2_c6o4_l15", [6, 15], 4, 3, groups=2)
    conv1d("k3_dw_c5_l16", [5, 16], 5, 3, groups=5, padding=1)
    conv1d("k3_nobias_relu_c3o16_l64", [3, 64], 16, 3, bias=False, activation="relu")
    conv1d("k5_tanh_c16o32_l40", [16, 40], 32, 5, activation="tanh")
    conv1d("k7_s3_c3o5_l7", [3, 7], 5, 7, stride=3)

    def pool1d(name, op, shape, kernel, **kw):
        C.append(chain("seq." + name, shape, [Pool1d("p", op, kernel, **kw)],
                       input_fn=sequence_input()))

    for op, short in (("max_pool1d", "max1d"), ("avg_pool1d", "avg1d")):
        pool1d(f"{short}_k2_c3_l20", op, [3, 20], 2)
        pool1d(f"{short}_k3_s1_p1_c4_l9", op, [4, 9], 3, stride=1, padding=1)
        pool1d(f"{short}_k3_s2_ceil_c3_l10", op, [3, 10], 3, stride=2, ceil_mode=True)
        pool1d(f"{short}_k2_s2_p1_ceil_c2_l7", op, [2, 7], 2, stride=2, padding=1, ceil_mode=True)
        pool1d(f"{short}_k4_s3_c5_l31", op, [5, 31], 4, stride=3)
        pool1d(f"{short}_k12_c2_l40", op, [2, 40], 12)
        pool1d(f"{short}_k3_pad_l1r0_c3_l11", op, [3, 11], 3, stride=2, padding=[1, 0])
    pool1d("avg1d_k3_s2_p1_nocip_c3_l10", "avg_pool1d", [3, 10], 3, stride=2, padding=1,
           count_include_pad=False)
    for shape in ([6, 1, 62], [3, 7, 7], [5, 1, 1], [16, 13, 5]):
        C.append(chain("seq.gmp_c{}_{}x{}".format(*shape), shape, [GlobalMaxPool("g")]))
    C.append(chain("seq.gmp_sequence_c4_l30", [4, 30], [GlobalMaxPool("g")],
                   input_fn=sequence_input()))
    for k, shape in ((3, [4, 1, 20]), (1, [3, 1, 9]), (9, [3, 1, 9]), (5, [6, 4, 7]),
                     (16, [2, 1, 64])):
        C.append(chain("seq.kmax_k{}_c{}_{}x{}".format(k, *shape), shape, [KMaxPool("km", k)]))
    # Ties: small integers, so many values repeat; the earlier position wins.
    ties = KMaxPool("km", 4)
    ties.ties = True
    C.append(chain("seq.kmax_ties_k4_c5_l12", [5, 12], [ties],
                   input_fn=lambda gen, shape: torch.randint(0, 3, shape, generator=gen)
                   .float().unsqueeze(2)))
    all_equal = KMaxPool("km", 3)
    all_equal.ties = True
    C.append(chain("seq.kmax_all_equal_k3_c2_l7", [2, 7], [all_equal],
                   input_fn=lambda gen, shape: torch.ones(shape).unsqueeze(2)))
    # Kim's text CNN in miniature: embedding -> conv1d widths 2/3 -> relu -> max over time.
    C.append(chain("seq.textcnn_mini_v30_e6_l12", [12],
                   [Embedding("emb", 30, 6),
                    Conv1d("c2", 4, 2, activation="relu", inputs=["emb"]),
                    Conv1d("c3", 4, 3, activation="relu", inputs=["emb"]),
                    GlobalMaxPool("m2", inputs=["c2"]),
                    GlobalMaxPool("m3", inputs=["c3"]),
                    Concat("cat", inputs=["m2", "m3"]),
                    Simple("f", "flatten"), Dense("fc", 2)],
                   input_fn=token_ids(30)))
    relu_ties = KMaxPool("km", 4)  # relu's zeros tie
    relu_ties.ties = True
    C.append(chain("seq.conv1d_pool_kmax_flatten_c3_l24", [3, 24],
                   [Conv1d("c", 6, 3, padding=1, activation="relu"),
                    Pool1d("p", "max_pool1d", 2), relu_ties,
                    Simple("f", "flatten")], input_fn=sequence_input()))
    C.append(chain("seq.conv1d_bn_folded_c4o6_l15", [4, 15],
                   [Conv1d("c", 6, 3, padding=1), BatchNorm("bn")], input_fn=sequence_input()))
    return C


# --------------------------------------------------------------------------- pooling variants

class PoolX(Pool):
    """min_pool2d and l2_pool2d (same attributes as max_pool2d)."""

    def forward(self, xs, p):
        x = xs[0]
        k, s, ceil, (t, l, b, r) = self.window(x)
        plain = (t, l, b, r) == (0, 0, 0, 0) and not ceil
        if self.op == "min_pool2d":
            if t == b and l == r:
                return -F.max_pool2d(-x, k, s, (t, l), ceil_mode=ceil)
            return -F.max_pool2d(F.pad(-x, (l, r, t, b), value=-math.inf), k, s)
        if plain:  # torch.nn.LPPool2d(2, kernel, stride)
            return F.lp_pool2d(x, 2, k, s)
        # The sum of squares over each window (zeros in the padding; ceil mode: the
        # window clipped to the padded input), then the square root.
        sums = F.avg_pool2d(F.pad(x * x, (l, r, t, b)), k, s, ceil_mode=ceil,
                            divisor_override=1)
        return sums.sqrt()


def poolx_cases(args):
    C = []

    def pool(name, op, shape, kernel, **kw):
        C.append(chain("poolx." + name, shape, [PoolX("p", op, kernel, **kw)]))

    for op, short in (("min_pool2d", "min"), ("l2_pool2d", "l2")):
        pool(f"{short}_k2_c3_13x13", op, [3, 13, 13], 2)
        pool(f"{short}_k3_s2_p1_c6_13x13", op, [6, 13, 13], 3, stride=2, padding=1)
        pool(f"{short}_k3_s1_p1_c3_7x7", op, [3, 7, 7], 3, stride=1, padding=1)
        pool(f"{short}_k3_s2_overlap_c6_30x30", op, [6, 30, 30], 3, stride=2)
        pool(f"{short}_k2_ceil_c3_7x7", op, [3, 7, 7], 2, ceil_mode=True)
        pool(f"{short}_k3_s2_p1_ceil_c3_8x8", op, [3, 8, 8], 3, stride=2, padding=1,
             ceil_mode=True)
        pool(f"{short}_k4_c3_30x30", op, [3, 30, 30], 4)
        pool(f"{short}_k5_s2_p2_c3_13x13", op, [3, 13, 13], 5, stride=2, padding=2)
        pool(f"{short}_k2x3_s1x2_c3_7x13", op, [3, 7, 13], [2, 3], stride=[1, 2])
        pool(f"{short}_k3_s2_same_c3_13x13", op, [3, 13, 13], 3, stride=2, padding="same")
        pool(f"{short}_k3_asym_1-0-0-1_c3_13x13", op, [3, 13, 13], 3, stride=2,
             padding=[1, 0, 0, 1])
        pool(f"{short}_k3_s2_c32_56x56", op, [32, 56, 56], 3, stride=2, padding=1)
        pool(f"{short}_k1x4_seq_c4_1x20", op, [4, 1, 20], [1, 4])
    C.append(chain("poolx.min_after_conv_c3o6_13x13", [3, 13, 13],
                   [Conv("c", 6, 3, padding=1, activation="relu"), PoolX("p", "min_pool2d", 2)]))
    C.append(chain("poolx.l2_after_conv_c3o6_13x13", [3, 13, 13],
                   [Conv("c", 6, 3), PoolX("p", "l2_pool2d", 2)]))
    return C


# --------------------------------------------------------------------------- convx
# Transposed convolution, LeNet-5 connection tables, per-position bias, local response norm.

class ConvTranspose(Conv):
    """conv_transpose2d: Conv's attributes and parameters, with PyTorch's [C, O/g, kh, kw]
    weight."""
    op = "conv_transpose2d"

    def weight_shape(self, c, o, g):
        return (c, o // g) + self.kernel_size()

    def forward(self, xs, p):
        a = self.attrs
        y = F.conv_transpose2d(xs[0], p[f"{self.name}.weight"], p.get(f"{self.name}.bias"),
                               stride=pair(a.get("stride") or 1),
                               padding=pair(a.get("padding") or 0),
                               output_padding=pair(a.get("output_padding") or 0),
                               groups=a.get("groups") or 1, dilation=pair(a.get("dilation") or 1))
        return apply_activation(y, a.get("activation"))


def dense_from_connections(compact, table, in_channels):
    """The [O, C, kh, kw] weight of a connection table from the compact [K, kh, kw] one."""
    w = torch.zeros((len(table), in_channels) + tuple(compact.shape[1:]), dtype=compact.dtype)
    k = 0
    for o, row in enumerate(table):
        for c in row:
            w[o, c] = compact[k]
            k += 1
    return w


class ConvTable(Conv):
    """conv2d with `connections:`: the reference expands the compact weight itself."""

    def params(self, xs, gen):
        a = self.attrs
        kh, kw = pair(a["kernel"])
        k = sum(len(r) for r in a["connections"])
        return self.weight_and_bias(gen, (k, kh, kw), 3 * kh * kw, a["out_channels"])

    def forward(self, xs, p):
        dense = dense_from_connections(p[f"{self.name}.weight"], self.attrs["connections"],
                                       xs[0].shape[1])
        return super().forward(xs, dict(p, **{f"{self.name}.weight": dense}))


class PositionBias(Layer):
    op = "position_bias"

    def params(self, xs, gen):
        return {f"{self.name}.bias": uniform(gen, tuple(xs[0].shape[1:]), 1.0)}

    def forward(self, xs, p):
        return xs[0] + p[f"{self.name}.bias"]


class LRN(Layer):
    op = "local_response_norm"

    def forward(self, xs, p):
        a = self.attrs
        return F.local_response_norm(xs[0], a["size"], alpha=a.get("alpha", 1e-4),
                                     beta=a.get("beta", 0.75), k=a.get("k", 1.0))


LENET_C3 = [[i % 6, (i + 1) % 6, (i + 2) % 6] for i in range(6)] + \
           [[i % 6, (i + 1) % 6, (i + 2) % 6, (i + 3) % 6] for i in range(6)] + \
           [[0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5], [0, 1, 2, 3, 4, 5]]


def convx_cases(args):
    C = []
    g = "convx"
    def tconv(name, shape, out, k, **kw):
        C.append(chain(f"convx.tconv_{name}", shape, [ConvTranspose("t", out, k, **kw)], group=g))
    tconv("k3_s1_c3o4_7x7", [3, 7, 7], 4, 3)
    tconv("k3_s2_p1_op1_c4o6_7x7", [4, 7, 7], 6, 3, stride=2, padding=1, output_padding=1)
    tconv("k4_s2_p1_c8o3_5x6", [8, 5, 6], 3, 4, stride=2, padding=1)
    tconv("k2_s2_c16o16_7x7", [16, 7, 7], 16, 2, stride=2)
    tconv("k5_s3_p2_op2_c2o5_4x4", [2, 4, 4], 5, 5, stride=3, padding=2, output_padding=2)
    tconv("k3x2_s21_p10_c3o4_6x5", [3, 6, 5], 4, [3, 2], stride=[2, 1], padding=[1, 0])
    tconv("k3_d2_p2_c3o4_6x6", [3, 6, 6], 4, 3, dilation=2, padding=2)
    tconv("k3_g2_s2_c4o6_5x5", [4, 5, 5], 6, 3, stride=2, groups=2)
    tconv("k3_dw_s2_p1_c8_9x9_nobias", [8, 9, 9], 8, 3, stride=2, padding=1, groups=8,
          bias=False)
    tconv("k3_s2_relu_c32o32_6x6", [32, 6, 6], 32, 3, stride=2, activation="relu")
    tconv("k1_s1_c5o7_3x3_tanh", [5, 3, 3], 7, 1, activation="tanh")
    tconv("k4_p5_c2o3_10x10", [2, 10, 10], 3, 4, padding=5)
    C.append(chain("convx.table_lenet_c3_14x14", [6, 14, 14],
                   [ConvTable("c3", 16, 5, connections=LENET_C3, activation="tanh")], group=g))
    C.append(chain("convx.table_p1_s2_nobias_c4o3_9x9", [4, 9, 9],
                   [ConvTable("c", 3, 3, padding=1, stride=2, bias=False,
                              connections=[[3, 0], [1], [0, 1, 2, 3]])], group=g))
    C.append(chain("convx.table_c2o20_8x8", [2, 8, 8],
                   [ConvTable("c", 20, 3, connections=[[i % 2] for i in range(19)] + [[1, 0]])],
                   group=g))
    C.append(chain("convx.posbias_c1_19x19", [1, 19, 19], [PositionBias("pb")], group=g))
    C.append(chain("convx.conv1x1_posbias_c48_19x19", [48, 19, 19],
                   [Conv("c", 1, 1, bias=False), PositionBias("pb"), Simple("f", "flatten"),
                    Simple("s", "softmax")], group=g))
    C.append(chain("convx.conv_posbias_relu_c3o5_6x7", [3, 6, 7],
                   [Conv("c", 5, 3, padding=1), PositionBias("pb"), Simple("r", "relu")],
                   group=g))
    for name, shape, attrs in [
            ("size5_c16_9x9", [16, 9, 9], dict(size=5)),
            ("size5_alexnet_c96_13x13", [96, 13, 13], dict(size=5, alpha=1e-4, beta=0.75, k=2.0)),
            ("size2_c5_6x6_beta05", [5, 6, 6], dict(size=2, alpha=0.5, beta=0.5, k=1.0)),
            ("size3_c4_5x5_beta1_k03", [4, 5, 5], dict(size=3, alpha=2.0, beta=1.0, k=0.3)),
            ("size4_c7_4x9_beta13", [7, 4, 9], dict(size=4, alpha=1.5, beta=1.3, k=1.5)),
            ("size1_c3_5x5", [3, 5, 5], dict(size=1, alpha=0.8)),
            ("size9_c4_3x3", [4, 3, 3], dict(size=9, alpha=3.0, beta=0.75)),
    ]:
        C.append(chain(f"convx.lrn_{name}", shape, [LRN("lrn", **attrs)], group=g,
                       input_fn=scaled_input(2.0)))
    C.append(chain("convx.conv_relu_lrn_pool_c3o8_12x12", [3, 12, 12],
                   [Conv("c", 8, 3, activation="relu"),
                    LRN("lrn", size=5, alpha=0.01, beta=0.75, k=2.0),
                    Pool("p", "max_pool2d", 3, stride=2)], group=g))
    return C


GROUPS = {"conv": conv_cases, "pool": pool_cases, "dense": dense_cases, "act": act_cases,
          "graph": graph_cases, "fused": fused_cases, "seq": seq_cases, "poolx": poolx_cases,
          "convx": convx_cases}

if __name__ == "__main__":
    sys.exit(harness.main_for(GROUPS, "cnnc e2e op tests", "e2e ops"))
