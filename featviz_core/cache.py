"""A cache shared by every session: bounded in bytes, least recently used evicted, activations in float16.

Why not Streamlit's ``st.cache_data``: it can bound only the number of entries, not their size, and every
hit unpickles a full copy of what it stores, so each rerun of the page would copy every layer of the
model. This cache hands out the stored objects themselves (they are never mutated) and counts bytes.

Activations are kept as float16, half the memory of float32 with about three significant digits, which
is what colours and hover need. float16 alone spans only about 6e-8 to 65504, so a layer whose largest
|value| lies outside 1 to 32768 is stored divided by the power of two that brings it to 16384–32768
(:attr:`FeatureMap.scale`): an untrained network's deep layers of 1e-12 keep their values instead of
rounding to zero, and layers above 65504 no longer need float32. A layer whose channels lie too far apart
for any one scale to draw them all (a DenseNet concatenation of features of 1 and of 1e-9) is kept in
bfloat16 instead: float32's range, 8 significant bits. Statistics and flags are computed from the exact
float32 values before any rounding and kept with each map (:func:`featviz_core.analysis._stats.layer_stats`). Exports
of raw values capture again in float32 (:func:`featviz_core.capturing._capture`), so downloads stay exact.
"""

from __future__ import annotations

import math
import sys
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np
import torch

from . import settings
from .activations._records import Capture, FeatureMap, times_power_of_two
from .activations._spill import SpillFile
from .analysis._stats import layer_stats
from .capturing._capture import InputLike, ModelLike, capture
from .errors import ModelError

T = TypeVar("T")
PLAIN_EXPONENTS = range(0, 15)
"""Layers whose largest |value| is 2**e for e in this range (1 to 32768) are stored as plain float16: values
down to 6e-5 of the largest keep float16's full precision, and nothing overflows."""
MIN_STORED_PEAK = 2.0**-16
"""Each channel's largest |value|, as stored in float16, must be at least this: 256 steps of float16's
smallest step (2**-24), so its tile is drawn in as many shades as the colour map has, never blank."""
MIN_BFLOAT16_PEAK = 2.0**-125
"""The same for bfloat16: 256 of its smallest steps (2**-133)."""


