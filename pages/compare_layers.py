"""Two layers of one model side by side, the shallower on the left: by default the layer carried over from
another page and the first convolution (the first and second convolution when none was chosen)."""

from __future__ import annotations

import streamlit as st

import featviz_core as fv
from featviz_ui.caches import cached_grid, cached_stats
from featviz_ui.controls import pick_display, pick_layer
from featviz_ui.page import reading_layers, show_messages, start_page


def convolutions(captured: fv.Capture) -> list[str]:
    return [key for key, fmap in captured.outline() if fmap.module_type in ("Conv1d", "Conv2d", "Conv3d")]


def partner(captured: fv.Capture, layer: str) -> str:
    """What to compare ``layer`` with by default: the first convolution, or the second when it is the first."""
    others = [key for key in convolutions(captured) or list(captured) if key != layer]
    return others[0] if others else layer


def by_depth(captured: fv.Capture, layers: tuple[str, str]) -> list[str]:
    """The two layers in capture order (the model's module order), so the shallower one is drawn on the left."""
    order = {key: index for index, key in enumerate(captured)}
    return sorted(layers, key=order.__getitem__)


ctx, messages = start_page("Compare two layers")
model, captured = ctx.model, ctx.captured
with st.sidebar:
    st.header("3 · Layers", divider="gray")
    chosen = pick_layer(model, captured, key="layer", label="Layer")
    if st.session_state.get("chosen_layer_b") == chosen:  # a partner remembered from an earlier visit would
        del st.session_state["chosen_layer_b"]  # repeat the layer just carried over: pair it afresh instead
    other = pick_layer(model, captured, key="layer_b", label="Compare with", default=partner(captured, chosen))
    st.caption("The shallower of the two is drawn on the left.")
    st.header("4 · Display", divider="gray")
    display = pick_display()

st.markdown(
    "Early layers keep the picture: their maps are edges and colours at nearly full resolution. Deeper "
    "layers trade resolution for more channels, each responding to larger and more abstract patterns."
)
if chosen == other:
    st.info(f"Both pickers name **{chosen}**: choose another layer under *Compare with* to see two.")
shallow, deep = by_depth(captured, (chosen, other))
headings = ("Shallower", "Deeper") if shallow != deep else ("", "")
for column, layer, heading, side in zip(st.columns(2), (shallow, deep), headings, ("left", "right"), strict=True):
    with column:
        with reading_layers(ctx, messages):
            fmap = captured[layer]
        st.subheader(f"{heading}: {layer}" if heading else layer)
        st.caption(cached_stats(ctx.capture_key, fmap).summary())
        figure = cached_grid(ctx.capture_key, fmap, display, model.label, display_width=600)
        st.plotly_chart(figure, width="stretch", key=f"layer_{side}", config={"displaylogo": False})
show_messages(ctx, messages)
