"""State dicts people bring, read and checked before any model sees them: plain tensors, never unpickled beyond
``weights_only``, and sniffing of what else an upload may be.

A ``.pth`` from the internet can be a pickle that runs code when loaded, so state dicts are read with
``torch.load(weights_only=True)``, which only rebuilds tensors and plain containers. A full pickled model
is refused with the two ways to export one that featviz can read. Nothing here builds a model: the loaders
(zoo, registry, uploads, other runtimes) all read through it.
"""

from __future__ import annotations

import io
import pickle
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from .. import settings
from ..errors import ModelError, library_text

EXPORT_HINT = (
    "Export it in one of these forms instead: the weights alone with "
    "`torch.save(model.state_dict(), 'weights.pth')`, or the whole model as TorchScript with "
    "`torch.jit.save(torch.jit.script(model), 'model.pt')`."
)


@dataclass(frozen=True)
class StateDictReport:
    """How an uploaded state dict fits an architecture."""

    missing: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    mismatched: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = ()  # key, expected, got

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def counts(self) -> str:
        """How many tensors do not fit, by kind: the short form of :meth:`summary`."""
        kinds = (("missing", self.missing), ("unexpected", self.unexpected), ("with the wrong shape", self.mismatched))
        return ", ".join(f"{len(items)} {kind}" for kind, items in kinds if items) or "all tensors match"

    def summary(self, limit: int = 8) -> str:
        """A readable list of what does not fit, a few of each kind."""
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} missing: " + _listing(self.missing, limit))
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected: " + _listing(self.unexpected, limit))
        if self.mismatched:
            shown = [f"{k} expects {_shape(e)}, file has {_shape(g)}" for k, e, g in self.mismatched]
            parts.append(f"{len(self.mismatched)} with the wrong shape: " + _listing(shown, limit))
        return "; ".join(parts) if parts else "all tensors match"


