"""Downloads on the page, and the view restored from a shared link (query parameters)."""

from __future__ import annotations

from tests.support.apptest import chart, choose_model, meta, open_link, start


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


def test_the_link_carries_the_plain_layer_name():
    at = choose_model(start(), "resnet18", "untrained")
    at.sidebar.selectbox(key="layer").set_value("layer1.0.conv1").run()
    assert at.query_params["layer"] == "layer1.0.conv1"
    at.switch_page("pages/compare_layers.py").run()
    at.sidebar.selectbox(key="layer_b").set_value("layer2.0.downsample.0").run()
    assert at.query_params["layer_b"] == "layer2.0.downsample.0"


def test_an_older_link_with_a_label_still_opens_its_layer():
    at = open_link(model="resnet18", weights="untrained", layer="\u2003\u2003layer1.0.conv1 · Conv2d · 64×56×56")
    assert at.sidebar.selectbox(key="layer").value == "layer1.0.conv1"
    assert not at.info


def test_a_layer_left_in_the_address_by_another_page_is_not_taken_for_a_link():
    at = start()
    at.sidebar.selectbox(key="layer").set_value("pool2").run()
    at.switch_page("pages/overview.py").run()
    choose_model(at, "resnet18", "untrained")  # no layer picker here: the address keeps layer=pool2
    at.switch_page("pages/explore.py").run()
    assert at.sidebar.selectbox(key="layer").value == "conv1"  # resnet18's first convolution
    assert not [i.value for i in at.info if "link" in i.value]


def test_a_layer_the_session_wrote_into_the_address_is_not_read_back_as_a_link():
    at = start()
    at.switch_page("pages/compare_layers.py").run()
    assert at.sidebar.selectbox(key="layer_b").value == "conv2"  # the address now holds layer_b=conv2
    at.switch_page("pages/explore.py").run()
    at.sidebar.selectbox(key="layer").set_value("conv2").run()
    at.switch_page("pages/compare_layers.py").run()  # conv2 is carried over: it gets a new partner
    assert at.sidebar.selectbox(key="layer").value == "conv2"
    assert at.sidebar.selectbox(key="layer_b").value == "conv1"
