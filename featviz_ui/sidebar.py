"""The sidebar every page shares: which image and which model, and the capture they give.

Each page builds it first, through :func:`featviz_ui.page.start_page`; choices carry over between pages
(``persistent_choice``). The entry point does not build it: Streamlit's AppTest reruns only the page
script, so widgets drawn by app.py could not be tested. Whatever fails (an unreadable upload, weights that
are not there, a model that does not fit the image) is reported and the last good image, model and capture
stay on screen.
"""

from __future__ import annotations

import streamlit as st

import featviz_core as fv
from featviz_core import digits, settings
from featviz_core.images import UPLOAD_EXTENSIONS
from featviz_core.models import UNTRAINED_SEED
from featviz_core.samples import DEFAULT_SAMPLE, sample_bytes, sample_description
from featviz_core.weights import WeightsFile, WeightsState, download_weights

from . import upload_limits
from .caches import cached_capture, cached_model
from .context import Context, ImageChoice, decode, digest
from .state import keep_choice, last_good, link_note, persistent_choice, remember, set_choice
from .weights_probe import recheck_weights, weights_status

SOURCES = ("Sample", "Upload", "Camera")
OWN_MODEL = "Your own model (TorchScript)"
DEFAULT_MODEL = "digits_cnn"
# Formats the decoder recognises only to explain that it cannot read them; accepting them here lets the
# user get that explanation instead of the browser's bare "file type not allowed".
EXPLAINED_EXTENSIONS = ("svg", "heic", "heif", "avif")
WEIGHTS_EXTENSIONS = ("pth", "pt", "bin", "ckpt")
TORCHSCRIPT_EXTENSIONS = ("pt", "pth", "ts", "torchscript", "zip")


def build_context() -> Context:
    """Render the shared sidebar and run (or fetch from cache) the capture for its choices."""
    with st.sidebar:
        image, problems = pick_image()
        model, model_key, model_problems = pick_model()
    ctx = Context(image=image, model=model, model_key=model_key, problems=problems + model_problems)
    if ctx.model is None:
        previous = last_good("model")
        if previous is not None:
            ctx.model, ctx.model_key = previous
            ctx.notices.append(
                f"Still showing **{ctx.model.label}** until the model chosen in the sidebar can be used."
            )
    else:
        remember("model", (ctx.model, ctx.model_key))
    if ctx.model is not None:
        try:
            with st.spinner("Running the model on the image…"):
                ctx.captured = cached_capture(image.digest, ctx.model_key, ctx.model, image.image)
            remember("capture", (image, ctx.model, ctx.model_key, ctx.captured))
        except fv.FeatvizError as exc:
            ctx.problems.append(f"**{ctx.model.name}** could not run on **{image.name}**: {exc}")
            previous = last_good("capture")
            if previous is not None:
                ctx.image, ctx.model, ctx.model_key, ctx.captured = previous
                ctx.notices.append(f"Still showing **{ctx.image.name}** through **{ctx.model.label}**.")
    if ctx.model is not None and not ctx.model.trained:
        ctx.notices.append(
            f"**Untrained weights** (random, seed {UNTRAINED_SEED}): these maps show what a network "
            "that has learned nothing does. Expect noise-like maps, not learned features."
        )
    return ctx


