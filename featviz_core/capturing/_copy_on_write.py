"""Keep references to layer outputs, and copy one only when an in-place op is about to overwrite it.

Why: a capture must show each layer's output as the layer returned it, but torchvision's ReLUs run in
place and residual blocks add their shortcut with ``+=``, so a plain reference to a batch-norm output is
overwritten before the forward pass ends. Copying every output when it is recorded is correct but costs a
memory pass and a fresh allocation per layer (on a 2-core CPU, 15-50 % of a plain forward pass). Most
outputs are never written to again: convolutions, pools and activations that are not followed by an
in-place op. This mode watches the torch calls made during the forward pass and copies a kept output just
before a call that writes into its storage; everything else stays a reference.

A call writes into its first argument when its name ends in ``_`` (``relu_``, ``add_``, ``copy_``), when it
is an augmented assignment (``__iadd__``) or item assignment (``__setitem__``), or when it is passed
``inplace=True``; it writes into ``out=`` when given. Views count: a write into any tensor sharing a kept
output's storage copies that output first.

Models with attention layers are the exception: ``nn.MultiheadAttention`` and the ``nn.Transformer*``
layers leave their fused fast path when any torch function mode is active, which would change the model's
arithmetic (by about 1e-6) and its speed. :func:`guard_for` gives those models :class:`CopyAtOnce`, which
copies every output when it is recorded and enters no mode.

Watching costs too: with the mode entered every torch call goes through Python, which on small, fast models
(MobileNet, ShuffleNet, RegNet) costs more than everything else a capture does. So the mode watches a
model's first pass at each input shape only, and remembers which recorded outputs were overwritten
(:class:`WritePlan`, held beside the model, never on it); later passes run unwatched and copy just those
outputs when they are recorded (:class:`PlannedCopies`): the value they had just before the first write,
as before. A pass that records other modules than the plan's (control flow that changed) is run again
watched, and its plan replaces the old one.

Limits: writes that bypass ``__torch_function__`` (a tensor changed through ``.numpy()`` or a C++ extension
that mutates its inputs without going through the dispatcher's Python layer) are not seen. The mode is
thread-local, like every torch function mode, so it sees only the forward pass of the thread that enters it.
A plan assumes that the same modules, called in the same order, write into the same outputs: a model that
writes in place only for some input values (the same modules running either way) would need watching on
every pass. None of torchvision's or timm's models does.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional, Union

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from .._per_model import PerModel

_AUGMENTED = frozenset(
    f"__i{op}__"
    for op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "and", "or", "xor", "lshift", "rshift",
               "matmul")
) | {"__setitem__"}

_StorageKey = tuple[torch.device, int]


class Kept:
    """A recorded output: the live tensor until something writes into it, then a copy taken just before."""

    __slots__ = ("tensor", "index")

    def __init__(self, tensor: Optional[torch.Tensor], index: int = 0) -> None:
        self.tensor = tensor  # None: watched only (CopyOnWrite.watch)
        self.index = index  # the record's position in the pass: what a plan names


class CopyOnWrite(TorchFunctionMode):
    """While entered, copies kept tensors before a torch call overwrites them (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._live: dict[_StorageKey, list[Kept]] = {}
        self.copied: set[int] = set()  # indices of the kept outputs that had to be copied

    def keep(self, tensor: torch.Tensor, index: int = 0) -> Kept:
        """Hold ``tensor`` by reference; it is copied if a later call in this mode writes into its storage."""
        kept = Kept(tensor.detach() if tensor.requires_grad else tensor, index)
        key = _storage_key(kept.tensor)
        if key is None:  # no plain storage to watch (sparse, nested, ...): copy now
            kept.tensor = kept.tensor.clone()
            self.copied.add(index)
        else:
            self._live.setdefault(key, []).append(kept)
        return kept

    def watch(self, tensor: torch.Tensor, index: int) -> None:
        """Note, without holding ``tensor``, whether a later call writes into it: for an output that was used
        up as it returned (a plan must still know it is overwritten). Memory freed and reused by another
        tensor can only mark it wrongly as overwritten, which costs a copy in later passes, never a value."""
        key = _storage_key(tensor)
        if key is not None:
            self._live.setdefault(key, []).append(Kept(None, index))

    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: Optional[dict] = None):
        if kwargs is None:
            kwargs = {}
        if self._live:
            for target in _written(func, args, kwargs):
                self._copy_before_write(target)
        return func(*args, **kwargs)

    def _copy_before_write(self, target: torch.Tensor) -> None:
        key = _storage_key(target)
        kept = self._live.pop(key, None) if key is not None else None
        if not kept:
            return
        copies: dict[int, torch.Tensor] = {}  # one copy per tensor object (a Sequential shares its child's)
        for item in kept:
            if item.tensor is None:  # only watched (see watch): nothing to copy, only to remember
                self.copied.add(item.index)
                continue
            if id(item.tensor) not in copies:
                copies[id(item.tensor)] = item.tensor.clone()
            item.tensor = copies[id(item.tensor)]
            self.copied.add(item.index)


