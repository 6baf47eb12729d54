"""Every channel of a layer in one Plotly figure that stays fast at 2048 channels.

A subplot per channel costs seconds to build and more to draw (see ``bench/``), so the figure is built
from four traces whatever the channel count:

1. the mosaic: all tiles colour-mapped here and sent as one 8-bit palette PNG (an image trace), which is
   about a byte per pixel before compression and draws pixel-exact at any zoom;
2. a transparent heatmap over it that carries the raw values for hover (channel, position, value). It is
   pooled into k×k block means so that the whole figure stays near :data:`FIGURE_BUDGET` (2 MB): seven to
   ten bytes per pixel of hover data would otherwise outweigh the picture many times. The hover says when
   a value is a block mean;
3. the channel numbers as one text trace, in a strip above each tile;
4. an empty marker trace whose colour bar states the scale in raw units (or 0–1 per channel).
"""

from __future__ import annotations

import base64
import io
import math
from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from PIL import Image

from .capture import FeatureMap
from .colormaps import LEVELS, lookup_table, plotly_colorscale
from .grid_settings import GridSettings
from .normalize import Normalized
from .normalize import normalize as normalize_maps
from .shapes import ChannelView, channel_view

DISPLAY_WIDTH = 900
"""Width in screen pixels the grid is laid out for; the label strip and figure height follow from it."""
HOVER_MAX_CELLS = 100_000
"""Most hover cells per figure (each costs 7 or 10 bytes of JSON before base64)."""
HOVER_MIN_CELLS = 50_000
FIGURE_BUDGET = 2_000_000
"""Bytes of figure JSON aimed for: the hover layer gets what the picture leaves (never below
:data:`HOVER_MIN_CELLS` cells, so a very large layer can still exceed it)."""
LABEL_PX = 13
"""Height on screen of the strip above each tile that holds its channel number."""
TARGET_ASPECT = 1.25
"""Preferred width / height of the whole mosaic."""
NAN_INDEX = LEVELS  # palette entry for non-finite values
GAP_INDEX = LEVELS + 1  # palette entry for gaps between tiles (transparent)
NAN_RGB = (255, 0, 255)


@dataclass(frozen=True)
class MosaicLayout:
    """Where each channel's tile sits, in map pixels. Tile ``i`` is at row ``i // cols``, column ``i % cols``."""

    channels: int
    height: int
    width: int
    cols: int
    gap: int
    label: int

    @property
    def rows(self) -> int:
        return math.ceil(self.channels / self.cols)

    @property
    def pitch_x(self) -> int:
        return self.width + self.gap

    @property
    def pitch_y(self) -> int:
        return self.label + self.height + self.gap

    @property
    def mosaic_width(self) -> int:
        return self.cols * self.pitch_x - self.gap

    @property
    def mosaic_height(self) -> int:
        return self.rows * self.pitch_y - self.gap

    def tile_origin(self, position: int) -> tuple[int, int]:
        """(top, left) of the map area of the tile at ``position``."""
        row, col = divmod(position, self.cols)
        return row * self.pitch_y + self.label, col * self.pitch_x


def mosaic_layout(channels: int, height: int, width: int, display_width: int = DISPLAY_WIDTH) -> MosaicLayout:
    """Choose columns, gaps and label strip so the mosaic is about :data:`TARGET_ASPECT` wide."""
    gap = max(1, round(0.06 * width))
    label = max(1, math.ceil(0.25 * height))
    cols = 1
    for _ in range(4):  # the strip height depends on the on-screen scale, which depends on the columns
        cols = _columns(channels, height + gap + label, width + gap)
        scale = display_width / (cols * (width + gap) - gap)
        label = max(1, math.ceil(LABEL_PX / scale))
    return MosaicLayout(channels, height, width, cols, gap, label)


def _columns(channels: int, pitch_y: int, pitch_x: int) -> int:
    cols = round(math.sqrt(channels * TARGET_ASPECT * pitch_y / pitch_x))
    return int(min(max(cols, 1), channels))


