"""The explore page gives the grid's browser side (featviz_ui.live_grid) what it redraws from, for the view shown.

The drawing itself is checked in Chromium (tests/test_browser_live_grid.py); here, that the data describes the
figure on the page and follows the sidebar: its display, the sidebar's keys and labels for it, the orders the
other controls allow, and a picture of per-channel levels when the figure is drawn otherwise.
"""

from __future__ import annotations

from featviz_core.analysis._selection import order_key
from featviz_core.draw._normalize import NORMALIZATIONS
from tests.support.apptest import component_data, meta, start


def live(at) -> dict:
    return component_data(at, "grid_clicks")


def test_the_grid_component_holds_what_redraws_the_figure_on_the_page():
    at = start()
    data = live(at)
    assert data["chart"] == "grid" and data["display"] == {
        "normalization": "per_channel", "colormap": "viridis", "order_by": "index", "descending": True}
    preview = data["preview"]
    assert preview["kind"] == "tiles" and preview["shown"] == meta(at)["channels"] == list(range(32))
    assert preview["heading"] == meta(at)["heading"] and preview["base"] is None  # the figure's own picture
    controls = data["controls"]
    assert {controls[k] for k in ("normalization", "colormap", "order_by", "descending")} == {
        "normalization", "colormap", "order_by", "descending"}  # the sidebar widgets' keys
    assert controls["labels"]["normalization"] == {label: mode for mode, label in NORMALIZATIONS.items()}
    assert at.sidebar.selectbox(key="normalization").value == "per_channel"


def test_the_data_follows_the_sidebar():
    at = start()
    at.sidebar.selectbox(key="normalization").set_value("symmetric").run()
    at.sidebar.selectbox(key="order_by").set_value("max").run()
    data = live(at)
    assert data["display"]["normalization"] == "symmetric" and data["display"]["order_by"] == "max"
    preview = data["preview"]
    assert preview["normalization"] == meta(at)["normalization"] == "symmetric"
    assert preview["shown"] == meta(at)["channels"] == list(preview["orders"][order_key("max", True)])
    assert preview["base"].startswith("data:image/png;base64,")  # levels per channel, as the figure does not hold
    at.sidebar.selectbox(key="show").set_value(16).run()
    preview = live(at)["preview"]
    assert len(preview["shown"]) == 16 and all(len(channels) == 16 for channels in preview["orders"].values())


def test_single_values_give_their_values():
    at = start()
    at.sidebar.selectbox(key="layer").set_value("fc2").run()
    preview = live(at)["preview"]
    assert preview["kind"] == "bars" and len(preview["values"]) == 10
    assert preview["shown"] == meta(at)["channels"]
