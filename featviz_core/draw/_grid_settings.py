"""How a layer's channels are drawn, as one frozen value: the screen grid, the PNG export and the caches
all take it, so the list of display options exists once and a cache can use it as its key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Optional

from ._colormaps import COLORMAPS
from ._normalize import DEFAULT_PERCENTILES, NORMALIZATIONS


@dataclass(frozen=True)
class GridSettings:
    """Normalization, colour map, which channels in what order, and the text size.

    ``percentiles`` is used by the ``"percentile"`` normalization, ``vmin``/``vmax`` by ``"raw"`` (None:
    the layer's own minimum or maximum). ``order`` picks and orders channels (None: all, by index).
    ``large_text`` is the presentation setting: channel numbers, titles and scales drawn large enough to read
    on a projector (on screen and in the PNG).
    Hashable, so it can be part of a cache key; unknown normalizations and colour maps are refused here.

    Example::

        >>> import featviz_core as fv
        >>> settings = fv.GridSettings(normalize="symmetric", colormap="magma")
        >>> settings.describe()
        'symmetric around zero · magma'
        >>> settings.with_order([3, 0]).order
        (3, 0)
    """

    normalize: str = "per_channel"
    colormap: str = "viridis"
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES
    vmin: Optional[float] = None
    vmax: Optional[float] = None
    order: Optional[tuple[int, ...]] = None
    large_text: bool = False

    def __post_init__(self) -> None:
        if self.normalize not in NORMALIZATIONS:
            raise ValueError(f"Unknown normalization {self.normalize!r}; choose one of {', '.join(NORMALIZATIONS)}.")
        if self.colormap not in COLORMAPS:
            raise ValueError(f"Unknown colour map {self.colormap!r}; choose one of {', '.join(COLORMAPS)}.")
        object.__setattr__(self, "percentiles", tuple(float(p) for p in self.percentiles))
        if self.order is not None:
            object.__setattr__(self, "order", tuple(int(i) for i in self.order))
        object.__setattr__(self, "large_text", bool(self.large_text))

    def with_order(self, order: Optional[Sequence[int]]) -> GridSettings:
        return replace(self, order=None if order is None else tuple(order))

    def describe(self) -> str:
        """How the colours were made, for captions: ``per channel min–max · viridis``."""
        return f"{NORMALIZATIONS[self.normalize].lower()} · {self.colormap}"

    @classmethod
    def of(cls, settings: Optional[GridSettings] = None, **options: Any) -> GridSettings:
        """``settings`` with ``options`` (any of the fields above) changed; the defaults when None."""
        if settings is None:
            return cls(**options)
        return replace(settings, **options) if options else settings
