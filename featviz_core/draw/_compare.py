"""Two maps of one layer drawn so that they can be compared: on one colour scale, and as their difference.

Two grids normalized separately each stretch their own range over the whole colour map, so one colour
means different activations on the two sides and a weak response looks as strong as a strong one. Here
the range is taken over both maps and given to both grids as one fixed raw range; the difference map then
shows, in raw units, where and how much the two differ.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional, Union

import numpy as np
import plotly.graph_objects as go
import torch

from ..activations._records import FeatureMap
from ..activations._shapes import channel_view, layout_of
from ..errors import FeatvizError
from ._channel_grid import channel_grid
from ._colormaps import DIVERGING
from ._grid import DISPLAY_WIDTH
from ._grid_settings import GridSettings
from ._normalize import normalize

MapLike = Union[FeatureMap, torch.Tensor, np.ndarray]

PER_CHANNEL_DESCRIPTION = (
    "per-channel min–max, separately in each image: every channel is stretched to its own minimum and maximum "
    "on each side, so the colours compare patterns within a channel, not strengths between the two images"
)


@dataclass(frozen=True)
class SharedScale:
    """How two grids of one layer are drawn side by side.

    ``settings`` draws both grids. When ``shared``, it is the ``"raw"`` normalization with the one range
    (``low`` … ``high``) that the chosen normalization gives over both maps together, so both colour bars
    are equal and one colour is one activation on both sides. Per-channel min–max has no such range:
    ``settings`` is then the chosen one and ``low``/``high`` are None. ``description`` says which, in words.
    """

    settings: GridSettings
    shared: bool
    low: Optional[float]
    high: Optional[float]
    description: str


def shared_scale(a: MapLike, b: MapLike, settings: Optional[GridSettings] = None) -> SharedScale:
    """The settings that draw ``a`` and ``b`` (one layer, two images) on one colour scale.

    Per-layer min–max, symmetric and percentile clip take their range over both maps at once; raw keeps a
    range given in ``settings`` and fills an open end from both maps. The range is computed by
    :func:`~featviz_core.draw._normalize.normalize` itself, over the maps as the grid draws them, so it is the
    range one grid of both would have.
    """
    settings = GridSettings.of(settings)
    if settings.normalize == "per_channel":
        return SharedScale(settings, False, None, None, PER_CHANNEL_DESCRIPTION)
    both = torch.cat([_maps(a).reshape(-1), _maps(b).reshape(-1)]).reshape(1, 1, -1)
    joint = normalize(both, settings.normalize, percentiles=settings.percentiles, vmin=settings.vmin,
                      vmax=settings.vmax)
    low, high = float(joint.low[0]), float(joint.high[0])
    drawn = replace(settings, normalize="raw", vmin=low, vmax=high)
    return SharedScale(drawn, True, low, high, f"one scale shared by both images, {joint.description}")


@dataclass(frozen=True)
class Difference:
    """``a − b`` for one layer and two images, in raw units, with how much each channel changed.

    ``tensor`` keeps the layer's own shape, so a grid reads it exactly as it reads either map. ``change``
    is each drawn channel's mean |a − b| (over finite values), ``bound`` the largest |a − b|.
    """

    tensor: torch.Tensor
    change: np.ndarray
    bound: float
    name: str = ""

    @property
    def identical(self) -> bool:
        """True when the two maps are equal wherever both are finite."""
        return self.bound == 0.0

    def most_changed(self, count: int = 5) -> list[int]:
        """Up to ``count`` channels with the largest mean |difference|, largest first; unchanged ones left out."""
        finite = np.nan_to_num(self.change, nan=0.0)
        ranked = np.argsort(-finite, kind="stable")[:count]
        return [int(channel) for channel in ranked if finite[channel] > 0]


def difference(a: MapLike, b: MapLike) -> Difference:
    """``a − b``, position by position, in float32.

    Raises :class:`~featviz_core.FeatvizError` when the two do not have the same shape (a model that sees
    each image at its own size), since there is then no position-by-position difference.
    """
    left, right = _tensor(a), _tensor(b)
    name = a.name if isinstance(a, FeatureMap) else b.name if isinstance(b, FeatureMap) else ""
    if left.shape != right.shape:
        layer = f"Layer {name}" if name else "The layer"
        raise FeatvizError(
            f"{layer} has shape {_shape(left)} for the first image and {_shape(right)} for the second, so the "
            "two cannot be subtracted position by position. Compare them side by side, or use two images "
            "that the model sees at one size."
        )
    delta = left - right
    maps = channel_view(delta, layout_of(a) or layout_of(b)).maps.abs()
    finite = torch.isfinite(maps)
    counts = finite.sum(dim=(1, 2))
    sums = torch.where(finite, maps, torch.zeros_like(maps)).sum(dim=(1, 2))
    change = torch.where(counts > 0, sums / counts.clamp(min=1), torch.nan).numpy()
    bound = float(maps[finite].max()) if bool(finite.any()) else 0.0
    return Difference(delta, change, bound, name)


def difference_grid(
    diff: Difference,
    settings: Optional[GridSettings] = None,
    *,
    title: Optional[str] = None,
    subtitle: Optional[str] = None,
    display_width: int = DISPLAY_WIDTH,
    value_name: str = "A − B",
) -> go.Figure:
    """The difference as a channel grid: symmetric around zero with the diverging map, its own colour bar.

    Red is where ``a`` is larger, blue where ``b`` is, white where they agree; the colour bar is ±the
    largest |a − b|, in raw units. Only ``settings.order`` is taken from ``settings``, so the tiles line up
    with the grids beside it.
    """
    order = None if settings is None else settings.order
    grid = GridSettings(normalize="symmetric", colormap=DIVERGING, order=order)
    heading = title or (f"{diff.name} · difference {value_name}" if diff.name else f"difference {value_name}")
    return channel_grid(diff.tensor, grid, title=heading, subtitle=subtitle, display_width=display_width,
                        value_name=value_name)


def _tensor(fmap: MapLike) -> torch.Tensor:
    tensor = fmap.tensor if isinstance(fmap, FeatureMap) else torch.as_tensor(fmap)
    return tensor.detach().to("cpu", torch.float32)


def _maps(fmap: MapLike) -> torch.Tensor:
    """The (C, H, W) maps a grid draws of ``fmap``."""
    return channel_view(_tensor(fmap), layout_of(fmap)).maps


def _shape(tensor: torch.Tensor) -> str:
    return "×".join(str(size) for size in tensor.shape) or "a single number"
