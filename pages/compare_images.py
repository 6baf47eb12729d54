"""Two images through the same layer: what changes in the maps when only the picture changes."""

from __future__ import annotations

import streamlit as st

import featviz_core as fv
from featviz_core.images import UPLOAD_EXTENSIONS
from featviz_core.samples import sample_bytes
from featviz_ui import upload_limits
from featviz_ui.caches import cached_capture, cached_grid
from featviz_ui.context import decode
from featviz_ui.controls import pick_display, pick_layer
from featviz_ui.page import show_messages, start_page, stop_page
from featviz_ui.state import keep_choice, persistent_choice


def second_image(first_name: str):
    """A sample or an upload for the right-hand side; an unreadable upload falls back to the sample."""
    st.header("Second image", divider="gray")
    samples = fv.list_samples()
    persistent_choice("sample_b", samples, next(name for name in samples if name != first_name))
    sample = st.selectbox("Sample", samples, key="sample_b")
    keep_choice("sample_b")
    upload = st.file_uploader("…or upload one", type=list(UPLOAD_EXTENSIONS), key="upload_b",
                              max_upload_size=upload_limits.image_mb())
    if upload is not None:
        try:
            return decode(upload.getvalue(), upload.name), None
        except fv.ImageError as exc:
            return decode(sample_bytes(sample), sample), f"**{upload.name}** could not be used: {exc}"
    return decode(sample_bytes(sample), sample), None


ctx, messages = start_page("Compare two images")
model = ctx.model
with st.sidebar:
    other, problem = second_image(ctx.image.name)
    st.header("3 · Layer", divider="gray")
    layer = pick_layer(model, ctx.captured)
    st.header("4 · Display", divider="gray")
    display = pick_display()
if problem:
    st.error(problem)
try:
    other_captured = cached_capture(other.digest, ctx.model_key, model, other.image)
except fv.FeatvizError as exc:
    st.error(f"{model.name} could not run on **{other.name}**: {exc}")
    stop_page(ctx, messages)

st.markdown(f"Layer **{layer}** of **{model.label}**, one grid per image, with the same normalization.")
sides = zip(st.columns(2), (ctx.image, other), (ctx.captured, other_captured), ("left", "right"), strict=True)
for column, choice, captured, side in sides:
    with column:
        top = fv.predict(model, captured, top=1)
        st.image(model.input_image(captured.input).resize((160, 160)), caption=choice.name)
        if top:
            st.caption(f"predicts **{top[0][0]}** ({top[0][1]:.0%})")
        figure = cached_grid((choice.digest, ctx.model_key), captured[layer], display, choice.name, display_width=600)
        st.plotly_chart(figure, width="stretch", key=f"image_{side}", config={"displaylogo": False})
show_messages(ctx, messages)
