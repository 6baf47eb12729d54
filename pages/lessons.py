"""The lessons: one per screen, each with what to look at, a question, its answer on a click, and a button that
opens the dashboard in the state that shows it. PageUp / PageDown (what a presentation clicker sends) step
through them."""

from __future__ import annotations

import streamlit as st

import featviz_core as fv
from featviz_core.lessons import (
    LESSONS,
    Lesson,
    conv2d_output_shape,
    conv_output_size,
    lesson_by_key,
    shape_checks,
    tiny_layer,
)
from featviz_ui.controls import pick_presentation
from featviz_ui.page import show_messages, start_page
from featviz_ui.state import follow_link, keep_choice, persistent_choice, set_choice

DISPLAY_DEFAULTS = {"normalization": "per_channel", "colormap": "viridis", "order_by": "index"}
"""What a lesson's link sets unless it says otherwise, so one lesson's display never leaks into the next."""
KEYS = [lesson.key for lesson in LESSONS]


def step(offset: int) -> None:
    index = KEYS.index(st.session_state["lesson"])
    set_choice("lesson", KEYS[(index + offset) % len(KEYS)])


def open_in_dashboard(lesson: Lesson) -> None:
    if st.button(f"Open in the dashboard: {lesson.title}", key=f"open_{lesson.key}", type="primary",
                 icon=":material/open_in_new:"):
        params = {**DISPLAY_DEFAULTS, **lesson.state}
        follow_link(params)
        # an empty URL: parameters bound to widgets are the widgets' to write, from the values restored
        st.switch_page(lesson.page_path if lesson.page != "lessons" else "pages/explore.py", query_params={})


def output_shape(ctx) -> None:
    left, right = st.columns([2, 3])
    with left:
        size = st.slider("Input size W", 4, 128, 64, key="shape_w")
        kernel = st.slider("Kernel K", 1, 11, 3, key="shape_k")
        padding = st.slider("Padding P", 0, 5, 1, key="shape_p")
        stride = st.slider("Stride S", 1, 4, 1, key="shape_s")
        pool = st.select_slider("Then max-pool", [1, 2, 3, 4], 1, key="shape_pool",
                                format_func=lambda n: "none" if n == 1 else f"{n}×{n}")
    with right:
        out = conv_output_size(size, kernel, padding, stride)
        st.markdown(f"### ({size} − {kernel} + 2·{padding}) / {stride} + 1 = **{out}**")
        if (size - kernel + 2 * padding) % stride:
            st.caption("The division is rounded down: the kernel's last step does not fit, and torch drops it.")
        pooled = out // pool if pool > 1 else out
        if pool > 1:
            st.markdown(f"then max-pool {pool}×{pool}: ⌊{out} / {pool}⌋ = **{pooled}**")
        real = conv2d_output_shape(size, kernel, padding, stride, pool=pool)
        if real is None or out < 1:
            st.warning("The kernel is larger than the padded input: torch refuses this convolution.")
        else:
            agree = real[-1] == pooled
            st.markdown(f"A real `Conv2d(3, 16, {kernel}, stride={stride}, padding={padding})`"
                        + (f" then `MaxPool2d({pool})`" if pool > 1 else "")
                        + f" on a 1×3×{size}×{size} input gives **{'×'.join(map(str, real))}** "
                        + ("✓ as the formula says." if agree else "✗ not what the formula says."))
    checks = shape_checks(ctx.model, ctx.captured)
    if checks:
        st.markdown(f"**Every convolution and pooling layer of {ctx.model.label}**, worked out from its own "
                    "input and parameters and compared with what it produced:")
        st.dataframe(
            [{"layer": c.layer, "type": c.kind, "input": "×".join(map(str, c.input_size)),
              "K": c.kernel[0], "P": c.padding[0], "S": c.stride[0], "formula": "×".join(map(str, c.formula)),
              "produced": "×".join(map(str, c.produced)), "agrees": "✓" if c.agrees else "✗"} for c in checks],
            hide_index=True, width="stretch", key="shape_checks",
        )


def normalize_first(large_text: bool) -> None:
    maps = tiny_layer()
    raw, stretched = st.columns(2)
    with raw:
        st.markdown("**As it is** (raw values on a 0–1 scale)")
        st.plotly_chart(fv.channel_grid(maps, normalize="raw", vmin=0.0, vmax=1.0, colormap="gray",
                                        large_text=large_text, title="randn(1,16,64,64) × 0.01, raw"),
                        width="stretch", key="lesson_raw")
    with stretched:
        st.markdown("**Normalized** (each channel's own min–max)")
        st.plotly_chart(fv.channel_grid(maps, normalize="per_channel", colormap="gray", large_text=large_text,
                                        title="the same values, per-channel min–max"),
                        width="stretch", key="lesson_normalized")


ctx, messages = start_page("Lessons")
with st.sidebar:
    st.header("Presenting", divider="gray")
    large_text = pick_presentation()
persistent_choice("lesson", KEYS, KEYS[0], "lesson")
back, picker, forward = st.columns([1, 6, 1], vertical_alignment="bottom")
back.button("Previous", key="previous", on_click=step, args=(-1,), icon=":material/arrow_back:", shortcut="PageUp",
            help="PageUp (a presentation clicker's back button)")
picker.segmented_control("Lesson", KEYS, key="lesson", format_func=lambda key: f"{KEYS.index(key) + 1}",
                         required=True, bind="query-params", on_change=keep_choice, args=("lesson",))
forward.button("Next", key="next", on_click=step, args=(1,), icon=":material/arrow_forward:", shortcut="PageDown",
               help="PageDown (a presentation clicker's forward button)")
keep_choice("lesson")
current = lesson_by_key(st.session_state["lesson"])
st.header(f"{KEYS.index(current.key) + 1} · {current.title}")
st.markdown(current.look)
if current.key == "output-shape":
    output_shape(ctx)
elif current.key == "normalize":
    normalize_first(large_text)
open_in_dashboard(current)
st.markdown(f"**Question.** {current.question}")
with st.expander("Show the answer", key=f"answer_{current.key}"):
    st.markdown(current.answer)
show_messages(ctx, messages)
