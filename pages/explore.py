"""Feature maps: every channel of the chosen layer, for the image and model chosen in the sidebar."""

from __future__ import annotations

import streamlit as st
from PIL import Image

import featviz_core as fv
from pages.controls import pick_display, pick_layer
from pages.shared import show_messages
from pages.sidebar import build_context

INPUT_DISPLAY = 224  # small inputs (28×28 digits) are enlarged without smoothing, so pixels stay visible


def model_input(model: fv.LoadedModel, captured: fv.Capture) -> Image.Image:
    seen = model.input_image(captured.input)
    if max(seen.size) < INPUT_DISPLAY:
        scale = INPUT_DISPLAY // max(seen.size)
        seen = seen.resize((seen.width * scale, seen.height * scale), Image.Resampling.NEAREST)
    return seen


def layer_facts(fmap: fv.FeatureMap, view: fv.ChannelView) -> None:
    values = fmap.tensor.float()
    st.markdown(
        f"**Layer** `{fmap.name}`  \n"
        f"**Type** {fmap.module_type}  \n"
        f"**Output shape** {' × '.join(map(str, fmap.shape)) or 'scalar'}  \n"
        f"**Shown as** {view.channels} maps of {view.maps.shape[1]}×{view.maps.shape[2]}  \n"
        f"**Values** min {values.min().item():.4g} · mean {values.mean().item():.4g} · max {values.max().item():.4g}"
    )
    for note in (fmap.note, view.note):
        if note:
            st.info(note)


def prediction(model: fv.LoadedModel, captured: fv.Capture) -> None:
    top = 10 if len(model.categories) <= 10 else 5
    predictions = fv.predict(model, captured, top=top)
    if not predictions:
        st.caption("This model's output is not a class score vector: no prediction to show.")
        return
    label, probability = predictions[0]
    st.metric(f"Prediction · {probability:.1%}", label)
    st.plotly_chart(fv.prediction_chart(predictions, trained=model.trained, height=60 + 22 * len(predictions)),
                    width="stretch", key="prediction", config={"displayModeBar": False})


st.title("featviz · what the network sees")
ctx = build_context()
show_messages(ctx)
if ctx.captured is None or ctx.model is None:
    st.info("Choose an image and a model in the sidebar.")
    st.stop()
model, captured, image = ctx.model, ctx.captured, ctx.image

with st.sidebar:
    st.header("3 · Layer", divider="gray")
    layer = pick_layer(model, captured)
    st.header("4 · Display", divider="gray")
    display = pick_display()

fmap = captured[layer]
view = fv.channel_view(fmap.tensor)
first, second, third, fourth = st.columns([1, 1, 1.2, 1.6])
width, height = image.image.size
first.image(image.image, caption=f"Input · {image.name} · {width}×{height}", width="stretch")
side = captured.input.shape[-1]
second.image(
    model_input(model, captured), width="stretch",
    caption=f"What the model sees · {side}×{captured.input.shape[-2]} after its preprocessing"
    + (" (grayscale, inverted to light-on-dark, cropped to the digit, centred)" if model.name == "digits_cnn" else ""),
)
with third:
    prediction(model, captured)
with fourth:
    layer_facts(fmap, view)
    for note in fv.image_notes(image.image):
        st.caption(f"Image: {note}.")

try:
    figure = fv.channel_grid(fmap, subtitle=model.label, **display)
except ValueError as exc:
    st.error(f"This view cannot be drawn: {exc}")
    st.stop()
st.plotly_chart(figure, width="stretch", key="grid", config={"displaylogo": False, "scrollZoom": False})
meta = figure.layout.meta["featviz"]
st.caption(
    f"All {meta['channels_shown']} channels, numbered from 0. Colours: "
    f"{fv.NORMALIZATIONS[display['normalize']].lower()}, {display['colormap']}. Drag to zoom, double-click to "
    "reset; hover for channel, position and raw value."
)
