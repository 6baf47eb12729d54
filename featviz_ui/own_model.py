"""Models people bring as files, kept for their session on every page: ONNX (any framework's export) and
Keras (loaded in safe mode), both safe on a shared server, and TorchScript (a program, so only where the
server's owner allows it)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
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
OWN_KERAS = "Your own model (Keras)"
OWN_MODELS = (OWN_ONNX, OWN_KERAS, OWN_TORCHSCRIPT)
TORCHSCRIPT_EXTENSIONS = ("pt", "pth", "ts", "torchscript", "zip", "pt2")
"""pt2 (torch.export) is accepted only to be refused with the reason and what to do instead."""
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
    if model.extra.get("notice"):
        st.info(model.extra["notice"], icon=":material/info:")
    names, label_problems = pick_labels("torchscript")
    model, key = with_labels(model, given.key, names)
    return model, key, problems + label_problems


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


@dataclass(frozen=True)
class ModelChoices:
    """The preprocessing and class names chosen beside an uploaded model; ``None`` means what the file implies."""

    size: Optional[int] = None
    mean: Optional[tuple[float, ...]] = None
    std: Optional[tuple[float, ...]] = None
    invert: bool = False
    labels: tuple[str, ...] = ()

    def key(self, kind: str, data_digest: str) -> str:
        labels = digest(repr(self.labels).encode())
        return f"{kind}|{data_digest}|{self.size}|{self.mean}|{self.std}|{self.invert}|{labels}"


Files = tuple[str, bytes, dict[str, bytes]]
"""An upload: the model file's name and bytes, and the files beside it (an ONNX graph's weights) by name."""


@dataclass(frozen=True)
class FileModelKind:
    """One kind of model file people upload: how the picker offers it and how featviz_core loads it."""

    kind: str
    option: str
    uploader: str
    extensions: tuple[str, ...]
    help: str
    several: bool
    load: Callable[[Files, ModelChoices], fv.LoadedModel]


def _load_onnx_files(files: Files, choices: ModelChoices) -> fv.LoadedModel:
    filename, data, external = files
    return fv.load_onnx(data, filename, input_size=choices.size, mean=choices.mean, std=choices.std,
                        invert=choices.invert, categories=choices.labels, external=external)


def _load_keras_files(files: Files, choices: ModelChoices) -> fv.LoadedModel:
    filename, data, _ = files
    return fv.load_keras(data, filename, mean=choices.mean, std=choices.std, invert=choices.invert,
                         categories=choices.labels)


ONNX = FileModelKind(
    "onnx", OWN_ONNX, "ONNX model (.onnx, with its .onnx.data file if it has one)", ("onnx", "data", "bin"),
    "Any framework's ONNX export (torch.onnx.export, tf2onnx, skl2onnx…), run with onnxruntime. An ONNX file "
    "holds no code, only operators and weights. torch.onnx.export writes the weights beside the graph, in "
    "model.onnx.data: give both files together.",
    True, _load_onnx_files,
)
KERAS = FileModelKind(
    "keras", OWN_KERAS, "Keras model (.keras, or legacy .h5)", ("keras", "h5", "hdf5"),
    "A model saved with model.save('model.keras'), loaded with Keras 3 on its torch backend in safe mode: a "
    "Lambda layer or a custom class, which would run code, is refused.",
    False, _load_keras_files,
)
LABELS_EXTENSIONS = ("txt", "json")


@dataclass(frozen=True)
class GivenFile:
    """An uploaded model: its files (to load it again with other preprocessing) and the model as last loaded."""

    files: Files
    digest: str
    key: str
    model: fv.LoadedModel

    @property
    def filename(self) -> str:
        return self.files[0]


def pick_onnx_model() -> tuple[fv.LoadedModel | None, str, list[Problem]]:
    return pick_file_model(ONNX)


def pick_keras_model() -> tuple[fv.LoadedModel | None, str, list[Problem]]:
    return pick_file_model(KERAS)


def pick_file_model(kind: FileModelKind) -> tuple[fv.LoadedModel | None, str, list[Problem]]:
    """An uploaded model file, kept for the session on every page, with its preprocessing shown and settable
    and an optional class-names file."""
    given_files = st.file_uploader(
        kind.uploader, type=list(kind.extensions), key=kind.kind, accept_multiple_files=kind.several,
        max_upload_size=upload_limits.model_file_mb(),
        help=f"{kind.help} It stays in your session only, on every page, until you replace or remove it.",
    )
    uploads = list(given_files or []) if kind.several else [given_files] if given_files is not None else []
    problems: list[Problem] = []
    if uploads:
        token = tuple(sorted(upload.file_id for upload in uploads))
        names = ", ".join(upload.name for upload in uploads)
        problems = take(kind.kind, token, names, lambda: _load(kind, _files(uploads, kind), ModelChoices()))
    given: Optional[GivenFile] = kept(kind.kind)
    if given is None:
        st.caption("Choose a model file; the last model stays on screen meanwhile.")
        return None, "", problems
    in_use(f"Using your model **{given.filename}**", kind.kind, _drop_file_model)
    choices, choice_problems = _choices(kind.kind, given.model)
    problems += choice_problems
    if choices.key(kind.kind, given.digest) != given.key:  # other preprocessing or labels: load the files again
        try:
            given = _load(kind, given.files, choices)
        except fv.FeatvizError as exc:
            return None, "", [*problems, problem(f"**{given.filename}** cannot be used so: ", exc)]
        keep(kind.kind, given)
    st.caption(input_caption(given.model))
    return given.model, given.key, problems


def input_caption(model: fv.LoadedModel) -> str:
    """What an uploaded model is fed, in one line: size, channels, layout, normalization (and ONNX opset)."""
    extra = model.extra
    height, width = extra["input_size"]
    mean = ", ".join(f"{m:g}" for m in model.mean)
    std = ", ".join(f"{s:g}" for s in model.std)
    opsets = ", ".join(f"{domain} {version}" for domain, version in extra.get("opsets", {}).items())
    inverted = " · inverted" if extra.get("invert") else ""
    return (f"Input: {extra['channels']} channel(s), {height}×{width}, {extra['layout']}{inverted} · mean {mean} · "
            f"std {std}{f' · opset {opsets}' if opsets else ''} · {len(model.categories) or 'no'} class names.")


def _files(uploads: list, kind: FileModelKind) -> Files:
    main = [upload for upload in uploads if not upload.name.lower().endswith((".data", ".bin"))]
    if len(main) != 1:
        raise fv.ModelError(f"Give one model file (and, for ONNX, the weights file beside it); these are {len(main)}.")
    external = {upload.name: upload.getvalue() for upload in uploads if upload is not main[0]}
    return main[0].name, main[0].getvalue(), external


def _load(kind: FileModelKind, files: Files, choices: ModelChoices) -> GivenFile:
    filename, data, external = files
    with st.spinner(f"Loading {filename}…"):
        model = kind.load(files, choices)
    data_digest = digest(data + b"".join(external[name] for name in sorted(external)))
    return GivenFile(files, data_digest, choices.key(kind.kind, data_digest), model)


def _choices(prefix: str, model: fv.LoadedModel) -> tuple[ModelChoices, list[Problem]]:
    """Preprocessing (what the file leaves open, shown as placeholders) and a class-names file."""
    problems: list[Problem] = []
    with st.expander("Preprocessing and class names"):
        size = None
        if model.extra.get("size_fixed") is False:
            size = st.number_input("Input size", min_value=8, max_value=1024, value=None, step=1, key=f"{prefix}_size",
                                   placeholder=str(model.extra["input_size"][0]), persist_state="session",
                                   help="The model leaves the size open: the side of the square input, in pixels.")
        mean = _numbers("Mean per channel", f"{prefix}_mean", model.mean, problems)
        std = _numbers("Std per channel", f"{prefix}_std", model.std, problems)
        invert = False
        if model.extra["channels"] == 1:
            invert = st.checkbox("Invert (light ink on dark, as MNIST)", key=f"{prefix}_invert",
                                 persist_state="session")
        names, label_problems = pick_labels(prefix)
    return ModelChoices(int(size) if size else None, mean, std, invert, names), problems + label_problems


def pick_labels(prefix: str) -> tuple[tuple[str, ...], list[Problem]]:
    """A class-names file for a model that brings its own head, kept while it stays in the uploader."""
    labels = st.file_uploader("Class names (.txt, one per line, or .json)", type=list(LABELS_EXTENSIONS),
                              key=f"{prefix}_labels", help="So predictions read “cat”, not “class 2”.")
    if labels is None:
        return (), []
    problems = take(f"{prefix}_labels", labels.file_id, labels.name,
                    lambda: fv.read_labels(labels.getvalue(), labels.name))
    return kept(f"{prefix}_labels") or (), problems


def with_labels(model: fv.LoadedModel, key: str, names: tuple[str, ...]) -> tuple[fv.LoadedModel, str]:
    """The model with these class names (and a cache key that says so); as it was when there are none."""
    if not names:
        return model, key
    return dataclasses.replace(model, categories=names), f"{key}|labels:{digest(repr(names).encode())}"


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


def _drop_file_model(slot: str) -> None:
    forget(slot)
    set_choice("model", DEFAULT_MODEL)
