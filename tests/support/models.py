"""Small models built for tests: fast to run, with the traps real networks have."""

from __future__ import annotations

import torch
from torch import nn


class TinyResidual(nn.Module):
    """Small CNN with the traps of torchvision's ResNets: in-place ReLU, a reused ReLU, and `+=`."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(8)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        identity = out
        out = self.bn2(self.conv2(out))
        out += identity
        out = self.relu(out)
        return self.fc(torch.flatten(self.pool(out), 1))


def tiny_residual() -> TinyResidual:
    """A seeded TinyResidual in eval mode, with non-trivial batch-norm statistics (bn outputs differ from conv's)."""
    torch.manual_seed(0)
    model = TinyResidual()
    with torch.no_grad():
        for bn in (model.bn1, model.bn2):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
    return model.eval()
