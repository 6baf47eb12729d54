"""Which input pixels a layer's unit can see at all, from the layers' geometry: kernel, stride, padding and
dilation of every convolution and pooling on the way, joined over every path (residual additions,
concatenated branches). The same for every image, unlike a gradient, which a ReLU or a max pool can close.

The geometry is followed through one forward pass under a torch function mode: every op's output gets its
inputs' geometry, changed by the op's rule (a convolution widens and strides it, an addition joins it, a
global pool makes it the whole image, a reshape keeps it when the spatial axes are left as they were). An op
without a rule makes its output's geometry unknown, and so everything computed from it: featviz then falls
back to the gradient (see :mod:`featviz_core.scan._views`). The mode is per thread, so another session's
forward pass through the same model is not touched, and nothing is written into the model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Optional, Union

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from .._per_model import PerModel
from .._torch_private import tree_leaves
from ..recording import layer_outputs, named_submodules

Box = tuple[int, int, int, int]  # left, top, right, bottom in input pixels, right and bottom exclusive


@dataclass(frozen=True)
class Span:
    """One axis of a unit's view: unit ``i`` sees input pixels ``start + i*jump`` up to ``+ size``."""

    jump: int
    size: int
    start: int

    def conv(self, kernel: int, stride: int, padding: int, dilation: int) -> Span:
        jump = self.jump
        return Span(jump * stride, self.size + dilation * (kernel - 1) * jump, self.start - padding * jump)

    def shifted(self, pixels: int) -> Span:
        """Padding (``pixels`` > 0) or cropping (< 0) at the start of the axis."""
        return replace(self, start=self.start - pixels * self.jump)

    def join(self, other: Span) -> Optional[Span]:
        if self.jump != other.jump:
            return None
        start = min(self.start, other.start)
        return Span(self.jump, max(self.start + self.size, other.start + other.size) - start, start)

    def pixels(self, index: int, length: int) -> tuple[int, int]:
        first = self.start + index * self.jump
        return max(0, first), min(length, first + self.size)


@dataclass(frozen=True)
class Field:
    """A layer's geometry: each unit sees a window of the input (``rows``, ``cols``), or the whole of it
    (``whole``: after a global pool, a linear layer, a squeeze-and-excitation gate)."""

    rows: Optional[Span] = None
    cols: Optional[Span] = None

    @property
    def whole(self) -> bool:
        return self.rows is None

    def box(self, y: int, x: int, height: int, width: int) -> Box:
        """The input pixels the unit at (``y``, ``x``) of the map sees, inside an input of that size."""
        if self.rows is None or self.cols is None:
            return 0, 0, width, height
        top, bottom = self.rows.pixels(y, height)
        left, right = self.cols.pixels(x, width)
        return left, top, right, bottom


WHOLE = Field()


@dataclass(frozen=True)
class _Spatial:
    """A tensor's geometry: its field, which of its axes are rows and columns (counted from the end, so that
    broadcasting and a batch or group axis in front leave them where they are), and whether the field is every
    channel's (not after concatenating branches that see differently, until a convolution mixes them again)."""

    field: Field
    axes: tuple[int, int] = (-2, -1)
    uniform: bool = True


_UNKNOWN = object()  # geometry that cannot be followed: the unit's view is left to the gradient
_FLAT = object()  # the spatial axes folded into the last axis with the channels: one element is one position
Geometry = Union[_Spatial, object]

_POINTWISE = frozenset("""
    add sub mul div true_divide rsub neg abs exp log sqrt rsqrt pow reciprocal square erf sign where maximum
    minimum masked_fill prelu clamp clamp_min clamp_max clip relu relu6 hardtanh leaky_relu elu selu celu gelu silu
    mish hardswish hardsigmoid sigmoid tanh softplus softsign logsigmoid threshold batch_norm dropout dropout2d
    dropout3d feature_dropout alpha_dropout feature_alpha_dropout contiguous clone to float half double bfloat16
    type type_as detach channel_shuffle native_channel_shuffle local_response_norm stochastic_depth
""".split())
_REDUCTIONS = frozenset("mean sum amax amin max min std var norm logsumexp nanmean nansum".split())
_SAME_TRAILING = frozenset("view reshape _reshape_alias unflatten squeeze unsqueeze expand expand_as".split())
_SPLITS = frozenset("chunk split split_with_sizes unbind tensor_split unsafe_split".split())


