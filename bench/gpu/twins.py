"""PyTorch twins of the models that bench/gpu/run_gpu_bench.py measures, needing only torch.

The GPU host has PyTorch but maybe not torchvision, so ResNet-18, GoogLeNet and VGG-11 are
written out here as torchvision builds them (torchvision.models.resnet18,
googlenet(aux_logits=False, transform_input=False), vgg11), with the state_dict names of
the model files: ResNet-18 and GoogLeNet have torchvision's own names; VGG-11's conv layers
are named stage<s>.<i>.conv as in models/vgg11.yaml (torchvision: features.<n>, see
VGG11_FROM_TORCHVISION), and torchvision's AdaptiveAvgPool2d(7), the identity at 224x224 and
absent from the model file, is left out. mnist_cnn's twin is tools/py/reference_models.py's
(the folder carries a copy). Each factory returns a module whose forward is what the
compiled model outputs (logits, or softmax for mnist_cnn) and whose `logits`, if any, is
what the train step's cross-entropy takes.

check_against_torchvision() compares these twins with torchvision's (state_dict names and
shapes, and outputs on the same parameters) wherever torchvision is installed.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from reference_models import MnistCnn


class Conv3x3(nn.Module):
    """bench/conv3x3_64.yaml: one 64 -> 64 3x3 convolution, padding 1 (its layer is `conv`)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(64, 64, 3, padding=1)

    def forward(self, x):
        return self.conv(x)


# ----------------------------------------------------------------------------- ResNet-18

