"""One channel up close, the layer's own filters, and how its output shape follows from its parameters."""

from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ..activations._records import FeatureMap
from ..activations._shapes import view_of
from ..models._load import LoadedModel
from ._channel_grid import channel_grid
from ._colormaps import DIVERGING, lookup_table, plotly_colorscale
from ._grid import DISPLAY_WIDTH, _label_trace, mosaic_layout, tile


def channel_map(fmap: Union[FeatureMap, torch.Tensor], channel: int) -> torch.Tensor:
    """One channel's 2-D map (after the same reshaping as the grid)."""
    maps = view_of(fmap).maps
    if not 0 <= channel < maps.shape[0]:
        raise ValueError(f"Channel {channel} does not exist; this layer has channels 0…{maps.shape[0] - 1}.")
    return maps[channel]


def channel_figure(fmap: Union[FeatureMap, torch.Tensor], channel: int, colormap: str = "viridis") -> go.Figure:
    """A large heatmap of one channel with its exact values on hover and a colour bar in raw units.

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> figure = fv.channel_figure(maps["conv1"], 5)     # channel 5, exact values on hover
    """
    values = channel_map(fmap, channel).numpy()
    name = f"{fmap.name} · " if isinstance(fmap, FeatureMap) else ""
    figure = go.Figure(
        go.Heatmap(
            z=values.astype(np.float32), colorscale=plotly_colorscale(colormap),
            hovertemplate="y %{y}, x %{x}<br>value %{z:.5g}<extra></extra>",
            colorbar=dict(title=dict(text="activation", side="right"), thickness=12),
        )
    )
    figure.update_layout(
        title=dict(text=f"{name}channel {channel} · {values.shape[0]}×{values.shape[1]}", font=dict(size=14)),
        yaxis=dict(autorange="reversed", scaleanchor="x", constrain="domain", visible=False),
        xaxis=dict(constrain="domain", visible=False), margin=dict(l=4, r=4, t=40, b=4), height=420,
        meta={"featviz": {"channel": channel}},
    )
    return figure


def channel_histogram(fmap: Union[FeatureMap, torch.Tensor], channel: int, bins: int = 50) -> go.Figure:
    """How the channel's values are distributed (a spike at zero is what ReLU's sparsity looks like).

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> figure = fv.channel_histogram(maps["relu1"], 5)
    """
    values = channel_map(fmap, channel).reshape(-1).numpy()
    figure = go.Figure(go.Histogram(x=values, nbinsx=bins, marker=dict(color="#4c78a8"),
                                    hovertemplate="%{x}: %{y} values<extra></extra>"))
    figure.update_layout(
        title=dict(text=f"Values of channel {channel}", font=dict(size=13)), height=240,
        margin=dict(l=4, r=4, t=32, b=4), bargap=0.02, xaxis_title="activation", yaxis_title="count",
    )
    return figure


def overlay(image: Image.Image, fmap: Union[FeatureMap, torch.Tensor], channel: int, *, opacity: float = 0.5,
            colormap: str = "viridis") -> Image.Image:
    """The channel's map upsampled (bilinear) to ``image``'s size, colour-mapped and blended over it.

    Pass the model input image (what the model saw, e.g. :meth:`LoadedModel.input_image`), so map and
    picture are aligned after cropping.

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> seen = model.input_image(maps.input)                 # the 28×28 picture the model saw
        >>> fv.overlay(seen.resize((224, 224)), maps["conv1"], 5, opacity=0.6).size
        (224, 224)
    """
    if not 0.0 <= opacity <= 1.0:
        raise ValueError("opacity must be between 0 and 1")
    values = channel_map(fmap, channel).float()
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else torch.zeros_like(values)
    width, height = image.size
    upsampled = F.interpolate(scaled[None, None], size=(height, width), mode="bilinear", align_corners=False)[0, 0]
    table = lookup_table(colormap)
    index = (upsampled.clamp(0, 1) * (len(table) - 1)).round().to(torch.long).numpy()
    heat = Image.fromarray(table[index], mode="RGB")
    return Image.blend(image.convert("RGB"), heat, opacity)


def conv_module(model: Union[LoadedModel, nn.Module], layer: str) -> Optional[nn.Module]:
    """The convolution behind a layer name (``name#2`` means the same module), or None if it is not one.

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> fv.conv_module(model, "conv2")
        Conv2d(32, 64, kernel_size=(3, 3), stride=(1, 1))
        >>> fv.conv_module(model, "relu2") is None
        True
    """
    module = model.module if isinstance(model, LoadedModel) else model
    found = dict(module.named_modules()).get(layer.split("#", 1)[0])
    weight = getattr(found, "weight", None)
    kind = getattr(found, "original_name", type(found).__name__)
    if found is None or not isinstance(weight, torch.Tensor) or weight.dim() < 3 or "Conv" not in kind:
        return None
    return found


