"""Clicking a tile of a grid opens that channel.

``st.plotly_chart`` reports selections of scatter points only; a click on the grid's image or heatmap traces
never reaches Python. Plotly itself does emit ``plotly_click`` on the chart's DOM node for every trace,
heatmaps included, so this small ``st.components.v2`` component (JavaScript only, nothing drawn) listens for
it on the chart with a given key and sends the clicked channel back as a trigger value. The channel is read
from the point's ``customdata[0]``, which the grid's hover layer and the vector bar chart both carry.
A click that ends a drag (zoom) is not a click for Plotly, so zooming still works.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
import streamlit.components.v2 as components

_JS = """
export default function (component) {
    const { data, setTriggerValue } = component;
    const selector = `.st-key-${data.chart} .js-plotly-plot`;
    const onClick = (event) => {
        // customdata arrives as a typed array's slice, not an Array
        const point = (event.points || []).find(
            (p) => p.customdata != null && p.data && p.data.name === data.trace);
        const channel = point ? Number(point.customdata[0]) : NaN;
        if (Number.isInteger(channel)) setTriggerValue('channel', channel);
    };
    // Streamlit may replace the chart's node when it redraws: attach to whichever node is there now.
    const attach = () => {
        const chart = document.querySelector(selector);
        if (!chart || typeof chart.on !== 'function') return;
        const listening = chart._ev && chart._ev.listeners('plotly_click').includes(onClick);
        if (!listening) chart.on('plotly_click', onClick);
        chart.dataset.featvizClicks = 'on';
    };
    attach();
    const observer = new MutationObserver(attach);
    observer.observe(document.body, { childList: true, subtree: true });
    return () => {
        observer.disconnect();
        const chart = document.querySelector(selector);
        if (chart && typeof chart.removeListener === 'function') chart.removeListener('plotly_click', onClick);
    };
}
"""

_component = components.component("featviz.tile_clicks", js=_JS)

HOVER_TRACE = "values"
"""The grid's trace whose points carry (channel, y, x) in customdata: see featviz_core.grid."""


def tile_clicks(chart_key: str, on_click: Callable[[int], None], trace: str = HOVER_TRACE) -> None:
    """Call ``on_click(channel)`` (as a widget callback, before the rerun) when a tile of chart ``chart_key``
    is clicked."""
    key = f"{chart_key}_clicks"

    def clicked() -> None:
        channel = st.session_state[key].get("channel")
        if channel is not None:
            on_click(int(channel))

    _component(key=key, data={"chart": chart_key, "trace": trace}, on_channel_change=clicked, height=0)
