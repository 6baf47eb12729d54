"""Everything that leaves the browser: grid PNGs for slides, raw arrays, statistics CSV, a review report.

The PNG is drawn here with Pillow from the same normalization, colour map and tile order as the grid on
screen, so no headless browser or image-export service is needed. It keeps one promise at every size: each
tile at least :data:`PNG_MIN_TILE` pixels (maps are enlarged in whole steps, nearest neighbour, so they stay
sharp on a projector), each tile numbered in a label that fits it, a colour bar, and the caption, in the
bundled DejaVu Sans (Pillow's default font has no en dash). When the tiles do not fit in one image of at
most :data:`PNG_MAX_SIDE` pixels, they are split over several pages (:func:`grid_pngs`, :func:`grid_zip`).
A layer of single values is drawn as a bar chart, as on screen.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import html
import io
import math
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .activations._records import Capture, ChannelStats, FeatureMap
from .activations._shapes import view_of
from .analysis._stats import LayerSummary
from .draw._colormaps import LEVELS, label_colour, lookup_table, surround
from .draw._grid import NAN_RGB, MosaicLayout, PreparedGrid, aspect_columns, is_vector, palette, prepare_grid
from .draw._grid_settings import GridSettings
from .draw._vector_figure import single_value_note
from .settings import current as current_settings

PNG_MIN_TILE = 96
"""Smallest tile side in an exported PNG, in pixels (the longer side of a map that is not square)."""
PNG_MAX_SIDE = 4096
"""Largest side of one exported PNG; more tiles than fit go on further pages."""
PNG_LABEL_PX = 20
"""Channel numbers and scale labels in an exported PNG (the presentation setting: :data:`PNG_LARGE_LABEL_PX`)."""
PNG_LARGE_LABEL_PX = 28
FONT_FILE = Path(__file__).with_name("fonts") / "DejaVuSans.ttf"
"""DejaVu Sans (free licence, ``fonts/LICENSE-DejaVu.txt``): has ×, –, ·, … where Pillow's default has boxes."""
BACKGROUND = (255, 255, 255)
INK = (0, 0, 0)
OUTLINE = (68, 68, 68)
MARGIN = 16
COLOUR_BAR_WIDTH = 20
SCALE_LABEL_WIDEST = ("1 = channel max", "0 = channel min", "-1.234e+05")
"""The widest labels a colour bar or a value axis can have (numbers are written with 4 significant digits)."""
BAR_PLOT_HEIGHT = 600
"""Height of the plot area of a bar chart PNG (single values), in pixels."""


@cache
def font(size: int) -> ImageFont.FreeTypeFont:
    """The bundled DejaVu Sans at ``size`` pixels."""
    return ImageFont.truetype(str(FONT_FILE), size)


@dataclass(frozen=True)
class PngPage:
    """One PNG of a grid: the tiles at positions ``start``…``stop - 1`` of the shown order, laid out in map
    pixels by ``layout`` and enlarged ``scale`` times."""

    start: int
    stop: int
    layout: MosaicLayout
    scale: int


def plan_pages(count: int, height: int, width: int, *, digits: int, label_px: int = PNG_LABEL_PX,
               min_tile: int = PNG_MIN_TILE, max_side: int = PNG_MAX_SIDE, reserve_x: int = 0,
               reserve_y: int = 0) -> list[PngPage]:
    """Split ``count`` tiles of ``height``×``width`` into as few pages as keep every tile at ``min_tile``
    pixels or more (and wide enough for a ``digits``-digit number at ``label_px``) within ``max_side``.

    ``reserve_x``/``reserve_y`` are the pixels each page needs beside and above the mosaic (colour bar,
    caption, margins). Tiles are spread evenly over the pages, each about as wide as TARGET_ASPECT.
    """
    label_w = font(label_px).getlength("0" * digits) + 6
    scale = max(1, math.ceil(min_tile / max(height, width)), math.ceil(label_w / width))
    gap = max(1, round(0.06 * width))
    label = max(1, math.ceil((math.ceil(1.35 * label_px) + 6) / scale))
    pitch_x, pitch_y = width + gap, label + height + gap
    cols_max = max(1, math.floor(((max_side - reserve_x) / scale - gap) / pitch_x))
    rows_max = max(1, math.floor(((max_side - reserve_y) / scale - gap) / pitch_y))
    pages = math.ceil(count / (cols_max * rows_max))
    per_page = math.ceil(count / pages)
    cols = min(cols_max, aspect_columns(per_page, pitch_y, pitch_x))
    cols = max(cols, math.ceil(per_page / rows_max))
    return [
        PngPage(start, min(start + per_page, count),
                MosaicLayout(min(per_page, count - start), height, width, cols, gap, label, pad=gap), scale)
        for start in range(0, count, per_page)
    ]