def pick_image() -> tuple[ImageChoice, list[str]]:
    """Sample, upload or camera. A file that fails to decode is reported and the last good image stays."""
    problems: list[str] = []
    st.header("1 · Image", divider="gray")
    persistent_choice("source", list(SOURCES), SOURCES[0], "image source")
    linked_upload = st.query_params.get("source") in ("Upload", "Camera") and "last_good_image" not in st.session_state
    source = st.radio("Source", SOURCES, horizontal=True, key="source", bind="query-params")
    keep_choice("source")
    candidate: tuple[bytes, str] | None = None
    if source == "Sample":
        samples = fv.list_samples()
        persistent_choice("sample", samples, DEFAULT_SAMPLE, "sample image")
        sample = st.selectbox("Sample image", samples, key="sample", bind="query-params")
        keep_choice("sample")
        st.caption(sample_description(sample))
        candidate = (sample_bytes(sample), sample)
    elif source == "Upload":
        upload = st.file_uploader(
            "Upload an image", type=[*UPLOAD_EXTENSIONS, *EXPLAINED_EXTENSIONS], key="upload",
            max_upload_size=upload_limits.image_mb(),
            help=f"PNG, JPEG, WebP, BMP, GIF (first frame) or TIFF, up to {upload_limits.image_mb()} MB.",
        )
        if upload is not None:
            candidate = (upload.getvalue(), upload.name)
    else:
        shot = st.camera_input("Take a picture", key="camera")
        if shot is not None:
            candidate = (shot.getvalue(), "camera snapshot")

    if linked_upload and candidate is None:
        link_note(
            "This link was shared from an uploaded or camera image, which cannot travel in a link: everything "
            f"else is restored, on the sample **{DEFAULT_SAMPLE}** until you give the image again."
        )
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
            choice = decode(sample_bytes(DEFAULT_SAMPLE), DEFAULT_SAMPLE)
            remember("image", choice)
        if candidate is None and source != "Sample":
            st.caption(f"Showing **{choice.name}** until you give a new image.")
    return choice, problems


def _model_label(name: str) -> str:
    if name == DEFAULT_MODEL:
        return "digits_cnn · handwritten digits (bundled, trained)"
    return name


def pick_model() -> tuple[fv.LoadedModel | None, str, list[str]]:
    """Model and weights. Returns (model or None, cache key, problems for the main area)."""
    st.header("2 · Model", divider="gray")
    options = [*fv.available_models(), OWN_MODEL]
    persistent_choice("model", options, DEFAULT_MODEL, "model", format_func=_model_label)
    name = st.selectbox("Model", options, key="model", format_func=_model_label, help="Type to search.",
                        bind="query-params")
    keep_choice("model")
    if name == OWN_MODEL:
        return pick_own_model()
    bundled = name == DEFAULT_MODEL
    if bundled:
        meta = digits.metadata()
        pretrained_label, state_note = "Trained by featviz", f"{meta['test_accuracy']:.1%} on held-out digits"
        file, state = None, WeightsState.CACHED
    else:
        file, state = weights_status(name)
        pretrained_label = f"Pretrained {file.weights}"
        state_note = {
            WeightsState.CACHED: "cached on this machine",
            WeightsState.DOWNLOADABLE: "will be downloaded",
            WeightsState.UNAVAILABLE: "not on this machine",
        }[state]
    # labels stay the same on every machine (they travel in shared links); the state goes in the caption
    labels = {
        "pretrained": pretrained_label, "untrained": "Untrained (random)", "upload": "Upload a weights file (.pth)"
    }
    persistent_choice("weights", list(labels), "pretrained", "weights", format_func=labels.get)
    weights = st.radio("Weights", list(labels), key="weights", format_func=labels.get, bind="query-params",
                       captions=[state_note, "", ""])
    keep_choice("weights")

    if weights == "upload":
        return pick_weights_file(name)
    trained = weights == "pretrained"
    if trained and state is WeightsState.UNAVAILABLE:
        weights_missing(file)
        missing = f"The pretrained weights for **{name}** are not on this machine: see the sidebar for what to do."
        return None, "", [missing]
    if trained and state is WeightsState.DOWNLOADABLE and not download(file):
        return None, "", [f"The pretrained weights for **{name}** could not be downloaded."]
    try:
        with st.spinner(f"Loading {name}…"):
            model = cached_model(name, trained)
    except fv.FeatvizError as exc:
        return None, "", [str(exc)]
    return model, f"{name}|{'trained' if trained else 'untrained'}", []


def weights_missing(file: WeightsFile) -> None:
    """The offline case: name the file and the folder, and offer the ways forward."""
    st.error(
        f"**{file.filename}** is not on this machine and cannot be downloaded from here. Either put it into "
        f"`{file.folder}` (it comes from {file.url}) and press *Check again*, upload it, or use untrained weights."
    )
    st.button("Use untrained weights", key="use_untrained", type="primary", on_click=set_choice,
              args=("weights", "untrained"))
    left, right = st.columns(2)
    left.button("Upload it", key="upload_weights", on_click=set_choice, args=("weights", "upload"))
    right.button("Check again", key="recheck", on_click=recheck_weights)


