"""The one way featviz records a model's layers, for captures, scans and gradient work alike.

A Python model is recorded by one process-wide forward hook that keeps the calling thread's outputs only and
is always removed (:func:`layer_outputs`); a model whose layers that hook cannot see (another runtime's, a
TorchScript one) records itself into the same thread's recording (:class:`SelfRecording`). Nothing is ever
written into the model, which other sessions may be running at the same time.
"""

from ._hook import OnLayer, StopForward, gradients, layer_outputs, named_submodules
from ._runtime import (
    Record,
    RecordedModule,
    SelfRecording,
    as_module,
    recording,
    register_runtime,
    self_recording,
)

__all__ = [
    "layer_outputs",
    "named_submodules",
    "OnLayer",
    "StopForward",
    "gradients",
    "SelfRecording",
    "RecordedModule",
    "Record",
    "recording",
    "register_runtime",
    "self_recording",
    "as_module",
]
