"""Capture for TorchScript models: every submodule's output, recorded by an operator in its graph.

Each submodule's compiled ``forward`` gets one extra node before it returns (see
:func:`featviz_core._torch_private.add_output_recorder`): ``featviz::record(name, output)``, an operator
whose kernel is Python. It copies the output into the recording of the calling thread (if that thread is
capturing) and passes the tensor through unchanged, so the model computes exactly what it did before.
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager
from typing import Any

import torch

from .. import _torch_private as torch_private
from ..recording._runtime import Record, recording, register_runtime

_OPERATOR = "featviz::record"
_NAME_ATTRIBUTE = "__featviz_name"


def _record(name: str, tensor: torch.Tensor) -> torch.Tensor:
    # Looked up through sys.modules, not this module's globals: after Streamlit reloads featviz_core the
    # operator registered by the first import must reach the current module's recordings.
    sink = sys.modules["featviz_core.recording._runtime"].current_sink()
    if sink is not None:
        sink.append((name, (tensor.detach().clone(), "", None)))  # (copy, note, input shape): as the hooks record
    return tensor


def _register_operator() -> None:
    """Define featviz::record once per process (a second definition raises, e.g. on a module reload)."""
    if hasattr(torch.ops.featviz, "record"):
        return
    library = torch.library.Library("featviz", "DEF")
    library.define("record(str name, Tensor(a) t) -> Tensor(a)")
    library.impl("record", _record, "CompositeExplicitAutograd")
    _LIBRARIES.append(library)  # the registration lives as long as this object


_LIBRARIES: list = getattr(torch.library, "_featviz_libraries", [])
torch.library._featviz_libraries = _LIBRARIES  # kept on a module that is never reloaded
_register_operator()


def is_scripted(module: Any) -> bool:
    return isinstance(module, torch.jit.ScriptModule)


class _ScriptedRecording:
    """A TorchScript model as a :class:`~featviz_core.recording.SelfRecording`: instrumented (once per model)
    when a capture starts recording it."""

    def __init__(self, root: torch.jit.ScriptModule) -> None:
        self._root = root

    @property
    def layer_types(self) -> dict[str, str]:
        return module_types(self._root)

    def recording(self, sink: list[Record]) -> AbstractContextManager[None]:
        instrument(self._root)
        return recording(sink)


register_runtime("torchscript", finder=lambda module: _ScriptedRecording(module) if is_scripted(module) else None)


def module_types(module: torch.jit.ScriptModule) -> dict[str, str]:
    """Submodule name -> the Python class it was scripted from."""
    return {name: getattr(sub, "original_name", type(sub).__name__) for name, sub in module.named_modules()}


def instrument(root: torch.jit.ScriptModule) -> torch.jit.ScriptModule:
    """Add the recording node to every submodule type's forward graph, once per loaded model."""
    torch_private.add_output_recorder(root, _OPERATOR, _NAME_ATTRIBUTE)
    return root
