#!/usr/bin/python3
"""Trains the PyTorch twin of models/mnist_cnn.yaml (tools/py/reference_models.py,
MnistCnn) on Fashion-MNIST and saves its state_dict as safetensors: a PyTorch
reference for cnnc's own training and an interoperability example.

cnnc trains models itself (`cnnrun train`, `Model.fit` in the Python package);
this script trains the same network with its `train:` settings (Adam, lr 0.001,
batch 32) in PyTorch's eager loop. Its output shows that a PyTorch state_dict
loads into a cnnc model.so as it is, with no conversion, and gives PyTorch's
predictions (`cnnrun run mnist.so --weights OUT.safetensors ...`,
`cnnrun eval mnist.so --weights OUT.safetensors --data DIR`, or
`build/bin/classify`), and its accuracy and time per epoch are a baseline for
`cnnrun train` on the same data. Assumes Debian's python3-torch and the
dataset-fashion-mnist package.

Usage: /usr/bin/python3 examples/train_reference.py OUT.safetensors [--epochs 1]
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "py"))
import safetensors_io  # noqa: E402
from idx import read_idx  # noqa: E402
from reference_models import MnistCnn  # noqa: E402  (the twin of models/mnist_cnn.yaml)




def main():
    parser = argparse.ArgumentParser(description="train the mnist_cnn twin in PyTorch")
    parser.add_argument("out")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    images = torch.from_numpy(read_idx("train-images-idx3-ubyte.gz").astype(np.float32) / 255).unsqueeze(1)
    labels = torch.from_numpy(read_idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    model = MnistCnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(args.epochs):
        start = time.time()
        order = torch.randperm(len(images))
        for i in range(0, len(images), 32):
            batch = order[i:i + 32]
            loss = F.cross_entropy(model.logits(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch + 1}: last loss {loss.item():.3f}, {time.time() - start:.1f} s")
    test_images = torch.from_numpy(read_idx("t10k-images-idx3-ubyte.gz").astype(np.float32) / 255).unsqueeze(1)
    test_labels = torch.from_numpy(read_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
    with torch.no_grad():
        predictions = model.logits(test_images).argmax(1)
    print(f"PyTorch test accuracy: {(predictions == test_labels).float().mean().item():.4f}")
    safetensors_io.save(model.state_dict(), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
