"""The one entry point for drawing a layer's channels: a grid of maps, or bars where each channel is one value.

Why its own module: the mosaic (:mod:`._grid`) and the bar chart (:mod:`._vector_figure`) share the grid's
preparation, text sizes and colour bar; this module chooses between them, so neither imports the other's
figure.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np
import plotly.graph_objects as go
import torch

from ..activations._records import FeatureMap
from ._grid import DISPLAY_WIDTH, default_title, mosaic_figure, prepare_grid
from ._grid_settings import GridSettings
from ._vector_figure import vector_figure


def channel_grid(
    fmap: Union[FeatureMap, torch.Tensor, np.ndarray],
    settings: Optional[GridSettings] = None,
    *,
    title: Optional[str] = None,
    subtitle: Optional[str] = None,
    display_width: int = DISPLAY_WIDTH,
    value_name: str = "activation",
    **options: Any,
) -> go.Figure:
    """All channels of one layer as a tiled heatmap figure with hover, channel numbers and a colour bar.

    ``fmap`` is a captured :class:`FeatureMap` or a tensor of one sample (any shape: see
    :func:`~featviz_core.channel_view`). How it is drawn is a :class:`GridSettings`, or its fields given as
    keywords (``normalize="per_layer"``, ``colormap="magma"``, ``order=[5, 0, 3]``, ``large_text=True``,
    ...). ``subtitle`` goes under the title (the UI names the model and weights there); ``value_name``
    titles the colour bar. ``display_width`` is the mosaic's width on screen: no tile is laid out smaller
    than :data:`MIN_TILE_PX` at it. A layer of single values is drawn as a bar chart on one shared scale.
    ``figure.layout.meta["featviz"]`` records what was drawn.

    Example::

        >>> import featviz_core as fv
        >>> maps = fv.capture(fv.load_model("digits_cnn"), fv.load_sample("Handwritten 7"))
        >>> figure = fv.channel_grid(maps["conv1"], normalize="per_layer", colormap="magma")
        >>> figure.layout.meta["featviz"]["channels_shown"]
        32
        >>> fv.channel_grid(maps["fc2"]).layout.meta["featviz"]["drawn_as"]     # 10 logits: a bar chart
        'bars'
    """
    settings = GridSettings.of(settings, **options)
    prepared = prepare_grid(fmap, settings)
    heading = title or default_title(fmap, prepared.view, len(prepared.shown))
    if prepared.vector:
        return vector_figure(prepared, settings, heading=heading, subtitle=subtitle, display_width=display_width,
                             value_name=value_name)
    return mosaic_figure(prepared, settings, heading=heading, subtitle=subtitle, display_width=display_width,
                         value_name=value_name)