def download(file: WeightsFile) -> bool:
    """Fetch weights with a progress bar; on failure the app stays usable and says why."""
    with st.status(f"Downloading {file.filename}…", expanded=True) as status:
        bar = st.progress(0.0)

        def report(done: int, total: int | None) -> None:
            text = f"{done / 2**20:.1f} MB" + (f" of {total / 2**20:.1f} MB" if total else "")
            bar.progress(min(done / total, 1.0) if total else 0.0, text=text)

        try:
            download_weights(file, progress=report)
        except fv.WeightsUnavailableError as exc:
            status.update(label="Download failed", state="error")
            st.error(str(exc))
            recheck_weights()
            return False
        status.update(label=f"Downloaded {file.filename}", state="complete", expanded=False)
    return True


def _session_models() -> dict:
    """Models uploaded in this session only: never in a cache another session can reach. One at a time."""
    return st.session_state.setdefault("session_models", {})


def _keep_session_model(key: str, model: fv.LoadedModel) -> None:
    models = _session_models()
    models.clear()
    models[key] = model


def pick_weights_file(name: str) -> tuple[fv.LoadedModel | None, str, list[str]]:
    upload = st.file_uploader(
        f"State dict for {name}", type=list(WEIGHTS_EXTENSIONS), key="weights_file",
        max_upload_size=upload_limits.model_file_mb(),
        help="A file written by torch.save(model.state_dict(), ...). It is read with weights_only=True: "
        "nothing in it is executed. It stays in your session only.",
    )
    if upload is None:
        st.caption("Choose a weights file; the last model stays on screen meanwhile.")
        return None, "", []
    data = upload.getvalue()
    key = f"{name}|upload|{digest(data)}"
    model = _session_models().get(key)
    if model is None:
        try:
            with st.spinner(f"Checking {upload.name} against {name}…"):
                model = fv.load_with_state_dict(name, data, upload.name)
        except fv.FeatvizError as exc:
            return None, "", [f"**{upload.name}** cannot be used: {exc}"]
        _keep_session_model(key, model)
    st.success(f"{upload.name}: every tensor matches {name}.")
    return model, key, []


def pick_own_model() -> tuple[fv.LoadedModel | None, str, list[str]]:
    if not settings.current().allow_torchscript:
        st.info(
            "This server does not accept TorchScript models: a TorchScript file is a program that would run "
            "here. Upload a state dict for one of the listed architectures instead."
        )
        return None, "", []
    upload = st.file_uploader(
        "TorchScript model (torch.jit.save)", type=list(TORCHSCRIPT_EXTENSIONS), key="own_model",
        max_upload_size=upload_limits.model_file_mb(),
        help="Stays in your session only.",
    )
    if upload is None:
        st.caption("Choose a TorchScript file; the last model stays on screen meanwhile.")
        return None, "", []
    data = upload.getvalue()
    left, right = st.columns(2)
    channels = left.selectbox("Input channels", ("auto", 1, 3), key="own_channels")
    size = right.number_input("Input size", min_value=8, max_value=1024, value=None, step=1, key="own_size",
                              placeholder="auto", help="Side of the square input, in pixels.")
    key = f"torchscript|{digest(data)}|{size}|{channels}"
    model = _session_models().get(key)
    if model is None:
        try:
            with st.spinner(f"Loading {upload.name}…"):
                model = fv.load_torchscript(
                    data, upload.name, input_size=int(size) if size else None,
                    channels=None if channels == "auto" else int(channels),
                )
        except fv.FeatvizError as exc:
            return None, "", [f"**{upload.name}** cannot be used: {exc}"]
        _keep_session_model(key, model)
    st.caption(f"Input: {model.extra['channels']} channel(s), {model.extra['input_size']}×{model.extra['input_size']}.")
    return model, key, []
