"""Two layers of one model side by side: by default its first and second convolution."""

from __future__ import annotations

import streamlit as st

import featviz_core as fv
from featviz_ui.caches import cached_grid, cached_stats
from featviz_ui.controls import pick_display, pick_layer
from featviz_ui.page import show_messages, start_page


def convolutions(captured: fv.Capture) -> list[str]:
    return [key for key, fmap in captured.items() if fmap.module_type in ("Conv1d", "Conv2d", "Conv3d")]


ctx, messages = start_page("Compare two layers")
model, captured = ctx.model, ctx.captured
convs = convolutions(captured)
with st.sidebar:
    st.header("3 · Layers", divider="gray")
    first = pick_layer(model, captured, key="layer", label="Left layer")
    second = pick_layer(model, captured, key="layer_b", label="Right layer",
                        default=convs[1] if len(convs) > 1 else fv.default_layer(captured))
    st.header("4 · Display", divider="gray")
    display = pick_display()

st.markdown(
    "Early layers keep the picture: their maps are edges and colours at nearly full resolution. Deeper "
    "layers trade resolution for more channels, each responding to larger and more abstract patterns."
)
for column, layer, side in zip(st.columns(2), (first, second), ("left", "right"), strict=True):
    with column:
        fmap = captured[layer]
        st.caption(cached_stats(ctx.capture_key, fmap).summary())
        figure = cached_grid(ctx.capture_key, fmap, display, model.label, display_width=600)
        st.plotly_chart(figure, width="stretch", key=f"layer_{side}", config={"displaylogo": False})
show_messages(ctx, messages)
