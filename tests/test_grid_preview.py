"""What the browser redraws a grid from (featviz_core.draw._grid_preview) describes the figure the server draws.

The browser's side (featviz_ui/live_grid.js) is checked against the server's figures in Chromium by
tests/test_browser_live_grid.py; here, without a browser: every range, order, level and position the data
carries is the one the server's figure for that display uses, and the arithmetic the browser does with them
(a raw value from a per-channel level, then its level under another normalization) lands within one colour
level of the server's picture for every normalization, NaN and constant channels included.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

import featviz_core as fv
from featviz_core.activations._records import STAT_COLUMNS
from featviz_core.analysis._selection import order_key, orderings, select_channels
from featviz_core.draw._colormaps import COLORMAPS, LEVELS
from featviz_core.draw._grid import GAP_INDEX, NAN_INDEX, grid_geometry, palette, prepare_grid, text_sizes
from featviz_core.draw._grid_preview import grid_preview, palettes, preview_nbytes
from featviz_core.draw._normalize import NORMALIZATIONS


def layer(channels: int = 12, size: int = 20, seed: int = 0) -> torch.Tensor:
    """Maps with the awkward cases: a constant channel, one with NaN, one far off the others' scale."""
    maps = torch.randn(channels, size, size, generator=torch.Generator().manual_seed(seed))
    maps[1] = 0.25
    maps[2, 3:6, 4:9] = float("nan")
    maps[3] *= 50.0
    return maps


def spec_for(maps, settings: fv.GridSettings) -> tuple[dict, object]:
    figure = fv.channel_grid(maps, settings)
    stats = fv.channel_stats(maps)
    return grid_preview(maps, figure, settings, orderings(stats)), figure


