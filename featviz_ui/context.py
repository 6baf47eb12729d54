"""What a page starts from: the image and the model the sidebar chose, their capture, and what went wrong."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Optional, Union

from PIL import Image

import featviz_core as fv

from .messages import Problem


@dataclass(frozen=True)
class ImageChoice:
    """The image on screen: its bytes (the cache key's source), a name to show, and the decoded picture."""

    data: bytes
    name: str
    digest: str
    image: Image.Image


@dataclass
class Context:
    """What the shared sidebar chose this run: every page starts from it."""

    image: ImageChoice
    model: Optional[fv.LoadedModel]
    model_key: str = ""
    captured: Optional[fv.Capture] = None
    problems: list[Union[str, Problem]] = field(default_factory=list)  # errors to show in the main area
    notices: list[str] = field(default_factory=list)  # warnings to show in the main area

    @property
    def capture_key(self) -> tuple[str, str]:
        """The key of this image and model's capture in the shared caches."""
        return self.image.digest, self.model_key


def digest(data: bytes) -> str:
    """A short content key: cache keys stay small, so a rerun never re-hashes a large array."""
    return hashlib.sha256(data).hexdigest()[:32]


def decode(data: bytes, name: str) -> ImageChoice:
    """Decode bytes into an ImageChoice; raises fv.ImageError with a message for the user."""
    return ImageChoice(data, name, digest(data), fv.load_image(data))
