"""A display change is drawn in the browser at once, and what it draws is what the server then draws.

The grid's component (featviz_ui.live_grid) redraws the chart the moment a normalization, colour map or
channel order is chosen in the sidebar; the server's own figure follows. Each test records the chart right
after the browser's redraw (when the component says so, with a ``featviz-redrawn`` event) and again
once the page has settled on the server's figure, and compares them: the picture pixel by pixel (within one
of the 254 colour levels, gaps and non-finite values exactly), the channel numbers, the hover layer's values
and channels, the colour bar, the bars. How fast it is lives in bench/bench_browser.py.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from featviz_core.draw._colormaps import LEVELS
from featviz_core.draw._grid import palette
from tests.support.browser import (
    GRID,
    TIMEOUT_MS,
    choose,
    settle,
    use_untrained_zoo_model,
    wait_for_grid,
    wait_for_plot,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]
VIEWPORT = {"width": 1400, "height": 1100}

_SNAPSHOT_JS = """(gd) => {
    const trace = (name) => gd._fullData.find((t) => t.name === name);
    const plain = (a) => (a == null ? null : Array.from(a, (v) => (v != null && typeof v === 'object' ? plain(v)
        : (typeof v === 'number' && !Number.isFinite(v) ? null : v))));
    const meta = gd.layout.meta.featviz, scale = trace('scale').marker;
    const shot = {
        meta: { normalization: meta.normalization, colormap: meta.colormap, channels: plain(meta.channels),
                preview: meta.preview || null },
        colorbar: { cmin: scale.cmin, cmax: scale.cmax, colorscale: plain(scale.colorscale),
                    title: scale.colorbar.title.text },
        // what is on screen: the colour bar's numbers and title, its gradient, the channel numbers
        drawn: {
            scale: Array.from(gd.querySelectorAll('.colorbar text'), (t) => t.textContent),
            gradient: Array.from(gd.querySelectorAll('.colorbar .cbfill'), (r) => {
                const id = (r.style.fill || r.getAttribute('fill') || '').match(/#([^"')]+)/);
                return id ? Array.from(document.querySelectorAll(`[id="${id[1]}"] stop`),
                                       (stop) => stop.getAttribute('stop-color')).join(' ') : '';
            }),
            numbers: Array.from(gd.querySelectorAll('.scatterlayer .textpoint text'),
                                (t) => [t.textContent, t.style.fill, t.getAttribute('x'), t.getAttribute('y')]),
        },
    };
    if (meta.drawn_as === 'bars') {
        const bars = trace('values');
        shot.bars = { x: plain(bars.x), y: plain(bars.y), colours: plain(bars.marker.color),
                      customdata: plain(bars.customdata), background: gd._fullLayout.plot_bgcolor };
    } else {
        const labels = trace('channel numbers'), hover = trace('values');
        shot.source = trace('mosaic').source;
        shot.labels = { x: plain(labels.x), y: plain(labels.y), text: plain(labels.text),
                        colour: labels.textfont.color };
        shot.hover = { z: plain(hover.z), customdata: plain(hover.customdata) };
    }
    return shot;
}"""

_RECORD_JS = f"""() => {{
    if (window.__featvizShots) return;
    window.__featvizShots = [];
    document.addEventListener('featviz-redrawn', (event) => window.__featvizShots.push(({_SNAPSHOT_JS})(event.target)));
}}"""
"""Record the chart each time the component says it has redrawn it."""


def redraws(page) -> list[dict]:
    return page.evaluate("() => window.__featvizShots.splice(0)")


def server_view(page, preview: str) -> dict:
    """The chart once the page has settled on the server's figure (one that no preview drew)."""
    return settle(page, f"(s) => {{ const gd = document.querySelector(s); return gd && gd._fullData"
                        f" ? ({_SNAPSHOT_JS})(gd) : null; }}", GRID,
                  until=lambda shot: shot is not None and shot["meta"]["preview"] is None
                  and shot["meta"]["normalization"] == preview["meta"]["normalization"]
                  and shot["meta"]["colormap"] == preview["meta"]["colormap"]
                  and shot["meta"]["channels"] == preview["meta"]["channels"])


def pixels(uri: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def assert_same_picture(browser_uri: str, server_uri: str, colormap: str) -> None:
    """The browser's RGB picture is the server's palette picture, each pixel within one colour level."""
    server = pixels(server_uri)
    assert server.mode == "P"
    index = np.asarray(server).astype(int)
    colours = palette(colormap).astype(int)
    drawn = np.asarray(pixels(browser_uri).convert("RGB")).astype(int)
    assert drawn.shape[:2] == index.shape
    levels = index < LEVELS
    matches = np.zeros(index.shape, dtype=bool)
    for step in (-1, 0, 1):  # a level may be off by one; gaps and non-finite values never
        neighbour = np.where(levels, np.clip(index + step, 0, LEVELS - 1), index)
        matches |= (drawn == colours[neighbour]).all(axis=-1)
    assert matches.all(), f"{(~matches).sum()} of {matches.size} pixels differ by more than one level"
    exact = (drawn == colours[index]).all(axis=-1).mean()
    assert exact > 0.5, exact


def assert_redraw_is_what_the_server_draws(page, label: str, option: str, preview_key: str) -> None:
    """Choose ``option``; the browser redraws at once, as ``preview_key``, and the server's figure agrees."""
    choose(page, label, option)
    page.wait_for_function("() => window.__featvizShots.length > 0", timeout=TIMEOUT_MS)
    preview = redraws(page)[-1]
    assert preview["meta"]["preview"] == preview_key
    server = server_view(page, preview)
    assert preview["colorbar"] == server["colorbar"]
    assert preview["drawn"] == server["drawn"], "the colour bar or the channel numbers on screen differ"
    if "bars" in server:
        assert preview["bars"] == server["bars"]
        return
    assert preview["labels"] == server["labels"]
    assert preview["hover"] == server["hover"]
    assert_same_picture(preview["source"], server["source"], server["meta"]["colormap"])


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.goto(app_url)
    wait_for_grid(page, "conv1 · Conv2d · all 32 channels of 26×26", TIMEOUT_MS)
    page.evaluate(_RECORD_JS)
    yield page
    context.close()


def test_normalization_colour_map_and_order_are_drawn_in_the_browser_as_the_server_draws_them(page):
    for label, option, key in (
        ("Normalization", "Symmetric around zero", "symmetric|viridis|index"),
        ("Colour map", "magma", "symmetric|magma|index"),
        ("Order channels by", "Max", "symmetric|magma|max:desc"),
        ("Normalization", "Percentile clip (per layer)", "percentile|magma|max:desc"),
        ("Colour map", "RdBu (diverging)", "percentile|RdBu (diverging)|max:desc"),
        ("Order channels by", "Channel number", "percentile|RdBu (diverging)|index"),
        ("Normalization", "Per channel min–max", "per_channel|RdBu (diverging)|index"),
    ):
        assert_redraw_is_what_the_server_draws(page, label, option, key)


def test_pooled_hover_and_a_subset_of_a_large_layer_are_redrawn_alike(page):
    use_untrained_zoo_model(page, "resnet18", TIMEOUT_MS)  # opens on conv1: 64 maps of 112×112, hover in blocks
    wait_for_plot(page, GRID, "conv1 · Conv2d · all 64 channels of 112×112", meta={"hover_block": "5"},
                  timeout=TIMEOUT_MS)
    redraws(page)
    assert_redraw_is_what_the_server_draws(page, "Normalization", "Per layer min–max", "per_layer|viridis|index")
    assert_redraw_is_what_the_server_draws(page, "Order channels by", "Std", "per_layer|viridis|std:desc")
    choose(page, "Layer", "layer4.0.conv1")  # 512 channels: the 64 most active, reordered among themselves
    wait_for_grid(page, "layer4.0.conv1 · Conv2d · 64 of 512 channels of 7×7", TIMEOUT_MS)
    redraws(page)
    assert_redraw_is_what_the_server_draws(page, "Order channels by", "Max", "per_layer|viridis|max:desc")
    assert_redraw_is_what_the_server_draws(page, "Colour map", "hot", "per_layer|hot|max:desc")


def test_bars_of_single_values_are_recoloured_and_reordered_in_the_browser(page):
    choose(page, "Layer", "fc2")
    wait_for_plot(page, GRID, "fc2 · Linear · all 10 values", timeout=TIMEOUT_MS)
    redraws(page)
    assert_redraw_is_what_the_server_draws(page, "Normalization", "Symmetric around zero", "symmetric|viridis|index")
    assert_redraw_is_what_the_server_draws(page, "Order channels by", "Mean", "symmetric|viridis|mean:desc")
    assert_redraw_is_what_the_server_draws(page, "Colour map", "gray", "symmetric|gray|mean:desc")


def test_a_change_that_shows_other_channels_waits_for_the_server(page):
    choose(page, "Show", "top 16")
    wait_for_grid(page, "16 of 32 channels", TIMEOUT_MS)
    redraws(page)
    first = settle(page, "(s) => document.querySelector(s).layout.meta.featviz.channels", GRID)
    choose(page, "Order channels by", "Max")  # the 16 strongest are other channels: nothing the browser has
    shown = settle(page, "(s) => document.querySelector(s).layout.meta.featviz.channels", GRID,
                   until=lambda channels: channels != first)
    assert sorted(shown) != sorted(first)
    assert redraws(page) == []


def test_tiles_drawn_at_reduced_resolution_are_redrawn_alike(page):
    use_untrained_zoo_model(page, "vgg11", TIMEOUT_MS)  # features.0: 64 maps of 224×224, sent at half resolution
    choose(page, "Layer", "features.0")
    wait_for_plot(page, GRID, "features.0 · Conv2d", meta={"picture_scale": "2"}, timeout=TIMEOUT_MS)
    redraws(page)
    assert_redraw_is_what_the_server_draws(page, "Normalization", "Symmetric around zero", "symmetric|viridis|index")
    assert_redraw_is_what_the_server_draws(page, "Order channels by", "Mean", "symmetric|viridis|mean:desc")