def mosaic_levels(uri: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


def browser_levels(spec: dict, base: np.ndarray, mode: str) -> np.ndarray:
    """The browser's arithmetic (levelMap in live_grid.js), in the server's own order of tiles."""
    g, scale = spec["geometry"], spec["scales"][mode]
    out = base.copy()
    lo, hi = scale["range"]
    for position, _ in enumerate(spec["shown"]):
        top = g["pad"] + position // g["cols"] * g["pitch"][0] + g["label"]
        left = g["pad"] + position % g["cols"] * g["pitch"][1]
        tile = base[top : top + g["tile"][0], left : left + g["tile"][1]].astype(np.float64)
        low, high = spec["low"][position] or 0.0, spec["high"][position] or 0.0
        levels = tile < LEVELS
        if scale["drawn_as"] != "per_channel":
            raw = low + tile / (LEVELS - 1) * (high - low)
            value = np.clip((raw - lo) / (hi - lo), 0, 1) if hi > lo else np.full_like(raw, scale["flat"])
            tile = np.where(levels, np.rint(value * (LEVELS - 1)), tile)
        out[top : top + g["tile"][0], left : left + g["tile"][1]] = tile
    return out


def coarseness(spec: dict, base: np.ndarray, mode: str) -> np.ndarray:
    """Per mosaic pixel, how many of the new range's levels one per-channel level spans (below 1 where the
    range holds the channel's own)."""
    g, (lo, hi) = spec["geometry"], spec["scales"][mode]["range"]
    out = np.zeros(base.shape)
    for position, _ in enumerate(spec["shown"]):
        top = g["pad"] + position // g["cols"] * g["pitch"][0] + g["label"]
        left = g["pad"] + position % g["cols"] * g["pitch"][1]
        span = (spec["high"][position] or 0.0) - (spec["low"][position] or 0.0)
        out[top : top + g["tile"][0], left : left + g["tile"][1]] = span / (hi - lo) if hi > lo else 0.0
    return out


@pytest.mark.parametrize("mode", list(NORMALIZATIONS))
def test_the_browser_arithmetic_lands_within_one_level_of_the_server_picture(mode):
    maps = layer()
    spec, _ = spec_for(maps, fv.GridSettings())
    base = mosaic_levels(fv.channel_grid(maps).data[0].source)
    server = mosaic_levels(fv.channel_grid(maps, normalize=mode).data[0].source).astype(int)
    drawn = browser_levels(spec, base, mode).astype(int)
    special = server >= LEVELS
    assert (drawn[special] == server[special]).all()  # gaps and non-finite values exactly
    ratio = coarseness(spec, base, mode) if mode != "per_channel" else np.zeros(base.shape)
    inside = ratio <= 1  # the new range holds the channel's own: within one level
    assert np.abs(drawn - server)[inside].max() <= 1
    # a channel that reaches past a clip range: within half a per-channel level, in the new range's levels
    assert (np.abs(drawn - server) <= 1 + np.ceil(ratio / 2)).all()
    assert (drawn == server).mean() > 0.8
    if mode in ("per_layer", "symmetric", "raw", "per_channel"):  # ranges that hold every channel
        assert inside.all()


def test_the_levels_sent_are_the_per_channel_picture_whatever_the_figure_shows():
    maps = layer()
    own = mosaic_levels(fv.channel_grid(maps).data[0].source)
    spec, _ = spec_for(maps, fv.GridSettings())
    assert spec["base"] is None  # the figure's own picture holds them
    spec, _ = spec_for(maps, fv.GridSettings(normalize="symmetric", colormap="magma"))
    assert (mosaic_levels(spec["base"]) == own).all()
    assert {NAN_INDEX, GAP_INDEX} <= set(np.unique(own).tolist())


def test_every_range_and_colour_bar_is_the_one_the_server_draws_with():
    maps = layer()
    settings = fv.GridSettings(percentiles=(5.0, 95.0), vmin=-1.0, vmax=2.0)
    spec, _ = spec_for(maps, settings)
    for mode in NORMALIZATIONS:
        figure = fv.channel_grid(maps, fv.GridSettings.of(settings, normalize=mode))
        bar = next(trace for trace in figure.data if trace.name == "scale").marker
        assert spec["scales"][mode]["colorbar"] == [bar.cmin, bar.cmax, bar.colorbar.title.text]
        assert spec["scales"][mode]["drawn_as"] == figure.layout.meta["featviz"]["normalization"]
        normalized = prepare_grid(maps, fv.GridSettings.of(settings, normalize=mode)).normalized
        if mode != "per_channel":
            assert spec["scales"][mode]["range"] == [normalized.low[0], normalized.high[0]]
    per_channel = prepare_grid(maps, settings).normalized
    assert spec["low"] == per_channel.low.tolist() and spec["high"] == per_channel.high.tolist()
    json.dumps(spec, allow_nan=False)  # what the browser receives is plain JSON


def test_each_order_is_what_the_sidebar_would_select():
    maps = torch.rand(300, 3, 3, generator=torch.Generator().manual_seed(1))
    stats = fv.channel_stats(maps)
    orders = orderings(stats)
    assert set(orders) == {"index"} | {order_key(by, d) for by in STAT_COLUMNS for d in (True, False)}
    for by in STAT_COLUMNS:
        assert orders[order_key(by, False)] == select_channels(stats, by, descending=False).channels
    # the readable default of a large layer keeps its 64 most active channels whatever the order
    assert len({frozenset(channels) for channels in orders.values()}) == 1
    paged = orderings(stats, show="all", page=1)
    assert paged["index"] == tuple(range(256, 300))


def test_the_geometry_places_every_tile_label_and_hover_cell_as_the_figure_does():
    maps = torch.randn(40, 30, 30, generator=torch.Generator().manual_seed(2))
    order = list(range(39, -1, -1))
    settings = fv.GridSettings(order=order)
    spec, figure = spec_for(maps, settings)
    meta, g = figure.layout.meta["featviz"], spec["geometry"]
    assert meta["first_tile"] == [g["pad"] + g["label"], g["pad"]] and meta["pitch"] == g["pitch"]
    assert meta["columns"] == g["cols"] and meta["tile_shape"] == g["tile"] and meta["channels"] == order
    labels = next(trace for trace in figure.data if trace.name == "channel numbers")
    placed = [(float(x), float(y), t) for x, y, t in zip(labels.x, labels.y, labels.text, strict=True)]
    expected = [(g["pad"] + p % g["cols"] * g["pitch"][1] - 0.5,
                 g["pad"] + p // g["cols"] * g["pitch"][0] + g["label"] / 2 - 0.5, str(c))
                for p, c in enumerate(order) if len(str(c)) <= g["label_digits"]]
    assert placed == expected
    hover = next(trace for trace in figure.data if trace.name == "values")
    h = g["hover"]
    for p, channel in enumerate(order):
        top = h["pad"] + p // g["cols"] * h["pitch"][0] + h["label"]
        left = h["pad"] + p % g["cols"] * h["pitch"][1]
        block = np.asarray(hover.customdata)[top : top + h["tile"][0], left : left + h["tile"][1]]
        assert (block[..., 0] == channel).all()


def test_single_values_carry_their_values_and_the_note_for_per_channel():
    maps = torch.tensor([3.0, -1.0, float("inf"), 0.5])
    spec, figure = spec_for(maps, fv.GridSettings(normalize="symmetric"))
    assert spec["kind"] == "bars" and spec["values"] == [3.0, -1.0, None, 0.5]
    assert spec["scales"]["per_channel"]["drawn_as"] == "per_layer" and "does not apply" in spec["note"]
    json.dumps(spec, allow_nan=False)


def test_palettes_hold_every_colour_map_as_the_server_draws_it():
    tables = palettes()
    assert tables["levels"] == LEVELS and set(tables["maps"]) == set(COLORMAPS)
    for name, table in tables["maps"].items():
        colours = np.frombuffer(base64.b64decode(table["palette"]), np.uint8).reshape(-1, 3)
        assert (colours == palette(name)).all()


def test_a_preview_is_sized_for_the_cache():
    spec, _ = spec_for(layer(), fv.GridSettings(normalize="per_layer"))
    assert preview_nbytes(spec) >= len(spec["base"])
    assert grid_geometry(spec["shown"], 20, 20, 900, text_sizes(False))[2].cols == spec["geometry"]["cols"]
