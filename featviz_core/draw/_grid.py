"""Every channel of a layer in one Plotly figure that stays fast and readable at 2048 channels.

A subplot per channel costs seconds to build and more to draw (see ``bench/``), so the figure is built
from four traces whatever the channel count:

1. the mosaic: all tiles colour-mapped here and sent as one 8-bit palette PNG (an image trace), which is
   about a byte per pixel before compression and draws pixel-exact at any zoom. Tiles sit on a neutral
   grey (:func:`~featviz_core.draw._colormaps.surround`) so that the brightest and darkest colours of every map
   stay visible, where a white page would swallow the top of ``hot`` and ``gray``;
2. a transparent heatmap over it that carries the raw values for hover (channel, position, value). It is
   pooled into k×k block means so that the whole figure stays near :data:`FIGURE_BUDGET` (2 MB): seven to
   ten bytes per pixel of hover data would otherwise outweigh the picture many times. The hover says when
   a value is a block mean;
3. the channel numbers as one text trace, in a strip above each tile, each only where it fits;
4. an empty marker trace whose colour bar states the scale in raw units (or 0–1 per channel).

Readable at every size: no tile is laid out smaller than :data:`MIN_TILE_PX` on screen (nor narrower than its
channel number), so a large layer gets more rows, never smaller tiles; which channels to show is the caller's
choice (the dashboard shows a readable subset or pages, :mod:`featviz_core.analysis._selection`). A layer of single
values (a Linear layer, logits, a pooled C×1×1 output) is drawn as a bar chart instead
(:mod:`featviz_core.draw._vector_figure`).
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple, Optional, Union

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from PIL import Image

from ..activations._records import FeatureMap
from ..activations._shapes import ChannelView, view_of
from ._colormaps import LEVELS, label_colour, lookup_table, plotly_colorscale, surround
from ._grid_settings import GridSettings
from ._normalize import Normalized, ValueRange
from ._normalize import normalize as normalize_maps

DISPLAY_WIDTH = 900
"""Width in screen pixels the mosaic is laid out for (the grid's width in a window about 1450 px wide with
the sidebar open); tile sizes, the label strip and the figure height follow from it."""
PRESENTATION_WIDTH = 410
"""A little under the mosaic's width in a 1024×768 window with the sidebar open (423 px measured in Chromium,
whatever the colour bar's numbers): the dashboard lays the grid out for it in presentation mode, so tiles and
channel numbers keep their sizes on a projector."""
MIN_TILE_PX = 32
"""Smallest on-screen tile side at the width the grid is laid out for: more channels mean more rows."""
LABEL_FONT_PX = 12
"""Channel numbers on screen (the presentation setting uses :data:`LARGE_LABEL_FONT_PX`)."""
LARGE_LABEL_FONT_PX = 16
DIGIT_EM = 0.65
"""Width of one digit in em, generous for the fonts a browser may draw with (Source Sans 0.5, DejaVu 0.64):
a channel number is drawn only where this estimate fits in its tile's pitch."""
HOVER_MAX_CELLS = 100_000
"""Most hover cells per figure (each costs 7 or 10 bytes of JSON before base64)."""
HOVER_MIN_CELLS = 50_000
FIGURE_BUDGET = 2_000_000
"""Bytes of figure JSON aimed for: the hover layer gets what the picture leaves (never below
:data:`HOVER_MIN_CELLS` cells, so a very large layer can still exceed it)."""
PNG_BYTES_PER_PIXEL = 0.7
"""What the palette PNG takes per mosaic pixel, about (0.55–0.67 measured on untrained ResNet-18 layers, 0.72
on uniform noise): estimates the picture's share of :data:`FIGURE_BUDGET` before it is encoded."""
JSON_PER_BYTE = 4 / 3 * 69 / 64
"""Figure JSON per byte of binary data: base64, with Plotly writing each "/" (one character in 64) as \\u002f."""
FIGURE_OTHER_BYTES = 60_000
"""Figure JSON beside the picture and the hover layer: channel numbers, colour bar, layout."""
TARGET_ASPECT = 1.25
"""Preferred width / height of the whole mosaic."""
NAN_INDEX = LEVELS  # palette entry for non-finite values
GAP_INDEX = LEVELS + 1  # palette entry for what surrounds the tiles: gaps, number strips, border
NAN_RGB = (255, 0, 255)