def grid_pngs(
    fmap: Union[FeatureMap, torch.Tensor, np.ndarray],
    settings: Optional[GridSettings] = None,
    *,
    caption: Optional[str] = None,
    min_tile: int = PNG_MIN_TILE,
    max_side: int = PNG_MAX_SIDE,
    **options: Any,
) -> list[bytes]:
    """The grid as one or more PNGs, each at most ``max_side`` pixels a side: every tile at least
    ``min_tile`` pixels and numbered, a colour bar with its scale, the caption, and "page 1 of 3 ·
    channels 0–682 of 2048 shown" on each page when there are several.

    Drawn as :func:`~featviz_core.channel_grid` draws it on screen, from a :class:`GridSettings` or its
    fields as keywords (``large_text=True`` for bigger numbers and caption). Single values are a bar chart.

    Example::

        >>> import featviz_core as fv, torch
        >>> pages = fv.grid_pngs(torch.rand(2048, 7, 7), caption="layer4 · 2048 channels")
        >>> len(pages), pages[0][:4]                       # 683 tiles of 98 px to a page
        (3, b'\x89PNG')
    """
    settings = GridSettings.of(settings, **options)
    prepared = prepare_grid(fmap, settings)
    if prepared.vector:
        return _bar_pages(prepared, settings, caption, max_side)
    _, h, w = prepared.view.maps.shape
    label_px = PNG_LARGE_LABEL_PX if settings.large_text else PNG_LABEL_PX
    lines, pages = _plan(len(prepared.shown), h, w, max(prepared.shown), caption, label_px, min_tile, max_side)
    return [_grid_page(prepared, settings, page, lines + _page_line(prepared.shown, page, len(pages), index),
                       label_px) for index, page in enumerate(pages)]


def grid_png(
    fmap: Union[FeatureMap, torch.Tensor, np.ndarray],
    settings: Optional[GridSettings] = None,
    *,
    caption: Optional[str] = None,
    min_tile: int = PNG_MIN_TILE,
    **options: Any,
) -> bytes:
    """The grid as one PNG: every tile numbered, a colour bar with its scale, and an optional caption line.

    Drawn as :func:`~featviz_core.channel_grid` draws it on screen, from a :class:`GridSettings` or its
    fields as keywords. When the tiles need more than one page of :data:`PNG_MAX_SIDE` pixels (e.g. 2048
    channels at 96 px), this refuses and says so: use :func:`grid_pngs` (and :func:`grid_zip`).

    Example::

        >>> import featviz_core as fv
        >>> maps = fv.capture(fv.load_model("digits_cnn"), fv.load_sample("Handwritten 7"))
        >>> png = fv.grid_png(maps["conv1"], normalize="per_layer", caption="digits_cnn · conv1")
        >>> png[:4]
        b'\x89PNG'
    """
    pages = grid_pngs(fmap, settings, caption=caption, min_tile=min_tile, **options)
    if len(pages) > 1:
        raise ValueError(
            f"At {min_tile} px a tile, these channels need {len(pages)} pages of at most {PNG_MAX_SIDE} px; use "
            "grid_pngs() for the pages (and grid_zip() for one file), or show fewer channels."
        )
    return pages[0]


