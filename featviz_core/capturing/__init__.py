"""Every layer of a model in one forward pass, exact, on a model other sessions may be running too.

:func:`capture` records through the one per-thread recording (:mod:`featviz_core.recording`), keeps outputs
by reference and copies one only before an in-place op would overwrite it; :func:`layer_tree` lists what it
captured for a layer picker.
"""

from ._capture import InputLike, Keep, KeepLater, ModelLike, capture
from ._layers import LayerEntry, default_layer, layer_name, layer_tree

__all__ = [
    "capture", "Keep", "KeepLater", "ModelLike", "InputLike", "layer_tree", "default_layer", "LayerEntry", "layer_name",
]
