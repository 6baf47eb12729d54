"""Models from other runtimes (onnxruntime, Keras) behind a torch module, which record their own layers.

torch's hooks see only torch submodules. A model run by another runtime is wrapped in a
:class:`RecordedModule`: its ``forward`` runs the whole model once and, while :func:`recording` is active on
the calling thread, hands every layer's output to the capture, as TorchScript's recording operator does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Optional

import torch
from torch import nn

Record = tuple[str, tuple[torch.Tensor, str, Optional[tuple[int, ...]]]]
"""``(layer, (output channels first with its batch, note, input shape without batch))``"""

_local = threading.local()


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


def is_recorded(module: Any) -> bool:
    return isinstance(module, RecordedModule)


@contextmanager
def recording(sink: list[Record]) -> Iterator[None]:
    """Collect what :class:`RecordedModule` models run on this thread record."""
    previous = getattr(_local, "sink", None)
    _local.sink = sink
    try:
        yield
    finally:
        _local.sink = previous
