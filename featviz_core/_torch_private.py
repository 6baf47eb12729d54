"""Every use of torch's private API in featviz, in one place: what it is for and what to do when it changes.

featviz needs three things that torch offers no public API for:

1. **Bookkeeping a ``TorchFunctionMode`` does not see** (:func:`unwatched`, ``torch._C.DisableTorchFunction``).
   Capture records each layer's input shape from inside a forward hook while copy-on-write watches every
   torch call for in-place writes; reading a shape there must not count as the model's call. If it goes,
   read the shape through ``torch.overrides._pop_mode_temporarily`` or record it before the mode is entered.
2. **One extra node in a TorchScript module's compiled graphs** (:func:`add_output_recorder`: a
   ``ScriptModule``'s ``_c`` object, ``torch._C`` types, ``Graph.create``). Python hooks cannot be registered
   on ScriptModules, and a scripted parent calls its children inside the interpreter where Python never
   sees them, so each submodule's ``forward`` returns through a recording operator instead. ``torch.jit`` is
   deprecated in torch 2.14; when it is removed, this part goes with TorchScript uploads.

3. **The tensors inside any module output** (:func:`tree_leaves`, ``torch.utils._pytree``): a module may
   return a tuple, a dict, a named tuple or a registered output class; the receptive field follows the first
   tensor in it, found the way torch itself flattens outputs. If it goes, walk tuples, lists and dicts by
   hand (what torchvision's models return).

``tests/test_uploads.py``, ``tests/test_capture.py`` and ``tests/test_receptive_field.py`` exercise all three
on every run, so a torch upgrade that changes them fails there first.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import torch

_MARK_ATTRIBUTE = "__featviz_instrumented"


def tree_leaves(tree: Any) -> list[Any]:
    """Every leaf of a nested output (tuples, lists, dicts, named tuples, registered classes), in order."""
    from torch.utils import _pytree

    return _pytree.tree_leaves(tree)


def unwatched() -> AbstractContextManager:
    """A block in which active ``TorchFunctionMode``s see no torch call."""
    return torch._C.DisableTorchFunction()


def is_instrumented(root: torch.jit.ScriptModule) -> bool:
    return root._c.hasattr(_MARK_ATTRIBUTE)


def add_output_recorder(root: torch.jit.ScriptModule, operator: str, name_attribute: str) -> None:
    """Make every submodule's ``forward`` return ``operator(name, output)`` instead of ``output``.

    ``operator`` is a registered ``(str name, Tensor(a) t) -> Tensor(a)`` op; ``name`` is read at run time
    from the string attribute ``name_attribute`` set here on each submodule to its qualified name. Instances
    of one type share one compiled graph, so each type's graph is changed once. Submodules whose forward
    returns something other than one tensor are left as they are. Done once per model.
    """
    if is_instrumented(root):
        return
    string = torch._C.StringType.get()
    done: set[str] = set()
    for name, sub in root.named_modules():
        if not name:
            continue
        c = sub._c
        if c.hasattr(name_attribute):
            c.setattr(name_attribute, name)
        else:
            c._register_attribute(name_attribute, string, name)
        type_name = str(c._type())
        if type_name in done or not c._has_method("forward"):
            continue
        done.add(type_name)
        graph = c._get_method("forward").graph
        ret = graph.return_node()
        outputs = list(ret.inputs())
        if len(outputs) != 1 or not outputs[0].type().isSubtypeOf(torch._C.TensorType.get()):
            continue  # tuples and other outputs: not recorded
        value = outputs[0]
        get_name = graph.create("prim::GetAttr", [next(iter(graph.inputs()))])
        get_name.s_("name", name_attribute)
        get_name.output().setType(string)
        get_name.insertBefore(ret)
        record = graph.create(operator, [get_name.output(), value], 1)
        record.output().setType(value.type())
        record.insertBefore(ret)
        ret.replaceInputWith(value, record.output())
    root._c._register_attribute(_MARK_ATTRIBUTE, torch._C.BoolType.get(), True)
