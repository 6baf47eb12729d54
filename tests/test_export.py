"""Exports are checked for content: the PNG's pixels and size, the arrays' values, the CSV, the report."""

from __future__ import annotations

import base64
import csv
import io
import re
from html.parser import HTMLParser

import numpy as np
import pytest
import torch
from PIL import Image

import featviz_core as fv
from featviz_core.colormaps import LEVELS, lookup_table
from featviz_core.export import PNG_MAX_SIDE, PNG_MIN_TILE, capture_npz_size
from featviz_core.grid import mosaic_layout
from featviz_core.normalize import normalize

MODEL = fv.load_model("digits_cnn")
MAPS = fv.capture(MODEL, fv.load_sample("Handwritten 7"))


def test_grid_png_decodes_with_tiles_large_enough_for_a_slide_and_the_right_colours():
    data = fv.grid_png(MAPS["conv1"], normalize="per_layer", colormap="magma", caption="digits · conv1")
    picture = Image.open(io.BytesIO(data)).convert("RGB")
    layout = mosaic_layout(32, 26, 26)
    scale = -(-PNG_MIN_TILE // 26)  # whole-step enlargement up to the minimum tile size
    assert picture.width > layout.mosaic_width * scale and picture.height > layout.mosaic_height * scale
    pixels = np.asarray(picture)
    levels = np.rint(normalize(MAPS["conv1"].tensor, "per_layer").values * (LEVELS - 1)).astype(int)
    expected = lookup_table("magma")[levels]
    top, left = layout.tile_origin(9)
    offset_y = pixels.shape[0] - layout.mosaic_height * scale - 16  # the mosaic sits 16 px from the bottom and left
    rows = slice(offset_y + top * scale, offset_y + (top + 26) * scale, scale)
    tile = pixels[rows, 16 + left * scale : 16 + (left + 26) * scale : scale]
    assert np.array_equal(tile, expected[9])


def test_big_layers_are_capped_and_small_ones_enlarged():
    big = Image.open(io.BytesIO(fv.grid_png(torch.rand(2048, 7, 7))))
    assert max(big.size) <= PNG_MAX_SIDE + 400
    small = Image.open(io.BytesIO(fv.grid_png(torch.rand(4, 3, 3))))
    assert small.width >= 2 * PNG_MIN_TILE


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
