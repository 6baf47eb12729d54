"""Keras 3 models (``.keras``, legacy ``.h5``), run on Keras' torch backend, every layer captured in one call.

Keras layers are torch modules on that backend, but they are not registered as the model's submodules, so
torch's hooks see none of them. Instead featviz does what Keras documents for looking inside a model: it
builds one functional model from the model's input to every layer's output and calls it once. Keras lays
images out channels last (N, H, W, C); those maps are turned around to (C, H, W) like every other map.

Files are loaded in Keras' safe mode: a ``Lambda`` layer's Python code or a custom class would run on the
server, so a model that needs either is refused with a message that says what to do.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from ..errors import ModelError
from ..recording._runtime import RecordedModule, register_runtime
from ._load import LoadedModel
from ._preprocess import GenericPreprocess
from ._state_dict import check_size

KERAS_EXTENSIONS = (".keras", ".h5", ".hdf5")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
_CUSTOM = re.compile(r"(?:Could not locate class|Unknown layer:?) '?([\w>.]+)'?")



def _keras():
    """Keras on its torch backend, which must be chosen before Keras is first imported."""
    if "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    if keras.backend.backend() != "torch":
        raise ModelError(
            f"Keras runs here on its torch backend, but this process started Keras with {keras.backend.backend()!r}. "
            "Start featviz with KERAS_BACKEND=torch."
        )
    return keras


class KerasModule(RecordedModule):
    """A Keras model behind a torch module's interface: ``forward`` takes an NCHW batch and returns the
    model's first output, and records every layer's output, channels first, when captured."""

    def __init__(self, model: Any, filename: str) -> None:
        super().__init__()
        keras = _keras()
        self.filename = filename
        # kept outside torch's module tree: Keras' own torch modules are no layers, and are captured as Keras layers
        self.__dict__["keras_model"] = model
        self.layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
        if not self.layers:
            raise ModelError(f"{filename} has no layers to show (only its input).")
        self.channels_last = all(getattr(layer, "data_format", "channels_last") != "channels_first"
                                 for layer in self.layers)
        self.layer_types = {layer.name: type(layer).__name__ for layer in self.layers}
        self.notes = {layer.name: _activation_note(layer) for layer in self.layers}
        self._input_shapes = {layer.name: self._symbolic_shape(layer) for layer in self.layers}
        try:
            self.__dict__["_everything"] = keras.Model(model.inputs, [layer.output for layer in self.layers])
        except (AttributeError, ValueError, TypeError) as exc:
            raise ModelError(
                f"featviz cannot reach the layers of {filename}: a subclassed Keras model has no graph of layers "
                "to read. Build it with Sequential or the functional API, or export it to ONNX.",
                detail=exc,
            ) from None
        self._final = len(self.layers) - 1 if model.outputs[0] is self.layers[-1].output else None

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch.detach().to("cpu", torch.float32)
        if self.channels_last:
            x = x.permute(0, 2, 3, 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Keras: "the structure of `inputs` doesn't match"
            outputs = self._everything(x.contiguous(), training=False)
        outputs = [_first(output) for output in outputs]
        if self.recording_now():
            for layer, output in zip(self.layers, outputs, strict=True):
                name = layer.name
                self.record(name, self._channels_first(output), self.notes[name], self._input_shapes[name])
        if self._final is not None:
            return self._channels_first(outputs[self._final])
        final = self.keras_model(x.contiguous(), training=False)
        return self._channels_first(_first(final))

    def _symbolic_shape(self, layer: Any) -> Optional[tuple[int, ...]]:
        """A layer's input shape, batch removed and channels first, from the model's graph."""
        shape = getattr(_first(layer.input), "shape", None)
        if shape is None or any(size is None for size in shape[1:]):
            return None
        shape = tuple(int(size) for size in shape[1:])
        return (shape[-1], *shape[:-1]) if len(shape) == 3 and self.channels_last else shape

    def _channels_first(self, output: Any) -> torch.Tensor:
        tensor = torch.as_tensor(np.asarray(output.detach().cpu() if torch.is_tensor(output) else output),
                                 dtype=torch.float32)
        if tensor.dim() == 4 and self.channels_last:
            tensor = tensor.permute(0, 3, 1, 2)
        return tensor.contiguous()


def is_keras_model(model: Any) -> bool:
    """A Keras model object (``keras.Model``), without importing Keras where nobody has."""
    keras = sys.modules.get("keras")
    return keras is not None and isinstance(model, keras.Model)


register_runtime("keras", wrapper=lambda model: KerasModule(model, model.name) if is_keras_model(model) else None)


def is_keras_file(filename: str) -> bool:
    return filename.lower().endswith(KERAS_EXTENSIONS)


def load_keras(
    data: bytes,
    filename: str,
    *,
    mean: Optional[Sequence[float]] = None,
    std: Optional[Sequence[float]] = None,
    invert: bool = False,
    categories: Sequence[str] = (),
) -> LoadedModel:
    """Load a Keras 3 model (``.keras`` or legacy ``.h5``) in safe mode, with a preprocessing read from its input.

    The input's size and channels come from the model; values are scaled to 0–1 (``Rescaling`` layers inside
    the model do the rest), or normalized with ``mean`` and ``std`` when given; ``invert`` turns dark ink on
    light paper into MNIST's light on dark. Raises :class:`ModelError` for a file Keras cannot load, or one
    that needs code to load (a ``Lambda`` layer, a custom class).

    Example::

        >>> import os, tempfile, featviz_core as fv
        >>> from featviz_core.models._keras import lesson_model
        >>> path = os.path.join(tempfile.mkdtemp(), "lesson.keras")
        >>> lesson_model().save(path)
        >>> model = fv.load_keras(open(path, "rb").read(), "lesson.keras")
        >>> model.extra["input_size"], model.extra["channels"], model.extra["layout"]
        ((28, 28), 1, 'NHWC')
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> [(name, maps[name].module_type, maps[name].shape) for name in list(maps)[:2]]
        [('conv2d', 'Conv2D', (32, 26, 26)), ('max_pooling2d', 'MaxPooling2D', (32, 13, 13))]
    """
    check_size(data, filename)
    module = KerasModule(_read(data, filename), filename)
    shape = tuple(module.keras_model.inputs[0].shape)
    if len(shape) != 4:
        raise ModelError(f"{filename} takes inputs of shape {shape}; featviz needs images (N, H, W, C).")
    height, width, channels = (shape[1], shape[2], shape[3]) if module.channels_last else (shape[2], shape[3], shape[1])
    if channels not in (1, 3) or height is None or width is None:
        raise ModelError(f"{filename} takes {height}×{width}×{channels} inputs; featviz needs a fixed size and 1 or 3 "
                         "channels.")
    mean = tuple(mean) if mean else (0.0,) * channels
    std = tuple(std) if std else (1.0,) * channels
    if len(mean) != channels or len(std) != channels or not all(s > 0 for s in std):
        raise ModelError(f"{filename} takes {channels} channel(s): give one mean and one positive std per channel.")
    return LoadedModel(
        name=f"Keras: {filename}",
        module=module,
        preprocess=GenericPreprocess((height, width), channels, mean, std, invert),
        weights=f"from {filename}",
        categories=tuple(categories),
        mean=mean,
        std=std,
        num_params=int(module.keras_model.count_params()),
        source="keras",
        extra={"input_size": (height, width), "channels": channels, "layout": "NHWC" if module.channels_last else
               "NCHW", "invert": invert},
    )


def lesson_model():
    """The classic lesson's network, untrained: Conv2D(32, 3) → pool → Conv2D(64, 3) → pool → Dense(64) →
    Dense(10), on 28×28 grayscale (for examples and tests; featviz itself ships no Keras model)."""
    keras = _keras()
    layers = keras.layers
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # Keras prefers Input(shape) to the lesson's input_shape=
        return _lesson_layers(keras, layers)


def _lesson_layers(keras: Any, layers: Any) -> Any:
    return keras.Sequential([  # named as Keras names them in a fresh process, so they are the same in every one
        layers.Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1), name="conv2d"),
        layers.MaxPooling2D(2, name="max_pooling2d"),
        layers.Conv2D(64, 3, activation="relu", name="conv2d_1"),
        layers.MaxPooling2D(2, name="max_pooling2d_1"),
        layers.Flatten(name="flatten"),
        layers.Dense(64, activation="relu", name="dense"),
        layers.Dense(10, activation="softmax", name="dense_1"),
    ])


def _read(data: bytes, filename: str) -> Any:
    """The Keras model in ``data``, loaded from a private temporary file (Keras reads paths) in safe mode."""
    keras = _keras()
    suffix = Path(filename).suffix.lower()
    if suffix not in KERAS_EXTENSIONS:
        raise ModelError(f"{filename} is not a Keras file: give a .keras file (model.save('model.keras')) or .h5.")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"model{suffix}"
        path.write_bytes(data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as exc:  # noqa: BLE001 - Keras raises ValueError, TypeError, OSError, zip and h5 errors
            raise _unloadable(filename, exc) from None


def _unloadable(filename: str, exc: BaseException) -> ModelError:
    text = str(exc)
    if "Lambda" in text:
        return ModelError(
            f"{filename} has a Lambda layer: its Python code would run on this server, so featviz loads Keras models "
            "in safe mode and refuses it. Replace the Lambda with a built-in layer, or export the model to ONNX "
            "(tf2onnx) and upload that.",
            detail=exc,
        )
    custom = _CUSTOM.search(text) or _CUSTOM.search(repr(getattr(exc, "__context__", "")))
    if custom or "could not be deserialized" in text:
        name = f" ({custom.group(1)})" if custom else ""
        return ModelError(
            f"{filename} needs custom objects{name}: classes defined in your own code, which featviz does not run. "
            "Export the model to ONNX (tf2onnx) and upload that, or have the server's owner register the "
            "architecture.",
            detail=exc,
        )
    return ModelError(
        f"{filename} is not a Keras model featviz can load: it is damaged, or was not saved with model.save(). "
        "Save it with model.save('model.keras') and upload that.",
        detail=exc,
    )


def _first(output: Any) -> Any:
    return output[0] if isinstance(output, (list, tuple)) else output


def _activation_note(layer: Any) -> str:
    """Keras fuses an activation into a layer (``Conv2D(..., activation="relu")``): its output is after it."""
    activation = getattr(getattr(layer, "activation", None), "__name__", "linear")
    return "" if activation == "linear" else f"output after the layer's own {activation} activation"
