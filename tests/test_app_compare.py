"""The compare pages through AppTest: two images on one colour scale with their difference; two layers in
depth order."""

from __future__ import annotations

import re

import numpy as np
import pytest

import featviz_core as fv
from featviz_core.cache import compact
from tests.support.apptest import chart, open_link, start, typed

DIGITS = fv.load_model("digits_cnn")
SEVEN, TWO = (compact(fv.capture(DIGITS, fv.load_sample(name))) for name in ("Handwritten 7", "Handwritten 2"))


def colour_bar(spec: dict) -> tuple[float, float]:
    """(cmin, cmax) of the colour bar in a figure's JSON: the one trace that shows a scale."""
    bars = [trace["marker"] for trace in spec["data"] if trace.get("marker", {}).get("showscale")]
    assert len(bars) == 1
    return bars[0]["cmin"], bars[0]["cmax"]


def hover_values(spec: dict) -> np.ndarray:
    """The raw values a figure carries for hover (NaN in gaps and label strips)."""
    return typed(next(trace for trace in spec["data"] if trace.get("name") == "values")["z"])


def compare_images(second: str = "Handwritten 2", normalization: str | None = None):
    at = start()
    at.switch_page("pages/compare_images.py").run()
    at.sidebar.selectbox(key="sample_b").set_value(second).run()
    if normalization is not None:
        at.sidebar.selectbox(key="normalization").set_value(normalization).run()
    assert not at.exception, at.exception
    return at


def intro(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("Layer **"))


def test_compare_two_images_through_the_same_layer():
    at = compare_images()
    shown = [chart(at, "image_left")["layout"]["title"]["text"], chart(at, "image_right")["layout"]["title"]["text"]]
    assert all(t.startswith("conv1 · Conv2d · all 32 channels") for t in shown)
    assert "Handwritten 7" in shown[0] and "Handwritten 2" in shown[1]
    predictions = [c.value for c in at.caption if c.value.startswith("predicts")]
    assert [re.fullmatch(r"predicts \*\*(\d)\*\* \((\d+)%\)", text).groups()[0] for text in predictions] == ["7", "2"]
    assert all(int(re.search(r"\((\d+)%\)", text).group(1)) >= 50 for text in predictions)  # read, and confidently


@pytest.mark.parametrize(
    ("normalization", "expected"),
    [
        ("per_layer", lambda both: (both.min(), both.max())),
        ("symmetric", lambda both: (-np.abs(both).max(), np.abs(both).max())),
        ("percentile", lambda both: tuple(np.percentile(both, [1, 99]))),
    ],
)
def test_a_shared_normalization_draws_both_images_on_one_scale(normalization, expected):
    at = compare_images(normalization=normalization)
    left, right = colour_bar(chart(at, "image_left")), colour_bar(chart(at, "image_right"))
    both = np.concatenate([SEVEN["conv1"].tensor.float().numpy().ravel(), TWO["conv1"].tensor.float().numpy().ravel()])
    assert left == right == pytest.approx(expected(both), rel=1e-5)
    assert "one scale shared by both images" in intro(at)


def test_per_channel_says_each_side_is_scaled_on_its_own_and_offers_one_scale():
    at = compare_images()
    assert "own minimum and maximum on each side" in intro(at) and "same normalization" not in intro(at)
    at.button(key="one_scale").click().run()
    assert at.sidebar.selectbox(key="normalization").value == "per_layer"
    assert colour_bar(chart(at, "image_left")) == colour_bar(chart(at, "image_right")) != (0.0, 1.0)


def test_the_difference_map_is_left_minus_right_and_names_the_channels_that_change_most():
    at = compare_images()
    spec = chart(at, "image_difference")
    delta = SEVEN["conv1"].tensor.float() - TWO["conv1"].tensor.float()
    bound = float(delta.abs().max())
    assert colour_bar(spec) == pytest.approx((-bound, bound))
    assert spec["layout"]["meta"]["featviz"]["normalization"] == "symmetric"
    values = hover_values(spec)
    assert (np.nanmin(values), np.nanmax(values)) == pytest.approx((float(delta.min()), float(delta.max())))
    top = np.argsort(-delta.abs().mean(dim=(1, 2)).numpy())[:5]
    text = " ".join(m.value for m in at.markdown)
    assert "**red** where Handwritten 7 activates the channel more" in text
    assert f"Channels that change most (mean |difference|): {top[0]} (" in text


def test_the_same_image_on_both_sides_has_an_all_zero_difference():
    at = compare_images(second="Handwritten 7")
    values = hover_values(chart(at, "image_difference"))
    assert np.nanmax(np.abs(values)) == 0.0
    assert any("The two maps are identical" in m.value for m in at.markdown)


def layer_titles(at) -> list[str]:
    return [chart(at, f"layer_{side}")["layout"]["title"]["text"].split(" · ")[0] for side in ("left", "right")]


def test_compare_two_layers_defaults_to_first_and_second_convolution():
    at = start()
    at.switch_page("pages/compare_layers.py").run()
    assert not at.exception
    assert layer_titles(at) == ["conv1", "conv2"]
    assert [s.value for s in at.subheader] == ["Shallower: conv1", "Deeper: conv2"]


@pytest.mark.parametrize("carried", ["conv2", "relu2"])
def test_a_deeper_layer_carried_from_explore_goes_right(carried):
    at = start()
    at.sidebar.selectbox(key="layer").set_value(carried).run()
    at.switch_page("pages/compare_layers.py").run()
    assert not at.exception
    assert layer_titles(at) == ["conv1", carried]


def test_picking_a_shallower_layer_to_compare_with_moves_it_left():
    at = start()
    at.switch_page("pages/compare_layers.py").run()
    at.sidebar.selectbox(key="layer").set_value("pool2").run()
    at.sidebar.selectbox(key="layer_b").set_value("relu1").run()
    assert layer_titles(at) == ["relu1", "pool2"]


def test_a_shared_compare_layers_link_shows_both_of_its_layers():
    at = open_link(layer="pool1", layer_b="conv1")
    at.switch_page("pages/compare_layers.py").run()
    assert not at.exception
    assert at.sidebar.selectbox(key="layer").value == "pool1" and at.sidebar.selectbox(key="layer_b").value == "conv1"
    assert layer_titles(at) == ["conv1", "pool1"]
