"""Scan an image collection through a model: per channel, what it responds to across all of it.

:func:`scan` runs in this process: images are decoded and preprocessed a batch ahead on a thread while the model
runs batched forward passes under ``torch.inference_mode()`` on its device, recording the chosen layers only through
featviz's one recording (:func:`featviz_core.recording.layer_outputs`); each batch is folded into a
:class:`~featviz_core.scan._tally.LayerTally` per layer, so memory does not grow with the collection. Progress is
reported per batch, a scan can be stopped between batches, and a checkpoint (plain arrays, never pickles) lets an
interrupted scan resume where it stopped. :mod:`featviz_core.scan._ray` runs the same scan on a Ray cluster;
:mod:`featviz_core.scan._results` saves and reopens results.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from ..capturing._capture import capture
from ..datasets import Dataset, DatasetItem
from ..errors import FeatvizError, LayerError, ModelError
from ..images import load_image
from ..models._load import LoadedModel, module_device
from ..recording import layer_outputs, self_recording
from ._tally import HISTOGRAM_EDGES, LayerTally, Reduced, pack, reduce, unpack

CHECKPOINT_EVERY_S = 10.0
"""How often an interrupted scan's work is saved (seconds between checkpoints)."""


@dataclass(frozen=True)
class Progress:
    """Where a scan is: images done (read or skipped) of all, images per second, seconds left."""

    done: int
    total: int
    per_second: float
    seconds_left: Optional[float]


@dataclass
class ScanResult:
    """A finished (or stopped) scan: its manifest, a tally per layer, the images (dataset index, name, class),
    and what was skipped."""

    manifest: dict[str, Any]
    tallies: dict[str, LayerTally]
    indices: list[int]
    names: list[str]
    labels: list[int]
    classes: tuple[str, ...]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    complete: bool = True


