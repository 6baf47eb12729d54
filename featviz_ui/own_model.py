"""Models people bring as files, kept for their session on every page: ONNX (any framework's export, safe
on a shared server) and TorchScript (a program, so only where the server's owner allows it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import streamlit as st

import featviz_core as fv
from featviz_core import settings

from . import upload_limits
from .context import digest
from .given import in_use, take
from .messages import Problem, problem
from .state import forget, keep, kept, set_choice

OWN_TORCHSCRIPT = "Your own model (TorchScript)"
OWN_ONNX = "Your own model (ONNX)"
OWN_MODELS = (OWN_ONNX, OWN_TORCHSCRIPT)
TORCHSCRIPT_EXTENSIONS = ("pt", "pth", "ts", "torchscript", "zip")
DEFAULT_MODEL = "digits_cnn"


@dataclass(frozen=True)
class GivenTorchScript:
    """A TorchScript file the person uploaded: its bytes (to load it again at another input size), and the
    model as last loaded, with its cache key."""

    filename: str
    data: bytes
    digest: str
    key: str
    model: fv.LoadedModel


def pick_torchscript_model() -> tuple[fv.LoadedModel | None, str, list[Problem]]:
    """An uploaded TorchScript model, kept for the session once it loads, on every page."""
    if not settings.current().allow_torchscript:
        st.info(
            "This server does not accept TorchScript models: a TorchScript file is a program that would run "
            "here. Upload a state dict for one of the listed architectures instead."
        )
        return None, "", []
    upload = st.file_uploader(
        "TorchScript model (torch.jit.save)", type=list(TORCHSCRIPT_EXTENSIONS), key="own_model",
        max_upload_size=upload_limits.model_file_mb(),
        help="It stays in your session only, on every page, until you replace or remove it.",
    )
    problems: list[Problem] = []
    if upload is not None:
        problems = take("own_model", upload.file_id, upload.name,
                         lambda: _load_torchscript(upload.name, upload.getvalue()))
    given: Optional[GivenTorchScript] = kept("own_model")
    if given is None:
        st.caption("Choose a TorchScript file; the last model stays on screen meanwhile.")
        return None, "", problems
    in_use(f"Using your model **{given.filename}**", "own_model", _drop_own_model)
    left, right = st.columns(2)
    channels = left.selectbox("Input channels", ("auto", 1, 3), key="own_channels", persist_state="session")
    size = right.number_input("Input size", min_value=8, max_value=1024, value=None, step=1, key="own_size",
                              placeholder="auto", help="Side of the square input, in pixels.",
                              persist_state="session")
    key = _torchscript_key(given.digest, size, channels)
    if key != given.key:  # another input size or channel count: load the same file again for it
        try:
            given = _load_torchscript(given.filename, given.data, size, channels)
        except fv.FeatvizError as exc:
            return None, "", [*problems, problem(f"**{given.filename}** cannot be used: ", exc)]
        keep("own_model", given)
    model = given.model
    st.caption(f"Input: {model.extra['channels']} channel(s), {model.extra['input_size']}×{model.extra['input_size']}.")
    return model, given.key, problems


def _torchscript_key(data_digest: str, size: Optional[float], channels: Union[str, int]) -> str:
    return f"torchscript|{data_digest}|{size}|{channels}"


def _load_torchscript(filename: str, data: bytes, size: Optional[float] = None,
                      channels: Union[str, int] = "auto") -> GivenTorchScript:
    with st.spinner(f"Loading {filename}…"):
        model = fv.load_torchscript(
            data, filename, input_size=int(size) if size else None,
            channels=None if channels == "auto" else int(channels),
        )
    data_digest = digest(data)
    return GivenTorchScript(filename, data, data_digest, _torchscript_key(data_digest, size, channels), model)


def _drop_own_model(slot: str) -> None:
    forget(slot)
    set_choice("model", DEFAULT_MODEL)


ONNX_EXTENSIONS = ("onnx", "data", "bin")
"""The graph, and the file(s) ``torch.onnx.export`` keeps its weights in beside it (``model.onnx.data``)."""
LABELS_EXTENSIONS = ("txt", "json")


@dataclass(frozen=True)
class GivenOnnx:
    """An ONNX upload: its files (to load it again with other preprocessing) and the model as last loaded."""

    filename: str
    data: bytes
    external: dict[str, bytes]
    digest: str
    key: str
    model: fv.LoadedModel


@dataclass(frozen=True)
class OnnxChoices:
    """The preprocessing and class names chosen beside an ONNX model; ``None`` means what the graph implies."""

    size: Optional[int] = None
    mean: Optional[tuple[float, ...]] = None
    std: Optional[tuple[float, ...]] = None
    invert: bool = False
    labels: tuple[str, ...] = ()

    def key(self, data_digest: str) -> str:
        labels = digest(repr(self.labels).encode())
        return f"onnx|{data_digest}|{self.size}|{self.mean}|{self.std}|{self.invert}|{labels}"


def pick_onnx_model() -> tuple[fv.LoadedModel | None, str, list[Problem]]:
    """An uploaded ONNX model (with its weights file when it has one), kept for the session on every page,
    with its preprocessing shown and settable and an optional class-names file."""
    uploads = st.file_uploader(
        "ONNX model (.onnx, with its .onnx.data file if it has one)", type=list(ONNX_EXTENSIONS), key="onnx_model",
        accept_multiple_files=True, max_upload_size=upload_limits.model_file_mb(),
        help="Any framework's ONNX export (torch.onnx.export, tf2onnx, keras2onnx, skl2onnx…), run with "
        "onnxruntime. An ONNX file holds no code, only operators and weights. It stays in your session only, on "
        "every page, until you replace or remove it.",
    )
    problems: list[Problem] = []
    if uploads:
        token = tuple(sorted(upload.file_id for upload in uploads))
        names = ", ".join(upload.name for upload in uploads)
        problems = take("onnx_model", token, names, lambda: _load_onnx(_files(uploads), OnnxChoices()))
    given: Optional[GivenOnnx] = kept("onnx_model")
    if given is None:
        st.caption("Choose an ONNX file; the last model stays on screen meanwhile.")
        return None, "", problems
    in_use(f"Using your model **{given.filename}**", "onnx_model", _drop_onnx)
    choices, choice_problems = _onnx_choices(given.model)
    problems += choice_problems
    if choices.key(given.digest) != given.key:  # other preprocessing or labels: load the same files again
        try:
            given = _load_onnx((given.filename, given.data, given.external), choices)
        except fv.FeatvizError as exc:
            return None, "", [*problems, problem(f"**{given.filename}** cannot be used so: ", exc)]
        keep("onnx_model", given)
    st.caption(onnx_input_caption(given.model))
    return given.model, given.key, problems


def onnx_input_caption(model: fv.LoadedModel) -> str:
    """What the model is fed, in one line: size, channels, layout, normalization, opset."""
    extra = model.extra
    height, width = extra["input_size"]
    mean = ", ".join(f"{m:g}" for m in model.mean)
    std = ", ".join(f"{s:g}" for s in model.std)
    opsets = ", ".join(f"{domain} {version}" for domain, version in extra["opsets"].items())
    inverted = " · inverted" if extra.get("invert") else ""
    return (f"Input: {extra['channels']} channel(s), {height}×{width}, {extra['layout']}{inverted} · mean {mean} · "
            f"std {std} · opset {opsets} · {len(model.categories) or 'no'} class names.")


def _files(uploads: list) -> tuple[str, bytes, dict[str, bytes]]:
    graphs = [upload for upload in uploads if upload.name.lower().endswith(".onnx")]
    if len(graphs) != 1:
        raise fv.ModelError(
            f"Give one .onnx file (and the weights file beside it, if it has one); these are {len(graphs)}."
        )
    external = {upload.name: upload.getvalue() for upload in uploads if upload is not graphs[0]}
    return graphs[0].name, graphs[0].getvalue(), external


def _load_onnx(files: tuple[str, bytes, dict[str, bytes]], choices: OnnxChoices) -> GivenOnnx:
    filename, data, external = files
    with st.spinner(f"Loading {filename}…"):
        model = fv.load_onnx(data, filename, input_size=choices.size, mean=choices.mean, std=choices.std,
                             invert=choices.invert, categories=choices.labels, external=external)
    data_digest = digest(data + b"".join(external[name] for name in sorted(external)))
    return GivenOnnx(filename, data, external, data_digest, choices.key(data_digest), model)


def _onnx_choices(model: fv.LoadedModel) -> tuple[OnnxChoices, list[Problem]]:
    """Preprocessing (what the graph leaves open, shown as placeholders) and a class-names file."""
    problems: list[Problem] = []
    with st.expander("Preprocessing and class names"):
        size = None
        if not model.extra["size_fixed"]:
            size = st.number_input("Input size", min_value=8, max_value=1024, value=None, step=1, key="onnx_size",
                                   placeholder=str(model.extra["input_size"][0]), persist_state="session",
                                   help="The graph leaves the size open: the side of the square input, in pixels.")
        mean = _numbers("Mean per channel", "onnx_mean", model.mean, problems)
        std = _numbers("Std per channel", "onnx_std", model.std, problems)
        invert = False
        if model.extra["channels"] == 1:
            invert = st.checkbox("Invert (light ink on dark, as MNIST)", key="onnx_invert", persist_state="session")
        labels = st.file_uploader("Class names (.txt, one per line, or .json)", type=list(LABELS_EXTENSIONS),
                                  key="onnx_labels", help="So predictions read “cat”, not “class 2”.")
        names: tuple[str, ...] = ()
        if labels is not None:
            problems += take("onnx_labels", labels.file_id, labels.name,
                             lambda: fv.read_labels(labels.getvalue(), labels.name))
            names = kept("onnx_labels") or ()
    return OnnxChoices(int(size) if size else None, mean, std, invert, names), problems


def _numbers(label: str, key: str, default: tuple[float, ...], problems: list[Problem]) -> Optional[tuple[float, ...]]:
    """Numbers typed as "0.5, 0.5, 0.5"; empty means the default, shown as the placeholder."""
    text = st.text_input(label, key=key, placeholder=", ".join(f"{v:g}" for v in default), persist_state="session")
    if not text.strip():
        return None
    try:
        return tuple(float(part) for part in text.replace(";", ",").split(","))
    except ValueError:
        problems.append(problem("", fv.ModelError(f"{label}: give numbers separated by commas, e.g. 0.5, 0.5, 0.5.")))
        return None


def _drop_onnx(slot: str) -> None:
    forget(slot)
    set_choice("model", DEFAULT_MODEL)
