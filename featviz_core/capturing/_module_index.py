"""A model's module names, order and types, learnt once per model and checked cheaply before each capture.

Why: a capture needs every submodule's qualified name (its hook sees only the module object), the module
order to sort its records by, each module's type name, and MaxViT's window layouts. ``named_modules()``
builds every qualified name again on each call: on small, fast models (MobileNet, ShuffleNet) that walk
alone costs a tenth of a forward pass. The index is kept beside the model (a weak reference, so it goes
with the model; the model itself is never touched) with a fingerprint of its module tree: each child's
attribute name, object id and class, in walk order. A notebook user who replaces, adds or renames a
submodule changes the fingerprint, and the index is built again.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .._per_model import PerModel
from ..activations._token_layouts import Windows, window_layouts
from ._copy_on_write import FAST_PATH_MODULES


@dataclass(frozen=True)
class ModuleIndex:
    """What a capture needs to know of a model's submodules (the root itself is not among them)."""

    names: dict[int, str]  # id(module) -> qualified name
    order: dict[str, int]  # qualified name -> position in named_modules() order
    types: dict[str, str]  # qualified name -> class name
    layouts: dict[str, Windows]  # MaxViT's partitioned outputs (token_layouts)
    fast_path: bool  # has a module whose fused kernel a torch function mode would switch off
    fingerprint: tuple


_indices: PerModel[ModuleIndex] = PerModel()


def module_index(root: nn.Module) -> ModuleIndex:
    """The index of ``root``'s submodules: the one kept from an earlier capture while its tree is unchanged."""
    fingerprint = _fingerprint(root)
    known = _indices.get(root)
    if known is not None and known.fingerprint == fingerprint:
        return known
    index = _build(root, fingerprint)
    _indices.put(root, index)
    return index


def _build(root: nn.Module, fingerprint: tuple) -> ModuleIndex:
    modules = [(name, module) for name, module in root.named_modules() if name]
    types = {name: type(module).__name__ for name, module in modules}
    return ModuleIndex(
        names={id(module): name for name, module in modules},
        order={name: index for index, (name, _) in enumerate(modules)},
        types=types,
        layouts=window_layouts(modules) if "PartitionAttentionLayer" in types.values() else {},
        fast_path=any(isinstance(module, FAST_PATH_MODULES) for _, module in modules),
        fingerprint=fingerprint,
    )


def _fingerprint(root: nn.Module) -> tuple:
    """Every parent's child names, ids and classes, parents before children: about a third of what
    ``named_modules()`` costs, since no qualified name is built and nothing is deduplicated (a module
    registered in two places is listed twice; torch's own ``children()`` walks cannot loop either). Ids alone
    could be reused by a new module after an old one is freed; with the name and class beside them, a reused
    id in the same place means the same name and type, which is all the index holds."""
    parts: list = []
    stack: list = [root]
    while stack:
        module = stack.pop()
        children = module._modules if module is not None else None  # the registry named_modules() walks
        if children:
            values = children.values()
            parts.extend(children.keys())
            parts.extend(map(id, values))
            parts.extend(map(type, values))
            stack.extend(values)
    return tuple(parts)
