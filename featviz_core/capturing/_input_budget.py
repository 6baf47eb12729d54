"""How much memory a model's preprocessing would take for an image, checked before it runs.

A zoo model's preprocessing resizes the image's short side to a fixed size (256 px for most) before it
crops. For a long thin image that multiplies the long side: a 100-byte PNG of 20000×1 pixels would become
256 × 5,120,000 pixels, 5–16 GB, and one such upload could take a shared server's memory. So the size
the resize would produce is worked out from the image's header size first, and an image whose
preprocessing would need more than ``FEATVIZ_MAX_PREPROCESS_MB`` is refused with what to do.
"""

from __future__ import annotations

from typing import Any, Optional

from PIL import Image

from .. import settings
from ..errors import ImageError

_FLOAT_CHANNELS_BYTES = 3 * 4  # the resized picture as RGB float32; PIL's own uint8 copy is smaller


def short_side_target(preprocess: Any) -> Optional[int]:
    """The size a preprocessing resizes the short side to, where it does (None: it never enlarges)."""
    resize = getattr(preprocess, "resize_size", None)  # torchvision's ImageClassification presets
    if resize:
        return int(resize[0] if isinstance(resize, (list, tuple)) else resize)
    size = getattr(preprocess, "size", None)  # featviz_core.models._torchscript.GenericPreprocess
    return int(size) if isinstance(size, int) else None


def preprocess_bytes(image_size: tuple[int, int], target: int) -> int:
    """Bytes of the picture after resizing the short side of ``image_size`` (width, height) to ``target``."""
    width, height = image_size
    short, long = sorted((max(width, 1), max(height, 1)))
    return int(target * (target * long / short) * _FLOAT_CHANNELS_BYTES)


def check_preprocess_budget(image: Image.Image, preprocess: Any, model_name: str) -> None:
    """Raise :class:`ImageError` before preprocessing an image that would need too much memory."""
    target = short_side_target(preprocess)
    if target is None:
        return
    need = preprocess_bytes(image.size, target)
    limit = settings.current().max_preprocess_bytes
    if need <= limit:
        return
    width, height = image.size
    longest = limit / (target * target * _FLOAT_CHANNELS_BYTES)  # the most elongated shape that fits
    raise ImageError(
        f"This image is {width}×{height} pixels: very long and thin. {model_name} first scales its short "
        f"side to {target} px, which would take about {need / 2**30:.1f} GB of memory, more than this server "
        f"allows ({settings.current().max_preprocess_mb:.0f} MB). Crop it to a shape no longer than about "
        f"{longest:.0f}:1 and try again."
    )
