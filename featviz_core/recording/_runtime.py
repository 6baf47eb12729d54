"""Models whose layers torch's module hooks cannot see record themselves: one small protocol for all of them.

torch's forward hooks see only Python submodules. A model run by another runtime (onnxruntime, Keras) is
wrapped in a :class:`RecordedModule` whose ``forward`` runs the whole model once and hands every layer's
output to :meth:`RecordedModule.record`; a TorchScript model records through an operator added to its graph
(:mod:`featviz_core.models._torchscript_recording`). Either way the outputs go to the calling thread's
:func:`recording`, so sessions sharing a model never see each other's layers, as with the hook.

What a runtime offers a capture is :class:`SelfRecording`: its layer names and types, and a recording. A
runtime module registers, when imported, how to recognise its models (:func:`register_runtime`); the capture
asks :func:`self_recording` and :func:`as_module` and knows no runtime by name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Optional, Protocol

import torch
from torch import nn

Record = tuple[str, tuple[torch.Tensor, str, Optional[tuple[int, ...]]]]
"""``(layer, (output channels first with its batch, note, input shape without batch))``"""

_local = threading.local()


class SelfRecording(Protocol):
    """A model that records its own layers: what a capture needs of it."""

    @property
    def layer_types(self) -> Mapping[str, str]:
        """Layer name → its type, in model order."""
        ...

    def recording(self, sink: list[Record]) -> AbstractContextManager[None]:
        """While active, this thread's forward passes append each layer's :data:`Record` to ``sink``."""
        ...


class RecordedModule(nn.Module):
    """A model from another runtime. Subclasses set ``layer_types`` (layer name → its type, in model order)
    and call :meth:`record` for each layer in ``forward``."""

    layer_types: dict[str, str]

    @staticmethod
    def recording_now() -> bool:
        """Whether this thread's forward pass is being captured (if not, skip the work of recording)."""
        return getattr(_local, "sink", None) is not None

    @staticmethod
    def record(layer: str, tensor: torch.Tensor, note: str = "", input_shape: Optional[tuple[int, ...]] = None) -> None:
        sink = getattr(_local, "sink", None)
        if sink is not None:
            sink.append((layer, (tensor, note, input_shape)))

    def recording(self, sink: list[Record]) -> AbstractContextManager[None]:
        return recording(sink)


@contextmanager
def recording(sink: list[Record]) -> Iterator[None]:
    """Collect what self-recording models run on this thread record (see :meth:`RecordedModule.record`)."""
    previous = getattr(_local, "sink", None)
    _local.sink = sink
    try:
        yield
    finally:
        _local.sink = previous


def current_sink() -> Optional[list[Record]]:
    """This thread's recording, if one is active (what a runtime's own recording operator appends to)."""
    return getattr(_local, "sink", None)


Finder = Callable[[Any], Optional[SelfRecording]]
Wrapper = Callable[[Any], Optional[nn.Module]]
_finders: dict[str, Finder] = {"recorded": lambda module: module if isinstance(module, RecordedModule) else None}
_wrappers: dict[str, Wrapper] = {}


def register_runtime(name: str, *, finder: Optional[Finder] = None, wrapper: Optional[Wrapper] = None) -> None:
    """Teach captures a runtime: ``finder`` gives a module's :class:`SelfRecording` (None: not one of this
    runtime's), ``wrapper`` turns a model object of the runtime (a Keras model) into a torch module. Keyed by
    ``name``, so a runtime module imported again (Streamlit reloads changed modules) replaces its own entry."""
    if finder is not None:
        _finders[name] = finder
    if wrapper is not None:
        _wrappers[name] = wrapper


def self_recording(module: Any) -> Optional[SelfRecording]:
    """How ``module`` records its own layers; None for a Python model, which the hook records."""
    for finder in _finders.values():
        found = finder(module)
        if found is not None:
            return found
    return None


def as_module(model: Any) -> Optional[nn.Module]:
    """A registered runtime's model object as a torch module; None when no runtime knows it."""
    for wrap in _wrappers.values():
        module = wrap(model)
        if module is not None:
            return module
    return None
