#!/usr/bin/python3
"""The architecture zoo against PyTorch / torchvision: every model of models/ listed in
REGISTRY below is compiled by cnnc WITH its train step and checked, at batch 2, against its
PyTorch twin (a torchvision model built with weights=None, or a twin of
tools/py/reference_models.py) on the very same float32 parameters and inputs:

 1. parameter names and shapes: the twin's state_dict, renamed by the row's table, must be
    exactly the model's parameter set (extra or missing names fail);
 2. the state_dict is written as safetensors (tools/py/safetensors_io.py) and loaded by the
    runtime (the cnnc Python package), which therefore checks the name mapping too;
 3. forward in evaluation mode (batch norm with running statistics, dropout off) vs
    twin.eval() in float64;
 4. one train step of mean softmax cross-entropy in training mode (batch norm with batch
    statistics) vs torch autograd in float64: the loss, the correct count, the gradient of
    EVERY parameter, and the batch-norm running statistics after the step (momentum update,
    unbiased variance). As in test_grads.py the model is compiled with its `train:` section
    replaced by plain SGD, lr 1, no momentum / weight decay, so grad = p_old - p_new;
 5. for the rows with train_steps > 0 (the small models): that many train steps on one fixed
    batch, with the model's own settings (its dropout included), must lower the loss.

Tolerance, per tensor: max |cnnc - reference| <= 1e-4 * max(1, max |reference|)
(harness.compare, as in every e2e test).

Input size: a row without grad_input runs every step at its model's input size. A row with
grad_input (vgg11 and vgg16 at 3x64x64, googlenet at 3x96x96) checks the model file as
written, compiled --inference-only, at its own 3x224x224 input by steps 1-3 (names, shapes,
forward), and runs steps 1-4 on a copy of the file whose input shape is grad_input: the same
layers with the same attributes, on smaller feature maps. Where the flattened last feature map
feeds the first dense layer (vgg), that layer's input size, and so the shape of its weight,
follows the input; the twin is fitted the same way (fit_twin = flat_classifier:
torchvision's AdaptiveAvgPool2d, the identity at 224x224 and absent from the model files, is
dropped, and the first Linear takes the smaller feature count, with fresh seeded values).
The sizes keep what the 224x224 input exercises: every pool of vgg divides evenly as at 224,
googlenet's ceil-mode pools overhang as at 224. googlenet runs at 96x96 (3x3 positions in its
last stage), not 64x64: there float32 PyTorch itself misses the tolerance on every seed tried
(2e-4 .. 1.3e-3 x max(1,|ref|)), at 96x96 it stays within 1e-5 once kinks are resolved. At
224x224 the float64 autograd reference, its kink search and the train step made these rows
the longest of the suite (vgg16 about 16 minutes and 8 GB, googlenet 8 to 10 minutes); the
other 224x224 rows spend most of their time compiling the train step, which a smaller input
barely shortens. docs/models.md has the times.

Conditioning: the gradient of a ReLU / max-pool network is discontinuous where a ReLU input
is 0 or two values of a pooling window tie. On a deep 224x224 model at a random point some of
its ~10^6 ReLU inputs / pool windows lie within float32 rounding of such a kink, and float32
(cnnc's, or PyTorch's own) then routes the gradient differently from float64: one flip moves
every earlier gradient by 1e-3 .. 7e-2 x max(1,|ref|). Two remedies, per row:

 - pin_relus=True (the 224x224 batch norm models; pin_relu_patterns): the twin is first moved
   to a point where no ReLU is ambiguous: on the drawn batch, each ReLU input channel is made
   entirely positive (live, 3 in 4) or entirely negative (dead), at least a tenth of its range
   away from 0, by shifting the per-channel bias added right before that ReLU (conv / dense
   bias, batch norm beta).
 - resolve_kinks=True (googlenet, vgg16, nin, inception_v3_fragment, resnet18; class Kinks,
   resolve_kinks): an admissible-subgradient check. The float64 reference records, while computing
   the gradient (F.relu and F.max_pool2d are wrapped; they still call PyTorch's own functions, so
   the forward and its autograd are exactly PyTorch's, max pool's first maximum included), the
   ambiguous decisions: ReLU elements with 0 < |z| <= tau x RMS(z) and max-pool comparisons whose
   best and second-best values differ by <= tau x RMS(input) (exact ties of bit-identical values,
   e.g. a max pool over a max pool's output, are shown inert by one random-weighted backward per
   site, else they become candidates too; windows whose best is exactly 0 skipped: dead ReLU
   outputs, their derivative is 0 anyway; overlapping windows comparing the same two elements are
   ONE decision, flipped together), tau = KINK_TAU = 1e-5: float32 PyTorch's ReLU / pool inputs
   differ from float64 by up to ~4e-6 x RMS on nin / vgg16, which cnnc's float32 forward matches in
   order of magnitude (forward output errors <= 1e-6). For each decision k, Delta_k = the change of
   every parameter gradient if k were decided the other way (ReLU: derivative 0 <-> 1 at that
   element; pool: the incoming gradient of its window(s) routed to the second-best element) is
   computed by one torch.autograd.grad from the kink's tensor down (cross terms between two flips
   are ignored: each Delta is taken at the unflipped reference). Only if cnnc misses the tolerance
   against the plain reference, flips are chosen greedily, largest sum_t ||Delta_t||^2 / tol_t^2
   first: flip k is accepted if it lowers sum_t ||R_t||^2 / tol_t^2, R = cnnc - reference (tol_t =
   1e-4 x max(1, max|ref_t|)). Then the usual per-tensor max criterion applies to cnnc vs the
   reference with the accepted flips. Counts, flips and the error before / after are logged; more
   than KINK_CAP (400) candidates FAIL. A flip can only move the reference to another admissible
   subgradient (the gradient of a neighbouring linear piece at a point within rounding of both), so
   a wrong gradient still fails: --perturb-reference still fails every row, and a tiny self-test
   (kink_self_test: one planted ReLU flip and one pool flip are resolved, a 2e-4 error on any one
   element still fails) runs first whenever a row with resolve_kinks runs.

In addition, a batch is redrawn (up to MAX_DRAWS times, logged) for rows without
resolve_kinks if float32 PyTorch autograd does not agree with float64 within half the
tolerance on every tensor; rows with resolve_kinks keep their first draw (the disagreement is
logged). The small models are checked at random points, where ReLU patterns are mixed within
channels (so is every op in test_grads.py).

Dropout: cnnc's masks cannot match PyTorch's. So step 4 runs on a copy of the model file whose
dropout layers have rate 0 (and the twin's nn.Dropout modules get p = 0); dropout's own
forward / backward / scaling is checked by test_grads.py (group dropout). The model file as
written is still compiled and run: for a model with dropout the unmodified file is compiled
too (with its train step if the row has train_steps, else --inference-only, which is faster)
and step 3 (and 5) runs on it as well (for a row with grad_input: at its own input size).

Parameters: seeded from the model's name; conv / dense weights are He-uniform
(+-sqrt(6 / fan_in), so activations neither vanish nor explode through deep ReLU stacks such
as VGG-16 without batch norm), biases +-0.1, batch norm gets non-trivial affine parameters
and running statistics (twins' own initialization is overwritten). Inputs are N(0, 1) unless
a row gives input_fn. Compile and run times are printed per model (the CI budget, see
test/e2e/CMakeLists.txt).

How to add a model: write models/<name>.yaml (named so its parameters map onto the twin's
state_dict), a twin whose forward(x) takes the float input batch (float64 in the reference;
cast inside forward if it needs integer ids) and returns the LOGITS (for a model ending in
softmax, set output="softmax": the reference applies it), then append a ZooModel row to
REGISTRY (name, yaml, twin factory, input_shape, classes; rename for state_dict names that
differ - a dict {twin name: cnnc name} or a function returning the cnnc name or None to drop
the entry; input_fn for non-Gaussian inputs; train_steps/train_lr for a small model;
grad_input, and fit_twin if the twin's shapes depend on the input size, for a large model
whose float64 train-step reference at full size is expensive) and add
its name to the e2e.zoo list of test/e2e/CMakeLists.txt (one ctest test per model,
e2e.zoo.<name>), and a row to docs/models.md. test_stats.py picks the row up automatically
(its parameter count must equal the twin's). Twins must use nn.Dropout modules (not
F.dropout) so they can be switched off.

Assumes: /usr/bin/python3 with Debian's torch 1.13, torchvision 0.14, numpy, PyYAML; cnnc in
--bin-dir; the cnnc Python package from --python-dir (default <bin-dir>/../python).
Run: /usr/bin/python3 test/e2e/test_zoo.py --bin-dir build/bin
     [--model alexnet ...] [--list] [--keep]
     [--perturb-reference]   (adds 2e-4 * max(1, |ref|) to one element of every reference
                              tensor: every model must then FAIL - the test can fail)
"""

