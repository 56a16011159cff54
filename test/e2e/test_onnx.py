#!/usr/bin/python3
"""ONNX import, end to end: PyTorch modules exported with torch.onnx.export, compiled by
`cnnc model.onnx`, run with `cnnrun` and compared with the module itself in float64.

Each case exports a module (opset 13, input named `input` with a dynamic batch) in one of the
two modes torch.onnx.export offers:
 - eval: PyTorch folds every batch norm into the conv before it and names the folded
   initializers itself (`onnx::Conv_NN`);
 - training: the graph keeps BatchNormalization (training_mode set) and Dropout, and every
   initializer keeps its state_dict name.
The parameters written for cnnrun are the ONNX initializers, read back with the onnx package:
exactly what cnnc compiled against. The reference is the module in eval mode, in float64, on
the same float32 input; tolerance: max abs error <= 1e-4 * max(1, max|reference|), batch 1
and 3 on one compiled model.so.
Groups (--group): small (hand-written modules), torchvision (resnet18, mobilenet_v2,
googlenet, alexnet and vgg11 at 3x224x224: the forward at batch 1 and 3 from the embedded
parameters; their train steps are test_zoo.py's onnx_* rows), errors (models cnnc must refuse, with the message checked: the node named, the reason given),
embedded (model.so files that carry their parameters: an ONNX model's initializers, a model
file compiled with --embed-weights, also with --strip-prefix; run without --weights; the
messages for a weights file that lacks a parameter or is a torch.save file or a pickle; models
with several inputs and outputs, and outputs that are the input itself), train (one SGD train step of an
imported model through the runtime vs PyTorch's, every parameter compared).
Assumes: what harness.py assumes, plus Debian's python3-onnx; the cnnc Python package for the
train, torchvision and embedded groups (--python-dir, default <bin-dir>/../python).
Run: /usr/bin/python3 test/e2e/test_onnx.py [--bin-dir build/bin] [--group small]
"""

import copy
import subprocess
import os
import pickle
import sys
import tempfile
import time

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

import harness
from harness import Case, seed_of

BATCHES = (1, 3)
EXPORT_DIR = tempfile.mkdtemp(prefix="cnnc_onnx_")


# --------------------------------------------------------------------------- modules

class SmallCnn(nn.Module):
    """Conv + batch norm + ReLU, max and average pooling, a strided grouped conv, a dilated
    conv, LeakyReLU, flatten, two linear layers, softmax."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=2)
        self.conv3 = nn.Conv2d(16, 16, 3, padding=2, dilation=2, bias=False)
        self.bn3 = nn.BatchNorm2d(16)
        self.fc1 = nn.Linear(16 * 2 * 2, 32)
        self.drop = nn.Dropout(0.25)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = nn.functional.max_pool2d(x, 2)
        x = nn.functional.leaky_relu(self.conv2(x), 0.1)
        x = torch.sigmoid(self.bn3(self.conv3(x)))
        x = nn.functional.avg_pool2d(x, 3, stride=2, padding=1)
        x = torch.flatten(x, 1)
        x = torch.tanh(self.fc1(x))
        return torch.softmax(self.fc2(self.drop(x)), dim=1)


class Residual(nn.Module):
    """Two branches concatenated, a residual add, global average pooling, a view()."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(4, 8, 3, padding=1)
        self.a = nn.Conv2d(8, 4, 1)
        self.b = nn.Conv2d(8, 4, 5, padding=2)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        y = torch.cat([self.a(x), self.b(x)], dim=1)
        x = torch.relu(self.bn(y) + x)
        x = nn.functional.adaptive_avg_pool2d(x, 1)
        return self.fc(x.view(x.size(0), -1))


