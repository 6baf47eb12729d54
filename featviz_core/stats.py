"""Per-channel statistics and flags, and one summary row per layer: which channels matter, which are dead.

Noise-like is measured by high-frequency energy. Take the power of the map's 2-D Fourier transform,
without the mean; the share of it at frequencies above a quarter cycle per pixel in either axis (the
upper half of the band up to Nyquist) is the map's high-frequency share. White noise spreads its power
evenly over all frequencies, so its share is simply the fraction of frequency bins in that region
(0.68 for 16×16 maps, 0.82 for 7×7). ``hf_energy`` is the map's share divided by that white-noise share:
1 means as rough as white noise, 0 means all power at low frequencies (edges, blobs, anything wider than
a couple of pixels). A channel is noise-like above :data:`NOISE_THRESHOLD`. The measure needs maps of at
least 5×5 and some variance; elsewhere it is NaN and never flagged. Why this measure: it asks directly
whether neighbouring pixels move together, it does not depend on the channel's scale, and dividing by
the white-noise share makes the threshold mean the same for every map size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np
import torch
from torch import nn

from .capture import Capture, FeatureMap
from .models import LoadedModel
from .shapes import channel_view

NOISE_THRESHOLD = 0.8
"""hf_energy above this is noise-like (white noise: about 1; structured maps: near 0)."""
MIN_NOISE_SIZE = 5
STAT_COLUMNS: dict[str, str] = {
    "mean": "Mean",
    "max": "Max",
    "std": "Std",
    "sparsity": "Sparsity (fraction of zeros)",
    "hf_energy": "High-frequency energy (noise measure)",
}
"""Statistics the grid can be sorted by, with menu labels."""


@dataclass(frozen=True)
class ChannelStats:
    """One value per channel for each statistic (arrays of length C) and the flags derived from them."""

    mean: np.ndarray
    max: np.ndarray
    min: np.ndarray
    std: np.ndarray  # population standard deviation (ddof=0)
    sparsity: np.ndarray  # fraction of values exactly zero
    argmax_y: np.ndarray
    argmax_x: np.ndarray
    hf_energy: np.ndarray  # high-frequency share / white noise's share; NaN where undefined
    dead: np.ndarray  # every value exactly zero
    constant: np.ndarray  # one value everywhere, but not zero
    noise_like: np.ndarray

    @property
    def channels(self) -> int:
        return len(self.mean)

    def rows(self) -> list[dict]:
        """One dict per channel, for tables."""
        return [self.row(c) for c in range(self.channels)]

    def row(self, c: int) -> dict:
        """One channel's figures."""
        return {
                "channel": c,
                "mean": float(self.mean[c]),
                "max": float(self.max[c]),
                "min": float(self.min[c]),
                "std": float(self.std[c]),
                "sparsity": float(self.sparsity[c]),
                "max_at": f"({int(self.argmax_y[c])}, {int(self.argmax_x[c])})",
                "hf_energy": None if np.isnan(self.hf_energy[c]) else float(self.hf_energy[c]),
                "dead": bool(self.dead[c]),
                "constant": bool(self.constant[c]),
                "noise_like": bool(self.noise_like[c]),
            }

    def order(self, by: str = "index", descending: bool = True, top: int | None = None,
              hide_dead: bool = False) -> list[int]:
        """Channel indices sorted by a statistic (NaN last), optionally without dead ones and cut to ``top``."""
        if by == "index":
            order = list(range(self.channels))
        else:
            if by not in STAT_COLUMNS:
                raise ValueError(f"Cannot sort by {by!r}; choose index or one of {', '.join(STAT_COLUMNS)}.")
            values = np.asarray(getattr(self, by), dtype=np.float64)
            key = np.where(np.isnan(values), -np.inf if descending else np.inf, values)
            order = np.argsort(-key if descending else key, kind="stable").tolist()
        if hide_dead:
            order = [c for c in order if not self.dead[c]]
        return order[:top] if top else order

    def summary(self) -> str:
        """The layer in one line: how many channels are dead, constant or noise-like; mean sparsity."""
        return (
            f"{self.channels} channels · {int(self.dead.sum())} dead · {int(self.constant.sum())} constant · "
            f"{int(self.noise_like.sum())} noise-like · mean sparsity {float(self.sparsity.mean()):.0%}"
        )


