#!/usr/bin/python3
"""End-to-end numerical tests of the example models in models/ against PyTorch twins.

Each of models/{mnist_cnn,lenet5,resnet_tiny,inception_tiny}.yaml is compiled with `cnnc`
and run with `cnnrun` at batch 1 and batch 7 (one model.so for both), and compared with a
hand-written PyTorch nn.Module whose state_dict has exactly the model's parameter names, so
the twin's random state_dict (batch norm with randomized running statistics, plus its int64
num_batches_tracked entries, which the runtime must ignore) is written as-is to safetensors.
The reference runs in float64; tolerance: max abs error <= 1e-4 * max(1, max|reference|).
mnist_cnn is also compiled for the portable AVX2 target and with each autoscheduler
(--schedule=auto:Adams2019|auto:Mullapudi2016|auto:Li2018; with --inference-only, since
Adams2019 over the train step too takes ~400 s); compile times are printed.
Groups (--group): mnist, lenet, resnet, inception, targets, autosched.
Assumes: what harness.py assumes; the model files as they are in models/ (the twins mirror
them layer by layer: if a model file changes, its twin must too); the host CPU can run AVX2.
Run: /usr/bin/python3 test/e2e/test_models.py [--bin-dir build/bin] [--group resnet]
"""

import copy
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

import harness
from harness import Case, pixel_input, seed_of

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "py"))
from reference_models import MnistCnn as MnistCNN  # noqa: E402  (shared with bench/ and examples/)


# --------------------------------------------------------------------------- twins

class LeNet5(nn.Module):  # models/lenet5.yaml (d2l variant: sigmoid + max pool)
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(torch.sigmoid(self.conv1(x)), 2, 2)
        x = F.max_pool2d(torch.sigmoid(self.conv2(x)), 2, 2).flatten(1)
        x = torch.sigmoid(self.fc1(x))
        x = torch.sigmoid(self.fc2(x))
        return self.fc3(x)


class BasicBlock(nn.Module):  # torchvision's names: conv1 bn1 conv2 bn2 downsample.{0,1}
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class ResNetTiny(nn.Module):  # models/resnet_tiny.yaml
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = nn.Sequential(BasicBlock(16, 16), BasicBlock(16, 16))
        self.layer2 = nn.Sequential(BasicBlock(16, 32, 2), BasicBlock(32, 32))
        self.layer3 = nn.Sequential(BasicBlock(32, 64, 2), BasicBlock(64, 64))
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class Inception(nn.Module):  # the `inception` block of models/inception_tiny.yaml
    def __init__(self, cin, c1, c3r, c3, c5r, c5, pool_proj):
        super().__init__()
        self.b1 = nn.Conv2d(cin, c1, 1)
        self.b2_reduce = nn.Conv2d(cin, c3r, 1)
        self.b2 = nn.Conv2d(c3r, c3, 3, padding=1)
        self.b3_reduce = nn.Conv2d(cin, c5r, 1)
        self.b3 = nn.Conv2d(c5r, c5, 5, padding=2)
        self.b4 = nn.Conv2d(cin, pool_proj, 1)

    def forward(self, x):
        y1 = F.relu(self.b1(x))
        y2 = F.relu(self.b2(F.relu(self.b2_reduce(x))))
        y3 = F.relu(self.b3(F.relu(self.b3_reduce(x))))
        y4 = F.relu(self.b4(F.max_pool2d(x, 3, 1, 1)))
        return torch.cat([y1, y2, y3, y4], dim=1)


class InceptionTiny(nn.Module):  # models/inception_tiny.yaml
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 3, padding=1)
        self.inception3a = Inception(32, 16, 24, 32, 4, 8, 8)
        self.inception3b = Inception(64, 32, 32, 48, 8, 24, 16)
        self.dropout = nn.Dropout(0.4)
        self.fc = nn.Linear(120, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.stem(x)), 3, 2, 1)
        x = self.inception3b(self.inception3a(x))
        x = self.dropout(F.adaptive_avg_pool2d(x, 1).flatten(1))
        return self.fc(x)


# --------------------------------------------------------------------------- cases

def model_case(args, name, yaml_file, twin_class, input_shape, cnnc_args=(), input_fn=None):
    gen = torch.Generator().manual_seed(seed_of(yaml_file))  # same weights for all variants
    twin = harness.randomize_module(twin_class(), gen).eval()
    params = dict(twin.state_dict())  # includes int64 num_batches_tracked: must be ignored
    ref_model = copy.deepcopy(twin).double().eval()

    def ref(xs, p):
        return ref_model(xs[0])

    path = os.path.join(args.source_dir, "models", yaml_file)
    with open(path) as f:
        text = f.read()
    return Case(name, text, input_shape, params, ref, cnnc_args=cnnc_args, input_fn=input_fn)


def mnist_cases(args):
    return [model_case(args, "model.mnist_cnn", "mnist_cnn.yaml", MnistCNN, [1, 28, 28],
                       input_fn=pixel_input)]


def lenet_cases(args):
    return [model_case(args, "model.lenet5", "lenet5.yaml", LeNet5, [1, 28, 28],
                       input_fn=pixel_input)]


def resnet_cases(args):
    return [model_case(args, "model.resnet_tiny", "resnet_tiny.yaml", ResNetTiny, [3, 32, 32])]


def inception_cases(args):
    return [model_case(args, "model.inception_tiny", "inception_tiny.yaml", InceptionTiny,
                       [3, 32, 32])]


def target_cases(args):
    return [model_case(args, "model.mnist_cnn.avx2", "mnist_cnn.yaml", MnistCNN, [1, 28, 28],
                       cnnc_args=["--target=x86-64-linux-avx2-fma-f16c-sse41"],
                       input_fn=pixel_input)]


def autosched_cases(args):
    return [model_case(args, f"model.mnist_cnn.{s}", "mnist_cnn.yaml", MnistCNN, [1, 28, 28],
                       cnnc_args=[f"--schedule=auto:{s}", "--inference-only"],
                       input_fn=pixel_input)
            for s in ("Adams2019", "Mullapudi2016", "Li2018")]


GROUPS = {"mnist": mnist_cases, "lenet": lenet_cases, "resnet": resnet_cases,
          "inception": inception_cases, "targets": target_cases, "autosched": autosched_cases}

if __name__ == "__main__":
    sys.exit(harness.main_for(GROUPS, "cnnc e2e model tests", "e2e models"))
