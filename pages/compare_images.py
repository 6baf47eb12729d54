"""Two images through the same layer: what changes in the maps when only the picture changes."""

from __future__ import annotations

import streamlit as st

import featviz_core as fv
from featviz_core.draw import Difference, difference, difference_grid, shared_scale
from featviz_core.images import UPLOAD_EXTENSIONS
from featviz_core.samples import sample_bytes
from featviz_ui import upload_limits
from featviz_ui.caches import cached_capture, cached_grid, caches
from featviz_ui.context import decode
from featviz_ui.controls import pick_display, pick_layer
from featviz_ui.messages import Problem, show_problem
from featviz_ui.page import reading_layers, show_messages, start_page, stop_page
from featviz_ui.state import keep_choice, persistent_choice, set_choice


def difference_text(diff: Difference, left: str, right: str) -> str:
    """How to read the difference map, and which channels changed most."""
    if diff.identical:
        return f"The two maps are identical: **{left}** and **{right}** give this layer the same output."
    text = (
        f"Each tile is a channel of **{left}** minus the same channel of **{right}**, in raw activation units, "
        f"drawn symmetric around zero: **red** where {left} activates the channel more, **blue** where {right} "
        f"does, white where they agree. Its colour bar (±{diff.bound:.4g}) is its own, not the scale of the grids "
        "above."
    )
    ranked = diff.most_changed(5)
    listed = ", ".join(f"{channel} ({diff.change[channel]:.3g})" for channel in ranked)
    return f"{text}\n\nChannels that change most (mean |difference|): {listed}."


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
            refused = Problem(f"**{upload.name}** could not be used: {exc}", exc.detail)
            return decode(sample_bytes(sample), sample), refused
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
    show_problem(problem)
try:
    other_captured = cached_capture(other.digest, ctx.model_key, model, other.image)
except fv.FeatvizError as exc:
    show_problem(Problem(f"{model.name} could not run on **{other.name}**: {exc}", exc.detail))
    stop_page(ctx, messages)

with reading_layers(ctx, messages):
    left_map, right_map = ctx.captured[layer], other_captured[layer]
scale = shared_scale(left_map, right_map, display)
st.markdown(f"Layer **{layer}** of **{model.label}**, one grid per image. Colours: {scale.description}.")
if not scale.shared:
    st.button("Draw both on one scale (per-layer min–max)", key="one_scale", on_click=set_choice,
              args=("normalization", "per_layer"), icon=":material/straighten:")
pairs = ((ctx.image, ctx.captured, left_map, "left"), (other, other_captured, right_map, "right"))
for column, (choice, captured, fmap, side) in zip(st.columns(2), pairs, strict=True):
    with column:
        top = fv.predict(model, captured, top=1)
        st.image(model.input_image(captured.input).resize((160, 160)), caption=choice.name)
        if top:
            st.caption(f"predicts **{top[0][0]}** ({top[0][1]:.0%})")
        figure = cached_grid((choice.digest, ctx.model_key), fmap, scale.settings, choice.name, display_width=600)
        st.plotly_chart(figure, width="stretch", key=f"image_{side}", config={"displaylogo": False})

st.subheader(f"Difference: {ctx.image.name} − {other.name}", divider="gray")
try:
    diff = difference(left_map, right_map)
except fv.FeatvizError as exc:
    st.info(str(exc))
else:
    plot, notes = st.columns(2)
    with plot:
        key = ("difference", ctx.image.digest, other.digest, ctx.model_key, layer, ctx.image.name, other.name, 600)
        figure = caches().figures.get_or_compute(key, lambda: difference_grid(
            diff, value_name="left − right", subtitle=f"{ctx.image.name} − {other.name}", display_width=600))
        st.plotly_chart(figure, width="stretch", key="image_difference", config={"displaylogo": False})
    with notes:
        st.markdown(difference_text(diff, ctx.image.name, other.name))
show_messages(ctx, messages)
