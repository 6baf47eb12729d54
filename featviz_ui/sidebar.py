"""The sidebar every page shares: which image and which model, and the capture they give.

Each page builds it first, through :func:`featviz_ui.page.start_page`; choices carry over between pages
(``persistent_choice``), and so does whatever the person gave (an uploaded image or snapshot, weights, a
TorchScript model): a file uploader forgets its file when its page ends, so what was read from it is kept
in the session (``featviz_ui.state.kept``) until it is replaced or removed. The entry point does not
build it: Streamlit's AppTest reruns only the page script, so widgets drawn by app.py could not be tested.
Whatever fails (an unreadable upload, weights that are not there, a model that does not fit the image) is
reported and the last good image, model and capture stay on screen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Union

import streamlit as st

import featviz_core as fv
from featviz_core.analysis import labels_mismatch
from featviz_core.images import UPLOAD_EXTENSIONS
from featviz_core.models import (
    UNTRAINED_SEED,
    WeightsFile,
    WeightsState,
    digits_metadata,
    download_weights,
    registry_problem,
)
from featviz_core.samples import DEFAULT_SAMPLE, sample_bytes, sample_description

from . import upload_limits
from .caches import cached_capture, cached_model
from .context import Context, ImageChoice, decode, digest
from .given import in_use, remove_button, take
from .messages import Problem, problem, show_problem
from .own_model import (
    DEFAULT_MODEL,
    OWN_KERAS,
    OWN_MODELS,
    OWN_ONNX,
    OWN_TORCHSCRIPT,
    pick_keras_model,
    pick_labels,
    pick_onnx_model,
    pick_torchscript_model,
    with_labels,
)
from .state import (
    forget,
    keep_choice,
    kept,
    last_good,
    link_note,
    persistent_choice,
    remember,
    set_choice,
)
from .weights_probe import recheck_weights, weights_status

SOURCES = ("Sample", "Upload", "Camera")
# Formats the decoder recognises only to explain that it cannot read them; accepting them here lets the
# user get that explanation instead of the browser's bare "file type not allowed".
EXPLAINED_EXTENSIONS = ("svg", "heic", "heif", "avif")
WEIGHTS_EXTENSIONS = ("pth", "pt", "bin", "ckpt", "safetensors")


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
            mismatch = labels_mismatch(ctx.model, ctx.captured)
            if mismatch:
                ctx.notices.append(mismatch)
        except fv.FeatvizError as exc:
            ctx.problems.append(problem(f"**{ctx.model.name}** could not run on **{image.name}**: ", exc))
            previous = last_good("capture")
            if previous is not None:
                ctx.image, ctx.model, ctx.model_key, ctx.captured = previous
                ctx.notices.append(f"Still showing **{ctx.image.name}** through **{ctx.model.label}**.")
    if ctx.model is not None and not ctx.model.trained:
        ctx.notices.append(
            f"**Untrained weights** (random, seed {UNTRAINED_SEED}): these maps show what a network "
            "that has learned nothing does. On a smooth image random filters still give smooth maps: "
            "*Trained vs untrained* shows what gives them away."
        )
    return ctx


def pick_image() -> tuple[ImageChoice, list[Problem]]:
    """Sample, upload or camera. An upload or snapshot stays chosen for the session, on every page, until it
    is replaced or removed; a file that fails to decode is reported and the last good image stays."""
    problems: list[Problem] = []
    st.header("1 · Image", divider="gray")
    persistent_choice("source", list(SOURCES), SOURCES[0], "image source")
    linked_upload = st.query_params.get("source") in ("Upload", "Camera") and "last_good_image" not in st.session_state
    source = st.radio("Source", SOURCES, horizontal=True, key="source", bind="query-params")
    keep_choice("source")
    choice: ImageChoice | None = None
    if source == "Sample":
        samples = fv.list_samples()
        persistent_choice("sample", samples, DEFAULT_SAMPLE, "sample image")
        sample = st.selectbox("Sample image", samples, key="sample", bind="query-params")
        keep_choice("sample")
        st.caption(sample_description(sample))
        choice = decode(sample_bytes(sample), sample)
    else:
        slot = source.lower()
        if source == "Upload":
            given = st.file_uploader(
                "Upload an image", type=[*UPLOAD_EXTENSIONS, *EXPLAINED_EXTENSIONS], key="upload",
                max_upload_size=upload_limits.image_mb(),
                help=f"PNG, JPEG, WebP, BMP, GIF (first frame) or TIFF, up to {upload_limits.image_mb()} MB. "
                "It stays in your session only, on every page, until you replace or remove it.",
            )
        else:
            given = st.camera_input("Take a picture", key="camera")
        if given is not None:
            name = given.name if source == "Upload" else "camera snapshot"
            problems += take(slot, given.file_id, name, lambda: decode(given.getvalue(), name))
        choice = kept(slot)
        if choice is not None:
            what = "your upload" if source == "Upload" else "your"
            in_use(f"Using {what} **{choice.name}**", slot, _drop_image)
        if linked_upload and choice is None:
            link_note(
                "This link was shared from an uploaded or camera image, which cannot travel in a link: everything "
                f"else is restored, on the sample **{DEFAULT_SAMPLE}** until you give the image again."
            )
    if choice is None:
        choice = last_good("image")  # type: ignore[assignment]
        if choice is None:
            choice = decode(sample_bytes(DEFAULT_SAMPLE), DEFAULT_SAMPLE)
        st.caption(f"Showing **{choice.name}** until you give a new image.")
    remember("image", choice)
    return choice, problems


def _drop_image(slot: str) -> None:
    forget(slot)
    set_choice("source", "Sample")


def _model_label(name: str) -> str:
    if name == DEFAULT_MODEL:
        return "digits_cnn · handwritten digits (bundled, trained)"
    return name


def pick_model() -> tuple[fv.LoadedModel | None, str, list[Union[str, Problem]]]:
    """Model and weights. Returns (model or None, cache key, problems for the main area)."""
    st.header("2 · Model", divider="gray")
    options = [*fv.available_models(), *OWN_MODELS]
    persistent_choice("model", options, DEFAULT_MODEL, "model", format_func=_model_label)
    name = st.selectbox("Model", options, key="model", format_func=_model_label, help="Type to search.",
                        bind="query-params")
    keep_choice("model")
    trouble = registry_problem()
    if trouble:
        st.warning(f"The team's models file cannot be used: {trouble}")
    if name == OWN_TORCHSCRIPT:
        return pick_torchscript_model()
    if name == OWN_ONNX:
        return pick_onnx_model()
    if name == OWN_KERAS:
        return pick_keras_model()
    bundled = name == DEFAULT_MODEL
    if bundled:
        meta = digits_metadata()
        pretrained_label, state_note = "Trained by featviz", f"{meta['test_accuracy']:.1%} on held-out MNIST digits"
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
        "pretrained": pretrained_label, "untrained": "Untrained (random)",
        "upload": "Upload a weights file (.pth, .safetensors)",
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
        return None, "", [problem("", exc)]
    return model, f"{name}|{'trained' if trained else 'untrained'}", []


def weights_missing(file: WeightsFile) -> None:
    """The offline case: name the file and the folder, and offer the ways forward."""
    st.error(
        f"**{file.filename}** is not on this machine and cannot be downloaded from here. Either "
        f"{file.how_to_get} and press *Check again*, upload it, or use untrained weights."
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
            show_problem(problem("", exc))
            recheck_weights()
            return False
        status.update(label=f"Downloaded {file.filename}", state="complete", expanded=False)
    return True


@dataclass(frozen=True)
class GivenWeights:
    """A state dict the person uploaded, checked and loaded into its architecture (``arch``)."""

    filename: str
    arch: str
    key: str  # the capture cache key
    model: fv.LoadedModel


def pick_weights_file(name: str) -> tuple[fv.LoadedModel | None, str, list[Problem]]:
    """Uploaded weights for ``name``, kept for the session once they fit, on every page."""
    upload = st.file_uploader(
        f"State dict for {name}", type=list(WEIGHTS_EXTENSIONS), key="weights_file",
        max_upload_size=upload_limits.model_file_mb(),
        help="A file written by torch.save(model.state_dict(), ...), read with weights_only=True, or a .safetensors "
        "file: nothing in either is executed. It stays in your session only, on every page, until you replace or "
        "remove it.",
    )
    problems: list[Problem] = []
    if upload is not None:
        problems = take("weights_file", (upload.file_id, name), upload.name, lambda: _check_weights(name, upload))
    given: Optional[GivenWeights] = kept("weights_file")
    if given is None or given.arch != name:
        st.caption("Choose a weights file; the last model stays on screen meanwhile.")
        return None, "", problems
    st.success(f"Using your weights **{given.filename}**: every tensor matches {name}.")
    remove_button("weights_file", _drop_weights)
    names, label_problems = pick_labels("weights")
    model, key = with_labels(given.model, given.key, names)
    return model, key, problems + label_problems


def _check_weights(name: str, upload: Any) -> GivenWeights:
    data = upload.getvalue()
    with st.spinner(f"Checking {upload.name} against {name}…"):
        model = fv.load_with_state_dict(name, data, upload.name)
    return GivenWeights(upload.name, name, f"{name}|upload|{digest(data)}", model)


def _drop_weights(slot: str) -> None:
    forget(slot)
    set_choice("weights", "pretrained")
