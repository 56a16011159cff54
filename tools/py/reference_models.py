"""PyTorch twins of the models in models/, with the same state_dict names.

Used by the benchmarks and the example's reference training; the e2e tests
check that each twin and its cnnc-compiled model agree.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class MnistCnn(nn.Module):
    """models/mnist_cnn.yaml: the classic Keras MNIST network."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.conv3 = nn.Conv2d(64, 64, 3)
        self.fc1 = nn.Linear(576, 64)
        self.fc2 = nn.Linear(64, 10)

    def logits(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.conv3(x)).flatten(1)
        return self.fc2(F.relu(self.fc1(x)))

    def forward(self, x):
        return F.softmax(self.logits(x), dim=1)


class AlexNetFMnist(nn.Module):
    """models/alexnet_fmnist.yaml: d2l's AlexNet for 1x224x224 Fashion-MNIST,
    laid out like torchvision's AlexNet (features.<i>, classifier.<i>)."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 96, 11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2))
        self.classifier = nn.Sequential(
            nn.Linear(6400, 4096), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


class NiNBlock(nn.Module):
    """A NiN block: kxk convolution, then two 1x1 convolutions ("mlpconv"), all with ReLU."""

    def __init__(self, cin, cout, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding)
        self.mlp1 = nn.Conv2d(cout, cout, 1)
        self.mlp2 = nn.Conv2d(cout, cout, 1)

    def forward(self, x):
        return F.relu(self.mlp2(F.relu(self.mlp1(F.relu(self.conv(x))))))


class NiN(nn.Module):
    """models/nin.yaml: d2l's Network in Network for 1x224x224 Fashion-MNIST."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.nin1 = NiNBlock(1, 96, 11, stride=4)
        self.nin2 = NiNBlock(96, 256, 5, padding=2)
        self.nin3 = NiNBlock(256, 384, 3, padding=1)
        self.dropout = nn.Dropout(0.5)
        self.nin4 = NiNBlock(384, num_classes, 3, padding=1)

    def forward(self, x):
        x = F.max_pool2d(self.nin1(x), 3, 2)
        x = F.max_pool2d(self.nin2(x), 3, 2)
        x = F.max_pool2d(self.nin3(x), 3, 2)
        x = self.nin4(self.dropout(x))
        return x.mean(dim=(2, 3))


class InceptionV3Fragment(nn.Module):
    """models/inception_v3_fragment.yaml: a stride-2 BasicConv2d stem on 3x35x35, then
    torchvision's own InceptionA (Mixed_5b) and InceptionC (Mixed_6b, n = 7) modules,
    global average pooling and a 10-class fc."""

    def __init__(self, num_classes=10):
        super().__init__()
        from torchvision.models.inception import BasicConv2d, InceptionA, InceptionC
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Mixed_5b = InceptionA(32, pool_features=32)
        self.Mixed_6b = InceptionC(256, channels_7x7=64)
        self.fc = nn.Linear(768, num_classes)

    def forward(self, x):
        x = self.Mixed_6b(self.Mixed_5b(self.Conv2d_1a_3x3(x)))
        return self.fc(x.mean(dim=(2, 3)))


class TextCnn(nn.Module):
    """models/textcnn.yaml: Kim (2014) CNN-rand for sentence classification. The input is a
    batch of token ids as floats (cnnc's input is float32); they are rounded and clamped to
    the vocabulary like cnnc's embedding does."""

    def __init__(self, vocab=5000, dim=128, widths=(3, 4, 5), maps=100, num_classes=2,
                 dropout=0.5):
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim)
        self.convs = nn.ModuleList(nn.Conv1d(dim, maps, w) for w in widths)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(maps * len(widths), num_classes)

    def forward(self, x):
        ids = x.round().long().clamp(0, self.embedding.num_embeddings - 1)
        e = self.embedding(ids).transpose(1, 2)  # [N, dim, L]: channels for Conv1d
        feats = [F.relu(conv(e)).amax(dim=2) for conv in self.convs]  # max over time
        return self.fc(self.dropout(torch.cat(feats, dim=1)))


# LeNet-5's C3 connection table (LeCun et al. 1998, Table I): output map o reads these maps.
LENET5_C3_TABLE = [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 0], [5, 0, 1],
                   [0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5], [3, 4, 5, 0], [4, 5, 0, 1],
                   [5, 0, 1, 2], [0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5], [0, 1, 2, 3, 4, 5]]


class ConnectionConv2d(nn.Module):
    """conv2d whose output map o reads only the input maps connections[o] (LeNet-5's
    C3; cnnc's `connections:`). The weight holds one kernel per connection in table order,
    [K, kh, kw], so the layer has K*kh*kw + O parameters; it is scattered into a dense OIHW
    weight (zeros elsewhere) for F.conv2d."""

    def __init__(self, in_channels, connections, kernel_size):
        super().__init__()
        self.in_channels, self.kernel_size = in_channels, kernel_size
        self.connections = [list(r) for r in connections]
        rows = [o for o, r in enumerate(self.connections) for _ in r]
        cols = [c for r in self.connections for c in r]
        self.register_buffer("rows", torch.tensor(rows), persistent=False)
        self.register_buffer("cols", torch.tensor(cols), persistent=False)
        self.weight = nn.Parameter(torch.empty(len(cols), kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(len(self.connections)))
        # cnnc's default: uniform in +-1/sqrt(mean fan-in).
        bound = 1.0 / math.sqrt(len(cols) * kernel_size * kernel_size / len(self.connections))
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def dense_weight(self):
        k = self.kernel_size
        w = self.weight.new_zeros(len(self.connections), self.in_channels, k, k)
        w[self.rows, self.cols] = self.weight
        return w

    def forward(self, x):
        return F.conv2d(x, self.dense_weight(), self.bias)


class LeNet5Original(nn.Module):
    """models/lenet5_original.yaml: LeCun 1998 on 32x32 inputs, tanh, average pooling, C3 with
    the connection table (compact weight [60, 5, 5]); returns the logits of F7."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.c3 = ConnectionConv2d(6, LENET5_C3_TABLE, 5)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.f6 = nn.Linear(120, 84)
        self.f7 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.avg_pool2d(torch.tanh(self.c1(x)), 2)
        x = F.avg_pool2d(torch.tanh(self.c3(x)), 2)
        x = torch.tanh(self.c5(x)).flatten(1)
        return self.f7(torch.tanh(self.f6(x)))


class PositionBias(nn.Module):
    """y = x + bias[c, h, w]: one learnable bias per channel and position (cnnc's
    position_bias)."""

    def __init__(self, shape):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(shape))

    def forward(self, x):
        return x + self.bias


class _Conv3Relu(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return F.relu(self.conv(x))


class AlphaGoPolicy(nn.Module):
    """models/alphago_policy.yaml: 48x19x19 planes, 5x5 conv (k filters), 11 3x3 convs, 1x1 conv
    without bias + a bias per position; forward returns the 361 logits (the model applies
    softmax)."""

    def __init__(self, k=192):
        super().__init__()
        self.conv1 = nn.Conv2d(48, k, 5, padding=2)
        self.body = nn.ModuleList([_Conv3Relu(k) for _ in range(11)])
        self.head = nn.Conv2d(k, 1, 1, bias=False)
        self.head_bias = PositionBias((1, 19, 19))

    def forward(self, x):
        x = F.relu(self.conv1(x))
        for unit in self.body:
            x = unit(x)
        return self.head_bias(self.head(x)).flatten(1)
