"""Exports are checked for content: the PNG's pixels, sizes, numbers, pages and font, the arrays' values, the
CSV, the report."""

from __future__ import annotations

import base64
import csv
import io
import re
import zipfile
from html.parser import HTMLParser

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

import featviz_core as fv
from featviz_core import export
from featviz_core.draw._colormaps import LEVELS, contrast_ratio, label_colour, lookup_table, surround
from featviz_core.draw._normalize import normalize
from featviz_core.export import (
    PNG_LABEL_PX,
    PNG_LARGE_LABEL_PX,
    PNG_MAX_SIDE,
    PNG_MIN_TILE,
    PngPage,
    capture_npz_size,
    grid_zip,
    png_page_count,
)

MODEL = fv.load_model("digits_cnn")
MAPS = fv.capture(MODEL, fv.load_sample("Handwritten 7"))


def _mosaic_box(pixels: np.ndarray, grey: tuple[int, int, int]) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the grey area the tiles sit on (the caption and colour bar are outside it)."""
    mask = (pixels == grey).all(axis=-1)  # anti-aliased text has a few pixels of that grey too: count whole lines
    rows = np.nonzero(mask.sum(axis=1) > 0.3 * mask.sum(axis=1).max())[0]
    cols = np.nonzero(mask.sum(axis=0) > 0.3 * mask.sum(axis=0).max())[0]
    return rows.min(), cols.min(), rows.max() + 1, cols.max() + 1


def _page_layout(count: int, h: int, w: int, caption: str | None = None, **options) -> list[PngPage]:
    highest = count - 1
    return export._plan(count, h, w, highest, caption, options.get("label_px", PNG_LABEL_PX), PNG_MIN_TILE,
                        PNG_MAX_SIDE)[1]


def test_grid_png_decodes_with_tiles_large_enough_for_a_slide_and_the_right_colours():
    data = fv.grid_png(MAPS["conv1"], normalize="per_layer", colormap="magma", caption="digits · conv1")
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    (page,) = _page_layout(32, 26, 26, "digits · conv1")
    layout, scale = page.layout, page.scale
    assert 26 * scale >= PNG_MIN_TILE
    top0, left0, bottom, right = _mosaic_box(pixels, surround("magma"))
    assert (bottom - top0, right - left0) == (layout.mosaic_height * scale, layout.mosaic_width * scale)
    levels = np.rint(normalize(MAPS["conv1"].tensor, "per_layer").values * (LEVELS - 1)).astype(int)
    expected = lookup_table("magma")[levels]
    top, left = layout.tile_origin(9)
    tile = pixels[top0 + top * scale : top0 + (top + 26) * scale : scale,
                  left0 + left * scale : left0 + (left + 26) * scale : scale]
    assert np.array_equal(tile, expected[9])


@pytest.mark.slow  # draws 2048 channels into pages: about 2.7 s
def test_2048_channels_go_on_pages_with_every_tile_at_least_96_px_and_numbered():
    torch.manual_seed(0)
    maps = torch.rand(2048, 7, 7)
    with pytest.raises(ValueError, match="pages"):
        fv.grid_png(maps)  # one image cannot keep the promise: it says so instead of shrinking the tiles
    pages = fv.grid_pngs(maps, colormap="gray", caption="resnet50 · layer4 · 2048 channels")
    plan = _page_layout(2048, 7, 7, "resnet50 · layer4 · 2048 channels")
    assert len(pages) == len(plan) > 1
    assert [c for page in plan for c in range(page.start, page.stop)] == list(range(2048))  # each once, in order
    label_font = export.font(PNG_LABEL_PX)
    grey, ink = surround("gray"), label_colour("gray")
    for data, page in zip(pages, plan, strict=True):
        picture = Image.open(io.BytesIO(data))
        assert max(picture.size) <= PNG_MAX_SIDE
        layout, scale = page.layout, page.scale
        tile_px = 7 * scale
        assert tile_px >= PNG_MIN_TILE
        pixels = np.asarray(picture.convert("RGB"))
        top0, left0, _, _ = _mosaic_box(pixels, grey)
        for position in range(layout.channels):
            channel = page.start + position
            assert label_font.getlength(str(channel)) + 3 <= tile_px  # the number fits inside its tile's width
            top, left = layout.tile_origin(position)
            strip = pixels[top0 + (top - layout.label) * scale : top0 + top * scale,
                           left0 + (left - layout.gap) * scale : left0 + (left + 7 + layout.gap) * scale]
            inked = np.nonzero((strip == ink).all(axis=-1).any(axis=0))[0]
            assert inked.size, f"channel {channel} has no number"
            # the number's ink stays over its own tile: never in the gaps on either side (no merged labels)
            assert inked.min() >= layout.gap * scale and inked.max() < (layout.gap + 7) * scale
        assert (pixels[: top0 - export.MARGIN] != 255).any()  # the caption and "page i of n" above the tiles


def test_pages_come_in_one_zip():
    pages = fv.grid_pngs(torch.rand(2048, 7, 7))
    archive = zipfile.ZipFile(io.BytesIO(grid_zip(pages, "featviz_layer4")))
    names = archive.namelist()
    assert names == [f"featviz_layer4_page{i}of{len(pages)}.png" for i in range(1, len(pages) + 1)]
    for name, page in zip(names, pages, strict=True):
        assert archive.read(name) == page
    assert png_page_count(torch.rand(2048, 7, 7)) == len(pages)
    assert png_page_count(MAPS["conv1"]) == 1


def test_the_caption_font_has_the_en_dash_times_and_middle_dot():
    face = export.font(24)
    assert export.FONT_FILE.parent.joinpath("LICENSE-DejaVu.txt").is_file()

    def drawn(text: str) -> np.ndarray:
        canvas = Image.new("L", (60, 40), 255)
        ImageDraw.Draw(canvas).text((8, 4), text, fill=0, font=face)
        return np.asarray(canvas)

    missing = drawn("\u0378")  # an unassigned code point: the font's missing-glyph box
    assert (missing < 128).any()
    for glyph in "–×·…":
        assert not np.array_equal(drawn(glyph), missing), f"{glyph!r} is drawn as the missing-glyph box"
    # the PNG's caption is drawn with it: the same pixels as drawing the caption with the bundled font
    caption = "a – b × c · d"
    pixels = np.asarray(Image.open(io.BytesIO(fv.grid_png(MAPS["conv1"], caption=caption))).convert("L"))
    size = round(1.2 * PNG_LABEL_PX)
    reference = Image.new("L", (600, 60), 255)
    ImageDraw.Draw(reference).text((export.MARGIN, export.MARGIN), caption, fill=0, font=export.font(size))
    assert np.array_equal(pixels[:60, :600], np.asarray(reference))


def test_a_linear_layer_exports_as_bars_in_its_colours():
    values = torch.arange(1, 11, dtype=torch.float32)  # ten positive values: bars up from the zero line
    pixels = np.asarray(Image.open(io.BytesIO(fv.grid_png(values, colormap="viridis"))).convert("RGB"))
    table = lookup_table("viridis")
    expected = table[np.rint(np.linspace(0, 1, 10) * (LEVELS - 1)).astype(int)]  # per-layer: 1 → low … 10 → high
    grey = surround("viridis")
    top, left, _, _ = _mosaic_box(pixels, grey)  # the plot area starts here
    zero = np.nonzero((pixels[:, left : left + 20] == 0).all(axis=(1, 2)))[0][0]  # the black zero line
    row = pixels[zero - 3, left:]  # just above it: every bar, as all values are positive, then the white margin
    row = row[: np.nonzero((row == 255).all(axis=-1))[0][0]]
    runs = [tuple(row[0])] + [tuple(c) for previous, c in zip(row[:-1], row[1:], strict=True)
                              if tuple(c) != tuple(previous)]
    assert runs == [tuple(c) for c in expected]  # ten bars, in channel order, coloured by value
    assert (pixels[top + 2, left : left + 20] == grey).all()  # short bars leave the grey above them


def test_bright_values_stay_visible_in_the_png():
    maps = torch.stack([torch.ones(6, 6), torch.zeros(6, 6)])  # channel 0 at the top of the map: white for gray
    data = fv.grid_png(maps, normalize="per_layer", colormap="gray")
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    (page,) = _page_layout(2, 6, 6)
    top0, left0, _, _ = _mosaic_box(pixels, surround("gray"))
    top, left = page.layout.tile_origin(0)
    scale = page.scale
    assert tuple(pixels[top0 + top * scale, left0 + left * scale]) == (255, 255, 255)
    for y, x in ((top * scale - 1, left * scale), (top * scale, left * scale - 1), ((top + 6) * scale, left * scale)):
        assert tuple(pixels[top0 + y, left0 + x]) == surround("gray")  # above, left of and under the white tile
    assert contrast_ratio((255, 255, 255), surround("gray")) >= 3


def test_presentation_draws_larger_numbers_in_the_png():
    normal = Image.open(io.BytesIO(fv.grid_png(MAPS["conv1"])))
    large = Image.open(io.BytesIO(fv.grid_png(MAPS["conv1"], large_text=True)))
    assert large.height > normal.height  # taller number strips
    assert _page_layout(32, 26, 26, label_px=PNG_LARGE_LABEL_PX)[0].layout.label >= (
        _page_layout(32, 26, 26)[0].layout.label)


def test_npy_equals_the_captured_tensor():
    array = np.load(io.BytesIO(fv.layer_npy(MAPS["conv2"])), allow_pickle=False)
    assert array.dtype == np.float32 and np.array_equal(array, MAPS["conv2"].tensor.numpy())


def test_npz_holds_every_layer_and_the_input_and_respects_the_cap():
    archive = np.load(io.BytesIO(fv.capture_npz(MAPS)), allow_pickle=False)
    assert set(archive.files) == {*MAPS, "__input__"}
    for name, fmap in MAPS.items():
        assert np.array_equal(archive[name], fmap.tensor.numpy()), name
    assert capture_npz_size(MAPS) >= MAPS.nbytes  # the archive writes shared copies once per layer
    with pytest.raises(ValueError, match="over the"):
        fv.capture_npz(MAPS, max_bytes=1000)


def test_statistics_csv_has_a_row_per_channel_with_the_same_figures():
    stats = fv.channel_stats(MAPS["relu2"])
    rows = list(csv.DictReader(io.StringIO(fv.stats_csv(stats))))
    assert len(rows) == 64 and rows[5]["channel"] == "5"
    assert float(rows[5]["mean"]) == pytest.approx(float(stats.mean[5]))
    assert rows[5]["dead"] in ("True", "False")


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs)["src"])


def test_review_report_is_self_contained_with_the_grids_and_the_table():
    grids = [("conv1", fv.grid_png(MAPS["conv1"])), ("conv2", fv.grid_png(MAPS["conv2"]))]
    page = fv.review_report(
        title="review", model_label=MODEL.label, image=fv.load_sample("Handwritten 7"), image_name="Handwritten 7",
        predictions=fv.predict(MODEL, MAPS, top=3), summary=fv.layer_summary(MODEL, MAPS), grids=grids,
    )
    parser = _Images()
    parser.feed(page)
    assert len(parser.sources) == 3  # the input and two grids, all inlined
    for source in parser.sources:
        assert source.startswith("data:image/png;base64,")
        Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).verify()
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page) and "<script" not in page
    assert page.count("<tr>") == len(MAPS) + 1 and "7: " in page and "featviz digits (bundled)" in page
