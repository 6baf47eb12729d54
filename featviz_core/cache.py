"""A cache shared by every session: bounded in bytes, least recently used evicted, activations in float16.

Why not Streamlit's ``st.cache_data``: it can bound only the number of entries, not their size, and every
hit unpickles a full copy of what it stores, so each rerun of the page would copy every layer of the
model. This cache hands out the stored objects themselves (they are never mutated) and counts bytes.

Activations are kept as float16, half the memory of float32 with about three significant digits, which
is what colours and hover need; a layer whose values do not fit float16's range stays float32. Exports of
raw values capture again in float32 (:func:`featviz_core.capture`), so downloads stay exact.
"""

from __future__ import annotations

import math
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import torch

from . import settings
from .capture import Capture, FeatureMap

T = TypeVar("T")
FLOAT16_MAX = 65504.0


class LRUCache(Generic[T]):
    """Thread-safe least-recently-used cache whose bound is the total size of its values, in bytes."""

    def __init__(self, max_bytes: int, size_of: Callable[[T], int]) -> None:
        self.max_bytes = max_bytes
        self._size_of = size_of
        self._items: OrderedDict[Hashable, tuple[T, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def get(self, key: Hashable) -> T | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return item[0]

    def put(self, key: Hashable, value: T) -> T:
        size = self._size_of(value)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.nbytes -= old[1]
            self._items[key] = (value, size)
            self.nbytes += size
            while self.nbytes > self.max_bytes and len(self._items) > 1:  # the newest always stays
                _, (_, evicted) = self._items.popitem(last=False)
                self.nbytes -= evicted
        return value

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached value, or ``compute()`` stored under ``key``. Computing happens outside the lock, so one
        slow capture never blocks other sessions; two sessions asking at once may both compute."""
        value = self.get(key)
        return value if value is not None else self.put(key, compute())

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.nbytes = 0


def compact(captured: Capture) -> Capture:
    """A copy of ``captured`` with floating-point layers in float16 where their values fit.

    Layers that are one tensor in the capture (a block and its last ReLU, a Sequential and its last child)
    stay one tensor here, converted once."""
    maps = {}
    halves: dict[tuple, torch.Tensor] = {}
    for name, fmap in captured.items():
        tensor = fmap.tensor
        same = (tensor.device, tensor.data_ptr(), tuple(tensor.shape), tensor.stride(), tensor.dtype)
        if same not in halves:
            halves[same] = _half(tensor)
        maps[name] = FeatureMap(fmap.name, fmap.module_type, halves[same], fmap.call, fmap.note, fmap.input_shape)
    return Capture(maps, captured.input, captured.output, captured.model_label)


def _half(tensor: torch.Tensor) -> torch.Tensor:
    if not tensor.is_floating_point() or tensor.dtype == torch.float16 or tensor.numel() == 0:
        return tensor
    low, high = (float(v) for v in torch.aminmax(tensor))  # one pass; NaN or inf make these non-finite
    if not (math.isfinite(low) and math.isfinite(high)):
        # rare: look past NaN and inf (a boolean mask costs ~40x the pass above, so only here)
        finite = tensor[torch.isfinite(tensor)]
        low, high = (float(finite.min()), float(finite.max())) if finite.numel() else (0.0, 0.0)
    if max(-low, high) > FLOAT16_MAX:
        return tensor  # would overflow to inf
    return tensor.to(torch.float16)


def activation_cache(max_bytes: int | None = None) -> LRUCache[Capture]:
    """A cache of captures, sized by ``FEATVIZ_ACTIVATION_CACHE_MB`` (default 1024 MB)."""
    return LRUCache(max_bytes or settings.current().activation_cache_bytes, lambda captured: captured.nbytes)


FIGURE_OVERHEAD = 64 * 1024
"""Memory a built grid figure holds beyond its PNG and arrays: plotly's trace and layout objects and their
validated copies. Measured with tracemalloc over 30 resnet18 and digits-CNN grids: 50-80 KB each."""


def figure_nbytes(figure) -> int:
    """Memory a grid figure holds: its PNG source, its hover arrays and plotly's own objects.

    Why it matters: the figure cache's cap is only as true as this. Counting the PNG and arrays alone
    undercounted small figures by up to 3x, and the server's memory kept rising past the cap.
    """
    size = 0
    for trace in figure.data:
        for name in ("source", "z", "customdata", "x", "y", "text", "hovertext"):
            size += _held_bytes(getattr(trace, name, None))
    return size + FIGURE_OVERHEAD


def _held_bytes(value: object) -> int:
    """Bytes behind one trace property: a string, a NumPy array, or a list of Python numbers and labels."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (list, tuple)):
        return sys.getsizeof(value) + sum(sys.getsizeof(item) for item in value)
    return getattr(value, "nbytes", 0) or 0


def figure_cache(max_bytes: int | None = None) -> LRUCache:
    """A cache of built grid figures, sized by ``FEATVIZ_FIGURE_CACHE_MB`` (default 16 MB: 20-100 grids).

    Small on purpose: a figure is rebuilt in 15–35 ms, so this only spares going back and forth between a
    few views, and a small cap lets a server's memory level off soon.
    """
    return LRUCache(max_bytes or settings.current().figure_cache_bytes, figure_nbytes)