class LRUCache(Generic[T]):
    """Thread-safe least-recently-used cache whose bound is the total size of its values, in bytes: in
    memory (``size_of``) and, where values keep part of themselves on disk, there too (``disk_of``)."""

    def __init__(self, max_bytes: int, size_of: Callable[[T], int], *, max_disk_bytes: float = math.inf,
                 disk_of: Callable[[T], int] = lambda _: 0) -> None:
        self.max_bytes = max_bytes
        self.max_disk_bytes = max_disk_bytes
        self._size_of = size_of
        self._disk_of = disk_of
        self._items: OrderedDict[Hashable, tuple[T, int, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0
        self.disk_bytes = 0
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
        size, disk = self._size_of(value), self._disk_of(value)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.nbytes -= old[1]
                self.disk_bytes -= old[2]
            self._items[key] = (value, size, disk)
            self.nbytes += size
            self.disk_bytes += disk
            self._evict()
        return value

    def recount(self, key: Hashable | None = None) -> None:
        """Measure ``key``'s value again (every value: None), and evict to the bounds: a capture's size changes
        as its waiting layers are read (float32 in memory to float16, layers run again onto disk)."""
        with self._lock:
            for name in list(self._items) if key is None else [key]:
                item = self._items.get(name)
                if item is not None:
                    value, size, disk = item
                    self._items[name] = (value, self._size_of(value), self._disk_of(value))
                    self.nbytes += self._items[name][1] - size
                    self.disk_bytes += self._items[name][2] - disk
            self._evict()

    def _evict(self) -> None:
        while (self.nbytes > self.max_bytes or self.disk_bytes > self.max_disk_bytes) and len(self._items) > 1:
            _, (_, evicted, evicted_disk) = self._items.popitem(last=False)  # the newest always stays
            self.nbytes -= evicted
            self.disk_bytes -= evicted_disk

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached value, or ``compute()`` stored under ``key``. Computing happens outside the lock, so one
        slow capture never blocks other sessions; two sessions asking at once may both compute."""
        value = self.get(key)
        return value if value is not None else self.put(key, compute())

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.nbytes = self.disk_bytes = 0


class Compactor:
    """Turns each float32 layer into the form the shared cache keeps: statistics from the exact values, then
    float16 on its own scale.

    Given to :func:`featviz_core.capturing._capture` as ``keep=``, it lets every layer wait, exact as the model
    returned it (:class:`~featviz_core.capturing.KeepLater`), and turns each when it is first read: a layer
    costs its statistics only once someone looks at it, and the model's forward pass waits for nothing but
    the recording. The first ``ram_bytes`` of layers wait in memory. The rest are not kept at all during the
    pass (their names, types and shapes are): reading one runs the model again up to it (bound with
    :meth:`bind`), and its float16 goes to a :class:`~featviz_core.activations._spill.SpillFile`. A capture's
    peak is the model's own forward pass plus ``ram_bytes`` (:func:`capture_for_cache` reads the settings), and it
    stays within that as its layers are read.

    Layers that are one tensor (a block and its last ReLU, a Sequential and its last child) stay one tensor
    here, converted and measured once: they are turned after the pass, when two layers that share memory
    hold the same values (one that was overwritten later had been copied).
    """

    def __init__(self, ram_bytes: float = math.inf, spill_dir: str = "", *, finished: bool = False) -> None:
        self.ram_bytes = ram_bytes
        self.spill = SpillFile(spill_dir)
        self._held = 0
        self._deferring = True
        self._finished = finished
        self._done: dict[tuple, FeatureMap] = {}
        self._model: Callable[[], object | None] = lambda: None  # for layers left to run again
        self._input: torch.Tensor | None = None
        self._ahead: dict[str, FeatureMap] = {}  # layers run again together (ahead), to be handed out

    def defer(self, tensor: torch.Tensor) -> bool:
        """Whether a layer may wait in float32 until it is read: while the budget lasts, and never again once
        a layer has not fitted (the layers after it are not kept, only noted, as they come)."""
        size = tensor.numel() * tensor.element_size()
        self._deferring = self._deferring and self._held + size <= self.ram_bytes
        if self._deferring:
            self._held += size
        return self._deferring

    def bind(self, model: ModelLike, image: torch.Tensor) -> None:
        """The model and preprocessed input to run again for layers past the budget. Held weakly: a capture in
        a shared cache must not keep a large model alive after the model cache has let it go."""
        self._model = weakref.ref(model)
        self._input = image

    def can_finish(self) -> bool:
        return self._input is None or self._model() is not None

    def __call__(self, fmap: FeatureMap) -> FeatureMap:
        if self._finished:  # compact(): a capture that is over, turned now
            return self._turn(fmap, to_disk=None)
        # past the budget during the pass: nothing is kept but the shape (writing the values anywhere would
        # cost the pass as much as the model itself); reading the layer runs the model again up to it
        return FeatureMap(fmap.name, fmap.module_type, torch.empty_like(fmap.stored, device="meta"), fmap.call,
                          fmap.note, fmap.input_shape, scale=fmap.scale, layout=fmap.layout)

    def later(self, fmap: FeatureMap) -> FeatureMap:
        """A layer that waited, read for the first time after the pass: turned in memory where it waited, or
        run again and turned onto disk."""
        if not fmap.stored.is_meta:
            return self._turn(fmap, to_disk=False)
        turned = self._ahead.pop(fmap.name, None)
        if turned is None:
            self.ahead([fmap])
            turned = self._ahead.pop(fmap.name)
        return turned

    def ahead(self, fmaps: list[FeatureMap]) -> None:
        """Run the model once for every layer of ``fmaps`` that it must run again for, and turn each as it
        returns (statistics, float16, onto disk): one partial pass, never one per layer."""
        names = [fmap.name for fmap in fmaps if fmap.stored.is_meta and fmap.name not in self._ahead]
        if not names:
            return
        model = self._model()
        if model is None or self._input is None:
            raise ModelError("This capture's model is no longer loaded, so its later layers cannot be read: choose "
                             "the model or image again to capture it afresh.")
        again = capture(model, self._input, layers=names, keep=lambda fmap: self._turn(fmap, to_disk=True, share=False))
        self._ahead.update(again.outline())

    def _turn(self, fmap: FeatureMap, to_disk: bool | None, share: bool = True) -> FeatureMap:
        """Statistics from the exact values, then float16; kept in memory, on disk, or (None) where the budget
        says. ``share``: layers of one tensor share one result (only once a pass is over: during it an
        in-place op may change the memory between two layers, and an inference tensor cannot tell)."""
        tensor = fmap.stored
        same = (tensor.device, tensor.data_ptr(), tuple(tensor.shape), tensor.stride(), tensor.dtype, fmap.scale,
                fmap.layout)  # one tensor seen through two layouts is measured twice
        kept = self._done.get(same) if share else None
        if kept is None:
            stats = layer_stats(fmap)  # from the values as captured, before any rounding
            peaks = np.maximum(np.abs(stats.channels.min), np.abs(stats.channels.max))
            stored, scale = (tensor, fmap.scale) if fmap.scale != 1.0 else _half(tensor, peaks)
            if to_disk is None:
                stored = self._place(stored)
            elif to_disk:
                stored = self.spill.write(stored)
            kept = FeatureMap(fmap.name, fmap.module_type, stored.cpu(), scale=scale, stats=stats, layout=fmap.layout)
            if share:
                self._done[same] = kept
        return FeatureMap(fmap.name, fmap.module_type, kept.stored, fmap.call, fmap.note, fmap.input_shape,
                          scale=kept.scale, stats=kept.stats, layout=fmap.layout)

    def _place(self, stored: torch.Tensor) -> torch.Tensor:
        """``stored`` in memory while the budget lasts, else in the spill file."""
        size = stored.numel() * stored.element_size()
        if self._held + size > self.ram_bytes:
            return self.spill.write(stored)
        self._held += size
        return stored

    def capture(self, maps: Capture) -> Capture:
        """The finished capture, which owns the spill file (its file closed: a layer turned later opens a new
        one); layers that still wait are turned from now on as finished ones are (shared memory, shared result)."""
        self.spill.close()
        self._finished = True
        maps.spill = self.spill  # layers turned later may go there too
        return maps


def compact(captured: Capture, ram_bytes: float = math.inf, spill_dir: str = "") -> Capture:
    """A copy of an already captured ``captured`` for the shared cache (see :class:`Compactor`; the dashboard
    instead compacts while it captures: :func:`capture_for_cache`)."""
    compactor = Compactor(ram_bytes, spill_dir, finished=True)
    maps = {name: compactor(fmap) for name, fmap in captured.items()}
    return compactor.capture(Capture(maps, captured.input, captured.output, captured.model_label))


def _half(tensor: torch.Tensor, channel_peaks: np.ndarray | None = None) -> tuple[torch.Tensor, float]:
    """(values, scale), ``values * scale`` close to ``tensor``: float16 on a power-of-two scale when one
    scale keeps every channel (largest |value| of each, ``channel_peaks``) drawable, else bfloat16, else (values
    below 1e-36) the tensor itself."""
    if not tensor.is_floating_point() or tensor.dtype == torch.float16 or tensor.numel() == 0:
        return tensor, 1.0
    low, high = (float(v) for v in torch.aminmax(tensor))  # one pass; NaN or inf make these non-finite
    if not (math.isfinite(low) and math.isfinite(high)):
        # rare: look past NaN and inf (a boolean mask costs ~40x the pass above, so only here)
        finite = tensor[torch.isfinite(tensor)]
        low, high = (float(finite.min()), float(finite.max())) if finite.numel() else (0.0, 0.0)
    peak = max(-low, high)
    smallest = _smallest_channel_peak(channel_peaks)
    for scale in dict.fromkeys((float_scale(peak), headroom_scale(peak))):
        if smallest / scale >= MIN_STORED_PEAK:
            if scale == 1.0:
                return tensor.to(torch.float16), 1.0
            return times_power_of_two(tensor, 1.0 / scale).to(torch.float16), scale
    if smallest >= MIN_BFLOAT16_PEAK:
        return tensor.to(torch.bfloat16), 1.0  # channels too far apart for one scale: float32's range, 8 bits
    return tensor, 1.0  # channels among float32's own subnormals: only float32 holds them


def _smallest_channel_peak(peaks: np.ndarray | None) -> float:
    """The smallest largest-|value| among channels that are neither all zero nor NaN (inf if none)."""
    if peaks is None:
        return math.inf
    alive = peaks[np.isfinite(peaks) & (peaks > 0)]
    return float(alive.min()) if alive.size else math.inf


def float_scale(peak: float) -> float:
    """The power of two to divide a layer by before float16, given its largest |value|: 1 for ordinary
    layers, otherwise :func:`headroom_scale`."""
    if peak == 0 or not math.isfinite(peak):
        return 1.0
    return 1.0 if math.frexp(peak)[1] - 1 in PLAIN_EXPONENTS else headroom_scale(peak)


def headroom_scale(peak: float) -> float:
    """The power of two that brings ``peak`` to [16384, 32768): float16's full precision, far from overflow,
    and as far as it goes above float16's smallest values (the most room for small channels)."""
    if peak == 0 or not math.isfinite(peak):
        return 1.0
    exponent = math.frexp(peak)[1] - 1  # peak is in [2**exponent, 2**(exponent + 1))
    return 2.0 ** (exponent - 14)


def activation_cache(max_bytes: int | None = None, max_disk_bytes: int | None = None) -> LRUCache[Capture]:
    """A cache of captures, sized by ``FEATVIZ_ACTIVATION_CACHE_MB`` (default 1 GB) in memory and by
    ``FEATVIZ_SPILL_MB`` (default 8 GB) for the layers they spilled to disk."""
    current = settings.current()
    return LRUCache(max_bytes or current.activation_cache_bytes, lambda captured: captured.nbytes,
                    max_disk_bytes=max_disk_bytes or current.spill_bytes, disk_of=lambda captured: captured.disk_bytes)


def capture_for_cache(model: ModelLike, image: InputLike, *, ram_bytes: float | None = None,
                      spill_dir: str | None = None) -> Capture:
    """What the shared cache keeps of one capture: float16 with exact statistics, at most
    ``FEATVIZ_CAPTURE_RAM_MB`` in memory, the rest spilled to ``FEATVIZ_SPILL_DIR``.

    The layers within that budget wait as the model returned them, in float32, and each is measured and
    rounded when it is first read (``captured[name]``; :meth:`Capture.finish` does them all, with progress).
    The forward pass then costs what a plain capture costs, and a page pays for the layers it shows only."""
    current = settings.current()
    compactor = Compactor(current.capture_ram_bytes if ram_bytes is None else ram_bytes,
                          current.spill_dir if spill_dir is None else spill_dir)
    captured = compactor.capture(capture(model, image, keep=compactor))
    compactor.bind(model, captured.input)
    return captured


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
        marker = getattr(trace, "marker", None)
        if marker is not None:  # a bar chart's colour per bar
            size += _held_bytes(getattr(marker, "color", None))
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