def _name(func: Any) -> str:
    name = getattr(func, "__name__", "")
    if name.startswith("__") and name.endswith("__"):
        name = name[2:-2]
        name = name[1:] if name[:1] in "ri" and name[1:] in _POINTWISE else name  # __radd__, __iadd__
    return name[:-1] if name.endswith("_") and not name.endswith("__") else name  # relu_, add_


def _arg(args: Sequence[Any], kwargs: dict[str, Any], index: int, key: str, default: Any = None) -> Any:
    return args[index] if len(args) > index else kwargs.get(key, default)


def _pair(value: Any, default: int = 0) -> tuple[int, int]:
    if value is None:
        return default, default
    if isinstance(value, int):
        return value, value
    values = tuple(int(v) for v in value)
    return (values[0], values[0]) if len(values) == 1 else (values[-2], values[-1])


class _Follower(TorchFunctionMode):
    """Gives each tensor an op returns the geometry its rule says, by the tensor's identity (the tensors are
    held for the pass, so an identity is not reused)."""

    def __init__(self) -> None:
        super().__init__()
        self.geometry: dict[int, tuple[torch.Tensor, Geometry]] = {}

    def mark(self, tensor: torch.Tensor, geometry: Geometry) -> None:
        self.geometry[id(tensor)] = (tensor, geometry)

    def of(self, value: Any) -> Optional[Geometry]:
        held = self.geometry.get(id(value)) if isinstance(value, torch.Tensor) else None
        return held[1] if held is not None and held[0] is value else None

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 - torch's signature
        kwargs = kwargs or {}
        result = func(*args, **kwargs)
        name = _name(func)
        if name == "setitem":  # written into a region: what it holds now is anyone's guess
            if self.of(args[0]) is not None:
                self.mark(args[0], _UNKNOWN)
            return result
        leaves = [leaf for leaf in tree_leaves((args, kwargs)) if isinstance(leaf, torch.Tensor)]
        known = [(leaf, geometry) for leaf in leaves if (geometry := self.of(leaf)) is not None]
        if not known:
            return result
        outputs = [out for out in tree_leaves(result) if isinstance(out, torch.Tensor)]
        for out in outputs:
            self.mark(out, _rule(name, args, kwargs, known, out))
        return result


