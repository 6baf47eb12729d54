"""A person's path through the real dashboard in Chromium: upload, see every channel, hover, change views.

Times from choosing a layer or normalization to the redrawn grid are printed (run with -s to see them);
they are measured, not asserted: targets live in bench/. Every check reads a settled page (see
tests.support.browser): Streamlit idle and the value read unchanged over several polls.
"""

from __future__ import annotations

import io
import re
import time

import pytest
import torch
import torchvision
from PIL import Image

from tests.support.browser import (
    GRID,
    TIMEOUT_MS,
    choose,
    click_tile,
    grid_title,
    hover_tile,
    settle,
    settled_box,
    settled_texts,
    sidebar_click,
    upload_file,
    use_untrained_zoo_model,
    wait_for_grid,
    wait_for_meta,
    wait_for_plot,
)
from tests.support.images import encode, gradient_image

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]  # room for a first model load on a busy machine
VIEWPORT = {"width": 1400, "height": 1100}



@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport=VIEWPORT, permissions=["camera"])
    page = context.new_page()
    page.goto(app_url)
    wait_for_grid(page, "conv1 · Conv2d · all 32 channels of 26×26", TIMEOUT_MS)  # opens on the trained digits CNN
    yield page
    context.close()


def test_opens_on_the_trained_digits_model_with_its_prediction(page):
    assert "featviz digits (bundled)" in grid_title(page) and "UNTRAINED" not in grid_title(page)
    assert settled_texts(page, '[data-testid="stMetricValue"]')[0] == "7"


def test_the_server_warmed_the_example_it_opens_on_as_it_started(page, app_home):
    """The shared server was started with its warm-up on (as `streamlit run app.py` is): it says so in its own
    console once the digits CNN, its 7, conv1's statistics and grid are in the shared caches."""
    deadline = time.monotonic() + 120
    log = app_home / "streamlit.log"
    while "featviz: the default example is warmed" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.5)
    assert "warming the default example failed" not in log.read_text()


def test_upload_an_image_and_see_every_channel_with_hover(page, tmp_path):
    picture = tmp_path / "my-gradient.png"
    picture.write_bytes(encode(gradient_image(320, 240), "PNG"))
    sidebar_click(page, "Upload")
    upload_file(page, "upload", picture)
    page.get_by_text("Input · my-gradient.png · 320×240").wait_for(timeout=TIMEOUT_MS)
    wait_for_grid(page, "conv1 · Conv2d · all 32 channels of 26×26", TIMEOUT_MS)

    labels = settled_texts(page, f"{GRID} .textpoint")  # while Streamlit reruns, two grids can show: 64 labels
    assert labels == [str(channel) for channel in range(32)], labels
    text = hover_tile(page, channel_position=5)
    assert re.search(r"channel 5\s*y \d+, x \d+\s*value( \(mean of \d+×\d+\))? -?\d", text), text


def test_layer_and_normalization_changes_redraw_the_grid(page):
    use_untrained_zoo_model(page, "resnet18", TIMEOUT_MS)
    wait_for_grid(page, "conv1 · Conv2d · all 64 channels of 112×112", TIMEOUT_MS)
    timings = {}
    for layer, expected in (
        ("layer1.0.conv1", "all 64 channels of 56×56"), ("layer4.0.conv1", "64 of 512 channels of 7×7")
    ):
        start = choose(page, "Layer", layer)
        wait_for_grid(page, f"{layer} · Conv2d · {expected}", TIMEOUT_MS)
        timings[f"layer -> {expected}"] = time.perf_counter() - start
    start = choose(page, "Normalization", "Symmetric around zero")
    wait_for_meta(page, "normalization", "symmetric", TIMEOUT_MS)
    wait_for_grid(page, "64 of 512 channels", TIMEOUT_MS)  # a large layer opens on its 64 most active
    timings["normalization -> symmetric (512 channels)"] = time.perf_counter() - start
    colorbar = settle(page, "(s) => document.querySelector(s).data[3].marker", GRID)
    assert colorbar["cmin"] == -colorbar["cmax"] < 0
    for name, seconds in timings.items():
        print(f"browser timing: {name}: {seconds:.2f} s")


def test_take_a_picture_with_the_camera_and_see_its_maps(page):
    sidebar_click(page, "Camera")
    page.wait_for_function(  # the fake camera's stream is live
        """() => { const v = document.querySelector('[data-testid="stCameraInput"] video');
                   return !!v && v.readyState >= 2 && v.videoWidth > 0; }""",
        timeout=TIMEOUT_MS,
    )
    page.locator('[data-testid="stCameraInput"] button').filter(has_text="Take Photo").click()
    page.get_by_text("Input · camera snapshot").wait_for(timeout=TIMEOUT_MS)
    wait_for_grid(page, "conv1 · Conv2d · all 32 channels of 26×26", TIMEOUT_MS)


def test_upload_a_state_dict_for_a_zoo_model_and_see_its_maps(page, tmp_path):
    choose(page, "Model", "squeezenet1_1")  # offline: its pretrained weights are not here
    page.get_by_text("squeezenet1_1-b8a52dc0.pth").first.wait_for(timeout=TIMEOUT_MS)
    sidebar_click(page, "Upload it")
    torch.manual_seed(7)
    weights = tmp_path / "my-squeezenet.pth"
    buffer = io.BytesIO()
    torch.save(torchvision.models.squeezenet1_1(weights=None).state_dict(), buffer)
    weights.write_bytes(buffer.getvalue())
    upload_file(page, "weights_file", weights)
    wait_for_grid(page, "uploaded my-squeezenet.pth", TIMEOUT_MS)
    assert "features.0 · Conv2d · all 64 channels" in grid_title(page)
    page.get_by_text("my-squeezenet.pth: every tensor matches squeezenet1_1.").wait_for(timeout=TIMEOUT_MS)


