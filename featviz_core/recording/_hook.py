"""The one way featviz records a torch model's layers: a process-wide forward hook that sees the calling
thread only, for as long as a ``with`` block lasts.

Why this shape, for capture, scans, the scan views and the receptive field alike:

* **Nothing is written into the model.** One loaded model serves every browser session. A hook per module
  would be registered on (and have to be removed from) modules other sessions are running; torch's global
  module hook touches no module, and registering one costs microseconds where 250 per-module hooks cost a
  millisecond.
* **One thread's pass only.** The global hook fires for every module call of every model in the process;
  each recording keeps only the calls made on the thread that opened it, and only the modules it names, so
  two sessions running the same model never see each other's outputs.
* **Always removed.** The hook goes in ``finally``, whether the pass returns, raises, or is ended early
  with :class:`StopForward`.
* **Gradients too.** Outputs are handed over as the module returned them. Under ``torch.enable_grad()``
  they are part of the autograd graph, so gradient work (a unit's receptive field, class activation maps,
  feature visualization) takes ``torch.autograd.grad`` of an objective with respect to recorded outputs
  (:func:`gradients`): no tensor hook on the model, no ``requires_grad`` changed on its parameters. featviz
  loads models with their parameters frozen, so it is a copy of the input, made to require gradients, that
  puts the recorded outputs into the graph.

Models whose layers torch's hooks cannot see (other runtimes, TorchScript) record themselves through
:mod:`featviz_core.recording._runtime` instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_hook

OnLayer = Callable[[str, nn.Module, tuple[Any, ...], Any], None]
"""Called as ``on_layer(name, module, args, output)`` after each named module returns on the recording thread.
It runs inside the model's forward pass: keep it lean, and raise :class:`StopForward` to end the pass."""


class StopForward(Exception):
    """Ends a forward pass from inside :data:`OnLayer` once what it needs has run (nothing after it is needed).
    The caller of the model catches it."""


@contextmanager
def layer_outputs(names: Mapping[int, str], on_layer: OnLayer) -> Iterator[None]:
    """Hand every output of the modules in ``names`` (``id(module)`` → layer name) to ``on_layer``, for
    forward passes on this thread, while the block runs.

    Example::

        >>> import torch
        >>> from torch import nn
        >>> from featviz_core.recording import layer_outputs
        >>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())
        >>> seen = {}
        >>> with layer_outputs({id(model[0]): "conv"}, lambda name, m, a, out: seen.setdefault(name, out.shape)):
        ...     _ = model(torch.zeros(1, 1, 8, 8))
        >>> seen
        {'conv': torch.Size([1, 4, 6, 6])}
    """
    owner = threading.get_ident()
    name_of = names.get

    def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        name = name_of(id(module))
        if name is not None and threading.get_ident() == owner:
            on_layer(name, module, args, output)

    handle = register_module_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def named_submodules(model: nn.Module, layers: Sequence[str] | None = None) -> dict[int, str]:
    """``id(module)`` → name for ``model``'s submodules (the root left out), or only for ``layers``."""
    if layers is None:
        return {id(module): name for name, module in model.named_modules() if name}
    found = dict(model.named_modules())
    return {id(found[layer]): layer for layer in layers if layer in found}


def gradients(objective: torch.Tensor, outputs: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """The gradient of a scalar ``objective`` with respect to each recorded output (or input), through the
    autograd graph of the pass alone: nothing accumulates in the model's parameters' ``.grad``."""
    return torch.autograd.grad(objective, list(outputs), allow_unused=False)