def tile(values: np.ndarray, layout: MosaicLayout, fill: float) -> np.ndarray:
    """Lay (C, h, w) ``values`` out as one 2-D mosaic with ``layout``'s gaps and strips set to ``fill``."""
    c, h, w = values.shape
    rows, cols = layout.rows, layout.cols
    cells = np.full((rows * cols, layout.label + h + layout.gap, w + layout.gap), fill, dtype=values.dtype)
    cells[:c, layout.label : layout.label + h, :w] = values
    grid = cells.reshape(rows, cols, *cells.shape[1:]).transpose(0, 2, 1, 3)
    return grid.reshape(rows * cells.shape[1], cols * cells.shape[2])[: layout.mosaic_height, : layout.mosaic_width]


@dataclass(frozen=True)
class PreparedGrid:
    """What both the on-screen grid and the exported PNG draw: the maps, their colours, and which channels."""

    view: ChannelView
    normalized: Normalized
    shown: list[int]

    def indices(self, layout: MosaicLayout) -> np.ndarray:
        """The mosaic as palette indices: colour levels, :data:`NAN_INDEX`, :data:`GAP_INDEX`."""
        values = self.normalized.values[self.shown]
        index = np.rint(np.nan_to_num(values, nan=0.0) * (LEVELS - 1)).astype(np.uint8)
        if np.isnan(values).any():
            index[np.isnan(values)] = NAN_INDEX
        return tile(index, layout, GAP_INDEX)


def prepare_grid(fmap: Union[FeatureMap, torch.Tensor, np.ndarray], settings: GridSettings) -> PreparedGrid:
    """Reshape to channel maps, normalize, and check the channel selection."""
    view = channel_view(fmap.tensor if isinstance(fmap, FeatureMap) else torch.as_tensor(fmap))
    normalized = normalize_maps(view.maps, settings.normalize, percentiles=settings.percentiles,
                                vmin=settings.vmin, vmax=settings.vmax)
    shown = list(range(view.channels)) if settings.order is None else list(settings.order)
    if not shown:
        raise ValueError("No channels to show.")
    if min(shown) < 0 or max(shown) >= view.channels:
        raise ValueError(f"Channel indices must be in 0…{view.channels - 1}.")
    return PreparedGrid(view, normalized, shown)


def mosaic_png(prepared: PreparedGrid, layout: MosaicLayout, colormap: str) -> bytes:
    """The colour-mapped mosaic as an 8-bit palette PNG with transparent gaps."""
    palette = np.vstack([lookup_table(colormap), NAN_RGB, (0, 0, 0)]).astype(np.uint8)
    image = Image.fromarray(prepared.indices(layout), mode="P")
    image.putpalette(palette.reshape(-1).tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=GAP_INDEX, compress_level=1)
    return buffer.getvalue()