def scan_key(model: LoadedModel, dataset: Dataset, layers: Sequence[str], top_k: int) -> str:
    """Names one scan: the same model, weights, layers, collection and k give the same key (and so resume)."""
    text = json.dumps([model.label, weights_digest(model), list(layers), dataset.fingerprint, top_k])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def weights_digest(model: LoadedModel) -> str:
    """A digest of the model's parameters (what the scan really ran), or of its label where it has none here."""
    digest = hashlib.sha256()
    tensors = list(model.module.state_dict().values()) if isinstance(model.module, nn.Module) else []
    for tensor in tensors:
        if isinstance(tensor, torch.Tensor):
            digest.update(tensor.detach().cpu().reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    if not tensors:
        digest.update(model.label.encode())
    return digest.hexdigest()[:16]


def scan(
    model: LoadedModel,
    dataset: Dataset,
    layers: Sequence[str],
    *,
    batch_size: int = 32,
    top_k: int = 16,
    progress: Optional[Callable[[Progress], None]] = None,
    should_stop: Optional[Callable[[], bool]] = None,
    checkpoint: Optional[Path] = None,
) -> ScanResult:
    """Run ``dataset`` through ``model`` and summarize each chosen layer per channel.

    With ``checkpoint`` (a folder), work is saved there every few seconds and a scan with the same key
    resumes from it; ``should_stop`` is asked between batches (the result is then marked incomplete, and the
    checkpoint kept). Raises :class:`LayerError` for a layer the model does not have.

    Example::

        >>> import featviz_core as fv
        >>> from featviz_core import datasets
        >>> from featviz_core.scan._scan import scan
        >>> digits = datasets.bundled(datasets.DIGITS)
        >>> result = scan(fv.load_model("digits_cnn"), digits, ["conv2"], batch_size=100)
        >>> tally = result.tallies["conv2"]
        >>> int(tally.images), tally.top_image.shape
        (1000, (64, 16))
    """
    if not layers:
        raise LayerError("Choose at least one layer to scan.")
    started = time.monotonic()
    runner = BatchRunner(model, layers, top_k)
    tallies: dict[str, LayerTally] = {}
    skipped: list[tuple[str, str]] = []
    start = 0
    key = scan_key(model, dataset, layers, top_k)
    if checkpoint is not None:
        start, tallies, skipped = _resume(checkpoint, key)
    done, total, last_saved, complete = start, len(dataset), time.monotonic(), True
    resumed_at = start
    for batch_items, batch, bad in _prepared_batches(model, dataset.items[start:], batch_size):
        skipped += bad
        tally_batch(runner, batch_items, batch, tallies, top_k, len(dataset.classes))
        done += len(batch_items) + len(bad)
        elapsed = time.monotonic() - started
        rate = (done - resumed_at) / elapsed if elapsed > 0 else 0.0
        if progress is not None:
            progress(Progress(done, total, rate, (total - done) / rate if rate > 0 else None))
        if checkpoint is not None and time.monotonic() - last_saved > CHECKPOINT_EVERY_S:
            _save_checkpoint(checkpoint, key, done, tallies, skipped)
            last_saved = time.monotonic()
        if should_stop is not None and done < total and should_stop():
            complete = False
            break
    if checkpoint is not None:
        if complete:
            _drop_checkpoint(checkpoint)
        else:
            _save_checkpoint(checkpoint, key, done, tallies, skipped)
    seconds = time.monotonic() - started
    manifest = make_manifest(model, dataset, layers, top_k, batch_size, "in-process", seconds, done - resumed_at,
                             runner.shapes, len(skipped), key)
    return result_of(manifest, tallies, dataset, skipped, complete)


def result_of(manifest: dict[str, Any], tallies: dict[str, LayerTally], dataset: Dataset,
              skipped: list[tuple[str, str]], complete: bool = True) -> ScanResult:
    items = dataset.items
    return ScanResult(manifest, tallies, [item.index for item in items], [item.name for item in items],
                      [item.label for item in items], dataset.classes, skipped, complete)


def tally_batch(runner: BatchRunner, items: Sequence[DatasetItem], batch: Optional[torch.Tensor],
                tallies: dict[str, LayerTally], top_k: int, classes: int) -> None:
    """Run one prepared batch and fold each chosen layer's outputs into its tally (made on first sight)."""
    if not items:
        return
    outputs = runner.run(batch)
    images = np.array([item.index for item in items], np.int64)
    labels = np.array([item.label for item in items], np.int64)
    for layer, reduced in outputs.items():
        if layer not in tallies:
            tallies[layer] = LayerTally.empty(reduced.channels, top_k, classes)
        tallies[layer].add(reduced, images, labels)


def make_manifest(model: LoadedModel, dataset: Dataset, layers: Sequence[str], top_k: int, batch_size: int,
                  engine: str, seconds: float, images_run: int, shapes: dict[str, tuple[int, ...]], skipped: int,
                  key: str) -> dict[str, Any]:
    """What a scan was, so it can be found, trusted and reopened: model, weights, layers, data, engine, when."""
    import datetime as dt

    return {
        "key": key,
        "model": model.name,
        "model_label": model.label,
        "weights": model.weights,
        "weights_digest": weights_digest(model),
        "layers": list(layers),
        "shapes": {layer: list(shape) for layer, shape in shapes.items()},
        "preprocessing": repr(model.preprocess),
        "dataset": dataset.name,
        "dataset_fingerprint": dataset.fingerprint,
        "dataset_source": dataset.source,
        "images": len(dataset),
        "skipped": skipped,
        "classes": list(dataset.classes),
        "top_k": top_k,
        "batch_size": batch_size,
        "histogram_edges": HISTOGRAM_EDGES.tolist(),
        "engine": engine,
        "seconds": round(seconds, 2),
        "images_per_second": round(images_run / seconds, 1) if seconds > 0 else None,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "torch": torch.__version__,
    }


OVERLAP_WORTH = 0.5
"""Decode on a thread beside the model only when its batches take at least this share of a batch's decoding:
on few cores a tiny model gains less from the overlap than the thread costs it (the digits CNN scans at
0.93× a plain loop in sequence, 0.83–0.88× overlapped; ResNet-18 at 1.12× overlapped)."""


def _prepared_batches(model: LoadedModel, items: Sequence[DatasetItem], batch_size: int
                      ) -> Iterator[tuple[list[DatasetItem], Optional[torch.Tensor], list[tuple[str, str]]]]:
    """(items that decoded, their preprocessed batch, (name, why) of those that did not). The first two
    batches in sequence, timing how long the caller takes with the second against its decoding; then one batch
    ahead on a thread, so decoding overlaps the model's forward pass, where that is worth it."""
    chunks = [items[i:i + batch_size] for i in range(0, len(items), batch_size)]
    overlap = False
    for index, chunk in enumerate(chunks[:2]):
        started = time.perf_counter()
        ready = prepare(model, chunk)
        decoding = time.perf_counter() - started
        started = time.perf_counter()
        yield ready
        overlap = time.perf_counter() - started >= OVERLAP_WORTH * decoding and index == 1
    rest = chunks[2:]
    if not rest:
        return
    if not overlap:
        for chunk in rest:
            yield prepare(model, chunk)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="featviz-scan-decode") as pool:
        future = pool.submit(prepare, model, rest[0])
        for index in range(len(rest)):
            ready = future.result()
            if index + 1 < len(rest):
                future = pool.submit(prepare, model, rest[index + 1])
            yield ready


