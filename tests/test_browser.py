"""A person's path through the real dashboard in Chromium: upload, see every channel, hover, change views.

Times from choosing a layer or normalization to the redrawn grid are printed (run with -s to see them);
they are measured, not asserted: targets live in bench/.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import sync_playwright

from tests.browser import choose, dashboard, grid_title, hover_tile, launch, wait_for_grid, wait_for_meta
from tests.conftest import encode, gradient_image

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    with dashboard(tmp_path_factory.mktemp("browser_torch_home")) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


def test_upload_an_image_and_see_every_channel_with_hover(app_url, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(app_url)
    wait_for_grid(page, "all 64 channels of 112×112")  # opens on a ready example
    assert "UNTRAINED" in grid_title(page)

    picture = tmp_path / "my-gradient.png"
    picture.write_bytes(encode(gradient_image(320, 240), "PNG"))
    page.locator('[data-testid="stSidebar"]').get_by_text("Upload", exact=True).click()
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(picture))
    page.get_by_text("Input · my-gradient.png · 320×240").wait_for(timeout=60_000)
    wait_for_grid(page, "conv1 · Conv2d · all 64 channels of 112×112")

    labels = page.locator(".js-plotly-plot .textpoint")
    assert labels.count() == 64
    assert labels.first.text_content() == "0" and labels.last.text_content() == "63"

    text = hover_tile(page, channel_position=5)
    assert re.search(r"channel 5\s*y \d+, x \d+\s*value( \(mean of \d+×\d+\))? -?\d", text), text
    page.close()


def test_layer_and_normalization_changes_redraw_the_grid(app_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(app_url)
    wait_for_grid(page, "all 64 channels")
    timings = {}
    for layer, expected in (("layer1.0.conv1", "all 64 channels of 56×56"), ("layer4.0.conv1", "all 512 channels of 7×7")):
        start = choose(page, "Layer", layer)
        wait_for_grid(page, f"{layer} · Conv2d · {expected}")
        timings[f"layer -> {expected}"] = time.perf_counter() - start

    start = choose(page, "Normalization", "Symmetric around zero")
    wait_for_meta(page, "normalization", "symmetric")
    wait_for_grid(page, "all 512 channels")
    timings["normalization -> symmetric (512 channels)"] = time.perf_counter() - start
    colorbar = page.evaluate("() => document.querySelector('.js-plotly-plot').data[3].marker")
    assert colorbar["cmin"] == -colorbar["cmax"] < 0
    for name, seconds in timings.items():
        print(f"browser timing: {name}: {seconds:.2f} s")
    page.close()


def test_take_a_picture_with_the_camera_and_see_its_maps(app_url, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1100}, permissions=["camera"])
    page = context.new_page()
    page.goto(app_url)
    wait_for_grid(page, "all 64 channels")
    page.locator('[data-testid="stSidebar"]').get_by_text("Camera", exact=True).click()
    page.wait_for_function(  # the fake camera's stream is live
        "() => { const v = document.querySelector('[data-testid=\"stCameraInput\"] video');"
        " return !!v && v.readyState >= 2 && v.videoWidth > 0; }",
        timeout=60_000,
    )
    page.locator('[data-testid="stCameraInput"] button').filter(has_text="Take Photo").click()
    page.get_by_text("Input · camera snapshot").wait_for(timeout=60_000)
    wait_for_grid(page, "conv1 · Conv2d · all 64 channels of 112×112")
    context.close()
