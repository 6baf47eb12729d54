"""Build a model ready to look inside: eval mode, frozen, on the best device, with its own preprocessing.

A :class:`LoadedModel` is meant to be shared by every browser session (Streamlit's ``cache_resource``), so
nothing after :func:`load_model` may change it: captures add hooks only for the length of one forward pass
and only record the calling thread's activations (see :mod:`featviz_core.capturing._capture`).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
import torchvision
from PIL import Image
from torch import nn
from torchvision.models import get_model, get_model_weights, list_models

from ..errors import ModelError, WeightsUnavailableError
from . import _digits as digits
from . import _registry as registry
from ._preprocess import GenericPreprocess
from ._registry import is_registered, load_state, registered_models
from ._timm import build_timm, hub_file, is_timm_name, list_timm_models, timm_categories, timm_preprocess
from ._weights import ProgressCallback, download_weights, resolve_weights, weights_file

BUNDLED_WEIGHTS = "featviz digits (bundled)"
UNTRAINED_SEED = 0
"""Seed for untrained (random) weights, so an untrained model looks the same in every session."""

Preprocess = Callable[[Image.Image], torch.Tensor]


@dataclass(frozen=True)
class LoadedModel:
    """A model plus what is needed to feed it and to say honestly what it is.

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> model.name, model.trained, model.num_params
        ('digits_cnn', True, ...)
        >>> model.preprocess(fv.load_sample("Handwritten 7")).shape    # what the model is fed
        torch.Size([1, 28, 28])
    """

    name: str
    module: nn.Module
    preprocess: Preprocess  # PIL image -> (C, H, W) float tensor, the model's own input pipeline
    weights: Optional[str]  # torchvision weights name, e.g. "IMAGENET1K_V1"; None when untrained
    categories: tuple[str, ...] = ()
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    num_params: int = 0
    source: str = "torchvision"
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def trained(self) -> bool:
        return self.weights is not None

    @property
    def device(self) -> torch.device:
        return module_device(self.module)

    def input_image(self, tensor: torch.Tensor) -> Image.Image:
        """The preprocessed input as a picture: normalization undone, so people see what the model saw."""
        x = tensor.detach().to("cpu", torch.float32)
        if x.dim() == 4:
            x = x[0]
        if x.shape[0] == len(self.mean):
            x = x * torch.tensor(self.std).view(-1, 1, 1) + torch.tensor(self.mean).view(-1, 1, 1)
        array = (x.clamp(0, 1) * 255).round().to(torch.uint8)
        if array.shape[0] == 1:
            return Image.fromarray(array[0].numpy(), mode="L")
        return Image.fromarray(array[:3].permute(1, 2, 0).contiguous().numpy(), mode="RGB")

    @property
    def label(self) -> str:
        """How every view names this model: the weights, or a plain 'untrained' warning."""
        if self.trained:
            return f"{self.name} · {self.weights}"
        return f"{self.name} · UNTRAINED (random weights, seed {UNTRAINED_SEED})"


def available_models() -> list[str]:
    """Every model name :func:`load_model` takes: the bundled digits CNN first, then the team's own models
    (:func:`register_model`, ``FEATVIZ_MODELS_FILE``), torchvision's zoo, and timm's pretrained models
    (``timm/<architecture>.<tag>``).

    Example::

        >>> import featviz_core as fv
        >>> fv.available_models()[:3]
        ['digits_cnn', 'alexnet', 'convnext_base']
    """
    try:
        own = list(registered_models())
    except ModelError:
        own = list(registry._REGISTERED)  # the settings file is broken: registry_problem() says how
    return [digits.NAME, *own, *list_zoo_models(), *list_timm_models()]


def list_zoo_models() -> list[str]:
    """torchvision's image classification architectures (detection, video etc. live in submodules)."""
    return sorted(list_models(module=torchvision.models))


