"""Record every layer's output in one forward pass.

Several things make this harder than registering a hook per module:

* **In-place ops.** torchvision's ReLUs run in place (and ResNet adds its shortcut with ``+=``), so a
  reference to a batch-norm output is overwritten before the forward pass ends. Outputs are kept by
  reference, and one is copied only just before a torch call writes into it
  (:mod:`featviz_core.capturing._copy_on_write`): on resnet50, 49 of its 182 outputs, and captures take a quarter
  less memory. Attention models, whose fused kernels a torch function mode would switch off, copy every
  output instead.
* **Shared models.** One loaded model serves every browser session. The capture records through
  featviz's one recording (:func:`featviz_core.recording.layer_outputs`): a process-wide hook that keeps only
  the calling thread's calls and writes nothing into the model.
* **Shared tensors.** A layer that returns its input or its last child's output (a Sequential, a
  residual block ending in its ReLU) is the same tensor as that child's map, not a copy of it.
* **Clean-up.** The hook is removed in a ``finally`` block, whether the forward pass succeeds or raises.
* **Other runtimes.** TorchScript runs children inside its interpreter, where hooks cannot reach, and
  ONNX and Keras models are not torch modules inside: they record their own layers into the same per-thread
  recording (:class:`featviz_core.recording.SelfRecording`). The capture asks for that protocol and knows no
  runtime by name.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any, NamedTuple, Optional, Protocol, Union, runtime_checkable

import torch
from PIL import Image
from torch import nn

from .. import _torch_private as torch_private
from ..activations._records import Capture, FeatureMap
from ..activations._token_layouts import layout_for
from ..errors import FeatvizError, ImageError, ModelError
from ..models._load import LoadedModel, module_device
from ..recording import StopForward, as_module, layer_outputs, self_recording
from ._copy_on_write import (
    CopyAtOnce,
    CopyOnWrite,
    Kept,
    PlannedCopies,
    WritePlan,
    guard_for,
    known_plan,
    remember_plan,
)
from ._input_budget import check_preprocess_budget
from ._module_index import module_index

ModelLike = Union[LoadedModel, nn.Module]
InputLike = Union[Image.Image, torch.Tensor]


def capture(model: ModelLike, image: InputLike, *, keep: Optional[Keep] = None,
            layers: Optional[Collection[str]] = None) -> Capture:
    """Run ``model`` once on ``image`` and return every submodule's output.

    ``image`` is a PIL image (preprocessed with the model's own pipeline when ``model`` is a
    :class:`LoadedModel`) or a ready tensor of shape (C, H, W) or (1, C, H, W). The forward pass runs under
    ``torch.inference_mode()`` on the device the model lives on.

    ``keep``, when given, is applied to each layer's :class:`FeatureMap` as soon as the layer returns, and
    what it gives back is kept instead: the capture then never holds every layer as returned, which bounds
    its memory (:class:`featviz_core.cache.Compactor` keeps float16 and spills to disk past a budget). A
    ``keep`` that can wait (:class:`KeepLater`) is handed the first layers only when they are first read
    from the capture, exact as the model returned them: what the model's forward pass waits for is then no
    more than what a plain capture costs.

    ``layers``, when given, names the only layers to keep (as a capture names them: ``name``, ``name#2`` for a
    module's second call); the pass ends as soon as they have all returned, where featviz's hooks can see the
    model's modules, so a layer near the input costs a fraction of a forward pass.

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> list(maps)[:4]
        ['conv1', 'relu1', 'pool1', 'conv2']
        >>> maps["conv1"].shape
        (32, 26, 26)
    """
    module, batch, label = _prepare(model, image)
    plan_key = (tuple(batch.shape), batch.dtype, batch.device)
    wanted = frozenset(layers) if layers is not None else None
    output: Any = None
    try:
        recorder = _Recorder(module, plan_key, keep=keep, only=wanted)
        with recorder.listening(), torch.inference_mode():
            try:
                output = module(batch)
            except StopForward:  # every layer asked for has returned (``layers``)
                pass
        if not recorder.followed_plan():  # other modules ran than the plan's: watch this pass again
            recorder = _Recorder(module, plan_key, watch=True, keep=keep)
            with recorder.listening(), torch.inference_mode():
                output = module(batch)
    except FeatvizError:
        raise  # from ``keep`` (a full spill disk): already said for a person
    except Exception as exc:  # noqa: BLE001 - whatever the model's forward raises (torch.jit.Error is no RuntimeError)
        shape = "×".join(map(str, batch.shape))
        raise ModelError(
            f"The model could not run on this input (shape {shape}). Most often a model expects another input size "
            "or number of channels: give it the input it was made for. Its own error is in the details.",
            detail=exc,
        ) from None
    logits = output[0].detach().cpu() if isinstance(output, torch.Tensor) and output.shape[:1] == (1,) else None
    maps, waiting = recorder.feature_maps()
    if wanted is not None:
        maps = {key: fmap for key, fmap in maps.items() if key in wanted}
    if not maps:
        raise ModelError(
            f"{label} ran, but none of its layers could be captured: it has no torch submodules that return a "
            "tensor. A Keras model's layers are not torch submodules: load it with fv.load_keras (or pass the "
            "Keras model itself); an ONNX model goes through fv.load_onnx."
        )
    finish = keep if isinstance(keep, KeepLater) and waiting else None
    return Capture(maps, batch[0].detach().cpu(), logits, label, finish=finish, waiting=waiting)


def _prepare(model: ModelLike, image: InputLike) -> tuple[nn.Module, torch.Tensor, str]:
    """Turn the arguments into (module, batch of one on the module's device, label)."""
    if isinstance(model, LoadedModel):
        module, label, preprocess = model.module, model.label, model.preprocess
    elif (wrapped := as_module(model)) is not None:  # another runtime's model object (a Keras model)
        module, label, preprocess = wrapped, getattr(model, "name", type(model).__name__), None
    elif isinstance(model, nn.Module):
        module, label, preprocess = model, type(model).__name__, None
    else:
        raise TypeError(f"capture() needs a LoadedModel or torch.nn.Module, not {type(model).__name__}")
    if isinstance(image, Image.Image):
        if preprocess is None:
            raise TypeError("A plain nn.Module needs a preprocessed tensor; pass a LoadedModel to use a PIL image.")
        name = model.name if isinstance(model, LoadedModel) else label
        check_preprocess_budget(image, preprocess, name)
        try:
            tensor = preprocess(image)
        except MemoryError:
            raise ImageError(f"This image is too large for {name}'s preprocessing on this machine.") from None
    elif isinstance(image, torch.Tensor):
        tensor = image
    else:
        raise TypeError(f"capture() needs a PIL image or a tensor, not {type(image).__name__}")
    if tensor.dim() == 3:
        tensor = tensor.unsqueeze(0)
    if tensor.dim() != 4 or tensor.shape[0] != 1:
        raise ValueError(f"Expected one image of shape (C, H, W) or (1, C, H, W), got {tuple(tensor.shape)}")
    return module, tensor.to(module_device(module)), label


class _Waiting(NamedTuple):
    """A layer held as the model returned it, for a :class:`KeepLater` to keep when it is first read."""

    kept: Kept
    call: int
    note: str
    input_shape: Optional[tuple[int, ...]]


class _Recorder:
    """Owns one capture's recording and what it records."""

    def __init__(self, root: nn.Module, plan_key: tuple = (), watch: bool = False,
                 keep: Optional[Keep] = None, only: Optional[frozenset[str]] = None) -> None:
        self._root = root
        self._keep = keep
        self._only = set(only) if only is not None else None  # the layers still to come, when only some are wanted
        self._later = keep if isinstance(keep, KeepLater) else None
        self._calls: dict[str, int] = {}
        self._last_kept: Optional[tuple[torch.Tensor, FeatureMap]] = None  # the last output as returned, as kept
        self._last_guarded: Optional[tuple[torch.Tensor, Kept]] = None  # the same, as guarded
        self._plan_key = plan_key
        self._hooked = False
        index = module_index(root)  # learnt once per model: a walk of named_modules() costs 0.3-0.5 ms
        self._names, self._order, self._layouts = index.names, index.order, index.layouts  # shared: read only
        self._own = self_recording(root)  # another runtime's model records its own layers
        self._types = dict(self._own.layer_types) if self._own is not None else index.types
        # (name, (output, note, input shape)); output is a Kept from the hooks, a copy from TorchScript;
        # with ``keep`` and hooks, (name, the FeatureMap ``keep`` made) or (name, _Waiting)
        self._records: list[tuple[str, Any]] = []
        if only is not None:  # a few layers, copied as they return: no plan to learn or follow
            modules = {key.split("#", 1)[0] for key in only}
            self._names = {ident: name for ident, name in self._names.items() if name in modules}
        # a layer used up as it returns has nothing to copy; one that waits is guarded as in a plain capture
        self._guard = CopyAtOnce() if only is not None else _USED_AT_ONCE if keep is not None and self._later is None \
            else guard_for(index.fast_path, None if watch else known_plan(root, plan_key))
        self._watching = isinstance(self._guard, CopyOnWrite)

    def followed_plan(self) -> bool:
        """After the pass: learn the plan from a watched pass; False when a planned pass recorded other
        modules than its plan's (its copies cannot be trusted)."""
        if not self._hooked:
            return True  # TorchScript and other runtimes record copies of their own
        names = tuple(name for name, _ in self._records)
        if isinstance(self._guard, CopyOnWrite) and self._records:
            remember_plan(self._root, self._plan_key, WritePlan(names, frozenset(self._guard.copied)))
        elif isinstance(self._guard, PlannedCopies):
            return names == self._guard.plan.records
        return True

    def listening(self):
        """featviz's one recording for a Python model; the model's own for one that records itself (ONNX,
        Keras, TorchScript)."""
        if self._own is not None:
            return self._own.recording(self._records)
        return self.hooks()

    @contextmanager
    def hooks(self) -> Iterator[None]:
        """The process-wide hook of :func:`featviz_core.recording.layer_outputs` for the capture's duration,
        this thread and this model's modules only, inside the copy-on-write guard."""
        self._hooked = True
        with layer_outputs(self._names, self._record if self._only is None else self._record_until_done), self._guard:
            yield

    def _record_until_done(self, name: str, module: nn.Module, args: Any, output: Any) -> None:
        """:meth:`_record` for a capture of some layers only: the pass ends once they have all returned."""
        self._record(name, module, args, output)
        self._only.discard(_key(name, self._calls[name]) if name in self._calls else name)
        if not self._only:
            raise StopForward

    def _record(self, name: str, module: nn.Module, args: Any, output: Any) -> None:
        # runs after every module call of this model on this thread: kept lean (about 4 µs)
        if isinstance(output, torch.Tensor):
            tensor, note = output, ""
        else:
            tensor, note = _first_tensor(output)
            if tensor is None:
                return
        first = args[0] if args else None
        if self._keep is not None:
            call = self._calls[name] = self._calls.get(name, 0) + 1
            shape = first.shape[1:] if isinstance(first, torch.Tensor) else None
            if self._later is not None and (self._shares_waiting(module, tensor) or self._later.defer(tensor)):
                self._last_kept = None
                self._records.append((name, _Waiting(self._guarded(module, tensor), call, note, shape)))
                return
            shape = tuple(shape) if shape is not None else None
            if self._watching:  # used up now, but a plan must still learn whether it is overwritten later
                with torch_private.unwatched():
                    self._guard.watch(tensor, len(self._records))
                    self._records.append((name, self._kept_now(module, name, call, tensor, note, shape)))
                return
            self._records.append((name, self._kept_now(module, name, call, tensor, note, shape)))
            return
        shape = first.shape if isinstance(first, torch.Tensor) else None
        if self._only is not None:
            self._calls[name] = self._calls.get(name, 0) + 1
        self._records.append((name, (self._guarded(module, tensor), note, shape)))  # the batch is dropped later

    def _shares_waiting(self, module: nn.Module, tensor: torch.Tensor) -> bool:
        """Whether this is a Sequential returning the very tensor of its last child, which waits: it waits as
        well, at no cost to the budget (it is the same memory)."""
        last = self._last_guarded
        return (last is not None and self._last_kept is None and tensor is last[0]
                and isinstance(module, nn.Sequential))

    def _guarded(self, module: nn.Module, tensor: torch.Tensor) -> Kept:
        """``tensor`` kept through the copy-on-write guard. A Sequential that returns its last child's very
        tensor shares the child's record: no op ran in between, so one copy (where one is needed) serves both."""
        last = self._last_guarded
        if last is not None and tensor is last[0] and isinstance(module, nn.Sequential):
            return last[1]
        if self._watching:
            with torch_private.unwatched():  # our own bookkeeping is not the model's: keep it unwatched
                kept = self._guard.keep(tensor, len(self._records))
        else:
            kept = self._guard.keep(tensor, len(self._records))
        self._last_guarded = (tensor, kept)
        return kept

    def _kept_now(self, module: nn.Module, name: str, call: int, tensor: torch.Tensor, note: str,
                  shape: Optional[tuple[int, ...]]) -> FeatureMap:
        """The layer as ``keep`` makes it, now, before any later in-place op can change the output.

        A Sequential runs no op after its last child, so when it returns that child's very tensor, the values
        are the child's as kept: they are shared, not made again."""
        last = self._last_kept
        if last is not None and tensor is last[0] and isinstance(module, nn.Sequential):
            key, done = _key(name, call), last[1]
            layout = layout_for(self._layouts, name, done.stored) if self._layouts else None
            if layout == done.layout:
                fmap = FeatureMap(key, self._types.get(name, "?"), done.stored, call, note, shape, scale=done.scale,
                                  stats=done.stats, layout=layout)
                self._last_kept = (tensor, fmap)
                return fmap
        fmap = self._keep(self._map(name, call, tensor, note, shape))
        self._last_kept = (tensor, fmap)
        return fmap

    def _map(self, name: str, call: int, tensor: torch.Tensor, note: str,
             input_shape: Optional[tuple[int, ...]]) -> FeatureMap:
        if tensor.requires_grad:  # never under inference_mode; a recorded runtime's own copy may
            tensor = tensor.detach()
        if not tensor.is_cpu:
            tensor = tensor.cpu()
        tensor = _drop_batch(tensor)
        return FeatureMap(_key(name, call), self._types.get(name, "?"), tensor, call, note, input_shape,
                          layout=layout_for(self._layouts, name, tensor) if self._layouts else None)

    def feature_maps(self) -> tuple[dict[str, FeatureMap], list[str]]:
        """Records in module order (then call order), moved to the CPU in one go; and the names of the layers
        that wait for ``keep`` (see :class:`KeepLater`)."""
        if self._keep is not None and self._hooked:  # kept as they came, or waiting as they came
            ready = sorted(self._records, key=lambda record: (self._order.get(record[0], len(self._order)),
                                                              record[1].call))
            maps: dict[str, FeatureMap] = {}
            waiting = []
            types, layouts = self._types, self._layouts
            for name, record in ready:
                if isinstance(record, _Waiting):  # the common case, so written out here: 200+ layers a pass
                    tensor = record.kept.tensor
                    tensor = tensor.cpu() if not tensor.is_cpu else tensor
                    tensor = tensor[0] if tensor.dim() >= 1 and tensor.shape[0] == 1 else tensor
                    key = name if record.call == 1 else _key(name, record.call)
                    shape = tuple(record.input_shape) if record.input_shape is not None else None
                    fmap = FeatureMap(key, types.get(name, "?"), tensor, record.call, record.note, shape,
                                      layout=layout_for(layouts, name, tensor) if layouts else None)
                    waiting.append(key)
                else:
                    fmap = record
                    if self._later is not None and fmap.stats is None:  # kept, but to be finished when read
                        waiting.append(fmap.name)
                maps[fmap.name] = fmap
            return maps, waiting
        calls: dict[str, int] = {}
        numbered = []
        for name, record in self._records:
            kept, note, input_shape = record
            if isinstance(kept, Kept):  # from the hooks: the input's full shape, batch included
                tensor, input_shape = kept.tensor, tuple(input_shape[1:]) if input_shape else None
            else:  # other runtimes record a copy and the shape without batch
                tensor = kept
            calls[name] = calls.get(name, 0) + 1
            numbered.append((self._order.get(name, len(self._order)), calls[name], name, tensor, note, input_shape))
        numbered.sort(key=lambda item: (item[0], item[1]))
        maps = {}
        for _, call, name, tensor, note, input_shape in numbered:
            fmap = self._map(name, call, tensor, note, input_shape)
            maps[fmap.name] = self._keep(fmap) if self._keep is not None and self._later is None else fmap
        return maps, list(maps) if self._later is not None else []  # another runtime's copies can all wait


Keep = Callable[[FeatureMap], FeatureMap]
"""What :func:`capture` does with each layer as it returns (see its ``keep``)."""


@runtime_checkable
class KeepLater(Protocol):
    """A ``keep`` that may be handed a layer after the pass, when the layer is first read from the capture.

    Why: what ``keep`` does to a layer (statistics, rounding, spilling) runs inside the model's forward pass
    otherwise, and on a small model it costs many times the pass itself. A layer that waits is held exactly
    as the model returned it (copied first only where a later in-place op would overwrite it, as in a plain
    capture), and ``keep`` runs once, for the first reader, on one layer."""

    def __call__(self, fmap: FeatureMap) -> FeatureMap: ...

    def defer(self, tensor: torch.Tensor) -> bool:
        """Whether the layer that returned ``tensor`` may wait (e.g. while a memory budget lasts); once this
        says no, the layers after it are kept as they return."""
        ...

    def later(self, fmap: FeatureMap) -> FeatureMap:
        """What to keep of a layer that waited, once the pass is over: its values are final by then. A layer
        it kept as it returned also waits, and comes here, when what it kept has no statistics yet."""
        ...

    def ahead(self, fmaps: list[FeatureMap]) -> None:
        """Get ready to be handed all of ``fmaps`` (a view that reads every layer), where doing them together
        costs less than one by one."""
        ...

    def can_finish(self) -> bool:
        """Whether it can still finish every layer that waits (it may need something that is gone since)."""
        ...
_USED_AT_ONCE = nullcontext()


def _first_tensor(output: Any) -> tuple[Optional[torch.Tensor], str]:
    """Find the tensor to show in a module's output, and describe the choice when it was not obvious."""
    if isinstance(output, torch.Tensor):
        return output, ""
    if isinstance(output, Mapping):
        for key, value in output.items():
            tensor, _ = _first_tensor(value)
            if tensor is not None:
                return tensor, f"output is a dict of {len(output)}; showing [{key!r}]"
    if isinstance(output, (tuple, list)):
        for index, value in enumerate(output):
            tensor, _ = _first_tensor(value)
            if tensor is not None:
                kind = type(output).__name__
                return tensor, f"output is a {kind} of {len(output)}; showing element {index}"
    return None, ""


def _key(name: str, call: int) -> str:
    """A layer's name in the capture: ``name`` for the first call, ``name#2`` for the second, ..."""
    return name if call == 1 else f"{name}#{call}"


def _drop_batch(tensor: torch.Tensor) -> torch.Tensor:
    return tensor[0] if tensor.dim() >= 1 and tensor.shape[0] == 1 else tensor
