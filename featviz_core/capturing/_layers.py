"""The layer tree a person picks from: every module, its type, and the output shape it really produced."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from torch import nn

from ..activations._records import Capture
from ..models._load import LoadedModel

_CONVOLUTION = re.compile(r"^(Lazy)?Conv(Transpose)?([123][dD])?$")  # torch, ONNX (Conv), Keras (Conv2D)
"""torch.nn's convolution classes, not blocks such as torchvision's Conv2dNormActivation."""


@dataclass(frozen=True)
class LayerEntry:
    """One row of the tree. ``key`` is the Capture key to show, or None when the module produced no tensor."""

    name: str
    key: Optional[str]
    module_type: str
    depth: int
    shape: Optional[tuple[int, ...]]
    is_leaf: bool

    @property
    def shape_text(self) -> str:
        """The output shape as it is printed, ``64×56×56``, or "no tensor output"."""
        return "×".join(str(s) for s in self.shape) if self.shape is not None else "no tensor output"

    @property
    def label(self) -> str:
        """Indented one-line label to pick from and search: name, type and shape.

        The shape is written with a plain ``x`` (``64x56x56``), as people type it when they search for one.
        """
        return f"{'  ' * self.depth}{self.name} · {self.module_type} · {self.shape_text.replace('×', 'x')}"


def layer_tree(model: LoadedModel | nn.Module, captured: Capture) -> list[LayerEntry]:
    """Every named module in definition order, with repeated calls (``name#2``) listed after the first; then
    captured layers that are no module of the model (an ONNX graph's nodes, in graph order).

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> [entry.label for entry in fv.layer_tree(model, maps)][:2]
        [...]
    """
    module = model.module if isinstance(model, LoadedModel) else model
    outline = dict(captured.outline())  # names, types and shapes: nothing is read or finished
    calls: dict[str, list[str]] = {}
    for key, fmap in outline.items():
        calls.setdefault(fmap.module_name, []).append(key)
    entries: list[LayerEntry] = []
    for name, child in module.named_modules():
        if not name:
            continue
        depth = name.count(".")
        leaf = not any(True for _ in child.children())
        keys = calls.get(name) or [None]
        for key in keys:
            shape = outline[key].shape if key is not None else None
            entries.append(LayerEntry(key or name, key, type(child).__name__, depth, shape, leaf))
    listed = {entry.key for entry in entries}
    for key, fmap in outline.items():  # layers that are not torch modules: an ONNX graph's nodes
        if key not in listed:
            entries.append(LayerEntry(key, key, fmap.module_type, 0, fmap.shape, True))
    return entries


def layer_name(text: str) -> str:
    """The layer name in a link's value: the value itself, or the name at the start of a label, as links
    carried them before (``"\u2003layer1.0.conv1 · Conv2d · 64×56×56"`` gives ``"layer1.0.conv1"``).

    Example::

        >>> layer_name("layer1.0.conv1")
        'layer1.0.conv1'
        >>> layer_name("\u2003\u2003layer1.0.conv1 · Conv2d · 64×56×56")
        'layer1.0.conv1'
    """
    return text.split(" · ", 1)[0].strip()


def default_layer(captured: Capture) -> Optional[str]:
    """The first convolution's output; failing that, the first output that is a stack of 2-D maps.

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> fv.default_layer(maps)
        'conv1'
    """
    outline = list(captured.outline())
    for key, fmap in outline:
        if _CONVOLUTION.match(fmap.module_type) and len(fmap.shape) == 3:
            return key
    for key, fmap in outline:
        if len(fmap.shape) == 3:
            return key
    return next(iter(captured), None)
