"""Shared helpers of the cnnc end-to-end (numerical) tests.

What it does (Case, Runner, main_for: the driver of test_ops.py and test_models.py): writes
parameters as safetensors and inputs as .npy, compiles a YAML model with `cnnc` into a
temporary directory, runs the resulting model.so with `cnnrun run`, and compares the output
with a PyTorch reference computed in float64 from the very same float32 parameters and
inputs. A case passes when

    max |cnnc - reference| <= 1e-4 * max(1, max |reference|)

at every batch size tried (batch 1 and batch 7 by default, both on ONE compiled model.so).

It is also the one home of what the other e2e scripts (test_grads, test_train, test_zoo)
share: that criterion (compare, RTOL, perturb_reference for --perturb-reference), seeds
(seed_of), input makers (pixel_input, token_ids, sequence_input), the activations
(ACTIVATIONS), model text (model_yaml), the common options (tool_args), running cnnc
(run_cnnc, compile_text) and loading the cnnc Python package (load_package).

Targets: every model is compiled for --target (tool_args; default host; target_args), so any
script runs on a GPU target (host-opencl, host-cuda, ...) against the same references at the
same tolerance. A script that runs models first calls skip_without_device, which exits with
SKIP (77, ctest's SKIP_RETURN_CODE) and the reason when that GPU API has no platform or device.
A case that names its own --target (a given CPU on purpose) keeps it.

What it assumes: /usr/bin/python3 with Debian's torch 1.13 and numpy (no safetensors package:
tools/py/safetensors_io.py writes the parameters); the tools `cnnc` and `cnnrun` in the build's
bin directory, found from the command line (--bin-dir), the environment (CNNC_BIN_DIR) or
<source>/build/bin; parameters are named and laid out like a PyTorch state_dict (conv OIHW,
dense [out, in], batch norm weight/bias/running_mean/running_var); the model's input is
float32 NCHW (or [N, F]).
Everything is seeded: a case's data depends only on its name.
"""

import argparse
import collections
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import zlib

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tools", "py"))
import safetensors_io  # noqa: E402

torch.set_num_threads(1)

RTOL = 1e-4
BATCHES = (1, 7)


# --------------------------------------------------------------------------- files

def write_npy(path, array):
    np.save(path, np.ascontiguousarray(np.asarray(array, dtype="<f4")))


# --------------------------------------------------------------------------- YAML

def _yaml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return v
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_yaml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_yaml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {v!r} as YAML")


