"""ONNX models: run with onnxruntime, every node's output captured in the same run.

ONNX is the exchange format every framework exports to, and an ONNX file holds no code: it is a graph of
standard operators and their weights, so it is safe to accept on a shared server. featviz loads it with
onnxruntime (which runs the opsets current exporters write), declares every node's first output a graph
output so one run returns them all, and hands them to :func:`featviz_core.capturing._capture.capture` through the same
per-thread recording TorchScript uses.

What the graph does not say is inferred: the input's size, channels and layout (NCHW or NHWC) from its
declared shape; which intermediate values are channels-last, by following the layout from the input
through Transpose nodes to the operators ONNX defines as NCHW (Conv, pooling, normalization). Channels-last
maps are turned around so every map is (C, H, W), as for torch models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Optional

import numpy as np
import torch

from ..errors import ModelError
from ..recording._runtime import RecordedModule
from ._load import LoadedModel
from ._preprocess import GenericPreprocess
from ._state_dict import check_size

NCHW_OPS = frozenset({
    "Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool",
    "GlobalMaxPool", "GlobalLpPool", "BatchNormalization", "InstanceNormalization", "LRN", "MaxRoiPool",
    "DepthToSpace", "SpaceToDepth",
})
"""Operators whose 4-D input and output ONNX defines as NCHW."""

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
DEFAULT_SIZE = {1: 28, 3: 224}
"""Input side when the graph leaves it open: MNIST's for one channel, ImageNet's for three."""

_TRANSPOSED = {((0, 3, 1, 2), "NHWC"): "NCHW", ((0, 2, 3, 1), "NCHW"): "NHWC"}
"""What a Transpose makes of a layout; any other permutation leaves the result's layout unknown."""
_FLOAT_KINDS = "f"
_WEIGHTS = frozenset({1, 10, 11, 16})  # TensorProto FLOAT, FLOAT16, DOUBLE, BFLOAT16: not shapes or indices


@dataclass(frozen=True)
class OnnxInput:
    """The image input a graph declares: its name, layout, and the sizes it fixes (None where left open)."""

    name: str
    layout: str  # "NCHW" or "NHWC"
    channels: int
    height: Optional[int]
    width: Optional[int]


@dataclass(frozen=True)
class OnnxNode:
    """One node, as a layer: its name in featviz, ONNX op type, and the value it produced."""

    layer: str
    op_type: str
    value: str
    input_value: Optional[str]


class OnnxModule(RecordedModule):
    """An onnxruntime session behind a torch module's interface: ``forward`` takes an NCHW batch and returns
    the graph's first output, and records every node's output, channels first, when captured."""

    def __init__(self, data: bytes, filename: str, external: Mapping[str, bytes] = MappingProxyType({})) -> None:
        super().__init__()
        import onnx

        graph_model = _parse(data, filename, external)
        self.filename = filename
        self.input = image_input(graph_model.graph)
        self.nodes = _nodes(graph_model.graph, self.input.name)
        self.layer_types = {node.layer: node.op_type for node in self.nodes}
        self.num_params = sum(int(np.prod(t.dims)) for t in graph_model.graph.initializer if t.data_type in _WEIGHTS)
        self.opsets = {o.domain or "ai.onnx": o.version for o in graph_model.opset_import}
        self._layouts = _layouts(graph_model.graph, self.input)
        self._output = graph_model.graph.output[0].name
        declared = {output.name for output in graph_model.graph.output}
        for node in self.nodes:
            if node.value not in declared:
                graph_model.graph.output.append(onnx.ValueInfoProto(name=node.value))
                declared.add(node.value)
        self._session = _session(graph_model.SerializeToString(), filename, graph_model.ir_version, self.opsets)
        self._outputs = [output.name for output in self._session.get_outputs()]

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        array = batch.detach().to("cpu", torch.float32).numpy()
        if self.input.layout == "NHWC":
            array = array.transpose(0, 2, 3, 1)
        try:
            values = dict(zip(self._outputs, self._session.run(self._outputs, {self.input.name: array}), strict=True))
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise RuntimeError(f"onnxruntime could not run {self.filename}: {exc}") from exc
        if self.recording_now():
            shape = tuple(batch.shape[1:])
            for node in self.nodes:
                value = values.get(node.value)
                if isinstance(value, np.ndarray) and value.dtype.kind in _FLOAT_KINDS and value.ndim >= 1:
                    self.record(node.layer, self._channels_first(node.value, value), "",
                                self._input_shape(node, values, shape))
        return torch.from_numpy(np.ascontiguousarray(values[self._output], dtype=np.float32))

    def _channels_first(self, value_name: str, value: np.ndarray) -> torch.Tensor:
        if value.ndim == 4 and self._layouts.get(value_name) == "NHWC":
            value = value.transpose(0, 3, 1, 2)
        return torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))

    def _input_shape(self, node: OnnxNode, values: dict[str, Any], model_input: tuple[int, ...]):
        if node.input_value == self.input.name:
            return model_input
        value = values.get(node.input_value)
        if not isinstance(value, np.ndarray) or value.ndim < 1:
            return None
        return tuple(self._channels_first(node.input_value, value).shape[1:])