import argparse
import copy
import math
import os
import sys
import tempfile
import shutil
import time
import traceback
import warnings
from dataclasses import dataclass
from typing import Callable, Optional, Union

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402  (and tools/py: reference_models, safetensors_io)
from harness import (RTOL, compare, perturb_reference, pixel_input, run_cnnc,  # noqa: E402
                     seed_of, token_ids)


# --------------------------------------------------------------------------- registry

@dataclass
class ZooModel:
    """One model of the zoo: see the module docstring."""
    name: str                       # ctest e2e.zoo.<name>
    yaml: str                       # model file, relative to the source directory
    twin: Callable                  # () -> torch.nn.Module returning logits
    input_shape: list               # one item, without the batch
    classes: int                    # labels are drawn from range(classes)
    rename: Union[dict, Callable, None] = None  # twin state_dict name -> cnnc name (differing)
    source: str = ""                # where the architecture comes from (docs/models.md)
    output: str = "logits"          # "softmax": the model's output is softmax(twin(x))
    input_fn: Optional[Callable] = None  # (torch.Generator, [N, ...]) -> float32 tensor
    train_steps: int = 0            # > 0: that many steps on a fixed batch must lower the loss
    train_lr: float = 0.01
    train_batch: int = 8
    batch: int = 2
    pin_relus: bool = False         # pin every ReLU's pattern before the gradient check (below)
    resolve_kinks: bool = False     # admissible-subgradient gradient check (below)
    grad_input: Optional[list] = None  # the train step's input shape if smaller (below)
    fit_twin: Optional[Callable] = None  # (twin, grad_input, gen) -> twin at that input
    onnx: bool = False              # cnnc compiles the twin's ONNX export, not a model file

    def __post_init__(self):
        if self.grad_input and self.train_steps:
            raise ValueError(f"{self.name}: train_steps run at the model's own input size; "
                             "they do not go with grad_input")

    def cnnc_name(self, twin_name):
        """The cnnc parameter name of a twin state_dict entry (None: not a cnnc parameter)."""
        if twin_name.endswith("num_batches_tracked"):
            return None  # an int64 counter of PyTorch's batch norm; cnnc has no such state
        if callable(self.rename):
            return self.rename(twin_name)
        if self.rename and twin_name in self.rename:
            return self.rename[twin_name]
        return twin_name


def _tv(fn, **kw):
    def make():
        import torchvision
        return getattr(torchvision.models, fn)(weights=None, **kw)
    make.__name__ = f"torchvision.models.{fn}"
    return make


def _relu6_as_relu(make_twin):
    """The twin with every nn.ReLU6 replaced by nn.ReLU. ReLU6 has a second kink (at 6) that
    pin_relus and resolve_kinks do not handle, and at a random 64x64 point of MobileNetV2
    float32 rounding flips some elements across one: the gradient check would compare two
    different subgradients. With ReLU the check is exact; relu6's own gradient (both kinks)
    is e2e.grads' relu6 and relu6_top cases, and the real network's forward through ONNX is
    test_onnx.py's torchvision group."""
    def make():
        import torch.nn as nn
        twin = make_twin()
        for module in list(twin.modules()):
            for name, child in list(module.named_children()):
                if isinstance(child, nn.ReLU6):
                    setattr(module, name, nn.ReLU())
        return twin
    make.__name__ = f"{make_twin.__name__} (ReLU6 as ReLU)"
    return make


def _ref(cls):
    def make():
        import reference_models
        return getattr(reference_models, cls)()
    make.__name__ = f"reference_models.{cls}"
    return make


def _test_models(cls):
    def make():
        import test_models
        return getattr(test_models, cls)()
    make.__name__ = f"test_models.{cls}"
    return make


VGG_CFG = {"vgg11": [1, 1, 2, 2, 2], "vgg16": [2, 2, 3, 3, 3]}


def vgg_rename(convs_per_stage):
    """torchvision VGG's flat features.<n> -> the YAML's stage<s>.<i>.conv (the unit `conv`
    block repeated per stage; each conv+relu takes 2 indices, each stage's max pool 1)."""
    table, n = {}, 0
    for s, convs in enumerate(convs_per_stage, 1):
        for i in range(convs):
            for p in ("weight", "bias"):
                table[f"features.{n}.{p}"] = f"stage{s}.{i}.conv.{p}"
            n += 2
        n += 1
    return table


def flat_classifier(twin, input_shape, gen):
    """torchvision AlexNet / VGG fitted to another input size as their model files are: the
    files leave out AdaptiveAvgPool2d (the identity on the 6x6 / 7x7 maps of a 224x224 input)
    and flatten the last feature map as it is, so the twin's avgpool becomes the identity and
    its first dense layer takes that many features (He-uniform values from gen, like
    randomize; every other parameter is kept)."""
    import torch
    import torch.nn as nn
    twin.avgpool = nn.Identity()
    with torch.no_grad():
        features = twin.features(torch.zeros([1] + list(input_shape))).numel()
    i = next(i for i, m in enumerate(twin.classifier) if isinstance(m, nn.Linear))
    twin.classifier[i] = randomize(nn.Linear(features, twin.classifier[i].out_features), gen)
    return twin


def onnx_row(name, twin, input_shape, **kw):
    """A row whose model is the twin exported to ONNX (torch.onnx.export, opset 13, training
    mode: every initializer keeps its state_dict name), so the ONNX frontend is checked
    against the twin as a model file is."""
    return ZooModel(name, "", twin, input_shape, 1000, onnx=True,
                    source=f"{twin.__name__} via torch.onnx.export", **kw)


