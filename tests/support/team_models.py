"""A team's own architecture, as a package the server's owner installed would hold it (the registry imports it
by path: ``tests.support.team_models:build_cats``)."""

from __future__ import annotations

from torch import nn


class CatNet(nn.Module):
    """A small classifier of the team's own design: not in torchvision or timm."""

    def __init__(self, num_classes: int = 5, width: int = 8) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(width, 2 * width, 3, stride=2), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(2 * width, num_classes)

    def forward(self, x):
        return self.head(self.pool(self.block(self.stem(x))).flatten(1))


def build_cats(num_classes: int = 5, width: int = 8) -> nn.Module:
    return CatNet(num_classes, width)


def not_a_model() -> str:
    return "oops"
