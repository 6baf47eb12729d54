"""Per-channel statistics and flags, and one summary row per layer: which channels matter, which are dead.

Every figure here comes from the layer's exact values. The dashboard's cache rounds activations to float16
for drawing (:func:`featviz_core.cache.compact`), so it computes these once from the float32 capture, before
rounding, and keeps them with the map (:attr:`FeatureMap.stats`): a channel of values near 1e-12 is never
called dead because float16 would have rounded it to zero.

Noise-like is measured by high-frequency energy. Take the power of the map's 2-D Fourier transform,
without the mean; the share of it at frequencies above a quarter cycle per pixel in either axis (the
upper half of the band up to Nyquist) is the map's high-frequency share. White noise spreads its power
evenly over all frequencies, so its share is simply the fraction of frequency bins in that region
(0.68 for 16×16 maps, 0.82 for 7×7). ``hf_energy`` is the map's share divided by that white-noise share:
1 means as rough as white noise, 0 means all power at low frequencies (edges, blobs, anything wider than
a couple of pixels). A channel is noise-like above :data:`NOISE_THRESHOLD`. Why this measure: it asks
directly whether neighbouring pixels move together, it does not depend on the channel's scale, and
dividing by the white-noise share makes the threshold mean the same for every map size.

Which flags apply depends on the map: *constant* needs at least two values per map, *noise-like* maps of
at least 5×5. A layer of single values (a Linear layer's vector, logits, a pooled 1×1 output) has neither,
and the summary says so rather than counting every value as "constant". The noise measure is NaN, and the
channel never noise-like, where the map is too small or its spread is below a millionth of its largest
value (float32 rounding, not structure).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Union

import numpy as np
import torch
from torch import nn

from ..activations._records import (
    MIN_NOISE_SIZE,
    MIN_SPREAD,
    NOISE_THRESHOLD,
    Capture,
    ChannelStats,
    FeatureMap,
    LayerStats,
    LayerValues,
)
from ..activations._shapes import channel_view, view_of
from ..models._load import LoadedModel


def channel_stats(fmap: Union[FeatureMap, torch.Tensor, np.ndarray]) -> ChannelStats:
    """Statistics of every channel of a captured map or a plain (C, H, W) tensor (other shapes as in the grid).

    A map from the dashboard's cache answers with the statistics computed from its exact values.

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> stats = fv.channel_stats(maps["relu1"])
        >>> stats.channels, stats.order("max", top=3)
        (32, [...])
    """
    if isinstance(fmap, FeatureMap):
        if fmap.stats is not None:
            return fmap.stats.channels
        return _measure(view_of(fmap).maps)[0]
    return _measure(channel_view(torch.as_tensor(fmap)).maps)[0]


def layer_values(fmap: Union[FeatureMap, torch.Tensor, np.ndarray]) -> LayerValues:
    """Min, mean, max and zeros over the layer's whole output (from the exact values for a cached map)."""
    if isinstance(fmap, FeatureMap):
        if fmap.stats is not None:
            return fmap.stats.values
        return _layer_values(fmap.tensor)
    return _layer_values(torch.as_tensor(fmap))


def layer_stats(fmap: FeatureMap) -> LayerStats:
    """Everything :func:`channel_stats` and :func:`layer_values` say about ``fmap``, computed once.

    :func:`featviz_core.cache.compact` calls this on the float32 capture, before rounding to float16."""
    if fmap.stats is not None:
        return fmap.stats
    tensor = fmap.tensor
    maps = channel_view(tensor, fmap.layout).maps
    channels, values = _measure(maps)
    # the view holds every value once unless it dropped a class token or averaged depth slices
    return LayerStats(channels, values if maps.numel() == tensor.numel() else _layer_values(tensor))


