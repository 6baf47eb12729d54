"""TorchScript models people upload: read the archive, guess its input, give it a generic preprocessing.

How their layers are captured is :mod:`featviz_core.models._torchscript_recording`'s job. A TorchScript archive is a
program: loading it runs code from the file. Deployments shared by people who do not trust each other turn
uploads of it off with ``FEATVIZ_ALLOW_TORCHSCRIPT=0`` (:mod:`featviz_core.settings`).
"""

from __future__ import annotations

import io
import warnings
from typing import Optional

import torch

from .. import settings
from ..errors import ModelError
from ._load import LoadedModel, best_device
from ._preprocess import GenericPreprocess
from ._state_dict import PT2_REFUSAL, check_size, is_export_archive, is_keras_archive, is_onnx_bytes, is_torch_save
from ._torchscript_recording import instrument

DEPRECATION_NOTICE = (
    "TorchScript is deprecated in this version of torch: this model still works here, but a later torch may not "
    "load it. Export it to ONNX (`torch.onnx.export`) and use *Your own model (ONNX)* to keep it viewable."
)
"""Said beside a TorchScript model when torch warns that TorchScript is deprecated (its own words kept in
``extra["deprecation"]``)."""


def infer_channels(module: torch.nn.Module) -> Optional[int]:
    """Input channels of the first 4-D (convolution) weight, if there is one."""
    for tensor in module.parameters():
        if tensor.dim() == 4:
            return int(tensor.shape[1])
    return None


def load_torchscript(
    data: bytes,
    filename: str,
    *,
    input_size: Optional[int] = None,
    channels: Optional[int] = None,
    device: Optional[torch.device] = None,
) -> LoadedModel:
    """Load an uploaded TorchScript archive, instrumented for capture, with a generic preprocessing.

    Input channels are read from the first convolution unless given; the input size defaults to 224 for
    colour and 28 for grayscale models and can be set. Raises :class:`ModelError` for anything else.

    Example::

        >>> import featviz_core as fv
        >>> import io, torch
        >>> buffer = io.BytesIO()
        >>> torch.jit.save(torch.jit.script(fv.load_model("digits_cnn").module.cpu()), buffer)
        >>> model = fv.load_torchscript(buffer.getvalue(), "digits.pt")      # channels and size read from it
        >>> model.extra["input_size"], model.extra["channels"]
        (28, 1)
    """
    if not settings.current().allow_torchscript:
        raise ModelError(
            "This server does not accept TorchScript uploads (FEATVIZ_ALLOW_TORCHSCRIPT=0): a TorchScript file is a "
            "program and runs on the server. Upload a state dict for one of the listed architectures instead."
        )
    check_size(data, filename)
    if is_export_archive(data) or filename.lower().endswith(".pt2"):
        raise ModelError(f"{filename} {PT2_REFUSAL}")
    try:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always", FutureWarning)
            module = torch.jit.load(io.BytesIO(data), map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - any failure to read the archive is the user's file
        raise _not_torchscript(data, filename, exc) from None
    deprecated = [str(w.message) for w in said if issubclass(w.category, FutureWarning)]
    module.eval()
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    instrument(module)
    module.to(device or best_device())
    channels = channels or infer_channels(module) or 3
    size = input_size or (28 if channels == 1 else 224)
    if channels == 3:
        mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    else:
        mean, std = (0.5,) * channels, (0.5,) * channels
    return LoadedModel(
        name=f"TorchScript: {filename}",
        module=module,
        preprocess=GenericPreprocess(size, channels, mean, std),
        weights=f"from {filename}",
        mean=mean,
        std=std,
        num_params=sum(p.numel() for p in module.parameters()),
        source="torchscript",
        extra={"input_size": size, "channels": channels,
               **({"notice": DEPRECATION_NOTICE, "deprecation": deprecated[0]} if deprecated else {})},
    )


def _not_torchscript(data: bytes, filename: str, exc: BaseException) -> ModelError:
    """Say what the file is instead, when that can be told, and how to make one that loads."""
    if is_keras_archive(data) or filename.lower().endswith((".keras", ".h5")):
        return ModelError(
            f"{filename} is a Keras model, not a TorchScript one: choose *Your own model (Keras)* in the Model list "
            "(fv.load_keras in Python) and upload it there.",
            detail=exc,
        )
    if is_onnx_bytes(data):
        return ModelError(
            f"{filename} is an ONNX model, not a TorchScript one: choose *Your own model (ONNX)* in the Model list "
            "(fv.load_onnx in Python) and upload it there.",
            detail=exc,
        )
    if is_torch_save(data):
        return ModelError(
            f"{filename} looks like weights saved with torch.save (a state dict or pickled model), not a TorchScript "
            "model. Choose its architecture in the Model list and upload it as a weights file, or export the "
            "model with `torch.jit.save(torch.jit.script(model), 'model.pt')`.",
            detail=exc,
        )
    return ModelError(
        f"{filename} is not a TorchScript model featviz can load: it is damaged, or was not saved with "
        "torch.jit.save. Export it with `torch.jit.save(torch.jit.script(model), 'model.pt')` and upload that.",
        detail=exc,
    )
