#!/usr/bin/env python3
"""GPU benchmark: cnnc's CUDA kernels against PyTorch (cuDNN), side by side in one run.

Runs on a machine with an NVIDIA GPU, CUDA and PyTorch and nothing of the cnnc build: it
gets the folder that bench/gpu/prepare.sh builds (cnnrun, needing only glibc >= 2.34 and
libgcc_s; the models compiled for CUDA; this script, twins.py, reference_models.py and
manifest.json) and runs from it. Weights are made here, not carried (VGG-11's alone are
0.5 GB): each model's PyTorch twin (twins.py, no torchvision needed) gets seeded parameters,
which are written as safetensors under --work and loaded by cnnrun, so both sides hold the
same values.

For each model: a check (cnnrun run at batch 2 against the twin in float64 on the GPU,
max |cnnc - reference| / max(1, max |reference|), 1e-4 as in the e2e tests), then the
cases: inference at batch 1 and 64 and one train step (forward, cross-entropy, backward and
the model file's optimizer update) at batch 64 for mnist_cnn, resnet18, googlenet and
vgg11, inference at batch 64 for the 64->64 3x3 conv on 56x56. cnnc: `cnnrun bench`
(median of its calls; each call uploads the inputs from the host and brings the outputs
back, so its time includes those copies). PyTorch: the twin on the GPU, inputs resident,
torch.cuda.synchronize() before and after each timed call, median; for inference also with
the input coming from and the output going to host memory, as cnnrun's do ("host I/O").
cuDNN with cudnn.benchmark on, TF32 off for matmul and cuDNN (plain fp32 on both sides).
Rounds alternate between the two; the best median of the rounds is reported, with
PyTorch/cnnc (> 1: cnnc is faster) and TFLOP/s (cnnc's FLOP count of the step, 2 per
multiply-add, for both) against the roof: the best fp32 matmul rate measured in this run
(torch.matmul of two NxN fp32 matrices, TF32 off, i.e. cuBLAS SGEMM on the FMA units).

Prints a Markdown table (and the slowest cnnc kernels of each case); writes JSON (--json,
rewritten after every case, so a run cut short keeps what it measured) and the table next
to it (.md). A failing case is reported and the run goes on.

--smoke: a dry run of every code path with tiny sizes (batch 2 instead of 64, one short
round); with no CUDA device PyTorch runs on the CPU, and cnnrun runs whatever the folder
holds (prepare.sh --smoke compiles the models for host-opencl, which PoCL runs on a CPU).

Usage: python3 run_gpu_bench.py [--dir FOLDER] [--json OUT.json] [--rounds 2] [--seconds 1]
                                [--model resnet18 ...] [--smoke]
"""
import argparse
import ctypes
import json
import os
import platform
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# (model, [(step, batch)]); --smoke replaces 64 with 2.
CASES = [
    ("conv3x3_64", [("inference", 64)]),
    ("mnist_cnn", [("inference", 1), ("inference", 64), ("train", 64)]),
    ("resnet18", [("inference", 1), ("inference", 64), ("train", 64)]),
    ("googlenet", [("inference", 1), ("inference", 64), ("train", 64)]),
    ("vgg11", [("inference", 1), ("inference", 64), ("train", 64)]),
]
LABELS = {"conv3x3_64": "conv 64->64 3x3, 56x56"}
# FP32 FMA lanes per SM by compute capability (for the nominal peak the header shows).
FP32_LANES_PER_SM = {(7, 0): 64, (7, 5): 64, (8, 0): 64, (8, 6): 128, (8, 7): 128,
                     (8, 9): 128, (9, 0): 128}
TOLERANCE = 1e-4  # max |cnnc - reference| / max(1, max |reference|), as test/e2e
CHECK_BATCH = 2