REGISTRY = [
    ZooModel("lenet5", "models/lenet5.yaml", _test_models("LeNet5"), [1, 28, 28], 10,
             source="d2l LeNet-5 (sigmoid, max pool, 28x28)", input_fn=pixel_input,
             train_steps=6, train_lr=0.2),
    ZooModel("alexnet_fmnist", "models/alexnet_fmnist.yaml", _ref("AlexNetFMnist"),
             [1, 224, 224], 10, source="d2l AlexNet for Fashion-MNIST",
             input_fn=pixel_input, train_steps=4, train_lr=0.001, train_batch=4),
    ZooModel("alexnet", "models/alexnet.yaml", _tv("alexnet"), [3, 224, 224], 1000,
             source="torchvision.models.alexnet"),
    ZooModel("vgg11", "models/vgg11.yaml", _tv("vgg11"), [3, 224, 224], 1000,
             rename=vgg_rename(VGG_CFG["vgg11"]), grad_input=[3, 64, 64],
             fit_twin=flat_classifier, source="torchvision.models.vgg11"),
    ZooModel("vgg16", "models/vgg16.yaml", _tv("vgg16"), [3, 224, 224], 1000,
             rename=vgg_rename(VGG_CFG["vgg16"]), resolve_kinks=True, grad_input=[3, 64, 64],
             fit_twin=flat_classifier, source="torchvision.models.vgg16"),
    ZooModel("nin", "models/nin.yaml", _ref("NiN"), [1, 224, 224], 10,
             source="d2l Network in Network for Fashion-MNIST", input_fn=pixel_input,
             resolve_kinks=True, train_steps=5, train_lr=0.02, train_batch=4),
    ZooModel("googlenet", "models/googlenet.yaml",
             _tv("googlenet", aux_logits=False, transform_input=False, init_weights=True),
             [3, 224, 224], 1000, pin_relus=True, resolve_kinks=True, grad_input=[3, 96, 96],
             source="torchvision.models.googlenet(aux_logits=False, transform_input=False)"),
    ZooModel("inception_v3_fragment", "models/inception_v3_fragment.yaml",
             _ref("InceptionV3Fragment"), [3, 35, 35], 10,
             source="torchvision.models.inception InceptionA + InceptionC",
             resolve_kinks=True, train_steps=5, train_lr=0.05),
    ZooModel("resnet18", "models/resnet18.yaml", _tv("resnet18"), [3, 224, 224], 1000,
             pin_relus=True, resolve_kinks=True, source="torchvision.models.resnet18"),
    ZooModel("resnet34", "models/resnet34.yaml", _tv("resnet34"), [3, 224, 224], 1000,
             pin_relus=True, source="torchvision.models.resnet34"),
    ZooModel("resnet50", "models/resnet50.yaml", _tv("resnet50"), [3, 224, 224], 1000,
             pin_relus=True, source="torchvision.models.resnet50"),
    ZooModel("textcnn", "models/textcnn.yaml", _ref("TextCnn"), [64], 2,
             source="Kim 2014 CNN-rand (embedding, conv1d 3/4/5 x 100, max over time)",
             input_fn=token_ids(5000), train_steps=5, train_lr=0.001),
    ZooModel("lenet5_original", "models/lenet5_original.yaml", _ref("LeNet5Original"),
             [1, 32, 32], 10, source="LeCun et al. 1998 LeNet-5 (tanh, average pooling, C3 "
             "connection table)", input_fn=pixel_input, train_steps=6, train_lr=0.1),
    ZooModel("alphago_policy", "models/alphago_policy.yaml", _ref("AlphaGoPolicy"),
             [48, 19, 19], 361, source="Silver et al. 2016 AlphaGo SL policy network (k = 192)",
             output="softmax", input_fn=pixel_input, train_steps=4, train_lr=0.001,
             train_batch=4),
    # torchvision classifiers through ONNX: the forward and the train step at a small input
    # (the 224x224 forward at batch 1 and 3 is test_onnx.py's torchvision group).
    onnx_row("onnx_resnet18", _tv("resnet18"), [3, 64, 64], pin_relus=True,
             resolve_kinks=True),
    onnx_row("onnx_mobilenet_v2", _relu6_as_relu(_tv("mobilenet_v2")), [3, 64, 64],
             pin_relus=True, resolve_kinks=True),
    onnx_row("onnx_googlenet", _tv("googlenet", aux_logits=False, transform_input=False,
                                   init_weights=True), [3, 96, 96], pin_relus=True,
             resolve_kinks=True),
    onnx_row("onnx_alexnet", _tv("alexnet"), [3, 64, 64], fit_twin=flat_classifier,
             resolve_kinks=True),
    onnx_row("onnx_vgg11", _tv("vgg11"), [3, 64, 64], fit_twin=flat_classifier),
]


# --------------------------------------------------------------------------- helpers

def randomize(twin, gen):
    """Seeded parameters (see the module docstring); returns the twin."""
    import torch
    import torch.nn as nn
    bn_types = (nn.BatchNorm1d, nn.BatchNorm2d)
    with torch.no_grad():
        done = set()
        for mname, mod in twin.named_modules():
            if isinstance(mod, bn_types):
                c = mod.num_features
                mod.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                mod.bias.copy_(torch.randn(c, generator=gen) * 0.2)
                mod.running_mean.copy_(torch.randn(c, generator=gen) * 0.2)
                mod.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
                done.update(f"{mname}.{p}" if mname else p for p in ("weight", "bias"))
        for name, p in twin.named_parameters():
            if name in done:
                continue
            if p.dim() >= 2:
                bound = math.sqrt(6.0 / p[0].numel())
            else:
                bound = 0.1
            p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * bound)
    return twin


def pin_relu_patterns(twin, x, gen, live=0.75, margin=0.1):
    """Moves the twin to a point where the gradient is well defined under float32 rounding:
    every ReLU input channel is made entirely positive (live, probability `live`) or entirely
    negative (dead) on the batch x, at least margin x its range from 0, by shifting the
    per-channel bias added last before that ReLU (the conv / dense bias, the batch norm beta;
    after a residual add, the beta of its last summand). Done in one float64 training-mode
    forward: each ReLU's shift is applied to the bias and to the running value, so later
    layers are pinned on the shifted values. Returns the twin (float32, shifted)."""
    import torch
    import torch.nn.functional as F
    work = dropout_off(copy.deepcopy(twin)).double().train()
    names = {m: n for n, m in work.named_modules()}
    last = []   # the last module run that has a per-channel bias
    updates = {}  # module name -> its pinned copy

    def track(module, inputs, output):
        last[:] = [module]
    hooks = [m.register_forward_hook(track) for m in work.modules()
             if isinstance(getattr(m, "bias", None), torch.nn.Parameter) and m.bias.dim() == 1]
    original = F.relu

    def pinned_relu(z, inplace=False):
        channels = z.shape[1]
        if not last or last[0].bias.numel() != channels:
            raise RuntimeError("pin_relu_patterns: no per-channel bias right before a ReLU")
        per_channel = z.detach().transpose(0, 1).reshape(channels, -1)
        lo, hi = per_channel.min(dim=1).values, per_channel.max(dim=1).values
        gap = margin * (hi - lo) + 1e-3
        on = torch.rand(channels, generator=gen) < live
        shift = torch.where(on, gap - lo, -gap - hi)
        view = [1, channels] + [1] * (z.dim() - 2)
        z = z + shift.view(view)
        source = last[0]
        key = names[source]
        with torch.no_grad():
            source.bias += shift
        updates[key] = source
        return original(z)
    F.relu = pinned_relu
    try:
        with torch.no_grad():
            work(x.double())
    finally:
        F.relu = original
        for h in hooks:
            h.remove()
    with torch.no_grad():
        own = dict(twin.named_modules())
        for key, source in updates.items():
            own[key].bias.copy_(source.bias)
    return twin