def _rule(name: str, args: Sequence[Any], kwargs: dict[str, Any], known: list[tuple[torch.Tensor, Geometry]],
          out: torch.Tensor) -> Geometry:
    tensor, geometry = known[0]
    if any(g is _UNKNOWN for _, g in known):
        return _UNKNOWN
    if any(g is _FLAT for _, g in known):  # what mixes the folded axis (a linear layer) sees every position
        if all(g is _FLAT for _, g in known) and name in _POINTWISE:
            return _FLAT
        mixes = name == "linear" or name in _REDUCTIONS and _arg(args, kwargs, 1, "dim") in (None, -1, (-1,), [-1])
        return WHOLE_GEOMETRY if mixes and len(known) == 1 else _UNKNOWN
    if name in ("cat", "concat", "concatenate") and _not_spatial(_arg(args, kwargs, 1, "dim", 0), out.dim(), known):
        return _joined((g for _, g in known), stacked=True)
    if name in _POINTWISE or name in ("max", "min") and isinstance(_arg(args, kwargs, 1, "other"), torch.Tensor):
        return _joined(g for _, g in known)
    if len(known) > 1:  # a product of two maps, an attention: no rule but for whole-image inputs
        return WHOLE_GEOMETRY if all(g.field.whole for _, g in known) else _UNKNOWN
    assert isinstance(geometry, _Spatial)
    if geometry.field.whole:
        return geometry if name not in ("interpolate", "upsample") else _UNKNOWN  # whatever is done with it
    if name in ("conv2d", "convolution") and geometry.axes == (-2, -1):
        return _convolved(geometry, args, kwargs)
    if name in ("max_pool2d", "_max_pool2d", "max_pool2d_with_indices", "avg_pool2d") and geometry.axes == (-2, -1):
        return _pooled(name, geometry, args, kwargs)
    if name.startswith("adaptive_") or name.startswith("_adaptive_"):
        return _adaptive(geometry, tensor, out)
    if name in _REDUCTIONS:
        return _reduced(geometry, tensor, _arg(args, kwargs, 1, "dim"), bool(_arg(args, kwargs, 2, "keepdim", False)))
    if name == "layer_norm":
        shape = _arg(args, kwargs, 1, "normalized_shape")
        last = -(1 if isinstance(shape, int) else len(shape))  # normalized over the axes from here to the end
        return WHOLE_GEOMETRY if min(geometry.axes) >= last else _UNKNOWN if max(geometry.axes) >= last else geometry
    if name in ("group_norm", "instance_norm"):
        return WHOLE_GEOMETRY  # their statistics come from every position
    if name == "linear":
        return geometry if -1 not in geometry.axes else _UNKNOWN
    if name == "flatten":
        return _flattened(geometry, tensor, _arg(args, kwargs, 1, "start_dim", 0), _arg(args, kwargs, 2, "end_dim", -1))
    if name in _SAME_TRAILING:
        return _same_trailing(geometry, tensor, out)
    if name in ("permute", "transpose", "swapaxes"):
        return _moved(geometry, tensor, name, args, kwargs)
    if name in _SPLITS:
        return geometry if _not_spatial(_arg(args, kwargs, 2, "dim", 0), tensor.dim(), [(tensor, geometry)]) \
            else _UNKNOWN
    if name == "getitem":
        return _indexed(geometry, tensor, out, args[1])
    if name in ("pad", "constant_pad_nd"):
        return _padded(geometry, _arg(args, kwargs, 1, "pad"))
    return _UNKNOWN


WHOLE_GEOMETRY = _Spatial(WHOLE)


def _joined(geometries: Iterable[Geometry], stacked: bool = False) -> Geometry:
    """Every input contributes: the union of what they see. Elementwise (each channel from the same channel
    of every input), or ``stacked`` along the channels (each channel from one input: a channel's own field is
    its input's, and the union is every channel's only where the inputs' fields are equal)."""
    joined: Optional[_Spatial] = None
    for geometry in geometries:
        assert isinstance(geometry, _Spatial)
        if geometry.field.whole:
            return WHOLE_GEOMETRY
        if joined is None:
            joined = geometry
            continue
        if geometry.axes != joined.axes:
            return _UNKNOWN
        rows, cols = joined.field.rows.join(geometry.field.rows), joined.field.cols.join(geometry.field.cols)
        if rows is None or cols is None:
            return _UNKNOWN
        uniform = joined.uniform and geometry.uniform and (not stacked or joined.field == geometry.field)
        joined = _Spatial(Field(rows, cols), joined.axes, uniform)
    return joined if joined is not None else _UNKNOWN


def _not_spatial(dim: Any, ndim: int, known: list[tuple[torch.Tensor, Geometry]]) -> bool:
    if not isinstance(dim, int):
        return False
    negative = dim - ndim if dim >= 0 else dim
    return all(isinstance(g, _Spatial) and (g.field.whole or negative not in g.axes) for _, g in known)


