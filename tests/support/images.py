"""Pictures made in the test, so image tests need no files and show orientation or colour mistakes."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    """The image as the bytes of a file in format ``fmt`` (what an upload carries)."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def gradient_image(width: int = 64, height: int = 48) -> Image.Image:
    """A picture with distinct values everywhere, so orientation and colour errors show."""
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256], axis=-1)
    return Image.fromarray(rgb.astype(np.uint8), mode="RGB")
