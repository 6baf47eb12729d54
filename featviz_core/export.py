"""Everything that leaves the browser: grid PNGs for slides, raw arrays, statistics CSV, a review report.

The PNG is drawn here with Pillow from the same normalization, colour map and tile layout as the grid on
screen, so no headless browser or image-export service is needed, and it is enlarged with nearest-neighbour
sampling until each tile is large enough to stay sharp on a projector.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import html
import io
import math
from collections.abc import Iterable, Sequence
from typing import Any, Optional, Union

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .capture import Capture, FeatureMap
from .colormaps import lookup_table
from .grid import NAN_RGB, mosaic_layout, prepare_grid
from .grid_settings import GridSettings
from .settings import current as current_settings
from .stats import ChannelStats, LayerSummary

PNG_MIN_TILE = 96
"""Smallest tile side in an exported PNG, in pixels (maps are enlarged in whole steps up to this)."""
PNG_MAX_SIDE = 4096
"""Largest side of an exported PNG; enlargement stops before it."""
BACKGROUND = (255, 255, 255)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # a Pillow without FreeType has only the small bitmap font
        return ImageFont.load_default()


def grid_png(
    fmap: Union[FeatureMap, torch.Tensor, np.ndarray],
    settings: Optional[GridSettings] = None,
    *,
    caption: Optional[str] = None,
    min_tile: int = PNG_MIN_TILE,
    **options: Any,
) -> bytes:
    """The grid as a PNG: every tile numbered, a colour bar with its scale, and an optional caption line.

    Drawn as :func:`~featviz_core.channel_grid` draws it on screen, from a :class:`GridSettings` or its
    fields as keywords.

    Example::

        >>> import featviz_core as fv
        >>> maps = fv.capture(fv.load_model("digits_cnn"), fv.load_sample("Handwritten 7"))
        >>> png = fv.grid_png(maps["conv1"], normalize="per_layer", caption="digits_cnn · conv1")
        >>> png[:4]
        b'\x89PNG'
    """
    settings = GridSettings.of(settings, **options)
    colormap = settings.colormap
    prepared = prepare_grid(fmap, settings)
    normalized, shown = prepared.normalized, prepared.shown
    _, h, w = prepared.view.maps.shape
    layout = mosaic_layout(len(shown), h, w)
    mosaic = prepared.indices(layout)
    scale = max(1, math.ceil(min_tile / max(h, w)))
    scale = max(1, min(scale, PNG_MAX_SIDE // max(mosaic.shape)))
    palette = np.vstack([lookup_table(colormap), NAN_RGB, BACKGROUND]).astype(np.uint8)
    picture = Image.fromarray(palette[np.kron(mosaic, np.ones((scale, scale), dtype=np.uint8))], mode="RGB")

    label_size = max(10, min(int(layout.label * scale * 0.8), 28))
    font = _font(label_size)
    high, low = _scale_labels(normalized)
    bar_width = 16 + 8 + int(max(font.getlength(high), font.getlength(low))) + 8
    margin = 16
    caption_height = (label_size * 2 + margin) if caption else 0
    size = (picture.width + bar_width + 2 * margin, picture.height + caption_height + 2 * margin)
    canvas = Image.new("RGB", size, BACKGROUND)
    canvas.paste(picture, (margin, margin + caption_height))
    draw = ImageDraw.Draw(canvas)
    for position, channel in enumerate(shown):
        top, left = layout.tile_origin(position)
        draw.text((margin + left * scale, margin + caption_height + (top - layout.label) * scale), str(channel),
                  fill=(60, 60, 60), font=font)
    if caption:
        draw.text((margin, margin), caption, fill=(0, 0, 0), font=_font(int(label_size * 1.3)))
    _colour_bar(draw, canvas, colormap, (high, low), picture.width + 2 * margin, margin + caption_height,
                min(picture.height, 600), font)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def _scale_labels(normalized) -> tuple[str, str]:
    """What the top and bottom of the colour bar mean: raw values, or each channel's own range."""
    if normalized.shared_scale:
        return f"{float(normalized.high[0]):.4g}", f"{float(normalized.low[0]):.4g}"
    return "1 = channel max", "0 = channel min"


def _colour_bar(draw, canvas, colormap: str, labels: tuple[str, str], x: int, y: int, height: int, font) -> None:
    table = lookup_table(colormap)
    ramp = table[np.linspace(len(table) - 1, 0, height).round().astype(int)]
    canvas.paste(Image.fromarray(np.repeat(ramp[:, None, :], 16, axis=1), mode="RGB"), (x, y))
    bottom = y + height - int(font.getbbox(labels[1])[3])
    draw.text((x + 24, y), labels[0], fill=(0, 0, 0), font=font)
    draw.text((x + 24, bottom), labels[1], fill=(0, 0, 0), font=font)


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
        fmap.tensor.numel() * (4 if fmap.tensor.is_floating_point() else fmap.tensor.element_size())
        for fmap in captured.values()
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
