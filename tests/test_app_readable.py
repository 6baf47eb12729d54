"""Readable at every size, through AppTest: a 2048-channel layer opens on a readable subset with every
channel one click away, single values are bars, and the presentation setting follows the person around."""

from __future__ import annotations

import json

import pytest

from featviz_core.draw._grid import PRESENTATION_WIDTH
from tests.support.apptest import grid_spec, meta, open_link, start


def captions(at) -> str:
    return " | ".join(caption.value for caption in at.caption)


def test_2048_channels_open_readable_and_every_channel_is_reachable():
    at = open_link(model="resnet50", weights="untrained", layer="layer4.2.conv3")
    assert meta(at)["channels_total"] == 2048 and meta(at)["channels_shown"] == 64
    assert "The 64 most active of 2048 channels (highest max), by channel number." in captions(at)
    assert "64 of 2048 channels" in grid_spec(at)["layout"]["title"]["text"]
    assert [b.proto.label for b in at.get("download_button")][0] == "Grid as PNG"  # 64 tiles: one page

    show_all = at.button(key="show_all")
    assert show_all.proto.label == "Show all 2048" and "8 pages" in show_all.proto.help
    show_all.click().run()
    assert not at.exception
    assert meta(at)["channels_shown"] == 256 and "Channels 0–255 of 2048 (page 1 of 8)." in captions(at)
    assert at.sidebar.selectbox(key="show").value == "all"
    assert [b.proto.label for b in at.get("download_button")][0].startswith("Grid as ZIP (")  # every page

    at.session_state["grid_page"] = 8  # the last page, as its button in the pager
    at.run()
    assert not at.exception
    assert grid_spec(at)["data"][2]["text"] == [str(c) for c in range(1792, 2048)]
    assert "Channels 1792–2047 of 2048 (page 8 of 8)." in captions(at)


def test_a_linear_layer_is_drawn_as_bars_and_the_caption_says_why():
    at = open_link(layer="fc2")
    spec = grid_spec(at)
    assert [trace["type"] for trace in spec["data"]] == ["bar", "scatter"]  # bars and their colour bar
    assert meta(at)["kind"] == "vector" and meta(at)["drawn_as"] == "bars"
    assert "Per-channel min–max does not apply to single values" in captions(at)
    assert "All 10 channels, numbered from 0." in captions(at)


def test_the_presentation_setting_is_remembered_across_pages_and_kept_in_links():
    at = start()
    assert not meta(at)["large_text"] and meta(at)["label_px"] < 16
    at.sidebar.toggle(key="presentation").set_value(True).run()
    assert meta(at)["large_text"] and meta(at)["label_px"] >= 16
    assert meta(at)["display_width"] == PRESENTATION_WIDTH  # laid out for a 1024×768 projector
    assert at.query_params["presentation"] in ("true", ["true"])
    at.switch_page("pages/compare_layers.py").run()
    assert not at.exception and at.sidebar.toggle(key="presentation").value
    grids = [json.loads(c.proto.spec)["layout"]["meta"]["featviz"] for c in at.get("plotly_chart")]
    assert grids and all(grid["large_text"] and grid["label_px"] >= 16 for grid in grids)

    linked = open_link(presentation="true")
    assert linked.sidebar.toggle(key="presentation").value and meta(linked)["large_text"]


@pytest.mark.slow  # vgg-sized first layer through the page: about 1.4 s
def test_a_large_first_layer_is_sent_reduced_and_the_page_says_so(one_torch_thread):
    """VGG's first layer is 64 maps of 224×224, 4.4 MB of figure at full resolution: it is drawn at half
    resolution (within 2 MB), the caption says so, and the channel opened below is drawn at full resolution."""
    at = open_link(model="vgg11", weights="untrained", layer="features.0")
    info = meta(at)
    assert info["map_shape"] == [224, 224] and info["picture_scale"] == 2 and info["tile_shape"] == [112, 112]
    assert len(json.dumps(grid_spec(at))) <= 2 * 2**20
    captions = " ".join(c.value for c in at.caption)
    assert "Tiles are drawn at 1/2 of their 224×224 pixels (each the mean of 2×2)" in captions
    assert "drawn at full resolution" in captions