class TextSizes(NamedTuple):
    """Font sizes in screen pixels for one text setting."""

    label: int
    title: int
    subtitle: int
    scale: int  # colour bar ticks and title, axis ticks
    hover: int


NORMAL_TEXT = TextSizes(label=LABEL_FONT_PX, title=16, subtitle=13, scale=12, hover=13)
LARGE_TEXT = TextSizes(label=LARGE_LABEL_FONT_PX, title=22, subtitle=18, scale=16, hover=17)


def text_sizes(large: bool) -> TextSizes:
    """The figure's font sizes, normal or for presentation."""
    return LARGE_TEXT if large else NORMAL_TEXT


def label_width(text: str, font_px: float) -> float:
    """Estimated on-screen width of a channel number (digits only) at ``font_px``."""
    return len(text) * DIGIT_EM * font_px


def strip_height(font_px: float) -> int:
    """On-screen height of the strip above each tile that holds its number."""
    return math.ceil(1.3 * font_px) + 2


@dataclass(frozen=True)
class MosaicLayout:
    """Where each channel's tile sits, in map pixels. Tile ``i`` is at row ``i // cols``, column ``i % cols``.

    ``gap`` separates tiles (``gap_y`` between rows, when it differs), ``label`` is the number strip above each
    tile and ``pad`` the border around the whole mosaic, all drawn in the surround colour.
    """

    channels: int
    height: int
    width: int
    cols: int
    gap: int
    label: int
    pad: int = 0
    gap_y: Optional[int] = None

    @property
    def rows(self) -> int:
        return math.ceil(self.channels / self.cols)

    @property
    def row_gap(self) -> int:
        return self.gap if self.gap_y is None else self.gap_y

    @property
    def pitch_x(self) -> int:
        return self.width + self.gap

    @property
    def pitch_y(self) -> int:
        return self.label + self.height + self.row_gap

    @property
    def mosaic_width(self) -> int:
        return self.cols * self.pitch_x - self.gap + 2 * self.pad

    @property
    def mosaic_height(self) -> int:
        return self.rows * self.pitch_y - self.row_gap + 2 * self.pad

    def tile_origin(self, position: int) -> tuple[int, int]:
        """(top, left) of the map area of the tile at ``position``."""
        row, col = divmod(position, self.cols)
        return self.pad + row * self.pitch_y + self.label, self.pad + col * self.pitch_x

    def screen_scale(self, display_width: int) -> float:
        """Screen pixels per map pixel when the mosaic is drawn ``display_width`` wide."""
        return display_width / self.mosaic_width


def mosaic_layout(channels: int, height: int, width: int, display_width: int = DISPLAY_WIDTH, *,
                  label_font: float = LABEL_FONT_PX, label_digits: Optional[int] = None,
                  min_tile: float = MIN_TILE_PX, align: int = 1) -> MosaicLayout:
    """Choose columns, gaps and label strip: about :data:`TARGET_ASPECT` wide, but never so many columns
    that a tile is drawn under ``min_tile`` screen pixels or narrower than a ``label_digits``-digit channel
    number at ``label_font`` (default: the digits of the highest channel index).

    ``align`` > 1 widens gaps, strip and border a little so that every tile starts on a multiple of it: the
    hover layer's ``align``×``align`` blocks then fall on one regular lattice (see :func:`_hover_trace`).
    """
    gap = max(1, round(0.06 * width))
    gap_x, gap_y = _aligned(width + gap, align) - width, _aligned(height + gap, align) - height
    digits = label_digits or len(str(max(channels - 1, 0)))
    tile_px = max(min_tile, label_width("0" * digits, label_font))
    needed_scale = tile_px / min(height, width)
    # mosaic width = cols × (width + gap) + gap (a gap-wide border on each side); solve for the scale needed
    max_cols = max(1, math.floor((display_width / needed_scale - gap_x) / (width + gap_x)))
    strip = strip_height(label_font)
    label = _aligned(max(1, math.ceil(0.25 * height)), align)
    cols = 1
    for _ in range(4):  # the strip height depends on the on-screen scale, which depends on the columns
        cols = min(aspect_columns(channels, height + gap_y + label, width + gap_x), max_cols)
        scale = display_width / (cols * (width + gap_x) + gap_x)
        label = _aligned(max(1, math.ceil(strip / scale)), align)
    return MosaicLayout(channels, height, width, cols, gap_x, label, pad=_aligned(gap, align),
                        gap_y=None if gap_y == gap_x else gap_y)


