"""The same dataset scan on a Ray cluster, when a collection outgrows one machine (Ray is an optional install).

The collection becomes a Ray Dataset with one row per batch: the same batches the in-process engine makes,
so the same sums. ``map_batches`` runs it through a pool of actors, each of which loads the model once and
turns every batch into partial :class:`~featviz_core.scan._tally.LayerTally` summaries (GPUs are requested
when the cluster has them). The driver merges the partials: the merge is associative and commutative, so
the result is the in-process engine's. Every partial names the images it covers; a batch that Ray ran twice
(a worker died after finishing it, and its task was retried) is merged once, and an image that no partial
covers is an error, never a silent gap.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any, Optional

import numpy as np

from ..datasets import Dataset, DatasetItem
from ..errors import ModelError
from ..models._load import LoadedModel
from ._scan import BatchRunner, Progress, ScanResult, make_manifest, prepare, result_of, scan_key, tally_batch
from ._tally import LayerTally, pack, unpack

RETRIES = 3
"""How often Ray restarts a dead actor and retries its batch before the scan fails."""


class _TallyActor:
    """One worker: the model loaded once, then each batch of rows turned into partial tallies."""

    def __init__(self, model: LoadedModel, layers: Sequence[str], top_k: int, classes: int,
                 fault: Optional[Callable[[np.ndarray], None]] = None) -> None:
        self.model, self.layers, self.top_k, self.classes, self.fault = model, list(layers), top_k, classes, fault
        self.runner = BatchRunner(model, layers, top_k)

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One row is one batch of the in-process engine (the same images together, so the same sums)."""
        out: dict[str, list] = {"indices": [], "tallies": [], "skipped": [], "shapes": []}
        for indices, names, labels, pictures in zip(rows["indices"], rows["names"], rows["labels"], rows["data"],
                                                    strict=True):
            indices = np.asarray(indices, np.int64)
            if self.fault is not None:
                self.fault(indices)
            items = [DatasetItem(int(i), str(name), int(label), _bytes_reader(data))
                     for i, name, label, data in zip(indices, names, labels, pictures, strict=True)]
            good, batch, bad = prepare(self.model, items)
            tallies: dict[str, LayerTally] = {}
            tally_batch(self.runner, good, batch, tallies, self.top_k, self.classes)
            out["indices"].append(_pack_indices(indices))
            out["tallies"].append(pack(tallies))
            out["skipped"].append("\n".join(f"{name}\t{why}" for name, why in bad))
            out["shapes"].append(json.dumps({k: list(v) for k, v in self.runner.shapes.items()}))
        return {key: np.array(values, dtype=object) for key, values in out.items()}


def _bytes_reader(data: Any) -> Callable[[], bytes]:
    return lambda: bytes(data)


def scan_on_ray(
    model: LoadedModel,
    dataset: Dataset,
    layers: Sequence[str],
    *,
    batch_size: int = 32,
    top_k: int = 16,
    address: Optional[str] = None,
    workers: Optional[int] = None,
    progress: Optional[Callable[[Progress], None]] = None,
    fault: Optional[Callable[[np.ndarray], None]] = None,
) -> ScanResult:
    """Scan ``dataset`` on Ray (the cluster at ``address``, or a Ray already started in this process, or a
    local one), with ``workers`` actors (default: one per GPU, else one per CPU). ``fault`` is called with each
    batch's image indices on the worker before it runs (tests use it to kill a worker mid-scan)."""
    try:
        import ray
    except ImportError:
        raise ModelError("The Ray engine needs Ray: `pip install \"ray[data]\"` (an optional install), or scan "
                         "in-process.") from None
    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    started = time.monotonic()
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    count = workers or max(1, gpus or int(resources.get("CPU", 1)))
    items = list(dataset.items)
    batches = [items[i:i + batch_size] for i in range(0, len(items), batch_size)]
    rows = [{"indices": [item.index for item in batch], "names": [item.name for item in batch],
             "labels": [item.label for item in batch], "data": [item.read() for item in batch]} for batch in batches]
    data = ray.data.from_items(rows, override_num_blocks=max(1, len(rows)))
    partials = data.map_batches(
        _TallyActor, fn_constructor_args=(model, list(layers), top_k, len(dataset.classes), fault),
        batch_size=1, batch_format="numpy", concurrency=count, num_gpus=1 if gpus else 0,
        ray_remote_args_fn=lambda: {"max_restarts": RETRIES, "max_task_retries": RETRIES},
    )
    tallies: dict[str, LayerTally] = {}
    skipped: list[tuple[str, str]] = []
    shapes: dict[str, tuple[int, ...]] = {}
    covered: set[int] = set()
    seen_batches: set[bytes] = set()
    for row in partials.iter_rows():
        key = bytes(row["indices"])
        if key in seen_batches:
            continue  # a batch Ray ran twice: merge it once
        seen_batches.add(key)
        indices = _unpack_indices(key)
        if covered.intersection(indices.tolist()):
            raise ModelError("Two parts of the Ray scan covered the same images: the result would count them twice.")
        covered.update(indices.tolist())
        for layer, part in unpack(bytes(row["tallies"])).items():
            tallies[layer] = tallies[layer].merge(part) if layer in tallies else part
        skipped += [tuple(line.split("\t", 1)) for line in str(row["skipped"]).splitlines() if line]
        shapes.update({layer: tuple(shape) for layer, shape in json.loads(str(row["shapes"])).items()})
        if progress is not None:
            elapsed = time.monotonic() - started
            rate = len(covered) / elapsed if elapsed > 0 else 0.0
            progress(Progress(len(covered), len(items), rate, (len(items) - len(covered)) / rate if rate else None))
    missing = {item.index for item in dataset.items} - covered
    if missing:
        raise ModelError(f"The Ray scan lost {len(missing)} image(s) (e.g. index {min(missing)}): run it again.")
    seconds = time.monotonic() - started
    key = scan_key(model, dataset, layers, top_k)
    manifest = make_manifest(model, dataset, layers, top_k, batch_size, "ray", seconds, len(items), shapes,
                             len(skipped), key)
    manifest["ray"] = {"address": address or "local", "workers": count, "gpus_per_worker": 1 if gpus else 0}
    order = {item.name: item.index for item in dataset.items}
    skipped.sort(key=lambda pair: order.get(pair[0], 0))
    return result_of(manifest, tallies, dataset, skipped)


def _pack_indices(indices: np.ndarray) -> bytes:
    return np.sort(indices).astype("<i8").tobytes()


def _unpack_indices(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i8")
