"""Feature maps: pick an image, a model and a layer, and see every channel of that layer."""

from __future__ import annotations

import streamlit as st

import featviz_core as fv
from pages.shared import (
    DEFAULT_MODEL,
    ImageChoice,
    cached_capture,
    cached_model,
    decode,
    last_good,
    recheck_weights,
    remember,
    weights_status,
)

# Formats the decoder recognises only to explain that it cannot read them; accepting them here lets the
# user get that explanation instead of the browser's bare "file type not allowed".
EXPLAINED_EXTENSIONS = ("svg", "heic", "heif", "avif")
SOURCES = ("Sample", "Upload", "Camera")


def pick_image() -> tuple[ImageChoice, list[str]]:
    """Sidebar image picker. A file that fails to decode is reported and the last good image stays."""
    problems: list[str] = []
    st.header("1 · Image", divider="gray")
    source = st.radio("Source", SOURCES, horizontal=True, key="source")
    candidate: tuple[bytes, str] | None = None
    if source == "Sample":
        sample = st.selectbox("Sample image", fv.list_samples(), key="sample")
        st.caption(fv.sample_description(sample))
        candidate = (fv.sample_bytes(sample), sample)
    elif source == "Upload":
        upload = st.file_uploader(
            "Upload an image",
            type=[*fv.UPLOAD_EXTENSIONS, *EXPLAINED_EXTENSIONS],
            key="upload",
            help="PNG, JPEG, WebP, BMP, GIF (first frame) or TIFF, up to 50 MB.",
        )
        if upload is not None:
            candidate = (upload.getvalue(), upload.name)
    else:
        shot = st.camera_input("Take a picture", key="camera")
        if shot is not None:
            candidate = (shot.getvalue(), "camera snapshot")

    choice: ImageChoice | None = None
    if candidate is not None:
        try:
            choice = decode(*candidate)
            remember("image", choice)
        except fv.ImageError as exc:
            problems.append(f"**{candidate[1]}** could not be used: {exc}")
    if choice is None:
        choice = last_good("image")  # type: ignore[assignment]
        if choice is None:
            choice = decode(fv.sample_bytes(fv.DEFAULT_SAMPLE), fv.DEFAULT_SAMPLE)
            remember("image", choice)
        if candidate is None and source != "Sample":
            st.caption(f"Showing **{choice.name}** until you give a new image.")
    return choice, problems


def pick_model() -> fv.LoadedModel | None:
    """Sidebar model picker with honest weights state; returns None when the choice cannot be loaded."""
    st.header("2 · Model", divider="gray")
    models = fv.list_zoo_models()
    if st.session_state.get("model") not in models:
        st.session_state["model"] = DEFAULT_MODEL
    name = st.selectbox("Architecture (torchvision)", models, key="model", help="Type to search.")
    file, state = weights_status(name)
    if "weights" not in st.session_state:  # first visit: pretrained when it can be had, else say why not
        st.session_state["weights"] = "untrained" if state is fv.WeightsState.UNAVAILABLE else "pretrained"
        st.session_state["started_untrained"] = state is fv.WeightsState.UNAVAILABLE
    badge = {
        fv.WeightsState.CACHED: "cached on this machine",
        fv.WeightsState.DOWNLOADABLE: "will be downloaded",
        fv.WeightsState.UNAVAILABLE: "not on this machine",
    }[state]
    weights = st.radio(
        "Weights",
        ("pretrained", "untrained"),
        key="weights",
        format_func=lambda w: f"Pretrained {file.weights} ({badge})" if w == "pretrained" else "Untrained (random)",
    )
    trained = weights == "pretrained"
    if trained and state is fv.WeightsState.UNAVAILABLE:
        weights_missing(file)
        return None
    if trained and state is fv.WeightsState.DOWNLOADABLE:
        if not download(file):
            return None
    try:
        with st.spinner(f"Loading {name}…"):
            model = cached_model(name, trained)
    except fv.FeatvizError as exc:
        st.error(str(exc))
        return None
    remember("model", (name, trained))
    return model


def weights_missing(file: fv.WeightsFile) -> None:
    """The offline case: name the file and the folder, and offer the ways forward."""
    st.error(
        f"The pretrained weights for **{file.model}** are not on this machine and cannot be downloaded "
        f"from here.\n\nTo use them, put the file `{file.filename}` into `{file.folder}` "
        f"(download it from {file.url}), then press *Check again*."
    )
    left, right = st.columns(2)
    left.button(
        "Use untrained weights", key="use_untrained", type="primary",
        on_click=lambda: st.session_state.update(weights="untrained"),
    )
    right.button("Check again", key="recheck", on_click=recheck_weights)


def download(file: fv.WeightsFile) -> bool:
    """Fetch weights with a progress bar; on failure the app stays usable and says why."""
    with st.status(f"Downloading {file.filename}…", expanded=True) as status:
        bar = st.progress(0.0)

        def report(done: int, total: int | None) -> None:
            fraction = done / total if total else 0.0
            bar.progress(min(fraction, 1.0), text=f"{done / 2**20:.1f} MB" + (f" of {total / 2**20:.1f} MB" if total else ""))

        try:
            fv.download_weights(file, progress=report)
        except fv.WeightsUnavailableError as exc:
            status.update(label="Download failed", state="error")
            st.error(str(exc))
            recheck_weights()
            return False
        status.update(label=f"Downloaded {file.filename}", state="complete", expanded=False)
    return True


