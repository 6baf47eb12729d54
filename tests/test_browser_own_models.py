"""A person's own model in Chromium: exported by their framework, uploaded in the sidebar, its maps on screen."""

from __future__ import annotations

import warnings

import pytest
import torch

import featviz_core as fv
from tests.support.browser import TIMEOUT_MS, choose, grid_title, settled_texts, upload_file, wait_for_grid

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    page.goto(app_url)
    wait_for_grid(page, "conv1 · Conv2d · all 32 channels of 26×26", TIMEOUT_MS)
    yield page
    context.close()


def test_upload_an_onnx_model_with_its_weights_file_and_see_its_maps(page, tmp_path):
    """torch.onnx.export's defaults: model.onnx and model.onnx.data beside it, uploaded together."""
    digits = fv.load_model("digits_cnn", device="cpu").module
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(digits, (torch.zeros(1, 1, 28, 28),), tmp_path / "model.onnx", verbose=False)
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["model.onnx", "model.onnx.data"]
    choose(page, "Model", "Your own model (ONNX)")
    upload_file(page, "onnx", files)
    wait_for_grid(page, "ONNX: model.onnx", TIMEOUT_MS)
    assert grid_title(page).startswith("node_conv2d · Conv · all 32 channels of 26×26")
    caption = " ".join(settled_texts(page, '[data-testid="stSidebar"] [data-testid="stCaptionContainer"]'))
    assert "1 channel(s), 28×28, NCHW" in caption
    choose(page, "Layer", "node_conv2d_1")
    wait_for_grid(page, "node_conv2d_1 · Conv · all 64 channels of 11×11", TIMEOUT_MS)


def test_upload_the_lessons_keras_model_and_see_its_maps(page, tmp_path):
    from featviz_core.models._keras import lesson_model

    path = tmp_path / "lesson.keras"
    lesson_model().save(path)
    choose(page, "Model", "Your own model (Keras)")
    upload_file(page, "keras", path)
    wait_for_grid(page, "Keras: lesson.keras", TIMEOUT_MS)
    assert grid_title(page).startswith("conv2d · Conv2D · all 32 channels of 26×26")
    page.get_by_text("output after the layer's own relu activation").first.wait_for(timeout=TIMEOUT_MS)
    choose(page, "Layer", "conv2d_1")
    wait_for_grid(page, "conv2d_1 · Conv2D · all 64 channels of 11×11", TIMEOUT_MS)