def png_page_count(fmap: Union[FeatureMap, torch.Tensor, np.ndarray], settings: Optional[GridSettings] = None, *,
                   caption: Optional[str] = None, min_tile: int = PNG_MIN_TILE, max_side: int = PNG_MAX_SIDE) -> int:
    """How many pages :func:`grid_pngs` will draw, without drawing them (for a download button's label)."""
    settings = GridSettings.of(settings)
    view = view_of(fmap)
    shown = list(range(view.channels)) if settings.order is None else list(settings.order)
    label_px = PNG_LARGE_LABEL_PX if settings.large_text else PNG_LABEL_PX
    if is_vector(view):
        return len(_bar_chunks(len(shown), label_px, max_side))
    _, h, w = view.maps.shape
    return len(_plan(len(shown), h, w, max(shown), caption, label_px, min_tile, max_side)[1])


def grid_zip(pages: Sequence[bytes], stem: str) -> bytes:
    """Pages from :func:`grid_pngs` in one ZIP file: ``<stem>_page1of3.png``, ...

    Example::

        >>> import io, zipfile
        >>> zipfile.ZipFile(io.BytesIO(grid_zip([b"a", b"b"], "grid"))).namelist()
        ['grid_page1of2.png', 'grid_page2of2.png']
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # PNGs are compressed already
        for number, page in enumerate(pages, start=1):
            archive.writestr(f"{stem}_page{number}of{len(pages)}.png", page)
    return buffer.getvalue()


def _caption_font(label_px: int) -> ImageFont.FreeTypeFont:
    return font(round(1.2 * label_px))


def _line_height(label_px: int) -> int:
    return math.ceil(1.35 * round(1.2 * label_px))


def _wrap(text: Optional[str], face: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """``text`` in lines no wider than ``width`` pixels, broken at spaces."""
    if not text:
        return []
    lines: list[str] = []
    for paragraph in text.splitlines():
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and face.getlength(candidate) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


def _scale_block_width(label_px: int) -> int:
    """Width of the colour bar and its labels (the widest label any scale can have)."""
    face = font(label_px)
    return COLOUR_BAR_WIDTH + 8 + math.ceil(max(face.getlength(text) for text in SCALE_LABEL_WIDEST)) + 4


def _plan(count: int, h: int, w: int, highest: int, caption: Optional[str], label_px: int, min_tile: int,
          max_side: int) -> tuple[list[str], list[PngPage]]:
    """The caption's lines and the pages; a page line is reserved only when there is more than one page."""
    lines = _wrap(caption, _caption_font(label_px), max_side - 2 * MARGIN)
    reserve_x = 3 * MARGIN + _scale_block_width(label_px)
    pages: list[PngPage] = []
    for extra in (0, 1):
        text_lines = len(lines) + extra
        reserve_y = 2 * MARGIN + (text_lines * _line_height(label_px) + MARGIN if text_lines else 0)
        pages = plan_pages(count, h, w, digits=len(str(highest)), label_px=label_px, min_tile=min_tile,
                           max_side=max_side, reserve_x=reserve_x, reserve_y=reserve_y)
        if len(pages) == 1:
            break
    return lines, pages


def _page_line(shown: Sequence[int], page: PngPage, pages: int, index: int) -> list[str]:
    if pages == 1:
        return []
    part = list(shown[page.start : page.stop])
    if part == list(range(part[0], part[0] + len(part))):
        what = f"channels {part[0]}–{part[-1]} of {len(shown)} shown"
    else:
        what = f"tiles {page.start + 1}–{page.stop} of {len(shown)}"
    return [f"page {index + 1} of {pages} · {what}"]


