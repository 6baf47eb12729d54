"""What a person gives (an image, weights, a TorchScript model) stays chosen on every page of their session."""

from __future__ import annotations

import io

import torch

import featviz_core as fv
from tests.support.apptest import choose_model, grid_spec, start, title, upload
from tests.support.images import encode, gradient_image

PAGES = ("pages/compare_layers.py", "pages/trained_vs_untrained.py", "pages/overview.py", "pages/explore.py")


def _markdown(at) -> str:
    return " ".join(m.value for m in at.sidebar.markdown)


def _no_stand_in(at) -> None:
    """No error and no "Still showing … until the model chosen in the sidebar can be used"."""
    assert not at.exception and not at.error
    assert not [w.value for w in at.warning if "Still showing" in w.value]


def test_an_uploaded_image_stays_chosen_on_every_page_until_removed():
    at = upload(start(), "mine.png", encode(gradient_image(300, 200), "PNG"))
    assert "Using your upload **mine.png**" in _markdown(at)
    before = grid_spec(at)
    for page in PAGES:
        at.switch_page(page).run()
        _no_stand_in(at)
        assert at.sidebar.radio(key="source").value == "Upload"
        assert "Using your upload **mine.png**" in _markdown(at), page
    assert grid_spec(at) == before  # back on the first page: the same maps of the same image
    at.sidebar.button(key="drop_upload").click().run()
    assert at.sidebar.radio(key="source").value == "Sample" and "mine.png" not in _markdown(at)
    assert grid_spec(at) != before


def test_a_bad_upload_after_a_good_one_is_reported_and_the_good_one_stays_in_use():
    at = upload(start(), "good.png", encode(gradient_image(), "PNG"))
    before = grid_spec(at)
    upload(at, "notes.png", b"just some notes")
    assert any("notes.png" in e.value for e in at.error)
    at.run()  # said again while the bad file sits in the uploader, without reading it again
    assert any("notes.png" in e.value for e in at.error)
    assert "Using your upload **good.png**" in _markdown(at) and grid_spec(at) == before


def _state_dict(module: torch.nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return buffer.getvalue()


def test_uploaded_weights_stay_chosen_on_every_page_until_removed():
    at = choose_model(start(), "resnet18", "upload")
    weights = ("mine.pth", _state_dict(fv.load_model("resnet18", weights=None).module), "application/octet-stream")
    at.sidebar.file_uploader(key="weights_file").set_value(weights).run()
    assert "uploaded mine.pth" in title(at)
    for page in PAGES:
        at.switch_page(page).run()
        _no_stand_in(at)
        assert at.sidebar.radio(key="weights").value == "upload"
        assert any("Using your weights **mine.pth**" in s.value for s in at.sidebar.success), page
    assert "uploaded mine.pth" in title(at)
    at.sidebar.button(key="drop_weights_file").click().run()
    assert at.sidebar.radio(key="weights").value == "pretrained" and not at.sidebar.success


def test_weights_for_one_architecture_are_not_used_for_another():
    at = choose_model(start(), "digits_cnn", "upload")
    weights = ("digits.pth", _state_dict(fv.load_model("digits_cnn").module), "application/octet-stream")
    at.sidebar.file_uploader(key="weights_file").set_value(weights).run()
    at.switch_page("pages/overview.py").run()
    choose_model(at, "resnet18", "upload")
    assert not at.sidebar.success  # digits weights are not resnet18's: the sidebar asks for a file
    choose_model(at, "digits_cnn", "upload")
    assert any("Using your weights **digits.pth**" in s.value for s in at.sidebar.success)


def test_an_uploaded_torchscript_model_and_its_input_size_stay_chosen_on_every_page():
    any_size = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1)).eval()
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(any_size), buffer)
    at = choose_model(start(), "Your own model (TorchScript)")
    at.sidebar.file_uploader(key="own_model").set_value(("mine.pt", buffer.getvalue(), "application/octet-stream"))
    at.run()
    at.sidebar.number_input(key="own_size").set_value(32).run()
    assert "TorchScript: mine.pt" in title(at) and not at.error
    assert "of 30×30" in title(at)  # a 3×3 convolution of the 32×32 input
    for page in PAGES:
        at.switch_page(page).run()
        _no_stand_in(at)
        assert "Using your model **mine.pt**" in _markdown(at), page
        assert at.sidebar.number_input(key="own_size").value == 32
    assert "TorchScript: mine.pt" in title(at) and "of 30×30" in title(at)
    assert any("3 channel(s), 32×32" in c.value for c in at.sidebar.caption)
    at.sidebar.button(key="drop_own_model").click().run()
    assert at.sidebar.selectbox(key="model").value == "digits_cnn" and "TorchScript" not in title(at)
