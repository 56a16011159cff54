#!/usr/bin/python3
"""Inference benchmark: cnnc against PyTorch, side by side in one run.

Compiles the benchmark models with cnnc, times them with `cnnrun bench`
(median of --iters calls, inputs and outputs bound without copies) and times
the same networks in PyTorch 1.13 (2 threads, OpenBLAS, torch.no_grad).
Rounds alternate between the two so that noise on this shared machine hits
both; the best median of the rounds is reported. Prints a Markdown table with
the PyTorch/cnnc time ratio (> 1 means cnnc is faster) and GFLOP/s against
the FP32 roof ROOF_GFLOPS: ~215 GFLOP/s, what an FMA loop with independent
accumulators reaches on both vCPUs of the machine bench/README.md's results
were measured on (Zen 4: 32 FLOP per cycle per core).

Usage: /usr/bin/python3 bench/run_bench.py [--build build] [--rounds 3] [--iters 50]
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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "py"))
from reference_models import MnistCnn  # noqa: E402

ROOF_GFLOPS = 215.0
THREADS = 2
SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def conv3x3():
    return nn.Conv2d(64, 64, 3, padding=1)


# (label, model file, PyTorch module factory, input shape without batch, batches)
CASES = [
    ("conv 64->64 3x3, 56x56", "bench/conv3x3_64.yaml", conv3x3, (64, 56, 56), [1]),
    ("mnist_cnn", "models/mnist_cnn.yaml", MnistCnn, (1, 28, 28), [1, 64]),
]


def time_torch(module, shape, batch, iters):
    x = torch.randn(batch, *shape)
    with torch.no_grad():
        for _ in range(max(3, iters // 10)):
            module(x)
        samples = []
        for _ in range(iters):
            start = time.perf_counter()
            module(x)
            samples.append((time.perf_counter() - start) * 1e3)
    samples.sort()
    return samples[len(samples) // 2]


def time_cnnc(cnnrun, library, batch, iters):
    out = subprocess.run([cnnrun, "bench", library, "--batch", str(batch), "--iters", str(iters),
                          "--json"], check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    flops = sum(s["gflops"] * s["ms"] for s in report["steps"]) * 1e6 / batch  # per image
    return report["total"]["ms"], flops


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(SRC, "build"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iters", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    os.environ.setdefault("HL_NUM_THREADS", str(THREADS))
    cnnc = os.path.join(args.build, "bin", "cnnc")
    cnnrun = os.path.join(args.build, "bin", "cnnrun")

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, model_file, factory, shape, batches in CASES:
            library = os.path.join(tmp, os.path.basename(model_file) + ".so")
            subprocess.run([cnnc, os.path.join(SRC, model_file), "-o", library, "--inference-only"],
                           check=True)
            module = factory().eval()
            for batch in batches:
                best_cnnc, best_torch, flops = float("inf"), float("inf"), 0.0
                for _ in range(args.rounds):
                    # PyTorch's OpenMP workers spin for a while after each call;
                    # let them sleep before timing cnnc.
                    time.sleep(1.0)
                    ms, flops = time_cnnc(cnnrun, library, batch, args.iters)
                    best_cnnc = min(best_cnnc, ms)
                    best_torch = min(best_torch, time_torch(module, shape, batch, args.iters))
                rows.append((label, batch, best_cnnc, best_torch, flops * batch))

    print(f"threads: {THREADS} (cnnc HL_NUM_THREADS, torch.set_num_threads); roof {ROOF_GFLOPS:.0f} GFLOP/s")
    print(f"torch {torch.__version__}, BLAS from LD_LIBRARY_PATH={os.environ.get('LD_LIBRARY_PATH', '')}")
    print()
    print("| case | batch | cnnc ms | PyTorch ms | PyTorch/cnnc | cnnc GFLOP/s | % of roof | PyTorch GFLOP/s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, batch, c_ms, t_ms, flops in rows:
        c_gf, t_gf = flops / c_ms / 1e6, flops / t_ms / 1e6
        print(f"| {label} | {batch} | {c_ms:.3f} | {t_ms:.3f} | {t_ms / c_ms:.2f}x | {c_gf:.1f} | "
              f"{100 * c_gf / ROOF_GFLOPS:.0f}% | {t_gf:.1f} |")


if __name__ == "__main__":
    main()