def _layer_values(tensor: torch.Tensor) -> LayerValues:
    t = tensor.detach().cpu()
    t = t if t.is_floating_point() else t.to(torch.float32)
    count = t.numel()
    if count == 0:
        return LayerValues(0, 0, float("nan"), float("nan"), float("nan"))
    low, high = torch.aminmax(t)
    return LayerValues(count=count, zeros=count - int(torch.count_nonzero(t)), min=float(low),
                       mean=float(t.sum(dtype=torch.float64)) / count, max=float(high))


def _measure(maps: torch.Tensor) -> tuple[ChannelStats, LayerValues]:
    """Statistics of (C, H, W) float32 maps, per channel and over all of them.

    Each channel is first multiplied by a power of two that brings its largest |value| near 1. That changes
    only exponents (exact), so tiny (1e-12) and huge channels are measured with the same float32 precision
    and the same thresholds as ordinary ones; figures are scaled back before they are returned."""
    c, h, w = maps.shape
    n = h * w
    if n * c == 0:
        nan, no, zero = np.full(c, np.nan, np.float32), np.zeros(c, bool), np.zeros(c, np.int32)
        return (ChannelStats(nan, nan, nan, nan, nan, zero, zero, nan, no, no, no, (h, w)),
                LayerValues(0, 0, float("nan"), float("nan"), float("nan")))
    flat = maps.reshape(c, n)
    low = flat.amin(dim=1)
    high, position = flat.max(dim=1)  # one pass for both
    zeros = (flat == 0).sum(dim=1, dtype=torch.int32)
    peak = torch.maximum(low.abs(), high.abs())
    exponent = torch.where(torch.isfinite(peak), torch.frexp(peak).exponent, 0).clamp(-100, 100)
    factor = torch.ldexp(torch.ones(c), -exponent)  # powers of two that float32 holds exactly
    unit = flat * factor[:, None]
    unit_sum = unit.sum(dim=1, dtype=torch.float64)
    centred = unit - (unit_sum / n).to(torch.float32)[:, None]
    hf, unit_var = _high_frequency_energy(centred.view(c, h, w), peak * factor)
    if unit_var is None:  # maps too small for the spectrum: sum the squares directly
        unit_var = torch.linalg.vector_norm(centred, dim=1).double() ** 2 / n
    unit_std = unit_var.sqrt()
    dead = zeros == n
    factor64 = factor.double()
    mean = unit_sum / factor64 / n
    stats = ChannelStats(
        mean=_array(mean.float()),
        max=_array(high),
        min=_array(low),
        std=_array((unit_std / factor64).float()),
        sparsity=_array((zeros.double() / n).float()),
        argmax_y=_array((position // w).int()),
        argmax_x=_array((position % w).int()),
        hf_energy=hf,
        dead=_array(dead),
        constant=_array((low == high) & ~dead & (n >= 2)),
        noise_like=np.nan_to_num(hf, nan=0.0) > NOISE_THRESHOLD,
        map_size=(h, w),
    )
    values = LayerValues(count=c * n, zeros=int(zeros.sum()), min=float(low.min()), mean=float(mean.mean()),
                         max=float(high.max()))
    return stats, values


def _high_frequency_energy(centred: torch.Tensor, peak: torch.Tensor) -> tuple[np.ndarray, torch.Tensor | None]:
    """hf_energy of maps whose mean is already removed, NaN for small maps and for maps with no spread; and
    each map's variance, which the spectrum gives for free (Parseval), or None when it was not computed."""
    c, h, w = centred.shape
    if h < MIN_NOISE_SIZE or w < MIN_NOISE_SIZE:
        return np.full(c, np.nan, np.float32), None
    spectrum = torch.fft.rfft2(centred)  # half the spectrum: a real map's other half mirrors it
    squares = torch.view_as_real(spectrum).reshape(c, -1).square()  # real², imaginary², ... per bin
    weights, white_share = _band_weights(h, w)
    total, high = (squares @ weights).double().unbind(dim=1)
    variance = total / (h * w) ** 2  # Parseval: the spectrum's power without the mean is N² × variance
    score = high / torch.where(total > 0, total, 1.0) / white_share
    defined = (total > 0) & (variance > (MIN_SPREAD * peak.double()) ** 2) & torch.isfinite(score)
    return _array(torch.where(defined, score, float("nan")).float()), variance


def _array(tensor: torch.Tensor) -> np.ndarray:
    """A NumPy copy that owns its memory: a view would keep a torch tensor alive, about 600 bytes each."""
    return tensor.numpy().copy()


@lru_cache(maxsize=64)
def _band_weights(h: int, w: int) -> tuple[torch.Tensor, float]:
    """For a half spectrum (rfft2) of an h×w map, as squared real and imaginary parts in turn: weights that sum
    its power over the whole spectrum without the mean (column 0) and over the high band only (column 1); and
    white noise's high-band share."""
    fy = torch.fft.fftfreq(h, dtype=torch.float64).abs().view(-1, 1)
    fx = torch.fft.rfftfreq(w, dtype=torch.float64).view(1, -1)
    mirrored = torch.full((1, fx.shape[1]), 2.0, dtype=torch.float64)  # columns that stand for two bins
    mirrored[0, 0] = 1.0
    if w % 2 == 0:
        mirrored[0, -1] = 1.0  # the Nyquist column has no mirror
    counted = mirrored.expand(h, -1).clone()
    counted[0, 0] = 0.0  # the mean
    high = ((fy > 0.25) | (fx > 0.25)).double()
    full_high = ((fy > 0.25) | (torch.fft.fftfreq(w, dtype=torch.float64).abs().view(1, -1) > 0.25)).sum().item()
    weights = torch.stack([counted.reshape(-1), (counted * high).reshape(-1)], dim=1).to(torch.float32)
    weights = weights.repeat_interleave(2, dim=0)  # the same weight for a bin's real and imaginary part
    return weights, full_high / (h * w - 1)  # the mean's bin is never "high"


@dataclass(frozen=True)
class LayerSummary:
    """One row of the model overview."""

    name: str
    module_type: str
    shape: tuple[int, ...]
    parameters: int
    sparsity: float
    dead_channels: int
    channels: int
    mean: float
    depth: int  # position in the forward pass order of the capture


def layer_summary(model: Union[LoadedModel, nn.Module], captured: Capture) -> list[LayerSummary]:
    """Every captured layer: type, output shape, own parameters (recursive), sparsity, dead channels, mean.

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> row = fv.layer_summary(model, maps)[0]
        >>> row.name, row.shape, row.parameters
        ('conv1', (32, 26, 26), 320)
    """
    module = model.module if isinstance(model, LoadedModel) else model
    modules = dict(module.named_modules())
    rows = []
    for depth, (key, fmap) in enumerate(captured.items()):
        sub = modules.get(fmap.module_name)
        parameters = sum(p.numel() for p in sub.parameters()) if sub is not None and fmap.call == 1 else 0
        values = layer_values(fmap)
        channels, dead = _dead_channels(fmap)
        rows.append(
            LayerSummary(
                name=key, module_type=fmap.module_type, shape=fmap.shape, parameters=parameters,
                sparsity=values.sparsity, dead_channels=dead, channels=channels,
                mean=values.mean if values.count else 0.0, depth=depth,
            )
        )
    return rows


def _dead_channels(fmap: FeatureMap) -> tuple[int, int]:
    """(channels, channels that are zero everywhere); a layer of one channel counts none as dead."""
    if fmap.stats is not None:
        stats = fmap.stats.channels
        return stats.channels, int(stats.dead.sum()) if stats.channels > 1 else 0
    maps = view_of(fmap).maps
    dead = int((maps.reshape(maps.shape[0], -1) == 0).all(dim=1).sum()) if maps.shape[0] > 1 else 0
    return int(maps.shape[0]), dead
