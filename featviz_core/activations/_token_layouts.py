"""Layers whose output is windows × tokens × channels, and how to lay them back out on the image.

MaxViT (torchvision's ``maxvit_t``) cuts its (C, H, W) maps into windows for attention: inside each
``PartitionAttentionLayer`` every module returns (windows, tokens, channels), e.g. (64, 49, 64) for 64
windows of 7×7 tokens, and a *grid* attention swaps the first two axes. By shape alone such an output cannot
be told from 64 maps of 49×64, so the layout is read from the model: the partition module's ``p`` (the
window side) and ``grid_size``, and where in the layer the output comes from. The view then puts every token
back where it was on the H×W grid, one map per channel, with a sentence that says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn


@dataclass(frozen=True)
class Windows:
    """(windows, tokens, channels) of ``size``×``size`` tokens on a ``rows``×``cols`` grid of windows;
    ``swapped``: (tokens, windows, channels), as a grid attention works."""

    size: int
    rows: int
    cols: int
    swapped: bool

    def expected(self, channels: int) -> tuple[int, int, int]:
        windows, tokens = self.rows * self.cols, self.size * self.size
        return (tokens, windows, channels) if self.swapped else (windows, tokens, channels)

    def fits(self, tensor: torch.Tensor) -> bool:
        return tensor.dim() == 3 and tuple(tensor.shape) == self.expected(int(tensor.shape[-1]))

    def maps(self, tensor: torch.Tensor) -> torch.Tensor:
        """(C, H, W): every token back at its place, as the model's own departition does."""
        t = tensor.transpose(0, 1) if self.swapped else tensor
        channels, p = t.shape[-1], self.size
        return t.reshape(self.rows, self.cols, p, p, channels).permute(4, 0, 2, 1, 3).reshape(
            channels, self.rows * p, self.cols * p).contiguous()

    def note(self, tensor: torch.Tensor) -> str:
        windows, tokens, channels = self.rows * self.cols, self.size * self.size, int(tensor.shape[-1])
        order = "tokens × windows × channels" if self.swapped else "windows × tokens × channels"
        height, width = self.rows * self.size, self.cols * self.size
        what = (f"{windows} windows of {self.size}×{self.size} tokens" if not self.swapped else
                f"{tokens} groups of {windows} tokens, one from each {self.size}×{self.size} block (grid attention)")
        return (f"This layer works on {order} {tuple(tensor.shape)}: {what}. Every token is put back at its place "
                f"on the {height}×{width} grid, one tile per channel ({channels}).")


def window_layouts(modules: Iterable[tuple[str, nn.Module]]) -> dict[str, Windows]:
    """Layer name (module name, as captured) → its window layout, for every module inside a MaxViT
    partition-attention layer whose output is partitioned. ``modules``: a model's ``named_modules()``."""
    layouts: dict[str, Windows] = {}
    for prefix, module in modules:
        if type(module).__name__ != "PartitionAttentionLayer" or not _has_partition_attributes(module):
            continue
        grid = module.partition_type == "grid"
        rows, cols = module.grid_size[0] // module.p, module.grid_size[1] // module.p
        for name, _ in module.named_modules():
            step = name.split(".", 1)[0]
            swapped = _swapped_after(step, grid)
            if swapped is not None:
                layouts[f"{prefix}.{name}"] = Windows(module.p, rows, cols, swapped)
    return layouts


def layout_for(layouts: dict[str, Windows], name: str, tensor: torch.Tensor) -> Optional[Windows]:
    """The layout of captured layer ``name`` (``module#call`` counts as the module), when its output fits it."""
    layout = layouts.get(name.split("#", 1)[0])
    return layout if layout is not None and layout.fits(tensor) else None


def _swapped_after(step: str, grid: bool) -> Optional[bool]:
    """Whether the output of the layer's ``step`` is swapped; None when it is not partitioned."""
    if step == "partition_op" or step == "departition_swap":
        return False
    if step in ("partition_swap", "attn_layer", "mlp_layer", "stochastic_dropout"):
        return grid
    return None  # the layer itself and its departition_op give (C, H, W) maps


def _has_partition_attributes(module: nn.Module) -> bool:
    kind, side = getattr(module, "partition_type", None), getattr(module, "p", None)
    return kind in ("window", "grid") and isinstance(side, int) and len(getattr(module, "grid_size", ())) == 2