class MobileBlock(nn.Module):
    """MobileNet-v2's inverted residual: 1x1 expansion, depthwise 3x3, ReLU6 (exported as Clip
    to [0, 6]), 1x1 projection, residual add; then ReLU6 on [N, F] too, on a 6x6 map. Checked
    by the train group only (its loss is the forward check). On a 5x5 map cnnc takes 42 s to
    generate its train step's code (17 s at 6x6): a compile-time problem of small depthwise
    maps, not of the result."""

    def __init__(self):
        super().__init__()
        self.expand = nn.Conv2d(8, 24, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(24)
        self.dw = nn.Conv2d(24, 24, 3, padding=1, groups=24, bias=False)
        self.bn2 = nn.BatchNorm2d(24)
        self.project = nn.Conv2d(24, 8, 1, bias=False)
        self.fc = nn.Linear(8 * 6 * 6, 6)

    def forward(self, x):
        y = nn.functional.relu6(self.bn1(self.expand(x)))
        y = nn.functional.relu6(self.bn2(self.dw(y)))
        y = self.project(y) + x
        return nn.functional.relu6(self.fc(torch.flatten(y, 1)))


class ModernBlocks(nn.Module):
    """The operators of newer CNNs, each as torch.onnx.export writes it: PReLU per channel and
    shared, squeeze-and-excitation (a [N, C, 1, 1] scale broadcast by Mul), chunk (Split or
    Slice on channels), arithmetic with numbers (Sub, Div, 1 - x), a learned per-channel scale
    (Mul by an initializer [1, C, 1, 1]), ShuffleNet's channel shuffle (Reshape, Transpose,
    Reshape), padding with a value and with zeros before a max pool (Pad), nearest and bilinear
    upsampling (Resize, with and without align_corners), Sub / Div of computed tensors, and a
    MatMul by a parameter [in, out]."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.prelu = nn.PReLU(8)
        self.prelu_shared = nn.PReLU()
        self.squeeze = nn.Conv2d(8, 4, 1)
        self.excite = nn.Conv2d(4, 8, 1)
        self.gamma = nn.Parameter(torch.ones(1, 8, 1, 1))
        self.fc = nn.Linear(8, 5)
        self.proj = nn.Parameter(torch.randn(8, 5) * 0.3)

    def forward(self, x):
        x = self.prelu(self.conv(x))
        scale = torch.relu(self.squeeze(x.mean((2, 3), keepdim=True)))
        x = x * torch.sigmoid(self.excite(scale))
        a, b = x.chunk(2, dim=1)
        x = torch.cat([a - 0.5, (1 - b) / 2], 1) * self.gamma
        n, c, h, w = x.shape
        x = x.view(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)
        x = F.pad(self.prelu_shared(x), (1, 0, 0, 1), value=0.25)
        up = nn.functional.interpolate(x, scale_factor=2, mode="nearest")
        up = nn.functional.interpolate(up, scale_factor=2, mode="bilinear", align_corners=False)
        corners = nn.functional.interpolate(x, scale_factor=4, mode="bilinear", align_corners=True)
        y = up - corners / (1.5 + torch.sigmoid(up))
        y = F.max_pool2d(F.pad(y, (1, 1, 1, 1)), 3, stride=2)
        features = y.mean((2, 3))
        return self.fc(features) + features @ self.proj


class Reductions(nn.Module):
    """Mean and max over the spatial axes (ReduceMean, ReduceMax with keepdims 0)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        x = torch.relu(self.conv(x))
        return self.fc(torch.cat([x.mean([2, 3]), x.amax(dim=(2, 3))], dim=1))


def lrn_sum_case():
    """Operators torch.onnx.export does not write (it decomposes LocalResponseNorm, writes Add
    for + and Relu for relu): a graph built with onnx.helper, Sum(Clip(LRN(X), min 0), X, X)."""
    from onnx import TensorProto, helper
    path = os.path.join(EXPORT_DIR, "lrn_sum.onnx")
    nodes = [helper.make_node("LRN", ["input"], ["n"], name="lrn", size=3, alpha=2e-3,
                              beta=0.8, bias=1.5),
             helper.make_node("Constant", [], ["zero"], name="zero",
                              value=helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])),
             helper.make_node("Clip", ["n", "zero"], ["r"], name="clip"),
             helper.make_node("Sum", ["r", "input", "input"], ["output"], name="sum")]
    graph = helper.make_graph(
        nodes, "lrn_sum",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4, 5, 5])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 4, 5, 5])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    lrn = nn.LocalResponseNorm(3, alpha=2e-3, beta=0.8, k=1.5)

    def ref(xs, _params):
        return torch.relu(lrn(xs[0])) + 2 * xs[0]

    return Case("lrn_sum_graph", path, [4, 5, 5], {}, ref, batches=BATCHES)


def lppool_case():
    """LpPool (p = 2), which torch.onnx.export writes as a decomposition: a graph built with
    onnx.helper, LpPool with a 3x3 window, stride 2 and padding 1
    (the window over the zero padding counts it as 0)."""
    from onnx import TensorProto, helper
    path = os.path.join(EXPORT_DIR, "lppool.onnx")
    nodes = [helper.make_node("LpPool", ["input"], ["l"], name="lp", p=2, kernel_shape=[3, 3],
                              strides=[2, 2], pads=[1, 1, 1, 1])]
    graph = helper.make_graph(
        nodes, "lppool",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 7, 7])],
        [helper.make_tensor_value_info("l", TensorProto.FLOAT, ["N", 3, 4, 4])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)

    def ref(xs, _params):
        return F.lp_pool2d(F.pad(xs[0], (1, 1, 1, 1)), 2, 3, stride=2)

    return Case("lppool_graph", path, [3, 7, 7], {}, ref, batches=BATCHES)