class BasicBlock(nn.Module):
    """torchvision's BasicBlock: conv1 bn1 relu conv2 bn2 (+ downsample.{0,1}) add relu."""

    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class ResNet18(nn.Module):
    """models/resnet18.yaml = torchvision.models.resnet18 (3x224x224, 1000 classes)."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        widths, inplanes = [64, 128, 256, 512], 64
        for i, planes in enumerate(widths, 1):
            stride = 1 if i == 1 else 2
            setattr(self, f"layer{i}", nn.Sequential(BasicBlock(inplanes, planes, stride),
                                                     BasicBlock(planes, planes)))
            inplanes = planes
        self.fc = nn.Linear(512, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(x.mean(dim=(2, 3)))


# ----------------------------------------------------------------------------- GoogLeNet

class BasicConv2d(nn.Module):
    """torchvision's BasicConv2d: conv (no bias), batch norm (eps 0.001), relu."""

    def __init__(self, cin, cout, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """torchvision's Inception block (its "5x5" path uses a 3x3 kernel, as there)."""

    def __init__(self, cin, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj):
        super().__init__()
        self.branch1 = BasicConv2d(cin, ch1x1, 1)
        self.branch2 = nn.Sequential(BasicConv2d(cin, ch3x3red, 1),
                                     BasicConv2d(ch3x3red, ch3x3, 3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(cin, ch5x5red, 1),
                                     BasicConv2d(ch5x5red, ch5x5, 3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True),
                                     BasicConv2d(cin, pool_proj, 1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class GoogLeNet(nn.Module):
    """models/googlenet.yaml = torchvision.models.googlenet(aux_logits=False,
    transform_input=False): 3x224x224, 1000 classes, dropout 0.2 before fc."""

    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = BasicConv2d(3, 64, 7, 2, 3)
        self.conv2 = BasicConv2d(64, 64, 1)
        self.conv3 = BasicConv2d(64, 192, 3, padding=1)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x):
        pool = lambda t, k=3: F.max_pool2d(t, k, 2, ceil_mode=True)  # noqa: E731
        x = pool(self.conv1(x))
        x = pool(self.conv3(self.conv2(x)))
        x = pool(self.inception3b(self.inception3a(x)))
        for name in ("4a", "4b", "4c", "4d", "4e"):
            x = getattr(self, "inception" + name)(x)
        x = pool(x, 2)
        x = self.inception5b(self.inception5a(x))
        return self.fc(self.dropout(x.mean(dim=(2, 3))))


# ----------------------------------------------------------------------------- VGG-11

VGG11_STAGES = [(64, 1), (128, 1), (256, 2), (512, 2), (512, 2)]  # (channels, convs)


class _ConvUnit(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)

    def forward(self, x):
        return F.relu(self.conv(x))


class VGG11(nn.Module):
    """models/vgg11.yaml = torchvision.models.vgg11 at 3x224x224 without its AdaptiveAvgPool2d
    (the identity there); convs named stage<s>.<i>.conv, classifier.0/3/6 as torchvision."""

    def __init__(self, num_classes=1000):
        super().__init__()
        cin = 3
        for s, (channels, convs) in enumerate(VGG11_STAGES, 1):
            units = []
            for _ in range(convs):
                units.append(_ConvUnit(cin, channels))
                cin = channels
            setattr(self, f"stage{s}", nn.Sequential(*units))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(4096, num_classes))

    def forward(self, x):
        for s in range(1, len(VGG11_STAGES) + 1):
            x = F.max_pool2d(getattr(self, f"stage{s}")(x), 2, 2)
        return self.classifier(x.flatten(1))


def _vgg11_names():
    """torchvision vgg11's features.<n>.{weight,bias} -> stage<s>.<i>.conv.{weight,bias}."""
    table, n = {}, 0
    for s, (_, convs) in enumerate(VGG11_STAGES, 1):
        for i in range(convs):
            for p in ("weight", "bias"):
                table[f"features.{n}.{p}"] = f"stage{s}.{i}.conv.{p}"
            n += 2  # conv, relu
        n += 1      # the stage's max pool
    return table


VGG11_FROM_TORCHVISION = _vgg11_names()

# name -> (twin factory, input shape without the batch)
TWINS = {
    "conv3x3_64": (Conv3x3, (64, 56, 56)),
    "mnist_cnn": (MnistCnn, (1, 28, 28)),
    "resnet18": (ResNet18, (3, 224, 224)),
    "googlenet": (GoogLeNet, (3, 224, 224)),
    "vgg11": (VGG11, (3, 224, 224)),
}


def randomize(twin, gen):
    """Seeded parameters, as test/e2e/test_zoo.py draws them: conv / dense weights He-uniform
    (+-sqrt(6 / fan_in)), other parameters +-0.1, batch norm with non-trivial affine
    parameters and running statistics. Returns the twin."""
    with torch.no_grad():
        done = set()
        for mname, mod in twin.named_modules():
            if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                c = mod.num_features
                mod.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                mod.bias.copy_(torch.randn(c, generator=gen) * 0.2)
                mod.running_mean.copy_(torch.randn(c, generator=gen) * 0.2)
                mod.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
                done.update(f"{mname}.{p}" if mname else p for p in ("weight", "bias"))
        for name, p in twin.named_parameters():
            if name in done:
                continue
            bound = math.sqrt(6.0 / p[0].numel()) if p.dim() >= 2 else 0.1
            p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * bound)
    return twin


def make_twin(name, seed=0):
    """The twin of model `name` with seeded parameters (randomize), on the CPU, float32."""
    factory, _ = TWINS[name]
    gen = torch.Generator().manual_seed(seed)
    return randomize(factory(), gen)


def parameters_of(twin):
    """The twin's state_dict as the compiled model names its parameters (batch norm's
    num_batches_tracked, which cnnc does not have, left out)."""
    return {k: v for k, v in twin.state_dict().items() if not k.endswith("num_batches_tracked")}


def check_against_torchvision(name, device="cpu"):
    """For resnet18, googlenet, vgg11: the twin and torchvision's model have the same
    parameters (names after renaming, shapes) and, on the same values, the same outputs at
    batch 1. Returns a line saying so, "" for the other models; raises ImportError without
    torchvision and AssertionError on a difference."""
    import torchvision
    builders = {
        "resnet18": lambda: torchvision.models.resnet18(),
        "googlenet": lambda: torchvision.models.googlenet(aux_logits=False,
                                                          transform_input=False,
                                                          init_weights=False),
        "vgg11": lambda: torchvision.models.vgg11(),
    }
    if name not in builders:
        return ""
    twin = make_twin(name).eval().to(device)
    reference = builders[name]().eval().to(device)
    rename = VGG11_FROM_TORCHVISION if name == "vgg11" else {}
    theirs = {rename.get(k, k): v for k, v in parameters_of(reference).items()}
    ours = parameters_of(twin)
    assert sorted(theirs) == sorted(ours), \
        f"{name}: names differ: {sorted(set(theirs) ^ set(ours))[:6]}"
    for k, v in ours.items():
        assert tuple(theirs[k].shape) == tuple(v.shape), f"{name}: {k} {theirs[k].shape} vs {v.shape}"
    inverse = {v: k for k, v in rename.items()}
    reference.load_state_dict({inverse.get(k, k): v for k, v in twin.state_dict().items()})
    x = torch.randn(1, *TWINS[name][1], generator=torch.Generator().manual_seed(1)).to(device)
    with torch.no_grad():
        a, b = twin(x), reference(x)
    err = (a - b).abs().max().item() / max(1.0, b.abs().max().item())
    assert err <= 1e-5, f"{name}: outputs differ by {err:.2e}"
    return f"{name}: same parameters as torchvision's, outputs within {err:.1e}"
