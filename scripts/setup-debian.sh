#!/usr/bin/env bash
# Installs every build and test dependency of cnnc from Debian 12 packages.
# Safe to run repeatedly; uses sudo when not root. clang-19 and libclang-rt-19-dev
# (libFuzzer and the sanitizer runtimes) build the sanitizer tree of scripts/test.sh.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
PKGS=(
  cmake ninja-build g++ make pkg-config
  llvm-19-dev libmlir-19-dev mlir-19-tools llvm-19-tools
  libhalide14-0-dev
  libyaml-cpp-dev libgtest-dev zlib1g-dev nlohmann-json3-dev libcli11-dev
  python3 python3-torch python3-torchvision python3-numpy
  libopenblas0-openmp dataset-fashion-mnist
  pocl-opencl-icd ocl-icd-libopencl1 ocl-icd-opencl-dev
  libonnx-dev libprotobuf-dev python3-onnx libonnx-testdata
  pybind11-dev python3-dev python3-matplotlib
  libstb-dev
  clang-19 libclang-rt-19-dev
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