def _aligned(pixels: int, align: int) -> int:
    """``pixels`` rounded up to a multiple of ``align``."""
    return -(-pixels // align) * align


def aspect_columns(channels: int, pitch_y: int, pitch_x: int) -> int:
    """Columns that make ``channels`` tiles of this pitch about :data:`TARGET_ASPECT` wide."""
    cols = round(math.sqrt(channels * TARGET_ASPECT * pitch_y / pitch_x))
    return int(min(max(cols, 1), channels))


def tile(values: np.ndarray, layout: MosaicLayout, fill: float) -> np.ndarray:
    """Lay (C, h, w) ``values`` out as one 2-D mosaic with ``layout``'s gaps, strips and border set to ``fill``."""
    c, h, w = values.shape
    rows, cols = layout.rows, layout.cols
    cells = np.full((rows * cols, layout.pitch_y, layout.pitch_x), fill, dtype=values.dtype)
    cells[:c, layout.label : layout.label + h, :w] = values
    grid = cells.reshape(rows, cols, *cells.shape[1:]).transpose(0, 2, 1, 3)
    inner = grid.reshape(rows * cells.shape[1], cols * cells.shape[2])[
        : rows * layout.pitch_y - layout.row_gap, : cols * layout.pitch_x - layout.gap
    ]
    return np.pad(inner, layout.pad, constant_values=fill) if layout.pad else inner


def is_vector(view: ChannelView) -> bool:
    """True when every channel is a single value (a vector, a scalar, C×1×1 maps): drawn as bars, not tiles."""
    return tuple(view.maps.shape[1:]) == (1, 1)


@dataclass(frozen=True)
class PreparedGrid:
    """What both the on-screen grid and the exported PNG draw: the maps, their colours, and which channels.

    ``requested`` is the normalization asked for; ``normalized.mode`` can differ for single values, where a
    per-channel range means nothing and one shared scale is used instead.
    """

    view: ChannelView
    normalized: Normalized
    shown: list[int]
    requested: str

    @property
    def vector(self) -> bool:
        return is_vector(self.view)

    def indices(self, layout: MosaicLayout, scale: int = 1) -> np.ndarray:
        """The mosaic as palette indices: colour levels, :data:`NAN_INDEX`, :data:`GAP_INDEX`; each tile drawn
        at 1/``scale`` of its resolution (the mean of each ``scale``×``scale`` block: a block with a
        non-finite value stays non-finite)."""
        values = self.normalized.values[self.shown]
        if scale > 1:
            values = pooled(torch.as_tensor(values), scale).numpy()
        index = np.rint(np.nan_to_num(values, nan=0.0) * (LEVELS - 1)).astype(np.uint8)
        if np.isnan(values).any():
            index[np.isnan(values)] = NAN_INDEX
        return tile(index, layout, GAP_INDEX)


VECTOR_NORMALIZATION = "per_layer"
"""What single values are drawn with when per-channel min–max is asked for (it would make every one the same)."""


def prepare_grid(fmap: Union[FeatureMap, torch.Tensor, np.ndarray], settings: GridSettings) -> PreparedGrid:
    """Reshape to channel maps, normalize, and check the channel selection."""
    view = view_of(fmap)
    mode = settings.normalize
    if is_vector(view) and mode == "per_channel":
        mode = VECTOR_NORMALIZATION
    normalized = normalize_maps(view.maps, mode, percentiles=settings.percentiles,
                                vmin=settings.vmin, vmax=settings.vmax)
    shown = list(range(view.channels)) if settings.order is None else list(settings.order)
    if not shown:
        raise ValueError("No channels to show.")
    if min(shown) < 0 or max(shown) >= view.channels:
        raise ValueError(f"Channel indices must be in 0…{view.channels - 1}.")
    return PreparedGrid(view, normalized, shown, settings.normalize)


def palette(colormap: str) -> np.ndarray:
    """(LEVELS + 2, 3) uint8: the colour map, then the colour of non-finite values, then the surround."""
    return np.vstack([lookup_table(colormap), NAN_RGB, surround(colormap)]).astype(np.uint8)


def mosaic_png(prepared: PreparedGrid, layout: MosaicLayout, colormap: str, scale: int = 1) -> bytes:
    """The colour-mapped mosaic as an 8-bit palette PNG, tiles on their surround grey (each at 1/``scale``)."""
    image = Image.fromarray(prepared.indices(layout, scale), mode="P")
    image.putpalette(palette(colormap).reshape(-1).tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def png_data_uri(png: bytes) -> str:
    """A PNG as the data URI a figure (and a browser) takes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def mosaic_figure(prepared: PreparedGrid, settings: GridSettings, *, heading: str, subtitle: Optional[str],
                  display_width: int, value_name: str) -> go.Figure:
    """The grid of maps: one picture of every shown tile, a hover layer, channel numbers and a colour bar (see
    :func:`featviz_core.draw.channel_grid`, which draws single values as bars instead)."""
    colormap = settings.colormap
    sizes = text_sizes(settings.large_text)
    view, normalized, shown = prepared.view, prepared.normalized, prepared.shown
    _, h, w = view.maps.shape
    scale, block, layout = grid_geometry(shown, h, w, display_width, sizes)
    tile_h, tile_w = -(-h // scale), -(-w // scale)
    png = mosaic_png(prepared, layout, colormap, scale)

    figure = go.Figure()
    figure.add_trace(
        go.Image(
            source=png_data_uri(png),
            x0=0, dx=1, y0=0, dy=1, hoverinfo="skip", name="mosaic",
        )
    )
    figure.add_trace(_hover_trace(view, layout, shown, block, scale))
    labels = _label_trace(layout, shown, display_width, font_size=sizes.label, colour=label_colour(colormap))
    figure.add_trace(labels)
    top = figure_heading(figure, heading, subtitle, sizes)
    mosaic_height = display_width * layout.mosaic_height / layout.mosaic_width
    figure.add_trace(colorbar_trace(normalized, colormap, value_name, sizes, mosaic_height))
    figure.update_layout(
        margin=dict(l=4, r=4, t=top, b=4),
        height=int(max(mosaic_height + top + 8, 260)),
        xaxis=dict(
            visible=False, range=[-0.5, layout.mosaic_width - 0.5], constrain="domain", constraintoward="left"
        ),
        yaxis=dict(
            visible=False, range=[layout.mosaic_height - 0.5, -0.5], scaleanchor="x", scaleratio=1,
            constrain="domain", constraintoward="top",
        ),
        dragmode="zoom",
        hovermode="closest",
        hoverlabel=dict(font=dict(size=sizes.hover)),
        showlegend=False,
        meta={
            "featviz": {
                "channels_total": view.channels,
                "channels_shown": len(shown),
                "channels": list(shown),  # in the order drawn
                "heading": heading,
                "map_shape": [h, w],
                "tile_shape": [tile_h, tile_w],  # in mosaic pixels: the map at 1/picture_scale
                "picture_scale": scale,
                "kind": view.kind,
                "drawn_as": "tiles",
                "normalization": normalized.mode,
                "colormap": colormap,
                "columns": layout.cols,
                "first_tile": list(layout.tile_origin(0)),
                "pitch": [layout.pitch_y, layout.pitch_x],
                "hover_block": block,
                "display_width": display_width,
                "tile_px": round(min(tile_h, tile_w) * layout.screen_scale(display_width), 1),
                "label_px": sizes.label,
                "labels_drawn": len(labels.text),
                "large_text": settings.large_text,
            }
        },
    )
    return figure


def grid_geometry(shown: list[int], h: int, w: int, display_width: int,
                  sizes: TextSizes) -> tuple[int, int, MosaicLayout]:
    """(picture scale, hover block, layout) of the mosaic :func:`channel_grid` draws for channels ``shown`` of
    h×w maps: see :func:`picture_scale` and :func:`hover_block`."""
    scale = picture_scale(len(shown), h, w, display_width, sizes.label, max(shown))

    def lay_out(align: int = 1) -> MosaicLayout:
        return mosaic_layout(len(shown), -(-h // scale), -(-w // scale), display_width, label_font=sizes.label,
                             label_digits=len(str(max(shown))), align=align)

    block, layout = hover_block(lay_out, shown, scale)
    return scale, block, layout


def figure_heading(figure: go.Figure, heading: str, subtitle: Optional[str], sizes: TextSizes) -> int:
    """Set the title (and the subtitle under it, at a readable size); returns the top margin it needs."""
    text = heading
    if subtitle:
        text += f"<br><span style='font-size:{sizes.subtitle}px'>{subtitle}</span>"
    figure.update_layout(title=dict(text=text, font=dict(size=sizes.title)))
    return int(1.6 * sizes.title + (1.5 * sizes.subtitle if subtitle else 0) + 16)


def _index_type(shown: list[int], layout: MosaicLayout, scale: int = 1) -> type:
    """One byte per hover index where channel, y and x all fit (≤ 256 channels, maps ≤ 256 px): 30 % less
    JSON."""
    return np.uint8 if max(max(shown), scale * layout.height - 1, scale * layout.width - 1) <= 255 else np.uint16


def pooled(maps: torch.Tensor, side: int) -> torch.Tensor:
    """(C, h, w) ``maps`` as means of ``side``×``side`` blocks (partial blocks at the edges: the mean of what
    they hold)."""
    return F.avg_pool2d(maps.unsqueeze(1), side, side, ceil_mode=True).squeeze(1) if side > 1 else maps


def picture_scale(channels: int, height: int, width: int, display_width: int, label_font: float,
                  highest: int) -> int:
    """How many map pixels each mosaic pixel stands for, per side: 1 (every pixel) unless the full-resolution
    picture would take more of the figure than :data:`FIGURE_BUDGET` leaves beside the least hover layer
    (:data:`HOVER_MIN_CELLS`) and the rest (:data:`FIGURE_OTHER_BYTES`); then the smallest factor that fits.

    Why: the first layers of large models (VGG's 64×224×224, EfficientNet-B7's 192×300×300) are several
    million pixels, 5–25 MB of figure at full resolution, while a tile is drawn 30–120 px wide: the browser
    would receive and decode pixels it cannot show. A channel opened in the close-up is always drawn at full
    resolution."""
    small = max(highest, height - 1, width - 1) <= 255  # the hover's indices fit one byte each (_index_type)
    budget = FIGURE_BUDGET - FIGURE_OTHER_BYTES - HOVER_MIN_CELLS * JSON_PER_BYTE * (4 + 3 * (1 if small else 2))
    for scale in range(1, max(height, width) + 1):
        layout = mosaic_layout(channels, -(-height // scale), -(-width // scale), display_width,
                               label_font=label_font, label_digits=len(str(highest)))
        if JSON_PER_BYTE * PNG_BYTES_PER_PIXEL * layout.mosaic_width * layout.mosaic_height <= budget:
            return scale
    return max(height, width)


def _lattice_cells(layout: MosaicLayout, block: int) -> int:
    return -(-layout.mosaic_height // block) * -(-layout.mosaic_width // block)


def hover_block(lay_out: Callable[[int], MosaicLayout], shown: list[int],
                scale: int = 1) -> tuple[int, MosaicLayout]:
    """Side ``k`` of the k×k blocks the hover layer averages, and the mosaic aligned to it, so that the figure
    stays near :data:`FIGURE_BUDGET` once the picture has taken its share (estimated, so the PNG is encoded
    once, for the aligned layout): between :data:`HOVER_MIN_CELLS` and :data:`HOVER_MAX_CELLS` cells.
    ``lay_out(k)`` is the mosaic aligned to k; ``scale``, the map pixels per mosaic pixel."""
    layout = lay_out(1)
    picture_bytes = JSON_PER_BYTE * PNG_BYTES_PER_PIXEL * layout.mosaic_width * layout.mosaic_height
    cell_bytes = JSON_PER_BYTE * (4 + 3 * np.dtype(_index_type(shown, layout, scale)).itemsize)  # float32, 3 indices
    room = (FIGURE_BUDGET - picture_bytes - FIGURE_OTHER_BYTES) / cell_bytes
    cells = int(min(max(room, HOVER_MIN_CELLS), HOVER_MAX_CELLS))
    k = max(1, math.floor(math.sqrt(_lattice_cells(layout, 1) / cells)))
    longest = max(layout.height, layout.width)
    aligned = lay_out(k) if k > 1 else layout
    while k < longest and _lattice_cells(aligned, k) > cells:
        k += 1
        aligned = lay_out(k)
    return k, aligned


def _hover_trace(view: ChannelView, layout: MosaicLayout, shown: list[int], block: int = 1,
                 scale: int = 1) -> go.Heatmap:
    """Invisible heatmap with raw values (means of ``block``×``block`` mosaic pixels, each ``scale``×``scale``
    map pixels) and (channel, y, x) per cell, y and x in the map's own pixels.

    Its cells form one regular lattice over the mosaic (``layout`` is aligned to ``block``), with NaN in gaps
    and strips: Plotly draws a regular heatmap as one small image, where irregular cells cost a rectangle each
    on a canvas the size of the plot, several times the time of everything else on every redraw and zoom.
    """
    k, c, side = block, len(shown), block * scale  # side: a cell in map pixels
    index_type = _index_type(shown, layout, scale)
    means = pooled(view.maps[shown], side)
    hh, ww = means.shape[1:]
    lattice = MosaicLayout(c, hh, ww, layout.cols, gap=layout.pitch_x // k - ww, label=layout.label // k,
                           pad=layout.pad // k, gap_y=layout.pitch_y // k - layout.label // k - hh)
    z = tile(means.numpy().astype(np.float32), lattice, np.nan)
    ys = np.arange(hh, dtype=index_type) * side
    xs = np.arange(ww, dtype=index_type) * side
    ident = np.stack(
        [
            np.broadcast_to(np.asarray(shown, index_type)[:, None, None], (c, hh, ww)),
            np.broadcast_to(ys[None, :, None], (c, hh, ww)),
            np.broadcast_to(xs[None, None, :], (c, hh, ww)),
        ],
        axis=-1,
    )
    custom = np.stack([tile(np.ascontiguousarray(ident[..., i]), lattice, 0) for i in range(3)], axis=-1)
    mean = "" if side == 1 else f" (mean of {side}×{side})"
    return go.Heatmap(
        z=z,
        x0=(k - 1) / 2, dx=k, y0=(k - 1) / 2, dy=k,
        customdata=custom,
        hovertemplate=(
            "channel %{customdata[0]}<br>y %{customdata[1]}, x %{customdata[2]}<br>"
            f"value{mean} %{{z:.4g}}<extra></extra>"
        ),
        hoverongaps=False,
        showscale=False,
        opacity=0,
        name="values",
    )


def label_fits(text: str, layout: MosaicLayout, display_width: int, font_size: float) -> bool:
    """Whether a channel number fits its tile's pitch (tile and gap) on screen without touching the next."""
    return label_width(text, font_size) <= layout.pitch_x * layout.screen_scale(display_width)


def _label_trace(layout: MosaicLayout, shown: list[int], display_width: int, font_size: float = LABEL_FONT_PX,
                 colour: tuple[int, int, int] = (0, 0, 0)) -> go.Scatter:
    """Channel numbers at the left of each tile's strip, each one only where it fits (hover always tells)."""
    texts = [str(i) for i in shown]
    keep = np.asarray([label_fits(text, layout, display_width, font_size) for text in texts], dtype=bool)
    positions = np.flatnonzero(keep)
    rows, cols = np.divmod(positions, layout.cols)
    return go.Scatter(
        x=(layout.pad + cols * layout.pitch_x - 0.5).astype(np.float32),
        y=(layout.pad + rows * layout.pitch_y + layout.label / 2 - 0.5).astype(np.float32),
        text=[texts[p] for p in positions],
        mode="text",
        textposition="middle right",
        textfont=dict(size=font_size, color="rgb({},{},{})".format(*colour)),
        hoverinfo="skip",
        name="channel numbers",
    )


def colorbar_trace(normalized: ValueRange, colormap: str, value_name: str,
                    sizes: TextSizes = NORMAL_TEXT, plot_height: float = 400) -> go.Scatter:
    low, high, title = colour_scale(normalized, value_name)
    return go.Scatter(
        x=[None], y=[None], mode="markers", hoverinfo="skip", name="scale",
        marker=dict(
            colorscale=plotly_colorscale(colormap), cmin=low, cmax=high, color=[low], showscale=True,
            colorbar=colorbar(title, sizes, plot_height),
        ),
    )


def colour_scale(normalized: ValueRange, value_name: str) -> tuple[float, float, str]:
    """(low, high, title) of the colour bar: raw units on a shared scale, else each channel's own 0–1."""
    if normalized.shared_scale:
        low, high, title = float(normalized.low[0]), float(normalized.high[0]), value_name
    else:
        low, high, title = 0.0, 1.0, "per channel<br>0 = min, 1 = max"
    if high <= low:
        high = low + 1e-6
    return low, high, title


MAX_COLORBAR_PX = 480
"""A colour bar is at most this tall, at the top of the plot: a 256-tile page is taller than a screen."""


def colorbar(title: str, sizes: TextSizes, plot_height: float) -> dict:
    """A colour bar with an outline, so a map that ends in white (``hot``, ``gray``) still shows its top."""
    return dict(title=dict(text=title, side="right", font=dict(size=sizes.scale)), thickness=12 + sizes.scale // 4,
                lenmode="pixels", len=min(0.85 * plot_height, MAX_COLORBAR_PX), y=1, yanchor="top",
                outlinewidth=1, outlinecolor="#444", tickfont=dict(size=sizes.scale))


def default_title(fmap: object, view: ChannelView, shown: int) -> str:
    """``conv1 · Conv2d · all 32 channels of 26×26``; single values are counted as such."""
    name = f"{fmap.name} · {fmap.module_type} · " if isinstance(fmap, FeatureMap) else ""
    _, h, w = view.maps.shape
    if view.kind in ("vector", "scalar"):
        values = "1 value" if view.channels == 1 else f"{view.channels} values"
        return f"{name}{('all ' + values) if view.channels > 1 else values}" if shown == view.channels \
            else f"{name}{shown} of {values}"
    if view.channels == 1:
        count = "1 channel"
    else:
        count = f"all {view.channels} channels" if shown == view.channels else f"{shown} of {view.channels} channels"
    if is_vector(view):
        return f"{name}{count} of 1×1, one value each"
    return f"{name}{count} of {h}×{w}"
