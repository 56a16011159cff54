#!/usr/bin/env bash
# The main job, on a fresh Debian 12 machine: install dependencies, build
# cnnc, compile models/mnist_cnn.yaml into a model.so, train it for one epoch
# on Fashion-MNIST with cnnrun (a tenth of the training set held out for
# validation), then classify the test set with the weights it trained. Last,
# interoperability: the same model.so runs weights trained in PyTorch
# (a state_dict saved as safetensors, loaded by name).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-debian.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
ninja -C build
build/bin/cnnc models/mnist_cnn.yaml -o build/mnist_cnn.so
data=/usr/share/datasets/fashion-mnist
build/bin/cnnrun train build/mnist_cnn.so --data "$data" --epochs 1 --val-split 0.1 \
  --checkpoint build/mnist_cnn.ckpt
# A checkpoint is a safetensors file: its parameters load as weights.
build/bin/classify build/mnist_cnn.so build/mnist_cnn.ckpt \
  "$data/t10k-images-idx3-ubyte.gz" "$data/t10k-labels-idx1-ubyte.gz"
echo "--- the same model.so with weights trained in PyTorch (one epoch):"
if [ ! -f build/mnist_cnn.safetensors ]; then
  /usr/bin/python3 examples/train_reference.py build/mnist_cnn.safetensors
fi
build/bin/classify build/mnist_cnn.so build/mnist_cnn.safetensors \
  "$data/t10k-images-idx3-ubyte.gz" "$data/t10k-labels-idx1-ubyte.gz"
