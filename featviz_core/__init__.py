"""featviz_core: see what a convolutional network sees, without any UI.

>>> import featviz_core as fv
>>> model = fv.load_model("digits_cnn")               # bundled and trained; or e.g. "resnet18", weights=None
>>> image = fv.load_sample("Handwritten 7")          # or fv.load_image("photo.jpg")
>>> maps = fv.capture(model, image)                  # one forward pass, every layer
>>> fig = fv.channel_grid(maps["conv1"], normalize="per_channel", colormap="viridis")
>>> fv.predict(model, maps)[0]                       # ('7', 0.99...)
"""

from .allocator import release_free_memory, tune_allocator
from .cache import LRUCache, activation_cache, compact, figure_cache
from .capture import Capture, FeatureMap, capture
from .colormaps import COLORMAPS, DIVERGING
from .errors import FeatvizError, ImageError, LayerError, ModelError, WeightsUnavailableError
from .grid import channel_grid, mosaic_layout
from .images import SUPPORTED_FORMATS, UPLOAD_EXTENSIONS, image_notes, load_image
from .layers import LayerEntry, default_layer, layer_tree
from . import digits
from .export import (
    NPZ_MAX_BYTES,
    NPZ_WARN_BYTES,
    capture_npz,
    capture_npz_size,
    grid_png,
    layer_npy,
    review_report,
    stats_csv,
)
from .figures import depth_profile, prediction_chart
from .inspect_layer import (
    channel_figure,
    channel_histogram,
    channel_map,
    conv_module,
    kernel_figure,
    output_shape_explainer,
    overlay,
)
from .models import UNTRAINED_SEED, LoadedModel, available_models, best_device, list_zoo_models, load_model
from .predict import predict
from .normalize import NORMALIZATIONS, Normalized, normalize
from .samples import DEFAULT_SAMPLE, list_samples, load_sample, sample_bytes, sample_description
from .shapes import ChannelView, channel_view
from .stats import NOISE_THRESHOLD, STAT_COLUMNS, ChannelStats, LayerSummary, channel_stats, layer_summary
from .torchscript import load_torchscript, torchscript_allowed
from .uploads import StateDictReport, check_state_dict, load_with_state_dict, read_state_dict
from .weights import WeightsFile, WeightsState, download_weights, weights_file, weights_state

__all__ = [
    "tune_allocator",
    "release_free_memory",
    "figure_cache",
    "compact",
    "activation_cache",
    "LRUCache",
    "NPZ_WARN_BYTES",
    "NPZ_MAX_BYTES",
    "stats_csv",
    "review_report",
    "layer_npy",
    "grid_png",
    "capture_npz_size",
    "capture_npz",
    "overlay",
    "output_shape_explainer",
    "kernel_figure",
    "conv_module",
    "channel_map",
    "channel_histogram",
    "channel_figure",
    "depth_profile",
    "layer_summary",
    "channel_stats",
    "LayerSummary",
    "ChannelStats",
    "STAT_COLUMNS",
    "NOISE_THRESHOLD",
    "COLORMAPS",
    "DEFAULT_SAMPLE",
    "DIVERGING",
    "NORMALIZATIONS",
    "SUPPORTED_FORMATS",
    "UNTRAINED_SEED",
    "UPLOAD_EXTENSIONS",
    "Capture",
    "ChannelView",
    "FeatureMap",
    "FeatvizError",
    "ImageError",
    "LayerEntry",
    "LayerError",
    "LoadedModel",
    "ModelError",
    "Normalized",
    "StateDictReport",
    "WeightsFile",
    "WeightsState",
    "WeightsUnavailableError",
    "available_models",
    "best_device",
    "capture",
    "channel_grid",
    "channel_view",
    "check_state_dict",
    "default_layer",
    "digits",
    "download_weights",
    "image_notes",
    "layer_tree",
    "list_samples",
    "list_zoo_models",
    "load_image",
    "load_model",
    "load_sample",
    "load_torchscript",
    "load_with_state_dict",
    "mosaic_layout",
    "normalize",
    "predict",
    "prediction_chart",
    "read_state_dict",
    "sample_bytes",
    "sample_description",
    "torchscript_allowed",
    "weights_file",
    "weights_state",
]
