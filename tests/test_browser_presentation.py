"""Presentation mode on a 1024×768 projector, in Chromium: what the browser really draws is readable.

Channel numbers and the subtitle (which holds UNTRAINED) at 16 px or more, numbers that never overlap, and
tiles no smaller than MIN_TILE_PX on screen, for the default grid and for a full page of 256 channels.
"""

from __future__ import annotations

import pytest

from featviz_core.draw._grid import MIN_TILE_PX
from tests.support.browser import GRID, TIMEOUT_MS, settle, wait_for_grid

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]
PROJECTOR = {"width": 1024, "height": 768}

DRAWN_JS = """(selector) => {
    const gd = document.querySelector(selector);
    if (!gd || !gd._fullLayout) return null;
    const xa = gd._fullLayout.xaxis, meta = gd._fullLayout.meta.featviz;
    const pxPerMapPixel = xa._length / (xa.range[1] - xa.range[0]);
    const labels = Array.from(gd.querySelectorAll('.textpoint text'), (t) => {
        const box = t.getBoundingClientRect();
        return {text: t.textContent, size: parseFloat(getComputedStyle(t).fontSize),
                left: box.left, right: box.right, top: Math.round(box.top)};
    });
    const title = Array.from(gd.querySelectorAll('.gtitle tspan'), (t) =>
        [t.textContent, parseFloat(getComputedStyle(t).fontSize)]);
    return {tile: Math.min(...meta.tile_shape) * pxPerMapPixel, labels, title, shown: meta.channels_shown};
}"""



def drawn(page) -> dict:
    return settle(page, DRAWN_JS, GRID, until=lambda state: state is not None and len(state["labels"]) > 0)


def check_readable(state: dict) -> None:
    assert len(state["labels"]) == state["shown"]  # every tile carries its number
    assert min(label["size"] for label in state["labels"]) >= 16
    assert state["tile"] >= MIN_TILE_PX, f"tiles are {state['tile']:.1f} px on screen"
    rows: dict[int, list[dict]] = {}
    for label in state["labels"]:
        rows.setdefault(label["top"], []).append(label)
    for row in rows.values():
        row.sort(key=lambda label: label["left"])
        for left, right in zip(row, row[1:], strict=False):
            assert left["right"] <= right["left"], f"{left['text']} runs into {right['text']}"


def test_presentation_on_a_1024x768_projector_is_readable(browser, app_url):
    context = browser.new_context(viewport=PROJECTOR)
    page = context.new_page()
    try:
        page.goto(app_url + "/?presentation=true")
        wait_for_grid(page, "conv1 · Conv2d · all 32 channels of 26×26", TIMEOUT_MS)
        state = drawn(page)
        check_readable(state)
        subtitle = [size for text, size in state["title"] if "featviz digits" in text]
        assert subtitle and min(subtitle) >= 16

        page.goto(app_url + "/?presentation=true&model=resnet18&weights=untrained&layer=layer4.0.conv1")
        wait_for_grid(page, "layer4.0.conv1 · Conv2d · 64 of 512 channels", TIMEOUT_MS)
        assert any("UNTRAINED" in text and size >= 16 for text, size in drawn(page)["title"])
        page.locator(".st-key-show_all").get_by_role("button", name="Show all 512").click()
        wait_for_grid(page, "layer4.0.conv1 · Conv2d · 256 of 512 channels", TIMEOUT_MS)
        state = drawn(page)
        assert state["shown"] == 256
        check_readable(state)
    finally:
        context.close()
