"""Images that ship with featviz: real photographs (see ``samples/SOURCES.md``) and drawn test patterns.

The patterns are chosen to make early filters light up in ways a class can predict: oriented stripes for
edge detectors of each angle, a checkerboard for corners, circles for every orientation at once.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources

import numpy as np
from PIL import Image

from .images import load_image

_PHOTOS: dict[str, tuple[str, str]] = {
    "Cat (Chelsea)": ("chelsea.jpg", "photograph, CC0"),
    "Coffee cup": ("coffee.jpg", "photograph, CC0"),
    "Astronaut": ("astronaut.jpg", "photograph, public domain (NASA)"),
    "Rocket launch": ("rocket.jpg", "photograph, public domain (SpaceX)"),
    "Camera operator (grayscale)": ("camera.jpg", "photograph, CC0"),
    "Brick wall (grayscale)": ("brick.jpg", "texture photograph, CC0"),
}

_DIGITS = {
    f"Handwritten {d}": (f"digits/digit_{d}.png", "held-out real MNIST digit (CC BY-SA 3.0)")
    for d in range(10)
}

_PATTERN_SIZE = 224


def _stripes(angle_degrees: float, period: int = 16) -> Callable[[], Image.Image]:
    def draw() -> Image.Image:
        y, x = np.mgrid[0:_PATTERN_SIZE, 0:_PATTERN_SIZE].astype(np.float64)
        theta = np.deg2rad(angle_degrees)
        # rounded so 90° is exactly horizontal, not tilted by cos(π/2) ≈ 6e-17
        phase = (x * round(np.cos(theta), 12) + y * round(np.sin(theta), 12)) * (2 * np.pi / period)
        return _gray(np.sin(phase) > 0)

    return draw


def _checkerboard(square: int = 28) -> Image.Image:
    y, x = np.mgrid[0:_PATTERN_SIZE, 0:_PATTERN_SIZE]
    return _gray(((y // square) + (x // square)) % 2 == 0)


def _circles(period: int = 20) -> Image.Image:
    y, x = np.mgrid[0:_PATTERN_SIZE, 0:_PATTERN_SIZE].astype(np.float64)
    c = (_PATTERN_SIZE - 1) / 2
    radius = np.hypot(x - c, y - c)
    return _gray((radius // (period / 2)) % 2 == 0)


def _gray(mask: np.ndarray) -> Image.Image:
    return Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), mode="L").convert("RGB")


_PATTERNS: dict[str, tuple[Callable[[], Image.Image], str]] = {
    "Stripes 0° (vertical)": (_stripes(0), "test pattern"),
    "Stripes 45°": (_stripes(45), "test pattern"),
    "Stripes 90° (horizontal)": (_stripes(90), "test pattern"),
    "Stripes 135°": (_stripes(135), "test pattern"),
    "Checkerboard": (_checkerboard, "test pattern"),
    "Circles": (_circles, "test pattern"),
}

DEFAULT_SAMPLE = "Handwritten 7"
"""The first image of a fresh start: a digit, since the bundled digits CNN is the default model."""


def list_samples() -> list[str]:
    """Names of every bundled image: digits, photographs, then test patterns.

    Example::

        >>> import featviz_core as fv
        >>> fv.list_samples()[:2]
        ['Handwritten 0', 'Handwritten 1']
    """
    return [*_DIGITS, *_PHOTOS, *_PATTERNS]


def sample_description(name: str) -> str:
    """One line on what the sample is and its licence."""
    for files in (_DIGITS, _PHOTOS):
        if name in files:
            return files[name][1]
    if name in _PATTERNS:
        return _PATTERNS[name][1]
    raise KeyError(f"No sample named {name!r}. Choose one of: {', '.join(list_samples())}.")


def sample_bytes(name: str) -> bytes:
    """The sample as encoded file bytes: what the UI hashes and caches, like an upload."""
    for files in (_DIGITS, _PHOTOS):
        if name in files:
            return resources.files(__package__).joinpath("samples", files[name][0]).read_bytes()
    if name in _PATTERNS:
        import io

        buffer = io.BytesIO()
        _PATTERNS[name][0]().save(buffer, format="PNG")
        return buffer.getvalue()
    raise KeyError(f"No sample named {name!r}. Choose one of: {', '.join(list_samples())}.")


def load_sample(name: str = DEFAULT_SAMPLE) -> Image.Image:
    """A bundled image as RGB, decoded the same way as an upload.

    Example::

        >>> import featviz_core as fv
        >>> fv.load_sample("Handwritten 7").size
        (...)
    """
    return load_image(sample_bytes(name))
