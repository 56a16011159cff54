#!/usr/bin/python3
"""Gradient checks of cnnc's compiled train step, per op, against PyTorch autograd.

What it tests: for each case a tiny YAML model is built around the op under test (usually
input -> conv `c0` (so the op's input gradient reaches a parameter) -> op -> flatten ->
dense `fc` -> loss) with `train: {loss: cross_entropy, optimizer: {name: sgd, lr: 1.0}}`:
plain SGD without momentum or weight decay, so after ONE train step (run through the C
runtime, through the cnnc Python package) every parameter satisfies p_new = p_old - grad, i.e.
grad = p_old - p_new. These gradients (and the step's loss and correct count) are compared
with PyTorch autograd in float64 on the very same float32 parameters, inputs and integer
labels (mean softmax cross-entropy over the batch, computed from the logits before a final
softmax, as docs/model-format.md says; `mse` is mean squared error against one-hot labels
over batch x classes). A value passes when

    max |cnnc - reference| <= 1e-4 * max(1, max |reference|)        (per parameter tensor)

Batch norm is checked in training mode (batch statistics) and its running_mean /
running_var after the step must equal PyTorch's update (momentum, unbiased variance).
Dropout's mask cannot match PyTorch's: its cases give each batch item inputs on a disjoint
block of features, so the zero pattern of d1.weight's gradient reveals each item's mask;
the reference then uses that mask (scaled by 1/(1-rate)) and every gradient, the loss and the
kept fraction must agree - i.e. the forward zeros, the backward zeros and the scaling are
consistent. Rate 0 must equal no dropout. For conv and max pooling the PyTorch gradient is
also checked against float64 central finite differences (so the reference itself is
validated), and cnnc against both. Each case runs at batch 1 and 3 (some also 2) on one
compiled model.

What it assumes: /usr/bin/python3 with Debian's torch 1.13, numpy and PyYAML; `cnnc` in
--bin-dir and the cnnc package in --python-dir (default <bin-dir>/../python); parameters
are PyTorch-shaped (conv OIHW, dense [out, in]). Everything is seeded from the case name.
Run: /usr/bin/python3 test/e2e/test_grads.py [--bin-dir build/bin] [-k name] [--keep]
     [--perturb-reference]   (adds an error to every reference: every case must then FAIL)
"""

import argparse
import concurrent.futures
import math
import os
import shutil
import sys
import tempfile
import time
import traceback

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (ACTIVATIONS, compare, model_yaml, pair, resolve_padding,  # noqa: E402
                     seed_of, sequence_input, token_ids)

torch.set_num_threads(1)


# --------------------------------------------------------------------------- reference

def make_param(gen, kind, shape, fan_in=1):
    """Seeded float32 parameter values (a little larger than PyTorch's defaults)."""
    if kind == "weight":
        return (torch.rand(shape, generator=gen) * 2 - 1) * (1.5 / math.sqrt(fan_in))
    if kind == "bias":
        return (torch.rand(shape, generator=gen) * 2 - 1) * 0.5
    if kind == "bn.weight":
        return torch.rand(shape, generator=gen) + 0.5
    if kind == "bn.bias":
        return torch.randn(shape, generator=gen) * 0.3
    if kind == "bn.running_mean":
        return torch.randn(shape, generator=gen) * 0.3
    if kind == "bn.running_var":
        return torch.rand(shape, generator=gen) + 0.5
    if kind == "prelu":  # around nn.PReLU's 0.25, some negative
        return torch.rand(shape, generator=gen) - 0.25
    if kind == "embedding":  # nn.Embedding's N(0, 1)
        return torch.randn(shape, generator=gen)
    raise ValueError(kind)


def _f64(t):
    return t if t.dtype == torch.float64 else t.double()


