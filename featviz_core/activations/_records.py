"""What a capture hands to every other room: a layer's output (:class:`FeatureMap`), all of an image's layers
(:class:`Capture`), and the statistics measured from a layer's exact values (:class:`LayerStats`).

Why a module of their own: the code that makes them (capture, the dashboard's compaction) and the code that
reads them (drawing, statistics, exports, scans) both depend on these records, and on nothing else of each
other. They hold data and answer questions about it; they run no model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Optional, Protocol

import numpy as np
import torch

from ..errors import LayerError
from ._spill import SpillFile
from ._token_layouts import Windows

NOISE_THRESHOLD = 0.8
"""hf_energy above this is noise-like (white noise: about 1; structured maps: near 0)."""
MIN_NOISE_SIZE = 5
"""Smallest map side the noise measure is defined for."""
MIN_SPREAD = 1e-6
"""A channel whose standard deviation is below this share of its largest |value| has no structure to judge."""
STAT_COLUMNS: dict[str, str] = {
    "mean": "Mean",
    "max": "Max",
    "std": "Std",
    "sparsity": "Sparsity (fraction of zeros)",
    "hf_energy": "High-frequency energy (noise measure)",
}
"""Statistics the grid can be sorted by, with menu labels."""


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: arrays have no truth value or hash
class ChannelStats:
    """One value per channel for each statistic (arrays of length C) and the flags derived from them."""

    mean: np.ndarray
    max: np.ndarray
    min: np.ndarray
    std: np.ndarray  # population standard deviation (ddof=0)
    sparsity: np.ndarray  # fraction of values exactly zero
    argmax_y: np.ndarray
    argmax_x: np.ndarray
    hf_energy: np.ndarray  # high-frequency share / white noise's share; NaN where undefined
    dead: np.ndarray  # every value exactly zero
    constant: np.ndarray  # one value everywhere, but not zero; never set where the flag does not apply
    noise_like: np.ndarray
    map_size: tuple[int, int]  # (height, width) of each channel's map

    @property
    def channels(self) -> int:
        return len(self.mean)

    @property
    def constant_applies(self) -> bool:
        """Whether a channel can be "constant": only a map of two or more values can be one value everywhere."""
        return self.map_size[0] * self.map_size[1] >= 2

    @property
    def noise_applies(self) -> bool:
        """Whether the noise measure is defined for maps of this size (at least 5×5)."""
        return min(self.map_size) >= MIN_NOISE_SIZE

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return sum(getattr(self, f.name).nbytes for f in fields(self) if isinstance(getattr(self, f.name), np.ndarray))

    def rows(self) -> list[dict]:
        """One dict per channel, for tables."""
        return [self.row(c) for c in range(self.channels)]

    def row(self, c: int) -> dict:
        """One channel's figures. A flag that does not apply to maps of this size is None, not False."""
        return {
                "channel": c,
                "mean": float(self.mean[c]),
                "max": float(self.max[c]),
                "min": float(self.min[c]),
                "std": float(self.std[c]),
                "sparsity": float(self.sparsity[c]),
                "max_at": f"({int(self.argmax_y[c])}, {int(self.argmax_x[c])})",
                "hf_energy": None if np.isnan(self.hf_energy[c]) else float(self.hf_energy[c]),
                "dead": bool(self.dead[c]),
                "constant": bool(self.constant[c]) if self.constant_applies else None,
                "noise_like": bool(self.noise_like[c]) if self.noise_applies else None,
            }

    def order(self, by: str = "index", descending: bool = True, top: int | None = None,
              hide_dead: bool = False) -> list[int]:
        """Channel indices sorted by a statistic (NaN last), optionally without dead ones and cut to ``top``."""
        if by == "index":
            order = list(range(self.channels))
        else:
            if by not in STAT_COLUMNS:
                raise ValueError(f"Cannot sort by {by!r}; choose index or one of {', '.join(STAT_COLUMNS)}.")
            values = np.asarray(getattr(self, by), dtype=np.float64)
            key = np.where(np.isnan(values), -np.inf if descending else np.inf, values)
            order = np.argsort(-key if descending else key, kind="stable").tolist()
        if hide_dead:
            order = [c for c in order if not self.dead[c]]
        return order[:top] if top else order

    def summary(self) -> str:
        """The layer in one line: how many channels are dead, constant or noise-like; mean sparsity. Flags that
        do not apply to maps of this size are named as such, not counted."""
        dead, sparsity = int(self.dead.sum()), f"mean sparsity {float(np.mean(self.sparsity)):.0%}"
        channels = f"{self.channels} channel{'' if self.channels == 1 else 's'}"
        if not self.constant_applies:
            return f"{channels} of one value each · {dead} zero · constant and noise-like do not apply to single values"
        noise = (f"{int(self.noise_like.sum())} noise-like" if self.noise_applies
                 else f"noise-like does not apply to maps under {MIN_NOISE_SIZE}×{MIN_NOISE_SIZE}")
        return f"{channels} · {dead} dead · {int(self.constant.sum())} constant · {noise} · {sparsity}"


