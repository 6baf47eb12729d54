"""What a dataset scan keeps of one layer, per channel: a fixed-size summary, merged from any number of parts.

Each batch is reduced per image and channel (mean, maximum and where it is, share of positions above zero)
and folded into a :class:`LayerTally` whose size depends on the layer and ``top_k``, never on how many
images were seen: memory stays flat however large the collection. Two tallies of disjoint images merge into
the tally of their union, and the merge is associative and commutative (sums, maxima, and a top-k broken by
image index on equal values), so a scan split over batches, checkpoints or cluster workers gives exactly the
same result as one pass.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, fields

import numpy as np
import torch

HISTOGRAM_EDGES = np.concatenate([-(10.0 ** np.arange(6, -6.01, -0.5)), [0.0], 10.0 ** np.arange(-6, 6.01, 0.5)])
"""Bin edges of the per-image channel maxima: 0, then half-decades from 1e-6 to 1e6 each side, so layers of
any scale share one histogram (values beyond the ends fall into the end bins)."""
BINS = len(HISTOGRAM_EDGES) - 1


@dataclass(frozen=True)
class Reduced:
    """A batch of one layer's maps reduced per image and channel: all a tally needs of it. ``means``,
    ``maxima`` and ``active`` are (N, C); ``top_rows`` (C, k) are each channel's k best rows of the batch
    (largest maximum first, the earlier row first on equal values), ``top_where`` where their maximum is."""

    means: torch.Tensor
    maxima: torch.Tensor
    active: torch.Tensor  # share of positions above zero
    top_rows: torch.Tensor
    top_where: torch.Tensor  # flat position of the maximum in the map

    @property
    def channels(self) -> int:
        return int(self.means.shape[1])


def reduce(maps: torch.Tensor, top_k: int) -> Reduced:
    """(N, C, ...) maps, whose rows are in image order, to their per-image, per-channel figures, on the maps'
    device. Done as a layer returns,
    so nothing of the map itself is kept (and an in-place op after the layer cannot change what was seen).
    Only an image among a batch's k best for a channel can be among the collection's k best, so where the
    maximum is is found for those alone."""
    x = maps.detach().reshape(maps.shape[0], maps.shape[1], -1)
    if x.dtype != torch.float32:
        x = x.float()
    maxima = x.amax(-1)
    rows = torch.sort(maxima.T, dim=1, descending=True, stable=True).indices[:, :top_k]  # (C, k)
    by_channel = x.transpose(0, 1)  # (C, N, P)
    best = torch.gather(by_channel, 1, rows[:, :, None].expand(-1, -1, x.shape[-1]))
    return Reduced(x.mean(-1), maxima, torch.relu(x).sign_().mean(-1), rows, best.argmax(-1))


@dataclass
class LayerTally:
    """Per-channel statistics of one layer over the images seen so far (arrays indexed by channel)."""

    channels: int
    top_k: int
    classes: int
    images: np.ndarray  # () int64: how many images
    mean_sum: np.ndarray  # (C,) float64: sum over images of the channel's mean over positions
    maximum: np.ndarray  # (C,) float32: largest value anywhere
    active_sum: np.ndarray  # (C,) float64: sum over images of the share of positions above zero
    histogram: np.ndarray  # (C, BINS) int64: per-image maxima, binned by HISTOGRAM_EDGES
    top_value: np.ndarray  # (C, K) float32: the K largest per-image maxima, largest first
    top_image: np.ndarray  # (C, K) int64: which image (dataset index; -1 where fewer than K were seen)
    top_position: np.ndarray  # (C, K) int64: where the maximum is, flat index into the map (row * width + column)
    class_sum: np.ndarray  # (L, C) float64: per-class sums of the channel mean
    class_count: np.ndarray  # (L,) int64: images per class

    @classmethod
    def empty(cls, channels: int, top_k: int = 16, classes: int = 0) -> LayerTally:
        return cls(
            channels, top_k, classes,
            images=np.zeros((), np.int64),
            mean_sum=np.zeros(channels),
            maximum=np.full(channels, -np.inf, np.float32),
            active_sum=np.zeros(channels),
            histogram=np.zeros((channels, BINS), np.int64),
            top_value=np.full((channels, top_k), -np.inf, np.float32),
            top_image=np.full((channels, top_k), -1, np.int64),
            top_position=np.full((channels, top_k), -1, np.int64),
            class_sum=np.zeros((classes, channels)),
            class_count=np.zeros(classes, np.int64),
        )

    def add(self, batch: Reduced, images: np.ndarray, labels: np.ndarray) -> None:
        """Fold in a batch, reduced per image and channel (:func:`reduce`), for dataset images ``images`` with
        class ``labels`` (-1: none)."""
        means = batch.means.double().cpu().numpy()
        maxima = batch.maxima.cpu().numpy()
        rows = batch.top_rows.cpu().numpy()
        self.images += len(images)
        self.mean_sum += means.sum(0)
        self.active_sum += batch.active.double().cpu().numpy().sum(0)
        self.maximum = np.maximum(self.maximum, maxima.max(0))
        bins = np.clip(np.searchsorted(HISTOGRAM_EDGES, maxima, side="right") - 1, 0, BINS - 1)  # (N, C)
        flat = (np.arange(self.channels)[None, :] * BINS + bins).ravel()
        self.histogram += np.bincount(flat, minlength=self.channels * BINS).reshape(self.channels, BINS)
        values = np.take_along_axis(maxima.T, rows, 1)
        self._keep_top(values, images[rows], batch.top_where.cpu().numpy().astype(np.int64))
        labelled = labels >= 0
        if self.classes and labelled.any():
            np.add.at(self.class_sum, labels[labelled], means[labelled])
            self.class_count += np.bincount(labels[labelled], minlength=self.classes)

    def merge(self, other: LayerTally) -> LayerTally:
        """The tally of both parts' images together (the parts must not share an image)."""
        merged = LayerTally(
            self.channels, self.top_k, self.classes, self.images + other.images, self.mean_sum + other.mean_sum,
            np.maximum(self.maximum, other.maximum), self.active_sum + other.active_sum,
            self.histogram + other.histogram, self.top_value.copy(), self.top_image.copy(), self.top_position.copy(),
            self.class_sum + other.class_sum, self.class_count + other.class_count,
        )
        merged._keep_top(other.top_value, other.top_image, other.top_position)
        return merged

    def _keep_top(self, values: np.ndarray, images: np.ndarray, positions: np.ndarray) -> None:
        """Keep the K largest of the kept and the new candidates per channel; equal values: lower image first."""
        all_values = np.concatenate([self.top_value, values], axis=1)
        all_images = np.concatenate([self.top_image, images], axis=1)
        all_positions = np.concatenate([self.top_position, positions], axis=1)
        empty = all_images < 0
        key_image = np.where(empty, np.iinfo(np.int64).max, all_images)
        order = np.lexsort((key_image, -all_values.astype(np.float64)), axis=1)[:, : self.top_k]
        self.top_value = np.take_along_axis(all_values, order, 1).astype(np.float32)
        self.top_image = np.take_along_axis(all_images, order, 1)
        self.top_position = np.take_along_axis(all_positions, order, 1)

    @property
    def mean(self) -> np.ndarray:
        return self.mean_sum / max(int(self.images), 1)

    @property
    def active_fraction(self) -> np.ndarray:
        return self.active_sum / max(int(self.images), 1)

    @property
    def never_active(self) -> np.ndarray:
        """Channels that were at or below zero everywhere on every image: dead over the whole collection."""
        return self.maximum <= 0

    @property
    def class_mean(self) -> np.ndarray:
        """(L, C): the channel's mean activation on each class's images (NaN for a class with none)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.class_sum / self.class_count[:, None]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (for a checkpoint's .npz, or to send from a worker)."""
        return {f.name: np.asarray(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> LayerTally:
        values = {f.name: arrays[f.name] for f in fields(cls)}
        for name in ("channels", "top_k", "classes"):
            values[name] = int(values[name])
        values["images"] = np.asarray(values["images"], np.int64)
        return cls(**values)


def same(a: LayerTally, b: LayerTally) -> bool:
    """Whether two tallies hold the same result (sums to float rounding, everything else exactly)."""
    exact = ("images", "maximum", "histogram", "top_value", "top_image", "top_position", "class_count")
    close = ("mean_sum", "active_sum", "class_sum")
    return (all(np.array_equal(getattr(a, n), getattr(b, n)) for n in exact)
            and all(np.allclose(getattr(a, n), getattr(b, n), rtol=1e-9, atol=1e-9) for n in close))


def pack(tallies: dict[str, LayerTally]) -> bytes:
    """Tallies as one .npz (plain arrays, no pickles): for a checkpoint, or from a worker to the driver."""
    arrays: dict[str, np.ndarray] = {"layers": np.array(list(tallies), dtype=str)}
    for i, tally in enumerate(tallies.values()):
        arrays.update({f"{i}:{name}": value for name, value in tally.to_arrays().items()})
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def unpack(data: bytes) -> dict[str, LayerTally]:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        layers = [str(layer) for layer in archive["layers"]]
        return {layer: LayerTally.from_arrays({name.split(":", 1)[1]: archive[name] for name in archive.files
                                               if name.startswith(f"{i}:")})
                for i, layer in enumerate(layers)}
