"""Trained vs untrained: the same layer of the same architecture, with learned and with random weights."""

from __future__ import annotations

import streamlit as st

import featviz_core as fv
from featviz_core.analysis import EXPLANATIONS, layer_signs
from featviz_core.models import WeightsState
from featviz_ui.caches import cached_capture, cached_grid, cached_model
from featviz_ui.controls import pick_display, pick_layer
from featviz_ui.page import reading_layers, show_messages, start_page, stop_page
from featviz_ui.weights_probe import weights_status

LESSON = (
    "**What the difference means.** On a smooth picture such as a digit, random filters give smooth maps too: "
    "the two sides can look alike, and looking alone can mislead. What separates them is below the grids: "
    "learned filters have structure (strokes and edges) where random ones are white noise; random channels "
    "are blurred copies of one another where learned ones each pick out something different; and learned "
    "channels are selective, silent over more of the picture."
)


ModelAndKey = tuple[fv.LoadedModel, str]


def trained_and_untrained(model: fv.LoadedModel, key: str) -> tuple[ModelAndKey, ModelAndKey] | str:
    """The pair to compare, or a sentence saying why there is none."""
    if model.source in ("torchscript", "onnx", "keras"):
        kind = {"torchscript": "A TorchScript", "onnx": "An ONNX", "keras": "A Keras"}[model.source]
        return f"{kind} model has no untrained twin here: choose a listed architecture to compare."
    untrained = (cached_model(model.name, False), f"{model.name}|untrained")
    if model.trained:
        return (model, key), untrained
    if model.name != "digits_cnn":
        file, state = weights_status(model.name)
        if state is not WeightsState.CACHED:
            return (
                f"Trained weights for **{model.name}** are not on this machine ({file.filename} in "
                f"`{file.folder}`), so there is nothing trained to compare with. Choose *digits_cnn*, which "
                "ships trained, or upload the weights in the sidebar."
            )
    return (cached_model(model.name, True), f"{model.name}|trained"), untrained


ctx, messages = start_page("Trained vs untrained")
pair = trained_and_untrained(ctx.model, ctx.model_key)
if isinstance(pair, str):
    st.info(pair)
    stop_page(ctx, messages)
(trained, trained_key), (untrained, untrained_key) = pair
with st.spinner("Running both models…"):
    captures = [cached_capture(ctx.image.digest, key, m, ctx.image.image) for m, key in pair]

with st.sidebar:
    st.header("3 · Layer", divider="gray")
    layer = pick_layer(trained, captures[0])
    st.header("4 · Display", divider="gray")
    display = pick_display()

st.markdown(LESSON)
st.caption(
    f"Colours: {display.describe()}, each side on its own scale (its colour bar states it): random weights "
    "give values of another size, so one scale for both would leave one side blank. Compare patterns here; "
    "compare values on *Compare two images* or in the statistics."
)
columns = st.columns(2)
for column, (model, key), captured, side in zip(columns, pair, captures, ("trained", "untrained"), strict=True):
    with column:
        top = fv.predict(model, captured, top=1)
        verdict = f"predicts **{top[0][0]}** ({top[0][1]:.0%})" if top else ""
        st.subheader(f"{'Trained' if side == 'trained' else 'Untrained'}")
        st.caption(f"{model.label} · {verdict}")
        with reading_layers(ctx, messages):
            fmap = captured[layer]
        figure = cached_grid((ctx.image.digest, key), fmap, display, model.label, display_width=600)
        st.plotly_chart(figure, width="stretch", key=f"compare_{side}", config={"displaylogo": False})

signs = [layer_signs(model, captured, layer) for (model, _), captured in zip(pair, captures, strict=True)]
st.markdown(f"**What separates them, in numbers** ({layer}; filters of {signs[0].filters_of or 'no convolution'})")
rows = [("Filter structure", "filter_structure", "{:.2f}"), ("Redundancy", "redundancy", "{:.2f}"),
        ("Inactive share", "inactive", "{:.0%}")]


def shown(value: float | None, form: str) -> str:
    return "n/a" if value is None else form.format(value)


st.dataframe(
    [{"measure": label, "trained": shown(getattr(signs[0], name), form),
      "untrained": shown(getattr(signs[1], name), form), "what it says": EXPLANATIONS[name]}
     for label, name, form in rows],
    hide_index=True, width="stretch", key="learned_signs",
    column_config={"what it says": st.column_config.TextColumn(width="large")},
)
show_messages(ctx, messages)