def read_state_dict(data: bytes, filename: str = "the file") -> dict[str, torch.Tensor]:
    """Read a state dict from uploaded bytes: a torch.save checkpoint (common wrappers such as
    ``{'state_dict': ...}`` are opened) or a .safetensors file."""
    if not data:
        raise ModelError(f"{filename} is empty (0 bytes). Choose the file again.")
    check_size(data, filename)
    if is_torchscript(data):
        raise ModelError(f"{filename} is a TorchScript model, not a state dict: choose *Your own model* to use it.")
    if is_export_archive(data) or filename.lower().endswith(".pt2"):
        raise ModelError(f"{filename} {PT2_REFUSAL}")
    if is_safetensors(data) or filename.lower().endswith(".safetensors"):
        return _read_safetensors(data, filename)
    try:
        loaded = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        needed = _PICKLED_CLASS.search(library_text(exc))
        if needed is None and "global" not in str(exc).lower():
            raise _unreadable(filename, exc) from None
        what = f" (`{needed.group(1)}`)" if needed else ""
        raise ModelError(
            f"{filename} holds more than weights: it contains a pickled Python object{what}, such as a whole model. "
            "featviz does not unpickle uploads, because unpickling can run any code. " + EXPORT_HINT,
            detail=exc,
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise _unreadable(filename, exc) from None
    state = _unwrap(loaded)
    if state is None:
        raise ModelError(f"{filename} does not contain a state dict (a mapping of names to tensors). " + EXPORT_HINT)
    return state


def is_safetensors(data: bytes) -> bool:
    """A safetensors file: an 8-byte little-endian header length, then that many bytes of JSON."""
    if len(data) < 10:
        return False
    header = int.from_bytes(data[:8], "little")
    return 2 <= header <= len(data) - 8 and data[8:9] == b"{"


def _read_safetensors(data: bytes, filename: str) -> dict[str, torch.Tensor]:
    """Tensors from a .safetensors file: plain data, read by the safetensors library (nothing is unpickled)."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        state = load(data)
    except (SafetensorError, ValueError, RuntimeError, OSError) as exc:
        raise ModelError(
            f"{filename} is not a readable safetensors file: it is damaged or cut short. Save the weights again "
            "with `safetensors.torch.save_file(model.state_dict(), 'weights.safetensors')`.",
            detail=exc,
        ) from None
    if not state:
        raise ModelError(f"{filename} holds no tensors: save the model's state dict into it.")
    return state


_PICKLED_CLASS = re.compile(r"GLOBAL ([\w.]+) was not an allowed global")
"""The class torch's safe unpickler refused, as it names it (e.g. ``mypackage.models.Net``)."""


def _unreadable(filename: str, exc: BaseException) -> ModelError:
    return ModelError(
        f"{filename} is not a readable PyTorch checkpoint: it is damaged or cut short, or was not written by "
        "torch.save. Save the weights again with `torch.save(model.state_dict(), 'weights.pth')` and upload that.",
        detail=exc,
    )


def check_size(data: bytes, filename: str) -> None:
    """Refuse a weights or model file over the server's limit (FEATVIZ_MAX_WEIGHTS_MB)."""
    limit = settings.current().max_weights_bytes
    if len(data) > limit:
        raise ModelError(
            f"{filename} is {len(data) / 2**20:.1f} MB; this server accepts up to {limit / 2**20:.0f} MB. Use a "
            "smaller model, or ask whoever runs this server to raise FEATVIZ_MAX_WEIGHTS_MB."
        )


def check_state_dict(module: nn.Module, state: Mapping[str, torch.Tensor]) -> StateDictReport:
    """Compare names and shapes with ``module`` before anything is loaded."""
    expected = module.state_dict()
    missing = tuple(k for k in expected if k not in state)
    unexpected = tuple(k for k in state if k not in expected)
    mismatched = tuple(
        (k, tuple(expected[k].shape), tuple(state[k].shape))
        for k in expected
        if k in state and tuple(expected[k].shape) != tuple(state[k].shape)
    )
    return StateDictReport(missing, unexpected, mismatched)


def is_torchscript(data: bytes) -> bool:
    """TorchScript archives are zips with a ``code/`` folder; state dicts saved by torch.save have none."""
    return any("/code/" in name or name.startswith("code/") for name in _zip_names(data))


def is_torch_save(data: bytes) -> bool:
    """A zip written by torch.save (a state dict or a pickled model): its pickle is ``data.pkl``, with no code."""
    names = _zip_names(data)
    return any(name.endswith("data.pkl") for name in names) and not is_torchscript(data)


def is_export_archive(data: bytes) -> bool:
    """A ``torch.export`` archive (``.pt2``): a zip with an ``archive_format`` entry."""
    return any(name == "archive_format" or name.endswith("/archive_format") for name in _zip_names(data))


PT2_REFUSAL = (
    "is a torch.export archive (.pt2). Loading one unpickles parts of it, which can run code on the server, so "
    "featviz refuses it. Export the model to ONNX instead (`torch.onnx.export(model, (example,), 'model.onnx')`) "
    "and choose *Your own model (ONNX)*, or upload its state dict (`model.state_dict()`) for a listed architecture."
)


def is_keras_archive(data: bytes) -> bool:
    """A ``.keras`` file: a zip holding Keras' ``config.json`` and ``metadata.json``."""
    names = set(_zip_names(data))
    return {"config.json", "metadata.json"} <= names


def is_onnx_bytes(data: bytes) -> bool:
    """Whether ``data`` parses as an ONNX model with a graph (cheap: onnx reads only the protobuf)."""
    try:
        import onnx

        return bool(onnx.load_model_from_string(data).graph.node)
    except Exception:  # noqa: BLE001 - whatever onnx raises for bytes that are not its format
        return False


def _zip_names(data: bytes) -> list[str]:
    if not data.startswith(b"PK"):
        return []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.namelist()
    except zipfile.BadZipFile:
        return []


def _unwrap(loaded: object) -> Optional[dict[str, torch.Tensor]]:
    if isinstance(loaded, Mapping):
        if loaded and all(isinstance(v, torch.Tensor) for v in loaded.values()):
            return dict(loaded)
        for key in ("state_dict", "model_state_dict", "model", "weights"):
            inner = loaded.get(key)
            if isinstance(inner, Mapping):
                return _unwrap(inner)
    return None


def strip_prefix(state: dict[str, torch.Tensor], module: nn.Module) -> dict[str, torch.Tensor]:
    """Drop the 'module.' that DataParallel and DDP add to every key, when the model has no such prefix."""
    expected = module.state_dict()
    for prefix in ("module.", "model."):
        if state and all(k.startswith(prefix) for k in state) and not any(k in expected for k in state):
            return {k[len(prefix):]: v for k, v in state.items()}
    return state


def _listing(items, limit: int) -> str:
    items = list(items)
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape)) or "scalar"
