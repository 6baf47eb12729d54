"""The layer picker in Chromium: what typing into its search lists, in which order, and what the link carries.

Streamlit filters a select box's options in the browser, so only a browser shows what a person sees there.
"""

from __future__ import annotations

import pytest

from tests.support.browser import TIMEOUT_MS, settle, wait_for_grid, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]
VIEWPORT = {"width": 1400, "height": 1100}
OPTIONS_JS = "() => Array.from(document.querySelectorAll('[role=\"option\"]'), e => e.textContent)"



@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(app_url)
    wait_for_grid(page, "conv1 · Conv2d · all 32 channels of 26×26", TIMEOUT_MS)  # the digits CNN
    yield page
    context.close()


def search(page, text: str) -> list[str]:
    """Type ``text`` into the layer picker's search; the layer names it lists, top to bottom."""
    wait_until_idle(page)
    field = page.locator('[data-testid="stSelectbox"]').filter(has_text="Layer").first.locator("input")
    field.click()
    field.fill("")
    page.keyboard.type(text)
    shown = settle(page, OPTIONS_JS, until=lambda options: bool(options) and len(options) < 10)
    return [option.split(" · ")[0].strip() for option in shown]


def test_search_lists_layers_in_model_order_and_finds_shapes_typed_with_an_x(page):
    assert search(page, "relu")[:3] == ["relu1", "relu2", "relu3"]  # relu3 came first: its label was shorter
    page.keyboard.press("Escape")
    assert search(page, "conv2")[0] == "conv2"  # before conv1, whose type (Conv2d) also holds "conv2"
    page.keyboard.press("Escape")
    assert search(page, "11x11")[:2] == ["conv2", "relu2"]
    page.get_by_role("option").filter(has_text="conv2").first.click()
    wait_for_grid(page, "conv2 · Conv2d · all 64 channels of 11×11", TIMEOUT_MS)
    page.wait_for_function("() => new URLSearchParams(location.search).get('layer') === 'conv2'", timeout=TIMEOUT_MS)
    assert page.locator('[data-testid="stSidebar"]').get_by_text("output 64×11×11").count() == 1
