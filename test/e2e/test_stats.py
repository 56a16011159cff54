#!/usr/bin/python3
"""cnnc --stats against PyTorch: for every model of models/ that has a PyTorch
twin in test_models.py or in test_zoo.py's REGISTRY (the architecture zoo:
torchvision models and tools/py/reference_models.py twins), the total
parameter count of `cnnc --stats --json` equals sum(p.numel() for p in twin.parameters()) (batch-norm running
statistics are buffers in PyTorch and are not counted), and the multiply-adds
of conv and dense layers equal a count made from the twin's modules with
forward hooks (Conv1d/Conv2d: output elements x kernel x in/groups; Linear:
in x out; a connection-table conv, e.g. LeNet-5's C3: output positions x K x kernel).
Assumes build/bin/cnnc and Debian's torch (+ torchvision for the zoo).

Usage: test_stats.py --bin-dir build/bin --source-dir .
"""
import argparse
import json
import os
import subprocess
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_models import InceptionTiny, LeNet5, MnistCNN, ResNetTiny  # noqa: E402
from test_zoo import REGISTRY as ZOO  # noqa: E402

MODELS = [("mnist_cnn.yaml", MnistCNN, [1, 28, 28]), ("lenet5.yaml", LeNet5, [1, 28, 28]),
          ("resnet_tiny.yaml", ResNetTiny, [3, 32, 32]),
          ("inception_tiny.yaml", InceptionTiny, [3, 32, 32])]
MODELS += [(os.path.basename(z.yaml), z.twin, z.input_shape) for z in ZOO if not z.onnx
           if os.path.basename(z.yaml) not in {m[0] for m in MODELS}]


def torch_macs(model, shape):
    """Multiply-adds per image of every Conv2d and Linear, from their outputs."""
    total = [0]

    def hook(module, inputs, output):
        if isinstance(module, (nn.Conv1d, nn.Conv2d)):
            k = module.in_channels // module.groups
            for d in module.kernel_size:
                k *= d
            total[0] += output[0].numel() * k
        elif isinstance(module, nn.Linear):
            total[0] += module.in_features * module.out_features
        elif hasattr(module, "connections"):  # a connection table: K kernels per position
            total[0] += output[0, 0].numel() * module.weight.numel()

    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)) or hasattr(m, "connections"):
            m.register_forward_hook(hook)
    with torch.no_grad():
        model.eval()(torch.zeros(1, *shape))
    return total[0]


def main():
    args = harness.tool_args(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args()
    failures = 0
    for yaml_file, twin, shape in MODELS:
        # The report describes the model, not its code: no --target (cnnc refuses it).
        out = subprocess.run([os.path.join(args.bin_dir, "cnnc"), "--stats", "--json",
                              os.path.join(args.source_dir, "models", yaml_file)],
                             check=True, capture_output=True, text=True).stdout
        total = json.loads(out)["total"]
        model = twin()
        params = sum(p.numel() for p in model.parameters())
        macs = torch_macs(model, shape)
        ok = total["params"] == params and total["macs"] == macs
        failures += not ok
        print(f"{'PASS' if ok else 'FAIL'} {yaml_file}: params cnnc {total['params']} / PyTorch "
              f"{params}, multiply-adds cnnc {total['macs']} / PyTorch {macs}")
    print(f"{len(MODELS) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
