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


def seed_timm(torch_home: Path, name: str = "timm/resnet18.a1_in1k", marker: float = 0.25) -> Path:
    """Put a timm model's weights into Hugging Face's cache (as ``HF_HOME`` under ``torch_home``, set by the
    tests' fixture), laid out as huggingface_hub lays out a download: the file under a snapshot, and the
    ``main`` ref pointing to it. Recognisable by its first convolution's weights."""
    import timm
    from safetensors.torch import save_file

    architecture = name.removeprefix("timm/")
    state = timm.create_model(architecture, pretrained=False).state_dict()
    first = next(key for key, value in state.items() if value.dim() == 4)
    state[first].fill_(marker)
    repo = torch_home / "huggingface" / "hub" / ("models--" + name.replace("/", "--"))
    revision = "0" * 40
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(revision)
    path = snapshot / "model.safetensors"
    save_file({key: value.contiguous() for key, value in state.items()}, str(path))
    return path
