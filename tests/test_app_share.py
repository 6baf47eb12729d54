"""Downloads on the page, and the view restored from a shared link (query parameters)."""

from __future__ import annotations

from tests.support.apptest import chart, meta, open_link


def test_download_buttons_for_png_npy_npz_csv_and_the_report():
    at = open_link()
    labels = [button.proto.label for button in at.get("download_button")]
    assert labels[:4] == ["Grid as PNG", "This layer as .npy", labels[2], "Statistics as CSV"]
    assert labels[2].startswith("All layers as .npz (")
    at.switch_page("pages/overview.py").run()
    assert [b.proto.label for b in at.get("download_button")] == ["Download the review report (HTML)"]


def test_a_shared_link_restores_model_weights_layer_display_channel_and_sample():
    at = open_link(model="resnet18", weights="untrained", layer="layer2.0.conv1", normalization="symmetric",
                   colormap="magma", channel="7", sample="Checkerboard")
    assert at.sidebar.selectbox(key="model").value == "resnet18"
    assert at.sidebar.radio(key="weights").value == "untrained"
    assert at.sidebar.selectbox(key="sample").value == "Checkerboard"
    assert at.sidebar.selectbox(key="layer").value == "layer2.0.conv1"
    assert meta(at)["normalization"] == "symmetric" and meta(at)["colormap"] == "magma"
    assert at.number_input(key="channel").value == 7
    at.session_state["closeup_open"] = True
    assert chart(at.run(), "closeup")["layout"]["meta"]["featviz"]["channel"] == 7
    assert not at.info or all("link" not in i.value for i in at.info)


def test_stale_link_values_fall_back_to_defaults_with_a_note():
    at = open_link(model="resnet9000", layer="nope", normalization="loud", channel="999")
    notes = " ".join(i.value for i in at.info)
    for asked, fallback in (("resnet9000", "digits_cnn"), ("nope", "conv1"), ("loud", "per_channel"), ("999", "0")):
        assert f"**{asked}**, which is not available here; showing **{fallback}**" in notes
    assert at.sidebar.selectbox(key="model").value == "digits_cnn" and meta(at)["channels_total"] == 32
    assert not at.error


def test_a_link_from_an_uploaded_image_says_the_image_could_not_travel():
    at = open_link(source="Upload", layer="conv2")
    assert any("cannot travel in a link" in i.value for i in at.info)
    assert at.sidebar.selectbox(key="layer").value == "conv2"  # everything else is restored
