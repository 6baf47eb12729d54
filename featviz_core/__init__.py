"""featviz_core: see what a convolutional network sees, without any UI.

>>> import featviz_core as fv
>>> model = fv.load_model("resnet18", weights=None)
>>> image = fv.load_sample("Cat (Chelsea)")          # or fv.load_image("photo.jpg")
>>> maps = fv.capture(model, image)                  # one forward pass, every layer
>>> fig = fv.channel_grid(maps["layer1.0.conv1"], normalize="per_channel", colormap="viridis")
"""

from .capture import Capture, FeatureMap, capture
from .colormaps import COLORMAPS, DIVERGING
from .errors import FeatvizError, ImageError, LayerError, ModelError, WeightsUnavailableError
from .grid import channel_grid, mosaic_layout
from .images import SUPPORTED_FORMATS, UPLOAD_EXTENSIONS, image_notes, load_image
from .layers import LayerEntry, default_layer, layer_tree
from .models import LoadedModel, best_device, list_zoo_models, load_model
from .normalize import NORMALIZATIONS, Normalized, normalize
from .samples import DEFAULT_SAMPLE, list_samples, load_sample, sample_bytes, sample_description
from .shapes import ChannelView, channel_view
from .weights import WeightsFile, WeightsState, download_weights, weights_file, weights_state

__all__ = [
    "COLORMAPS",
    "DEFAULT_SAMPLE",
    "DIVERGING",
    "NORMALIZATIONS",
    "SUPPORTED_FORMATS",
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
    "WeightsFile",
    "WeightsState",
    "WeightsUnavailableError",
    "best_device",
    "capture",
    "channel_grid",
    "channel_view",
    "default_layer",
    "download_weights",
    "image_notes",
    "layer_tree",
    "list_samples",
    "list_zoo_models",
    "load_image",
    "load_model",
    "load_sample",
    "mosaic_layout",
    "normalize",
    "sample_bytes",
    "sample_description",
    "weights_file",
    "weights_state",
]
