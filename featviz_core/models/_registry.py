"""A team's own architectures, named once and offered to everyone: from a settings file, or from Python.

The server's owner lists models in a TOML file named by ``FEATVIZ_MODELS_FILE``; each gets a name in every
Model list. This is code the owner installed and trusts (``package.module:factory``), never uploaded::

    [[model]]
    name = "cats-v3"                              # as it appears in the Model list
    factory = "ourlab.models:build_cats"          # a function (or class) returning a torch.nn.Module
    kwargs = { num_classes = 5 }                  # passed to it (optional)
    weights = "/srv/models/cats-v3.safetensors"   # a state dict, .safetensors or torch.save (optional)
    input_size = 224                              # a side, or [height, width]
    channels = 3
    mean = [0.485, 0.456, 0.406]
    std = [0.229, 0.224, 0.225]
    labels = "/srv/models/cats-v3.txt"            # class names, one per line or JSON (optional)

Paths are relative to the file. From Python, :func:`register_model` does the same for one session.
"""

from __future__ import annotations

import importlib
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import torch
from torch import nn

from .. import settings
from ..errors import ModelError
from ._state_dict import check_state_dict, read_state_dict

Factory = Callable[..., nn.Module]
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class RegisteredModel:
    """One of the team's models: how to build it, its weights and preprocessing, and its class names."""

    name: str
    factory: Union[str, Factory]  # "package.module:attribute", or the callable itself (from Python)
    weights: Optional[Path] = None
    input_size: tuple[int, int] = (224, 224)
    channels: int = 3
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    labels: Union[Path, tuple[str, ...], None] = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    def build(self) -> nn.Module:
        """Call the factory (imported now, from code the server's owner installed)."""
        factory = _import(self.factory, self.name) if isinstance(self.factory, str) else self.factory
        try:
            module = factory(**self.kwargs)
        except Exception as exc:  # noqa: BLE001 - whatever the team's own code raises
            raise ModelError(f"The factory of {self.name} ({_named(self.factory)}) failed to build the model.",
                             detail=exc) from None
        if not isinstance(module, nn.Module):
            raise ModelError(f"The factory of {self.name} ({_named(self.factory)}) returned a "
                             f"{type(module).__name__}, not a torch.nn.Module.")
        return module

    def categories(self) -> tuple[str, ...]:
        from ._labels import read_labels

        if self.labels is None:
            return ()
        if isinstance(self.labels, tuple):
            return self.labels
        try:
            return read_labels(self.labels.read_bytes(), self.labels.name)
        except OSError as exc:
            raise ModelError(f"The class names of {self.name} cannot be read from {self.labels}.", detail=exc) from None


@dataclass(frozen=True)
class LocalWeightsFile:
    """A registered model's weights file on the server: answers what torchvision's
    :class:`~featviz_core.models._weights.WeightsFile` does, with nothing to download."""

    model: str
    path_: Optional[Path]
    url: str = ""

    @property
    def weights(self) -> str:
        return self.path_.name if self.path_ else "(none listed)"

    @property
    def filename(self) -> str:
        return self.weights

    @property
    def folder(self) -> Path:
        return self.path_.parent if self.path_ else Path(settings.current().models_file or ".").parent

    @property
    def path(self) -> Path:
        return self.path_ or self.folder

    @property
    def is_cached(self) -> bool:
        return self.path_ is not None and self.path_.is_file()

    @property
    def how_to_get(self) -> str:
        if self.path_ is None:
            return f"the server's owner lists a weights file for {self.model} in FEATVIZ_MODELS_FILE"
        return f"the server's owner puts it at `{self.path_}`, where FEATVIZ_MODELS_FILE says it is"


def weights_of(name: str) -> LocalWeightsFile:
    return LocalWeightsFile(name, registered_models()[name].weights)


_REGISTERED: dict[str, RegisteredModel] = {}
"""Models registered from Python in this process (:func:`register_model`)."""


def register_model(
    name: str,
    factory: Union[str, Factory],
    *,
    weights: Union[str, Path, None] = None,
    input_size: Union[int, Sequence[int]] = 224,
    channels: int = 3,
    mean: Optional[Sequence[float]] = None,
    std: Optional[Sequence[float]] = None,
    labels: Union[str, Path, Sequence[str], None] = None,
    kwargs: Optional[dict[str, Any]] = None,
) -> RegisteredModel:
    """Offer a model of your own under ``name`` in :func:`~featviz_core.load_model` (and, when the dashboard runs
    in this process, its Model list), with its preprocessing and class names.

    ``factory`` is a callable returning a ``torch.nn.Module`` or its import path ``"package.module:factory"``;
    ``weights`` a state dict file (``.safetensors`` or ``torch.save``); ``labels`` class names or a file of
    them. Mean and std default to ImageNet's for colour and to none for one channel.

    Example::

        >>> import featviz_core as fv
        >>> _ = fv.register_model("tiny-resnet", "torchvision.models:resnet18", input_size=64,
        ...                       kwargs={"num_classes": 3}, labels=["cat", "dog", "bird"])
        >>> model = fv.load_model("tiny-resnet", weights=None)
        >>> model.preprocess(fv.load_sample("Cat (Chelsea)")).shape, model.categories
        (torch.Size([3, 64, 64]), ('cat', 'dog', 'bird'))
    """
    entry = _entry(name, factory, weights, input_size, channels, mean, std, labels, kwargs or {}, Path.cwd())
    _REGISTERED[name] = entry
    return entry