def dropout_off(twin):
    import torch.nn as nn
    for m in twin.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    return twin


def gradient_yaml(text, input_shape=None):
    """The model file with train: plain SGD lr 1, every dropout rate 0 and, if given, the
    input shape input_shape. Returns (yaml text, whether the model has dropout)."""
    import yaml
    doc = yaml.safe_load(text)
    if input_shape:
        doc["input"]["shape"] = list(input_shape)
    has_dropout = False
    lists = [doc.get("layers", [])] + [b.get("layers", []) for b in (doc.get("blocks") or {}).values()]
    for layers in lists:
        for layer in layers:
            if layer.get("op") == "dropout":
                layer["rate"] = 0.0
                has_dropout = True
    doc["train"] = {"loss": "cross_entropy", "optimizer": {"name": "sgd", "lr": 1.0}}
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=1000), has_dropout


# --------------------------------------------------------------------------- kinks

KINK_TAU = 1e-5     # a ReLU input / pool gap within KINK_TAU x RMS(tensor) of a kink is ambiguous
KINK_CAP = 400      # more candidate kinks than this: FAIL (the check would get too loose)
KINK_CACHE_BYTES = 1 << 30  # flip effects kept in memory (float32); the rest are recomputed


class Kink:
    """One ambiguous decision of the float64 reference: a ReLU element, or the comparison of
    the best and second-best value of a max-pool window (overlapping windows whose best and
    second-best are the same two elements compare the same two values: one decision)."""
    __slots__ = ("site", "kind", "entries", "gap", "g", "norm")

    def __init__(self, site, kind, entries, gap):
        self.site, self.kind = site, kind
        # [(flat index into the site's input z, sign, flat index into its output y)]: the
        # flip adds sign x (incoming gradient at y) to the gradient at z
        self.entries = entries
        self.gap = gap          # |z| or best - second, relative to RMS(z)
        self.g = []             # the incoming gradients, per entry
        self.norm = 0.0


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