class Sequence(nn.Module):
    """1-D convolution and pooling over [N, C, L], global max pooling."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(6, 12, 3, padding=1)
        self.fc = nn.Linear(12, 3)

    def forward(self, x):
        x = nn.functional.max_pool1d(torch.relu(self.conv(x)), 2)
        x = nn.functional.adaptive_max_pool1d(x, 1)
        return self.fc(x.flatten(1))


class CumSum(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return torch.cumsum(self.conv(x), dim=3).flatten(1)


def randomized(make_module, name):
    """make_module() with seeded parameters (default initialization where
    harness.randomize_module does not reach, e.g. Conv1d) and random batch norm statistics."""
    torch.manual_seed(seed_of(name))
    module = make_module()
    harness.randomize_module(module, torch.Generator().manual_seed(seed_of(name)))
    return module.eval()


def export(module, name, input_shape, training, dynamic_dims=(0,)):
    """Writes `module` as ONNX; returns the path."""
    path = os.path.join(EXPORT_DIR, name + ".onnx")
    x = torch.zeros([2] + list(input_shape))
    mode = torch.onnx.TrainingMode.TRAINING if training else torch.onnx.TrainingMode.EVAL
    if training:
        module.train()
    torch.onnx.export(module, x, path, opset_version=13, training=mode,
                      do_constant_folding=not training, input_names=["input"],
                      output_names=["output"],
                      dynamic_axes={"input": {d: f"d{d}" for d in dynamic_dims}})
    module.eval()
    return path


def initializers(path):
    """The float initializers of an ONNX file, as float32 tensors by name."""
    model = onnx.load(path)
    out = {}
    for t in model.graph.initializer:
        a = onnx.numpy_helper.to_array(t)
        if a.dtype.kind == "f":
            out[t.name] = torch.from_numpy(a.astype("float32").copy())
    return out


def onnx_case(name, make_module, input_shape, training):
    """A module with input [N, *input_shape]. A sequence [N, C, L] is [N, C, 1, L] for cnnc
    (as in model files): cnnrun is given that, the module the squeezed tensor."""
    module = randomized(make_module, name)
    path = export(module, name, input_shape, training)
    ref_module = copy.deepcopy(module).double()
    sequence = len(input_shape) == 2

    def ref(xs, _params):
        return ref_module(xs[0].squeeze(2) if sequence else xs[0])

    params = initializers(path)
    cnnc_shape = [input_shape[0], 1, input_shape[1]] if sequence else input_shape
    return Case(name, path, cnnc_shape, params, ref, batches=BATCHES)


def small_cases(args):
    return [onnx_case("small_cnn_eval", SmallCnn, [3, 12, 12], training=False),
            onnx_case("small_cnn_training", SmallCnn, [3, 12, 12], training=True),
            onnx_case("residual_training", Residual, [4, 6, 6], training=True),
            onnx_case("residual_eval", Residual, [4, 6, 6], training=False),
            onnx_case("sequence_eval", Sequence, [6, 16], training=False),
            onnx_case("reductions_eval", Reductions, [3, 7, 7], training=False),
            onnx_case("modern_blocks_eval", ModernBlocks, [4, 4, 4], training=False),
            lrn_sum_case(), lppool_case()]


# --------------------------------------------------------------------------- errors

class ErrorCase:
    """A model cnnc must refuse: every string of `expect` must be in its message."""

    def __init__(self, name, make_path, expect):
        self.name, self.make_path, self.expect = name, make_path, expect


def error_cases():
    def cumsum():
        return export(CumSum().eval(), "cumsum", [3, 8, 8], training=False)

    def dynamic_height():
        return export(CumSum().eval(), "dynamic_height", [3, 8, 8], training=False,
                      dynamic_dims=(0, 2))

    def clip_bounds():
        from onnx import TensorProto, helper
        path = os.path.join(EXPORT_DIR, "clip.onnx")
        lo = helper.make_tensor("lo", TensorProto.FLOAT, [], [1.0])
        hi = helper.make_tensor("hi", TensorProto.FLOAT, [], [-1.0])
        graph = helper.make_graph(
            [helper.make_node("Clip", ["input", "lo", "hi"], ["output"], name="clip")], "clip",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4])],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 4])], [lo, hi])
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
        return path

    def garbage():
        path = os.path.join(EXPORT_DIR, "garbage.onnx")
        with open(path, "wb") as f:
            f.write(b"\x08\x07\x12\xff\xff\xff\xffnot a model")
        return path

    def one_node(name, op, inputs, attrs, initializers=()):
        """A graph of one node reading `input` [N, 4, 3, 3] (and constants)."""
        from onnx import TensorProto, helper
        path = os.path.join(EXPORT_DIR, name + ".onnx")
        graph = helper.make_graph(
            [helper.make_node(op, ["input"] + inputs, ["output"], name=name, **attrs)], name,
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4, 3, 3])],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)],
            [helper.make_tensor(n, TensorProto.FLOAT if isinstance(v[0], float) else
                                TensorProto.INT64, [len(v)], v) for n, v in initializers])
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
        return path

    return [
        ErrorCase("transpose", lambda: one_node("transpose", "Transpose", [],
                                                {"perm": [0, 2, 3, 1]}),
                  ["transpose.onnx: error: node 'transpose' (Transpose): transposing with perm "
                   "[0, 2, 3, 1] is not supported (only within a channel shuffle: Reshape to "
                   "[N, g, C/g, H, W], Transpose with perm [0, 2, 1, 3, 4], Reshape to "
                   "[N, C, H, W])"]),
        ErrorCase("resize_down", lambda: one_node("resize_down", "Resize", ["", "scales"], {},
                                                  [("scales", [1.0, 1.0, 0.5, 0.5])]),
                  ["resize_down.onnx: error: node 'resize_down' (Resize): scale 0.500000 does "
                   "not give a whole number of pixels from 3"]),
        ErrorCase("slice_spatial", lambda: one_node("slice_spatial", "Slice",
                                                    ["starts", "ends", "axes"], {},
                                                    [("starts", [1]), ("ends", [2]),
                                                     ("axes", [3])]),
                  ["slice_spatial.onnx: error: node 'slice_spatial' (Slice): slicing axis 3 of "
                   "[N, 4, 3, 3] with step 1 is not supported (only channels, axis 1, step 1)"]),
        ErrorCase("unsupported_op", cumsum,
                  ["cumsum.onnx: error: node '/CumSum' (CumSum): operator 'CumSum' is not "
                   "supported (cnnc imports Add, AveragePool, "]),
        ErrorCase("dynamic_spatial", dynamic_height,
                  ["dynamic_height.onnx: error: the model input 'input' has a dynamic "
                   "dimension 2 ('d2'); only the batch (dimension 0) may be dynamic"]),
        ErrorCase("clip_bounds", clip_bounds,
                  ["clip.onnx: error: node 'clip' (Clip): clipping to [1.000000, -1.000000] is not "
                   "supported (only min < max: every value would be max)"]),
        ErrorCase("huge_pads", lambda: one_node("huge_pads", "MaxPool", [],
                                                {"kernel_shape": [2, 2],
                                                 "pads": [0, 0, 9223372036854775807, 0]}),
                  ["huge_pads.onnx: error: node 'huge_pads' (MaxPool): pads [0, 0, "
                   "9223372036854775807, 0]: each value must be at most 2147483647"]),
        ErrorCase("not_onnx", garbage,
                  ["garbage.onnx: error: not a valid ONNX model (the protobuf does not parse)"]),
    ]


def run_error_cases(args, pattern):
    failures = 0
    for c in error_cases():
        if pattern and pattern not in c.name:
            continue
        path = c.make_path()
        so = os.path.join(EXPORT_DIR, c.name + ".so")
        try:
            harness.run_cnnc(os.path.join(args.bin_dir, "cnnc"), path, so, target=args.target)
            ok, message = False, "cnnc accepted the model"
        except harness.CaseError as e:
            text = str(e)
            missing = [s for s in c.expect if s not in text]
            ok = not missing and "Stack dump" not in text
            message = f"missing {missing!r} in:\n{text}" if not ok else ""
        print(f"{'PASS' if ok else 'FAIL'} errors/{c.name}", flush=True)
        if not ok:
            print("  " + message.replace("\n", "\n  "), flush=True)
            failures += 1
    return failures


# --------------------------------------------------------------------------- embedded values

def run_embedded_checks(args):
    """model.so files that carry their parameters: an ONNX model's initializers, and a model
    file compiled with --embed-weights (also from a file whose names carry a prefix, with
    --strip-prefix). `cnnrun run` without --weights must match PyTorch; --embed-weights with a
    file that lacks a parameter must be refused by name, with the file's nearest names and the
    prefix to strip; a torch.save file (zip or legacy) or a pickle is named as such."""
    sys.path.insert(0, os.path.join(args.source_dir, "tools", "py"))
    import reference_models
    import safetensors_io
    cnnc = os.path.join(args.bin_dir, "cnnc")
    tools = harness.Tools(args.bin_dir, args.target)
    failures = 0

    def check(name, so, module, input_shape):
        x = torch.randn([3] + input_shape, generator=torch.Generator().manual_seed(seed_of(name)))
        got = tools.run(so, None, [x.numpy()], EXPORT_DIR, name)
        with torch.no_grad():
            ref = copy.deepcopy(module).double()(x.double()).numpy()
        c = harness.compare(got, ref)
        print(f"{'PASS' if c.ok else 'FAIL'} embedded/{name} max_err {c.err:.2e}", flush=True)
        if not c.ok:
            print("  " + c.message, flush=True)
        return 0 if c.ok else 1

    module = randomized(Residual, "embedded_onnx")
    path = export(module, "embedded_onnx", [4, 6, 6], training=True)
    so = os.path.join(EXPORT_DIR, "embedded_onnx.so")
    harness.run_cnnc(cnnc, path, so, target=args.target)
    failures += check("onnx_initializers", so, module, [4, 6, 6])

    torch.manual_seed(seed_of("embedded_yaml"))
    mnist = reference_models.MnistCnn().eval()
    weights = os.path.join(EXPORT_DIR, "mnist.safetensors")
    safetensors_io.save(dict(mnist.state_dict()), weights)
    model_file = os.path.join(args.source_dir, "models", "mnist_cnn.yaml")
    so = os.path.join(EXPORT_DIR, "embedded_yaml.so")
    harness.run_cnnc(cnnc, model_file, so, ["--embed-weights", weights, "--inference-only"],
                     target=args.target)
    failures += check("yaml_embed_weights", so, mnist, [1, 28, 28])

    # A state_dict saved from torch.nn.DataParallel: every name under "module.".
    prefixed = os.path.join(EXPORT_DIR, "prefixed.safetensors")
    safetensors_io.save({"module." + k: v for k, v in mnist.state_dict().items()}, prefixed)
    so = os.path.join(EXPORT_DIR, "embedded_prefixed.so")
    harness.run_cnnc(cnnc, model_file, so, ["--embed-weights", prefixed, "--strip-prefix",
                                            "module.", "--inference-only"], target=args.target)
    failures += check("yaml_embed_weights_strip_prefix", so, mnist, [1, 28, 28])

    def refused(name, weights, expect, extra=()):
        """cnnc must refuse --embed-weights `weights` with `expect` in its message."""
        try:
            harness.run_cnnc(cnnc, model_file, so, ["--embed-weights", weights,
                                                    "--inference-only", *extra],
                             target=args.target)
            text = "cnnc accepted it"
        except harness.CaseError as e:
            text = str(e)
        ok = expect in text
        print(f"{'PASS' if ok else 'FAIL'} embedded/{name}", flush=True)
        if not ok:
            print(f"  expected {expect!r} in:\n  {text}", flush=True)
        return 0 if ok else 1

    partial = os.path.join(EXPORT_DIR, "partial.safetensors")
    state = dict(mnist.state_dict())
    del state["fc2.bias"]
    safetensors_io.save(state, partial)
    failures += refused("missing_parameter", partial,
                        "partial.safetensors: missing parameter 'fc2.bias' [10]; the file has "
                        "'fc1.bias', ")
    failures += refused("prefix_not_stripped", prefixed,
                        "prefixed.safetensors: missing parameter 'conv1.weight' [32,1,3,3] and 9 "
                        "more; the file has 'module.conv1.weight', ")
    failures += refused("prefix_suggested", prefixed, "every parameter is in the file under the "
                        "prefix 'module.': load it with --strip-prefix module.")
    failures += refused("prefix_wrong", prefixed, "(looked up as 'model.conv1.weight')",
                        ["--strip-prefix", "model."])
    # Files of other formats are named, with how to convert them.
    pt = os.path.join(EXPORT_DIR, "mnist.pt")
    torch.save(mnist.state_dict(), pt)
    failures += refused("torch_save", pt, f"'{pt}' is a PyTorch checkpoint (torch.save zip "
                        f"archive), not safetensors: convert it with `python3 -m cnnc.convert "
                        f"{pt} {pt[:-3]}.safetensors`")
    legacy = os.path.join(EXPORT_DIR, "mnist_legacy.pth")
    torch.save(mnist.state_dict(), legacy, _use_new_zipfile_serialization=False)
    failures += refused("torch_save_legacy", legacy, "is a PyTorch checkpoint (legacy torch.save "
                        "format), not safetensors")
    pickled = os.path.join(EXPORT_DIR, "mnist.pkl")
    with open(pickled, "wb") as f:
        pickle.dump({k: v.numpy() for k, v in mnist.state_dict().items()}, f)
    failures += refused("pickle", pickled, f"'{pickled}' is a Python pickle, not safetensors: if "
                        "it holds a dict of arrays, convert it with `python3 -m cnnc.convert")
    return failures + run_two_in_two_out(args, tools) + run_passthrough(args, tools)


class TwoInTwoOut(nn.Module):
    """Two inputs (an image and a second one of the conv's output shape), two outputs."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.up = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1)

    def forward(self, x, skip):
        y = torch.relu(self.conv(x)) + skip
        return self.up(y), F.max_pool2d(y, 3, stride=2, padding=1)


TWO_IN_TWO_OUT_YAML = """\
name: two_in_two_out
inputs:
  - {name: x, shape: [3, 6, 6]}
  - {name: skip, shape: [4, 6, 6]}
layers:
  - {name: conv, op: conv2d, out_channels: 4, kernel: 3, padding: 1}
  - {name: relu, op: relu}
  - {name: y, op: add, inputs: [relu, skip]}
  - {name: up, op: conv_transpose2d, out_channels: 2, kernel: 3, stride: 2, padding: 1,
     output_padding: 1}
  - {name: pooled, op: max_pool2d, kernel: 3, stride: 2, padding: 1, inputs: y}
output: [up, pooled]
"""


def run_two_in_two_out(args, tools):
    """A model with two inputs and two outputs (and a transposed conv), exported in training
    mode, and the same model as a model file (`inputs:` and `output:` lists, its weights
    embedded), each run by cnnrun with --input twice and --output twice, at batch 3 vs
    PyTorch."""
    sys.path.insert(0, os.path.join(args.source_dir, "tools", "py"))
    import safetensors_io
    module = randomized(TwoInTwoOut, "two_in_two_out")
    path = os.path.join(EXPORT_DIR, "two_in_two_out.onnx")
    module.train()
    torch.onnx.export(module, (torch.zeros(2, 3, 6, 6), torch.zeros(2, 4, 6, 6)), path,
                      opset_version=13, training=torch.onnx.TrainingMode.TRAINING,
                      do_constant_folding=False, input_names=["x", "skip"],
                      output_names=["up", "pooled"],
                      dynamic_axes={"x": {0: "n"}, "skip": {0: "n"}})
    module.eval()
    model_file = os.path.join(EXPORT_DIR, "two_in_two_out.yaml")
    with open(model_file, "w") as f:
        f.write(TWO_IN_TWO_OUT_YAML)
    weights = os.path.join(EXPORT_DIR, "two_in_two_out.safetensors")
    safetensors_io.save(dict(module.state_dict()), weights)
    gen = torch.Generator().manual_seed(seed_of("two_in_two_out"))
    x, skip = torch.randn(3, 3, 6, 6, generator=gen), torch.randn(3, 4, 6, 6, generator=gen)
    with torch.no_grad():
        refs = copy.deepcopy(module).double()(x.double(), skip.double())
    failures = 0
    for label, src, extra in (("onnx", path, []), ("yaml", model_file, ["--embed-weights", weights])):
        so = os.path.join(EXPORT_DIR, f"two_in_two_out_{label}.so")
        harness.run_cnnc(os.path.join(args.bin_dir, "cnnc"), src, so, ["--inference-only"] + extra,
                         target=args.target)
        cmd = [tools.cnnrun, "run", so]
        outs = []
        for i, a in enumerate((x, skip)):
            f = os.path.join(EXPORT_DIR, f"two_in_two_out_in{i}.npy")
            harness.write_npy(f, a.numpy())
            cmd += ["--input", f]
        for i in range(2):
            outs.append(os.path.join(EXPORT_DIR, f"two_in_two_out_{label}_out{i}.npy"))
            cmd += ["--output", outs[-1]]
        p = subprocess.run(cmd, capture_output=True, text=True)
        for name, out, ref in zip(("up", "pooled"), outs, refs):
            case = f"embedded/two_in_two_out_{label}.{name}"
            if p.returncode != 0:
                print(f"FAIL {case}: cnnrun: {p.stderr}", flush=True)
                failures += 1
                continue
            c = harness.compare(np.load(out), ref.numpy())
            print(f"{'PASS' if c.ok else 'FAIL'} {case} max_err {c.err:.2e}", flush=True)
            failures += 0 if c.ok else 1
    return failures


def run_passthrough(args, tools):
    """Graphs whose first output is the model input itself, through an Identity or a Dropout
    (the identity at inference), beside a computed one (Relu): each output is written, the
    first a copy of the input."""
    from onnx import TensorProto, helper
    failures = 0
    x = torch.randn(3, 4, generator=torch.Generator().manual_seed(seed_of("passthrough")))
    for op in ("Identity", "Dropout"):
        name = f"passthrough_{op.lower()}"
        path = os.path.join(EXPORT_DIR, name + ".onnx")
        graph = helper.make_graph(
            [helper.make_node(op, ["input"], ["output"], name="pass"),
             helper.make_node("Relu", ["input"], ["r"], name="relu")], "passthrough",
            [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 4])],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 4]),
             helper.make_tensor_value_info("r", TensorProto.FLOAT, ["N", 4])])
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
        so = os.path.join(EXPORT_DIR, name + ".so")
        harness.run_cnnc(os.path.join(args.bin_dir, "cnnc"), path, so, ["--inference-only"],
                         target=args.target)
        inp = os.path.join(EXPORT_DIR, name + "_in.npy")
        harness.write_npy(inp, x.numpy())
        outs = [os.path.join(EXPORT_DIR, f"{name}_out{i}.npy") for i in range(2)]
        p = subprocess.run([tools.cnnrun, "run", so, "--input", inp, "--output", outs[0],
                            "--output", outs[1]], capture_output=True, text=True)
        for out, ref, what in zip(outs, (x, torch.relu(x)), ("output", "r")):
            case = f"embedded/{name}.{what}"
            if p.returncode != 0:
                print(f"FAIL {case}: cnnrun: {p.stderr}", flush=True)
                failures += 1
                continue
            c = harness.compare(np.load(out), ref.double().numpy())
            print(f"{'PASS' if c.ok else 'FAIL'} {case} max_err {c.err:.2e}", flush=True)
            failures += 0 if c.ok else 1
    return failures