def model_yaml(name, input_shape, layers, output=None, train=None):
    """A model file from a list of layer dicts (one flow-style map per line), with a
    `train:` section if train (a dict) is given."""
    lines = [f"name: {name}", f"input: {{name: input, shape: {_yaml_value(list(input_shape))}}}"]
    if output:
        lines.append(f"output: {output}")
    lines.append("layers:")
    lines += [f"  - {_yaml_value(layer)}" for layer in layers]
    if train:
        lines.append(f"train: {_yaml_value(train)}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- tools

class Tools:
    def __init__(self, bin_dir, target):
        self.bin_dir, self.target = os.path.abspath(bin_dir), target
        self.cnnc = os.path.join(self.bin_dir, "cnnc")
        self.cnnrun = os.path.join(self.bin_dir, "cnnrun")
        for t in (self.cnnc, self.cnnrun):
            if not os.access(t, os.X_OK):
                raise SystemExit(f"e2e: tool not found or not executable: {t}")

    def compile(self, yaml_text_or_path, workdir, extra_args=(), stem="model"):
        """Compiles a model (YAML text, or a path to a .yaml file); returns (so path, seconds)."""
        if "\n" in yaml_text_or_path or not os.path.exists(yaml_text_or_path):
            src = os.path.join(workdir, stem + ".yaml")
            with open(src, "w") as f:
                f.write(yaml_text_or_path)
        else:
            src = yaml_text_or_path
        so = os.path.join(workdir, stem + ".so")
        return so, run_cnnc(self.cnnc, src, so, extra_args, target=self.target)

    def info(self, so):
        p = _run_tool([self.cnnrun, "info", so, "--json"])
        if p.returncode != 0:
            raise CaseError(f"cnnrun info failed: {p.stdout}{p.stderr}")
        return json.loads(p.stdout)

    def run(self, so, weights, inputs, workdir, tag):
        """Runs model.so on a list of arrays; returns the (first) output array. weights None:
        the parameters model.so embeds."""
        args = [self.cnnrun, "run", so] + (["--weights", weights] if weights else [])
        for i, x in enumerate(inputs):
            path = os.path.join(workdir, f"{tag}_in{i}.npy")
            write_npy(path, x)
            args += ["--input", path]
        out = os.path.join(workdir, f"{tag}_out.npy")
        args += ["--output", out]
        p = _run_tool(args)
        if p.returncode != 0:
            raise CaseError(f"cnnrun run failed (exit {p.returncode}): {p.stdout}{p.stderr}")
        return np.load(out)


class CaseError(RuntimeError):
    """A tool failed; the message holds its output."""


def _run_tool(args):
    """Runs a tool once, capturing its output as text."""
    return subprocess.run(args, capture_output=True, text=True)


def target_args(target, extra=()):
    """The cnnc options `extra` with --target=<target> first, unless `extra` names a target of
    its own (a case that compiles for a given CPU on purpose keeps it)."""
    extra = list(extra)
    if any(a == "--target" or a.startswith("--target=") for a in extra):
        return extra
    return [f"--target={target}"] + extra


def run_cnnc(cnnc, src, so, extra=(), *, target):
    """Compiles the model file src into so (`cnnc src -o so --target=<target> extra...`, see
    target_args, then the space-separated options of the environment variable
    CNNC_E2E_CNNC_ARGS, e.g. --kernel-checks); returns the seconds it took. Raises CaseError
    with cnnc's output when it fails."""
    t0 = time.time()
    extra = target_args(target, list(extra) + os.environ.get("CNNC_E2E_CNNC_ARGS", "").split())
    p = _run_tool([cnnc, src, "-o", so, *extra])
    if p.returncode != 0:
        opts = f" with {' '.join(extra)}" if extra else ""
        raise CaseError(f"cnnc failed (exit {p.returncode}) on {src}{opts}:\n{p.stdout}{p.stderr}")
    return time.time() - t0


def compile_text(cnnc, text, stem, extra=(), *, target):
    """Writes the model text to <stem>.yaml and compiles it to <stem>.so for `target`:
    (so path, seconds)."""
    with open(stem + ".yaml", "w") as f:
        f.write(text)
    return stem + ".so", run_cnnc(cnnc, stem + ".yaml", stem + ".so", extra, target=target)


def load_package(args):
    """The cnnc Python package from --python-dir (default <bin-dir>/../python)."""
    sys.path.insert(0, os.path.abspath(args.python_dir or os.path.join(args.bin_dir, "..",
                                                                       "python")))
    import cnnc
    return cnnc


# --------------------------------------------------------------------------- GPU targets

# The exit status of a test that cannot run here (ctest's SKIP_RETURN_CODE of the GPU tests).
SKIP = 77

# Run in a child process, so that the test process itself never initializes an OpenCL or
# CUDA driver: test_grads forks a child per case, and a driver's worker threads do not survive
# a fork. Prints the number of platforms / devices, or why there are none.
_DEVICE_PROBES = {
    "opencl": """
import ctypes
try:
    cl = ctypes.CDLL("libOpenCL.so.1")
except OSError as e:
    print(f"no OpenCL ICD loader (libOpenCL.so.1): {e}"); raise SystemExit
n = ctypes.c_uint(0)
err = cl.clGetPlatformIDs(0, None, ctypes.byref(n))
print(n.value if err == 0 else f"clGetPlatformIDs failed with error {err} (no OpenCL platform)")
""",
    "cuda": """
import ctypes
try:
    cu = ctypes.CDLL("libcuda.so.1")
except OSError as e:
    print(f"no CUDA driver (libcuda.so.1): {e}"); raise SystemExit
err = cu.cuInit(0)
n = ctypes.c_int(0)
if err == 0:
    err = cu.cuDeviceGetCount(ctypes.byref(n))
print(n.value if err == 0 else f"cuInit/cuDeviceGetCount failed with CUresult {err}")
""",
}


def gpu_api(target):
    """The GPU API a Halide target string asks for ('cuda' or 'opencl'), or None (a CPU)."""
    features = target.split("-")
    for api in ("cuda", "opencl"):
        if api in features:
            return api
    return None


def device_missing(target):
    """None when models compiled for `target` can run here (a CPU target, or a GPU API with at
    least one platform / device), else the reason they cannot."""
    api = gpu_api(target)
    if api is None:
        return None
    p = subprocess.run([sys.executable, "-c", _DEVICE_PROBES[api]], capture_output=True,
                       text=True)
    out = p.stdout.strip()
    if p.returncode != 0 or not out:
        return f"the {api} probe failed (exit {p.returncode}): {p.stderr.strip()}"
    if not out.isdigit():
        return out
    if int(out) == 0:
        return f"the {api} driver reports no {'platform' if api == 'opencl' else 'device'}"
    return None


def skip_without_device(target):
    """Exits with SKIP, saying why, when models compiled for `target` cannot run here."""
    reason = device_missing(target)
    if reason:
        print(f"SKIP: --target={target} needs a device: {reason}", flush=True)
        sys.exit(SKIP)


# --------------------------------------------------------------------------- data

# The activations a layer may fuse (`activation:`), as PyTorch computes them; softmax is over
# the channel / feature axis.
ACTIVATIONS = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
               # the `activation:` shorthand's slope is PyTorch's default, 0.01
               "leaky_relu": torch.nn.functional.leaky_relu,
               "relu6": torch.nn.functional.relu6,
               "hardswish": torch.nn.functional.hardswish,
               "hardsigmoid": torch.nn.functional.hardsigmoid,
               "silu": torch.nn.functional.silu,
               "softmax": lambda t: torch.softmax(t, dim=1)}