def channel_grid(
    fmap: Union[FeatureMap, torch.Tensor, np.ndarray],
    settings: Optional[GridSettings] = None,
    *,
    title: Optional[str] = None,
    subtitle: Optional[str] = None,
    display_width: int = DISPLAY_WIDTH,
    value_name: str = "activation",
    **options: Any,
) -> go.Figure:
    """All channels of one layer as a tiled heatmap figure with hover, channel numbers and a colour bar.

    ``fmap`` is a captured :class:`FeatureMap` or a tensor of one sample (any shape: see
    :func:`~featviz_core.channel_view`). How it is drawn is a :class:`GridSettings`, or its fields given as
    keywords (``normalize="per_layer"``, ``colormap="magma"``, ``order=[5, 0, 3]``, ...). ``subtitle`` goes
    under the title (the UI names the model and weights there); ``value_name`` titles the colour bar.
    ``figure.layout.meta["featviz"]`` records what was drawn.

    Example::

        >>> import featviz_core as fv
        >>> maps = fv.capture(fv.load_model("digits_cnn"), fv.load_sample("Handwritten 7"))
        >>> figure = fv.channel_grid(maps["conv1"], normalize="per_layer", colormap="magma")
        >>> figure.layout.meta["featviz"]["channels_shown"]
        32
    """
    settings = GridSettings.of(settings, **options)
    colormap = settings.colormap
    prepared = prepare_grid(fmap, settings)
    view, normalized, shown = prepared.view, prepared.normalized, prepared.shown
    _, h, w = view.maps.shape
    layout = mosaic_layout(len(shown), h, w, display_width)
    png = mosaic_png(prepared, layout, colormap)

    figure = go.Figure()
    figure.add_trace(
        go.Image(
            source="data:image/png;base64," + base64.b64encode(png).decode("ascii"),
            x0=0, dx=1, y0=0, dy=1, hoverinfo="skip", name="mosaic",
        )
    )
    figure.add_trace(_hover_trace(view, layout, shown, FIGURE_BUDGET - len(figure.data[0].source)))
    figure.add_trace(_label_trace(layout, shown, display_width))
    figure.add_trace(_colorbar_trace(normalized, colormap, value_name))
    heading = title or _default_title(fmap, view, len(shown))
    if subtitle:
        heading += f"<br><sup>{subtitle}</sup>"
    figure.update_layout(
        title=dict(text=heading, font=dict(size=14)),
        margin=dict(l=4, r=4, t=56 if subtitle else 40, b=4),
        height=int(min(max(display_width * layout.mosaic_height / layout.mosaic_width + 48, 260), 1800)),
        xaxis=dict(
            visible=False, range=[-0.5, layout.mosaic_width - 0.5], constrain="domain", constraintoward="left"
        ),
        yaxis=dict(
            visible=False, range=[layout.mosaic_height - 0.5, -0.5], scaleanchor="x", scaleratio=1,
            constrain="domain", constraintoward="top",
        ),
        dragmode="zoom",
        hovermode="closest",
        showlegend=False,
        meta={
            "featviz": {
                "channels_total": view.channels,
                "channels_shown": len(shown),
                "map_shape": [h, w],
                "kind": view.kind,
                "normalization": normalized.mode,
                "colormap": colormap,
                "columns": layout.cols,
            }
        },
    )
    return figure


def _hover_trace(view: ChannelView, layout: MosaicLayout, shown: list[int], budget: int) -> go.Heatmap:
    """Invisible heatmap with raw values (block means when pooled) and (channel, y, x) for each cell.

    ``budget`` is the JSON bytes left for it; pooling to k×k blocks keeps it within that.
    """
    c, h, w = len(shown), layout.height, layout.width
    # one byte per index where channel, y and x all fit (≤ 256 channels, maps ≤ 256 px): 30 % less JSON
    index_type = np.uint8 if max(max(shown), h - 1, w - 1) <= 255 else np.uint16
    cell_bytes = 4 * (4 + 3 * np.dtype(index_type).itemsize) / 3  # float32 value + three indices, base64
    cells = int(min(max((budget - 60_000) / cell_bytes, HOVER_MIN_CELLS), HOVER_MAX_CELLS))
    k = max(1, math.ceil(math.sqrt(c * h * w / cells)))
    while k > 1 and _hover_cells(layout, math.ceil(h / (k - 1)), math.ceil(w / (k - 1))) <= cells:
        k -= 1  # the estimate above can be one step coarse
    while _hover_cells(layout, math.ceil(h / k), math.ceil(w / k)) > cells and k < max(h, w):
        k += 1  # cells include each tile's label strip and gap
    maps = view.maps[shown]
    pooled = F.avg_pool2d(maps.unsqueeze(1), k, k, ceil_mode=True).squeeze(1) if k > 1 else maps
    hh, ww = pooled.shape[1:]
    hover = MosaicLayout(c, hh, ww, layout.cols, gap=1, label=1)
    z = tile(pooled.numpy().astype(np.float32), hover, np.nan)
    ys = np.arange(hh, dtype=index_type) * k
    xs = np.arange(ww, dtype=index_type) * k
    ident = np.stack(
        [
            np.broadcast_to(np.asarray(shown, index_type)[:, None, None], (c, hh, ww)),
            np.broadcast_to(ys[None, :, None], (c, hh, ww)),
            np.broadcast_to(xs[None, None, :], (c, hh, ww)),
        ],
        axis=-1,
    )
    custom = np.stack([tile(np.ascontiguousarray(ident[..., i]), hover, 0) for i in range(3)], axis=-1)
    block = "" if k == 1 else f" (mean of {k}×{k})"
    return go.Heatmap(
        z=z,
        x=_centres(layout.cols, ww, k, w, layout.pitch_x, 0),
        y=_centres(layout.rows, hh, k, h, layout.pitch_y, layout.label),
        customdata=custom,
        hovertemplate=(
            "channel %{customdata[0]}<br>y %{customdata[1]}, x %{customdata[2]}<br>"
            f"value{block} %{{z:.4g}}<extra></extra>"
        ),
        hoverongaps=False,
        showscale=False,
        opacity=0,
        name="values",
    )


