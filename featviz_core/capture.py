"""Record every layer's output in one forward pass.

Several things make this harder than registering a hook per module:

* **In-place ops.** torchvision's ReLUs run in place (and ResNet adds its shortcut with ``+=``), so a
  reference to a batch-norm output is overwritten before the forward pass ends. Outputs are kept by
  reference, and one is copied only just before a torch call writes into it
  (:mod:`featviz_core.copy_on_write`): on resnet50, 49 of its 182 outputs, and captures take a quarter
  less memory. Attention models, whose fused kernels a torch function mode would switch off, copy every
  output instead.
* **Shared models.** One loaded model serves every browser session, and a module's hooks fire for every
  thread's forward pass. Each capture's hooks record only calls made on the thread that owns them.
* **Shared tensors.** A layer that returns its input or its last child's output (a Sequential, a
  residual block ending in its ReLU) is the same tensor as that child's map, not a copy of it.
* **Clean-up.** Hooks are removed in a ``finally`` block, whether the forward pass succeeds or raises.
* **TorchScript** runs children inside its interpreter, where hooks cannot reach: those models record
  through an operator added to their graphs instead (:mod:`featviz_core.torchscript_capture`), with the same
  per-thread isolation. Models of other runtimes (ONNX, Keras) record every layer's output from their one
  run themselves (:mod:`featviz_core.recorded`), the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional, Union

import torch
from PIL import Image
from torch import nn
from torch.nn.modules.module import register_module_forward_hook

from . import keras_model, recorded, torch_private, torchscript_capture
from .copy_on_write import CopyOnWrite, Kept, PlannedCopies, WritePlan, guard_for, known_plan, remember_plan
from .errors import FeatvizError, ImageError, LayerError, ModelError
from .input_budget import check_preprocess_budget
from .models import LoadedModel, module_device
from .module_index import module_index
from .spill import SpillFile
from .token_layouts import Windows, layout_for

if TYPE_CHECKING:
    from .stats import LayerStats

ModelLike = Union[LoadedModel, nn.Module]
InputLike = Union[Image.Image, torch.Tensor]


@dataclass(frozen=True, init=False)
class FeatureMap:
    """One layer's output for one image.

    ``tensor`` is exactly what the module returned, with the batch dimension removed, on the CPU. A module
    called more than once in a forward pass gives one FeatureMap per call: ``name``, ``name#2``, ...

    A map kept in the shared cache (:func:`featviz_core.cache.compact`) stores float16 values divided by a
    power of two, ``scale``, so that layers of 1e-12 and of 1e6 keep their three significant digits alike
    (bfloat16 where no one scale suits all its channels); ``tensor`` gives the values back in their own
    units, and ``stats`` holds the statistics computed from the exact values before they were rounded.

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> fmap = maps["conv1"]
        >>> fmap.name, fmap.module_type, fmap.tensor.dtype
        ('conv1', 'Conv2d', torch.float32)
    """

    name: str
    module_type: str
    stored: torch.Tensor  # the values as kept: ``tensor`` is ``stored * scale``
    call: int
    note: str  # how a non-tensor output (tuple, dict, ...) was reduced to ``tensor``
    input_shape: Optional[tuple[int, ...]]  # the first tensor argument's shape, batch removed
    scale: float  # a power of two; 1 for a fresh capture and for most cached layers
    stats: Optional[LayerStats]  # from the exact values, when the map was compacted; None on a fresh capture
    layout: Optional[Windows]  # what the axes are where the shape cannot say (MaxViT's windows × tokens)

    def __init__(
        self,
        name: str,
        module_type: str,
        tensor: torch.Tensor,
        call: int = 1,
        note: str = "",
        input_shape: Optional[tuple[int, ...]] = None,
        *,
        scale: float = 1.0,
        stats: Optional[LayerStats] = None,
        layout: Optional[Windows] = None,
    ) -> None:
        vars(self).update(  # frozen: set once, here
            name=name, module_type=module_type, stored=tensor, call=call, note=note, input_shape=input_shape,
            scale=float(scale), stats=stats, layout=layout,
        )

    @property
    def tensor(self) -> torch.Tensor:
        """The layer's values in their own units: ``stored`` itself, or a float32 copy times ``scale`` (and of
        bfloat16, which NumPy cannot hold). A power of two only moves exponents: nothing is rounded on the way."""
        if self.scale == 1.0:
            return self.stored.float() if self.stored.dtype == torch.bfloat16 else self.stored  # NumPy has none
        return times_power_of_two(self.stored, self.scale)

    @property
    def module_name(self) -> str:
        return self.name.split("#", 1)[0]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.stored.shape)


def times_power_of_two(tensor: torch.Tensor, factor: float) -> torch.Tensor:
    """``tensor * factor`` in float32 for a power of two ``factor``: exact, since only exponents change, even
    for factors float32 itself cannot hold (a layer of 1e-40 needs 2**140)."""
    if not 2.0**-100 <= factor <= 2.0**100:
        return (tensor.to(torch.float64) * factor).to(torch.float32)
    if tensor.dtype == torch.float32:
        return tensor * factor
    return tensor.to(torch.float32).mul_(factor)


class Capture(Mapping[str, FeatureMap]):
    """Every layer's :class:`FeatureMap` for one image, in the model's module order.

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> len(maps), maps.input.shape
        (10, torch.Size([1, 28, 28]))
    """

    def __init__(
        self,
        maps: dict[str, FeatureMap],
        input: torch.Tensor,
        output: Optional[torch.Tensor],
        model_label: str = "",
    ) -> None:
        self._maps = maps
        self.input = input  # the preprocessed image the model saw, (C, H, W)
        self.output = output  # the model's own output (e.g. logits), batch removed; None if not a tensor
        self.model_label = model_label
        self.spill: Optional[SpillFile] = None  # where layers beyond the memory budget live (see cache.Compactor)

    def __getitem__(self, name: str) -> FeatureMap:
        try:
            return self._maps[name]
        except KeyError:
            raise LayerError(f"The model has no captured layer named {name!r}.") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._maps)

    def __len__(self) -> int:
        return len(self._maps)

    def __repr__(self) -> str:
        return f"Capture({len(self)} layers, input {tuple(self.input.shape)}, model {self.model_label!r})"

    @property
    def nbytes(self) -> int:
        """Memory held by all captured tensors and their statistics, shared ones counted once (what a cache
        budgets for)."""
        storages, stats = {}, {}
        for fmap in self._maps.values():
            if self.spill is not None and self.spill.holds(fmap.stored):
                continue  # on disk: see disk_bytes
            storage = fmap.stored.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
            if fmap.stats is not None:
                stats[id(fmap.stats)] = fmap.stats.nbytes
        return sum(storages.values()) + sum(stats.values())

    @property
    def disk_bytes(self) -> int:
        """Bytes of layers written to a spill file rather than held in memory."""
        return self.spill.nbytes if self.spill is not None else 0


def capture(model: ModelLike, image: InputLike, *, keep: Optional[Keep] = None) -> Capture:
    """Run ``model`` once on ``image`` and return every submodule's output.

    ``image`` is a PIL image (preprocessed with the model's own pipeline when ``model`` is a
    :class:`LoadedModel`) or a ready tensor of shape (C, H, W) or (1, C, H, W). The forward pass runs under
    ``torch.inference_mode()`` on the device the model lives on.

    ``keep``, when given, is applied to each layer's :class:`FeatureMap` as soon as the layer returns, and
    what it gives back is kept instead: the capture then never holds every layer as returned, which bounds
    its memory (:class:`featviz_core.cache.Compactor` keeps float16 and spills to disk past a budget).

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
    try:
        recorder = _Recorder(module, plan_key, keep=keep)
        with recorder.listening(), torch.inference_mode():
            output = module(batch)
        if not recorder.followed_plan():  # other modules ran than the plan's: watch this pass again
            recorder = _Recorder(module, plan_key, watch=True)
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
    maps = recorder.feature_maps()
    if not maps:
        raise ModelError(
            f"{label} ran, but none of its layers could be captured: it has no torch submodules that return a "
            "tensor. A Keras model's layers are not torch submodules: load it with fv.load_keras (or pass the "
            "Keras model itself); an ONNX model goes through fv.load_onnx."
        )
    return Capture(maps, batch[0].detach().cpu(), logits, label)


