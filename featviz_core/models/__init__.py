"""Models and where they come from: torchvision's zoo, timm, the bundled digits CNN, a team's registered
models, uploaded weights, and models of other runtimes (ONNX, Keras, TorchScript) behind a torch module that
records its own layers (:mod:`featviz_core.recording`).

Every loader returns a :class:`LoadedModel`: the module, its preprocessing, its class names and where its
weights came from. Weights are read as plain tensors; a file that would run code when read is refused.
"""

from ._digits import metadata as digits_metadata
from ._keras import load_keras
from ._labels import read_labels
from ._load import (
    BUNDLED_WEIGHTS,
    UNTRAINED_SEED,
    LoadedModel,
    available_models,
    best_device,
    list_zoo_models,
    load_model,
    module_device,
)
from ._onnx import load_onnx
from ._registry import register_model, registered_models, registry_problem
from ._torchscript import load_torchscript
from ._uploads import load_with_state_dict
from ._weights import WeightsFile, WeightsState, download_weights, weights_file, weights_state

__all__ = [
    "LoadedModel",
    "load_model",
    "available_models",
    "list_zoo_models",
    "load_with_state_dict",
    "load_keras",
    "load_onnx",
    "load_torchscript",
    "read_labels",
    "register_model",
    "registered_models",
    "registry_problem",
    "best_device",
    "module_device",
    "BUNDLED_WEIGHTS",
    "UNTRAINED_SEED",
    "digits_metadata",
    "WeightsFile",
    "WeightsState",
    "weights_file",
    "weights_state",
    "download_weights",
]
