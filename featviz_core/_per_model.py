"""What featviz learns about a model, kept beside it and never on it.

Several things are learnt once per model and reused on every capture: its module index, which outputs a pass
overwrites in place, each layer's receptive field. They are kept in a weak-keyed table, so they go when the
model goes, behind a lock, since one model serves every session; nothing is set on the model itself (another
session may be running it).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable
from typing import Generic, Optional, TypeVar

from torch import nn

V = TypeVar("V")


class PerModel(Generic[V]):
    """Values kept per model and key; at most ``per_model`` keys per model (the oldest go first), if given.

    Example::

        >>> from torch import nn
        >>> from featviz_core._per_model import PerModel
        >>> plans = PerModel[str](per_model=2)
        >>> model = nn.Linear(2, 2)
        >>> plans.put(model, "a", key=(1, 2))
        >>> plans.get(model, (1, 2)), plans.get(model, (3, 4))
        ('a', None)
    """

    def __init__(self, per_model: Optional[int] = None) -> None:
        self._values: weakref.WeakKeyDictionary[nn.Module, dict[Hashable, V]] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        self._per_model = per_model

    def get(self, model: nn.Module, key: Hashable = None) -> Optional[V]:
        with self._lock:
            return self._values.get(model, {}).get(key)

    def put(self, model: nn.Module, value: V, key: Hashable = None) -> None:
        with self._lock:
            values = self._values.setdefault(model, {})
            if self._per_model is not None and len(values) >= self._per_model and key not in values:
                values.pop(next(iter(values)))
            values[key] = value