def _convolved(geometry: _Spatial, args: Sequence[Any], kwargs: dict[str, Any]) -> Geometry:
    weight = _arg(args, kwargs, 1, "weight")
    if weight is None or weight.dim() != 4 or _arg(args, kwargs, 6, "transposed", False) is True:
        return _UNKNOWN
    kernel = tuple(weight.shape[-2:])
    stride, dilation = _pair(_arg(args, kwargs, 3, "stride", 1), 1), _pair(_arg(args, kwargs, 5, "dilation", 1), 1)
    padding = _arg(args, kwargs, 4, "padding", 0)
    if padding == "valid":
        padding = (0, 0)
    elif padding == "same":  # torch pads the smaller half before
        padding = tuple((d * (k - 1)) // 2 for k, d in zip(kernel, dilation, strict=True))
    else:
        padding = _pair(padding)
    groups = _arg(args, kwargs, 8 if len(args) > 8 else 6, "groups", 1)
    return _Spatial(_slid(geometry.field, kernel, stride, padding, dilation), geometry.axes,
                    geometry.uniform or groups == 1)  # a full convolution gives every channel every input's view


def _pooled(name: str, geometry: _Spatial, args: Sequence[Any], kwargs: dict[str, Any]) -> Geometry:
    kernel = _pair(_arg(args, kwargs, 1, "kernel_size"))
    stride = _arg(args, kwargs, 2, "stride")
    stride = kernel if stride is None or stride == [] or stride == () else _pair(stride)
    padding = _pair(_arg(args, kwargs, 3, "padding", 0))
    dilation = _pair(_arg(args, kwargs, 4, "dilation", 1), 1) if "max" in name else (1, 1)
    return replace(geometry, field=_slid(geometry.field, kernel, stride, padding, dilation))


def _adaptive(geometry: _Spatial, tensor: torch.Tensor, out: torch.Tensor) -> Geometry:
    if geometry.axes != (-2, -1) or tensor.dim() < 2:
        return _UNKNOWN
    before, after = tuple(tensor.shape[-2:]), tuple(out.shape[-2:])
    if after == (1, 1):
        return WHOLE_GEOMETRY
    if after == before:
        return geometry
    if any(b % a for b, a in zip(before, after, strict=True)):
        return _UNKNOWN  # uneven windows: no one kernel and stride
    step = tuple(b // a for b, a in zip(before, after, strict=True))
    return replace(geometry, field=_slid(geometry.field, step, step, (0, 0), (1, 1)))


def _slid(field: Field, kernel: Sequence[int], stride: Sequence[int], padding: Sequence[int],
          dilation: Sequence[int]) -> Field:
    """The field after a window slid over rows and columns (a convolution or a pool)."""
    return Field(*(span.conv(k, s, p, d) for span, k, s, p, d in zip(
        (field.rows, field.cols), kernel, stride, padding, dilation, strict=True)))


def _reduced(geometry: _Spatial, tensor: torch.Tensor, dim: Any, keepdim: bool) -> Geometry:
    if dim is None:
        return WHOLE_GEOMETRY
    dims = {d - tensor.dim() if d >= 0 else d for d in ((dim,) if isinstance(dim, int) else dim)}
    spatial = set(geometry.axes)
    if spatial <= dims:
        return WHOLE_GEOMETRY
    if dims & spatial:
        return _UNKNOWN  # one axis of two: a unit sees whole rows or columns
    if keepdim:
        return geometry
    later = sum(1 for d in dims if d > max(geometry.axes))
    return replace(geometry, axes=(geometry.axes[0] + later, geometry.axes[1] + later))


def _flattened(geometry: _Spatial, tensor: torch.Tensor, start: int, end: int) -> Geometry:
    ndim = tensor.dim()
    start, end = (start - ndim if start >= 0 else start), (end - ndim if end >= 0 else end)
    if any(start <= axis <= end for axis in geometry.axes):  # positions folded in with the channels
        return _FLAT if end == -1 and start <= min(geometry.axes) else _UNKNOWN
    return replace(geometry, axes=tuple(axis + (end - start) if axis < start else axis for axis in geometry.axes))


def _same_trailing(geometry: _Spatial, tensor: torch.Tensor, out: torch.Tensor) -> Geometry:
    """A reshape keeps the geometry when the block from the first spatial axis to the end is unchanged."""
    first = min(geometry.axes)
    if tensor.dim() < -first or out.dim() < -first or tensor.shape[first:] != out.shape[first:]:
        return _UNKNOWN
    return geometry


def _moved(geometry: _Spatial, tensor: torch.Tensor, name: str, args: Sequence[Any],
           kwargs: dict[str, Any]) -> Geometry:
    ndim = tensor.dim()
    order = list(range(ndim))
    if name == "permute":
        dims = args[1:] if len(args) > 2 else _arg(args, kwargs, 1, "dims")
        order = [d % ndim for d in (dims if not isinstance(dims, int) else [dims])]
    else:  # transpose, swapaxes
        a, b = _arg(args, kwargs, 1, "dim0") % ndim, _arg(args, kwargs, 2, "dim1") % ndim
        order[a], order[b] = order[b], order[a]
    if len(order) != ndim:
        return _UNKNOWN
    axes = tuple(order.index(axis % ndim) - ndim for axis in geometry.axes)
    return replace(geometry, axes=axes) if axes[0] < axes[1] else _UNKNOWN


def _indexed(geometry: _Spatial, tensor: torch.Tensor, out: torch.Tensor, index: Any) -> Geometry:
    """Indexing in front of the spatial axes (a channel slice, one image of the batch) keeps the geometry."""
    entries = index if isinstance(index, tuple) else (index,)
    if any(isinstance(entry, torch.Tensor) or entry is None for entry in entries):
        return _UNKNOWN
    if Ellipsis in entries:
        trailing = entries[entries.index(Ellipsis) + 1:]
        touched = [(-len(trailing) + i, entry) for i, entry in enumerate(trailing)]
    else:
        touched = [(i - tensor.dim(), entry) for i, entry in enumerate(entries)]
    if any(axis in geometry.axes and entry != slice(None) for axis, entry in touched):
        return _UNKNOWN
    return _same_trailing(geometry, tensor, out)


def _padded(geometry: _Spatial, pad: Sequence[int]) -> Geometry:
    field = geometry.field
    spans = []
    for axis, span in zip(geometry.axes, (field.rows, field.cols), strict=True):
        slot = 2 * (-axis - 1)
        spans.append(span.shifted(int(pad[slot])) if slot < len(pad) else span)
    return replace(geometry, field=Field(*spans))


_known: PerModel[dict[str, Optional[Field]]] = PerModel()


def layer_fields(module: nn.Module, example: torch.Tensor) -> dict[str, Optional[Field]]:
    """Every layer's geometry for inputs shaped like ``example`` (one image, channels first): None where it
    cannot be followed. Learnt from one forward pass, then kept beside the model (never on it)."""
    key = (tuple(example.shape), example.dtype)
    known = _known.get(module, key)
    if known is not None:
        return known
    follower = _Follower()
    fields: dict[str, Optional[Field]] = {}

    def record(name: str, _module: nn.Module, _args: Any, output: Any) -> None:
        if name in fields:
            return
        first = output if isinstance(output, torch.Tensor) else next(
            (leaf for leaf in tree_leaves(output) if isinstance(leaf, torch.Tensor)), None)
        geometry = follower.of(first)
        fields[name] = geometry.field if isinstance(geometry, _Spatial) and (geometry.field.whole or (
            geometry.uniform and geometry.axes == (-2, -1) and first.dim() in (3, 4))) else None

    batch = example[None].clone()
    follower.mark(batch, _Spatial(Field(Span(1, 1, 0), Span(1, 1, 0))))
    try:
        with torch.inference_mode(), layer_outputs(named_submodules(module), record), follower:
            module(batch)
    finally:
        follower.geometry.clear()
    _known.put(module, fields, key)
    return fields
