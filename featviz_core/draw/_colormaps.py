"""Colour maps as 8-bit lookup tables, taken from Plotly's own scales so the image and its colour bar agree,
and the grey drawn around tiles so that each map's brightest and darkest colours stay visible."""

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
MIN_SURROUND_CONTRAST = 3.0
"""Least contrast ratio (WCAG 2.1, the 3:1 asked of graphical objects) between the grey around the tiles and
each colour map's darkest, brightest, lowest and highest colour."""


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


def relative_luminance(rgb) -> float:
    """WCAG 2.1 relative luminance of an sRGB colour given as 0–255 components: 0 for black, 1 for white."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(linear @ np.array([0.2126, 0.7152, 0.0722]))


def contrast_ratio(a, b) -> float:
    """WCAG 2.1 contrast ratio of two sRGB colours, from 1 (the same) to 21 (black on white)."""
    low, high = sorted((relative_luminance(a), relative_luminance(b)))
    return (high + 0.05) / (low + 0.05)


def key_colours(name: str) -> np.ndarray:
    """(4, 3) uint8: the map's darkest and brightest colour, and its colours for the lowest and highest value.

    These are what must never vanish into the background: the highest value of ``hot`` and ``gray`` is
    white, the lowest of ``magma`` black, and ``turbo`` ends in a dark red that is not its darkest colour.
    """
    table = lookup_table(name)
    luminance = [relative_luminance(colour) for colour in table]
    return table[[int(np.argmin(luminance)), int(np.argmax(luminance)), 0, len(table) - 1]]


@cache
def surround(name: str) -> tuple[int, int, int]:
    """The neutral grey drawn around each tile (gaps, channel-number strips, the mosaic's border).

    A white page hides the white top of ``hot`` and ``gray``, a black one the bottom of ``magma``; the grey
    here is chosen per map: both ends at least :data:`MIN_SURROUND_CONTRAST` from it, and the smallest
    contrast with all four :func:`key_colours` as large as it can be (3.4–4.6 for the maps offered; 2.99 for
    the bright middle of ``turbo``, whose dark-red top rules out a lighter grey). Channel numbers on it are
    drawn in :func:`label_colour`.
    """
    colours = key_colours(name)
    greys = [(g, g, g) for g in range(256)]
    ends_apart = [grey for grey in greys if min(contrast_ratio(grey, c) for c in colours[2:]) >= MIN_SURROUND_CONTRAST]
    return max(ends_apart or greys, key=lambda grey: min(contrast_ratio(grey, c) for c in colours))


@cache
def label_colour(name: str) -> tuple[int, int, int]:
    """Black or white, whichever stands out more from :func:`surround` (at least 4.5:1, as text needs)."""
    grey = surround(name)
    return max(((0, 0, 0), (255, 255, 255)), key=lambda colour: contrast_ratio(grey, colour))


def _plotly_name(name: str) -> str:
    try:
        return COLORMAPS[name]
    except KeyError:
        raise ValueError(f"Unknown colour map {name!r}; choose one of {', '.join(COLORMAPS)}.") from None
