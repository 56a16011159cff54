#!/usr/bin/python3
"""From a torch.nn.Module to a trained model.so, in Python (docs/python.md walks through it).

Compiles a small PyTorch CNN with cnnc (inference and its train step, the module's parameters
embedded), checks it against PyTorch, trains it on Fashion-MNIST with Model.fit, writes the
training curves, and saves a checkpoint that a C++ program (or `cnnrun eval`) loads.

Usage: PYTHONPATH=build/python /usr/bin/python3 examples/pytorch_to_cnnc.py OUT_DIR [--epochs 3]
"""
import argparse
import gzip
import os

import numpy as np
import torch
import torch.nn as nn

import cnnc
import cnnc.plot

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 2)
        x = nn.functional.max_pool2d(torch.relu(self.bn2(self.conv2(x))), 2)
        return self.fc(torch.flatten(x, 1))


def load_idx(name):
    """Images as float32 [N, 1, 28, 28] in [0, 1], or labels as int64 [N]."""
    with gzip.open(os.path.join(FASHION_MNIST, name)) as f:
        data = f.read()
    if "labels" in name:
        return np.frombuffer(data, np.uint8, offset=8).astype(np.int64)
    return (np.frombuffer(data, np.uint8, offset=16).reshape(-1, 1, 28, 28) / 255).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    so = os.path.join(args.out_dir, "net.so")

    # 1. Compile: the module is exported to ONNX and compiled with a train step.
    net = Net().eval()
    cnnc.compile(net, so, example_input=torch.zeros(1, 1, 28, 28),
                 train={"loss": "cross_entropy", "optimizer": {"name": "adam", "lr": 0.002},
                        "batch": 64})
    model = cnnc.load(so)
    print(model)

    # 2. Same numbers as PyTorch (the module's parameters are embedded in net.so).
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        print("max |cnnc - PyTorch| =", np.abs(model(x.numpy()) - net(x).numpy()).max())

    # 3. Train on Fashion-MNIST, validating on the test set after every epoch.
    train = load_idx("train-images-idx3-ubyte.gz"), load_idx("train-labels-idx1-ubyte.gz")
    test = load_idx("t10k-images-idx3-ubyte.gz"), load_idx("t10k-labels-idx1-ubyte.gz")
    log = os.path.join(args.out_dir, "metrics.csv")
    history = model.fit(train, epochs=args.epochs, validation=test, schedule="cosine", log=log)
    print(f"test accuracy after {args.epochs} epochs: {history.val_accuracy[-1]:.2%}")

    # 4. Curves, a checkpoint for C++ / cnnrun, and the trained weights back in PyTorch.
    cnnc.plot.plot_curves({"net": cnnc.plot.read_log(log)}, os.path.join(args.out_dir, "curves.png"))
    model.save_checkpoint(os.path.join(args.out_dir, "net.ckpt.safetensors"))
    net.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()},
                        strict=False)
    with torch.no_grad():
        agree = (net(torch.from_numpy(test[0][:1000])).argmax(1).numpy() ==
                 model.predict(test[0][:1000]).argmax(1)).mean()
    print(f"PyTorch with the trained weights agrees on {agree:.1%} of 1000 test images")


if __name__ == "__main__":
    main()
