"""The lessons: one per screen, each with what to look at, a question, its answer on a click, and a button that
opens the dashboard in the state that shows it. PageUp / PageDown (what a presentation clicker sends) step
through them."""

from __future__ import annotations

import streamlit as st

import featviz_core as fv
from featviz_core.lessons import (
    LESSONS,
    ZOO_FIRST_LAST,
    Lesson,
    cached_zoo_models,
    conv2d_output_shape,
    conv_output_size,
    lesson_by_key,
    shape_checks,
    tiny_layer,
    zoo_first_last_state,
)
from featviz_ui.controls import PRESENTATION_CSS, PRESENTER_CSS, on_off, pick_presentation
from featviz_ui.page import show_messages, start_page
from featviz_ui.state import follow_link, keep_choice, persistent_choice, set_choice

DISPLAY_DEFAULTS = {"normalization": "per_channel", "colormap": "viridis", "order_by": "index"}
# what a lesson's link sets unless it says otherwise, so one lesson's display never leaks into the next
KEYS = [lesson.key for lesson in LESSONS]


def step(offset: int) -> None:
    index = KEYS.index(st.session_state["lesson"])
    set_choice("lesson", KEYS[(index + offset) % len(KEYS)])


def open_in_dashboard(lesson: Lesson) -> None:
    page = lesson.page_path if lesson.page != "lessons" else "pages/explore.py"
    open_state(f"Open in the dashboard: {lesson.title}", f"open_{lesson.key}", page, lesson.state, primary=True)


def open_state(label: str, key: str, page: str, state: dict[str, str], primary: bool = False) -> None:
    """A button that opens ``page`` restored to ``state`` (a shared link's values); from the presenter view,
    with large text."""
    if st.button(label, key=key, type="primary" if primary else "secondary", icon=":material/open_in_new:"):
        presenting = {"presentation": "true"} if st.session_state.get("presenter") else {}
        follow_link({**DISPLAY_DEFAULTS, **state, **presenting})
        # an empty URL: parameters bound to widgets are the widgets' to write, from the values restored
        st.switch_page(page, query_params={})


def zoo_early_vs_deep() -> None:
    """The same comparison on a network trained on photographs, for each one whose weights are on this machine."""
    cached = cached_zoo_models()
    if not cached:
        st.caption(
            "On a network trained on photographs the difference is larger still: its first block answers to "
            "edges and colours, its last to parts of objects. Fetch one before class (`python -m featviz_core "
            f"weights fetch resnet18`; any of {', '.join(ZOO_FIRST_LAST)}) and it opens from here."
        )
        return
    st.markdown("**The same on a network trained on photographs**: its first block answers to edges and colours, "
                "its last to parts of objects (on the cat photograph).")
    for model in cached:
        first, last = ZOO_FIRST_LAST[model]
        open_state(f"{model}: first block ({first}) vs last block ({last})", f"open_zoo_{model}",
                   "pages/compare_layers.py", zoo_first_last_state(model))


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
persistent_choice("presenter", [False, True], False, "presenter view", parse=on_off)
back, picker, presenter, forward = st.columns([3, 4, 3.6, 3], vertical_alignment="bottom")
back.button("Previous", key="previous", on_click=step, args=(-1,), icon=":material/arrow_back:", shortcut="PageUp",
            help="PageUp (a presentation clicker's back button)", width="stretch")
picker.segmented_control("Lesson", KEYS, key="lesson", format_func=lambda key: f"{KEYS.index(key) + 1}",
                         required=True, bind="query-params", on_change=keep_choice, args=("lesson",))
presenting = presenter.toggle(
    "Presenter view", key="presenter", bind="query-params", on_change=keep_choice, args=("presenter",),
    help="For a projector: one lesson on the whole screen in large type, no sidebar; PageDown / PageUp step "
    "through the lessons. Lessons open in the dashboard with large text.",
)
forward.button("Next", key="next", on_click=step, args=(1,), icon=":material/arrow_forward:", shortcut="PageDown",
               help="PageDown (a presentation clicker's forward button)", width="stretch")
keep_choice("presenter")
if presenting:
    st.html(PRESENTATION_CSS + PRESENTER_CSS)
    large_text = True
keep_choice("lesson")
current = lesson_by_key(st.session_state["lesson"])
st.header(f"{KEYS.index(current.key) + 1} · {current.title}")
st.markdown(current.look)
if current.key == "output-shape":
    output_shape(ctx)
elif current.key == "normalize":
    normalize_first(large_text)
open_in_dashboard(current)
if current.key == "early-vs-deep":
    zoo_early_vs_deep()
st.markdown(f"**Question.** {current.question}")
with st.expander("Show the answer", key=f"answer_{current.key}"):
    st.markdown(current.answer)
show_messages(ctx, messages)
