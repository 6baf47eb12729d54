"""The dashboard through Streamlit's AppTest: what a user does in the sidebar and what the page shows."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import featviz_core as fv
from tests.conftest import RESNET18_FILE, encode, gradient_image, seed_resnet18

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(autouse=True)
def fresh_caches():
    """Models and captures are process-wide caches; each test starts without them."""
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


def start() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    return at


def grid_spec(at: AppTest) -> dict:
    charts = at.get("plotly_chart")
    assert len(charts) == 1, "the page shows exactly one grid"
    return json.loads(charts[0].proto.spec)


def typed(value) -> np.ndarray:
    """A Plotly typed array from the figure JSON ({"dtype", "bdata", "shape"}) as numpy."""
    if isinstance(value, dict):
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]).newbyteorder("<"))
        return array.reshape([int(n) for n in str(value.get("shape", array.size)).split(",")])
    return np.asarray(value, dtype=float)


def meta(at: AppTest) -> dict:
    return grid_spec(at)["layout"]["meta"]["featviz"]


def upload(at: AppTest, name: str, data: bytes, mime: str = "image/png") -> AppTest:
    if at.sidebar.radio(key="source").value != "Upload":
        at.sidebar.radio(key="source").set_value("Upload").run()
    at.sidebar.file_uploader(key="upload").set_value((name, data, mime)).run()
    assert not at.exception, at.exception
    return at


def test_opens_offline_on_a_ready_example_with_untrained_weights_said_plainly(torch_home):
    at = start()
    assert at.sidebar.radio(key="weights").value == "untrained"
    assert at.sidebar.selectbox(key="layer").value == "conv1"  # the first convolution
    assert meta(at) == {**meta(at), "channels_total": 64, "channels_shown": 64, "map_shape": [112, 112]}
    warning = " ".join(w.value for w in at.warning)
    assert "Untrained weights" in warning and RESNET18_FILE in warning
    assert str(torch_home / "hub" / "checkpoints") in warning
    assert "UNTRAINED" in grid_spec(at)["layout"]["title"]["text"]
    assert not at.error


def test_uploaded_image_is_the_one_whose_maps_are_shown():
    at = start()
    sample_values = typed(grid_spec(at)["data"][1]["z"])
    upload(at, "gradient.png", encode(gradient_image(300, 200), "PNG"))
    assert not at.error
    captions = [caption for element in at.get("image") for caption in element.captions]
    assert any("gradient.png" in caption and "300×200" in caption for caption in captions)
    uploaded_values = typed(grid_spec(at)["data"][1]["z"])
    assert uploaded_values.shape == sample_values.shape
    assert not np.array_equal(uploaded_values, sample_values, equal_nan=True)


def test_a_bad_upload_is_reported_and_the_previous_view_stays():
    at = start()
    upload(at, "good.png", encode(gradient_image(), "PNG"))
    before = grid_spec(at)
    upload(at, "notes.png", b"this is a text file, not a picture")
    assert any("notes.png" in e.value and "not an image" in e.value for e in at.error)
    assert grid_spec(at) == before  # same image, same maps


def test_layer_and_display_changes_never_rerun_the_model(monkeypatch):
    calls = []
    real_capture = fv.capture
    monkeypatch.setattr(fv, "capture", lambda *a, **k: calls.append(1) or real_capture(*a, **k))
    at = start()
    assert len(calls) == 1
    at.sidebar.selectbox(key="layer").set_value("layer4.1.conv2").run()
    assert meta(at)["channels_total"] == 512 and meta(at)["map_shape"] == [7, 7]
    at.sidebar.selectbox(key="normalization").set_value("symmetric").run()
    at.sidebar.selectbox(key="colormap").set_value(fv.DIVERGING).run()
    spec = grid_spec(at)
    bar = spec["data"][3]["marker"]
    assert spec["layout"]["meta"]["featviz"]["normalization"] == "symmetric"
    assert bar["cmin"] == -bar["cmax"] < 0
    at.sidebar.selectbox(key="normalization").set_value("percentile").run()
    at.sidebar.slider(key="percentiles").set_value((5.0, 95.0)).run()
    assert meta(at)["normalization"] == "percentile"
    at.sidebar.selectbox(key="normalization").set_value("raw").run()
    at.sidebar.number_input(key="vmin").set_value(0.0).run()
    at.sidebar.number_input(key="vmax").set_value(2.0).run()
    assert grid_spec(at)["data"][3]["marker"]["cmin"] == 0.0
    assert grid_spec(at)["data"][3]["marker"]["cmax"] == 2.0
    assert len(calls) == 1, "changing layer or display must reuse the cached activations"
    assert not at.exception


def test_pretrained_weights_from_the_cache_are_used_and_named(torch_home):
    seed_resnet18(torch_home)
    at = start()
    assert at.sidebar.radio(key="weights").value == "pretrained"
    assert "cached on this machine" in at.sidebar.radio(key="weights").options[0]
    title = grid_spec(at)["layout"]["title"]["text"]
    assert "IMAGENET1K_V1" in title and "UNTRAINED" not in title
    assert not at.warning and not at.error


def test_choosing_unavailable_weights_explains_and_offers_untrained(torch_home):
    at = start()
    before = grid_spec(at)
    at.sidebar.radio(key="weights").set_value("pretrained").run()
    error = " ".join(e.value for e in at.error)
    assert RESNET18_FILE in error and str(torch_home / "hub" / "checkpoints") in error
    assert grid_spec(at) == before  # the last view stays on screen
    assert any("Still showing" in i.value for i in at.info)
    at.sidebar.button(key="use_untrained").click().run()
    assert at.sidebar.radio(key="weights").value == "untrained" and not at.error


def test_switching_model_picks_that_models_first_convolution():
    at = start()
    at.sidebar.selectbox(key="layer").set_value("layer2.0.conv1").run()
    at.sidebar.selectbox(key="model").set_value("mobilenet_v3_small").run()
    assert at.sidebar.selectbox(key="layer").value == "features.0.0"
    assert meta(at)["channels_total"] == 16
    assert not at.exception


@pytest.mark.parametrize(("layer", "kind", "phrase"), [("fc", "vector", "vector of 1000 values"), ("avgpool", "maps", "")])
def test_layers_that_are_not_image_maps_are_shown_and_explained(layer, kind, phrase):
    at = start()
    at.sidebar.selectbox(key="layer").set_value(layer).run()
    assert meta(at)["kind"] == kind
    if phrase:
        assert any(phrase in i.value for i in at.info)


def test_every_sample_and_the_camera_source_work():
    at = start()
    for name in ("Stripes 45°", "Checkerboard"):
        at.sidebar.selectbox(key="sample").set_value(name).run()
        assert not at.exception and not at.error
    at.sidebar.radio(key="source").set_value("Camera").run()
    assert at.get("camera_input") and not at.exception
    assert any("Checkerboard" in c.value for c in at.sidebar.caption)  # still showing the last image
    values = typed(grid_spec(at)["data"][1]["z"])
    assert np.isfinite(values).any()
