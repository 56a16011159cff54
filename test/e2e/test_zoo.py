#!/usr/bin/python3
"""The architecture zoo (SPEC §4) against PyTorch / torchvision: every model of models/ listed
in REGISTRY below is compiled by cnnc WITH its train step and checked, at batch 2, against its
PyTorch twin (a torchvision model built with weights=None, or a twin of
tools/py/reference_models.py) on the very same float32 parameters and inputs:

 1. parameter names and shapes: the twin's state_dict, renamed by the row's table, must be
    exactly the model's parameter set (extra or missing names fail);
 2. the state_dict is written as safetensors (tools/py/safetensors_io.py) and loaded by the
    C runtime (tools/py/cnnc_runtime.py), which therefore checks the name mapping too;
 3. forward in evaluation mode (batch norm with running statistics, dropout off) vs
    twin.eval() in float64;
 4. one train step of mean softmax cross-entropy in training mode (batch norm with batch
    statistics) vs torch autograd in float64: the loss, the correct count, the gradient of
    EVERY parameter, and the batch-norm running statistics after the step (momentum update,
    unbiased variance). As in test_grads.py the model is compiled with its `train:` section
    replaced by plain SGD, lr 1, no momentum / weight decay, so grad = p_old - p_new;
 5. for the rows with train_steps > 0 (the small models): that many train steps on one fixed
    batch, with the model's own settings (its dropout included), must lower the loss.

Tolerance, per tensor: max |cnnc - reference| <= 1e-4 * max(1, max |reference|).

Conditioning: the gradient of a ReLU / max-pool network is discontinuous where a ReLU input
is 0 or two values of a pooling window tie. On a deep 224x224 model at a random point some of
its ~10^6 ReLU inputs lie within float32 rounding of 0, and float32 (cnnc's, or PyTorch's own)
then routes the gradient differently from float64: one flipped ReLU before a batch norm moves
every earlier gradient by up to 7e-2 x max(1,|ref|) (resnet50; float32 PyTorch autograd itself
fails the tolerance there on every draw). The criterion is only meaningful at a point where
the gradient is well defined, so rows with pin_relus=True (the 224x224 batch norm models)
first move the
twin to such a point (pin_relu_patterns): on the drawn batch, each ReLU input channel is made
entirely positive (live, 3 in 4) or entirely negative (dead), at least a tenth of its range
away from 0, by shifting the per-channel bias added right before that ReLU (conv / dense bias,
batch norm beta). The network is then one fixed linear map per batch around that point, and
cnnc must meet the full tolerance against float64. In addition, the batch is redrawn (up to
MAX_DRAWS times, logged) if float32 PyTorch autograd does not agree with float64 within half
the tolerance on every tensor (a max-pool near-tie). The small models are checked at random
points, where ReLU patterns are mixed within channels (so is every op in test_grads.py).

Dropout: cnnc's masks cannot match PyTorch's. So step 4 runs on a copy of the model file whose
dropout layers have rate 0 (and the twin's nn.Dropout modules get p = 0); dropout's own
forward / backward / scaling is checked by test_grads.py (group dropout). The model file as
written is still compiled and run: for a model with dropout the unmodified file is compiled
too (with its train step if the row has train_steps, else --inference-only, which is faster)
and step 3 (and 5) runs on it as well.

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
the entry; input_fn for non-Gaussian inputs; train_steps/train_lr for a small model) and add
its name to the e2e.zoo list of test/e2e/CMakeLists.txt (one ctest test per model,
e2e.zoo.<name>), and a row to docs/models.md. test_stats.py picks the row up automatically
(its parameter count must equal the twin's). Twins must use nn.Dropout modules (not
F.dropout) so they can be switched off.

Assumes: /usr/bin/python3 with Debian's torch 1.13, torchvision 0.14, numpy, PyYAML; cnnc in
--bin-dir; libcnnc_runtime.so from --runtime-lib (default <bin-dir>/../lib).
Run: /usr/bin/python3 test/e2e/test_zoo.py --bin-dir build/bin --runtime-lib
     build/lib/libcnnc_runtime.so [--model alexnet ...] [--list] [--keep]
     [--perturb-reference]   (adds 2e-4 * max(1, |ref|) to one element of every reference
                              tensor: every model must then FAIL - the test can fail)
"""

import argparse
import copy
import math
import os
import subprocess
import sys
import tempfile
import shutil
import time
import traceback
import zlib
from dataclasses import dataclass
from typing import Callable, Optional, Union

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SOURCE_DIR, "tools", "py"))

RTOL = 1e-4


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


def fmnist_input(gen, shape):  # pixel-like values in [0, 1], like Fashion-MNIST
    import torch
    return torch.rand(shape, generator=gen)