class Kinks:
    """Records the ReLU / max-pool kinks of one float64 forward and resolves them against
    cnnc's gradient (the module docstring, "Conditioning"). Use:
        with kinks: out = twin(x)              # F.relu / F.max_pool2d are recorded
        grads = kinks.gradients(loss, params)  # the gradient; finds the candidates
        kinks.resolve(...)                     # later, against cnnc's gradient
    The recorded functions call PyTorch's own (F.relu never in place; F.max_pool2d with
    indices), so the forward and its autograd are exactly PyTorch's."""

    def __init__(self, tau=None):
        self.tau = KINK_TAU if tau is None else tau
        self.sites = []   # (kind, z, y, pool indices and arguments or None)
        self.cands = []
        self.ties = []
        self.params = []
        self.cache = {}
        self.cached_bytes = 0

    def __enter__(self):
        import torch.nn.functional as F
        self._orig = (F.relu, F.max_pool2d)
        relu0, pool0 = self._orig

        def relu(z, inplace=False):
            y = relu0(z)  # never in place: z must stay the kink's tensor
            self.sites.append(("relu", z, y, None))
            return y

        def max_pool2d(z, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                       return_indices=False):
            y, idx = pool0(z, kernel_size, stride, padding, dilation, ceil_mode=ceil_mode,
                           return_indices=True)
            self.sites.append(("pool", z, y, (idx, kernel_size, stride, padding, dilation)))
            return (y, idx) if return_indices else y
        F.relu, F.max_pool2d = relu, max_pool2d
        return self

    def __exit__(self, *exc):
        import torch.nn.functional as F
        F.relu, F.max_pool2d = self._orig
        return False

    def _find(self):
        import torch
        import torch.nn.functional as F
        cands, ties = [], []
        with torch.no_grad():
            for s, (kind, z, y, extra) in enumerate(self.sites):
                z = z.detach()
                rms = float(z.pow(2).mean().sqrt())
                lim = self.tau * rms
                if kind == "relu":
                    flat = z.reshape(-1)
                    for i in ((flat != 0) & (flat.abs() <= lim)).nonzero().flatten().tolist():
                        v = float(flat[i])
                        cands.append(Kink(s, "relu", [(i, -1.0 if v > 0 else 1.0, i)],
                                          abs(v) / rms))
                    continue
                idx, kernel, stride, padding, dilation = extra
                if z.dim() != 4:
                    raise RuntimeError("kinks: only 4-d max_pool2d inputs are supported")
                k, st, pd, dl = (_pair(kernel), _pair(stride if stride else kernel),
                                 _pair(padding), _pair(dilation))
                n, c, h, w = z.shape
                ho, wo = y.shape[-2:]
                ext = [dl[i] * (k[i] - 1) + 1 for i in (0, 1)]
                pad_b = max(0, (ho - 1) * st[0] + ext[0] - h - pd[0])
                pad_r = max(0, (wo - 1) * st[1] + ext[1] - w - pd[1])
                zp = F.pad(z, (pd[1], pad_r, pd[0], pad_b), value=-math.inf)
                win = zp.unfold(2, ext[0], st[0]).unfold(3, ext[1], st[1])
                win = win[:, :, :ho, :wo, ::dl[0], ::dl[1]].reshape(n, c, ho, wo, -1)
                # plane index (row * w + col) of every window element; -1 in the padding
                rows = (torch.arange(ho) * st[0] - pd[0]).view(ho, 1, 1, 1) + \
                    (torch.arange(k[0]) * dl[0]).view(1, 1, k[0], 1)
                cols = (torch.arange(wo) * st[1] - pd[1]).view(1, wo, 1, 1) + \
                    (torch.arange(k[1]) * dl[1]).view(1, 1, 1, k[1])
                inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
                pos = torch.where(inside, rows * w + cols, torch.full_like(rows * cols, -1))
                pos = pos.reshape(ho, wo, -1)
                chosen = pos.unsqueeze(0).unsqueeze(0) == idx.unsqueeze(-1)
                second, which = win.masked_fill(chosen, -math.inf).max(dim=-1)
                gap = y.detach() - second
                hit = ((gap <= lim) & (y.detach() != 0)).nonzero().tolist()
                pairs = {}
                for (a, b, i, j) in hit:
                    p2 = int(pos[i, j, int(which[a, b, i, j])])
                    p1 = int(idx[a, b, i, j])
                    base = (a * c + b) * h * w
                    yi = ((a * c + b) * ho + i) * wo + j
                    key = (base + p1, base + p2)
                    if key not in pairs:
                        pairs[key] = Kink(s, "pool", [], float(gap[a, b, i, j]) / rms)
                        (cands if pairs[key].gap > 0 else ties).append(pairs[key])
                    pairs[key].entries += [(base + p1, -1.0, yi), (base + p2, 1.0, yi)]
        return cands, ties

    def gradients(self, loss, params):
        """torch.autograd.grad(loss, params), plus the candidates' incoming gradients."""
        import torch
        self.params = list(params)
        self.cands, self.ties = self._find()
        used = sorted({k.site for k in self.cands + self.ties})
        ys = [self.sites[s][2] for s in used]
        out = torch.autograd.grad(loss, self.params + ys, retain_graph=bool(used),
                                  allow_unused=True)
        gy = dict(zip(used, out[len(self.params):]))
        for k in self.cands + self.ties:
            flat = gy[k.site].reshape(-1)
            k.g = [float(flat[yi]) for _, _, yi in k.entries]
        # keep only what the flips need (the graph holds the rest while it is retained)
        self.sites = [site if i in gy else None for i, site in enumerate(self.sites)]
        return out[:len(self.params)]

    def ties_inert(self, tol, gen):
        """The exact ties (best == second-best bit for bit, e.g. a max pool of a max pool's
        output, where both are copies of one element): |sum_k r_k Delta_k| in tolerance
        units for random r_k ~ N(0, 1), by ONE backward per site. 0 (to rounding) iff every
        tie's flip leaves every gradient unchanged (almost surely in r), i.e. the two ways
        of breaking each tie are equivalent."""
        import torch
        total = [None] * len(self.params)
        for site in sorted({k.site for k in self.ties}):
            z = self.sites[site][1]
            v = torch.zeros(z.numel(), dtype=z.dtype)
            for k in self.ties:
                if k.site == site:
                    r = float(torch.randn(1, generator=gen, dtype=torch.float64))
                    for (i, sign, _), g in zip(k.entries, k.g):
                        v[i] += r * sign * g
            d = torch.autograd.grad(z, self.params, v.view(z.shape), retain_graph=True,
                                    allow_unused=True)
            for j, t in enumerate(d):
                if t is not None:
                    total[j] = t if total[j] is None else total[j] + t
        return math.sqrt(sum(float(t.pow(2).sum()) / tol[j] ** 2
                             for j, t in enumerate(total) if t is not None and tol[j] > 0))

    def counts(self):
        relu = sum(k.kind == "relu" for k in self.cands)
        return relu, len(self.cands) - relu

    def delta(self, k):
        """{param position: change of its gradient (float32)} if kink k were decided the
        other way (ReLU: derivative 0 <-> 1; pool: the window's gradient to its second-best
        position), by autograd from the kink's tensor down."""
        import torch
        if k in self.cache:
            return self.cache[k]
        z = self.sites[k.site][1]
        v = torch.zeros(z.numel(), dtype=z.dtype)
        for (i, sign, _), g in zip(k.entries, k.g):
            v[i] += sign * g
        d = torch.autograd.grad(z, self.params, v.view(z.shape), retain_graph=True,
                                allow_unused=True)
        d = {j: t.detach().float() for j, t in enumerate(d) if t is not None}
        size = sum(t.numel() * 4 for t in d.values())
        if self.cached_bytes + size <= KINK_CACHE_BYTES:
            self.cache[k] = d
            self.cached_bytes += size
        return d

    def resolve(self, resid, tol):
        """Greedy flips: resid[j] (float64 tensor, cnnc - reference, or None) and tol[j] per
        parameter position. Kinks are tried largest |Delta| first (in tolerance units) and
        flip k is accepted if it lowers sum_j ||resid_j||^2 / tol_j^2 (cross terms between
        flips ignored: each Delta is taken at the unflipped reference); it stops early once
        every tensor is within half its tolerance (fewer flips: only stricter). Returns (accepted
        kinks, {position: summed Delta as float64}); resid is updated in place."""
        import torch
        live = [k for k in self.cands if any(k.g)]
        for k in live:
            d = self.delta(k)
            k.norm = math.sqrt(sum(float(t.double().pow(2).sum()) / tol[j] ** 2
                                   for j, t in d.items() if resid[j] is not None))
        live.sort(key=lambda k: -k.norm)
        accepted, total = [], {}

        def met():  # every tensor within half its tolerance: no further flip is needed
            return all(r is None or not r.numel() or float(r.abs().max()) <= 0.5 * t
                       for r, t in zip(resid, tol))
        for k in live:
            if k.norm == 0.0 or (accepted and met()):
                break
            d = self.delta(k)
            gain = 0.0
            for j, t in d.items():
                if resid[j] is not None:
                    t = t.double()
                    gain += float(2 * (resid[j] * t).sum() - t.pow(2).sum()) / tol[j] ** 2
            if gain > 0:
                accepted.append(k)
                for j, t in d.items():
                    if resid[j] is not None:
                        resid[j] -= t.double()
                        total[j] = total.get(j, 0) + t.double()
        return accepted, total

    def release(self):
        self.sites, self.cands, self.ties, self.params, self.cache = [], [], [], [], {}


def resolve_kinks(kinks, names, got, ref, perturb, log):
    """The flips of kinks (recorded in the float64 reference) that best explain cnnc's
    gradient: returns {cnnc name: reference with the accepted flips} and whether the count
    of candidates is within KINK_CAP. got / ref: {cnnc name: float64 numpy}."""
    import numpy as np
    import torch
    t0 = time.time()
    relu, pool = kinks.counts()
    n = relu + pool
    live = sum(bool(any(k.g)) for k in kinks.cands)
    log(f"  kinks (tau {kinks.tau:g} x RMS): {n} candidates ({relu} ReLU inputs, {pool} max-pool "
        f"comparisons; {n - live} with zero incoming gradient), {len(kinks.ties)} exact "
        f"max-pool ties")
    if n > KINK_CAP:
        log(f"  {n} candidate kinks > cap {KINK_CAP}: the check would be too loose")
        return dict(ref), False
    resid, tol = [], []
    for name in names:
        if name in got and name in ref:
            r = perturb_reference(ref[name]) if perturb else ref[name]
            resid.append(torch.from_numpy(got[name] - r))
            tol.append(RTOL * max(1.0, float(np.max(np.abs(ref[name]))) if r.size else 0.0))
        else:
            resid.append(None)
            tol.append(1.0)

    def summary():
        rs = [(float(r.abs().max()) / t if r.numel() else 0.0, float(r.pow(2).sum()) / t ** 2)
              for r, t in zip(resid, tol) if r is not None]
        return max(rs)[0] if rs else 0.0, sum(s for _, s in rs)
    if kinks.ties:
        inert = kinks.ties_inert([t if r is not None else 0.0 for r, t in zip(resid, tol)],
                                 torch.Generator().manual_seed(1))
        log(f"  kinks: the {len(kinks.ties)} exact ties, broken the other way with random "
            f"weights, change the gradients by {inert:.1e} x tol (inert if <= 1e-3)")
        if inert > 1e-3:
            log("  exact ties that matter: they are candidates too")
            kinks.cands += kinks.ties
            kinks.ties = []
            live = sum(bool(any(k.g)) for k in kinks.cands)
            if len(kinks.cands) > KINK_CAP:
                log(f"  {len(kinks.cands)} candidate kinks > cap {KINK_CAP}")
                return dict(ref), False
    worst0, obj0 = summary()
    if worst0 <= 1.0:
        log(f"  kinks: none flipped (the reference as is meets the tolerance: max|err|/tol "
            f"{worst0:.3f})")
        return dict(ref), True
    accepted, total = kinks.resolve(resid, tol)
    worst1, obj1 = summary()
    kinds = ", ".join(f"{k.kind} (gap {k.gap:.1e} x RMS, |Delta| {k.norm:.2f} tol)"
                      for k in accepted[:6]) + (", ..." if len(accepted) > 6 else "")
    log(f"  kinks: {len(accepted)} of {live} flipped{': ' + kinds if accepted else ''}; "
        f"max|err|/tol {worst0:.3f} -> {worst1:.3f}, sum (err/tol)^2 {obj0:.3g} -> "
        f"{obj1:.3g} ({time.time() - t0:.1f}s)")
    out = dict(ref)
    for j, d in total.items():
        out[names[j]] = ref[names[j]] + d.numpy()
    return out, True