class Reference:
    """Runs a list of YAML layer maps in PyTorch (float64). Parameters are created on the
    first call (from `gen`), named like cnnc names them (<layer>.weight, ...)."""

    def __init__(self, layers, output=None):
        self.layers = [dict(l) for l in layers]
        for i, l in enumerate(self.layers):
            if "name" not in l:  # the tests always name their layers; be safe anyway
                l["name"] = f"{l['op']}_{i + 1}"
        self.output = output or self.layers[-1]["name"]
        self.order = []  # parameter names in creation order

    def _param(self, params, gen, name, kind, shape, fan_in=1):
        if name not in params:
            if gen is None:
                raise KeyError(f"parameter {name} missing")
            params[name] = make_param(gen, kind, shape, fan_in).float()
            self.order.append(name)
        return params[name]

    def _weight_bias(self, params, gen, l, shape, fan_in, outputs):
        """Layer l's <name>.weight of `shape` and, unless `bias: false`, its <name>.bias of
        [outputs] (created when missing), as float64; the bias is None without one."""
        w = self._param(params, gen, l["name"] + ".weight", "weight", shape, fan_in)
        b = (self._param(params, gen, l["name"] + ".bias", "bias", (outputs,), fan_in)
             if l.get("bias", True) else None)
        return _f64(w), None if b is None else _f64(b)

    def forward(self, x, params, gen=None, training=True, masks=None, stats=None,
                return_logits=False):
        """x: float64 tensor. params: dict name -> tensor (float64 leaf tensors for autograd;
        created as float32 from `gen` when missing). stats: dict receiving updated running
        statistics (batch norm, training). masks: dict layer name -> dropout mask (0/1).
        Returns the output (and the pre-softmax logits if asked)."""
        P = lambda n: _f64(params[n])
        vals = {"input": x}
        prev = x
        pre_softmax = {}
        for l in self.layers:
            op, name = l["op"], l["name"]
            ins = l.get("inputs")
            if ins is None:
                args = [prev]
            else:
                args = [vals[i] for i in ([ins] if isinstance(ins, str) else ins)]
            a = args[0]
            if op == "conv2d" and "connections" in l:
                # A connection table: the compact [K, kh, kw] weight expanded to OIHW.
                table = l["connections"]
                kh, kw = pair(l["kernel"])
                o = l["out_channels"]
                fan = sum(len(r) for r in table) * kh * kw // o
                compact, bias = self._weight_bias(params, gen, l, (sum(len(r) for r in table),
                                                                   kh, kw), fan, o)
                dense, k = [], 0
                for r in table:
                    row = [compact.new_zeros((kh, kw))] * a.shape[1]
                    for c in r:
                        row[c] = compact[k]
                        k += 1
                    dense.append(torch.stack(row))
                t, le, b, r = resolve_padding(l.get("padding", 0), l["kernel"], l.get("stride", 1),
                                              1, a.shape[2:])
                y = F.conv2d(F.pad(a, (le, r, t, b)), torch.stack(dense), bias,
                             stride=pair(l.get("stride", 1)))
            elif op == "position_bias":
                self._param(params, gen, name + ".bias", "bias", tuple(a.shape[1:]))
                y = a + P(name + ".bias")
            elif op == "local_response_norm":
                y = F.local_response_norm(a, l["size"], alpha=l.get("alpha", 1e-4),
                                          beta=l.get("beta", 0.75), k=l.get("k", 1.0))
            elif op in ("conv2d", "conv_transpose2d"):
                cin, g, o = a.shape[1], l.get("groups", 1), l["out_channels"]
                kh, kw = pair(l["kernel"])
                shape = (o, cin // g, kh, kw) if op == "conv2d" else (cin, o // g, kh, kw)
                weight, bias = self._weight_bias(params, gen, l, shape, cin // g * kh * kw, o)
                stride, dilation = pair(l.get("stride", 1)), pair(l.get("dilation", 1))
                if op == "conv_transpose2d":
                    y = F.conv_transpose2d(a, weight, bias, stride=stride,
                                           padding=pair(l.get("padding", 0)),
                                           output_padding=pair(l.get("output_padding", 0)),
                                           groups=g, dilation=dilation)
                else:
                    t, le, b, r = resolve_padding(l.get("padding", 0), l["kernel"],
                                                  l.get("stride", 1), l.get("dilation", 1),
                                                  a.shape[2:])
                    y = F.conv2d(F.pad(a, (le, r, t, b)), weight, bias, stride=stride,
                                 dilation=dilation, groups=g)
            elif op == "dense":
                fin = a.shape[1]
                o = l["out_features"]
                y = F.linear(a, *self._weight_bias(params, gen, l, (o, fin), fin, o))
            elif op in ("relu", "sigmoid", "tanh", "hardswish", "hardsigmoid", "silu"):
                y = ACTIVATIONS[op](a)
            elif op == "leaky_relu":
                y = F.leaky_relu(a, l.get("negative_slope", 0.01))
            elif op == "relu6":
                y = F.relu6(a)
            elif op == "softmax":
                pre_softmax[name] = a
                y = torch.softmax(a, dim=1)
            elif op in ("max_pool2d", "avg_pool2d"):
                k = pair(l["kernel"])
                s = pair(l.get("stride", l["kernel"]))
                dil = pair(l.get("dilation", 1))
                pad = resolve_padding(l.get("padding", 0), k, s, dil, a.shape[2:])
                if pad[0] != pad[2] or pad[1] != pad[3]:
                    if op == "avg_pool2d":
                        raise NotImplementedError("asymmetric avg_pool2d padding")
                    a = F.pad(a, (pad[1], pad[3], pad[0], pad[2]), value=-math.inf)
                    pad = (0, 0, 0, 0)
                if op == "max_pool2d":
                    y = F.max_pool2d(a, k, s, (pad[0], pad[1]), dilation=dil,
                                     ceil_mode=l.get("ceil_mode", False))
                else:
                    y = F.avg_pool2d(a, k, s, (pad[0], pad[1]), ceil_mode=l.get("ceil_mode", False),
                                     count_include_pad=l.get("count_include_pad", True))
            elif op == "global_avg_pool":
                y = a.mean(dim=(2, 3), keepdim=True)
            elif op == "embedding":
                v, e = l["num_embeddings"], l["embedding_dim"]
                self._param(params, gen, name + ".weight", "embedding", (v, e))
                ids = a.round().long().clamp(0, v - 1)
                y = F.embedding(ids, P(name + ".weight")).permute(0, 2, 1).unsqueeze(2)
            elif op == "conv1d":
                seq = a[:, :, 0, :]  # [N, C, 1, L] -> [N, C, L]
                cin, g, k = seq.shape[1], l.get("groups", 1), l["kernel"]
                o = l["out_channels"]
                weight, bias = self._weight_bias(params, gen, l, (o, cin // g, k), cin // g * k, o)
                s_, d = l.get("stride", 1), l.get("dilation", 1)
                _, le, _, r = resolve_padding(l.get("padding", 0), (1, k), (1, s_), (1, d),
                                              (1, seq.shape[2]))
                if isinstance(l.get("padding"), list):
                    le, r = l["padding"]
                y = F.conv1d(F.pad(seq, (le, r)), weight, bias, stride=s_, dilation=d,
                             groups=g).unsqueeze(2)
            elif op in ("max_pool1d", "avg_pool1d"):
                seq = a[:, :, 0, :]
                k, s_, p_ = l["kernel"], l.get("stride", l["kernel"]), l.get("padding", 0)
                if op == "max_pool1d":
                    y = F.max_pool1d(seq, k, s_, p_, ceil_mode=l.get("ceil_mode", False))
                else:
                    y = F.avg_pool1d(seq, k, s_, p_, ceil_mode=l.get("ceil_mode", False),
                                     count_include_pad=l.get("count_include_pad", True))
                y = y.unsqueeze(2)
            elif op == "global_max_pool":
                flat = a.flatten(2)
                idx = flat.argmax(dim=2, keepdim=True)  # first maximum
                y = flat.gather(2, idx).unsqueeze(3)
            elif op == "kmax_pool":
                flat = a.flatten(2)
                order = torch.sort(flat.detach(), dim=2, descending=True, stable=True).indices
                idx = order[:, :, :l["k"]].sort(dim=2).values
                y = flat.gather(2, idx).unsqueeze(2)
            elif op in ("min_pool2d", "l2_pool2d"):
                k = pair(l["kernel"])
                s_ = pair(l.get("stride", l["kernel"]))
                t, le, b, r = resolve_padding(l.get("padding", 0), k, s_, 1, a.shape[2:])
                ceil = l.get("ceil_mode", False)
                if op == "min_pool2d":
                    y = -F.max_pool2d(F.pad(-a, (le, r, t, b), value=-math.inf), k, s_,
                                      ceil_mode=ceil)
                else:
                    y = F.avg_pool2d(F.pad(a * a, (le, r, t, b)), k, s_, ceil_mode=ceil,
                                     divisor_override=1).sqrt()
            elif op == "flatten":
                y = a.reshape(a.shape[0], -1)
            elif op == "add":
                y = args[0]
                for other in args[1:]:
                    y = y + other
            elif op == "mul":
                y = args[0]
                for other in args[1:]:
                    y = y * other
            elif op in ("sub", "div"):
                y = args[0] - args[1] if op == "sub" else args[0] / args[1]
            elif op == "pad":
                pd = l["padding"]
                t_, le_, b_, r_ = ([pd] * 4 if isinstance(pd, int) else
                                   [pd[0], pd[1], pd[0], pd[1]] if len(pd) == 2 else pd)
                y = F.pad(a, (le_, r_, t_, b_), value=l.get("value", 0.0))
            elif op == "clip":
                y = F.hardtanh(a, l.get("min", -math.inf), l.get("max", math.inf))
            elif op == "affine":
                y = l.get("scale", 1.0) * a + l.get("shift", 0.0)
            elif op == "prelu":
                k = l.get("num_parameters", 1)
                self._param(params, gen, name + ".weight", "prelu", (k,))
                y = F.prelu(a, P(name + ".weight"))
            elif op == "upsample":
                mode = l.get("mode", "nearest")
                y = F.interpolate(a, scale_factor=l.get("scale_factor", 2), mode=mode,
                                  **({"align_corners": l.get("align_corners", False)}
                                     if mode == "bilinear" else {}))
            elif op == "channel_shuffle":
                g = l["groups"]
                n_, c_, h_, w_ = a.shape
                y = a.reshape(n_, g, c_ // g, h_, w_).transpose(1, 2).reshape(n_, c_, h_, w_)
            elif op == "slice_channels":
                y = a[:, l.get("begin", 0):l["end"]]
            elif op == "concat":
                y = torch.cat(args, dim=1)
            elif op == "batch_norm":
                c = a.shape[1]
                for slot in ("weight", "bias", "running_mean", "running_var"):
                    self._param(params, gen, f"{name}.{slot}", "bn." + slot, (c,))
                rm = P(name + ".running_mean").detach().clone()
                rv = P(name + ".running_var").detach().clone()
                y = F.batch_norm(a, rm, rv, P(name + ".weight"), P(name + ".bias"),
                                 training=training, momentum=l.get("momentum", 0.1),
                                 eps=l.get("epsilon", 1e-5))
                if stats is not None and training:
                    stats[name + ".running_mean"] = rm
                    stats[name + ".running_var"] = rv
            elif op == "dropout":
                rate = l.get("rate", 0.5)
                if not training or rate == 0:
                    y = a
                else:
                    if masks is None or name not in masks:
                        raise KeyError(f"dropout {name}: no mask given")
                    y = a * masks[name].to(a.dtype) / (1.0 - rate)
            else:
                raise NotImplementedError(op)
            act = l.get("activation")
            if act:
                if act == "softmax":
                    pre_softmax[name] = y
                y = ACTIVATIONS[act](y)
            vals[name] = y
            prev = y
        out = vals[self.output]
        if return_logits:
            return out, pre_softmax.get(self.output, out)
        return out

    def loss(self, x, labels, params, loss="cross_entropy", **kw):
        """(loss, scores used for the correct count) as cnnc defines them."""
        out, logits = self.forward(x, params, return_logits=True, **kw)
        if loss == "cross_entropy":
            return F.cross_entropy(logits, labels), logits
        onehot = F.one_hot(labels, out.shape[1]).to(out.dtype)
        return F.mse_loss(out, onehot), out


def reference_step(ref, x32, labels, params32, loss="cross_entropy", masks=None):
    """PyTorch float64 gradients of every parameter, the loss, the correct count and
    the updated running statistics."""
    p64 = {k: v.detach().double().clone().requires_grad_(not (".running_" in k))
           for k, v in params32.items()}
    stats = {}
    L, scores = ref.loss(x32.double(), labels, p64, loss=loss, masks=masks, stats=stats)
    trainable = [k for k in p64 if ".running_" not in k]
    grads = torch.autograd.grad(L, [p64[k] for k in trainable], allow_unused=True)
    out = {}
    for k, g in zip(trainable, grads):
        out[k] = torch.zeros_like(p64[k]) if g is None else g.detach()
    correct = int((scores.argmax(dim=1) == labels).sum())
    return out, float(L), correct, {k: v.detach() for k, v in stats.items()}


# --------------------------------------------------------------------------- comparison

def finite_difference_check(ref, x32, labels, params32, names, grads, max_elems=60, eps=1e-6):
    """Central differences in float64 for (up to max_elems elements of) each named parameter;
    returns {name: (fd gradient at those indices, indices)} and checks torch against it."""
    p64 = {k: v.detach().double().clone() for k, v in params32.items()}
    x64 = x32.double()
    results, msgs = {}, []

    def loss_at():
        with torch.no_grad():
            return float(ref.loss(x64, labels, p64)[0])

    for name in names:
        flat = p64[name].view(-1)
        n = flat.numel()
        idx = list(range(n)) if n <= max_elems else \
            sorted(set(np.linspace(0, n - 1, max_elems).astype(int).tolist()))
        fd = np.empty(len(idx))
        for j, i in enumerate(idx):
            old = float(flat[i])
            flat[i] = old + eps
            lp = loss_at()
            flat[i] = old - eps
            lm = loss_at()
            flat[i] = old
            fd[j] = (lp - lm) / (2 * eps)
        tg = grads[name].reshape(-1).numpy()[idx]
        # Torch vs finite differences: FD error is O(eps^2 + ulp/eps) ~ 1e-9 relative.
        err = float(np.max(np.abs(tg - fd)))
        scale = max(1.0, float(np.max(np.abs(fd))))
        if err > 1e-6 * scale:
            msgs.append(f"finite differences disagree with torch on {name}: {err:.3e}")
        results[name] = (fd, idx, err / scale)
    return results, msgs


# --------------------------------------------------------------------------- cases

class GradCase:
    """A model around the op(s) under test.

    layers:     YAML layer maps (the last one's output has `classes` columns)
    batches:    batch sizes tried, each with fresh parameters on one compiled model
    fd:         parameter names whose torch gradient is also checked by finite differences
    input_fn:   (gen, [batch] + input_shape) -> float32 input (default randn)
    dropout:    name of a dropout layer whose mask is recovered from d1.weight's gradient
    branches:   for a merged case, the single-branch cases it was built from (rerun one by
                one when the merged model fails, to say which op is wrong)
    """

    def __init__(self, name, group, input_shape, layers, loss="cross_entropy", batches=(1, 3),
                 fd=(), input_fn=None, dropout=None, output=None, branches=None):
        self.name, self.group, self.input_shape, self.layers = name, group, list(input_shape), layers
        self.loss, self.batches, self.fd, self.input_fn = loss, batches, list(fd), input_fn
        self.dropout, self.output, self.branches = dropout, output, branches or []

    def yaml(self):
        train = {"loss": self.loss, "optimizer": {"name": "sgd", "lr": 1.0}}
        return model_yaml(self.name.replace("/", "_").replace(".", "_"), self.input_shape,
                          self.layers, self.output, train)


def merged(name, group, input_shape, branches, classes=5, batches=(1, 3), spatial=True):
    """One model holding several independent branches read from the input: branch `label`'s
    layers are renamed `<label>.<layer>` (so each gradient names its op), each branch is
    flattened (if `spatial`), the branches are concatenated and one dense `fc` gives the
    logits. branches: list of (label, layers, fd parameter names relative to the branch)."""
    def build(sel):
        layers, tails, fd = [], [], []
        for label, blayers, bfd in sel:
            prev = "input"
            for l in blayers:
                l = dict(l)
                ins = l.get("inputs")
                if ins is None:
                    l["inputs"] = prev
                elif isinstance(ins, str):
                    l["inputs"] = ins if ins == "input" else f"{label}.{ins}"
                else:
                    l["inputs"] = [i if i == "input" else f"{label}.{i}" for i in ins]
                l["name"] = prev = f"{label}.{l['name']}"
                layers.append(l)
            if spatial:
                layers.append(dict(name=f"{label}.flat", op="flatten", inputs=prev))
                prev = f"{label}.flat"
            tails.append(prev)
            fd += [f"{label}.{n}" for n in bfd]
        if len(tails) > 1:
            layers.append(dict(name="cat", op="concat", inputs=tails))
        layers.append(dict(name="fc", op="dense", out_features=classes))
        layers[0] = {k: v for k, v in layers[0].items() if not (k == "inputs" and v == "input")}
        return layers, fd

    layers, fd = build(branches)
    subs = []
    if len(branches) > 1:
        for b in branches:
            blayers, bfd = build([b])
            subs.append(GradCase(f"{name}[{b[0]}]", group, input_shape, blayers,
                                 batches=batches, fd=bfd))
    return GradCase(name, group, input_shape, layers, batches=batches, fd=fd, branches=subs)


def C(name, **kw):
    return dict(name=name, op="conv2d", **kw)


def head(classes=5):
    return [dict(name="flat", op="flatten"), dict(name="fc", op="dense", out_features=classes)]


def conv_branch(label, channels, attrs, fd=False):
    """c0 (3x3, pad 1, `channels` outputs) then the conv under test: its input gradient
    (rot180(W) wide-convolved with delta) reaches c0.weight."""
    return (label, [C("c0", out_channels=channels, kernel=3, padding=1), C("conv", **attrs)],
            ["conv.weight", "c0.weight"] if fd else [])


def conv_cases():
    return [
        merged("conv/a_8x8", "conv", [2, 8, 8], [
            conv_branch("k1", 3, dict(out_channels=4, kernel=1)),
            conv_branch("k3_p1", 3, dict(out_channels=5, kernel=3, padding=1)),
            conv_branch("k5_p2_s2", 3, dict(out_channels=4, kernel=5, padding=2, stride=2)),
            conv_branch("k3_s2_p1", 3, dict(out_channels=4, kernel=3, stride=2, padding=1),
                        fd=True),
            conv_branch("k3_s2_p0", 3, dict(out_channels=4, kernel=3, stride=2)),
            conv_branch("k3_asym_pad", 3, dict(out_channels=4, kernel=3, padding=[0, 1, 2, 1])),
            conv_branch("k3_dil2", 3, dict(out_channels=4, kernel=3, dilation=2, padding=2),
                        fd=True),
            conv_branch("k1x3_s21", 3, dict(out_channels=4, kernel=[1, 3], stride=[2, 1],
                                            padding=[0, 1])),
            conv_branch("nobias", 3, dict(out_channels=4, kernel=3, bias=False)),
        ]),
        merged("conv/b_7x9", "conv", [2, 7, 9], [
            conv_branch("k5_p0", 2, dict(out_channels=3, kernel=5)),
            conv_branch("k4_same_s2", 3, dict(out_channels=4, kernel=4, stride=2, padding="same")),
            conv_branch("k3_same", 3, dict(out_channels=3, kernel=3, padding="same")),
            conv_branch("k2_full", 2, dict(out_channels=3, kernel=2, padding="full")),
            conv_branch("k3_s2_p0_odd", 3, dict(out_channels=4, kernel=3, stride=2)),
        ]),
        merged("conv/c_groups", "conv", [3, 7, 7], [
            conv_branch("groups2", 4, dict(out_channels=6, kernel=3, padding=1, groups=2)),
            conv_branch("depthwise", 4, dict(out_channels=4, kernel=3, padding=1, groups=4)),
            conv_branch("depthwise_s2_x2", 4, dict(out_channels=8, kernel=3, stride=2, padding=1,
                                                   groups=4)),
        ]),
        # Many channels: vectorized over channels in some schedules.
        merged("conv/d_wide_c16", "conv", [3, 5, 5], [
            conv_branch("c16_17", 16, dict(out_channels=17, kernel=3, padding=1)),
        ]),
        # The first layer's own gradient with several input channels and a 5x5 kernel.
        GradCase("conv/first_layer_k5", "conv", [3, 8, 8],
                 [C("conv", out_channels=4, kernel=5, padding=1)] + head(), batches=(1, 2, 3)),
    ]


def pool_branch(label, channels, attrs, fd=False):
    return (label, [C("c0", out_channels=channels, kernel=3, padding=1), dict(name="pool", **attrs)],
            ["c0.weight"] if fd else [])


def pool_cases():
    return [
        merged("pool/a_8x8", "pool", [1, 8, 8], [
            pool_branch("max_k2s2", 3, dict(op="max_pool2d", kernel=2), fd=True),
            pool_branch("max_k3s2p1", 3, dict(op="max_pool2d", kernel=3, stride=2, padding=1),
                        fd=True),
            pool_branch("max_k3s2_ceil", 3, dict(op="max_pool2d", kernel=3, stride=2,
                                                 ceil_mode=True)),
            pool_branch("avg_k2s2", 3, dict(op="avg_pool2d", kernel=2)),
            pool_branch("avg_k3s2p1_incl", 3, dict(op="avg_pool2d", kernel=3, stride=2, padding=1)),
            pool_branch("avg_k3s2p1_excl", 3, dict(op="avg_pool2d", kernel=3, stride=2, padding=1,
                                                   count_include_pad=False)),
            pool_branch("avg_k3s2_ceil", 2, dict(op="avg_pool2d", kernel=3, stride=2,
                                                 ceil_mode=True)),
            pool_branch("avg_k3s2p1_ceil_excl", 2, dict(op="avg_pool2d", kernel=3, stride=2,
                                                        padding=1, ceil_mode=True,
                                                        count_include_pad=False)),
        ]),
        merged("pool/b_7x9", "pool", [1, 7, 9], [
            pool_branch("max_k2s2_odd", 3, dict(op="max_pool2d", kernel=2)),
            pool_branch("max_k2s2_ceil_odd", 2, dict(op="max_pool2d", kernel=2, ceil_mode=True)),
            pool_branch("max_k3s1_overlap", 2, dict(op="max_pool2d", kernel=3, stride=1)),
            pool_branch("max_k2x3_s21", 2, dict(op="max_pool2d", kernel=[2, 3], stride=[2, 1])),
            pool_branch("max_asym_pad", 2, dict(op="max_pool2d", kernel=2, stride=2,
                                                padding=[1, 0, 1, 0])),
            pool_branch("avg_k3s1_overlap", 2, dict(op="avg_pool2d", kernel=3, stride=1)),
            pool_branch("avg_k2s2_ceil_odd", 2, dict(op="avg_pool2d", kernel=2, ceil_mode=True)),
            pool_branch("global_avg", 4, dict(op="global_avg_pool")),
        ]),
    ]


def dense_cases():
    D = lambda name, n, **kw: dict(name=name, op="dense", out_features=n, **kw)
    F_ = lambda: dict(name="flat", op="flatten")
    return [
        GradCase("dense/two_layers", "dense", [12], [D("d1", 9), D("fc", 5)]),
        GradCase("dense/in108_nobias", "dense", [108], [D("d1", 20, bias=False), D("fc", 4)]),
        GradCase("dense/in1", "dense", [1], [D("d1", 6, activation="tanh"), D("fc", 3)]),
        GradCase("dense/wide_37", "dense", [37], [D("d1", 33, activation="relu"), D("fc", 7)],
                 batches=(1, 3, 5)),
        GradCase("dense/from_4d_flatten", "dense", [2, 5, 5], [F_(), D("d1", 8), D("fc", 5)]),
        GradCase("dense/final_softmax", "dense", [10],
                 [D("d1", 8, activation="relu"), D("fc", 6, activation="softmax")]),
    ]


def act_cases():
    D = lambda name, n, **kw: dict(name=name, op="dense", out_features=n, **kw)
    c0 = lambda: C("c0", out_channels=3, kernel=3, padding=1)
    return [
        merged("act/a_4d", "act", [2, 6, 5], [
            (act, [c0(), dict(name="act", op=act)], []) for act in ("relu", "sigmoid", "tanh")
        ] + [("leaky_relu", [c0(), dict(name="act", op="leaky_relu", negative_slope=0.2)], []),
             ("leaky_relu_negative", [c0(), dict(name="act", op="leaky_relu", negative_slope=-0.7)],
              []),
             ("leaky_relu_attr", [C("c0", out_channels=3, kernel=3, activation="leaky_relu")], []),
             ("relu6", [c0(), dict(name="act", op="relu6")], []),
             # a slope of -7 maps negative inputs far above 6: relu6's clipped top is reached
             ("relu6_top", [c0(), dict(name="neg", op="leaky_relu", negative_slope=-7.0),
                            dict(name="act", op="relu6")], []),
        ] + [
             # slopes of 9 and -9 stretch the conv's outputs past both kinks (-3 and 3)
             (f"{act}_{side}", [c0(), dict(name="wide", op="leaky_relu", negative_slope=slope),
                                dict(name="act", op=act)], [])
             for act in ("hardswish", "hardsigmoid", "silu")
             for side, slope in (("low", 9.0), ("high", -9.0))
        ] + [("conv_attr", [C("c0", out_channels=3, kernel=3, activation="relu"),
                            C("c1", out_channels=4, kernel=3, padding=1, activation="sigmoid")],
              [])]),
        merged("act/b_dense", "act", [10], [
            (f"{act}_attr", [D("d1", 13, activation=act)], [])
            for act in ("relu", "leaky_relu", "relu6", "hardswish", "hardsigmoid", "silu", "sigmoid",
                        "tanh")
        ] + [("softmax_mid", [D("d1", 7), dict(name="sm", op="softmax"), D("d2", 4)], []),
             ("softmax_mid_attr", [D("d1", 9, activation="softmax"), D("d2", 4, activation="tanh")],
              [])], spatial=False),
    ]


def graph_cases():
    D = lambda name, n, **kw: dict(name=name, op="dense", out_features=n, **kw)
    return [
        GradCase("graph/add_residual", "graph", [3, 6, 6],
                 [C("c0", out_channels=4, kernel=3, padding=1),
                  C("c1", out_channels=4, kernel=3, padding=1, activation="relu"),
                  C("c2", out_channels=4, kernel=3, padding=1),
                  dict(name="add", op="add", inputs=["c2", "c0"]),
                  dict(name="relu", op="relu")] + head()),
        GradCase("graph/mul_gate", "graph", [3, 6, 6],
                 [C("c0", out_channels=4, kernel=3, padding=1),
                  C("g", out_channels=4, kernel=1, activation="sigmoid"),
                  dict(name="m", op="mul", inputs=["c0", "g"])] + head()),
        # prelu, a squeeze-and-excitation scale [N, C, 1, 1] broadcast by mul and sub, div,
        # affine, clip, pad, channel shuffle, channel slices, nearest and bilinear upsampling
        GradCase("graph/modern", "graph", [3, 4, 4],
                 [C("c0", out_channels=4, kernel=3, padding=1),
                  dict(name="p", op="prelu", num_parameters=4),
                  dict(name="gap", op="global_avg_pool"),
                  C("se", out_channels=4, kernel=1, activation="sigmoid"),
                  dict(name="m", op="mul", inputs=["p", "se"]),
                  dict(name="d", op="sub", inputs=["m", "se"]),
                  dict(name="a", op="affine", scale=-0.5, shift=1.0),
                  dict(name="cl", op="clip", min=1.0, max=1.2),
                  dict(name="pd", op="pad", padding=[1, 0, 0, 1], value=0.3),
                  dict(name="sh", op="channel_shuffle", groups=2),
                  dict(name="ps", op="prelu"),
                  dict(name="up", op="upsample", scale_factor=[2, 3], mode="bilinear"),
                  dict(name="near", op="upsample", scale_factor=[2, 3], inputs="ps"),
                  dict(name="corner", op="upsample", scale_factor=[2, 3], mode="bilinear",
                       align_corners=True, inputs="ps"),
                  C("den", out_channels=4, kernel=1, activation="sigmoid", inputs="near"),
                  dict(name="shift", op="affine", shift=1.5),
                  dict(name="q", op="div", inputs=["corner", "shift"]),
                  dict(name="lo", op="slice_channels", end=3, inputs="q"),
                  dict(name="hi", op="slice_channels", begin=1, end=4, inputs="up"),
                  dict(name="sum", op="add", inputs=["lo", "hi"])] + head()),
        # dilated max pooling: overlapping and padded (3x3 taps 2 apart), then a 4x3
        # window of 12 taps (the argmax form) with dilation [1, 2]
        GradCase("graph/max_pool_dilated", "graph", [2, 9, 9],
                 [C("c0", out_channels=3, kernel=3, padding=1),
                  dict(name="mp", op="max_pool2d", kernel=3, stride=1, padding=1, dilation=2),
                  dict(name="mp2", op="max_pool2d", kernel=[4, 3], stride=2, dilation=[1, 2])]
                 + head()),
        GradCase("graph/add3", "graph", [2, 5, 5],
                 [C("c0", out_channels=3, kernel=3, padding=1),
                  C("c1", out_channels=3, kernel=1),
                  C("c2", out_channels=3, kernel=3, padding=1, inputs="c0"),
                  dict(name="add", op="add", inputs=["c1", "c2", "c0"])] + head()),
        GradCase("graph/concat", "graph", [2, 6, 6],
                 [C("c0", out_channels=3, kernel=3, padding=1),
                  C("a", out_channels=2, kernel=1),
                  C("b", out_channels=3, kernel=3, padding=1, inputs="c0"),
                  dict(name="cat", op="concat", inputs=["a", "b", "c0"])] + head()),
        GradCase("graph/concat_dense", "graph", [8],
                 [D("d1", 5), D("d2", 3, inputs="input", activation="tanh"),
                  dict(name="cat", op="concat", inputs=["d1", "d2"]), D("fc", 4)]),
        GradCase("graph/flatten_mid", "graph", [2, 4, 4],
                 [C("c0", out_channels=3, kernel=3), dict(name="flat", op="flatten"),
                  D("d1", 6, activation="relu"), D("fc", 4)]),
        GradCase("graph/batch_norm_conv", "graph", [2, 5, 6],
                 [C("c0", out_channels=3, kernel=3, padding=1),
                  dict(name="bn", op="batch_norm"), dict(name="relu", op="relu")] + head()),
        GradCase("graph/batch_norm_momentum", "graph", [3, 4, 4],
                 [C("c0", out_channels=4, kernel=3, padding=1, bias=False),
                  dict(name="bn", op="batch_norm", momentum=0.3, epsilon=1e-3),
                  C("c1", out_channels=3, kernel=3)] + head(),
                 batches=(1, 2, 3)),
        GradCase("graph/batch_norm_dense", "graph", [7],
                 [D("d1", 6), dict(name="bn", op="batch_norm"), D("fc", 4)], batches=(2, 3)),
        GradCase("graph/dropout_rate0", "graph", [2, 5, 5],
                 [C("c0", out_channels=3, kernel=3, padding=1),
                  dict(name="drop", op="dropout", rate=0.0)] + head()),
    ]


def dropout_cases():
    def input_fn(gen, shape):
        # Item n is nonzero only on feature block n, so d1.weight's gradient reveals its mask.
        batch, f = shape[0], shape[1]
        blk = f // batch
        x = torch.zeros(shape)
        for n in range(batch):
            x[n, n * blk:(n + 1) * blk] = torch.randn(blk, generator=gen)
        return x
    D = lambda name, n, **kw: dict(name=name, op="dense", out_features=n, **kw)
    return [
        GradCase(f"dropout/rate{r}", "dropout", [24],
                 [D("d1", 64, bias=False), dict(name="drop", op="dropout", rate=r), D("fc", 5)],
                 input_fn=input_fn, dropout="drop", batches=(1, 3))
        for r in (0.5, 0.2)
    ]


def seq_cases():
    C1 = lambda name, o, k, **kw: dict(name=name, op="conv1d", out_channels=o, kernel=k, **kw)
    emb = lambda v=12, e=5: dict(name="emb", op="embedding", num_embeddings=v, embedding_dim=e)
    cases = [
        # Kim's text CNN in miniature: every gradient of the model (table, conv1d, max over time).
        GradCase("seq_textcnn_mini", "seq", [14],
                 [emb(), C1("c3", 4, 3, activation="relu", inputs="emb"),
                  C1("c4", 4, 4, activation="relu", inputs="emb"),
                  dict(name="m3", op="global_max_pool", inputs="c3"),
                  dict(name="m4", op="global_max_pool", inputs="c4"),
                  dict(name="cat", op="concat", inputs=["m3", "m4"])] + head(3),
                 input_fn=token_ids(12, outside=2), batches=(1, 3, 4)),
        GradCase("seq_embedding_kmax", "seq", [10],
                 [emb(9, 3), C1("c", 4, 3, padding="same"),
                  dict(name="km", op="kmax_pool", k=4)] + head(),
                 input_fn=token_ids(9), batches=(1, 3)),
    ]
    seq = merged("seq_conv1d_pool", "seq", [3, 16], [
        ("same_max", [C1("c0", 4, 3, padding="same"), C1("conv", 5, 4, padding="same"),
                      dict(name="pool", op="max_pool1d", kernel=2)], ["conv.weight", "c0.weight"]),
        ("s2_d2_avg", [C1("c0", 4, 3, padding=1), C1("conv", 4, 3, stride=2, dilation=2,
                                                     padding=[2, 1]),
                       dict(name="pool", op="avg_pool1d", kernel=3, stride=2, padding=1)], []),
        ("groups_full", [C1("c0", 4, 3), C1("conv", 6, 2, groups=2, padding="full", bias=False),
                         dict(name="pool", op="max_pool1d", kernel=3, stride=2,
                              ceil_mode=True)], []),
        ("kmax", [C1("c0", 3, 5, padding=2), dict(name="km", op="kmax_pool", k=5)], []),
        ("gmp", [C1("c0", 3, 3), dict(name="g", op="global_max_pool")], []),
    ])
    for c in [seq] + seq.branches:
        c.input_fn = sequence_input()
    # k-max over a 2-D plane (row-major) and global max pooling of an image.
    cases += [seq, merged("seq_planes", "seq", [1, 5, 6], [
        pool_branch("kmax2d", 3, dict(op="kmax_pool", k=7)),
        pool_branch("gmp2d", 3, dict(op="global_max_pool"), fd=True),
    ])]
    return cases


def poolx_cases():
    return [
        merged("poolx_a_8x8", "poolx", [1, 8, 8], [
            pool_branch("min_k2s2", 3, dict(op="min_pool2d", kernel=2), fd=True),
            pool_branch("min_k3s2p1", 3, dict(op="min_pool2d", kernel=3, stride=2, padding=1)),
            pool_branch("min_k3s1_overlap", 2, dict(op="min_pool2d", kernel=3, stride=1)),
            pool_branch("min_k3s2_ceil", 2, dict(op="min_pool2d", kernel=3, stride=2,
                                                 ceil_mode=True)),
            pool_branch("min_k4_large", 2, dict(op="min_pool2d", kernel=4, stride=1)),
            pool_branch("l2_k2s2", 3, dict(op="l2_pool2d", kernel=2), fd=True),
            pool_branch("l2_k3s2p1", 3, dict(op="l2_pool2d", kernel=3, stride=2, padding=1)),
            pool_branch("l2_k3s1_overlap", 2, dict(op="l2_pool2d", kernel=3, stride=1)),
            pool_branch("l2_k3s2_ceil", 2, dict(op="l2_pool2d", kernel=3, stride=2,
                                                ceil_mode=True)),
            pool_branch("l2_k4_large", 2, dict(op="l2_pool2d", kernel=4, stride=2)),
        ]),
        merged("poolx_b_7x9_relu", "poolx", [1, 7, 9], [
            ("min_relu", [C("c0", out_channels=3, kernel=3, padding=1, activation="relu"),
                          dict(name="pool", op="min_pool2d", kernel=[2, 3], stride=[2, 1])], []),
            ("l2_relu", [C("c0", out_channels=3, kernel=3, padding=1, activation="relu"),
                         dict(name="pool", op="l2_pool2d", kernel=2, padding=[1, 0, 0, 1])], []),
        ]),
    ]


def convx_branch(label, channels, layer, fd=()):
    """c0 (3x3, pad 1, `channels` outputs) then the op under test: its input gradient
    reaches c0.weight."""
    return (label, [C("c0", out_channels=channels, kernel=3, padding=1), dict(name="op", **layer)],
            list(fd))


def convx_cases():
    T = lambda **kw: dict(op="conv_transpose2d", **kw)
    L = lambda **kw: dict(op="local_response_norm", **kw)
    table = [[0, 1, 2], [1, 2, 3], [2, 3, 0], [3, 0, 1], [0, 1, 2, 3], [1, 3]]
    return [
        merged("convx_tconv/a_5x5", "convx", [2, 5, 5], [
            convx_branch("k3_s1", 3, T(out_channels=4, kernel=3), fd=["op.weight", "c0.weight"]),
            convx_branch("k3_s2_p1_op1", 3, T(out_channels=4, kernel=3, stride=2, padding=1,
                                               output_padding=1), fd=["op.weight", "c0.weight"]),
            convx_branch("k4_s2_p1", 4, T(out_channels=3, kernel=4, stride=2, padding=1)),
            convx_branch("k2_s2_nobias", 3, T(out_channels=5, kernel=2, stride=2, bias=False)),
            convx_branch("k3_d2_p3", 2, T(out_channels=3, kernel=3, dilation=2, padding=3)),
            convx_branch("k3x2_s21_p10", 3, T(out_channels=2, kernel=[3, 2], stride=[2, 1],
                                              padding=[1, 0])),
            convx_branch("g2_s2", 4, T(out_channels=6, kernel=3, stride=2, groups=2)),
            convx_branch("relu", 3, T(out_channels=4, kernel=3, stride=2, activation="relu")),
        ]),
        merged("convx_tconv/b_wide_c16", "convx", [3, 4, 4], [
            convx_branch("c16o17", 16, T(out_channels=17, kernel=3, stride=2, padding=1)),
        ]),
        GradCase("convx_tconv/first_layer", "convx", [3, 4, 4],
                 [dict(name="t", op="conv_transpose2d", out_channels=4, kernel=3, stride=2)] +
                 head(), batches=(1, 2, 3)),
        merged("convx_table/a_7x7", "convx", [2, 7, 7], [
            convx_branch("table", 4, dict(op="conv2d", out_channels=6, kernel=3, padding=1,
                                          connections=table), fd=["op.weight", "c0.weight"]),
            convx_branch("table_s2_nobias", 4, dict(op="conv2d", out_channels=3, kernel=3,
                                                    stride=2, bias=False,
                                                    connections=[[3], [0, 2], [1, 0, 3]])),
        ]),
        merged("convx_posbias/a_6x5", "convx", [2, 6, 5], [
            convx_branch("pb", 3, dict(op="position_bias"), fd=["op.bias", "c0.weight"]),
        ]),
        # Conv + position bias fused into one group, as in the AlphaGo policy head.
        GradCase("convx_posbias/conv1x1_head", "convx", [4, 5, 5],
                 [C("c0", out_channels=3, kernel=3, padding=1, activation="relu"),
                  C("c1", out_channels=1, kernel=1, bias=False),
                  dict(name="pb", op="position_bias"), dict(name="flat", op="flatten"),
                  dict(name="sm", op="softmax")], batches=(1, 2, 3)),
        merged("convx_lrn/a_5x6", "convx", [2, 5, 6], [
            convx_branch("size5", 7, L(size=5, alpha=0.5, beta=0.75, k=1.0),
                         fd=["c0.weight"]),
            convx_branch("size2_b05", 4, L(size=2, alpha=1.0, beta=0.5, k=0.5)),
            convx_branch("size3_b13", 5, L(size=3, alpha=2.0, beta=1.3, k=2.0),
                         fd=["c0.weight"]),
            convx_branch("size1_b1", 3, L(size=1, alpha=1.0, beta=1.0)),
            convx_branch("alexnet", 6, L(size=5, alpha=1e-4, beta=0.75, k=2.0)),
        ]),
    ]


GROUPS = {"conv": conv_cases, "pool": pool_cases, "dense": dense_cases, "act": act_cases,
          "graph": graph_cases, "dropout": dropout_cases, "seq": seq_cases,
          "poolx": poolx_cases, "convx": convx_cases}


# --------------------------------------------------------------------------- running

def infer_dropout_masks(grad_d1, batch, features):
    """grad_d1: [hidden, features] gradient of d1.weight; item n owns feature block n."""
    blk = features // batch
    masks = torch.zeros(batch, grad_d1.shape[0])
    for n in range(batch):
        masks[n] = torch.from_numpy(
            (np.abs(grad_d1[:, n * blk:(n + 1) * blk]).max(axis=1) > 0).astype(np.float32))
    return masks


def run_case(rt, case, so, args, log):
    ok, worst = True, {}
    gen = torch.Generator().manual_seed(seed_of(case.name))
    ref = Reference(case.layers, case.output)
    params = {}
    probe = torch.zeros([1] + case.input_shape, dtype=torch.float64)
    if len(case.input_shape) == 2:  # a sequence [C, L] is [N, C, 1, L] in cnnc
        probe = probe.unsqueeze(2)
    ref.forward(probe, params, gen=gen, training=False)
    model = rt.Model(so)
    missing = set(model.parameters) ^ set(params)
    if missing:
        log(f"  parameter names differ between cnnc and the reference: {sorted(missing)}")
        return False, {}
    classes = model.train_info()["classes"]
    kept_total, kept_n = 0.0, 0
    for batch in case.batches:
        if case.input_fn:
            x = case.input_fn(gen, [batch] + case.input_shape).float()
        else:
            x = torch.randn([batch] + case.input_shape, generator=gen).float()
        labels = torch.randint(0, classes, (batch,), generator=gen)
        model.load_state_dict({k: v.numpy() for k, v in params.items()})
        loss, correct = model.train_step(x.numpy(), labels.numpy().astype(np.float32), lr=1.0)
        new = model.state_dict()
        got = {k: params[k].double().numpy() - new[k].astype(np.float64) for k in params}
        masks = None
        if case.dropout:
            masks = {case.dropout: infer_dropout_masks(got["d1.weight"], batch,
                                                       case.input_shape[0])}
            kept_total += float(masks[case.dropout].sum())
            kept_n += masks[case.dropout].numel()
        rgrads, rloss, rcorrect, rstats = reference_step(ref, x, labels, params, case.loss, masks)
        checks = []
        for k in params:
            if ".running_" in k:
                checks.append((f"{k} after the step", new[k], rstats[k].numpy()))
            else:
                checks.append((f"grad {k}", got[k], rgrads[k].numpy()))
        checks.append(("loss", np.array([loss]), np.array([rloss])))
        for what, g, r in checks:
            c = compare(g, r, args.perturb_reference)
            key = what.split(" ")[-1] if what.startswith("grad") else what.split(" ")[0]
            worst[key] = max(worst.get(key, 0.0), c.rel)
            if not c.ok:
                ok = False
                log(f"  [batch {batch}] {what}: {c.message}")
        if correct != rcorrect:
            ok = False
            log(f"  [batch {batch}] correct count: cnnc {correct} vs reference {rcorrect}")
        if case.fd:
            fd, msgs = finite_difference_check(ref, x, labels, params, case.fd, rgrads)
            for m in msgs:
                ok = False
                log(f"  [batch {batch}] " + m)
            for name, (fdv, idx, rel_t) in fd.items():
                c = compare(got[name].reshape(-1)[idx], fdv, args.perturb_reference)
                worst[f"fd:{name}"] = max(worst.get(f"fd:{name}", 0.0), c.rel)
                worst[f"torch-vs-fd:{name}"] = max(worst.get(f"torch-vs-fd:{name}", 0.0), rel_t)
                if not c.ok:
                    ok = False
                    log(f"  [batch {batch}] grad {name} vs finite differences: {c.message}")
    if case.dropout and kept_n:
        rate = next(l["rate"] for l in case.layers if l.get("name") == case.dropout)
        frac = kept_total / kept_n
        sigma = math.sqrt(rate * (1 - rate) / kept_n)
        if abs(frac - (1 - rate)) > 5 * sigma:
            ok = False
            log(f"  kept fraction {frac:.3f} is not 1 - rate = {1 - rate:.3f} (+- {5 * sigma:.3f})")
        else:
            log(f"  kept fraction {frac:.3f} (1 - rate = {1 - rate:.3f}, {kept_n} elements)")
    model.close()
    return ok, worst


def run_case_isolated(rt, case, so, args, log):
    """run_case in a forked child, so a kernel that aborts the process (Halide's default error
    handler calls abort()) fails only this case, with the signal reported."""
    import pickle
    sys.stdout.flush()
    sys.stderr.flush()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        lines = []
        try:
            res = run_case(rt, case, so, args, lines.append)
        except BaseException:
            res = (False, {})
            lines.append("  " + traceback.format_exc().replace("\n", "\n  "))
        with os.fdopen(w, "wb") as f:
            pickle.dump((res, lines), f)
        sys.stdout.flush()
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read()
    _, status = os.waitpid(pid, 0)
    if data:
        (ok, worst), lines = pickle.loads(data)
        for l in lines:
            log(l)
        return ok, worst
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    log(f"  the train step crashed the process (signal {sig}, exit status {status}); "
        f"see the kernel's message above")
    return False, {}


def main():
    ap = harness.tool_args(argparse.ArgumentParser(
        description="cnnc gradient checks against PyTorch autograd"), python_package=True)
    ap.add_argument("--group", action="append", default=[])
    ap.add_argument("-k", dest="pattern", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--jobs", type=int, default=2, help="parallel cnnc compilations")
    ap.add_argument("--perturb-reference", action="store_true",
                    help="add 2e-4*max(1,|ref|) to one element of every reference (must FAIL)")
    args = ap.parse_args()
    cases = []
    for g in args.group or list(GROUPS):
        if g not in GROUPS:
            raise SystemExit(f"unknown group {g!r}; known: {', '.join(GROUPS)}")
        cases += [c for c in GROUPS[g]() if not args.pattern or args.pattern in c.name]
    if args.list:
        for c in cases:
            print(c.name)
        return 0
    harness.skip_without_device(args.target)
    rt = harness.load_package(args)
    cnnc = os.path.join(args.bin_dir, "cnnc")
    root = tempfile.mkdtemp(prefix="cnnc_grads_")
    t_start = time.time()

    def build(case):
        workdir = os.path.join(root, case.name.replace("/", "_"))
        os.makedirs(workdir)
        return harness.compile_text(cnnc, case.yaml(), os.path.join(workdir, "model"),
                                    target=args.target)

    results, by_op = [], {}

    def check(case, so, ctime, t0, indent=""):
        lines = []
        try:
            if so is None:
                so, ctime = build(case)
            ok, worst = run_case_isolated(rt, case, so, args, lines.append)
        except Exception as e:
            ok, worst = False, {}
            lines.append("  " + (str(e) if isinstance(e, (RuntimeError, rt.CnncError))
                                 else traceback.format_exc()).replace("\n", "\n  "))
        if not ok and not case.branches:
            lines.append("  model:\n" + "\n".join("    " + l for l in case.yaml().splitlines()))
        rel = max(worst.values()) if worst else math.inf
        ctext = f" (cnnc {ctime:.1f}s)" if ctime is not None else ""
        print(f"{indent}{'PASS' if ok else 'FAIL'} {case.name:<34s} max rel err {rel:.2e} "
              f"{time.time() - t0:5.1f}s{ctext}", flush=True)
        if case.branches and worst:  # the largest error per op (branch) of a merged model
            per = {}
            for k, v in worst.items():
                label = k.split(":")[-1].split(".")[0]
                if k.startswith("fd:") or k.startswith("torch-vs-fd:"):
                    label = k.split(":")[0] + ":" + label
                per[label] = max(per.get(label, 0.0), v)
            print(indent + "  per op: " + ", ".join(f"{k} {v:.1e}" for k, v in per.items()),
                  flush=True)
        for l in lines:
            print(indent + l, flush=True)
        return ok, rel

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = [pool.submit(build, c) for c in cases]
        for case, fut in zip(cases, futures):
            t0 = time.time()
            try:
                so, ctime = fut.result()
            except Exception as e:  # a compile failure: reported by check()
                so, ctime = None, None
            if so is None:
                ok, rel = False, math.inf
                print(f"FAIL {case.name:<34s} cnnc failed:\n  " +
                      str(fut.exception()).replace("\n", "\n  "), flush=True)
            else:
                ok, rel = check(case, so, ctime, t0)
            if not ok and case.branches:
                # Which op is wrong: each branch alone in its own model.
                print(f"  {case.name} failed: checking each op in its own model", flush=True)
                for sub in case.branches:
                    check(sub, None, None, time.time(), indent="    ")
            results.append((case.name, ok))
            by_op[case.group] = max(by_op.get(case.group, 0.0), rel)
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    failed = [n for n, ok in results if not ok]
    print(f"\ne2e grads: {len(results) - len(failed)}/{len(results)} passed, {len(failed)} failed "
          f"({time.time() - t_start:.0f}s)")
    for g, e in sorted(by_op.items()):
        print(f"  largest relative error [{g}]: {e:.2e}")
    for n in failed:
        print(f"  FAILED: {n}")
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