def load_onnx(
    data: bytes,
    filename: str,
    *,
    input_size: Optional[int] = None,
    mean: Optional[Sequence[float]] = None,
    std: Optional[Sequence[float]] = None,
    invert: bool = False,
    categories: Sequence[str] = (),
    external: Mapping[str, bytes] = MappingProxyType({}),
) -> LoadedModel:
    """Load an ONNX model with a preprocessing inferred from its input, every part of which can be given.

    The input's channels and layout come from the graph; its size too, unless the graph leaves it open (then
    ``input_size``, else 28 for one channel and 224 for three). Mean and std default to ImageNet's for colour
    and to none (values 0–1) for one channel; ``invert`` turns dark ink on light paper into MNIST's light on
    dark. ``categories`` name the classes of the first output. ``external`` holds, by file name, the files a
    graph keeps its weights in (``model.onnx.data``, as ``torch.onnx.export`` writes by default). Raises
    :class:`ModelError` for a file that is not ONNX, has no image input, keeps its weights in files not
    given, or uses operators onnxruntime cannot run.

    Example::

        >>> import featviz_core as fv
        >>> import io, torch
        >>> digits = fv.load_model("digits_cnn").module.cpu()
        >>> buffer = io.BytesIO()
        >>> _ = torch.onnx.export(digits, (torch.zeros(1, 1, 28, 28),), buffer, external_data=False, verbose=False)
        >>> model = fv.load_onnx(buffer.getvalue(), "digits.onnx")
        >>> model.extra["layout"], model.extra["input_size"]
        ('NCHW', (28, 28))
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> [(name, maps[name].module_type, maps[name].shape) for name in list(maps)[:2]]
        [('node_conv2d', 'Conv', (32, 26, 26)), ('node_relu', 'Relu', (32, 26, 26))]
    """
    check_size(data, filename)
    for name, blob in external.items():
        check_size(blob, name)
    module = OnnxModule(data, filename, external)
    spec = module.input
    fixed = spec.height is not None and spec.width is not None
    if fixed and input_size and (input_size, input_size) != (spec.height, spec.width):
        raise ModelError(f"{filename} takes {spec.height}×{spec.width} inputs only: its graph fixes the size.")
    side = input_size or DEFAULT_SIZE.get(spec.channels, 224)
    size = (spec.height, spec.width) if fixed else (side, side)
    colour = spec.channels == 3
    mean = tuple(mean) if mean else (IMAGENET_MEAN if colour else (0.0,) * spec.channels)
    std = tuple(std) if std else (IMAGENET_STD if colour else (1.0,) * spec.channels)
    if len(mean) != spec.channels or len(std) != spec.channels or not all(s > 0 for s in std):
        raise ModelError(
            f"{filename} takes {spec.channels} channel(s): give one mean and one positive std per channel."
        )
    return LoadedModel(
        name=f"ONNX: {filename}",
        module=module,
        preprocess=GenericPreprocess(size, spec.channels, mean, std, invert),
        weights=f"from {filename}",
        categories=tuple(categories),
        mean=mean,
        std=std,
        num_params=module.num_params,
        source="onnx",
        extra={"input_size": size, "channels": spec.channels, "layout": spec.layout,
               "size_fixed": fixed, "opsets": module.opsets, "invert": invert},
    )


def image_input(graph: Any) -> OnnxInput:
    """The graph's one image input (rank 4, one or three channels), its layout told by where the channels are."""
    weights = {tensor.name for tensor in graph.initializer}
    inputs = [value for value in graph.input if value.name not in weights]
    if len(inputs) != 1:
        names = ", ".join(value.name for value in inputs) or "none"
        raise ModelError(f"featviz runs models with one image input; this graph has {len(inputs)} ({names}).")
    value = inputs[0]
    dims = [d.dim_value if d.HasField("dim_value") else None for d in value.type.tensor_type.shape.dim]
    if len(dims) != 4:
        raise ModelError(
            f"The model's input {value.name!r} has {len(dims)} dimensions; featviz needs an image batch "
            "(N, C, H, W) or (N, H, W, C)."
        )
    _, second, third, last = dims
    if second in (1, 3) and last not in (1, 3):
        return OnnxInput(value.name, "NCHW", second, third, last)
    if last in (1, 3) and second not in (1, 3):
        return OnnxInput(value.name, "NHWC", last, second, third)
    if second in (1, 3):
        return OnnxInput(value.name, "NCHW", second, third, last)
    raise ModelError(
        f"The model's input {value.name!r} has shape {_dims(dims)}: featviz cannot tell its channels (1 or 3) "
        "from it. Export the model with a fixed channel count."
    )