def default_dir():
    """The folder this script runs from when prepare.sh put it there, else the default
    output of prepare.sh in the source tree (build/gpu-bench)."""
    if os.path.exists(os.path.join(HERE, "manifest.json")):
        return HERE
    return os.path.join(HERE, "..", "..", "build", "gpu-bench")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=None, help="the folder prepare.sh built")
    parser.add_argument("--work", default=None,
                        help="where weights and .npy files go (default: a temporary folder)")
    parser.add_argument("--json", default=None,
                        help="the result file (default: FOLDER/results/gpu_bench.json)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="time budget of one measurement (sets the iteration count)")
    parser.add_argument("--model", action="append", choices=[m for m, _ in CASES])
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds one cnnrun call may take before its case fails "
                             "(default 300; 1800 with --smoke, where PoCL compiles the kernels)")
    parser.add_argument("--no-check", action="store_true",
                        help="skip the output checks against the twins")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes; PyTorch on the CPU when there is no CUDA device")
    return parser.parse_args()


# ----------------------------------------------------------------------------- files
# Plain-Python writers and a reader, so that the GPU host needs neither numpy nor the
# safetensors package.

def tensor_bytes(t):
    """The raw little-endian bytes of a CPU tensor (contiguous copy)."""
    t = t.detach().to("cpu").contiguous()
    return ctypes.string_at(t.data_ptr(), t.numel() * t.element_size())


def save_safetensors(tensors, path):
    """{name: float32 tensor} -> a safetensors file (the format of tools/py/safetensors_io.py)."""
    import torch
    header, offset = {}, 0
    for name, t in tensors.items():
        if t.dtype != torch.float32:
            raise TypeError(f"{name}: {t.dtype}, expected float32")
        size = t.numel() * 4
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for t in tensors.values():
            f.write(tensor_bytes(t))


