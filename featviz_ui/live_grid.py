"""The explore page's grid in the browser: a click on a tile opens that channel, and a display change is drawn
there at once.

Clicks: ``st.plotly_chart`` reports selections of scatter points only; a click on the grid's image or heatmap
traces never reaches Python. Plotly itself does emit ``plotly_click`` on the chart's DOM node for every trace,
heatmaps included, so this ``st.components.v2`` component (JavaScript only, nothing drawn) listens for it on
the chart with a given key and sends the clicked channel back as a trigger value. The channel is read from the
point's ``customdata[0]``, which the grid's hover layer and the vector bar chart both carry. A click that ends
a drag (zoom) is not a click for Plotly, so zooming still works.

Display changes: through the server, a change of normalization, colour map or channel order costs a rerun, a
new figure and Streamlit mounting it anew, 0.35–0.45 s on a 2-core machine. The sidebar's own select boxes
stay the one place these are chosen (links, other pages and tests read them as before); the component
watches what they show and, the moment a new value is chosen, redraws the chart through Plotly from
:func:`featviz_core.draw._grid_preview.grid_preview`'s data. The server's figure for the new value follows and
replaces the redraw, so what stays on screen is always the server's; a change the browser cannot draw alone
(another set of channels) simply waits for it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import streamlit as st
import streamlit.components.v2 as components

from featviz_core.draw import palettes

_JS = (Path(__file__).with_name("live_grid.js").read_text(encoding="utf-8")
       .replace("__TABLES__", json.dumps(palettes(), separators=(",", ":"))))
_component = components.component("featviz.live_grid", js=_JS)

HOVER_TRACE = "values"
"""The grid's trace whose points carry (channel, y, x) in customdata: see featviz_core.draw._grid."""


def live_grid(chart_key: str, on_click: Callable[[int], None], *, preview: Optional[dict[str, Any]] = None,
              display: Optional[dict[str, Any]] = None, controls: Optional[dict[str, Any]] = None,
              trace: str = HOVER_TRACE) -> None:
    """Call ``on_click(channel)`` (as a widget callback, before the rerun) when a tile of chart ``chart_key``
    is clicked; with ``preview`` (what the chart was built from), ``display`` (the normalization, colour map,
    order and direction it shows) and ``controls`` (the sidebar's keys and labels for them,
    :func:`featviz_ui.controls.display_controls`), redraw it in the browser when they change."""
    key = f"{chart_key}_clicks"

    def clicked() -> None:
        channel = st.session_state[key].get("channel")
        if channel is not None:
            on_click(int(channel))

    data = {"chart": chart_key, "trace": trace, "preview": preview, "display": display, "controls": controls}
    _component(key=key, data=data, on_channel_change=clicked, height=0)