class CopyAtOnce:
    """The plain way: copy every output when it is recorded. A context manager that does nothing else."""

    def keep(self, tensor: torch.Tensor, index: int = 0) -> Kept:
        return Kept(tensor.detach().clone(), index)

    def __enter__(self) -> CopyAtOnce:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@dataclass(frozen=True)
class WritePlan:
    """What a watched pass learned: the modules it recorded, in order, and which of their outputs were
    overwritten later in the pass."""

    records: tuple[str, ...]
    copy: frozenset[int]


class PlannedCopies:
    """Copy, when recorded, the outputs a plan names; keep the rest by reference. Enters no mode."""

    def __init__(self, plan: WritePlan) -> None:
        self.plan = plan

    def keep(self, tensor: torch.Tensor, index: int = 0) -> Kept:
        tensor = tensor.detach() if tensor.requires_grad else tensor
        return Kept(tensor.clone() if index in self.plan.copy else tensor, index)

    def __enter__(self) -> PlannedCopies:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


Guard = Union[CopyOnWrite, CopyAtOnce, PlannedCopies]
PlanKey = tuple[Any, ...]
"""What a plan holds for: the input's shape, dtype and device (another shape may take other paths)."""

_MAX_PLANS_PER_MODEL = 16
_plans: PerModel[WritePlan] = PerModel(per_model=_MAX_PLANS_PER_MODEL)


def known_plan(model: nn.Module, key: PlanKey) -> Optional[WritePlan]:
    return _plans.get(model, key)


def remember_plan(model: nn.Module, key: PlanKey, plan: WritePlan) -> None:
    """Keep ``plan`` beside ``model`` (a weak reference: it goes with the model; the model is not touched)."""
    _plans.put(model, plan, key)


FAST_PATH_MODULES = (nn.MultiheadAttention, nn.TransformerEncoderLayer, nn.TransformerEncoder)
"""Modules that check ``has_torch_function`` and take a different kernel when a mode is active."""


def guard_for(fast_path: bool, plan: Optional[WritePlan] = None) -> Guard:
    """Copy-on-write (or the ``plan`` a watched pass left), unless the model has a module that a torch
    function mode would move off its own fast path (``fast_path``: one of :data:`FAST_PATH_MODULES`)."""
    if fast_path:
        return CopyAtOnce()
    return PlannedCopies(plan) if plan is not None else CopyOnWrite()


def _storage_key(tensor: torch.Tensor) -> Optional[_StorageKey]:
    try:
        return tensor.device, tensor.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):
        return None


def _written(func: Callable, args: tuple, kwargs: dict) -> list[torch.Tensor]:
    """The tensors ``func(*args, **kwargs)`` writes into (called for every torch call: kept cheap)."""
    how = _HOW.get(func, _UNKNOWN)
    if how is _UNKNOWN:
        if len(_HOW) > 10_000:  # bound the memo, whatever callables come through
            _HOW.clear()
        how = _HOW[func] = _how_it_writes(func)
    targets: list[torch.Tensor] = []
    if kwargs:
        out = kwargs.get("out")
        if out is not None:
            outs = out if isinstance(out, (tuple, list)) else (out,)
            targets.extend(t for t in outs if isinstance(t, torch.Tensor))
        if "inplace" in kwargs:
            how = _WRITES_FIRST if kwargs["inplace"] is True else None
    if how is not None and args and isinstance(args[0], torch.Tensor):
        if how == _WRITES_FIRST or (len(args) > how and args[how] is True):
            targets.append(args[0])
    return targets


_WRITES_FIRST = -1
_UNKNOWN = object()
_HOW: dict[Callable, Optional[int]] = {}


def _how_it_writes(func: Callable) -> Optional[int]:
    """-1: always into its first argument; k >= 0: into it when its ``inplace`` parameter, at position k,
    is True (``F.relu(x, inplace=True)``, ``F.hardswish(x, True)``); None: never, unless given ``out=``."""
    name = getattr(func, "__name__", "")
    if (name.endswith("_") and not name.endswith("__")) or name in _AUGMENTED:
        return _WRITES_FIRST
    return _inplace_position(func)


def _inplace_position(func: Callable) -> Optional[int]:
    try:
        parameters = list(inspect.signature(func).parameters)
    except (TypeError, ValueError):  # builtins without a signature take no ``inplace`` flag
        return None
    return parameters.index("inplace") if "inplace" in parameters else None
