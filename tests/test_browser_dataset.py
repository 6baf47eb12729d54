"""The Dataset page in Chromium: scan the bundled digits, see a channel's top images, open one in the
single-image view at that layer and channel, and come back from a channel to its dataset view."""

from __future__ import annotations

import pytest

from tests.support.browser import TIMEOUT_MS, choose, settled_texts, wait_for_grid, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


def test_scan_the_digits_see_top_images_and_open_one(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    try:
        page.goto(app_url)
        wait_for_grid(page, "conv1 · Conv2d · all 32 channels of 26×26", TIMEOUT_MS)
        choose(page, "Layer", "conv2")
        wait_for_grid(page, "conv2 · Conv2d", TIMEOUT_MS)
        page.get_by_role("link", name="Dataset").click()
        page.get_by_role("button", name="Scan 1,000 images").click()
        page.get_by_text("1,000 images in").wait_for(timeout=TIMEOUT_MS)  # the progress bar's last words
        page.get_by_text("Channel 0: its top 16 images").wait_for(timeout=TIMEOUT_MS)
        wait_until_idle(page)
        page.locator(".st-key-channel input").fill("3")
        page.keyboard.press("Enter")
        page.get_by_text("Channel 3: its top 16 images").wait_for(timeout=TIMEOUT_MS)
        wait_until_idle(page)
        captions = settled_texts(page, '[data-testid="stImageCaption"]')
        assert len(captions) == 16 and captions[0].startswith("#1 · ") and ".png" in captions[0]
        first = captions[0].rsplit(" · ", 1)[1]
        page.locator(".st-key-open_top_0 button").click()
        wait_for_grid(page, "conv2 · Conv2d · all 64 channels of 11×11", TIMEOUT_MS)
        page.get_by_text(f"Using your upload {first}").wait_for(timeout=TIMEOUT_MS)
        page.get_by_text("Heatmap, overlay and histogram of channel 3").wait_for(timeout=TIMEOUT_MS)
        assert "layer=conv2" in page.url and "channel=3" in page.url  # a link to what is on screen
        page.get_by_role("link", name="Channel 3 across a whole collection of images").click()
        page.get_by_text("Channel 3: its top 16 images").wait_for(timeout=TIMEOUT_MS)  # and back
    finally:
        context.close()
