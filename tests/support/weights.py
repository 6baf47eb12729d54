"""Seed torchvision's weights cache (under the test's own TORCH_HOME), since the tests run offline."""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision

RESNET18_FILE = "resnet18-f37072fd.pth"


def checkpoints(torch_home: Path) -> Path:
    """torchvision's checkpoint folder under ``torch_home``, created."""
    folder = torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def seed_resnet18(torch_home: Path, marker: float = 0.125) -> Path:
    """Write a resnet18 checkpoint under torchvision's file name, recognisable by its conv1 weights."""
    state = torchvision.models.resnet18(weights=None).state_dict()
    state["conv1.weight"].fill_(marker)
    path = checkpoints(torch_home) / RESNET18_FILE
    torch.save(state, path)
    return path
