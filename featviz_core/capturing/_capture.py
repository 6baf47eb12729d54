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

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from typing import Any, Optional, Union

import torch
from PIL import Image
from torch import nn

from .. import _torch_private as torch_private
from ..activations._records import Capture, FeatureMap
from ..activations._token_layouts import layout_for
from ..errors import FeatvizError, ImageError, ModelError
from ..models._load import LoadedModel, module_device
from ..recording import as_module, layer_outputs, self_recording
from ._copy_on_write import CopyOnWrite, Kept, PlannedCopies, WritePlan, guard_for, known_plan, remember_plan
from ._input_budget import check_preprocess_budget
from ._module_index import module_index

ModelLike = Union[LoadedModel, nn.Module]
InputLike = Union[Image.Image, torch.Tensor]


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


class _Recorder:
    """Owns one capture's recording and what it records."""

    def __init__(self, root: nn.Module, plan_key: tuple = (), watch: bool = False,
                 keep: Optional[Keep] = None) -> None:
        self._root = root
        self._keep = keep
        self._calls: dict[str, int] = {}
        self._last_kept: Optional[tuple[torch.Tensor, FeatureMap]] = None  # the last output as returned, as kept
        self._plan_key = plan_key
        self._hooked = False
        index = module_index(root)  # learnt once per model: a walk of named_modules() costs 0.3-0.5 ms
        self._names, self._order, self._layouts = index.names, index.order, index.layouts  # shared: read only
        self._own = self_recording(root)  # another runtime's model records its own layers
        self._types = dict(self._own.layer_types) if self._own is not None else index.types
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
        with layer_outputs(self._names, self._record), self._guard:
            yield

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
