"""Pictures of captured layers: the channel grid (one image whatever the channel count, with the data a
browser needs to redraw it), close-ups, histograms, overlays, kernels, comparisons on one scale, and the
normalizations and colour maps they share."""

from ._channel_grid import channel_grid
from ._colormaps import COLORMAPS, DIVERGING
from ._compare import Difference, difference, difference_grid, shared_scale
from ._figures import depth_profile, prediction_chart
from ._grid import DISPLAY_WIDTH, PRESENTATION_WIDTH, is_vector
from ._grid_preview import grid_preview, palettes, preview_nbytes
from ._grid_settings import GridSettings
from ._inspect_layer import (
    channel_figure,
    channel_histogram,
    conv_module,
    kernel_figure,
    output_shape_explainer,
    overlay,
)
from ._normalize import DEFAULT_PERCENTILES, NORMALIZATIONS, normalize

__all__ = [
    "channel_grid",
    "GridSettings",
    "grid_preview",
    "preview_nbytes",
    "palettes",
    "is_vector",
    "DISPLAY_WIDTH",
    "PRESENTATION_WIDTH",
    "channel_figure",
    "channel_histogram",
    "overlay",
    "conv_module",
    "kernel_figure",
    "output_shape_explainer",
    "depth_profile",
    "prediction_chart",
    "shared_scale",
    "difference",
    "difference_grid",
    "Difference",
    "normalize",
    "NORMALIZATIONS",
    "DEFAULT_PERCENTILES",
    "COLORMAPS",
    "DIVERGING",
]
