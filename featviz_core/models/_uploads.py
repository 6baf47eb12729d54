"""Weights that people bring for a listed architecture: checked against it before use (a fine-tuned
classifier head with another class count is accepted), read through :mod:`featviz_core.models._state_dict`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Optional

import torch
from torch import nn

from ..errors import ModelError
from . import _digits as digits
from ._load import BUNDLED_WEIGHTS, LoadedModel, best_device, load_model
from ._registry import is_registered
from ._state_dict import StateDictReport, check_state_dict, read_state_dict, strip_prefix
from ._timm import build_timm, is_timm_name
from ._weights import weights_file


def load_with_state_dict(name: str, data: bytes, filename: str, device: Optional[torch.device] = None) -> LoadedModel:
    """Model ``name`` with uploaded weights, after checking they fit; a fine-tuned classifier head is allowed.

    Example::

        >>> import featviz_core as fv
        >>> import io, torch, torchvision
        >>> buffer = io.BytesIO()
        >>> torch.save(torchvision.models.resnet18(num_classes=3).state_dict(), buffer)   # a fine-tuned head
        >>> model = fv.load_with_state_dict("resnet18", buffer.getvalue(), "mine.pth")
        >>> model.weights
        'uploaded mine.pth (sha256 ...)'
    """
    state = read_state_dict(data, filename)
    template = load_model(name, weights=None, device="cpu")
    state = strip_prefix(state, template.module)
    report = check_state_dict(template.module, state)
    num_classes = _head_classes(template.module, report)
    if num_classes is not None:
        template = _rebuild(name, num_classes, template)
        report = check_state_dict(template.module, state)
    if not report.ok:
        raise ModelError(
            f"{filename} does not fit {name}: {report.counts()}. Choose the architecture these weights were saved "
            f"from, or upload weights saved from {name}.",
            detail=report.summary(limit=20),
        )
    module = template.module
    module.load_state_dict(state)
    module.eval().requires_grad_(False).to(device or best_device())
    digest = hashlib.sha256(data).hexdigest()
    label = f"uploaded {filename} (sha256 {digest[:8]})"
    if name == digits.NAME:
        if num_classes is None and _same_as_bundled(state):
            label = f"{BUNDLED_WEIGHTS}, uploaded as {filename}"
    elif not is_timm_name(name):  # torchvision's file names carry the start of their checksum
        official = weights_file(name)
        if digest.startswith(official.filename.rsplit("-", 1)[-1].split(".")[0]):
            label = f"{official.weights} (uploaded {filename}, checksum matches)"
    categories = template.categories if num_classes is None else tuple(f"class {i}" for i in range(num_classes))
    return LoadedModel(
        name=name, module=module, preprocess=template.preprocess, weights=label, categories=categories,
        mean=template.mean, std=template.std, num_params=sum(p.numel() for p in module.parameters()),
        source="upload", extra={"sha256": digest, "report": report},
    )


def _head_classes(module: nn.Module, report: StateDictReport) -> Optional[int]:
    """The class count of a fine-tuned head, when the only misfit is the last layer's weight and bias."""
    if report.ok or report.missing or report.unexpected:
        return None
    last = [name for name, m in module.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
    keys = {f"{last}.weight", f"{last}.bias"}
    if {k for k, _, _ in report.mismatched} <= keys:
        for key, _, got in report.mismatched:
            if key.endswith("weight"):
                return int(got[0])
    return None


def _rebuild(name: str, num_classes: int, template: LoadedModel) -> LoadedModel:
    from torchvision.models import get_model

    if name == digits.NAME:
        raise ModelError(
            f"The digits CNN has 10 classes; this file's last layer has {num_classes}. Upload weights saved from "
            "featviz's digits CNN, or choose the architecture these weights belong to."
        )
    if is_registered(name):
        raise ModelError(f"This file's last layer has {num_classes} outputs, which {name} does not: upload weights "
                         f"saved from {name}.")
    if is_timm_name(name):
        module = build_timm(name, None, num_classes=num_classes)
    else:
        module = get_model(name, weights=None, num_classes=num_classes)
    return LoadedModel(
        name=name, module=module, preprocess=template.preprocess, weights=None, categories=(),
        mean=template.mean, std=template.std,
    )


def _same_as_bundled(state: Mapping[str, torch.Tensor]) -> bool:
    bundled, _ = digits.build(trained=True)
    return all(torch.equal(bundled.state_dict()[k], v) for k, v in state.items())
