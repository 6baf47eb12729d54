"""The analysis views through AppTest: ordering, statistics, one channel up close, filters, other pages."""

from __future__ import annotations

import json

import featviz_core as fv
from tests.support.apptest import chart, grid_spec, meta, start

DIGITS = fv.load_model("digits_cnn")
SEVEN = fv.capture(DIGITS, fv.load_sample("Handwritten 7"))


def titles(at) -> list[str]:
    return [spec["layout"]["title"]["text"] for spec in (json.loads(c.proto.spec) for c in at.get("plotly_chart"))
            if "title" in spec["layout"] and "text" in spec["layout"]["title"]]


def test_grid_can_be_ordered_by_a_statistic_and_cut_to_the_top_channels():
    at = start()
    at.sidebar.selectbox(key="order_by").set_value("max").run()
    at.sidebar.selectbox(key="show").set_value(16).run()
    expected = fv.channel_stats(SEVEN["conv1"]).order("max", top=16)
    spec = grid_spec(at)
    assert [int(t) for t in spec["data"][2]["text"]] == expected
    assert meta(at)["channels_shown"] == 16 and "16 of 32 channels" in spec["layout"]["title"]["text"]
    assert any("ordered by max" in c.value for c in at.caption)


def test_dead_channels_can_be_hidden_and_the_layer_summary_counts_them():
    at = start()
    at.sidebar.selectbox(key="layer").set_value("relu2").run()
    stats = fv.channel_stats(SEVEN["relu2"])
    assert any(stats.summary() in m.value for m in at.markdown)
    at.sidebar.toggle(key="hide_dead").set_value(True).run()
    assert meta(at)["channels_shown"] == stats.channels - int(stats.dead.sum())


def open_sections(at, *keys: str):
    """Open lazily built expanders (statistics, close-up, filters), as a click on their header does."""
    for key in keys:
        at.session_state[key] = True
    return at.run()


def test_heavy_sections_are_built_only_when_opened():
    at = start()
    charts = {c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart")}
    assert not at.dataframe and charts == {"prediction", "grid"}


def test_statistics_table_has_a_row_per_channel():
    at = open_sections(start(), "stats_open")
    table = at.dataframe[0].value
    assert len(table) == 32 and {"mean", "max", "std", "sparsity", "max_at", "hf_energy", "dead", "constant",
                                 "noise_like"} <= set(table.columns)


def test_one_channel_up_close_with_histogram_and_overlay():
    at = start()
    at.number_input(key="channel").set_value(5).run()  # picking a channel opens its close-up
    assert not at.exception
    closeup = chart(at, "closeup")
    assert closeup["layout"]["meta"]["featviz"]["channel"] == 5
    assert "channel 5 · 26×26" in closeup["layout"]["title"]["text"]
    assert any("Values of channel 5" in t for t in titles(at))
    assert any("Channel 5 over the input" in caption for image in at.get("image") for caption in image.captions)


def test_filters_and_output_shape_of_a_convolution_are_explained():
    at = open_sections(start(), "inside_open")
    text = " ".join(m.value for m in at.markdown)
    assert "height: out = ⌊(28 − 3 + 2·0)/1⌋ + 1 = 26" in text
    assert any("All 32 filters (3×3, one input channel" in t for t in titles(at))


def test_model_overview_page_lists_every_layer():
    at = start()
    at.switch_page("pages/overview.py").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["layer"]) == list(SEVEN) and list(table["parameters"])[0] == 32 * 9 + 32
    assert any("Sparsity (fraction of zeros)" in str(json.loads(c.proto.spec)) for c in at.get("plotly_chart"))

