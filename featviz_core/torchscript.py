"""TorchScript models people upload, with every submodule's output captured.

Python forward hooks cannot be registered on ScriptModules, and a scripted parent calls its children
inside the TorchScript interpreter where Python never sees them. So each submodule's compiled ``forward``
graph gets one extra node before it returns: ``featviz::record(name, output)``, an operator whose kernel
is Python. It copies the output into the recording of the calling thread (if that thread is capturing)
and passes the tensor through unchanged, so the model computes exactly what it did before.

A TorchScript archive is a program: loading it runs code from the file. Deployments shared by people who
do not trust each other turn uploads of it off with ``FEATVIZ_ALLOW_TORCHSCRIPT=0``.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import torch
from PIL import Image
from torchvision.transforms import v2

from .errors import ModelError, short_message
from .models import LoadedModel, best_device
from .uploads import check_size

ALLOW_ENV = "FEATVIZ_ALLOW_TORCHSCRIPT"
_NAME_ATTRIBUTE = "__featviz_name"
_MARK_ATTRIBUTE = "__featviz_instrumented"

_local = threading.local()


def _record(name: str, tensor: torch.Tensor) -> torch.Tensor:
    # Looked up through sys.modules, not this module's globals: after Streamlit reloads featviz_core the
    # operator registered by the first import must reach the current module's recordings.
    sink = getattr(sys.modules[__name__]._local, "sink", None)
    if sink is not None:
        sink.append((name, (tensor.detach().clone(), "", None)))  # (copy, note, input shape): as the hooks record
    return tensor


def _register_operator() -> None:
    """Define featviz::record once per process (a second definition raises, e.g. on a module reload)."""
    if hasattr(torch.ops.featviz, "record"):
        return
    library = torch.library.Library("featviz", "DEF")
    library.define("record(str name, Tensor(a) t) -> Tensor(a)")
    library.impl("record", _record, "CompositeExplicitAutograd")
    _LIBRARIES.append(library)  # the registration lives as long as this object


_LIBRARIES: list = getattr(torch.library, "_featviz_libraries", [])
torch.library._featviz_libraries = _LIBRARIES  # kept on a module that is never reloaded
_register_operator()


def torchscript_allowed() -> bool:
    """Whether this server accepts TorchScript uploads (``FEATVIZ_ALLOW_TORCHSCRIPT``, default on)."""
    return os.environ.get(ALLOW_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


@contextmanager
def recording(sink: list) -> Iterator[None]:
    """Collect ``(module name, output copy)`` from instrumented TorchScript run on this thread."""
    previous = getattr(_local, "sink", None)
    _local.sink = sink
    try:
        yield
    finally:
        _local.sink = previous


def is_scripted(module: Any) -> bool:
    return isinstance(module, torch.jit.ScriptModule)


def module_types(module: torch.jit.ScriptModule) -> dict[str, str]:
    """Submodule name -> the Python class it was scripted from."""
    return {name: getattr(sub, "original_name", type(sub).__name__) for name, sub in module.named_modules()}


def instrument(root: torch.jit.ScriptModule) -> torch.jit.ScriptModule:
    """Add the recording node to every submodule type's forward graph, once per loaded model."""
    if root._c.hasattr(_MARK_ATTRIBUTE):
        return root
    string = torch._C.StringType.get()
    done: set[str] = set()
    for name, sub in root.named_modules():
        if not name:
            continue
        c = sub._c
        if c.hasattr(_NAME_ATTRIBUTE):
            c.setattr(_NAME_ATTRIBUTE, name)
        else:
            c._register_attribute(_NAME_ATTRIBUTE, string, name)
        type_name = str(c._type())
        if type_name in done or not c._has_method("forward"):
            continue
        done.add(type_name)  # instances of one type share one compiled graph
        graph = c._get_method("forward").graph
        ret = graph.return_node()
        outputs = list(ret.inputs())
        if len(outputs) != 1 or not outputs[0].type().isSubtypeOf(torch._C.TensorType.get()):
            continue  # tuples and other outputs: not recorded
        value = outputs[0]
        get_name = graph.create("prim::GetAttr", [next(iter(graph.inputs()))])
        get_name.s_("name", _NAME_ATTRIBUTE)
        get_name.output().setType(string)
        get_name.insertBefore(ret)
        record = graph.create("featviz::record", [get_name.output(), value], 1)
        record.output().setType(value.type())
        record.insertBefore(ret)
        ret.replaceInputWith(value, record.output())
    root._c._register_attribute(_MARK_ATTRIBUTE, torch._C.BoolType.get(), True)
    return root


@dataclass(frozen=True)
class GenericPreprocess:
    """Resize the short side, centre-crop to ``size``, scale to 0–1 and normalize: a zoo model's pipeline."""

    size: int
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __call__(self, image: Image.Image) -> torch.Tensor:
        if self.channels == 1:
            image = image.convert("L")
        pipeline = v2.Compose(
            [
                v2.PILToTensor(),
                v2.Resize(self.size, antialias=True),
                v2.CenterCrop(self.size),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize(list(self.mean), list(self.std)),
            ]
        )
        tensor = pipeline(image)
        if self.channels not in (1, tensor.shape[0]):
            tensor = tensor[:1].expand(self.channels, -1, -1).clone()
        return tensor


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
    """
    if not torchscript_allowed():
        raise ModelError(
            f"This server does not accept TorchScript uploads ({ALLOW_ENV}=0): a TorchScript file is a "
            "program and runs on the server. Upload a state dict for a zoo architecture instead."
        )
    check_size(data, filename)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation notice
            module = torch.jit.load(io.BytesIO(data), map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - any failure to read the archive is the user's file
        raise ModelError(f"{filename} is not a TorchScript archive featviz can load ({short_message(exc, 160)}).") from None
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
        extra={"input_size": size, "channels": channels},
    )