def channel_stats(fmap: Union[FeatureMap, torch.Tensor, np.ndarray]) -> ChannelStats:
    """Statistics of every channel of a captured map or a plain (C, H, W) tensor (other shapes as in the grid).

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> stats = fv.channel_stats(maps["relu1"])
        >>> stats.channels, stats.order("max", top=3)
        (32, [...])
    """
    tensor = fmap.tensor if isinstance(fmap, FeatureMap) else torch.as_tensor(fmap)
    maps = channel_view(tensor).maps.to(torch.float64)
    c, h, w = maps.shape
    flat = maps.reshape(c, -1)
    low, high = flat.amin(dim=1), flat.amax(dim=1)
    position = flat.argmax(dim=1)
    dead = (flat == 0).all(dim=1)
    constant = (low == high) & ~dead
    hf = _high_frequency_energy(maps)
    return ChannelStats(
        mean=flat.mean(dim=1).numpy(),
        max=high.numpy(),
        min=low.numpy(),
        std=flat.std(dim=1, correction=0).numpy(),
        sparsity=(flat == 0).double().mean(dim=1).numpy(),
        argmax_y=(position // w).numpy(),
        argmax_x=(position % w).numpy(),
        hf_energy=hf,
        dead=dead.numpy(),
        constant=constant.numpy(),
        noise_like=np.nan_to_num(hf, nan=0.0) > NOISE_THRESHOLD,
    )


def _high_frequency_energy(maps: torch.Tensor) -> np.ndarray:
    c, h, w = maps.shape
    if h < MIN_NOISE_SIZE or w < MIN_NOISE_SIZE:
        return np.full(c, np.nan)
    power = torch.fft.fft2(maps - maps.mean(dim=(1, 2), keepdim=True)).abs() ** 2
    fy = torch.fft.fftfreq(h, dtype=torch.float64).abs().view(-1, 1)
    fx = torch.fft.fftfreq(w, dtype=torch.float64).abs().view(1, -1)
    high = (fy > 0.25) | (fx > 0.25)
    white_share = (high.sum().item()) / (h * w - 1)  # the DC bin is never "high"
    total = power.sum(dim=(1, 2))
    share = (power * high).sum(dim=(1, 2)) / torch.where(total > 0, total, torch.ones_like(total))
    score = share / white_share
    return torch.where(total > 1e-12 * h * w, score, torch.full_like(score, float("nan"))).numpy()


@dataclass(frozen=True)
class LayerSummary:
    """One row of the model overview."""

    name: str
    module_type: str
    shape: tuple[int, ...]
    parameters: int
    sparsity: float
    dead_channels: int
    channels: int
    mean: float
    depth: int  # position in the forward pass order of the capture


def layer_summary(model: Union[LoadedModel, nn.Module], captured: Capture) -> list[LayerSummary]:
    """Every captured layer: type, output shape, own parameters (recursive), sparsity, dead channels, mean.

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> row = fv.layer_summary(model, maps)[0]
        >>> row.name, row.shape, row.parameters
        ('conv1', (32, 26, 26), 320)
    """
    module = model.module if isinstance(model, LoadedModel) else model
    modules = dict(module.named_modules())
    rows = []
    for depth, (key, fmap) in enumerate(captured.items()):
        tensor = fmap.tensor.float()
        sub = modules.get(fmap.module_name)
        parameters = sum(p.numel() for p in sub.parameters()) if sub is not None and fmap.call == 1 else 0
        maps = channel_view(tensor).maps
        dead = int((maps.reshape(maps.shape[0], -1) == 0).all(dim=1).sum()) if maps.shape[0] > 1 else 0
        rows.append(
            LayerSummary(
                name=key, module_type=fmap.module_type, shape=fmap.shape, parameters=parameters,
                sparsity=float((tensor == 0).float().mean()) if tensor.numel() else 0.0,
                dead_channels=dead, channels=int(maps.shape[0]),
                mean=float(tensor.mean()) if tensor.numel() else 0.0, depth=depth,
            )
        )
    return rows