def test_trained_vs_untrained_page_in_the_browser(page):
    choose(page, "Layer", "conv2")
    wait_for_grid(page, "conv2 · Conv2d", TIMEOUT_MS)
    page.get_by_role("link", name="Trained vs untrained").click()
    page.get_by_text("What the difference means.").wait_for(timeout=TIMEOUT_MS)
    for key in ("compare_trained", "compare_untrained"):
        wait_for_plot(page, f".st-key-{key} .js-plotly-plot", "conv2 · Conv2d · all 64 channels", mosaic=True,
                      timeout=TIMEOUT_MS)


def test_order_the_grid_and_open_a_channel_from_the_statistics_table(page):
    choose(page, "Order channels by", "Max")
    choose(page, "Show", "top 16")
    wait_for_grid(page, "conv1 · Conv2d · 16 of 32 channels of 26×26", TIMEOUT_MS)
    page.get_by_text("Channel statistics (32 channels)").click()
    table = ".st-key-stats_table [data-testid='stDataFrame']"
    page.locator(table).wait_for(timeout=TIMEOUT_MS)
    box = settled_box(page, table)  # laid out and no longer moving, not "half a second later"
    row_height, header = 35, 35  # Streamlit's data grid: fixed row and header height
    page.mouse.click(box["x"] + 14, box["y"] + header + 4 * row_height + row_height / 2)  # channel 4's checkbox
    wait_for_plot(page, ".st-key-closeup .js-plotly-plot", "channel 4 ·", timeout=TIMEOUT_MS)
    page.get_by_text("Channel 4 over the input the model saw").wait_for(timeout=TIMEOUT_MS)


def test_click_a_tile_to_open_that_channel_up_close(page):
    choose(page, "Order channels by", "Max")  # position 0 is then the strongest channel, not channel 0
    page.wait_for_function(f"() => document.querySelector('{GRID} .textpoint')?.textContent !== '0'",
                           timeout=TIMEOUT_MS)
    strongest = settled_texts(page, f"{GRID} .textpoint")[0]
    label = click_tile(page, channel_position=0)
    channel = int(re.search(r"channel (\d+)", label).group(1))
    assert str(channel) == strongest
    wait_for_plot(page, ".st-key-closeup .js-plotly-plot", f"channel {channel} ·", timeout=TIMEOUT_MS)
    page.get_by_text(f"Channel {channel} over the input the model saw").wait_for(timeout=TIMEOUT_MS)
    assert page.locator(".st-key-channel input").input_value() == str(channel)


def test_compare_layers_compare_images_and_overview_pages_draw(page):
    for link, keys in (
        ("Compare two layers", ("layer_left", "layer_right")),
        ("Compare two images", ("image_left", "image_right")),
        ("Model overview", ("depth_profile",)),
    ):
        page.get_by_role("link", name=link).click()
        for key in keys:
            wait_for_plot(page, f".st-key-{key} .js-plotly-plot", timeout=TIMEOUT_MS)
    page.locator("[data-testid='stDataFrame']").wait_for(timeout=TIMEOUT_MS)  # the overview table (its only data grid)
    page.get_by_text("10 layer outputs from one forward pass").wait_for(timeout=TIMEOUT_MS)


def test_a_shared_link_opens_the_same_view_in_a_fresh_browser(page, browser, app_url):
    use_untrained_zoo_model(page, "resnet18", TIMEOUT_MS)
    choose(page, "Layer", "layer2.0.conv1")
    wait_for_grid(page, "layer2.0.conv1 · Conv2d", TIMEOUT_MS)
    choose(page, "Normalization", "Symmetric around zero")
    wait_for_meta(page, "normalization", "symmetric", TIMEOUT_MS)
    page.wait_for_function(
        "() => location.search.includes('normalization=Symmetric') && location.search.includes('layer=')",
        timeout=TIMEOUT_MS,
    )
    link = page.url
    fresh = browser.new_context(viewport=VIEWPORT)  # no cookies, no session: like a colleague's browser
    other = fresh.new_page()
    other.goto(link)
    wait_for_grid(other, "layer2.0.conv1 · Conv2d · all 128 channels of 28×28", TIMEOUT_MS)
    wait_for_meta(other, "normalization", "symmetric", TIMEOUT_MS)
    assert "UNTRAINED" in grid_title(other)
    assert "layer2.0.conv1" in other.locator(".st-key-layer input").input_value()  # the select shows its value here
    assert other.locator(".st-key-normalization input").input_value() == "Symmetric around zero"
    fresh.close()


def test_download_the_grid_as_a_png(page):
    with page.expect_download(timeout=TIMEOUT_MS) as download:
        page.locator(".st-key-download_png button").click()
    assert download.value.suggested_filename == "featviz_digits_cnn_featviz-digits--bundled-_conv1.png"
    picture = Image.open(download.value.path())
    picture.verify()
    assert picture.width > 800 and picture.height > 600