def token_ids(vocab):  # token ids of a text model, as float32 (repeats included)
    def make(gen, shape):
        import torch
        return torch.randint(0, vocab, shape, generator=gen).float()
    return make


REGISTRY = [
    ZooModel("lenet5", "models/lenet5.yaml", _test_models("LeNet5"), [1, 28, 28], 10,
             source="d2l LeNet-5 (sigmoid, max pool, 28x28)", input_fn=fmnist_input,
             train_steps=6, train_lr=0.2),
    ZooModel("alexnet_fmnist", "models/alexnet_fmnist.yaml", _ref("AlexNetFMnist"),
             [1, 224, 224], 10, source="d2l / course notes AlexNet for Fashion-MNIST",
             input_fn=fmnist_input, train_steps=4, train_lr=0.001, train_batch=4),
    ZooModel("alexnet", "models/alexnet.yaml", _tv("alexnet"), [3, 224, 224], 1000,
             source="torchvision.models.alexnet"),
    ZooModel("vgg11", "models/vgg11.yaml", _tv("vgg11"), [3, 224, 224], 1000,
             rename=vgg_rename(VGG_CFG["vgg11"]), source="torchvision.models.vgg11"),
    ZooModel("vgg16", "models/vgg16.yaml", _tv("vgg16"), [3, 224, 224], 1000,
             rename=vgg_rename(VGG_CFG["vgg16"]), source="torchvision.models.vgg16"),
    ZooModel("nin", "models/nin.yaml", _ref("NiN"), [1, 224, 224], 10,
             source="d2l Network in Network for Fashion-MNIST", input_fn=fmnist_input,
             train_steps=5, train_lr=0.02, train_batch=4),
    ZooModel("googlenet", "models/googlenet.yaml",
             _tv("googlenet", aux_logits=False, transform_input=False, init_weights=True),
             [3, 224, 224], 1000,
             pin_relus=True, source="torchvision.models.googlenet(aux_logits=False, transform_input=False)"),
    ZooModel("inception_v3_fragment", "models/inception_v3_fragment.yaml",
             _ref("InceptionV3Fragment"), [3, 35, 35], 10,
             source="torchvision.models.inception InceptionA + InceptionC",
             train_steps=5, train_lr=0.05),
    ZooModel("resnet18", "models/resnet18.yaml", _tv("resnet18"), [3, 224, 224], 1000,
             pin_relus=True, source="torchvision.models.resnet18"),
    ZooModel("resnet34", "models/resnet34.yaml", _tv("resnet34"), [3, 224, 224], 1000,
             pin_relus=True, source="torchvision.models.resnet34"),
    ZooModel("resnet50", "models/resnet50.yaml", _tv("resnet50"), [3, 224, 224], 1000,
             pin_relus=True, source="torchvision.models.resnet50"),
    ZooModel("textcnn", "models/textcnn.yaml", _ref("TextCnn"), [64], 2,
             source="Kim 2014 CNN-rand (embedding, conv1d 3/4/5 x 100, max over time)",
             input_fn=token_ids(5000), train_steps=5, train_lr=0.001),
    ZooModel("lenet5_original", "models/lenet5_original.yaml", _ref("LeNet5Original"),
             [1, 32, 32], 10, source="LeCun et al. 1998 LeNet-5 (tanh, average pooling, C3 "
             "connection table)", input_fn=fmnist_input, train_steps=6, train_lr=0.1),
    ZooModel("alphago_policy", "models/alphago_policy.yaml", _ref("AlphaGoPolicy"),
             [48, 19, 19], 361, source="Silver et al. 2016 AlphaGo SL policy network (k = 192)",
             output="softmax", input_fn=fmnist_input, train_steps=4, train_lr=0.001,
             train_batch=4),
]


# --------------------------------------------------------------------------- helpers

def seed_of(name):
    return zlib.crc32(("zoo." + name).encode()) & 0x7FFFFFFF


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


def gradient_yaml(text):
    """The model file with train: plain SGD lr 1 and every dropout rate 0.
    Returns (yaml text, whether the model has dropout)."""
    import yaml
    doc = yaml.safe_load(text)
    has_dropout = False
    lists = [doc.get("layers", [])] + [b.get("layers", []) for b in (doc.get("blocks") or {}).values()]
    for layers in lists:
        for layer in layers:
            if layer.get("op") == "dropout":
                layer["rate"] = 0.0
                has_dropout = True
    doc["train"] = {"loss": "cross_entropy", "optimizer": {"name": "sgd", "lr": 1.0}}
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=1000), has_dropout