def _hover_cells(layout: MosaicLayout, hh: int, ww: int) -> int:
    """Cells of the hover grid for pooled tiles of hh×ww: a strip row and a gap row and column per tile."""
    return (layout.rows * (hh + 2) - 1) * (layout.cols * (ww + 1) - 1)


def _centres(tiles: int, cells: int, k: int, size: int, pitch: int, offset: int) -> np.ndarray:
    """Centres, in mosaic pixels, of the hover cells along one axis: [strip], cells, gap, per tile."""
    centres: list[float] = []
    for t in range(tiles):
        start = t * pitch + offset
        if offset:
            centres.append(t * pitch + offset / 2 - 0.5)
        for j in range(cells):
            centres.append(start + j * k + (min(k, size - j * k) - 1) / 2)
        if t < tiles - 1:
            centres.append(start + size + (pitch - size - offset) / 2 - 0.5)
    return np.asarray(centres, dtype=np.float32)


def _label_trace(layout: MosaicLayout, shown: list[int], display_width: int) -> go.Scatter:
    positions = np.arange(len(shown))
    rows, cols = np.divmod(positions, layout.cols)
    scale = display_width / layout.mosaic_width
    digits = len(str(max(shown)))
    size = float(np.clip(layout.width * scale / (0.62 * digits), 7, 11))
    return go.Scatter(
        x=(cols * layout.pitch_x - 0.5).astype(np.float32),
        y=(rows * layout.pitch_y + layout.label / 2 - 0.5).astype(np.float32),
        text=[str(i) for i in shown],
        mode="text",
        textposition="middle right",
        textfont=dict(size=size),
        hoverinfo="skip",
        name="channel numbers",
    )


def _colorbar_trace(normalized: Normalized, colormap: str, value_name: str) -> go.Scatter:
    if normalized.shared_scale:
        low, high, title = float(normalized.low[0]), float(normalized.high[0]), value_name
    else:
        low, high, title = 0.0, 1.0, "per channel<br>0 = min, 1 = max"
    if high <= low:
        high = low + 1e-6
    return go.Scatter(
        x=[None], y=[None], mode="markers", hoverinfo="skip", name="scale",
        marker=dict(
            colorscale=plotly_colorscale(colormap), cmin=low, cmax=high, color=[low], showscale=True,
            colorbar=dict(title=dict(text=title, side="right"), thickness=12, len=0.85),
        ),
    )


def _default_title(fmap: object, view: ChannelView, shown: int) -> str:
    name = f"{fmap.name} · {fmap.module_type} · " if isinstance(fmap, FeatureMap) else ""
    _, h, w = view.maps.shape
    count = f"all {view.channels} channels" if shown == view.channels else f"{shown} of {view.channels} channels"
    return f"{name}{count} of {h}×{w}"
