#!/usr/bin/python3
"""Training benchmark: one Fashion-MNIST epoch of models/mnist_cnn.yaml, cnnc
against PyTorch, side by side in one run.

cnnc: `cnnrun train` (compiled train step: forward, loss, backward and Adam
update in Halide kernels; data loading, shuffling and batching in the
runtime). PyTorch 1.13: the equivalent eager loop (the twin in
tools/py/reference_models.py, torch.optim.Adam, cross-entropy on the logits,
2 threads, OpenBLAS, data already in memory as tensors). Both use Adam lr
1e-3, batch 32, shuffled, the last partial batch included. Prints the epoch
times, their ratio (> 1: cnnc is faster) and the test accuracy after the
epoch. Assumes the dataset-fashion-mnist package.

Usage: /usr/bin/python3 bench/train_bench.py [--build build] [--epochs 1]
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
    os.environ["LD_LIBRARY_PATH"] = OPENBLAS + ":" + os.environ.get("LD_LIBRARY_PATH", "")
    os.execv(sys.executable, [sys.executable] + sys.argv)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRC, "tools", "py"))
from idx import read_idx  # noqa: E402
from reference_models import MnistCnn  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
THREADS = 2


def torch_epochs(epochs, batch):
    torch.manual_seed(0)
    images = torch.from_numpy(read_idx("train-images-idx3-ubyte.gz").astype(np.float32) / 255).unsqueeze(1)
    labels = torch.from_numpy(read_idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    test_images = torch.from_numpy(read_idx("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255).unsqueeze(1)
    test_labels = torch.from_numpy(read_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
    model = MnistCnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(len(images))
        for i in range(0, len(images), batch):
            index = order[i:i + batch]
            loss = F.cross_entropy(model.logits(images[index]), labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)
    with torch.no_grad():
        accuracy = (model.logits(test_images).argmax(1) == test_labels).float().mean().item()
    return seconds, accuracy


def cnnc_epochs(build, library, epochs, batch):
    out = subprocess.run([os.path.join(build, "bin", "cnnrun"), "train", library, "--data", DATA,
                          "--epochs", str(epochs), "--batch", str(batch), "--json"],
                         check=True, capture_output=True, text=True).stdout
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [line["seconds"] for line in lines], lines[-1]["test_acc"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(SRC, "build"))
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(THREADS)
    os.environ.setdefault("HL_NUM_THREADS", str(THREADS))
    with tempfile.TemporaryDirectory() as tmp:
        library = os.path.join(tmp, "mnist_cnn.so")
        subprocess.run([os.path.join(args.build, "bin", "cnnc"),
                        os.path.join(SRC, "models", "mnist_cnn.yaml"), "-o", library], check=True)
        c_seconds, c_acc = cnnc_epochs(args.build, library, args.epochs, args.batch)
    t_seconds, t_acc = torch_epochs(args.epochs, args.batch)
    print(f"threads: {THREADS}; Adam lr 1e-3, batch {args.batch}, {args.epochs} epoch(s) of 60000 images")
    print("| | seconds per epoch | test accuracy |")
    print("|---|---:|---:|")
    print(f"| cnnc (cnnrun train) | {' / '.join(f'{s:.1f}' for s in c_seconds)} | {c_acc:.4f} |")
    print(f"| PyTorch 1.13 eager | {' / '.join(f'{s:.1f}' for s in t_seconds)} | {t_acc:.4f} |")
    print(f"PyTorch/cnnc time ratio: {sum(t_seconds) / sum(c_seconds):.2f}x")


if __name__ == "__main__":
    main()