# --------------------------------------------------------------------------- train step

TRAIN_LR = 0.1


def train_config():
    """The training settings every train check compiles with: cross-entropy, plain SGD."""
    config = os.path.join(EXPORT_DIR, "train.yaml")
    with open(config, "w") as f:
        f.write(f"train: {{loss: cross_entropy, optimizer: {{name: sgd, lr: {TRAIN_LR}}}}}\n")
    return config


def check_train_step(runtime, label, module, so, x, labels):
    """One SGD step of model.so (from its embedded parameters) against PyTorch's float64 step
    of `module` (autograd, then p -= lr * grad; batch norm's running statistics updated by
    the train-mode forward). Prints the result; returns 1 on failure, else 0."""
    model = runtime.Model(so)
    xin = x.unsqueeze(2) if x.dim() == 3 else x  # a sequence [N, C, L] is [N, C, 1, L]
    loss, _ = model.train_step([xin.numpy()], labels.float().numpy(), TRAIN_LR)
    got = model.state_dict()
    model.close()

    ref = copy.deepcopy(module).double().train()
    ref_loss = F.cross_entropy(ref(x.double()), labels)
    ref_loss.backward()
    problems = []
    c = harness.compare(torch.tensor([loss]).numpy(), ref_loss.detach().reshape(1).numpy())
    if not c.ok:
        problems.append(f"loss: {c.message}")
    worst = c.rel
    with torch.no_grad():
        expected = {}
        for pname, p in ref.named_parameters():
            expected[pname] = p - TRAIN_LR * p.grad
        for bname, b in ref.named_buffers():
            if b.is_floating_point():
                expected[bname] = b
    for pname, value in got.items():
        if pname not in expected:
            problems.append(f"{pname}: not a parameter or buffer of the module")
            continue
        c = harness.compare(value, expected[pname].numpy())
        worst = max(worst, c.rel)
        if not c.ok:
            problems.append(f"{pname}: {c.message}")
    ok = not problems
    print(f"{'PASS' if ok else 'FAIL'} {label} largest error {worst:.2e} "
          f"(relative to max(1,|ref|); loss and {len(got)} tensors after one step)", flush=True)
    for p in problems[:10]:
        print("  " + p, flush=True)
    return 0 if ok else 1