def seed_of(name):
    """The seed of everything random in a case: a function of its name only."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def pixel_input(gen, shape):
    """Pixel-like inputs: uniform in [0, 1), like (Fashion-)MNIST images scaled to [0, 1]."""
    return torch.rand(shape, generator=gen)


def token_ids(vocab, outside=0):
    """Inputs of a text model: integer token ids in [-outside, vocab + outside) as float32,
    with repeats (ids outside [0, vocab) are clamped by the embedding)."""
    return lambda gen, shape: torch.randint(-outside, vocab + outside, shape,
                                            generator=gen).float()


def sequence_input(scale=1.0):
    """Inputs [N, C, 1, L] (N(0, scale^2)) for a model whose input shape is the sequence
    [C, L], which cnnc holds as [N, C, 1, L]."""
    return lambda gen, shape: (torch.randn(shape, generator=gen) * scale).unsqueeze(2)


def randomize_batch_norm(gen, c):
    """Random batch-norm parameters with var > 0, as a dict of float32 tensors."""
    return {
        "weight": torch.rand(c, generator=gen) * 1.5 + 0.25,
        "bias": torch.randn(c, generator=gen) * 0.5,
        "running_mean": torch.randn(c, generator=gen) * 0.5,
        "running_var": torch.rand(c, generator=gen) * 1.5 + 0.2,
    }


def randomize_module(module, gen):
    """Fills every parameter and batch-norm buffer of a module with seeded random values."""
    with torch.no_grad():
        for mod_name, mod in module.named_modules():
            if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                for k, v in randomize_batch_norm(gen, mod.num_features).items():
                    getattr(mod, k).copy_(v)
            elif isinstance(mod, (torch.nn.Conv2d, torch.nn.Linear)):
                fan_in = mod.weight[0].numel()
                bound = 1.0 / np.sqrt(fan_in)
                mod.weight.copy_((torch.rand(mod.weight.shape, generator=gen) * 2 - 1) * bound * 1.7)
                if mod.bias is not None:
                    mod.bias.copy_((torch.rand(mod.bias.shape, generator=gen) * 2 - 1) * 0.5)
    return module


# --------------------------------------------------------------------------- comparison

class Comparison(collections.namedtuple("Comparison", "ok err scale message")):
    """The outcome of compare(): ok, the max abs error (inf for a shape mismatch or a
    non-finite value), scale = max(1, max|ref|) (0 for a shape mismatch) and, when not ok,
    a message saying where and by how much (without the caller's name of the tensor)."""

    @property
    def tol(self):
        return RTOL * self.scale

    @property
    def rel(self):
        """The error relative to max(1, max|ref|)."""
        return self.err / self.scale if self.scale else math.inf


def perturb_reference(ref):
    """--perturb-reference: a float64 copy of ref with 2e-4 * max(1, max|ref|) (twice the
    tolerance) added to its middle element; a test run this way must fail."""
    ref = np.array(ref, dtype=np.float64)
    if ref.size:
        ref.flat[ref.size // 2] += 2 * RTOL * max(1.0, float(np.max(np.abs(ref))))
    return ref


def compare(got, ref, perturb=False):
    """The criterion of every e2e test: max |got - ref| <= RTOL * max(1, max|ref|), with
    non-finite values in got failing. perturb: compare with perturb_reference(ref)."""
    ref = perturb_reference(ref) if perturb else np.asarray(ref, dtype=np.float64)
    got = np.asarray(got, dtype=np.float64)
    if got.shape != ref.shape:
        return Comparison(False, math.inf, 0.0, f"shape mismatch: cnnc {list(got.shape)} vs "
                                                f"reference {list(ref.shape)}")
    if got.size == 0:
        return Comparison(True, 0.0, 1.0, "")
    amax = float(np.max(np.abs(ref)))
    scale = max(1.0, amax)
    diff = np.abs(got - ref)
    err = float(np.max(diff)) if np.all(np.isfinite(got)) else math.inf
    if err <= RTOL * scale:
        return Comparison(True, err, scale, "")
    d = np.where(np.isfinite(diff), diff, np.inf)
    worst = np.unravel_index(int(np.argmax(d)), d.shape)
    n_bad = int(np.sum(~(diff <= RTOL * scale)))
    return Comparison(False, err, scale, (
        f"max abs error {err:.3e} > tolerance {RTOL * scale:.3e} (shape {list(ref.shape)}, "
        f"max|ref| {amax:.3g}, {n_bad}/{ref.size} elements off; worst at "
        f"{list(map(int, worst))}: cnnc {got[worst]:.7g} vs reference {ref[worst]:.7g})"))


# --------------------------------------------------------------------------- a case

class Case:
    """One model, compared with a reference at several batch sizes.

    yaml:     the model (text)
    inputs:   list of per-item input shapes (the model has one input, so one entry)
    params:   dict name -> float32 tensor (written as safetensors; may hold extra entries)
    ref:      function (list of float64 input tensors, dict of float64 params) -> tensor
    """

    def __init__(self, name, yaml, input_shape, params, ref, cnnc_args=(), group="",
                 input_fn=None, batches=BATCHES):
        self.name, self.yaml, self.input_shape = name, yaml, list(input_shape)
        self.params, self.ref, self.cnnc_args, self.group = params, ref, list(cnnc_args), group
        self.input_fn, self.batches = input_fn, batches


class Runner:
    def __init__(self, tools, keep=False, verbose=False):
        self.tools, self.keep, self.verbose = tools, keep, verbose
        self.results = []  # (name, ok, max_err, tol, message)
        self.max_err_by_group = {}
        self.compile_times = {}

    def run_case(self, case):
        t0 = time.time()
        workdir = tempfile.mkdtemp(prefix="cnnc_e2e_")
        msgs, worst, worst_tol, ok = [], 0.0, 0.0, True
        try:
            so, ctime = self.tools.compile(case.yaml, workdir, case.cnnc_args)
            self.compile_times[case.name] = ctime
            weights = os.path.join(workdir, "weights.safetensors")
            safetensors_io.save(case.params, weights)
            p64 = {k: v.double() if v.is_floating_point() else v for k, v in case.params.items()}
            gen = torch.Generator().manual_seed(seed_of(case.name) ^ 0x5A5A)
            for b in case.batches:
                if case.input_fn:
                    x = case.input_fn(gen, [b] + case.input_shape)
                else:
                    x = torch.randn([b] + case.input_shape, generator=gen)
                x = x.float()
                with torch.no_grad():
                    ref = case.ref([x.double()], p64)
                got = self.tools.run(so, weights, [x.numpy()], workdir, f"b{b}")
                c = compare(got, ref.numpy())
                worst, worst_tol = max(worst, c.err), max(worst_tol, c.tol)
                if not c.ok:
                    ok = False
                    msgs.append(f"{case.name} [batch {b}]: {c.message}")
        except CaseError as e:
            ok, worst = False, float("inf")
            msgs.append(f"{case.name}: {e}")
        except Exception:
            ok, worst = False, float("inf")
            msgs.append(f"{case.name}: harness exception:\n{traceback.format_exc()}")
        dt = time.time() - t0
        if not ok:
            msgs.append(f"  model: {os.path.join(workdir, 'model.yaml')}"
                        + ("" if self.keep else " (removed; rerun with --keep)")
                        + "\n" + "\n".join("    " + l for l in case.yaml.splitlines()))
        if not self.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        status = "PASS" if ok else "FAIL"
        ctime = self.compile_times.get(case.name)
        ctext = f" (cnnc {ctime:.1f}s)" if ctime is not None else ""
        print(f"{status} {case.name:<48s} max_err {worst:.2e} (tol {worst_tol:.1e}) "
              f"{dt:5.1f}s{ctext}", flush=True)
        for m in msgs:
            print("  " + m.replace("\n", "\n  "), flush=True)
        self.results.append((case.name, ok, worst, worst_tol, "\n".join(msgs)))
        g = case.group or "all"
        if worst != float("inf"):
            self.max_err_by_group[g] = max(self.max_err_by_group.get(g, 0.0), worst)
        return ok

    def summary(self, title):
        n = len(self.results)
        failed = [r for r in self.results if not r[1]]
        print(f"\n{title}: {n - len(failed)}/{n} passed, {len(failed)} failed")
        for g, e in sorted(self.max_err_by_group.items()):
            print(f"  largest max_err [{g}]: {e:.2e}")
        for r in failed:
            print(f"  FAILED: {r[0]}")
        return 1 if failed or n == 0 else 0


def _bin_dir(path):
    """--bin-dir's type. Also gives every cnnc the script runs the build tree's compile cache,
    <bin-dir>/../test-cache (as ctest does, test/CMakeLists.txt), unless CNNC_CACHE_DIR names
    one: a test never touches the user's ~/.cache."""
    os.environ.setdefault("CNNC_CACHE_DIR",
                          os.path.normpath(os.path.join(os.path.abspath(path), "..", "test-cache")))
    return path


def tool_args(ap, python_package=False):
    """Adds the options every e2e script shares: --bin-dir (cnnc, cnnrun), --source-dir,
    --target (of every cnnc compilation; see target_args) and, for the scripts that drive the
    runtime through the Python package, --python-dir; defaults from the environment."""
    ap.add_argument("--bin-dir", type=_bin_dir, default=os.environ.get(
        "CNNC_BIN_DIR", os.path.join(SOURCE_DIR, "build", "bin")))
    ap.add_argument("--source-dir", default=os.environ.get("CNNC_SOURCE_DIR", SOURCE_DIR))
    ap.add_argument("--target", default="host",
                    help="Halide target of every model compiled (cnnc --target; default host), "
                         "e.g. host-opencl or host-cuda: a test that runs models then skips "
                         f"(exit {SKIP}) where that GPU API has no device")
    if python_package:
        ap.add_argument("--python-dir", default=os.environ.get("CNNC_PYTHON_DIR"),
                        help="the folder holding the cnnc package (default <bin-dir>/../python)")
    return ap


def arg_parser(description, python_package=False):
    ap = tool_args(argparse.ArgumentParser(description=description), python_package)
    ap.add_argument("--group", action="append", default=[],
                    help="run only these groups (repeatable); default: all")
    ap.add_argument("-k", dest="pattern", default=None, help="run only cases whose name contains this")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    ap.add_argument("--list", action="store_true", help="list the cases and exit")
    ap.add_argument("--cnnc-arg", action="append", default=[],
                    help="extra cnnc option for every case (repeatable; every script also "
                         "takes the space-separated env CNNC_E2E_CNNC_ARGS), e.g. "
                         "--cnnc-arg=--inference-only")
    return ap


def main_for(cases_by_group, description, title):
    """Command-line driver shared by test_ops.py and test_models.py."""
    args = arg_parser(description).parse_args()
    groups = args.group or list(cases_by_group)
    for g in groups:
        if g not in cases_by_group:
            raise SystemExit(f"unknown group {g!r}; known: {', '.join(cases_by_group)}")
    selected = []
    for g in groups:  # cases_by_group: group -> function(args) -> list of Case
        for c in cases_by_group[g](args):
            if args.pattern and args.pattern not in c.name:
                continue
            c.group = c.group or g
            c.cnnc_args = list(args.cnnc_arg) + c.cnnc_args
            selected.append(c)
    if args.list:
        for c in selected:
            print(f"{c.group}: {c.name}")
        return 0
    skip_without_device(args.target)
    tools = Tools(args.bin_dir, args.target)
    runner = Runner(tools, keep=args.keep)
    for c in selected:
        runner.run_case(c)
    return runner.summary(f"{title} (--target={args.target})")


# --------------------------------------------------------------------------- shapes

def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def resolve_padding(padding, kernel, stride, dilation, in_hw):
    """[top, left, bottom, right] for any padding spelling of docs/model-format.md."""
    kh, kw = pair(kernel)
    sh, sw = pair(stride)
    dh, dw = pair(dilation)
    ekh, ekw = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if padding is None or padding == "valid":
        return (0, 0, 0, 0)
    if padding == "full":
        return (ekh - 1, ekw - 1, ekh - 1, ekw - 1)
    if padding == "same":
        pads = []
        for size, s, ek in ((in_hw[0], sh, ekh), (in_hw[1], sw, ekw)):
            out = -(-size // s)
            total = max((out - 1) * s + ek - size, 0)
            pads.append((total // 2, total - total // 2))
        return (pads[0][0], pads[1][0], pads[0][1], pads[1][1])
    if isinstance(padding, int):
        return (padding,) * 4
    if len(padding) == 2:
        return (padding[0], padding[1], padding[0], padding[1])
    return tuple(padding)