def pick_layer(model: fv.LoadedModel, captured: fv.Capture) -> str:
    st.header("3 · Layer", divider="gray")
    entries = [entry for entry in fv.layer_tree(model, captured) if entry.key is not None]
    labels = {entry.key: entry.label.replace("  ", "\u2003") for entry in entries}
    keys = list(labels)
    if st.session_state.get("layer") not in labels:
        st.session_state["layer"] = fv.default_layer(captured)
    layer = st.selectbox(
        "Layer (name · type · output shape)", keys, key="layer", format_func=labels.get,
        help="Every module of the model in order, indented by depth. Type to search by name, type or shape.",
    )
    st.caption(f"{len(keys)} layer outputs captured in one forward pass.")
    return layer


def pick_display() -> dict:
    st.header("4 · Display", divider="gray")
    mode = st.selectbox(
        "Normalization", list(fv.NORMALIZATIONS), key="normalization", format_func=fv.NORMALIZATIONS.get,
        help="How raw activations map to colours. Per channel shows each channel's own pattern; the others "
        "keep channels comparable and show the scale on the colour bar.",
    )
    colormap = st.selectbox("Colour map", list(fv.COLORMAPS), key="colormap")
    options: dict = {"normalize": mode, "colormap": colormap}
    if mode == "percentile":
        options["percentiles"] = st.slider("Clip to percentiles", 0.0, 100.0, (1.0, 99.0), 0.5, key="percentiles")
    if mode == "raw":
        left, right = st.columns(2)
        options["vmin"] = left.number_input("Min", value=None, key="vmin", placeholder="layer min", format="%g")
        options["vmax"] = right.number_input("Max", value=None, key="vmax", placeholder="layer max", format="%g")
    if mode == "symmetric" and colormap != fv.DIVERGING:
        st.caption(f"Tip: the diverging map *{fv.DIVERGING}* shows the sign: white is zero.")
    return options


def layer_facts(fmap: fv.FeatureMap, view: fv.ChannelView) -> None:
    values = fmap.tensor.float()
    st.markdown(
        f"**Layer** `{fmap.name}`  \n"
        f"**Type** {fmap.module_type}  \n"
        f"**Output shape** {' × '.join(map(str, fmap.shape)) or 'scalar'}  \n"
        f"**Channels shown** {view.channels} maps of {view.maps.shape[1]}×{view.maps.shape[2]}  \n"
        f"**Values** min {values.min().item():.4g} · mean {values.mean().item():.4g} · max {values.max().item():.4g}"
    )
    for note in (fmap.note, view.note):
        if note:
            st.info(note)


st.title("featviz · what the network sees")

with st.sidebar:
    image, image_problems = pick_image()
    model = pick_model()

if model is None:  # keep what was on screen: the last model that loaded
    previous = last_good("model")
    if previous is None:
        st.stop()
    model = cached_model(*previous)
    st.info(f"Still showing **{model.label}**.")

for problem in image_problems:
    st.error(problem)

try:
    with st.spinner("Running the model on the image…"):
        captured = cached_capture(image.digest, model.name, model.trained, image.image)
except fv.FeatvizError as exc:
    st.error(f"{model.name} could not run on **{image.name}**: {exc}")
    st.stop()

with st.sidebar:
    layer = pick_layer(model, captured)
    display = pick_display()

if not model.trained:
    if st.session_state.get("started_untrained") and model.name == DEFAULT_MODEL:
        file, _ = weights_status(model.name)
        st.warning(
            f"**Untrained weights.** The pretrained weights for {model.name} are not on this machine, so featviz "
            f"started with random weights: expect noise-like maps, not learned features. To use trained "
            f"weights, put `{file.filename}` into `{file.folder}` and choose *Pretrained* in the sidebar."
        )
    else:
        st.warning("**Untrained weights** (random, seed 0): these maps show what a network that has learned nothing does.")

fmap = captured[layer]
view = fv.channel_view(fmap.tensor)
notes = fv.image_notes(image.image)
left, middle, right = st.columns([1, 1, 2])
width, height = image.image.size
left.image(image.image, caption=f"Input · {image.name} · {width}×{height}", width="stretch")
seen = captured.input
middle.image(
    model.input_image(seen),
    caption=f"What the model sees · {seen.shape[-1]}×{seen.shape[-2]} after its preprocessing",
    width="stretch",
)
with right:
    layer_facts(fmap, view)
    for note in notes:
        st.caption(f"Image: {note}.")

try:
    figure = fv.channel_grid(fmap, subtitle=model.label, **display)
except ValueError as exc:
    st.error(f"This view cannot be drawn: {exc}")
    st.stop()
st.plotly_chart(figure, width="stretch", key="grid", config={"displaylogo": False, "scrollZoom": False})
meta = figure.layout.meta["featviz"]
normalized_note = fv.NORMALIZATIONS[display["normalize"]]
st.caption(
    f"All {meta['channels_shown']} channels, numbered from 0. Colours: {normalized_note.lower()}, "
    f"{display['colormap']}. Drag to zoom, double-click to reset; hover for channel, position and raw value."
)