def run_train_checks(args):
    """One train step of small imported models against PyTorch: each module exported in
    training mode (batch norm kept, state_dict names), compiled with --train-config
    (cross-entropy, plain SGD; the sequence model with the same as --loss, --optimizer and
    --lr), one step at batch 4 through the Python package."""
    runtime = harness.load_package(args)
    config = train_config()
    cnnc = os.path.join(args.bin_dir, "cnnc")
    failures = 0
    for name, make, shape, classes in [("train_residual", Residual, [4, 6, 6], 5),
                                       ("train_mobile_block", MobileBlock, [8, 6, 6], 6),
                                       ("train_modern_blocks", ModernBlocks, [4, 4, 4], 5),
                                       ("train_sequence", Sequence, [6, 16], 3)]:
        module = randomized(make, name)
        path = export(module, name, shape, training=True)
        so = os.path.join(EXPORT_DIR, name + ".so")
        # The sequence model takes the same settings as command-line options.
        settings = (["--loss", "cross_entropy", "--optimizer", "sgd", "--lr", str(TRAIN_LR)]
                    if name == "train_sequence" else ["--train-config", config])
        harness.run_cnnc(cnnc, path, so, settings, target=args.target)
        gen = torch.Generator().manual_seed(seed_of(name))
        x = torch.randn([4] + shape, generator=gen)
        labels = torch.randint(0, classes, (4,), generator=gen)
        failures += check_train_step(runtime, f"train/{name}", module, so, x, labels)
    return failures


