"""The dashboard through Streamlit's AppTest: what a user does in the sidebar and what the page shows."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torchvision

import featviz_core as fv
import featviz_core.cache
from featviz_core.draw._colormaps import DIVERGING
from featviz_core.samples import DEFAULT_SAMPLE
from tests.support.apptest import chart, choose_model, grid_spec, meta, start, title, typed, upload
from tests.support.images import encode, gradient_image
from tests.support.weights import RESNET18_FILE, seed_resnet18


def state_dict_bytes(module: torch.nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return buffer.getvalue()


def test_opens_offline_on_the_trained_digits_cnn_with_the_right_prediction():
    at = start()
    assert at.sidebar.selectbox(key="model").value == "digits_cnn"
    assert at.sidebar.radio(key="weights").value == "pretrained"
    assert at.sidebar.selectbox(key="sample").value == DEFAULT_SAMPLE == "Handwritten 7"
    assert at.sidebar.selectbox(key="layer").value == "conv1"
    assert meta(at)["channels_total"] == 32 and meta(at)["map_shape"] == [26, 26]
    assert "featviz digits (bundled)" in title(at) and "UNTRAINED" not in title(at)
    assert at.metric[0].value == "7"
    assert not at.error and not at.warning


def test_every_bundled_digit_is_predicted_right():
    at = start()
    for digit in range(10):
        at.sidebar.selectbox(key="sample").set_value(f"Handwritten {digit}").run()
        assert at.metric[0].value == str(digit), f"Handwritten {digit} predicted {at.metric[0].value}"


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
    monkeypatch.setattr(featviz_core.cache, "capture", lambda *a, **k: calls.append(1) or real_capture(*a, **k))
    at = start()
    choose_model(at, "resnet18", "untrained")
    assert len(calls) == 2  # digits_cnn on start, then resnet18
    at.sidebar.selectbox(key="layer").set_value("layer4.1.conv2").run()
    assert meta(at)["channels_total"] == 512 and meta(at)["map_shape"] == [7, 7]
    at.sidebar.selectbox(key="normalization").set_value("symmetric").run()
    at.sidebar.selectbox(key="colormap").set_value(DIVERGING).run()
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
    assert (grid_spec(at)["data"][3]["marker"]["cmin"], grid_spec(at)["data"][3]["marker"]["cmax"]) == (0.0, 2.0)
    assert len(calls) == 2, "changing layer or display must reuse the cached activations"
    assert not at.exception


def test_zoo_weights_from_the_seeded_cache_are_used_and_named(torch_home):
    seed_resnet18(torch_home)
    at = choose_model(start(), "resnet18")
    assert at.sidebar.radio(key="weights").value == "pretrained"
    assert at.sidebar.radio(key="weights").proto.captions[0] == "cached on this machine"
    assert "IMAGENET1K_V1" in title(at) and "UNTRAINED" not in title(at)
    assert not at.warning and not at.error
    assert at.metric[0].label.startswith("Prediction")  # ImageNet class names


def test_unavailable_zoo_weights_name_the_file_and_offer_untrained(torch_home):
    at = start()
    before = grid_spec(at)
    choose_model(at, "resnet18")  # pretrained, offline, not cached
    sidebar_errors = " ".join(e.value for e in at.sidebar.error)
    assert RESNET18_FILE in sidebar_errors and str(torch_home / "hub" / "checkpoints") in sidebar_errors
    assert grid_spec(at) == before  # the digits view stays on screen
    assert any("Still showing" in w.value for w in at.warning)
    at.sidebar.button(key="use_untrained").click().run()
    assert at.sidebar.radio(key="weights").value == "untrained" and not at.error
    assert "UNTRAINED" in title(at) and any("Untrained weights" in w.value for w in at.warning)


def test_uploaded_state_dict_for_a_zoo_model_is_checked_and_used():
    at = choose_model(start(), "squeezenet1_1")
    at.sidebar.button(key="upload_weights").click().run()
    assert at.sidebar.radio(key="weights").value == "upload"
    torch.manual_seed(1)
    module = torchvision.models.squeezenet1_1(weights=None)
    upload = ("my-squeeze.pth", state_dict_bytes(module), "application/octet-stream")
    at.sidebar.file_uploader(key="weights_file").set_value(upload).run()
    assert not at.exception and not at.error
    assert "uploaded my-squeeze.pth" in title(at)
    assert any("every tensor matches" in s.value for s in at.sidebar.success)


def test_state_dict_for_the_wrong_architecture_is_refused_with_the_misfits_listed():
    at = choose_model(start(), "squeezenet1_1", "upload")
    before = grid_spec(at)
    wrong = state_dict_bytes(fv.load_model("digits_cnn").module)
    at.sidebar.file_uploader(key="weights_file").set_value(("digits.pth", wrong, "application/octet-stream")).run()
    message = " ".join(e.value for e in at.error)
    assert "digits.pth" in message and "does not fit squeezenet1_1" in message and "missing" in message
    assert grid_spec(at) == before


def test_a_pickled_full_model_is_refused_and_explained():
    at = choose_model(start(), "digits_cnn", "upload")
    buffer = io.BytesIO()
    torch.save(fv.load_model("digits_cnn").module, buffer)  # the whole module, pickled
    upload = ("whole.pth", buffer.getvalue(), "application/octet-stream")
    at.sidebar.file_uploader(key="weights_file").set_value(upload).run()
    message = " ".join(e.value for e in at.error)
    assert "does not unpickle" in message and "state_dict()" in message


def test_torchscript_model_upload_shows_its_maps_and_can_be_turned_off(setting):
    scripted = torch.jit.script(fv.load_model("digits_cnn").module.cpu())
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    at = choose_model(start(), "Your own model (TorchScript)")
    upload = ("mine.pt", buffer.getvalue(), "application/octet-stream")
    at.sidebar.file_uploader(key="own_model").set_value(upload).run()
    assert not at.exception and not at.error
    assert "TorchScript: mine.pt" in title(at)
    assert meta(at)["channels_total"] == 32 and meta(at)["map_shape"] == [26, 26]
    setting("FEATVIZ_ALLOW_TORCHSCRIPT", "0")
    at.run()
    assert any("does not accept TorchScript" in i.value for i in at.sidebar.info)


def test_switching_model_picks_that_models_first_convolution():
    at = start()
    choose_model(at, "mobilenet_v3_small", "untrained")
    assert at.sidebar.selectbox(key="layer").value == "features.0.0"
    assert meta(at)["channels_total"] == 16


@pytest.mark.parametrize(("layer", "kind", "phrase"), [("fc2", "vector", "vector of 10 values"), ("pool2", "maps", "")])
def test_layers_that_are_not_image_maps_are_shown_and_explained(layer, kind, phrase):
    at = start()
    at.sidebar.selectbox(key="layer").set_value(layer).run()
    assert meta(at)["kind"] == kind
    if phrase:
        assert any(phrase in i.value for i in at.info)


def test_sample_photos_patterns_and_the_camera_source():
    at = start()
    for name in ("Stripes 45°", "Cat (Chelsea)"):
        at.sidebar.selectbox(key="sample").set_value(name).run()
        assert not at.exception and not at.error
    at.sidebar.radio(key="source").set_value("Camera").run()
    assert at.get("camera_input") and not at.exception
    assert any("Cat (Chelsea)" in c.value for c in at.sidebar.caption)  # still showing the last image


def test_trained_vs_untrained_page_shows_both_grids_of_the_same_layer():
    at = start()
    at.sidebar.selectbox(key="layer").set_value("conv2").run()
    at.switch_page("pages/trained_vs_untrained.py").run()
    assert not at.exception
    grids = [chart(at, "compare_trained"), chart(at, "compare_untrained")]
    titles = [g["layout"]["title"]["text"] for g in grids]
    assert len(grids) == 2 and all("conv2 · Conv2d · all 64 channels of 11×11" in t for t in titles), titles
    assert "featviz digits (bundled)" in titles[0] and "UNTRAINED" in titles[1]
    assert any("What the difference means" in m.value for m in at.markdown)
