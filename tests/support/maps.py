"""Comparing captured layers in tests: the same stored values, scale, names and exact statistics."""

from __future__ import annotations

import torch
import torchvision

import featviz_core as fv

STATISTICS = ("dead", "constant", "noise_like", "mean", "std", "max", "min", "sparsity", "argmax_x", "argmax_y",
              "hf_energy")


def same_map(a: fv.FeatureMap, b: fv.FeatureMap) -> bool:
    """Whether two cached layers are the same: stored values bit for bit (dtype and scale too), name, call, note,
    input shape, layout, every channel statistic and the layer's values."""
    return (a.scale == b.scale and a.stored.dtype == b.stored.dtype and torch.equal(a.stored, b.stored)
            and (a.name, a.call, a.note, a.input_shape, a.layout) == (b.name, b.call, b.note, b.input_shape, b.layout)
            and all(getattr(a.stats.channels, f).tobytes() == getattr(b.stats.channels, f).tobytes()
                    for f in STATISTICS)
            and a.stats.values == b.stats.values)


def untrained_and_input(name: str, side: int = 96) -> tuple[torch.nn.Module, torch.Tensor]:
    """A torchvision model with seeded random weights, in eval mode, and a seeded random (3, side, side) input."""
    torch.manual_seed(0)
    return torchvision.models.get_model(name, weights=None).eval(), torch.randn(3, side, side)