def torchvision_models():
    import torchvision
    m = torchvision.models
    return [("resnet18", lambda: m.resnet18(weights=None)),
            ("mobilenet_v2", lambda: m.mobilenet_v2(weights=None)),
            ("googlenet", lambda: m.googlenet(weights=None, aux_logits=False, init_weights=True)),
            ("alexnet", lambda: m.alexnet(weights=None)),
            ("vgg11", lambda: m.vgg11(weights=None))]


def run_torchvision_checks(args, pattern):
    """torchvision classifiers at 3x224x224, exported (opset 13, training mode) and compiled
    (--inference-only): the forward at batch 1 and 3 against the module in eval mode in
    float64, run from the parameters model.so embeds. Their train steps are checked by
    test_zoo.py's onnx_* rows (at a smaller input, with its kink resolution)."""
    runtime = harness.load_package(args)
    cnnc = os.path.join(args.bin_dir, "cnnc")
    failures = 0
    for name, make in torchvision_models():
        if pattern and pattern not in name:
            continue
        module = randomized(make, name)
        path = export(module, name, [3, 224, 224], training=True)
        so = os.path.join(EXPORT_DIR, name + ".so")
        start = time.time()
        harness.run_cnnc(cnnc, path, so, ["--inference-only"], target=args.target)
        seconds = time.time() - start
        gen = torch.Generator().manual_seed(seed_of(name))
        ref_module = copy.deepcopy(module).double().eval()
        model = runtime.Model(so)
        for batch in BATCHES:
            x = torch.randn(batch, 3, 224, 224, generator=gen)
            with torch.no_grad():
                c = harness.compare(model(x.numpy()), ref_module(x.double()).numpy())
            print(f"{'PASS' if c.ok else 'FAIL'} torchvision/{name}.forward_batch{batch} "
                  f"max_err {c.err:.2e} (tol {c.tol:.1e}; cnnc {seconds:.0f} s)", flush=True)
            if not c.ok:
                print("  " + c.message, flush=True)
                failures += 1
        model.close()
        os.remove(so)
        os.remove(path)
    return failures


def main():
    ap = harness.arg_parser("cnnc ONNX import vs PyTorch", python_package=True)
    args = ap.parse_args()
    groups = args.group or ["small", "torchvision", "errors", "embedded", "train"]
    failures = 0
    if "errors" in groups:
        failures += run_error_cases(args, args.pattern)
    if "embedded" in groups:
        harness.skip_without_device(args.target)
        failures += run_embedded_checks(args)
    if "train" in groups:
        harness.skip_without_device(args.target)
        failures += run_train_checks(args)
    if "torchvision" in groups:
        harness.skip_without_device(args.target)
        failures += run_torchvision_checks(args, args.pattern)
    builders = {"small": small_cases}
    cases = [c for g in groups if g in builders for c in builders[g](args)
             if not args.pattern or args.pattern in c.name]
    if not cases:
        return 1 if failures else 0
    harness.skip_without_device(args.target)
    runner = harness.Runner(harness.Tools(args.bin_dir, args.target), keep=args.keep)
    for c in cases:
        c.cnnc_args = list(args.cnnc_arg) + c.cnnc_args
        runner.run_case(c)
    return runner.summary(f"e2e onnx (--target={args.target})") or (1 if failures else 0)


if __name__ == "__main__":
    sys.exit(main())