def kink_self_test(log):
    """Row-independent check of resolve_kinks on a tiny float64 net (conv, ReLU, 2x2 max pool,
    dense) with one ReLU input and one pool window planted 1e-8 x RMS from their kinks: a
    "cnnc" gradient that decides both the other way must fail the plain criterion, pass after
    resolution (>= 1 flip), and fail again when one element is off by 2e-4 x max(1,|ref|).
    Returns a list of failure messages."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    gen = torch.Generator().manual_seed(7)
    conv_w = torch.randn(4, 2, 3, 3, generator=gen, dtype=torch.float64) * 0.5
    conv_b = torch.randn(4, generator=gen, dtype=torch.float64) * 0.1
    fc_w = torch.randn(3, 36, generator=gen, dtype=torch.float64) * 0.5
    fc_b = torch.zeros(3, dtype=torch.float64)
    params = [t.requires_grad_() for t in (conv_w, conv_b, fc_w, fc_b)]
    names = ["conv.weight", "conv.bias", "fc.weight", "fc.bias"]
    x = torch.randn(2, 2, 8, 8, generator=gen, dtype=torch.float64)
    labels = torch.tensor([0, 2])
    with torch.no_grad():
        z = F.conv2d(x, conv_w, conv_b)
        rms = float(z.pow(2).mean().sqrt())
    # plant: z[0,0,0,0] = +1e-8 rms, the rest of its window negative; in channel 1 window
    # (0,0) of sample 1: a live best value with a second one 1e-8 rms below it
    r = torch.zeros_like(z)
    r[0, 0, :2, :2] = -z[0, 0, :2, :2].abs() - 0.5 * rms - z[0, 0, :2, :2]
    r[0, 0, 0, 0] = 1e-8 * rms - z[0, 0, 0, 0]
    r[1, 1, :2, :2] = -z[1, 1, :2, :2] - rms
    r[1, 1, 0, 1] = -z[1, 1, 0, 1] + 2 * rms
    r[1, 1, 1, 0] = -z[1, 1, 1, 0] + 2 * rms - 1e-8 * rms

    def net(rr, record=None):
        zz = F.conv2d(x, conv_w, conv_b) + rr
        if record is not None:
            with record:
                p = F.max_pool2d(F.relu(zz), 2)
        else:
            p = F.max_pool2d(F.relu(zz), 2)
        return F.cross_entropy(F.linear(p.flatten(1), fc_w, fc_b), labels)
    kinks = Kinks()
    ref = {n: g.numpy().copy() for n, g in zip(names, kinks.gradients(net(r, kinks), params))}
    # "cnnc": the same net with both decisions the other way (value changes of 2e-8 x RMS)
    flip = r.clone()
    flip[0, 0, 0, 0] -= 2e-8 * rms
    flip[1, 1, 1, 0] += 2e-8 * rms
    got = {n: g.numpy().copy() for n, g in zip(names, torch.autograd.grad(net(flip), params))}
    errors = []
    silent = lambda s: None
    if all(compare(got[n], ref[n]).ok for n in names):
        errors.append("the planted flips do not change the gradient")
    adj, _ = resolve_kinks(kinks, names, got, ref, False, silent)
    bad = [n for n in names if not compare(got[n], adj[n]).ok]
    if bad:
        errors.append(f"resolution does not explain the planted flips ({', '.join(bad)})")
    for n in names:
        wrong = dict(got)
        wrong[n] = got[n].copy()
        wrong[n].flat[wrong[n].size // 2] += 2e-4 * max(1.0, float(np.max(np.abs(ref[n]))))
        adj, _ = resolve_kinks(kinks, names, wrong, ref, False, silent)
        if all(compare(wrong[m], adj[m]).ok for m in names):
            errors.append(f"a 2e-4 error on one element of {n} passes after resolution")
    relu, pool = kinks.counts()
    log(f"kink self-test: {relu} ReLU + {pool} pool candidates; "
        + ("; ".join(errors) if errors else "ok"))
    return errors


# --------------------------------------------------------------------------- reference

MAX_DRAWS = 4


def reference_step(entry, twin, x, labels, dtype, kinks=None):
    """PyTorch autograd of the train step in `dtype`, training mode, dropout off:
    ({cnnc name: gradient}, loss, correct count, {cnnc name: buffer after the step}),
    all as float64 numpy. With kinks (a Kinks), its ReLUs and max pools are recorded and
    kinks keeps the graph for resolve_kinks (kinks.names: the cnnc names of kinks.params)."""
    import torch
    import torch.nn.functional as F
    t = dropout_off(copy.deepcopy(twin).to(dtype)).train()
    trainable = dict(t.named_parameters())
    if kinks is not None:
        with kinks:
            out = t(x.to(dtype))
    else:
        out = t(x.to(dtype))
    loss = F.cross_entropy(out, labels)
    if kinks is not None:
        grads = kinks.gradients(loss, list(trainable.values()))
        kinks.names = [entry.cnnc_name(k) for k in trainable]
    else:
        grads = torch.autograd.grad(loss, list(trainable.values()))
    rgrad = {entry.cnnc_name(k): g.detach().double().numpy() for k, g in zip(trainable, grads)}
    correct = int((out.argmax(dim=1) == labels).sum())
    buffers = {entry.cnnc_name(k): b.detach().double().numpy() for k, b in t.named_buffers()}
    return rgrad, float(loss), correct, buffers


def conditioning(ref32, ref64):
    """None if float32 PyTorch is within half the tolerance of float64 everywhere, else the
    worst (relative error, tensor name)."""
    import numpy as np
    worst = (0.0, "")
    pairs = [("loss", np.array([ref32[1]]), np.array([ref64[1]]))]
    pairs += [(k, ref32[0][k], ref64[0][k]) for k in ref64[0]]
    for k, a, b in pairs:
        rel = float(np.max(np.abs(a - b))) / max(1.0, float(np.max(np.abs(b)))) if b.size else 0.0
        if rel > worst[0]:
            worst = (rel, k)
    return worst if worst[0] > 0.5 * RTOL else None


# --------------------------------------------------------------------------- one model

class Checker:
    def __init__(self, entry, perturb, log):
        self.entry, self.perturb, self.log = entry, perturb, log
        self.ok = True
        self.worst = {}  # kind -> (relative error, tensor name)

    def check(self, kind, what, got, ref):
        c = compare(got, ref, self.perturb)
        if c.rel >= self.worst.get(kind, (-1.0, ""))[0]:
            self.worst[kind] = (c.rel, what)
        if not c.ok:
            self.ok = False
            self.log(f"  FAIL {kind} {what}: {c.message}")
        return c.ok

    def fail(self, msg):
        self.ok = False
        self.log("  FAIL " + msg)


def draw_input(entry, gen, batch, shape):
    """A float32 input batch [batch] + shape: the row's input_fn, else N(0, 1)."""
    import torch
    return (entry.input_fn(gen, [batch] + list(shape)) if entry.input_fn
            else torch.randn([batch] + list(shape), generator=gen)).float()


