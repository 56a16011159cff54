"""PyTorch twins of the models in models/, with the same state_dict names.

Used by the benchmarks and the example's reference training; the e2e tests
check that each twin and its cnnc-compiled model agree.
"""
import torch.nn as nn
import torch.nn.functional as F


class MnistCnn(nn.Module):
    """models/mnist_cnn.yaml: the Keras MNIST network of SPEC §3."""

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