def save_npy(t, path):
    """A float32 tensor -> .npy (format version 1.0)."""
    shape = str(tuple(int(d) for d in t.shape))
    header = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (-(len(header) + 11) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(tensor_bytes(t.float()))


def load_npy(path):
    """A float32 .npy file (as cnnrun writes it) -> a CPU tensor."""
    import ast
    import torch
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        raise ValueError(f"{path}: not a .npy file")
    if data[6] == 1:
        length, start = struct.unpack("<H", data[8:10])[0], 10
    else:
        length, start = struct.unpack("<I", data[8:12])[0], 12
    header = ast.literal_eval(data[start:start + length].decode("latin1"))
    if header["descr"] != "<f4" or header["fortran_order"]:
        raise ValueError(f"{path}: expected little-endian float32 in C order, got {header}")
    body = bytearray(data[start + length:])
    return torch.frombuffer(body, dtype=torch.float32).reshape(header["shape"]).clone()


# ----------------------------------------------------------------------------- cnnrun

class CaseError(Exception):
    pass


class Cnnrun:
    """Runs the folder's cnnrun with an environment in which the model's Halide runtime
    finds the GPU API: Halide 14 dlopens "libcuda.so" (or "libOpenCL.so"), which a host
    with only the driver may have as libcuda.so.1 alone; then that is preloaded."""

    def __init__(self, path, target, timeout):
        self.path, self.timeout = path, timeout
        self.env = dict(os.environ)
        self.note = ""
        api = "cuda" if "cuda" in target else "OpenCL" if "opencl" in target else None
        if api:
            try:
                ctypes.CDLL(f"lib{api}.so")
            except OSError:
                try:
                    ctypes.CDLL(f"lib{api}.so.1")
                    preload = (self.env.get("LD_PRELOAD", "") + f" lib{api}.so.1").strip()
                    self.env["LD_PRELOAD"] = preload
                    self.note = f"lib{api}.so not found, lib{api}.so.1 preloaded for cnnrun"
                except OSError:
                    self.note = f"neither lib{api}.so nor lib{api}.so.1 can be loaded"

    def __call__(self, *args):
        cmd = [self.path] + [str(a) for a in args]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, env=self.env,
                                  timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise CaseError(f"timed out after {self.timeout:.0f} s: {' '.join(cmd)}")
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise CaseError(f"exit {done.returncode}: " + " / ".join(tail))
        return done.stdout

    def bench(self, library, step, batch, iters, warmup, weights=None):
        args = ["bench", library, "--batch", batch, "--iters", iters, "--warmup", warmup,
                "--json"]
        if step == "train":
            args.append("--train")
        elif weights:
            args += ["--weights", weights]
        lines = [line for line in self(*args).splitlines() if line.startswith("{")]
        if not lines:
            raise CaseError("cnnrun bench printed no JSON")
        return json.loads(lines[-1])


# ----------------------------------------------------------------------------- timing

def synchronize(device):
    import torch
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_ms(fn, seconds, device, warmup=3):
    """Median time of fn() over an iteration count that fits `seconds` (3 to 50), each call
    between two synchronizations, after `warmup` untimed calls."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    once = time.perf_counter() - start
    for _ in range(warmup - 1):
        fn()
    iters = max(3, min(50, int(seconds / max(once, 1e-6))))
    samples = []
    for _ in range(iters):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        samples.append((time.perf_counter() - start) * 1e3)
    samples.sort()
    return samples[len(samples) // 2]


def measure_roof(device, smoke):
    """The best fp32 matmul rate (TFLOP/s) of torch.matmul on NxN matrices, TF32 off."""
    import torch
    n = (256 if smoke else 2048) if device.type == "cpu" else (1024 if smoke else 8192)
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen).to(device)
    b = torch.randn(n, n, generator=gen).to(device)
    calls = 3 if smoke else 10
    for _ in range(3):
        torch.matmul(a, b)
    best = float("inf")
    for _ in range(3):
        synchronize(device)
        start = time.perf_counter()
        for _ in range(calls):
            torch.matmul(a, b)
        synchronize(device)
        best = min(best, (time.perf_counter() - start) / calls)
    return 2.0 * n ** 3 / best / 1e12, n


def torch_optimizer(module, train):
    """The optimizer of the model file's train: section (as bench/zoo_bench.py builds it)."""
    import torch
    opt = train.get("optimizer", "adam")
    opt = opt if isinstance(opt, dict) else {"name": opt}
    lr = opt.get("lr", train.get("lr", 1e-3 if opt["name"] == "adam" else 1e-2))
    if opt["name"] == "adam":
        return torch.optim.Adam(module.parameters(), lr=lr, weight_decay=opt.get("weight_decay", 0))
    return torch.optim.SGD(module.parameters(), lr=lr, momentum=opt.get("momentum", 0),
                           weight_decay=opt.get("weight_decay", 0),
                           nesterov=opt.get("nesterov", False))


class TorchSide:
    """One model's twin on the device, timed for inference and train steps."""

    def __init__(self, twin, shape, train, device):
        import torch
        self.module, self.shape, self.device = twin.to(device), shape, device
        self.optimizer = torch_optimizer(self.module, train or {})
        with torch.no_grad():
            self.classes = self.module.eval()(torch.zeros(1, *shape, device=device)).shape[1]

    def time(self, step, batch, seconds, host_io=False):
        import torch
        import torch.nn.functional as F
        gen = torch.Generator().manual_seed(batch)
        x_host = torch.randn(batch, *self.shape, generator=gen)
        x = x_host.to(self.device)
        if step == "inference":
            self.module.eval()
            if host_io:
                def call():
                    with torch.no_grad():
                        self.module(x_host.to(self.device)).cpu()
            else:
                def call():
                    with torch.no_grad():
                        self.module(x)
            return median_ms(call, seconds, self.device)
        self.module.train()
        labels = torch.randint(0, self.classes, (batch,), generator=gen).to(self.device)
        logits = getattr(self.module, "logits", self.module)

        def train_step():
            loss = F.cross_entropy(logits(x), labels)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        return median_ms(train_step, seconds, self.device)


# ----------------------------------------------------------------------------- the run

def glibc_version():
    try:
        name, version = os.confstr("CS_GNU_LIBC_VERSION").split()
        return tuple(int(p) for p in version.split(".")[:2]) if name == "glibc" else None
    except (ValueError, OSError, AttributeError):
        return None


def environment(torch, device, manifest):
    """What the table's header says about the machine and the software."""
    env = {"torch": torch.__version__, "python": platform.python_version(),
           "host": platform.node(), "cpu": platform.processor() or platform.machine(),
           "glibc": ".".join(map(str, glibc_version() or ())) or "unknown",
           "cnnc_target": manifest.get("target"), "cnnc_commit": manifest.get("commit"),
           "cnnc_binary": manifest.get("cnnc"),
           "prepared": manifest.get("date"),
           "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
           "tf32_cudnn": torch.backends.cudnn.allow_tf32,
           "cudnn_benchmark": torch.backends.cudnn.benchmark,
           "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        env.update(device=p.name, capability=f"{p.major}.{p.minor}",
                   sms=p.multi_processor_count, memory_gib=round(p.total_memory / 2 ** 30, 1),
                   cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
        try:
            smi = subprocess.run(["nvidia-smi", "--query-gpu=driver_version,clocks.max.sm",
                                  "--format=csv,noheader"], capture_output=True, text=True,
                                 timeout=30).stdout.strip().splitlines()
            if smi:
                env["driver"], env["max_sm_clock"] = [s.strip() for s in smi[0].split(",")][:2]
                lanes = FP32_LANES_PER_SM.get((p.major, p.minor))
                mhz = float(env["max_sm_clock"].split()[0])
                if lanes:
                    env["nominal_tflops"] = round(p.multi_processor_count * lanes * 2 * mhz / 1e6, 1)
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            pass
    else:
        env.update(device=f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)")
    return env


def main():
    args = parse_args()
    folder = os.path.abspath(args.dir or default_dir())
    manifest_path = os.path.join(folder, "manifest.json")
    if not os.path.exists(manifest_path):
        sys.exit(f"{manifest_path} not found: build the folder with bench/gpu/prepare.sh "
                 "and pass --dir")
    manifest = json.load(open(manifest_path))
    sys.path.insert(0, folder)

    glibc = glibc_version()
    if glibc and glibc < (2, 34):
        print(f"warning: glibc {glibc[0]}.{glibc[1]} here; cnnrun and the model libraries "
              "need glibc >= 2.34", file=sys.stderr)

    import torch
    import twins
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    if torch.cuda.is_available():
        device = torch.device("cuda")
    elif args.smoke:
        device = torch.device("cpu")
        torch.set_num_threads(min(2, os.cpu_count() or 1))
    else:
        sys.exit("no CUDA device visible to PyTorch (--smoke runs the flow on the CPU)")
    rounds = 1 if args.smoke else args.rounds
    seconds = 0.05 if args.smoke else args.seconds
    big = 2 if args.smoke else 64

    out_json = os.path.abspath(args.json or os.path.join(folder, "results", "gpu_bench.json"))
    os.makedirs(os.path.dirname(out_json), exist_ok=True)
    work = args.work or tempfile.mkdtemp(prefix="cnnc_gpu_bench_")
    os.makedirs(work, exist_ok=True)
    timeout = args.timeout or (1800.0 if args.smoke else 300.0)
    cnnrun = Cnnrun(os.path.join(folder, "cnnrun"), manifest.get("target", ""), timeout)

    env = environment(torch, device, manifest)
    if cnnrun.note:
        env["cnnrun_note"] = cnnrun.note
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    log(f"device: {env['device']}; torch {torch.__version__}; cnnc target "
        f"{manifest.get('target')}; work folder {work}")
    if cnnrun.note:
        log(cnnrun.note)
    roof, roof_n = measure_roof(device, args.smoke)
    env["roof"] = (f"best torch.matmul rate on {roof_n}x{roof_n} fp32 matrices, TF32 off "
                   f"({'cuBLAS SGEMM' if device.type == 'cuda' else 'CPU BLAS'})")
    log(f"roof: {roof:.3g} TFLOP/s ({env['roof']})")

    result = {"environment": env, "roof_tflops": roof, "checks": {}, "cases": []}

    def save():
        with open(out_json, "w") as f:
            json.dump(result, f, indent=1)
        with open(os.path.splitext(out_json)[0] + ".md", "w") as f:
            f.write(report(result))

    for name, configs in CASES:
        if args.model and name not in args.model:
            continue
        entry = manifest["models"].get(name)
        if entry is None:
            log(f"{name}: not in the folder, skipped")
            continue
        library = os.path.join(folder, entry["library"])
        _, shape = twins.TWINS[name]
        if list(shape) != list(entry["input"]):
            sys.exit(f"{name}: the model file's input {entry['input']} is not the twin's {shape}")
        start = time.perf_counter()
        twin = twins.make_twin(name)
        weights = os.path.join(work, name + ".safetensors")
        save_safetensors(twins.parameters_of(twin), weights)
        log(f"{name}: weights written ({os.path.getsize(weights) / 2 ** 20:.1f} MiB, "
            f"{time.perf_counter() - start:.1f} s)")
        check = {}
        if not args.no_check:
            check = check_model(cnnrun, library, weights, twin, shape, device, work, name)
            try:
                line = twins.check_against_torchvision(name, str(device))
                check["torchvision"] = line or "n/a"
            except AssertionError as e:
                check["torchvision"] = f"DIFFERS: {e}"
            except ImportError:
                check["torchvision"] = "torchvision not installed"
            except Exception as e:  # e.g. a torchvision built for another torch
                check["torchvision"] = f"not checked: {type(e).__name__}: {e}"
            result["checks"][name] = check
            log(f"{name}: check {check}")
        side = TorchSide(twin, shape, entry.get("train"), device)
        for step, batch in configs:
            batch = big if batch == 64 else batch
            if step == "train" and not entry.get("train"):
                continue
            case = {"model": name, "step": step, "batch": batch}
            try:
                case.update(measure(cnnrun, library, weights, side, step, batch, rounds,
                                    seconds, device, args.smoke))
            except Exception as e:  # PyTorch's side (out of memory, ...)
                case["error"] = f"PyTorch: {type(e).__name__}: {e}"
            result["cases"].append(case)
            save()
            cnnc = f"cnnc {case['cnnc_ms']:.3f} ms" if "cnnc_ms" in case else "cnnc FAILED"
            torch_ms = f"PyTorch {case['torch_ms']:.3f} ms" if "torch_ms" in case else ""
            log(f"  {name} {step} b{batch}: {cnnc}, {torch_ms}"
                + (f" ({case['error']})" if "error" in case else ""))
        del side, twin
        if device.type == "cuda":
            torch.cuda.empty_cache()
        if args.work is None:
            os.remove(weights)
    save()
    print(report(result))
    log(f"wrote {out_json} and {os.path.splitext(out_json)[0]}.md")


def check_model(cnnrun, library, weights, twin, shape, device, work, name):
    """cnnrun run at batch CHECK_BATCH against the twin in float64 (eval mode) on the device."""
    import torch
    x = torch.randn(CHECK_BATCH, *shape, generator=torch.Generator().manual_seed(7))
    x_path, y_path = os.path.join(work, name + "_x.npy"), os.path.join(work, name + "_y.npy")
    save_npy(x, x_path)
    try:
        cnnrun("run", library, "--weights", weights, "--input", x_path, "--output", y_path)
        y = load_npy(y_path)
    except CaseError as e:
        return {"error": str(e)}
    finally:
        if os.path.exists(x_path):
            os.remove(x_path)
    twin.double().to(device).eval()
    with torch.no_grad():
        ref = twin(x.double().to(device)).cpu()
    twin.float()  # float -> double -> float is exact
    os.remove(y_path)
    if tuple(y.shape) != tuple(ref.shape):
        return {"error": f"output shape {tuple(y.shape)}, twin's {tuple(ref.shape)}"}
    err = ((y.double() - ref).abs().max() / max(1.0, ref.abs().max().item())).item()
    return {"max_rel_error": err, "ok": err <= TOLERANCE}


def measure(cnnrun, library, weights, side, step, batch, rounds, seconds, device, smoke):
    """Best medians over alternating rounds: cnnrun bench, then PyTorch. A first cnnrun call
    of one step sets the iteration count (--smoke: one call of one step, no warm-up). When
    cnnrun fails, "error" says why and PyTorch is still timed."""
    case, iters, warmup = {}, 1, 0
    if not smoke:
        try:
            once = cnnrun.bench(library, step, batch, 1, 1, weights)["total"]["ms"]
            iters = max(3, min(50, int(seconds * 1e3 / max(once, 1e-3))))
            warmup = 3 if once < 500 else 1
            if once > 2000:
                rounds = 1  # a slow case: one round keeps the run within its time
        except CaseError as e:
            case["error"] = str(e)
    best_torch, best_host, best = float("inf"), None, None
    for _ in range(rounds):
        if "error" not in case:
            try:
                rep = cnnrun.bench(library, step, batch, iters, warmup, weights)
                if best is None or rep["total"]["ms"] < best["total"]["ms"]:
                    best = rep
            except CaseError as e:
                case["error"] = str(e)
        best_torch = min(best_torch, side.time(step, batch, seconds))
        if step == "inference":
            host = side.time(step, batch, seconds, host_io=True)
            best_host = host if best_host is None else min(best_host, host)
    case.update(torch_ms=best_torch, torch_host_io_ms=best_host)
    if best:
        case.update(cnnc_ms=best["total"]["ms"], iters=best["iters"],
                    flops=best["total"]["gflops"] * best["total"]["ms"] * 1e6,  # per call
                    cnnc_steps=sorted(best["steps"], key=lambda s: -s["ms"]))
    return case


def report(result):
    """The Markdown table of a result (as far as it goes)."""
    env, roof = result["environment"], result["roof_tflops"]
    lines = [f"device: {env['device']}"
             + (f" (compute capability {env['capability']}, {env['sms']} SMs, "
                f"{env['memory_gib']} GiB; driver {env.get('driver', '?')}, CUDA "
                f"{env['cuda']}, cuDNN {env['cudnn']})" if "capability" in env else ""),
             f"torch {env['torch']}; TF32 off (matmul {env['tf32_matmul']}, cuDNN "
             f"{env['tf32_cudnn']}); cudnn.benchmark {env['cudnn_benchmark']}; cnnc target "
             f"{env['cnnc_target']} (commit {env['cnnc_commit']}); {env['date']}",
             f"roof {roof:.3g} TFLOP/s: {env['roof']}"
             + (f"; nominal fp32 peak {env['nominal_tflops']} TFLOP/s (SMs x FP32 lanes x 2 x "
                f"max SM clock {env['max_sm_clock']})" if "nominal_tflops" in env else "")]
    if env.get("cnnrun_note"):
        lines.append(env["cnnrun_note"])
    lines.append("")
    if result["checks"]:
        lines += ["| model | cnnc vs twin (float64), batch 2 | twin vs torchvision |",
                  "|---|---|---|"]
        for name, c in result["checks"].items():
            got = (f"ERROR {c['error']}" if "error" in c else
                   f"{c['max_rel_error']:.1e} {'ok' if c['ok'] else 'DIFFERS'}")
            lines.append(f"| {name} | {got} | {c.get('torchvision', '')} |")
        lines.append("")
    lines += ["| case | step | batch | cnnc ms | PyTorch ms | PyTorch/cnnc | cnnc TFLOP/s "
              "| % of roof | PyTorch TFLOP/s | PyTorch ms, host I/O |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for c in result["cases"]:
        label = LABELS.get(c["model"], c["model"])
        if "cnnc_ms" not in c:
            t_ms = f"{c['torch_ms']:.3f}" if "torch_ms" in c else ""
            host = f"{c['torch_host_io_ms']:.3f}" if c.get("torch_host_io_ms") else ""
            lines.append(f"| {label} | {c['step']} | {c['batch']} | failed | {t_ms} | | | | "
                         f"| {host} |")
            continue
        c_tf, t_tf = c["flops"] / c["cnnc_ms"] / 1e9, c["flops"] / c["torch_ms"] / 1e9
        host = f"{c['torch_host_io_ms']:.3f}" if c.get("torch_host_io_ms") else ""
        lines.append(f"| {label} | {c['step']} | {c['batch']} | {c['cnnc_ms']:.3f} | "
                     f"{c['torch_ms']:.3f} | {c['torch_ms'] / c['cnnc_ms']:.2f}x | "
                     f"{c_tf:.3g} | {100 * c_tf / roof:.0f}% | {t_tf:.3g} | {host} |")
    failed = [c for c in result["cases"] if "error" in c]
    if failed:
        lines += ["", "failed cases:"]
        lines += [f"- {c['model']} {c['step']} b{c['batch']}: {c['error']}" for c in failed]
    slow = [c for c in result["cases"] if "cnnc_steps" in c]
    if slow:
        lines += ["", "slowest cnnc kernels per case (name, ms, TFLOP/s; as cnnrun bench times "
                      "them):"]
        for c in slow:
            top = ", ".join(f"{s['name']} {s['ms']:.3f} ({s['gflops'] / 1e3:.3g})"
                            for s in c["cnnc_steps"][:4])
            lines.append(f"- {c['model']} {c['step']} b{c['batch']}: {top}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
