"""Where torchvision's pretrained weights live, whether they can be had, and fetching them with progress.

featviz uses torchvision's own cache (``$TORCH_HOME/hub/checkpoints``) and file names, so a file a user
downloads by hand, or one torchvision fetched earlier, is found, and one featviz fetches is found by
torchvision. The download is done here rather than by ``torch.hub`` only to report progress to the UI.

For a class without network, fetch the checkpoints beforehand, while online::

    python -m featviz_core weights fetch resnet18 vgg16      # into $TORCH_HOME, with progress
    python -m featviz_core weights status resnet18 vgg16     # cached or not, and where
"""

from __future__ import annotations

import argparse
import enum
import hashlib
import os
import re
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union
from urllib.parse import urlparse

import torch
from torchvision.models import WeightsEnum, get_model_weights

from ..errors import ModelError, WeightsUnavailableError
from ._registry import LocalWeightsFile, is_registered, weights_of
from ._timm import HubWeightsFile, hub_cache, hub_file, is_timm_name

ProgressCallback = Callable[[int, Optional[int]], None]
"""Called with (bytes done, total bytes or None) while a download runs."""

_HASH_PREFIX = re.compile(r"-([a-f0-9]*)\.")  # the same rule torch.hub uses to check downloads


class WeightsState(enum.StrEnum):
    """Whether pretrained weights can be used right now."""

    CACHED = "cached"
    DOWNLOADABLE = "downloadable"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class WeightsFile:
    """One pretrained checkpoint: which enum member, its file name, and where torchvision keeps it."""

    model: str
    weights: str  # e.g. "IMAGENET1K_V1"
    url: str

    @property
    def filename(self) -> str:
        return os.path.basename(urlparse(self.url).path)

    @property
    def folder(self) -> Path:
        return Path(torch.hub.get_dir()) / "checkpoints"

    @property
    def path(self) -> Path:
        return self.folder / self.filename

    @property
    def is_cached(self) -> bool:
        return self.path.is_file() and self.path.stat().st_size > 0

    @property
    def how_to_get(self) -> str:
        return f"put it into `{self.folder}` (it comes from {self.url})"


def resolve_weights(model: str, weights: str = "default") -> WeightsEnum:
    """The torchvision enum member for ``weights`` ("default" means the architecture's DEFAULT)."""
    try:
        enum_cls = get_model_weights(model)
    except (KeyError, ValueError):
        raise ModelError(f"torchvision has no pretrained weights for a model named {model!r}.") from None
    if weights.lower() == "default":
        return enum_cls.DEFAULT
    try:
        return enum_cls[weights]
    except KeyError:
        names = ", ".join(member.name for member in enum_cls)
        raise ModelError(f"{model} has no weights named {weights!r}; it has: {names}.") from None


def weights_file(model: str, weights: str = "default") -> Union[WeightsFile, HubWeightsFile, LocalWeightsFile]:
    """Describe the checkpoint behind ``model``'s ``weights`` without touching the network (a timm model's
    lives in Hugging Face's cache: :class:`~featviz_core.models._timm.HubWeightsFile`)."""
    if is_timm_name(model):
        return hub_file(model)
    if is_registered(model):
        return weights_of(model)
    member = resolve_weights(model, weights)
    return WeightsFile(model=model, weights=member.name, url=member.url)