def twin_parameters(entry, twin, chk):
    """The twin's state_dict under cnnc's names, as float32 (two entries mapping to one name
    fail)."""
    params = {}
    for k, v in twin.state_dict().items():
        c = entry.cnnc_name(k)
        if c is not None:
            if c in params:
                chk.fail(f"two twin entries map to the cnnc name {c}")
            params[c] = v.detach().float().contiguous()
    return params


def forward_reference(entry, twin, x):
    """The twin's output on x in float64, evaluation mode (softmax applied if the model's
    output is softmax), as numpy."""
    import torch
    twin64 = copy.deepcopy(twin).double().eval()
    with torch.no_grad():
        ref = twin64(x.double())
        if entry.output == "softmax":
            ref = torch.softmax(ref, dim=1)
    return ref.numpy()


def load_checked(rt, chk, so, params, st):
    """The compiled model so with the parameters of the safetensors file st loaded, if its
    parameter names and shapes are exactly those of params; else None (the check failed)."""
    model = rt.Model(so)
    names = set(model.parameters)
    if names != set(params):
        only_c = sorted(names - set(params))
        only_t = sorted(set(params) - names)
        chk.fail(f"parameter names differ: only in cnnc {only_c[:8]}"
                 f"{'...' if len(only_c) > 8 else ''} ({len(only_c)}); only in the twin "
                 f"(after renaming) {only_t[:8]}{'...' if len(only_t) > 8 else ''} "
                 f"({len(only_t)})")
        model.close()
        return None
    for k in names:
        if tuple(model.parameters[k]["shape"]) != tuple(params[k].shape):
            chk.fail(f"{k}: cnnc shape {list(model.parameters[k]['shape'])} vs twin "
                     f"{list(params[k].shape)}")
            model.close()
            return None
    model.load_parameters(st)
    return model


def compile_model_file(entry, args, workdir, src, times):
    """Compiles the row's model file for the gradient check (gradient_yaml) and, where it
    differs (dropout, grad_input), as written. Returns (grad.so, model.so or None)."""
    cnnc = os.path.join(args.bin_dir, "cnnc")
    with open(src) as f:
        text = f.read()
    gtext, has_dropout = gradient_yaml(text, entry.grad_input)
    gsrc = os.path.join(workdir, "grad.yaml")
    with open(gsrc, "w") as f:
        f.write(gtext)
    so_grad = os.path.join(workdir, "grad.so")
    times["compile"] = run_cnnc(cnnc, gsrc, so_grad, target=args.target)
    so_orig = None
    if has_dropout or entry.grad_input:  # the model file as written (dropout on)
        so_orig = os.path.join(workdir, "model.so")
        extra = () if entry.train_steps else ("--inference-only",)
        times["compile_original" + ("" if entry.train_steps else "_inference")] = \
            run_cnnc(cnnc, src, so_orig, extra, target=args.target)
    return so_grad, so_orig


def compile_onnx(entry, args, workdir, so):
    """Exports an ONNX row's twin (its structure: the values are loaded later) with every
    dropout rate 0, and compiles it with plain SGD, lr 1 (--train-config), as gradient_yaml
    does for a model file. Returns (export seconds, compile seconds)."""
    import torch
    start = time.time()
    twin = entry.twin()
    if entry.fit_twin:
        twin = entry.fit_twin(twin, entry.input_shape, torch.Generator().manual_seed(0))
    twin = dropout_off(twin).train()
    path = os.path.join(workdir, "model.onnx")
    with warnings.catch_warnings():  # the exporter's notes on batch-norm counters
        warnings.simplefilter("ignore", UserWarning)
        torch.onnx.export(twin, torch.zeros([entry.batch] + list(entry.input_shape)), path,
                          opset_version=13, training=torch.onnx.TrainingMode.TRAINING,
                          do_constant_folding=False, input_names=["input"],
                          dynamic_axes={"input": {0: "n"}})
    exported = time.time() - start
    config = os.path.join(workdir, "train.yaml")
    with open(config, "w") as f:
        f.write("train: {loss: cross_entropy, optimizer: {name: sgd, lr: 1.0}}\n")
    return exported, run_cnnc(os.path.join(args.bin_dir, "cnnc"), path, so,
                              ("--train-config", config), target=args.target)


