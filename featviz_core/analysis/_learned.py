"""What really separates a trained layer from an untrained one, in three numbers.

Looking at the maps is not enough: random filters on a smooth picture (a digit) give smooth maps that look
much like a trained layer's, and the noise measure may even flag more trained channels than untrained ones.
What does separate them, measured on the digits model for every sample digit (``tests/test_learned.py``):

- **filter structure**: neighbouring weights inside a trained filter are alike (strokes and edges), where a
  freshly initialised filter is white noise (about 0);
- **redundancy**: an untrained layer's channels are blurred copies of one another, a trained layer's
  channels each pick out something different, so their maps correlate less;
- **inactive share**: trained channels are selective, silent (≤ 0, what a ReLU zeroes) over more of the
  picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from ..activations._records import Capture
from ..draw._inspect_layer import conv_module
from ..models._load import LoadedModel

EXPLANATIONS = {
    "filter_structure": "how alike neighbouring weights inside a filter are: learned filters are strokes and "
    "edges (clearly above 0), random ones white noise (about 0)",
    "redundancy": "how alike the channels' maps are (mean |correlation|): random filters make blurred copies of "
    "one picture, learned ones pick out different things",
    "inactive": "share of values at or below zero (what a ReLU silences): learned channels are selective",
}


@dataclass(frozen=True)
class LayerSigns:
    """The three measures for one layer; ``filter_structure`` is None where no convolution feeds it."""

    filter_structure: Optional[float]
    redundancy: float
    inactive: float
    filters_of: Optional[str]
    """The convolution whose filters ``filter_structure`` measures (the layer itself, or the one feeding it)."""


def filter_structure(conv: nn.Module) -> float:
    """Correlation between horizontally and vertically neighbouring weights over all of a conv's filters."""
    weight = conv.weight.detach().double()
    kernels = weight.reshape(-1, weight.shape[-2], weight.shape[-1])
    left = torch.cat([kernels[:, :, :-1].reshape(-1), kernels[:, :-1, :].reshape(-1)])
    right = torch.cat([kernels[:, :, 1:].reshape(-1), kernels[:, 1:, :].reshape(-1)])
    if left.numel() < 2:
        return 0.0
    return float(torch.corrcoef(torch.stack([left, right]))[0, 1].nan_to_num(0.0))


def channel_redundancy(maps: torch.Tensor) -> float:
    """Mean absolute correlation between every two channels' maps (channels that never vary are left out)."""
    flat = maps.reshape(maps.shape[0], -1).double()
    flat = flat - flat.mean(dim=1, keepdim=True)
    norms = flat.norm(dim=1)
    flat = flat[norms > 1e-12] / norms[norms > 1e-12, None]
    k = flat.shape[0]
    if k < 2:
        return 0.0
    return float(((flat @ flat.T).abs().sum() - k) / (k * (k - 1)))


def feeding_conv(model: LoadedModel, captured: Capture, layer: str) -> Optional[str]:
    """The layer itself when it is a convolution, else the last convolution captured before it."""
    feeding = None
    for name in captured:
        if conv_module(model, name) is not None:
            feeding = name
        if name == layer:
            return feeding
    return None


def layer_signs(model: LoadedModel, captured: Capture, layer: str) -> LayerSigns:
    """The three measures for ``layer`` of ``captured`` (a capture of ``model``)."""
    values = captured[layer].tensor
    maps = values if values.dim() >= 2 else values.reshape(-1, 1)
    conv = feeding_conv(model, captured, layer)
    return LayerSigns(
        filter_structure=filter_structure(conv_module(model, conv)) if conv else None,
        redundancy=channel_redundancy(maps) if values.dim() >= 2 else 0.0,
        inactive=float((values <= 0).float().mean()),
        filters_of=conv,
    )