@dataclass(frozen=True)
class LayerValues:
    """The range, mean and zeros of every value the layer returned (its whole output, not the drawn view)."""

    count: int
    zeros: int
    min: float
    mean: float
    max: float

    @property
    def sparsity(self) -> float:
        """Fraction of values exactly zero (0 for an empty output)."""
        return self.zeros / self.count if self.count else 0.0


@dataclass(frozen=True, eq=False)
class LayerStats:
    """A layer's statistics from its exact values: what the cache keeps beside the rounded map."""

    channels: ChannelStats
    values: LayerValues

    @property
    def nbytes(self) -> int:
        """Memory held, the Python objects included."""
        return self.channels.nbytes + _STATS_OVERHEAD


_STATS_OVERHEAD = 3 * 1024
"""Bytes a LayerStats holds beyond its arrays' data (objects, allocator), measured over 20,000 of them."""



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


class Finisher(Protocol):
    """What finishes a capture's waiting layers when they are first read (:class:`featviz_core.cache.Compactor`)."""

    def later(self, fmap: FeatureMap) -> FeatureMap: ...

    def ahead(self, fmaps: list[FeatureMap]) -> None: ...

    def can_finish(self) -> bool: ...


class Capture(Mapping[str, FeatureMap]):
    """Every layer's :class:`FeatureMap` for one image, in the model's module order.

    The dashboard's capture (:func:`featviz_core.cache.capture_for_cache`) holds its layers as the model
    returned them and finishes each (statistics, float16) the first time it is read; ``outline()`` reads none.

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
        *,
        finish: Optional[Finisher] = None,
        waiting: Iterable[str] = (),
    ) -> None:
        self._maps = maps
        self.input = input  # the preprocessed image the model saw, (C, H, W)
        self.output = output  # the model's own output (e.g. logits), batch removed; None if not a tensor
        self.model_label = model_label
        self.spill: Optional[SpillFile] = None  # where layers beyond the memory budget live (see cache.Compactor)
        self._finish = finish
        self._waiting = set(waiting) if finish is not None else set()
        self._lock = threading.Lock()

    def __getitem__(self, name: str) -> FeatureMap:
        try:
            fmap = self._maps[name]
        except KeyError:
            raise LayerError(f"The model has no captured layer named {name!r}.") from None
        return self._finished(name) if name in self._waiting else fmap

    def _finished(self, name: str) -> FeatureMap:
        with self._lock:  # one session finishes a layer; the others wait for it and share it
            if name in self._waiting:
                self._maps[name] = self._finish.later(self._maps[name])
                self._waiting.discard(name)
            return self._maps[name]

    @property
    def waiting(self) -> int:
        """How many layers are still as the model returned them, to be finished when first read."""
        return len(self._waiting)

    def finish(self, progress: Optional[Callable[[int, int], None]] = None) -> None:
        """Finish now every layer that waits (see :func:`featviz_core.cache.capture_for_cache`), calling
        ``progress(done, total)`` after each: for a view that reads every layer, such as the model overview."""
        names = [name for name in self._maps if name in self._waiting]
        if names:
            with self._lock:
                self._finish.ahead([self._maps[name] for name in names if name in self._waiting])
        for done, name in enumerate(names, start=1):
            self._finished(name)
            if progress is not None:
                progress(done, len(names))

    def can_finish(self) -> bool:
        """Whether every layer that waits can still be read (one left to be run again needs its model, which
        may have been let go since)."""
        return not self._waiting or self._finish.can_finish()

    def outline(self) -> Iterator[tuple[str, FeatureMap]]:
        """Every layer as it stands, finished or not, in order: for names, module types and shapes, which
        finishing never changes. Unlike ``items()``, it reads no values and finishes nothing."""
        return iter(list(self._maps.items()))

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
            if fmap.stored.is_meta or (self.spill is not None and self.spill.holds(fmap.stored)):
                continue  # on disk (see disk_bytes), or not kept at all yet
            storage = fmap.stored.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
            if fmap.stats is not None:
                stats[id(fmap.stats)] = fmap.stats.nbytes
        return sum(storages.values()) + sum(stats.values())

    @property
    def disk_bytes(self) -> int:
        """Bytes of layers written to a spill file rather than held in memory."""
        return self.spill.nbytes if self.spill is not None else 0
