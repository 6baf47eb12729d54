"""Comparing captured layers in tests: the same stored values, scale, names and exact statistics."""

from __future__ import annotations

import torch

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