def prepare(model: LoadedModel, items: Sequence[DatasetItem]
            ) -> tuple[list[DatasetItem], Optional[torch.Tensor], list[tuple[str, str]]]:
    """Decode and preprocess: (items that could be read, their batch, (name, why) of the others)."""
    good, tensors, bad = [], [], []
    for item in items:
        try:
            tensors.append(model.preprocess(load_image(item.read())))
            good.append(item)
        except FeatvizError as exc:
            bad.append((item.name, str(exc).split("\n")[0]))
        except (OSError, ValueError, RuntimeError) as exc:  # a file gone, or preprocessing that refused it
            bad.append((item.name, f"{type(exc).__name__}: {exc}"))
    if tensors and len({tuple(t.shape) for t in tensors}) > 1:  # a preprocessing without a fixed size
        return good, None, bad
    return good, (torch.stack(tensors) if tensors else None), bad


class BatchRunner:
    """Runs batches through the model and returns the chosen layers' outputs (first call of each)."""

    def __init__(self, model: LoadedModel, layers: Sequence[str], top_k: int = 16) -> None:
        self.model = model
        self.layers = list(layers)
        self.top_k = top_k
        self.shapes: dict[str, tuple[int, ...]] = {}
        named = dict(model.module.named_modules()) if hookable(model.module) else {}
        self._modules = {layer: named[layer] for layer in self.layers if layer in named}
        if named and len(self._modules) < len(self.layers):
            missing = [layer for layer in self.layers if layer not in named]
            raise LayerError(f"{model.name} has no layer named {', '.join(map(repr, missing))}.")

    def run(self, batch: Optional[torch.Tensor]) -> dict[str, Reduced]:
        """The chosen layers' outputs for ``batch``, reduced per image and channel as each layer returns."""
        def reduced(tensor: torch.Tensor) -> Reduced:
            return reduce(tensor, self.top_k)

        return {layer: reduced(maps) if isinstance(maps, torch.Tensor) else maps
                for layer, maps in self._outputs(batch, reduced).items()}

    def maps(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """The chosen layers' whole outputs for ``batch`` (for a few images: what a view draws)."""
        return self._outputs(batch, lambda tensor: tensor.clone())

    def _outputs(self, batch: Optional[torch.Tensor], keep: Callable[[torch.Tensor], Any]) -> dict[str, Any]:
        if batch is None:
            raise ModelError(f"{self.model.name}'s preprocessing gives images of different sizes, which cannot be "
                             "batched: scan with a model whose input size is fixed.")
        if self._modules:
            return self._hooked(batch, keep)
        outputs = self._captured(batch)
        for layer, maps in outputs.items():
            self.shapes.setdefault(layer, tuple(maps.shape[1:]))
        return outputs

    def _hooked(self, batch: torch.Tensor, keep: Callable[[torch.Tensor], Any]) -> dict[str, Any]:
        outputs: dict[str, Any] = {}
        with _first_outputs(self._modules, outputs, keep, self.shapes), torch.inference_mode():
            try:
                self.model.module(batch.to(module_device(self.model.module)))
            except Exception as exc:  # noqa: BLE001 - whatever the model's forward raises
                raise ModelError(f"{self.model.name} could not run on a batch of shape {tuple(batch.shape)}.",
                                 detail=exc) from None
        return {layer: outputs[layer] for layer in self.layers if layer in outputs}

    def _captured(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """Models that run in another runtime (ONNX, Keras, TorchScript): one image at a time, through capture."""
        per_image: dict[str, list[torch.Tensor]] = {layer: [] for layer in self.layers}
        for image in batch:
            maps = capture(self.model, image)
            for layer in self.layers:
                if layer not in maps:
                    raise LayerError(f"{self.model.name} has no captured layer named {layer!r}.")
                per_image[layer].append(maps[layer].tensor)
        return {layer: torch.stack(tensors) for layer, tensors in per_image.items()}


def hookable(module: Any) -> bool:
    """Whether featviz's hook records ``module``'s layers (not a model that records itself)."""
    return isinstance(module, nn.Module) and self_recording(module) is None


def _first_outputs(modules: dict[str, nn.Module], outputs: dict[str, Any], keep: Callable[[torch.Tensor], Any],
                   shapes: dict[str, tuple[int, ...]]) -> AbstractContextManager[None]:
    """Keep the chosen modules' outputs from one forward pass on this thread, through featviz's one recording
    (nothing is written into the model, which another session may be running). Each output is handed to
    ``keep`` as its module returns (before an in-place op after it could change it); the first call counts."""
    def on_layer(layer: str, _module: nn.Module, _args: Any, output: Any) -> None:
        if layer in outputs:
            return
        tensor = output[0] if isinstance(output, (tuple, list)) else output
        if isinstance(tensor, torch.Tensor):
            shapes.setdefault(layer, tuple(tensor.shape[1:]))
            outputs[layer] = keep(tensor)

    return layer_outputs({id(module): layer for layer, module in modules.items()}, on_layer)


def _save_checkpoint(folder: Path, key: str, done: int, tallies: dict[str, LayerTally],
                     skipped: list[tuple[str, str]]) -> None:
    """Plain arrays and JSON, written beside and renamed, so a crash mid-write leaves the previous one."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "checkpoint.npz.partial").write_bytes(pack(tallies))
    (folder / "checkpoint.json.partial").write_text(json.dumps({"key": key, "done": done, "skipped": skipped}))
    (folder / "checkpoint.npz.partial").replace(folder / "checkpoint.npz")
    (folder / "checkpoint.json.partial").replace(folder / "checkpoint.json")


def _resume(folder: Path, key: str) -> tuple[int, dict[str, LayerTally], list[tuple[str, str]]]:
    """Where an interrupted scan with this key stopped; a fresh start when there is none (or another's)."""
    try:
        state = json.loads((folder / "checkpoint.json").read_text())
        if state.get("key") != key:
            return 0, {}, []
        tallies = unpack((folder / "checkpoint.npz").read_bytes())
        return int(state["done"]), tallies, [tuple(pair) for pair in state["skipped"]]
    except (OSError, ValueError, KeyError):
        return 0, {}, []


def _drop_checkpoint(folder: Path) -> None:
    for name in ("checkpoint.npz", "checkpoint.json"):
        (folder / name).unlink(missing_ok=True)


def has_checkpoint(folder: Path, key: str) -> Optional[int]:
    """How many images an interrupted scan with this key had done, if its checkpoint is in ``folder``."""
    try:
        state = json.loads((folder / "checkpoint.json").read_text())
    except (OSError, ValueError):
        return None
    return int(state["done"]) if state.get("key") == key else None