def _grid_page(prepared: PreparedGrid, settings: GridSettings, page: PngPage, lines: list[str],
               label_px: int) -> bytes:
    layout, scale = page.layout, page.scale
    shown = prepared.shown[page.start : page.stop]
    part = PreparedGrid(prepared.view, prepared.normalized, shown, prepared.requested)
    mosaic = Image.fromarray(part.indices(layout), mode="P")
    mosaic.putpalette(palette(settings.colormap).reshape(-1).tolist())
    picture = mosaic.resize((mosaic.width * scale, mosaic.height * scale), Image.Resampling.NEAREST).convert("RGB")

    label_font, caption_font = font(label_px), _caption_font(label_px)
    scale_width = _scale_block_width(label_px)
    text_height = len(lines) * _line_height(label_px) + (MARGIN if lines else 0)
    content_width = picture.width + MARGIN + scale_width
    text_width = max((caption_font.getlength(line) for line in lines), default=0)
    bar_height = max(min(picture.height, 600), 4 * label_px)
    size = (int(max(content_width, text_width)) + 2 * MARGIN,
            MARGIN + text_height + max(picture.height, bar_height) + MARGIN)
    canvas = Image.new("RGB", size, BACKGROUND)
    top = MARGIN + text_height
    canvas.paste(picture, (MARGIN, top))
    draw = ImageDraw.Draw(canvas)
    for number, line in enumerate(lines):
        draw.text((MARGIN, MARGIN + number * _line_height(label_px)), line, fill=INK, font=caption_font)
    ink = label_colour(settings.colormap)
    for position, channel in enumerate(shown):
        tile_top, left = layout.tile_origin(position)
        middle = top + (tile_top - layout.label / 2) * scale
        draw.text((MARGIN + left * scale + 3, middle), str(channel), fill=ink, font=label_font, anchor="lm")
    _colour_bar(draw, canvas, settings.colormap, _scale_labels(prepared.normalized),
                (MARGIN + picture.width + MARGIN, top), bar_height, label_font)
    return _png_bytes(canvas)


def _png_bytes(canvas: Image.Image) -> bytes:
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def _scale_labels(normalized) -> tuple[str, str]:
    """What the top and bottom of the colour bar mean: raw values, or each channel's own range."""
    if normalized.shared_scale:
        return f"{float(normalized.high[0]):.4g}", f"{float(normalized.low[0]):.4g}"
    return "1 = channel max", "0 = channel min"


def _colour_bar(draw, canvas, colormap: str, labels: tuple[str, str], origin: tuple[int, int], height: int,
                face) -> None:
    """A vertical ramp, high at the top, outlined so a map ending in white still shows where it ends."""
    x, y = origin
    table = lookup_table(colormap)
    ramp = table[np.linspace(len(table) - 1, 0, height).round().astype(int)]
    canvas.paste(Image.fromarray(np.repeat(ramp[:, None, :], COLOUR_BAR_WIDTH, axis=1), mode="RGB"), (x, y))
    draw.rectangle((x - 1, y - 1, x + COLOUR_BAR_WIDTH, y + height), outline=OUTLINE, width=1)
    draw.text((x + COLOUR_BAR_WIDTH + 8, y), labels[0], fill=INK, font=face, anchor="la")
    draw.text((x + COLOUR_BAR_WIDTH + 8, y + height), labels[1], fill=INK, font=face, anchor="ld")