def compare(got, ref, perturb=False):
    """(ok, error relative to max(1, max|ref|), max|ref|, message)."""
    import numpy as np
    ref = np.asarray(ref, dtype=np.float64)
    if perturb and ref.size:
        ref = ref.copy()
        ref.flat[ref.size // 2] += 2e-4 * max(1.0, float(np.max(np.abs(ref))))
    got = np.asarray(got, dtype=np.float64)
    if got.shape != ref.shape:
        return False, math.inf, 0.0, f"shape {list(got.shape)} vs reference {list(ref.shape)}"
    if got.size == 0:
        return True, 0.0, 0.0, ""
    amax = float(np.max(np.abs(ref)))
    scale = max(1.0, amax)
    diff = np.abs(got - ref)
    err = float(np.max(diff)) if np.all(np.isfinite(got)) else math.inf
    if err <= RTOL * scale:
        return True, err / scale, amax, ""
    d = np.where(np.isfinite(diff), diff, np.inf)
    worst = np.unravel_index(int(np.argmax(d)), d.shape)
    n_bad = int(np.sum(~(diff <= RTOL * scale)))
    return False, err / scale, amax, (
        f"max abs error {err:.3e} > {RTOL * scale:.3e} (shape {list(ref.shape)}, max|ref| "
        f"{amax:.3g}, {n_bad}/{ref.size} off; worst at {list(map(int, worst))}: cnnc "
        f"{got[worst]:.7g} vs reference {ref[worst]:.7g})")


def compile_model(cnnc, src, so, extra=()):
    t0 = time.time()
    for attempt in range(30):  # the tool may be being relinked by a concurrent build
        try:
            p = subprocess.run([cnnc, src, "-o", so, *extra], capture_output=True, text=True)
            break
        except OSError:
            if attempt == 29:
                raise
            time.sleep(2)
    if p.returncode != 0:
        raise RuntimeError(f"cnnc {' '.join(extra)} failed on {src} (exit {p.returncode}):\n"
                           f"{p.stdout}{p.stderr}")
    return time.time() - t0


MAX_DRAWS = 4


def reference_step(entry, twin, x, labels, dtype):
    """PyTorch autograd of the train step in `dtype`, training mode, dropout off:
    ({cnnc name: gradient}, loss, correct count, {cnnc name: buffer after the step}),
    all as float64 numpy."""
    import torch
    import torch.nn.functional as F
    t = dropout_off(copy.deepcopy(twin).to(dtype)).train()
    trainable = dict(t.named_parameters())
    out = t(x.to(dtype))
    loss = F.cross_entropy(out, labels)
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
        good, rel, amax, msg = compare(got, ref, self.perturb)
        if rel >= self.worst.get(kind, (-1.0, ""))[0]:
            self.worst[kind] = (rel, what)
        if not good:
            self.ok = False
            self.log(f"  FAIL {kind} {what}: {msg}")
        return good

    def fail(self, msg):
        self.ok = False
        self.log("  FAIL " + msg)


def run_model(entry, args, rt, log):
    import numpy as np
    import torch
    import safetensors_io

    times = {}
    t_all = time.time()
    chk = Checker(entry, args.perturb_reference, log)
    src = os.path.join(args.source_dir, entry.yaml)
    if not os.path.isfile(src):
        chk.fail(f"model file {entry.yaml} does not exist")
        return chk, times
    with open(src) as f:
        text = f.read()
    workdir = tempfile.mkdtemp(prefix=f"cnnc_zoo_{entry.name}_")
    try:
        cnnc = os.path.join(args.bin_dir, "cnnc")
        gtext, has_dropout = gradient_yaml(text)
        gsrc = os.path.join(workdir, "grad.yaml")
        with open(gsrc, "w") as f:
            f.write(gtext)
        so_grad = os.path.join(workdir, "grad.so")
        times["compile"] = compile_model(cnnc, gsrc, so_grad)
        so_orig = None
        if has_dropout:  # the model file as written (dropout on)
            so_orig = os.path.join(workdir, "model.so")
            extra = () if entry.train_steps else ("--inference-only",)
            times["compile_original" + ("" if entry.train_steps else "_inference")] = \
                compile_model(cnnc, src, so_orig, extra)

        # ---- twin and parameters
        t_run = time.time()
        seed = seed_of(entry.name)
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        twin = randomize(entry.twin(), gen).eval()
        pristine = copy.deepcopy(twin) if entry.pin_relus else None

        # The batch, and the float64 reference of the train step on it. A batch on which
        # float32 PyTorch itself misses the tolerance (a max-pool near-tie or a ReLU input
        # near 0 decided differently within float32 rounding: the gradient is discontinuous
        # there) is redrawn, up to MAX_DRAWS times.
        for draw in range(1, MAX_DRAWS + 1):
            x = (entry.input_fn(gen, [entry.batch] + entry.input_shape) if entry.input_fn
                 else torch.randn([entry.batch] + entry.input_shape, generator=gen)).float()
            labels = torch.randint(0, entry.classes, (entry.batch,), generator=gen)
            if pristine is not None:
                twin = pin_relu_patterns(copy.deepcopy(pristine), x, gen)
            ref64 = reference_step(entry, twin, x, labels, torch.float64)
            ref32 = reference_step(entry, twin, x, labels, torch.float32)
            bad = conditioning(ref32, ref64)
            if not bad:
                break
            log(f"  batch draw {draw} is ill-conditioned: float32 PyTorch is off by "
                f"{bad[0]:.2e} x max(1,|ref|) on {bad[1]}" + ("; redrawn" if draw < MAX_DRAWS
                                                           else "; kept"))
        params = {}
        for k, v in twin.state_dict().items():
            c = entry.cnnc_name(k)
            if c is not None:
                if c in params:
                    chk.fail(f"two twin entries map to the cnnc name {c}")
                params[c] = v.detach().float().contiguous()
        st = os.path.join(workdir, "params.safetensors")
        safetensors_io.save(params, st)
        # float32 PyTorch's own error per tensor, printed next to cnnc's when a check fails.
        err32 = {k: float(np.max(np.abs(ref32[0][k] - v))) / max(1.0, float(np.max(np.abs(v))))
                 for k, v in ref64[0].items() if v.size}
        del ref32

        def load(so):
            model = rt.Model(so)
            names = set(model.parameters)
            if names != set(params):
                only_c = sorted(names - set(params))
                only_t = sorted(set(params) - names)
                chk.fail(f"parameter names differ: only in cnnc {only_c[:8]}"
                         f"{'...' if len(only_c) > 8 else ''} ({len(only_c)}); only in the twin "
                         f"(after renaming) {only_t[:8]}{'...' if len(only_t) > 8 else ''} "
                         f"({len(only_t)})")
                return None
            for k in names:
                if tuple(model.parameters[k]["shape"]) != tuple(params[k].shape):
                    chk.fail(f"{k}: cnnc shape {list(model.parameters[k]['shape'])} vs twin "
                             f"{list(params[k].shape)}")
                    return None
            model.load_parameters(st)
            return model

        # ---- forward, evaluation mode
        twin64 = copy.deepcopy(twin).double().eval()
        with torch.no_grad():
            ref = twin64(x.double())
            if entry.output == "softmax":
                ref = torch.softmax(ref, dim=1)
        ref = ref.numpy()
        del twin64
        model = load(so_grad)
        if model is None:
            return chk, times
        chk.check("forward", f"output (batch {entry.batch})", model.run(x.numpy()), ref)
        if so_orig:
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
        new = model.get_parameters()
        model.close()
        rgrad, rloss, rcorrect, buffers = ref64
        chk.check("loss", "loss", np.array([loss]), np.array([rloss]))
        if int(round(correct)) != rcorrect:
            chk.fail(f"correct count: cnnc {correct} vs reference {rcorrect}")
        for k in params:
            if k in rgrad:
                got = params[k].double().numpy() - new[k].astype(np.float64)
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
                xb = (entry.input_fn(gen, [entry.train_batch] + entry.input_shape)
                      if entry.input_fn else
                      torch.randn([entry.train_batch] + entry.input_shape, generator=gen))
                yb = torch.randint(0, entry.classes, (entry.train_batch,), generator=gen)
                xb, yb = xb.float().numpy(), yb.numpy().astype(np.float32)
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
    ap = argparse.ArgumentParser(description="cnnc architecture zoo vs PyTorch / torchvision")
    ap.add_argument("--bin-dir", default=os.environ.get("CNNC_BIN_DIR",
                                                        os.path.join(SOURCE_DIR, "build", "bin")))
    ap.add_argument("--source-dir", default=os.environ.get("CNNC_SOURCE_DIR", SOURCE_DIR))
    ap.add_argument("--runtime-lib", default=os.environ.get("CNNC_RUNTIME_LIB"))
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

    import torch
    torch.set_num_threads(1)
    import cnnc_runtime as rt
    rt.load_library(args.runtime_lib or os.path.join(args.bin_dir, "..", "lib",
                                                     "libcnnc_runtime.so"))
    failed = []
    for e in entries:
        print(f"{e.name}: {e.yaml} vs {e.twin.__name__}", flush=True)
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
    print(f"\ne2e zoo: {len(entries) - len(failed)}/{len(entries)} passed"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