def registered_models() -> dict[str, RegisteredModel]:
    """The settings file's models, then those registered from Python (a name registered later wins)."""
    return {**_file_models(settings.current().models_file), **_REGISTERED}


def registry_problem() -> Optional[str]:
    """What is wrong with the settings file, in one sentence for the server's owner; None when nothing is."""
    try:
        _file_models(settings.current().models_file)
    except ModelError as exc:
        return str(exc)
    return None


def is_registered(name: str) -> bool:
    try:
        return name in registered_models()
    except ModelError:
        return name in _REGISTERED


def _file_models(path_text: str) -> dict[str, RegisteredModel]:
    """The models a settings file lists (read on every call: the owner may edit it while the server runs)."""
    if not path_text:
        return {}
    path = Path(path_text).expanduser()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"The models file {path} (FEATVIZ_MODELS_FILE) cannot be read.", detail=exc) from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"The models file {path} is not valid TOML: {exc}.") from None
    entries = document.get("model", [])
    if not isinstance(entries, list):
        raise ModelError(f"The models file {path} must list models as [[model]] tables.")
    models = {}
    for index, entry in enumerate(entries, start=1):
        unknown = set(entry) - _KEYS
        if unknown or "name" not in entry or "factory" not in entry:
            what = f"unknown keys {sorted(unknown)}" if unknown else "a name and a factory are required"
            raise ModelError(f"Model {index} in {path}: {what} (keys: {', '.join(sorted(_KEYS))}).")
        models[entry["name"]] = _entry(
            entry["name"], entry["factory"], entry.get("weights"), entry.get("input_size", 224),
            entry.get("channels", 3), entry.get("mean"), entry.get("std"), entry.get("labels"),
            entry.get("kwargs", {}), path.parent,
        )
    return models


_KEYS = {"name", "factory", "weights", "input_size", "channels", "mean", "std", "labels", "kwargs"}


def _entry(name: str, factory: Union[str, Factory], weights: Any, input_size: Any, channels: int,
           mean: Optional[Sequence[float]], std: Optional[Sequence[float]], labels: Any, kwargs: dict[str, Any],
           base: Path) -> RegisteredModel:
    if isinstance(factory, str) and ":" not in factory:
        raise ModelError(f"The factory of {name} must be written package.module:function, not {factory!r}.")
    if channels not in (1, 3):
        raise ModelError(f"{name} takes {channels} channels; featviz feeds models 1 (grayscale) or 3 (colour).")
    size = (int(input_size), int(input_size)) if isinstance(input_size, (int, float)) else tuple(map(int, input_size))
    colour = channels == 3
    mean = tuple(mean) if mean else (IMAGENET_MEAN if colour else (0.0,))
    std = tuple(std) if std else (IMAGENET_STD if colour else (1.0,))
    if len(size) != 2 or len(mean) != channels or len(std) != channels or not all(s > 0 for s in std):
        raise ModelError(f"{name}: give input_size as a side or [height, width], and one mean and one positive std "
                         "per channel.")
    if isinstance(labels, (str, Path)):
        labels = base / Path(labels).expanduser()
    elif labels is not None:
        labels = tuple(str(label) for label in labels)
    return RegisteredModel(name, factory, base / Path(weights).expanduser() if weights else None, size, channels,
                           mean, std, labels, dict(kwargs))


def _import(path: str, name: str) -> Factory:
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - ImportError, or whatever the team's module raises on import
        raise ModelError(f"The factory of {name} cannot be imported: {module_name} is not installed here or "
                         "failed to import. Install the team's package on the server.", detail=exc) from None
    factory = module
    for part in attribute.split("."):
        factory = getattr(factory, part, None)
        if factory is None:
            raise ModelError(f"The factory of {name}: {module_name} has no {attribute}.")
    if not callable(factory):
        raise ModelError(f"The factory of {name} ({path}) is not a function or class.")
    return factory


def _named(factory: Union[str, Factory]) -> str:
    return factory if isinstance(factory, str) else getattr(factory, "__qualname__", repr(factory))


def load_state(entry: RegisteredModel, module: nn.Module) -> None:
    """Put the entry's weights file into ``module``, after checking every tensor fits."""
    assert entry.weights is not None
    try:
        data = entry.weights.read_bytes()
    except OSError as exc:
        raise ModelError(f"The weights of {entry.name} are not at {entry.weights} on this server.",
                         detail=exc) from None
    state = read_state_dict(data, entry.weights.name)
    report = check_state_dict(module, state)
    if not report.ok:
        raise ModelError(f"{entry.weights.name} does not fit {entry.name}: {report.counts()}.",
                         detail=report.summary(limit=20))
    with torch.no_grad():
        module.load_state_dict(state)
