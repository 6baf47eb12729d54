"""What a browser needs to redraw a grid figure for another normalization, colour map or channel order itself.

Through the server, a display change is a rerun, a new figure of up to 2 MB and Streamlit mounting it anew:
0.35–0.45 s in Chromium on a 2-core machine, most of it in the browser. None of it is needed to show the
change. Every normalization maps each channel's raw values to colour levels by an affine map and a clip, and
every channel order only moves tiles, so the picture can be redrawn from:

- each tile's levels under per-channel min–max (the figure's own palette picture when it is drawn so, else
  one more such picture drawn so) and each shown channel's raw minimum and maximum;
- the layer's range under every normalization (percentile clip and fixed range at the settings in use);
- the channels every other order would draw, with the rest of the view as it is
  (:func:`featviz_core.analysis._selection.orderings`);
- the mosaic's geometry, and for single values (bars) the values themselves.

The browser's picture matches the server's to within one of the 254 colour levels wherever the new range
holds the channel's own (per-layer min–max, symmetric, and clip or fixed ranges for the channels inside
them): a raw value is known to within half a per-channel level, never coarser than a level of a wider range.
A channel that reaches past a clip range (percentile, or a fixed range narrower than it) is drawn with its
levels coarser by that ratio, and where tiles are drawn reduced and a clip cuts through a block, the block's
mean is clipped after averaging instead of before. Either way the server's own figure, which follows a
moment later, replaces the redraw. The dashboard's side is
:mod:`featviz_ui.live_grid`.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Union

import numpy as np
import plotly.graph_objects as go
import torch

from ..activations._records import FeatureMap
from ..activations._shapes import view_of
from ._colormaps import COLORMAPS, LEVELS, label_colour, lookup_table, plotly_colorscale, surround
from ._grid import (
    NAN_RGB,
    VECTOR_NORMALIZATION,
    colour_scale,
    grid_geometry,
    label_fits,
    mosaic_png,
    png_data_uri,
    prepare_grid,
    text_sizes,
)
from ._grid_settings import GridSettings
from ._normalize import flat_level, value_ranges
from ._vector_figure import PER_CHANNEL_NOTE

MAX_LABEL_DIGITS = 6


def grid_preview(fmap: Union[FeatureMap, torch.Tensor, np.ndarray], figure: go.Figure, settings: GridSettings,
                 orders: Mapping[str, Sequence[int]], *, value_name: str = "activation") -> dict[str, Any]:
    """Everything the browser needs to redraw ``figure`` (built by :func:`featviz_core.channel_grid` from
    ``fmap`` and ``settings``, with the same ``value_name``) for another display, as plain JSON values.

    ``orders`` maps each order's key (:func:`featviz_core.analysis._selection.order_key`) to the channels it would draw.
    """
    meta = figure.layout.meta["featviz"]
    maps = view_of(fmap).maps
    shown = list(range(maps.shape[0])) if settings.order is None else list(settings.order)
    vector = meta["drawn_as"] == "bars"
    ranges = value_ranges(maps, percentiles=settings.percentiles, vmin=settings.vmin, vmax=settings.vmax)
    if vector:  # per-channel min–max means nothing for single values: they are drawn on the layer's range
        ranges["per_channel"] = ranges[VECTOR_NORMALIZATION]
    spec: dict[str, Any] = {
        "kind": meta["drawn_as"],
        "heading": meta["heading"],
        "normalization": meta["normalization"],
        "colormap": settings.colormap,
        "shown": shown,
        "orders": {key: list(channels) for key, channels in orders.items()},
        "scales": {
            mode: {
                "range": [_number(r.low[0]), _number(r.high[0])],  # per channel: unused, each channel's own
                "colorbar": [_number(v) if i < 2 else v for i, v in enumerate(colour_scale(r, value_name))],
                "flat": flat_level(r.mode),
                "drawn_as": r.mode,
            }
            for mode, r in ranges.items()
        },
    }
    if vector:
        spec["values"] = [_number(v) for v in maps.reshape(-1)[shown].tolist()]
        spec["note"] = PER_CHANNEL_NOTE  # shown under bars asked for per channel
        return spec
    own = ranges["per_channel"]  # each channel's own, for the channels shown below
    sizes = text_sizes(settings.large_text)
    _, h, w = maps.shape
    scale, block, layout = grid_geometry(shown, h, w, meta["display_width"], sizes)
    side = block * scale
    spec.update(
        low=[_number(v) for v in own.low[shown].tolist()],
        high=[_number(v) for v in own.high[shown].tolist()],
        # the figure's own picture holds these levels when it is drawn per channel; else the same palette PNG
        # drawn per channel (the browser reads its palette indices, not its colours)
        base=None if meta["normalization"] == "per_channel" else png_data_uri(mosaic_png(
            prepare_grid(fmap, replace(settings, normalize="per_channel")), layout, settings.colormap, scale)),
        geometry={
            "cols": layout.cols, "pad": layout.pad, "label": layout.label,
            "pitch": [layout.pitch_y, layout.pitch_x], "tile": [-(-h // scale), -(-w // scale)],
            "mosaic": [layout.mosaic_height, layout.mosaic_width],
            "hover": {"block": block, "pad": layout.pad // block, "label": layout.label // block,
                      "pitch": [layout.pitch_y // block, layout.pitch_x // block],
                      "tile": [math.ceil(h / side), math.ceil(w / side)]},
            "label_digits": max((n for n in range(1, MAX_LABEL_DIGITS + 1)
                                 if label_fits("0" * n, layout, meta["display_width"], sizes.label)), default=0),
        },
    )
    return spec


def palettes() -> dict[str, dict[str, Any]]:
    """Every colour map as the browser draws it: the grid's palette (the levels, then the colour of non-finite
    values, then the surround), the channel numbers' colour and the colour bar's scale."""
    return {"levels": LEVELS, "maps": {
        name: {
            "palette": base64.b64encode(np.vstack([lookup_table(name), NAN_RGB, surround(name)])
                                        .astype(np.uint8).tobytes()).decode("ascii"),
            "label": "rgb({},{},{})".format(*label_colour(name)),
            "surround": "rgb({},{},{})".format(*surround(name)),
            "colorscale": [list(stop) for stop in plotly_colorscale(name)],
        }
        for name in COLORMAPS
    }}


def preview_nbytes(spec: Mapping[str, Any]) -> int:
    """About what a preview holds, for a byte-bounded cache: its picture and its lists of numbers."""
    numbers = len(spec["shown"]) * 4 + sum(len(channels) for channels in spec["orders"].values())
    return len(spec.get("base") or "") + 24 * numbers + 4096


def _number(value: float) -> float | None:
    """A JSON number; None for what JSON cannot hold (NaN, infinities)."""
    value = float(value)
    return value if math.isfinite(value) else None