def best_device() -> torch.device:
    """CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter or buffer (CPU for a module with neither)."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def load_model(
    name: str,
    weights: Optional[str] = "default",
    *,
    device: torch.device | str | None = None,
    download: bool = True,
    progress: ProgressCallback | None = None,
) -> LoadedModel:
    """Build model ``name`` with ``weights`` ("default", a weights name, or None for untrained).

    ``name`` is ``"digits_cnn"`` (bundled, trained by featviz, works offline) or a torchvision
    classification model.

    Pretrained weights come through torchvision's weights API and cache. When they are not cached they are
    downloaded (``progress`` hears how far) unless ``download`` is False; when that is impossible a
    :class:`~featviz_core.errors.WeightsUnavailableError` names the file and folder to put it in.

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("resnet18", weights=None)      # untrained, seeded: no download
        >>> model.trained, model.label
        (False, 'resnet18 · UNTRAINED (random weights, seed 0)')
    """
    if name == digits.NAME:
        return _load_digits(weights is not None, device)
    if is_registered(name):
        return _load_registered(name, weights is not None, device)
    if is_timm_name(name):
        return _load_timm(name, weights is not None, device, download)
    if name not in set(list_zoo_models()):
        raise ModelError(
            f"Unknown model {name!r}. featviz knows {digits.NAME}, torchvision's classification models and "
            "timm's (timm/<name>)."
        )
    member = resolve_weights(name, "default" if weights is None else weights)
    if weights is not None:
        file = weights_file(name, member.name)
        if not file.is_cached:
            if not download:
                raise WeightsUnavailableError(
                    name, member.name, file.filename, str(file.folder), file.url, "downloading is turned off"
                )
            download_weights(file, progress)
    module = _build(name, member if weights is not None else None)
    module.eval().requires_grad_(False)
    module.to(torch.device(device) if device is not None else best_device())
    transform = member.transforms()
    return LoadedModel(
        name=name,
        module=module,
        preprocess=transform,
        weights=member.name if weights is not None else None,
        categories=tuple(member.meta.get("categories", ())),
        mean=tuple(getattr(transform, "mean", LoadedModel.mean)),
        std=tuple(getattr(transform, "std", LoadedModel.std)),
        num_params=sum(p.numel() for p in module.parameters()),
    )


def _load_registered(name: str, trained: bool, device: torch.device | str | None) -> LoadedModel:
    """One of the team's own models (:mod:`featviz_core.models._registry`): its factory, its weights file, its
    settings."""
    entry = registered_models()[name]
    if trained and entry.weights is None:
        raise ModelError(f"No weights file is listed for {name}: use untrained weights, or upload a state dict.")
    module = _seeded(entry.build)
    if trained:
        load_state(entry, module)
    module.eval().requires_grad_(False)
    module.to(torch.device(device) if device is not None else best_device())
    return LoadedModel(
        name=name,
        module=module,
        preprocess=GenericPreprocess(entry.input_size, entry.channels, entry.mean, entry.std),
        weights=entry.weights.name if trained and entry.weights else None,
        categories=entry.categories(),
        mean=entry.mean,
        std=entry.std,
        num_params=sum(p.numel() for p in module.parameters()),
        source="registered",
    )


def _load_timm(name: str, trained: bool, device: torch.device | str | None, download: bool) -> LoadedModel:
    """A timm model, its weights from Hugging Face's cache (fetched there first when allowed and possible)."""
    file = hub_file(name)
    path = None
    if trained:
        if not file.is_cached:
            if not download:
                raise file.unavailable("downloading is turned off")
            file.download()
        path = file.path
    try:
        module = _seeded(lambda: build_timm(name, path))
    except MemoryError:
        raise ModelError(f"{name} needs more memory than this machine can give it. Choose a smaller model.") from None
    except (RuntimeError, OSError, ValueError, KeyError) as exc:
        raise ModelError(f"timm could not build {name} from {file.filename}: the file is damaged or is not these "
                         "weights. Fetch it again.", detail=exc) from None
    module.eval().requires_grad_(False)
    module.to(torch.device(device) if device is not None else best_device())
    transform, config = timm_preprocess(module)
    return LoadedModel(
        name=name,
        module=module,
        preprocess=transform,
        weights=file.weights if trained else None,
        categories=timm_categories(module),
        mean=tuple(config["mean"]),
        std=tuple(config["std"]),
        num_params=sum(p.numel() for p in module.parameters()),
        source="timm",
    )


def _load_digits(trained: bool, device: torch.device | str | None) -> LoadedModel:
    """The bundled digits CNN: its weights ship inside the package, so this never needs a network."""
    module, preprocess = digits.build(trained)
    module.eval().requires_grad_(False)
    module.to(torch.device(device) if device is not None else best_device())
    return LoadedModel(
        name=digits.NAME,
        module=module,
        preprocess=preprocess,
        weights=BUNDLED_WEIGHTS if trained else None,
        categories=digits.CLASSES,
        mean=(preprocess.mean,),
        std=(preprocess.std,),
        num_params=sum(p.numel() for p in module.parameters()),
        source="bundled",
    )


def _too_big(name: str) -> str:
    try:
        params = get_model_weights(name).DEFAULT.meta.get("num_params", 0)
    except (KeyError, ValueError):
        params = 0
    need = f" (about {params * 4 / 2**30:.1f} GB for its {params / 1e6:.0f} M parameters)" if params else ""
    return f"{name} needs more memory than this machine can give it{need}. Choose a smaller model."


def _default_weights_config(name: str) -> dict[str, Any]:
    """Builder arguments that torchvision's DEFAULT weights would set, for an untrained model of their shape.

    torchvision's ``vit_*`` builders set ``image_size`` to their weights' ``min_size`` only when weights are
    given: untrained, ``vit_h_14`` was built for 224 px while its default preprocessing crops 518. Other
    builders read no size from their weights (and some would silently take an ``image_size`` they ignore).
    """
    if not name.startswith("vit_"):
        return {}
    return {"image_size": get_model_weights(name).DEFAULT.meta["min_size"][0]}


def _seeded(build: Callable[[], nn.Module]) -> nn.Module:
    """Run a builder with the untrained seed, leaving the caller's random state as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(UNTRAINED_SEED)
        return build()


def _build(name: str, weights: object) -> nn.Module:
    """Call torchvision's builder; random initialisation is seeded so untrained models are reproducible.

    An untrained model is built in its default weights' configuration, so it takes the input that their
    preprocessing makes (:func:`_default_weights_config`).
    """
    try:
        config = _default_weights_config(name) if weights is None else {}
        return _seeded(lambda: get_model(name, weights=weights, **config))
    except WeightsUnavailableError:
        raise
    except MemoryError:
        raise ModelError(_too_big(name)) from None
    except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        if "out of memory" in str(exc).lower() or "can't allocate memory" in str(exc).lower():
            raise ModelError(_too_big(name)) from None
        if weights is not None:
            file = weights_file(name, getattr(weights, "name", "default"))
            raise ModelError(
                f"The cached weights file {file.path} could not be loaded: it may be damaged. Please delete it and "
                "load the model again, or use untrained weights.",
                detail=exc,
            ) from None
        raise ModelError(f"{name} could not be built. Choose another model.", detail=exc) from None
