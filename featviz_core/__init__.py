"""featviz_core: see what a convolutional network sees, without any UI.

Load a model, give it an image, capture every layer in one forward pass, and draw, measure or export any
layer::

    >>> import featviz_core as fv
    >>> model = fv.load_model("digits_cnn")               # bundled and trained; or e.g. "resnet18", weights=None
    >>> image = fv.load_sample("Handwritten 7")          # or fv.load_image("photo.jpg")
    >>> maps = fv.capture(model, image)                  # one forward pass, every layer
    >>> figure = fv.channel_grid(maps["conv1"], normalize="per_channel", colormap="viridis")
    >>> fv.predict(model, maps)[0][0]                    # the most likely class
    '7'

This namespace holds what a notebook needs; each name's docstring has a short example. The dashboard's
plumbing lives in rooms, each with its public names in its ``__init__``: :mod:`featviz_core.models`,
:mod:`featviz_core.capturing`, :mod:`featviz_core.activations` (what flows between rooms), :mod:`featviz_core.draw`,
:mod:`featviz_core.analysis`, :mod:`featviz_core.scan` and :mod:`featviz_core.recording`; their ``_modules`` are
internal. Deployment settings are :mod:`featviz_core.settings`; the dashboard's caches :mod:`featviz_core.cache`.
"""

from .activations import Capture, FeatureMap
from .analysis import channel_stats, layer_summary, predict
from .capturing import capture, default_layer, layer_tree
from .draw import (
    GridSettings,
    channel_figure,
    channel_grid,
    channel_histogram,
    conv_module,
    depth_profile,
    kernel_figure,
    output_shape_explainer,
    overlay,
)
from .errors import FeatvizError, ImageError, LayerError, ModelError, WeightsUnavailableError
from .export import capture_npz, grid_png, grid_pngs, layer_npy, review_report, stats_csv
from .images import load_image
from .models import (
    LoadedModel,
    available_models,
    load_keras,
    load_model,
    load_onnx,
    load_torchscript,
    load_with_state_dict,
    read_labels,
    register_model,
)
from .samples import list_samples, load_sample

__all__ = [
    # models
    "load_model",
    "available_models",
    "load_with_state_dict",
    "load_keras",
    "load_onnx",
    "read_labels",
    "register_model",
    "load_torchscript",
    "LoadedModel",
    # images
    "load_image",
    "load_sample",
    "list_samples",
    # capture
    "capture",
    "Capture",
    "FeatureMap",
    "layer_tree",
    "default_layer",
    # draw
    "channel_grid",
    "GridSettings",
    "channel_figure",
    "channel_histogram",
    "overlay",
    "conv_module",
    "kernel_figure",
    "output_shape_explainer",
    "depth_profile",
    # measure
    "channel_stats",
    "layer_summary",
    "predict",
    # export
    "grid_png",
    "grid_pngs",
    "layer_npy",
    "capture_npz",
    "stats_csv",
    "review_report",
    # errors
    "FeatvizError",
    "ImageError",
    "ModelError",
    "LayerError",
    "WeightsUnavailableError",
]