def _bar_chunks(count: int, label_px: int, max_side: int) -> list[range]:
    """Bars per page: at least one pixel each, as many pages as that takes."""
    usable = max_side - _bar_reserve_x(label_px)
    bar = min(max(usable // count, 1), 40)
    per_page = math.ceil(count / math.ceil(count / (usable // bar)))
    return [range(start, min(start + per_page, count)) for start in range(0, count, per_page)]


def _bar_reserve_x(label_px: int) -> int:
    return 4 * MARGIN + math.ceil(font(label_px).getlength(SCALE_LABEL_WIDEST[-1])) + 8 + _scale_block_width(label_px)


def _nice_step(least: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that is at least ``least``: ticks every 50 bars, not every 17."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= least:
                return step * magnitude
        magnitude *= 10


def _bar_pages(prepared: PreparedGrid, settings: GridSettings, caption: Optional[str], max_side: int) -> list[bytes]:
    """Single values as bars on one shared scale in raw units, with a zero line, split when too many."""
    label_px = PNG_LARGE_LABEL_PX if settings.large_text else PNG_LABEL_PX
    shown = prepared.shown
    values = prepared.view.maps.reshape(-1).numpy()[shown].astype(np.float64)
    levels = prepared.normalized.values.reshape(-1)[shown]
    index = np.where(np.isnan(levels), LEVELS, np.rint(np.nan_to_num(levels) * (LEVELS - 1))).astype(int)
    colours = palette(settings.colormap)[index]
    finite = values[np.isfinite(values)]
    low = min(0.0, float(finite.min()) if finite.size else 0.0)
    high = max(0.0, float(finite.max()) if finite.size else 0.0)
    if high <= low:
        high = low + 1.0
    chunks = _bar_chunks(len(shown), label_px, max_side)
    note = single_value_note(prepared)
    lines = _wrap(caption, _caption_font(label_px), max_side - 2 * MARGIN) + _wrap(
        note, _caption_font(label_px), max_side - 2 * MARGIN)
    return [
        _bar_page(values[chunk.start : chunk.stop], colours[chunk.start : chunk.stop], shown[chunk.start : chunk.stop],
                  (low, high), settings, prepared,
                  lines + ([f"page {i + 1} of {len(chunks)} · bars {chunk.start + 1}–{chunk.stop} of {len(shown)}"]
                           if len(chunks) > 1 else []),
                  label_px, max_side)
        for i, chunk in enumerate(chunks)
    ]


def _bar_page(values: np.ndarray, colours: np.ndarray, channels: Sequence[int], span: tuple[float, float],
              settings: GridSettings, prepared: PreparedGrid, lines: list[str], label_px: int, max_side: int) -> bytes:
    label_font, caption_font = font(label_px), _caption_font(label_px)
    low, high = span
    count = len(values)
    bar = min(max((max_side - _bar_reserve_x(label_px)) // count, 1), 40)
    axis_width = math.ceil(label_font.getlength(SCALE_LABEL_WIDEST[-1])) + 8
    plot_height = BAR_PLOT_HEIGHT + (200 if settings.large_text else 0)
    plot_width = bar * count
    text_height = len(lines) * _line_height(label_px) + (MARGIN if lines else 0)
    scale_width = _scale_block_width(label_px)
    content_width = axis_width + plot_width + 2 * MARGIN + scale_width
    text_width = max((caption_font.getlength(line) for line in lines), default=0)
    ticks_height = 2 * _line_height(label_px) + 8
    size = (int(max(content_width, text_width)) + 2 * MARGIN,
            MARGIN + text_height + plot_height + ticks_height + MARGIN)
    canvas = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for number, line in enumerate(lines):
        draw.text((MARGIN, MARGIN + number * _line_height(label_px)), line, fill=INK, font=caption_font)
    left, top = MARGIN + axis_width, MARGIN + text_height
    draw.rectangle((left, top, left + plot_width - 1, top + plot_height - 1), fill=surround(settings.colormap))

    def y_of(value: float) -> float:
        return top + (high - value) / (high - low) * (plot_height - 1)

    zero = y_of(0.0)
    for i, (value, colour) in enumerate(zip(values, colours, strict=True)):
        if not np.isfinite(value):
            draw.rectangle((left + i * bar, top, left + (i + 1) * bar - 1, top + plot_height - 1),
                           fill=tuple(int(c) for c in NAN_RGB))
            continue
        y = y_of(float(value))
        draw.rectangle((left + i * bar, min(y, zero), left + (i + 1) * bar - 1, max(y, zero)),
                       fill=tuple(int(c) for c in colour))
    draw.line((left, zero, left + plot_width - 1, zero), fill=INK, width=2)
    for value in sorted({low, 0.0, high}):
        draw.text((left - 8, y_of(value)), f"{value:.4g}", fill=INK, font=label_font, anchor="rm")
    widest = max(label_font.getlength(str(channel)) for channel in channels) + 12
    step = _nice_step(math.ceil(widest / bar))
    for i in range(0, count, step):
        x = left + i * bar + bar / 2
        draw.line((x, top + plot_height, x, top + plot_height + 5), fill=INK)
        draw.text((x, top + plot_height + 7), str(channels[i]), fill=INK, font=label_font, anchor="ma")
    draw.text((left + plot_width / 2, top + plot_height + 7 + _line_height(label_px)), "channel", fill=INK,
              font=label_font, anchor="ma")
    _colour_bar(draw, canvas, settings.colormap, _scale_labels(prepared.normalized),
                (left + plot_width + 2 * MARGIN, top), plot_height, label_font)
    return _png_bytes(canvas)


def layer_npy(fmap: FeatureMap) -> bytes:
    """The layer's raw output exactly as captured (float32, batch dimension removed) as a .npy file.

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> import io, numpy as np
        >>> np.load(io.BytesIO(fv.layer_npy(maps["conv1"]))).shape
        (32, 26, 26)
    """
    buffer = io.BytesIO()
    np.save(buffer, fmap.tensor.detach().cpu().numpy(), allow_pickle=False)
    return buffer.getvalue()


def capture_npz_size(captured: Capture) -> int:
    """Bytes the every-layer archive takes uncompressed, in float32 (a float16 cached capture counts double)."""
    return sum(
        fmap.stored.numel() * (4 if fmap.stored.is_floating_point() else fmap.stored.element_size())
        for _, fmap in captured.outline()
    )


def capture_npz(captured: Capture, max_bytes: int | None = None) -> bytes:
    """Every captured layer in one .npz (keys are the layer names, plus ``__input__``); refused above
    ``max_bytes`` (default: the ``FEATVIZ_NPZ_MAX_MB`` setting).

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> import io, numpy as np
        >>> sorted(np.load(io.BytesIO(fv.capture_npz(maps))))[:2]
        ['__input__', 'conv1']
    """
    max_bytes = max_bytes or current_settings().npz_max_bytes
    size = capture_npz_size(captured)
    if size > max_bytes:
        raise ValueError(
            f"All layers together are {size / 2**20:.0f} MB, over the {max_bytes / 2**20:.0f} MB limit for one "
            "download; download single layers as .npy instead."
        )
    arrays = {name: fmap.tensor.detach().cpu().numpy() for name, fmap in captured.items()}
    arrays["__input__"] = captured.input.numpy()
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def stats_csv(stats: ChannelStats) -> str:
    """The channel statistics table as CSV text, one row per channel.

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> fv.stats_csv(fv.channel_stats(maps["conv1"])).splitlines()[0]
        '...'
    """
    rows = stats.rows()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["channel"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _image_png(image: Image.Image, max_side: int = 512) -> bytes:
    picture = image.copy()
    picture.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def review_report(
    *,
    title: str,
    model_label: str,
    image: Image.Image,
    image_name: str,
    predictions: Iterable[tuple[str, float]],
    summary: Sequence[LayerSummary],
    grids: Sequence[tuple[str, bytes]],
    settings: str = "",
) -> str:
    """One self-contained HTML page (images inlined, no scripts, no network) for a model review.

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> html = fv.review_report(
        ...     title="Review", model_label=model.label, image=fv.load_sample("Handwritten 7"),
        ...     image_name="Handwritten 7", predictions=fv.predict(model, maps, top=3),
        ...     summary=fv.layer_summary(model, maps), grids=[("conv1", fv.grid_png(maps["conv1"]))])
        >>> html.startswith("<!doctype html>")
        True
    """
    e = html.escape
    rows = "\n".join(
        f"<tr><td>{e(r.name)}</td><td>{e(r.module_type)}</td><td>{' × '.join(map(str, r.shape))}</td>"
        f"<td class=n>{r.parameters:,}</td><td class=n>{r.sparsity:.1%}</td><td class=n>{r.dead_channels}</td>"
        f"<td class=n>{r.mean:.4g}</td></tr>"
        for r in summary
    )
    predicted = "\n".join(f"<li>{e(label)}: {probability:.1%}</li>" for label, probability in predictions)
    sections = "\n".join(
        f'<section><h3>{e(name)}</h3><img alt="{e(name)}" src="{_png_uri(png)}"></section>' for name, png in grids
    )
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.9em; }} td, th {{ border: 1px solid #ccc; padding: 3px 8px; }}
td.n {{ text-align: right; }} img {{ max-width: 100%; }} .meta {{ color: #555; }}
.top {{ display: flex; gap: 2em; align-items: flex-start; }}
</style></head><body>
<h1>{e(title)}</h1>
<p class=meta>{e(model_label)} · image {e(image_name)} · {e(settings)} · made by featviz {stamp}</p>
<div class=top><figure><img alt="input image" src="{_png_uri(_image_png(image))}">
<figcaption>{e(image_name)}</figcaption></figure>
<div><h2>Prediction</h2><ol>{predicted}</ol></div></div>
<h2>Layers</h2>
{sections}
<h2>Model overview</h2>
<table><tr><th>layer</th><th>type</th><th>output shape</th><th>parameters</th><th>sparsity</th>
<th>dead channels</th><th>mean</th></tr>
{rows}
</table>
</body></html>
"""
