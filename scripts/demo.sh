#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine: install dependencies, build
# cnnc, compile models/mnist_cnn.yaml into a model.so, get weights (trained
# in PyTorch on Fashion-MNIST, one epoch, saved as safetensors) and run the
# classify example on the Fashion-MNIST test set with the compiled model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
ninja -C build
build/bin/cnnc models/mnist_cnn.yaml -o build/mnist_cnn.so
if [ ! -f build/mnist_cnn.safetensors ]; then
  /usr/bin/python3 examples/train_reference.py build/mnist_cnn.safetensors
fi
data=/usr/share/datasets/fashion-mnist
build/bin/classify build/mnist_cnn.so build/mnist_cnn.safetensors \
  "$data/t10k-images-idx3-ubyte.gz" "$data/t10k-labels-idx1-ubyte.gz"