def _dims(dims: list[Optional[int]]) -> str:
    return "×".join("?" if d is None else str(d) for d in dims)


def _parse(data: bytes, filename: str, external: Mapping[str, bytes]):
    import onnx
    from google.protobuf.message import DecodeError

    try:
        graph_model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ModelError(
            f"{filename} is not an ONNX model featviz can read: it is damaged or in another format. Export it with "
            "`torch.onnx.export(model, (example,), 'model.onnx')` (or your framework's ONNX exporter).",
            detail=exc,
        ) from None
    if not graph_model.graph.node:
        raise ModelError(f"{filename} holds no ONNX graph (no nodes): it is damaged or not an ONNX model.")
    _take_external_data(graph_model, filename, external)
    return graph_model


def _take_external_data(graph_model: Any, filename: str, external: Mapping[str, bytes]) -> None:
    """Put weights kept beside the graph (torch.onnx.export writes ``model.onnx.data`` by default) into it,
    from the files given with it, checked against the offsets and lengths the graph records."""
    import onnx

    missing: list[str] = []
    for tensor in graph_model.graph.initializer:
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        info = {entry.key: entry.value for entry in tensor.external_data}
        location = Path(info.get("location", "")).name
        blob = external.get(location)
        if blob is None:
            missing.append(location)
            continue
        offset = int(info.get("offset", 0))
        length = int(info.get("length", len(blob) - offset))
        if offset < 0 or length < 0 or offset + length > len(blob):
            raise ModelError(f"{location} is shorter than {filename} says: it belongs to another export of the model.")
        tensor.raw_data = blob[offset:offset + length]
        tensor.data_location = onnx.TensorProto.DEFAULT
        del tensor.external_data[:]
    if missing:
        names = ", ".join(sorted(set(missing)))
        raise ModelError(
            f"{filename} keeps its weights in a separate file ({names}). Upload that file together with "
            f"{filename}, or export the model as one file: `torch.onnx.export(..., external_data=False)` "
            "(up to 2 GB)."
        )


def _session(data: bytes, filename: str, ir_version: int, opsets: dict[str, int]):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # its warnings are about its own optimizations, not the user's model
    options.intra_op_num_threads = torch.get_num_threads()  # as many as torch uses: one setting for both
    try:
        return onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        versions = ", ".join(f"{domain} {version}" for domain, version in opsets.items())
        raise ModelError(
            f"onnxruntime {onnxruntime.__version__} cannot run {filename} (IR version {ir_version}, opsets: "
            f"{versions}): it uses an operator, opset or file version it does not support, or the graph is "
            "invalid. Export it again with a lower opset (`opset_version=` in torch.onnx.export) or an older "
            "exporter.",
            detail=exc,
        ) from None


def _nodes(graph: Any, input_name: str) -> list[OnnxNode]:
    """Every node that computes on the image, as a layer named after the node (or its op and index), unique.

    Nodes that only compute on weights (the Identity and Constant nodes exporters leave, a weight's reshape)
    give the same value for every image: they are not layers."""
    nodes, seen, live = [], set(), {input_name}
    for index, node in enumerate(graph.node):
        if not node.output or not node.output[0] or not any(value in live for value in node.input):
            continue
        live.update(value for value in node.output if value)
        name = node.name or f"{node.op_type}_{index}"
        while name in seen:
            name = f"{name}_{index}"
        seen.add(name)
        first_input = next((value for value in node.input if value in live), None)
        nodes.append(OnnxNode(name, node.op_type, node.output[0], first_input))
    return nodes


def _layouts(graph: Any, spec: OnnxInput) -> dict[str, str]:
    """Each value's layout, followed from the input through the graph: NCHW after the operators ONNX defines
    so, swapped by Transpose, inherited through everything else."""
    layouts = {spec.name: spec.layout}
    for node in graph.node:
        source = next((layouts[value] for value in node.input if value in layouts), None)
        if node.op_type in NCHW_OPS:
            layout = "NCHW"
        elif node.op_type == "Transpose":
            perm = next((tuple(a.ints) for a in node.attribute if a.name == "perm"), None)
            layout = _TRANSPOSED.get((perm, source))
        else:
            layout = source
        if layout is not None:
            for value in node.output:
                layouts[value] = layout
    return layouts
