"""Colour maps as 8-bit lookup tables, taken from Plotly's own scales so the image and its colour bar agree."""

from __future__ import annotations

from functools import cache

import numpy as np
from plotly.colors import get_colorscale, sample_colorscale

COLORMAPS: dict[str, str] = {
    "viridis": "Viridis",
    "magma": "Magma",
    "inferno": "Inferno",
    "plasma": "Plasma",
    "cividis": "Cividis",
    "turbo": "Turbo",
    "gray": "Greys_r",
    "hot": "Hot",
    "RdBu (diverging)": "RdBu_r",
}
"""Menu name -> Plotly scale. The diverging map suits the symmetric normalization (white = zero)."""

DIVERGING = "RdBu (diverging)"
LEVELS = 254
"""Colour levels in a grid image; two more palette entries are kept for gaps and non-finite values."""


@cache
def lookup_table(name: str, levels: int = LEVELS) -> np.ndarray:
    """(levels, 3) uint8 RGB colours, from the low end of the map to the high end."""
    scale = get_colorscale(_plotly_name(name))
    samples = sample_colorscale(scale, np.linspace(0.0, 1.0, levels).tolist(), colortype="tuple")
    return np.clip(np.round(np.asarray(samples, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


@cache
def plotly_colorscale(name: str, stops: int = 32) -> tuple[tuple[float, str], ...]:
    """The same map as a Plotly colorscale, for colour bars."""
    table = lookup_table(name)
    index = np.linspace(0, len(table) - 1, stops).round().astype(int)
    return tuple(
        (float(i / (stops - 1)), f"rgb({r},{g},{b})") for i, (r, g, b) in enumerate(table[index].tolist())
    )


def _plotly_name(name: str) -> str:
    try:
        return COLORMAPS[name]
    except KeyError:
        raise ValueError(f"Unknown colour map {name!r}; choose one of {', '.join(COLORMAPS)}.") from None
