"""Class names for a model that brings its own head, so predictions read "cat", not "class 2".

A labels file is text, one name per line (the ``synset.txt`` / ``labels.txt`` every model zoo ships), or JSON:
a list of names, or an object from class index to a name or to a list ending in one (Keras'
``imagenet_class_index.json``: ``{"0": ["n01440764", "tench"], ...}``).
"""

from __future__ import annotations

import json

from ..errors import ModelError

MAX_LABELS_BYTES = 4 * 1024 * 1024
"""A labels file is small; anything larger is not one."""


def read_labels(data: bytes, filename: str = "the labels file") -> tuple[str, ...]:
    """The class names in ``data``, in class order. Raises :class:`ModelError` for what is not a labels file.

    Example::

        >>> from featviz_core.models._labels import read_labels
        >>> read_labels(b"cat\\ndog\\n")
        ('cat', 'dog')
        >>> read_labels(b'{"0": ["n01440764", "tench"], "1": ["n01443537", "goldfish"]}', "index.json")
        ('tench', 'goldfish')
    """
    if len(data) > MAX_LABELS_BYTES:
        raise ModelError(f"{filename} is {len(data) / 2**20:.0f} MB: a labels file is a short list of class names.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ModelError(f"{filename} is not text: give class names one per line, or as JSON.") from None
    stripped = text.strip()
    if stripped[:1] in ("[", "{"):
        names = _from_json(stripped, filename)
    else:
        names = tuple(line.strip() for line in stripped.splitlines())
    if not names or not all(names):
        raise ModelError(f"{filename} has no class names, or an empty one: give one name per line.")
    return names


def _from_json(text: str, filename: str) -> tuple[str, ...]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"{filename} is not valid JSON ({exc.msg}, line {exc.lineno}).") from None
    if isinstance(value, list):
        return tuple(_name(item, filename) for item in value)
    if isinstance(value, dict):
        try:
            order = sorted(value, key=int)
        except (TypeError, ValueError):
            raise ModelError(f'{filename}: a JSON object of labels needs class numbers ("0", "1", …) as keys.') \
                from None
        if [int(key) for key in order] != list(range(len(order))):
            raise ModelError(f"{filename}: the class numbers must run 0, 1, 2, … without gaps.")
        return tuple(_name(value[key], filename) for key in order)
    raise ModelError(f"{filename}: give a JSON list of names, or an object from class number to name.")


def _name(item: object, filename: str) -> str:
    if isinstance(item, list) and item and isinstance(item[-1], str):
        item = item[-1]
    if not isinstance(item, str):
        raise ModelError(f"{filename}: every class name must be text, found {item!r}.")
    return item.strip()