def run_model(entry, args, rt, log):
    import numpy as np
    import torch
    import safetensors_io

    times = {}
    t_all = time.time()
    chk = Checker(entry, args.perturb_reference, log)
    src = os.path.join(args.source_dir, entry.yaml)
    if not entry.onnx and not os.path.isfile(src):
        chk.fail(f"model file {entry.yaml} does not exist")
        return chk, times
    workdir = tempfile.mkdtemp(prefix=f"cnnc_zoo_{entry.name}_")
    try:
        cnnc = os.path.join(args.bin_dir, "cnnc")
        if entry.onnx:
            so_grad, so_orig = os.path.join(workdir, "grad.so"), None
            times["export"], times["compile"] = compile_onnx(entry, args, workdir, so_grad)
        else:
            so_grad, so_orig = compile_model_file(entry, args, workdir, src, times)

        # ---- twin and parameters
        t_run = time.time()
        seed = seed_of("zoo." + entry.name)
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        twin = randomize(entry.twin(), gen).eval()
        if entry.onnx and entry.fit_twin:
            twin = entry.fit_twin(twin, entry.input_shape, gen).eval()
        input_shape = entry.input_shape
        if entry.grad_input:
            # The model file as written at its own input size: parameter names and shapes,
            # and the forward pass. The rest runs on the copy with input grad_input.
            x = draw_input(entry, gen, entry.batch, input_shape)
            params = twin_parameters(entry, twin, chk)
            st = os.path.join(workdir, "params_full.safetensors")
            safetensors_io.save(params, st)
            model = load_checked(rt, chk, so_orig, params, st)
            if model is not None:
                chk.check("forward", f"output of the model file as written ("
                          f"{'x'.join(map(str, input_shape))}, batch {entry.batch})",
                          model.run(x.numpy()), forward_reference(entry, twin, x))
                model.close()
            del params, model
            os.remove(st)
            input_shape = entry.grad_input
            if entry.fit_twin:
                twin = entry.fit_twin(twin, input_shape, gen).eval()
        pristine = copy.deepcopy(twin) if entry.pin_relus else None

        # The batch, and the float64 reference of the train step on it. Without
        # resolve_kinks, a batch on which float32 PyTorch itself misses the tolerance (a
        # max-pool near-tie or a ReLU input near 0 decided differently within float32
        # rounding: the gradient is discontinuous there) is redrawn, up to MAX_DRAWS times.
        # With resolve_kinks the first draw is kept: such kinks are recorded and resolved.
        kinks = None
        for draw in range(1, MAX_DRAWS + 1):
            x = draw_input(entry, gen, entry.batch, input_shape)
            labels = torch.randint(0, entry.classes, (entry.batch,), generator=gen)
            if pristine is not None:
                twin = pin_relu_patterns(copy.deepcopy(pristine), x, gen)
            kinks = Kinks() if entry.resolve_kinks else None
            ref64 = reference_step(entry, twin, x, labels, torch.float64, kinks)
            ref32 = reference_step(entry, twin, x, labels, torch.float32)
            bad = conditioning(ref32, ref64)
            if not bad or entry.resolve_kinks:
                if bad:
                    log(f"  float32 PyTorch is off by {bad[0]:.2e} x max(1,|ref|) on {bad[1]} "
                        "(kept: kinks are resolved)")
                break
            log(f"  batch draw {draw} is ill-conditioned: float32 PyTorch is off by "
                f"{bad[0]:.2e} x max(1,|ref|) on {bad[1]}" + ("; redrawn" if draw < MAX_DRAWS
                                                           else "; kept"))
        params = twin_parameters(entry, twin, chk)
        st = os.path.join(workdir, "params.safetensors")
        safetensors_io.save(params, st)
        # float32 PyTorch's own error per tensor, printed next to cnnc's when a check fails.
        err32 = {k: float(np.max(np.abs(ref32[0][k] - v))) / max(1.0, float(np.max(np.abs(v))))
                 for k, v in ref64[0].items() if v.size}
        del ref32

        def load(so):
            return load_checked(rt, chk, so, params, st)

        # ---- forward, evaluation mode
        ref = forward_reference(entry, twin, x)
        model = load(so_grad)
        if model is None:
            return chk, times
        where = f"{'x'.join(map(str, input_shape))}, " if entry.grad_input else ""
        chk.check("forward", f"output ({where}batch {entry.batch})", model.run(x.numpy()), ref)
        if so_orig and not entry.grad_input:
            morig = load(so_orig)
            if morig is not None:
                chk.check("forward", f"output of the model file as written (batch "
                          f"{entry.batch})", morig.run(x.numpy()), ref)
                morig.close()

        # ---- one train step, training mode, dropout off
        classes = model.train_info()["classes"]
        if classes != entry.classes:
            chk.fail(f"the model has {classes} classes, the registry says {entry.classes}")
        model.load_parameters(st)
        loss, correct = model.train_step(x.numpy(), labels.numpy().astype(np.float32), lr=1.0)
        new = model.state_dict()
        model.close()
        rgrad, rloss, rcorrect, buffers = ref64
        chk.check("loss", "loss", np.array([loss]), np.array([rloss]))
        if int(round(correct)) != rcorrect:
            chk.fail(f"correct count: cnnc {correct} vs reference {rcorrect}")
        gots = {k: params[k].double().numpy() - new[k].astype(np.float64)
                for k in params if k in rgrad}
        if kinks is not None:
            rgrad, within_cap = resolve_kinks(kinks, kinks.names, gots, rgrad,
                                              args.perturb_reference, log)
            if not within_cap:
                chk.fail(f"more than {KINK_CAP} candidate kinks")
            kinks.release()
            kinks = None
        for k in params:
            if k in rgrad:
                got = gots[k]
                if not chk.check("grad", k, got, rgrad[k]):
                    log(f"    (float32 PyTorch autograd on {k}: {err32.get(k, 0.0):.2e} x "
                        f"max(1,|ref|))")
            elif k in buffers:
                chk.check("running", k, new[k], buffers[k])
            else:
                chk.fail(f"{k}: neither a parameter nor a buffer of the twin")
        del ref64, rgrad, new

        # ---- a few train steps lower the loss
        if entry.train_steps:
            so = so_orig if (so_orig and entry.train_steps) else so_grad
            model = load(so)
            if model is not None and pristine is not None:
                # Train from the seeded parameters, not the pinned point (whose live
                # channels pass everything: a poor start for training).
                st_train = os.path.join(workdir, "train_start.safetensors")
                safetensors_io.save({entry.cnnc_name(k): v.detach().float().contiguous()
                                     for k, v in pristine.state_dict().items()
                                     if entry.cnnc_name(k) is not None}, st_train)
                model.load_parameters(st_train)
            if model is not None:
                xb = draw_input(entry, gen, entry.train_batch, entry.input_shape)
                yb = torch.randint(0, entry.classes, (entry.train_batch,), generator=gen)
                xb, yb = xb.numpy(), yb.numpy().astype(np.float32)
                losses = [model.train_step(xb, yb, lr=entry.train_lr)[0]
                          for _ in range(entry.train_steps)]
                model.close()
                which = "the model file as written" if so == so_orig else "dropout-free copy"
                log(f"  {entry.train_steps} train steps ({which}, lr {entry.train_lr}, batch "
                    f"{entry.train_batch}): loss " + " ".join(f"{v:.4f}" for v in losses))
                if not (all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]):
                    chk.fail("the loss did not decrease over the train steps")
        times["run"] = time.time() - t_run
    finally:
        times["total"] = time.time() - t_all
        if args.keep:
            log(f"  kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return chk, times


# --------------------------------------------------------------------------- main

def main():
    ap = harness.tool_args(argparse.ArgumentParser(
        description="cnnc architecture zoo vs PyTorch / torchvision"), python_package=True)
    ap.add_argument("--model", action="append", default=[], help="registry name (repeatable)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    ap.add_argument("--perturb-reference", action="store_true",
                    help="add 2e-4*max(1,|ref|) to one element of every reference: must FAIL")
    args = ap.parse_args()
    by_name = {e.name: e for e in REGISTRY}
    if args.list:
        for e in REGISTRY:
            print(e.name)
        return 0
    for n in args.model:
        if n not in by_name:
            raise SystemExit(f"unknown model {n!r}; known: {', '.join(by_name)}")
    entries = [by_name[n] for n in args.model] if args.model else REGISTRY

    harness.skip_without_device(args.target)
    rt = harness.load_package(args)
    failed = []
    if any(e.resolve_kinks for e in entries) and kink_self_test(print):
        failed.append("kink-self-test")
    for e in entries:
        print(f"{e.name}: {e.yaml or e.source} vs {e.twin.__name__}", flush=True)
        try:
            chk, times = run_model(e, args, rt, lambda s: print(s, flush=True))
        except Exception:
            print("  " + traceback.format_exc().replace("\n", "\n  "), flush=True)
            chk, times = None, {}
        ok = chk is not None and chk.ok
        if chk:
            for kind, (rel, what) in chk.worst.items():
                print(f"  largest {kind} error {rel:.2e} (relative to max(1,|ref|); {what})")
        print("  time: " + ", ".join(f"{k} {v:.1f}s" for k, v in times.items()))
        print(f"{'PASS' if ok else 'FAIL'} {e.name}", flush=True)
        if not ok:
            failed.append(e.name)
    print(f"\ne2e zoo: {len(entries) - len([f for f in failed if f in by_name])}/"
          f"{len(entries)} passed"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
