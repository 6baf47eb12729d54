"""Map raw activations to [0, 1] for colouring, and keep the raw range so the colour bar can state it.

Activations of different channels are not on a common scale, so the choice of normalization changes what
a grid says. Every mode here records which raw value lands at each end of the colour map.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional, Union

import numpy as np
import torch

NORMALIZATIONS: dict[str, str] = {
    "per_channel": "Per channel min–max",
    "per_layer": "Per layer min–max",
    "symmetric": "Symmetric around zero",
    "percentile": "Percentile clip (per layer)",
    "raw": "Raw values (fixed range)",
}
"""Mode name -> label for menus."""

DEFAULT_PERCENTILES = (1.0, 99.0)


@dataclass(frozen=True)
class ValueRange:
    """Which raw value each channel draws at either end of the colour map, and how that was decided."""

    low: np.ndarray  # (C,) raw value drawn as 0
    high: np.ndarray  # (C,) raw value drawn as 1
    mode: str
    description: str  # one line for captions and the colour bar title

    @property
    def shared_scale(self) -> bool:
        """True when all channels use one raw range, so a colour bar in raw units is meaningful."""
        return self.mode != "per_channel"


@dataclass(frozen=True)
class Normalized(ValueRange):
    """``values`` in [0, 1] (NaN where the activation was not finite), and the raw range behind them."""

    values: np.ndarray = field(kw_only=True)  # (C, H, W) float32


def normalize(
    maps: Union[torch.Tensor, np.ndarray],
    mode: str = "per_channel",
    *,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
    vmin: Optional[float] = None,
    vmax: Optional[float] = None,
) -> Normalized:
    """Normalize (C, H, W) ``maps`` with one of :data:`NORMALIZATIONS`.

    ``percentiles`` applies to "percentile"; ``vmin``/``vmax`` fix the range of "raw" (each defaults to the
    layer's own minimum or maximum).
    """
    clean, finite, all_finite = _clean_maps(maps)
    low, high, description = _range(clean, finite, all_finite, mode, percentiles, vmin, vmax)
    span = (high - low).reshape(-1, 1, 1)
    scaled = (clean - low.reshape(-1, 1, 1)) / torch.where(span > 0, span, torch.ones_like(span))
    scaled = torch.where(span > 0, scaled, _flat_value(mode, clean)).clamp_(0.0, 1.0)
    if not all_finite:
        scaled = torch.where(finite, scaled, torch.nan)
    return Normalized(low.numpy(), high.numpy(), mode, description, values=scaled.numpy())


def value_ranges(
    maps: Union[torch.Tensor, np.ndarray],
    modes: Sequence[str] = tuple(NORMALIZATIONS),
    *,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
    vmin: Optional[float] = None,
    vmax: Optional[float] = None,
) -> dict[str, ValueRange]:
    """The raw range :func:`normalize` would map to [0, 1] for each channel under each of ``modes``, without
    normalizing (the maps are read once): what a browser needs to redraw a grid under another mode
    (:mod:`featviz_core.draw._grid_preview`)."""
    clean = _clean_maps(maps)
    ranges = {}
    for mode in modes:
        low, high, description = _range(*clean, mode, percentiles, vmin, vmax)
        ranges[mode] = ValueRange(low.numpy(), high.numpy(), mode, description)
    return ranges


def flat_level(mode: str) -> float:
    """Where a channel whose range is empty is drawn: at the bottom, or mid-scale when symmetric."""
    return 0.5 if mode == "symmetric" else 0.0


def _clean_maps(maps: Union[torch.Tensor, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """(float32 maps with NaN wherever a value is not finite, where they are finite, whether all are)."""
    x = torch.as_tensor(maps).detach().to("cpu", torch.float32)
    if x.dim() != 3:
        raise ValueError(f"normalize() expects (C, H, W) maps, got shape {tuple(x.shape)}")
    finite = torch.isfinite(x)
    all_finite = bool(finite.all())
    return (x if all_finite else torch.where(finite, x, torch.nan)), finite, all_finite


def _range(clean: torch.Tensor, finite: torch.Tensor, all_finite: bool, mode: str, percentiles: tuple[float, float],
           vmin: Optional[float], vmax: Optional[float]) -> tuple[torch.Tensor, torch.Tensor, str]:
    """(low, high) per channel and the description, for ``clean`` maps (NaN where not finite)."""
    if mode not in NORMALIZATIONS:
        raise ValueError(f"Unknown normalization {mode!r}; choose one of {', '.join(NORMALIZATIONS)}.")
    channels = clean.shape[0]
    if mode == "per_channel":
        flat = clean.reshape(channels, -1)
        return (_nan_reduce(flat, torch.amin), _nan_reduce(flat, torch.amax),
                "per-channel min–max: 0 = each channel's minimum, 1 = its maximum")
    values = clean[finite] if not all_finite else clean.reshape(-1)
    layer_min = float(values.min()) if values.numel() else 0.0
    layer_max = float(values.max()) if values.numel() else 0.0
    if mode == "per_layer":
        lo, hi = layer_min, layer_max
        description = f"per-layer min–max: {lo:.4g} … {hi:.4g}"
    elif mode == "symmetric":
        bound = max(abs(layer_min), abs(layer_max))
        lo, hi = -bound, bound
        description = f"symmetric around zero: ±{bound:.4g} (middle colour = 0)"
    elif mode == "percentile":
        p_low, p_high = sorted(percentiles)
        if not 0.0 <= p_low < p_high <= 100.0:
            raise ValueError(f"Percentiles must satisfy 0 ≤ low < high ≤ 100, got {percentiles}.")
        lo, hi = _percentiles(values, p_low, p_high)
        description = f"percentile clip p{p_low:g}–p{p_high:g}: {lo:.4g} … {hi:.4g}"
    else:  # raw
        lo = layer_min if vmin is None else float(vmin)
        hi = layer_max if vmax is None else float(vmax)
        if hi < lo:
            lo, hi = hi, lo
        description = f"raw values, fixed range {lo:.4g} … {hi:.4g}"
    return torch.full((channels,), lo), torch.full((channels,), hi), description


def _nan_reduce(flat: torch.Tensor, reduce) -> torch.Tensor:
    """amin/amax per row ignoring NaN; an all-NaN row gives 0."""
    if not torch.isnan(flat).any():
        return reduce(flat, dim=1)
    fill = torch.inf if reduce is torch.amin else -torch.inf
    out = reduce(torch.nan_to_num(flat, nan=fill), dim=1)
    return torch.where(torch.isfinite(out), out, torch.zeros_like(out))


def _flat_value(mode: str, clean: torch.Tensor) -> torch.Tensor:
    return torch.full_like(clean, flat_level(mode))


def _percentiles(values: torch.Tensor, p_low: float, p_high: float) -> tuple[float, float]:
    if not values.numel():
        return 0.0, 0.0
    array = values.numpy()
    if array.size > 4_000_000:  # a strided sample keeps this fast and is exact enough for a colour range
        array = array[:: array.size // 2_000_000]
    low, high = np.percentile(array, [p_low, p_high])
    return float(low), float(high)
