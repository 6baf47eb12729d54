"""timm's architectures beside torchvision's, with weights from timm's own pretrained mechanism and cache.

A timm model is named as its weights are on the Hugging Face Hub, ``timm/<architecture>.<pretrained tag>``
(``timm/resnet18.a1_in1k``), one entry per pretrained tag timm knows. Its weights live in Hugging Face's cache
(``$HF_HUB_CACHE``, by default ``~/.cache/huggingface/hub``), where ``huggingface_hub`` puts them and where
timm looks: a file fetched by timm, ``huggingface-cli`` or ``python -m featviz_core weights fetch`` is found.
featviz asks the cache first and hands the file to timm's loader (``pretrained_cfg_overlay``), so a machine
without network never waits on the Hub. Preprocessing is timm's own data config for the model.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from ..errors import ModelError, WeightsUnavailableError

PREFIX = "timm/"
HUB_FILES = ("model.safetensors", "pytorch_model.bin")
"""What a timm weights repository holds, in the order timm prefers them."""


def is_timm_name(name: str) -> bool:
    return name.startswith(PREFIX)


@functools.cache
def list_timm_models() -> tuple[str, ...]:
    """Every timm architecture with pretrained weights, one entry per tag (about 1,800), sorted."""
    import timm

    return tuple(PREFIX + name for name in timm.list_models(pretrained=True))


def hub_cache() -> Path:
    """Hugging Face's cache folder, read from the environment as huggingface_hub does (on every call, so a
    process that changes ``HF_HOME`` or ``HF_HUB_CACHE`` is followed)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    return Path(home).expanduser() / "hub"


@dataclass(frozen=True)
class HubWeightsFile:
    """A timm model's pretrained weights on the Hub: where they are cached and where they come from. Answers
    the same questions as torchvision's :class:`~featviz_core.models._weights.WeightsFile`."""

    model: str
    weights: str  # the pretrained tag, e.g. "a1_in1k"
    repo_id: str

    @property
    def filename(self) -> str:
        cached = self._cached()
        return cached.name if cached is not None else HUB_FILES[0]

    @property
    def url(self) -> str:
        return f"https://huggingface.co/{self.repo_id}/resolve/main/{HUB_FILES[0]}"

    @property
    def folder(self) -> Path:
        return hub_cache() / ("models--" + self.repo_id.replace("/", "--"))

    @property
    def path(self) -> Path:
        return self._cached() or self.folder / "snapshots" / "…" / HUB_FILES[0]

    @property
    def is_cached(self) -> bool:
        return self._cached() is not None

    @property
    def how_to_get(self) -> str:
        return (f"fetch it while online with `python -m featviz_core weights fetch {self.model}`, which puts it "
                f"into Hugging Face's cache `{hub_cache()}`")

    def _cached(self) -> Optional[Path]:
        from huggingface_hub import try_to_load_from_cache

        for filename in HUB_FILES:
            found = try_to_load_from_cache(self.repo_id, filename, cache_dir=hub_cache())
            if isinstance(found, str) and os.path.getsize(found) > 0:
                return Path(found)
        return None

    def download(self) -> Path:
        """Fetch the weights into Hugging Face's cache with huggingface_hub; say plainly why not when offline."""
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import EntryNotFoundError

        if self.is_cached:
            return self.path
        last: Optional[BaseException] = None
        for filename in HUB_FILES:
            try:
                return Path(hf_hub_download(self.repo_id, filename, cache_dir=hub_cache()))
            except EntryNotFoundError as exc:  # the repository keeps the other format
                last = exc
            except Exception as exc:  # noqa: BLE001 - network, HTTP and file errors of huggingface_hub
                last = exc
                break
        raise self.unavailable("the Hugging Face Hub could not be reached", detail=last)

    def unavailable(self, reason: str, detail: Optional[BaseException] = None) -> WeightsUnavailableError:
        return WeightsUnavailableError(self.model, self.weights, HUB_FILES[0], str(self.folder), self.url, reason,
                                       detail=detail, how_to_get=self.how_to_get.replace("`", ""))


def hub_file(name: str) -> HubWeightsFile:
    """Describe ``timm/<architecture>.<tag>``'s weights without touching the network."""
    import timm

    architecture = name.removeprefix(PREFIX)
    if name not in set(list_timm_models()):
        raise ModelError(f"timm has no pretrained model named {architecture!r}.")
    config = timm.models.get_pretrained_cfg(architecture)
    repo = getattr(config, "hf_hub_id", None) or f"timm/{architecture}"
    tag = architecture.split(".", 1)[1] if "." in architecture else "default"
    return HubWeightsFile(name, tag, repo)


def build_timm(name: str, weights_path: Optional[Path], num_classes: Optional[int] = None) -> torch.nn.Module:
    """timm's model ``name``; pretrained from the cached file at ``weights_path`` through timm's own loader,
    or untrained (seeded by the caller) when it is None."""
    import timm

    architecture = name.removeprefix(PREFIX)
    extra = {} if num_classes is None else {"num_classes": num_classes}
    if weights_path is None:
        return timm.create_model(architecture, pretrained=False, **extra)
    return timm.create_model(architecture, pretrained=True, pretrained_cfg_overlay={"file": str(weights_path)},
                             **extra)


def timm_preprocess(module: torch.nn.Module):
    """timm's own evaluation transform for the model (its data config: size, crop, interpolation, mean, std)."""
    import timm.data

    config = timm.data.resolve_data_config({}, model=module)
    return timm.data.create_transform(**config), config


def timm_categories(module: torch.nn.Module) -> tuple[str, ...]:
    """ImageNet class names for a model whose head is an ImageNet subset timm knows; none otherwise."""
    import timm.data

    try:
        subset = timm.data.infer_imagenet_subset(module)
        names = timm.data.ImageNetInfo(subset).label_descriptions() if subset else ()
        return tuple(name.split(",")[0].strip() for name in names)  # "tench", as torchvision names it
    except Exception:  # noqa: BLE001 - a head timm cannot name
        return ()
