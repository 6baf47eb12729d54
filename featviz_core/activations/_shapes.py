"""Turn any layer output into channels of 2-D maps, and say how when it was not already (C, H, W).

Convolutions give (C, H, W), but a zoo has more: a ViT's tokens, a linear layer's vector, ConvNeXt and Swin
blocks working channels-last, 3-D convolutions. Each becomes a sensible stack of maps plus one sentence
that tells the user what they are looking at, never an error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import torch

from ._token_layouts import Windows

_MIN_TOKEN_GRID = 4
"""Smallest patch grid side read as tokens; a tiny matrix is more likely just a matrix."""


@dataclass(frozen=True)
class ChannelView:
    """Maps to draw, (C, H, W) float32 on the CPU, and what was done to get them."""

    maps: torch.Tensor
    kind: str  # "maps", "channels_last", "tokens", "windows", "vector", "volume", "matrix", "scalar"
    note: str = ""

    @property
    def channels(self) -> int:
        return int(self.maps.shape[0])


def view_of(fmap: Any) -> ChannelView:
    """:func:`channel_view` of a captured layer (with the layout its model says it has) or of plain values."""
    tensor = fmap.tensor if hasattr(fmap, "tensor") and not isinstance(fmap, torch.Tensor) else torch.as_tensor(fmap)
    return channel_view(tensor, layout_of(fmap))


def layout_of(fmap: Any) -> Optional[Windows]:
    """A captured layer's layout (a tensor's own ``layout`` is its memory format, not this)."""
    layout = getattr(fmap, "layout", None)
    return layout if isinstance(layout, Windows) else None


def channel_view(tensor: torch.Tensor, layout: Optional[Windows] = None) -> ChannelView:
    """Describe ``tensor`` (one sample, batch dimension removed) as a stack of channel maps; ``layout``: what the
    model says its axes are, where the shape alone cannot (MaxViT's windows)."""
    t = tensor.detach().to("cpu", torch.float32)
    shape = tuple(t.shape)
    if layout is not None and layout.fits(t):
        return ChannelView(layout.maps(t), "windows", layout.note(t))
    if t.dim() == 0:
        return ChannelView(t.reshape(1, 1, 1), "scalar", f"This layer outputs a single number ({t.item():.4g}).")
    if t.dim() == 1:
        return ChannelView(
            t.reshape(-1, 1, 1),
            "vector",
            f"This layer outputs a vector of {shape[0]} values, not spatial maps: each bar is one value.",
        )
    if t.dim() == 2:
        return _tokens_or_matrix(t)
    if t.dim() == 3:
        c, h, w = shape
        if h != w and c == h:  # (H, W, C): ConvNeXt / Swin blocks work channels-last
            return ChannelView(
                t.permute(2, 0, 1).contiguous(),
                "channels_last",
                f"This layer works channels-last {shape}; shown as {w} channels of {c}×{h}.",
            )
        return ChannelView(t, "maps")
    if t.dim() == 4:
        c, d, h, w = shape
        return ChannelView(
            t.mean(dim=1),
            "volume",
            f"This layer outputs 3-D maps {shape} (channels, depth, height, width); each tile is the mean over "
            f"the {d} depth slices.",
        )
    flat = t.reshape(-1, shape[-2], shape[-1])
    return ChannelView(
        flat,
        "maps",
        f"This layer outputs a {t.dim()}-D tensor {shape}; its leading dimensions are shown as {flat.shape[0]} maps.",
    )


def _tokens_or_matrix(t: torch.Tensor) -> ChannelView:
    """A (tokens, features) output: patch tokens on a square grid become one map per feature."""
    n, d = t.shape
    for skip in (0, 1):
        side = math.isqrt(n - skip)
        if side >= _MIN_TOKEN_GRID and side * side == n - skip:
            patches = t[skip:].reshape(side, side, d).permute(2, 0, 1).contiguous()
            dropped = " The first token (the class token) is left out." if skip else ""
            return ChannelView(
                patches,
                "tokens",
                f"This layer outputs {n} tokens × {d} features. The {side * side} patch tokens are laid out on "
                f"their {side}×{side} image grid, one tile per feature.{dropped}",
            )
    return ChannelView(
        t.unsqueeze(0),
        "matrix",
        f"This layer outputs a {n}×{d} matrix with no channel axis; it is shown as one map (rows × columns).",
    )
