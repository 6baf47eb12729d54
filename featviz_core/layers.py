"""The layer tree a person picks from: every module, its type, and the output shape it really produced."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from torch import nn

from .capture import Capture
from .models import LoadedModel

_CONVOLUTION = re.compile(r"^(Lazy)?Conv(Transpose)?[123]d$")
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
    def label(self) -> str:
        """Indented one-line label, searchable by name, type and shape."""
        shape = "×".join(str(s) for s in self.shape) if self.shape is not None else "no tensor output"
        return f"{'  ' * self.depth}{self.name} · {self.module_type} · {shape}"


def layer_tree(model: LoadedModel | nn.Module, captured: Capture) -> list[LayerEntry]:
    """Every named module in definition order, with repeated calls (``name#2``) listed after the first.

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> [entry.label for entry in fv.layer_tree(model, maps)][:2]
        [...]
    """
    module = model.module if isinstance(model, LoadedModel) else model
    calls: dict[str, list[str]] = {}
    for key in captured:
        calls.setdefault(captured[key].module_name, []).append(key)
    entries: list[LayerEntry] = []
    for name, child in module.named_modules():
        if not name:
            continue
        depth = name.count(".")
        leaf = not any(True for _ in child.children())
        keys = calls.get(name) or [None]
        for key in keys:
            shape = captured[key].shape if key is not None else None
            entries.append(LayerEntry(key or name, key, type(child).__name__, depth, shape, leaf))
    return entries


def default_layer(captured: Capture) -> Optional[str]:
    """The first convolution's output; failing that, the first output that is a stack of 2-D maps.

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> fv.default_layer(maps)
        'conv1'
    """
    for key, fmap in captured.items():
        if _CONVOLUTION.match(fmap.module_type) and fmap.tensor.dim() == 3:
            return key
    for key, fmap in captured.items():
        if fmap.tensor.dim() == 3:
            return key
    return next(iter(captured), None)
