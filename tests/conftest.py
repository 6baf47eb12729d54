"""Shared fixtures. Every test runs with its own empty TORCH_HOME so no test sees this machine's cache."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def fresh_caches():
    """Models, captures and figures are process-wide Streamlit caches; each test starts without them."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(autouse=True)
def torch_home(tmp_path_factory, monkeypatch) -> Path:
    """An empty torchvision cache for each test; tests that need weights seed it themselves."""
    home = tmp_path_factory.mktemp("torch_home")
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home


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


@pytest.fixture
def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    model = TinyResidual()
    with torch.no_grad():  # non-trivial batch-norm statistics, so bn outputs differ from conv outputs
        for bn in (model.bn1, model.bn2):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
    return model.eval()


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def gradient_image(width: int = 64, height: int = 48) -> Image.Image:
    """A picture with distinct values everywhere, so orientation and colour errors show."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256], axis=-1)
    return Image.fromarray(rgb.astype(np.uint8), mode="RGB")


RESNET18_FILE = "resnet18-f37072fd.pth"


def checkpoints(torch_home: Path) -> Path:
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


def pytest_configure(config) -> None:
    # torch 2.14 marks torch.jit as deprecated; featviz still reads TorchScript uploads, as issue 3 asks.
    config.addinivalue_line("filterwarnings", "ignore:`torch.jit.:FutureWarning")