def _prepare(model: ModelLike, image: InputLike) -> tuple[nn.Module, torch.Tensor, str]:
    """Turn the arguments into (module, batch of one on the module's device, label)."""
    if isinstance(model, LoadedModel):
        module, label, preprocess = model.module, model.label, model.preprocess
    elif keras_model.is_keras_model(model):
        module, label, preprocess = keras_model.KerasModule(model, model.name), model.name, None
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


class _Recorder:
    """Owns one capture's hooks and what they record."""

    def __init__(self, root: nn.Module, plan_key: tuple = (), watch: bool = False,
                 keep: Optional[Keep] = None) -> None:
        self._root = root
        self._keep = keep
        self._calls: dict[str, int] = {}
        self._last_kept: Optional[tuple[torch.Tensor, FeatureMap]] = None  # the last output as returned, as kept
        self._plan_key = plan_key
        self._hooked = False
        self._owner = threading.get_ident()
        index = module_index(root)  # learnt once per model: a walk of named_modules() costs 0.3-0.5 ms
        self._names, self._order, self._layouts = index.names, index.order, index.layouts  # shared: read only
        if recorded.is_recorded(root):
            self._types = dict(root.layer_types)
        elif torchscript_capture.is_scripted(root):
            self._types = torchscript_capture.module_types(root)
        else:
            self._types = index.types
        # (name, (output, note, input shape)); output is a Kept from the hooks, a copy from TorchScript;
        # with ``keep`` and hooks, (name, the FeatureMap ``keep`` made)
        self._records: list[tuple[str, Any]] = []
        # each layer is used up as it returns when ``keep`` is given: nothing to copy, nothing to watch
        self._guard = _USED_AT_ONCE if keep is not None else guard_for(
            index.fast_path, None if watch else known_plan(root, plan_key))
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
        """Hooks for a Python model; the recording operator for an (instrumented) TorchScript one; its own
        records for a model from another runtime (ONNX, Keras)."""
        if recorded.is_recorded(self._root):
            return recorded.recording(self._records)
        if torchscript_capture.is_scripted(self._root):
            torchscript_capture.instrument(self._root)
            return torchscript_capture.recording(self._records)
        return self.hooks()

    @contextmanager
    def hooks(self) -> Iterator[None]:
        """One process-wide forward hook for the capture's duration.

        Why not a hook per module: registering and removing 250 of them costs more than 1 ms a capture on
        MobileNet, and they would be written into the shared model's modules. The global hook touches no
        module; it ignores other threads and modules outside this model."""
        handle = register_module_forward_hook(self._record)
        self._hooked = True
        try:
            with self._guard:
                yield
        finally:
            handle.remove()

    def _record(self, module: nn.Module, args: Any, output: Any) -> None:
        # runs after every module call of every model while hooked: kept lean (about 4 µs)
        if threading.get_ident() != self._owner:
            return  # another session's forward pass, through this model or any other
        name = self._names.get(id(module))
        if name is None:
            return  # the root, or a module that is not part of this model
        if isinstance(output, torch.Tensor):
            tensor, note = output, ""
        else:
            tensor, note = _first_tensor(output)
            if tensor is None:
                return
        first = args[0] if args else None
        if self._keep is not None:
            self._records.append((name, self._kept_now(module, name, tensor, note, first)))
            return
        if self._watching:
            with torch_private.unwatched():  # our own bookkeeping is not the model's: keep it unwatched
                shape = first.shape if isinstance(first, torch.Tensor) else None
                kept = self._guard.keep(tensor, len(self._records))
        else:
            shape = first.shape if isinstance(first, torch.Tensor) else None
            kept = self._guard.keep(tensor, len(self._records))
        self._records.append((name, (kept, note, shape)))  # the input's batch dimension is dropped later

    def _kept_now(self, module: nn.Module, name: str, tensor: torch.Tensor, note: str, first: Any) -> FeatureMap:
        """The layer as ``keep`` makes it, now, before any later in-place op can change the output.

        A Sequential runs no op after its last child, so when it returns that child's very tensor, the values
        are the child's as kept: they are shared, not made again."""
        call = self._calls[name] = self._calls.get(name, 0) + 1
        shape = tuple(first.shape[1:]) if isinstance(first, torch.Tensor) else None
        last = self._last_kept
        if last is not None and tensor is last[0] and isinstance(module, nn.Sequential):
            key, done = _key(name, call), last[1]
            layout = layout_for(self._layouts, name, done.stored) if self._layouts else None
            if layout == done.layout:
                fmap = FeatureMap(key, self._types.get(name, "?"), done.stored, call, note, shape, scale=done.scale,
                                  stats=done.stats, layout=layout)
                self._last_kept = (tensor, fmap)
                return fmap
        fmap = self._map(name, call, tensor, note, shape)
        self._last_kept = (tensor, fmap)
        return fmap

    def _map(self, name: str, call: int, tensor: torch.Tensor, note: str,
             input_shape: Optional[tuple[int, ...]]) -> FeatureMap:
        if tensor.requires_grad:  # never under inference_mode; a recorded runtime's own copy may
            tensor = tensor.detach()
        if not tensor.is_cpu:
            tensor = tensor.cpu()
        tensor = _drop_batch(tensor)
        fmap = FeatureMap(_key(name, call), self._types.get(name, "?"), tensor, call, note, input_shape,
                          layout=layout_for(self._layouts, name, tensor) if self._layouts else None)
        return self._keep(fmap) if self._keep is not None else fmap

    def feature_maps(self) -> dict[str, FeatureMap]:
        """Records in module order (then call order), moved to the CPU in one go."""
        if self._keep is not None and self._hooked:  # already made by ``keep`` as they came
            ready = sorted(self._records, key=lambda record: (self._order.get(record[0], len(self._order)),
                                                              record[1].call))
            return {fmap.name: fmap for _, fmap in ready}
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
        maps: dict[str, FeatureMap] = {}
        for _, call, name, tensor, note, input_shape in numbered:
            fmap = self._map(name, call, tensor, note, input_shape)
            maps[fmap.name] = fmap
        return maps


Keep = Callable[[FeatureMap], FeatureMap]
"""What :func:`capture` does with each layer as it returns (see its ``keep``)."""
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
