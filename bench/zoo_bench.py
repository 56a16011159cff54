#!/usr/bin/python3
"""Zoo benchmark: cnnc against PyTorch on ResNet-18, GoogLeNet, VGG-11 and the
AlphaGo policy network, side by side in one run.

For each model: `cnnc models/<m>.yaml` (with the train step; the compile time is
reported), then inference at batch 1 and 32 (`cnnrun bench`) and one training step at
batch 8 (`cnnrun bench --train`: forward, loss, backward and the optimizer update of the
model's `train:` section) against the same network in PyTorch 1.13 (torchvision's
resnet18 / googlenet(aux_logits=False) / vgg11, the AlphaGo twin; 2 threads, OpenBLAS;
torch.no_grad + eval() for inference; train() + cross-entropy + backward + the same
optimizer's step for training). Rounds alternate between the two so that noise on this
shared machine hits both; the best median of the rounds is reported, with PyTorch/cnnc
(> 1: cnnc is faster) and GFLOP/s (cnnc's FLOP count of the step, 2 per multiply-add,
for both) against the FP32 roof ROOF_GFLOPS: ~215 GFLOP/s, what an FMA loop with
independent accumulators reaches on both vCPUs of the machine bench/README.md's results
were measured on (Zen 4: 32 FLOP per cycle per core).

Usage: /usr/bin/python3 bench/zoo_bench.py [--build build] [--rounds 2] [--seconds 2]
                                           [--model resnet18 ...]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-openmp"
if os.path.isdir(OPENBLAS) and OPENBLAS not in os.environ.get("LD_LIBRARY_PATH", ""):
    # PyTorch's BLAS is chosen at load time: re-run with OpenBLAS first.
    os.environ["LD_LIBRARY_PATH"] = OPENBLAS + ":" + os.environ.get("LD_LIBRARY_PATH", "")
    os.execv(sys.executable, [sys.executable] + sys.argv)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402
import yaml  # noqa: E402

ROOF_GFLOPS = 215.0
THREADS = 2
SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def alphago_policy():
    """The AlphaGo policy network: 5x5 conv (k = 192), 11 x 3x3 conv, 1x1 conv + per-position bias, softmax."""
    class Policy(nn.Module):
        def __init__(self, k=192):
            super().__init__()
            layers = [nn.Conv2d(48, k, 5, padding=2), nn.ReLU()]
            for _ in range(11):
                layers += [nn.Conv2d(k, k, 3, padding=1), nn.ReLU()]
            layers += [nn.Conv2d(k, 1, 1, bias=False)]
            self.body = nn.Sequential(*layers)
            self.bias = nn.Parameter(torch.zeros(1, 19, 19))

        def forward(self, x):
            return (self.body(x) + self.bias).flatten(1)
    return Policy()


# name -> (model file, PyTorch factory, input shape without batch)
MODELS = {
    "resnet18": ("models/resnet18.yaml", lambda: torchvision.models.resnet18(), (3, 224, 224)),
    "googlenet": ("models/googlenet.yaml",
                  lambda: torchvision.models.googlenet(aux_logits=False, transform_input=False,
                                                       init_weights=True), (3, 224, 224)),
    "vgg11": ("models/vgg11.yaml", lambda: torchvision.models.vgg11(), (3, 224, 224)),
    "alphago_policy": ("models/alphago_policy.yaml", alphago_policy, (48, 19, 19)),
}
# (mode, batch): inference at 1 and 32, one train step at 8.
CONFIGS = [("inference", 1), ("inference", 32), ("train", 8)]


def torch_optimizer(module, train):
    opt = train.get("optimizer", "adam")
    opt = opt if isinstance(opt, dict) else {"name": opt}
    lr = opt.get("lr", train.get("lr", 1e-2 if opt["name"] == "sgd" else 1e-3))
    if opt["name"] == "adam":
        return torch.optim.Adam(module.parameters(), lr=lr, weight_decay=opt.get("weight_decay", 0))
    if opt["name"] == "adamw":
        return torch.optim.AdamW(module.parameters(), lr=lr,
                                 weight_decay=opt.get("weight_decay", 0.01))
    return torch.optim.SGD(module.parameters(), lr=lr, momentum=opt.get("momentum", 0),
                           weight_decay=opt.get("weight_decay", 0),
                           nesterov=opt.get("nesterov", False))


def median_ms(fn, seconds):
    start = time.perf_counter()
    fn()  # warm-up, and the estimate of one call
    once = time.perf_counter() - start
    iters = max(3, min(50, int(seconds / max(once, 1e-6))))
    samples = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e3)
    samples.sort()
    return samples[len(samples) // 2]


def time_torch(module, optimizer, classes, shape, mode, batch, seconds):
    x = torch.randn(batch, *shape)
    if mode == "inference":
        module.eval()
        with torch.no_grad():
            return median_ms(lambda: module(x), seconds)
    module.train()
    labels = torch.randint(0, classes, (batch,))

    def step():
        loss = F.cross_entropy(module(x), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return median_ms(step, seconds)


def time_cnnc(cnnrun, library, mode, batch, seconds):
    def run(iters):
        cmd = [cnnrun, "bench", library, "--batch", str(batch), "--iters", str(iters),
               "--warmup", "1", "--json"] + (["--train"] if mode == "train" else [])
        return json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                         text=True).stdout)
    probe = run(1)
    iters = max(3, min(50, int(seconds * 1e3 / max(probe["total"]["ms"], 1e-3))))
    report = run(iters)
    flops = sum(s["gflops"] * s["ms"] for s in report["steps"]) * 1e6  # per call
    return report["total"]["ms"], flops


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(SRC, "build"))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=2.0,
                        help="time budget of one measurement (sets the iteration count)")
    parser.add_argument("--model", action="append", choices=sorted(MODELS))
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    os.environ.setdefault("HL_NUM_THREADS", str(THREADS))
    cnnc = os.path.join(args.build, "bin", "cnnc")
    cnnrun = os.path.join(args.build, "bin", "cnnrun")

    rows, compiles = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.model or list(MODELS):
            model_file, factory, shape = MODELS[name]
            spec = yaml.safe_load(open(os.path.join(SRC, model_file)))
            library = os.path.join(tmp, name + ".so")
            start = time.perf_counter()
            subprocess.run([cnnc, os.path.join(SRC, model_file), "-o", library], check=True)
            compiles.append((name, time.perf_counter() - start))
            torch.manual_seed(0)
            module = factory()
            optimizer = torch_optimizer(module, spec.get("train") or {})
            with torch.no_grad():
                classes = module.eval()(torch.zeros(1, *shape)).shape[1]
            for mode, batch in CONFIGS:
                best_cnnc, best_torch, flops = float("inf"), float("inf"), 0.0
                for _ in range(args.rounds):
                    # PyTorch's OpenMP workers spin for a while after each call;
                    # let them sleep before timing cnnc.
                    time.sleep(1.0)
                    ms, flops = time_cnnc(cnnrun, library, mode, batch, args.seconds)
                    best_cnnc = min(best_cnnc, ms)
                    best_torch = min(best_torch, time_torch(module, optimizer, classes, shape,
                                                            mode, batch, args.seconds))
                rows.append((name, mode, batch, best_cnnc, best_torch, flops))
                print(f"  {name} {mode} b{batch}: cnnc {best_cnnc:.2f} ms, "
                      f"PyTorch {best_torch:.2f} ms", file=sys.stderr, flush=True)

    print(f"threads: {THREADS} (cnnc HL_NUM_THREADS, torch.set_num_threads); "
          f"roof {ROOF_GFLOPS:.0f} GFLOP/s; torch {torch.__version__}")
    print("compile with train step: " + ", ".join(f"{n} {s:.1f} s" for n, s in compiles))
    print()
    print("| model | step | batch | cnnc ms | PyTorch ms | PyTorch/cnnc | cnnc GFLOP/s | % of roof "
          "| PyTorch GFLOP/s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, mode, batch, c_ms, t_ms, flops in rows:
        c_gf, t_gf = flops / c_ms / 1e6, flops / t_ms / 1e6
        print(f"| {name} | {mode} | {batch} | {c_ms:.2f} | {t_ms:.2f} | {t_ms / c_ms:.2f}x | "
              f"{c_gf:.1f} | {100 * c_gf / ROOF_GFLOPS:.0f}% | {t_gf:.1f} |")


if __name__ == "__main__":
    main()