def weights_state(file: WeightsFile, *, timeout: float = 3.0) -> WeightsState:
    """Cached, downloadable (the server answers), or unavailable. Asks the network only when not cached."""
    if file.is_cached:
        return WeightsState.CACHED
    request = urllib.request.Request(file.url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (https from torchvision)
            return WeightsState.DOWNLOADABLE if response.status < 400 else WeightsState.UNAVAILABLE
    except (OSError, ValueError):
        return WeightsState.UNAVAILABLE


def download_weights(
    file: Union[WeightsFile, HubWeightsFile],
    progress: ProgressCallback | None = None,
    *,
    timeout: float = 30.0,
    chunk_size: int = 1 << 20,
) -> Path:
    """Fetch ``file`` into torchvision's cache, checking the hash prefix in its name as torch.hub does.

    Writes to a temporary file beside the target and renames it, so an interrupted download never leaves a
    half file where torchvision would load it. Raises :class:`WeightsUnavailableError` when offline. A timm
    model's weights are fetched by huggingface_hub into its own cache.
    """
    if file.is_cached:
        return file.path
    if isinstance(file, HubWeightsFile):
        return file.download()
    if isinstance(file, LocalWeightsFile):
        raise WeightsUnavailableError(file.model, file.weights, file.filename, str(file.folder), "", "a team's "
                                      "model has nothing to download", how_to_get=file.how_to_get.replace("`", ""))
    file.folder.mkdir(parents=True, exist_ok=True)
    expected = _HASH_PREFIX.search(file.filename)
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(file.url, timeout=timeout) as response:  # noqa: S310
            total = int(response.headers.get("Content-Length") or 0) or None
            done = 0
            with tempfile.NamedTemporaryFile(dir=file.folder, delete=False, suffix=".partial") as tmp:
                try:
                    while chunk := response.read(chunk_size):
                        tmp.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, total)
                except BaseException:
                    tmp.close()
                    os.unlink(tmp.name)
                    raise
        if expected and not digest.hexdigest().startswith(expected.group(1)):
            os.unlink(tmp.name)
            raise WeightsUnavailableError(
                file.model, file.weights, file.filename, str(file.folder), file.url,
                "the downloaded file did not match its checksum",
            )
        os.replace(tmp.name, file.path)
    except WeightsUnavailableError:
        raise
    except (OSError, ValueError) as exc:
        raise WeightsUnavailableError(
            file.model, file.weights, file.filename, str(file.folder), file.url, _reason(exc), detail=exc
        ) from None
    return file.path


def _reason(exc: BaseException) -> str:
    """Say in plain words why a download failed; the library's own words go into the error's detail."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"the download server answered {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return "there is no connection to the download server"
    if isinstance(exc, TimeoutError):
        return "the download timed out"
    if isinstance(exc, OSError):
        return "the file could not be fetched or written"
    return "the download failed"


def _print_progress(name: str) -> ProgressCallback:
    def report(done: int, total: Optional[int]) -> None:
        share = f" {done / total:4.0%} of {total / 2**20:.0f} MB" if total else f" {done / 2**20:.0f} MB"
        print(f"\r  {name}:{share}", end="", file=sys.stderr, flush=True)

    return report


def _resolved(models: list[str], weights: str) -> Iterator[tuple[str, Optional[Union[WeightsFile, HubWeightsFile]]]]:
    """Each model with its checkpoint's description, or None after saying on stderr why it has none."""
    for model in models:
        try:
            yield model, weights_file(model, weights)
        except ModelError as exc:
            print(f"{model}: {exc}", file=sys.stderr)
            yield model, None


def fetch(models: list[str], weights: str = "default") -> int:
    """Download each model's checkpoint into torchvision's cache; returns how many could not be had."""
    failed = 0
    for model, file in _resolved(models, weights):
        if file is None:
            failed += 1
            continue
        cached = file.is_cached
        try:
            path = download_weights(file, _print_progress(model))
        except WeightsUnavailableError as exc:
            print(f"\n{model}: {exc}", file=sys.stderr)
            failed += 1
            continue
        end_of_progress = "" if cached else "\n"
        print(f"{end_of_progress}{model} {file.weights}: {'already cached' if cached else 'fetched'}, {path}")
    return failed


def status(models: list[str], weights: str = "default") -> int:
    """Say for each model whether its checkpoint is cached (never asks the network); returns how many are not."""
    missing = 0
    for model, file in _resolved(models, weights):
        missing += file is None or not file.is_cached
        if file is not None:
            print(f"{model} {file.weights}: {'cached' if file.is_cached else 'not cached'}, {file.path}")
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m featviz_core weights",
                                     description="Fetch torchvision checkpoints into $TORCH_HOME, and timm's "
                                     "(timm/<name>) into Hugging Face's cache, for offline use.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("fetch", "download each model's checkpoint (skips those already cached)"),
                       ("status", "say whether each model's checkpoint is cached, without the network")):
        command = commands.add_parser(name, help=text)
        command.add_argument("models", nargs="+", metavar="MODEL",
                             help="torchvision or timm model names, e.g. resnet18 timm/resnet18.a1_in1k")
        command.add_argument("--weights", default="default", help="a weights name (default: the model's DEFAULT)")
    args = parser.parse_args(argv)
    print(f"torchvision cache: {Path(torch.hub.get_dir()) / 'checkpoints'}", file=sys.stderr)
    if any(is_timm_name(model) for model in args.models):
        print(f"Hugging Face cache (timm): {hub_cache()}", file=sys.stderr)
    left = (fetch if args.command == "fetch" else status)(args.models, args.weights)
    return 1 if left else 0
