"""A channel's top images from a scan, as a review shows them: the part of each image its unit sees, with the
channel's map laid over it and the maximum marked.

The part a unit sees (its receptive field) comes from the layers' geometry (kernel, stride, padding and
dilation on every path: :mod:`featviz_core.analysis._receptive_field`) wherever it can be followed. Where it cannot (an
op without a geometric rule, such as an attention or an upsampling), it is found by gradient: the input pixels
whose change moves the unit's value, on that image. Where the model is not a torch module featviz can run
either way (ONNX, Keras, TorchScript), it is estimated from the map's scale: three map cells around the
maximum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

from ..analysis._receptive_field import layer_fields
from ..draw._inspect_layer import overlay
from ..images import load_image
from ..models._load import LoadedModel, module_device
from ..recording import StopForward, gradients, layer_outputs, named_submodules
from ._scan import BatchRunner, hookable


@dataclass(frozen=True)
class TopImage:
    """One of a channel's top images: its picture cropped to the unit's view, the box in input pixels, and
    where the box came from: ``"geometry"``, ``"gradient"`` or ``"estimate"`` (the map's scale)."""

    picture: Image.Image
    box: tuple[int, int, int, int]  # left, top, right, bottom in the model's input
    found_by: str


HOW_FOUND = {"geometry": "layers' geometry: kernels, strides and padding", "gradient": "gradient of the unit",
             "estimate": "map's scale (three cells)"}


def receptive_box(model: LoadedModel, tensor: torch.Tensor, layer: str, channel: int, y: int, x: int
                  ) -> Optional[tuple[int, int, int, int]]:
    """Input pixels (left, top, right, bottom) whose gradient moves the unit at (y, x) of ``channel``; None
    when the model cannot be differentiated here, or the unit does not depend on the input at all.

    The layer's output is taken through featviz's one recording (this thread's pass only, nothing written
    into the shared model), the pass ends once the layer has run, and the gradient is taken with respect to
    a copy of the input: the model's parameters are left as they are."""
    module = model.module
    if not hookable(module):
        return None
    names = named_submodules(module, [layer])
    if not names:
        return None
    seen: dict[str, torch.Tensor] = {}

    def keep(_name: str, _module: nn.Module, _args: Any, output: Any) -> None:
        seen["out"] = output[0] if isinstance(output, (tuple, list)) else output
        raise StopForward

    x_in = tensor[None].to(module_device(module)).clone().requires_grad_(True)
    with torch.enable_grad(), layer_outputs(names, keep):
        try:
            module(x_in)
        except StopForward:
            pass
        out = seen.get("out")
        if out is None or not out.requires_grad:
            return None
        unit = out[0, channel, y, x] if out.dim() == 4 else out[0, channel]
        (grad,) = gradients(unit, [x_in])
    support = grad[0].abs().sum(0).cpu().numpy()
    rows, cols = np.nonzero(support > support.max() * 1e-6) if support.max() > 0 else ((), ())
    if len(rows) == 0:
        return None
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1


def top_images(model: LoadedModel, pictures: list[bytes], layer: str, channel: int,
               positions: list[tuple[int, int]], *, size: int = 160, colormap: str = "viridis") -> list[TopImage]:
    """Each picture as the unit at its maximum sees it: the model's input, the channel's map over it, cropped
    to the unit's receptive field (with a margin), the maximum's cell outlined."""
    tensors = [model.preprocess(load_image(data)) for data in pictures]
    maps = BatchRunner(model, [layer]).maps(torch.stack(tensors))[layer].float().cpu()
    shown = []
    for tensor, fmap, (y, x) in zip(tensors, maps, positions, strict=True):
        seen = model.input_image(tensor).convert("RGB")
        spatial = fmap.dim() == 3
        painted = overlay(seen, fmap if spatial else fmap[:, None, None], channel, opacity=0.45,
                          colormap=colormap) if spatial else seen
        box, found_by = _unit_view(model, tensor, layer, channel, y, x)
        if box is None:
            box, found_by = _scaled_box(seen.size, fmap.shape[-2:] if spatial else (1, 1), y, x), "estimate"
        cell = _cell(seen.size, fmap.shape[-2:], y, x) if spatial else None
        shown.append(TopImage(_crop(painted, box, cell, size), box, found_by))
    return shown


def _unit_view(model: LoadedModel, tensor: torch.Tensor, layer: str, channel: int, y: int, x: int
               ) -> tuple[Optional[tuple[int, int, int, int]], str]:
    """The unit's receptive field from the geometry, else from the gradient; (None, "") when neither works."""
    if hookable(model.module):
        try:
            field = layer_fields(model.module, tensor).get(layer)
        except Exception:  # noqa: BLE001 - a model featviz cannot follow is left to the gradient
            field = None
        if field is not None:
            return field.box(y, x, tensor.shape[-2], tensor.shape[-1]), "geometry"
    box = receptive_box(model, tensor, layer, channel, y, x)
    return (box, "gradient") if box is not None else (None, "")


def _scaled_box(image_size: tuple[int, int], map_size: tuple[int, int], y: int, x: int) -> tuple[int, int, int, int]:
    """Three map cells around (y, x), in input pixels: the estimate where no gradient can be had."""
    width, height = image_size
    rows, cols = map_size
    cell_w, cell_h = width / cols, height / rows
    return (max(0, int((x - 1) * cell_w)), max(0, int((y - 1) * cell_h)),
            min(width, int((x + 2) * cell_w)), min(height, int((y + 2) * cell_h)))


def _cell(image_size: tuple[int, int], map_size: tuple[int, int], y: int, x: int) -> tuple[int, int, int, int]:
    width, height = image_size
    rows, cols = map_size
    return (int(x * width / cols), int(y * height / rows), int((x + 1) * width / cols), int((y + 1) * height / rows))


def _crop(picture: Image.Image, box: tuple[int, int, int, int], cell: Optional[tuple[int, int, int, int]],
          size: int) -> Image.Image:
    """The box with a margin of a tenth of its size, square, scaled to ``size`` (nearest: pixels stay pixels),
    with the maximum's cell outlined."""
    left, top, right, bottom = box
    margin = max(1, (max(right - left, bottom - top)) // 10)
    side = max(right - left, bottom - top) + 2 * margin
    cx, cy = (left + right) / 2, (top + bottom) / 2
    width, height = picture.size
    side = min(side, max(width, height))
    x0 = int(min(max(cx - side / 2, 0), max(width - side, 0)))
    y0 = int(min(max(cy - side / 2, 0), max(height - side, 0)))
    region = (x0, y0, x0 + side, y0 + side)
    scale = size / side
    resample = Image.Resampling.NEAREST if scale >= 2 else Image.Resampling.BILINEAR
    shown = picture.crop(region).resize((size, size), resample)
    if cell is not None:  # outlined at the shown size, so a small cell stays an outline
        corners = [((cell[0] - x0) * scale, (cell[1] - y0) * scale), ((cell[2] - x0) * scale - 1,
                                                                     (cell[3] - y0) * scale - 1)]
        ImageDraw.Draw(shown).rectangle(corners, outline=(255, 64, 64), width=2)
    return shown