def kernel_figure(conv: nn.Module, out_channel: Optional[int] = None, rgb_input: bool = False) -> go.Figure:
    """The layer's filters.

    A first layer on RGB input shows each filter as one colour image (the colours it responds to); a layer
    with one input channel shows all its filters; otherwise the filter of ``out_channel`` (default 0) is
    shown per input channel. Weights use a symmetric, diverging scale where white is zero.

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> figure = fv.kernel_figure(fv.conv_module(model, "conv1"))    # all 32 3×3 filters
    """
    weight = conv.weight.detach().to("cpu", torch.float32)
    if weight.dim() != 4:
        weight = weight.reshape(weight.shape[0], weight.shape[1], weight.shape[-2] if weight.dim() > 3 else 1, -1)
    if rgb_input and weight.shape[1] == 3 and out_channel is None:
        return _rgb_kernels(weight)
    if weight.shape[1] == 1:  # one input channel: every filter is a single map, so show them all
        return channel_grid(
            weight[:, 0], normalize="symmetric", colormap=DIVERGING,
            title=f"All {weight.shape[0]} filters ({weight.shape[2]}×{weight.shape[3]}, one input channel; white = 0)",
            value_name="weight",
        )
    out_channel = 0 if out_channel is None else out_channel
    if not 0 <= out_channel < weight.shape[0]:
        raise ValueError(f"Output channel {out_channel} does not exist; the layer has {weight.shape[0]}.")
    per_input = weight[out_channel]
    figure = channel_grid(
        per_input, normalize="symmetric", colormap=DIVERGING,
        title=f"Filter of output channel {out_channel}: {per_input.shape[0]} input channels of "
        f"{per_input.shape[1]}×{per_input.shape[2]}",
        value_name="weight",
    )
    return figure


def _rgb_kernels(weight: torch.Tensor) -> go.Figure:
    """Every filter as an RGB image: weights scaled symmetrically so grey is zero."""
    bound = float(weight.abs().max()) or 1.0
    rgb = ((weight / bound) * 0.5 + 0.5).clamp(0, 1)  # (C_out, 3, k, k)
    c, _, k, _ = rgb.shape
    layout = mosaic_layout(c, k, k, DISPLAY_WIDTH // 2)
    channels = [tile((rgb[:, i].numpy() * 255).round().astype(np.uint8), layout, 255) for i in range(3)]
    mosaic = np.stack(channels, axis=-1)
    figure = go.Figure(go.Image(z=mosaic, hovertemplate="filter pixel y %{y}, x %{x}<extra></extra>"))
    figure.add_trace(_label_trace(layout, list(range(c)), DISPLAY_WIDTH // 2))
    figure.update_layout(
        title=dict(text=f"All {c} filters as colour images ({k}×{k}; grey = 0, ±{bound:.3g})", font=dict(size=14)),
        xaxis=dict(visible=False), yaxis=dict(visible=False, scaleanchor="x"), margin=dict(l=4, r=4, t=40, b=4),
        height=int(min(max(DISPLAY_WIDTH // 2 * layout.mosaic_height / layout.mosaic_width + 50, 200), 900)),
        showlegend=False,
    )
    return figure


def conv_output_size(size: int, kernel: int, padding: int = 0, stride: int = 1, dilation: int = 1) -> int:
    """⌊(W + 2P − D·(K − 1) − 1)/S⌋ + 1, which is (W − K + 2P)/S + 1 for D = 1; 0 when the kernel does not fit."""
    return max(0, math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1)


def output_shape_explainer(conv: nn.Module, input_shape: Optional[tuple[int, ...]]) -> list[str]:
    """Each spatial output size worked out from the layer's own parameters, e.g.
    ``out = ⌊(64 − 3 + 2·1)/1⌋ + 1 = 64``; with dilation and groups when they are not 1.

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> fv.output_shape_explainer(fv.conv_module(model, "conv1"), maps["conv1"].input_shape)[0]
        'height: out = ⌊(28 − 3 + 2·0)/1⌋ + 1 = 26'
    """
    if input_shape is None or len(input_shape) < 2:
        return []
    kernel = _pair(getattr(conv, "kernel_size", None), len(input_shape) - 1)
    stride = _pair(getattr(conv, "stride", 1), len(kernel))
    padding = getattr(conv, "padding", 0)
    if isinstance(padding, str):
        return [f"padding='{padding}': the output keeps the input's size where stride is 1."]
    padding = _pair(padding, len(kernel))
    dilation = _pair(getattr(conv, "dilation", 1), len(kernel))
    sizes = input_shape[-len(kernel):]
    lines = []
    axes = ("height", "width", "depth")[: len(kernel)]
    for axis, n, k, s, p, d in zip(axes, sizes, kernel, stride, padding, dilation, strict=False):
        out = conv_output_size(n, k, p, s, d)
        if d == 1:
            lines.append(f"{axis}: out = ⌊({n} − {k} + 2·{p})/{s}⌋ + 1 = {out}")
        else:
            lines.append(f"{axis}: out = ⌊({n} + 2·{p} − {d}·({k} − 1) − 1)/{s}⌋ + 1 = {out}  (dilation {d})")
    channels_in = getattr(conv, "in_channels", None)
    channels_out = getattr(conv, "out_channels", None)
    groups = getattr(conv, "groups", 1)
    if channels_out is not None:
        line = f"channels: {channels_out} filters → {channels_out} output channels"
        if groups and groups > 1:
            line += f"; groups = {groups}: each filter sees {channels_in // groups} of the {channels_in} input channels"
        lines.append(line)
    return lines


def _pair(value, n: int) -> tuple[int, ...]:
    if isinstance(value, (tuple, list)):
        return tuple(int(v) for v in value)
    return (int(value),) * n
