"""Decode whatever a person uploads into one upright RGB picture, or say clearly why not.

Decoding is the first thing an untrusted upload touches, so every failure becomes an :class:`ImageError`
with a message fit for the UI, and the size is checked from the header before any pixel is decoded.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path
from typing import BinaryIO, Optional, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import settings
from .errors import ImageError

ImageSource = Union[str, "os.PathLike[str]", bytes, bytearray, BinaryIO, Image.Image]

#: Formats featviz decodes. MPO is what many cameras write for JPEG.
SUPPORTED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "MPO", "WEBP", "BMP", "GIF", "TIFF")
#: File extensions offered in upload dialogs.
UPLOAD_EXTENSIONS: tuple[str, ...] = ("png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff")

_EXIF_ORIENTATION = 0x0112
NOTES_KEY = "featviz_notes"
"""Key in ``image.info`` under which :func:`load_image` lists what it changed (rotation, frames, ...)."""

READABLE = "PNG, JPEG, WebP, BMP, GIF or TIFF"
_NO_MEMORY = "The image needs more memory to decode than this server can give it. Scale it down and upload it again."
_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF87a": "GIF", b"GIF89a": "GIF", b"BM": "BMP",
    b"II*\x00": "TIFF", b"MM\x00*": "TIFF",
}
_UNSUPPORTED_VARIANT = re.compile(r"unsupported|not supported|unknown|not available|cannot handle", re.IGNORECASE)
"""How Pillow words a file it understands but cannot decode (a BMP bitfields layout, a TIFF compression),
as opposed to one that is broken."""


def load_image(
    source: ImageSource,
    *,
    max_pixels: Optional[int] = None,
    max_bytes: Optional[int] = None,
) -> Image.Image:
    """Return ``source`` as an upright 8-bit RGB image.

    ``source`` is a path, the file's bytes, a binary file object or a PIL image. Whatever had to be changed
    to get there (EXIF rotation, first frame of an animation, transparency flattened onto white, 16-bit
    depth scaled) is listed in ``image.info["featviz_notes"]`` so the UI can say so.

    Raises :class:`ImageError` for anything that is not a decodable image of a supported format and size
    (limits: :mod:`featviz_core.settings`). Nothing else escapes: a file that trips Pillow up anywhere is
    reported as damaged, or as a variant Pillow cannot decode, with Pillow's own words in ``detail``.

    Example::

        >>> import featviz_core as fv
        >>> from featviz_core.samples import sample_bytes
        >>> fv.load_image(sample_bytes("Coffee cup")).mode       # a path, bytes or a file object
        'RGB'
        >>> fv.load_image(b"not an image")
        Traceback (most recent call last):
        ...
        featviz_core.errors.ImageError: ...
    """
    max_pixels = max_pixels or settings.current().max_image_pixels
    max_bytes = max_bytes or settings.current().max_image_bytes
    if isinstance(source, Image.Image):
        return _to_rgb(source, notes=[])
    data = _read_bytes(source, max_bytes)
    if not data:
        raise ImageError("The file is empty (0 bytes). Choose the picture again, or another file.")
    kind = _sniff_unsupported(data)
    if kind:
        raise ImageError(
            f"{kind} files are not supported (featviz reads {READABLE}). Export the picture as PNG or JPEG "
            "and upload that."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Pillow's notes on corrupt tags: damage is reported here
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=_registered_formats())
            _check_size(image.size, max_pixels)
            notes: list[str] = []
            frames = getattr(image, "n_frames", 1)
            if frames > 1:
                image.seek(0)
                notes.append(f"animated image: showing the first of its {frames} frames")
            image.load()
    except ImageError:
        raise
    except UnidentifiedImageError as exc:
        raise _unrecognised(data, exc) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"The image is too large to open safely: over the limit of {max_pixels:,} pixels. Scale it down and "
            "upload it again."
        ) from None
    except MemoryError:
        raise ImageError(_NO_MEMORY) from None
    except Exception as exc:  # noqa: BLE001 - corrupt input can trip any of Pillow's decoders in any way
        raise _undecodable(data, exc) from None
    fmt = image.format or "image"
    upright = image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            if image.getexif().get(_EXIF_ORIENTATION, 1) not in (1, None):
                upright = ImageOps.exif_transpose(image)
                notes.append("rotated upright as its EXIF orientation asks")
    except Exception:  # noqa: BLE001 - a broken EXIF block must not lose an otherwise fine picture
        upright = image
    try:
        result = _to_rgb(upright, notes)
    except MemoryError:
        raise ImageError(_NO_MEMORY) from None
    except Exception as exc:  # noqa: BLE001 - a mode or palette damaged in ways only conversion finds
        raise _undecodable(data, exc) from None
    result.info["format"] = fmt
    return result


def _format_of(data: bytes) -> Optional[str]:
    """The supported format the file's first bytes announce, whatever follows them."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return next((fmt for magic, fmt in _SIGNATURES.items() if data.startswith(magic)), None)


def _unrecognised(data: bytes, exc: BaseException) -> ImageError:
    """No decoder took the file: a damaged start of a known format, or not a picture at all."""
    fmt = _format_of(data)
    if fmt is not None:
        return ImageError(
            f"This {fmt} file is damaged: its beginning cannot be read. Export or save it again from the program "
            "that made it, then upload the new file.",
            detail=exc,
        )
    return ImageError(
        f"This file is not an image featviz can read ({READABLE}). It may be another kind of file, or damaged: "
        "if it opens in an image program, save it again from there; otherwise choose another file.",
        detail=exc,
    )


def _undecodable(data: bytes, exc: BaseException) -> ImageError:
    """A decoder took the file and failed: a variant it does not support, or damage."""
    fmt = _format_of(data) or "image"
    if _UNSUPPORTED_VARIANT.search(str(exc)):
        return ImageError(
            f"This {fmt} file uses a variant of the format that featviz cannot decode; the file itself is probably "
            "fine. Open it in an image program, save it as PNG, and upload that.",
            detail=exc,
        )
    return ImageError(
        f"This {fmt} file is damaged or truncated (part of it is missing or corrupt), so it cannot be decoded. "
        "Export or save it again, then upload the new file.",
        detail=exc,
    )


def _registered_formats() -> list[str]:
    """The supported formats this Pillow build has plugins for (MPO, for one, registers only on init)."""
    Image.init()
    return [fmt for fmt in SUPPORTED_FORMATS if fmt in Image.OPEN]


def _read_bytes(source: ImageSource, max_bytes: int) -> bytes:
    """Read the whole upload, refusing it early when it is over the size limit."""
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"No image file at {path}.")
        if path.stat().st_size > max_bytes:
            raise ImageError(_too_big(path.stat().st_size, max_bytes))
        data = path.read_bytes()
    elif hasattr(source, "read"):
        if hasattr(source, "seek"):
            source.seek(0)
        data = source.read(max_bytes + 1)
        if not isinstance(data, (bytes, bytearray)):
            raise ImageError("The upload could not be read as binary data.")
        data = bytes(data)
    else:
        raise ImageError(f"Cannot read an image from a {type(source).__name__}.")
    if len(data) > max_bytes:
        raise ImageError(_too_big(len(data), max_bytes))
    return data


def _too_big(size: int, limit: int) -> str:
    return (f"The file is {size / 2**20:.1f} MB; the limit is {limit / 2**20:.0f} MB. Save it smaller (fewer pixels, "
            "or as JPEG) and upload it again.")


def _sniff_unsupported(data: bytes) -> str | None:
    """Name formats people often try that Pillow does not decode, so the message can be specific."""
    head = data[:512].lstrip().lower()
    if head.startswith(b"<?xml") or head.startswith(b"<svg") or b"<svg" in head:
        return "SVG (vector)"
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
        return "HEIC/HEIF"
    if data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis"):
        return "AVIF"
    if head.startswith(b"%pdf"):
        return "PDF"
    return None


def _check_size(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise ImageError(f"The image has no pixels ({width}×{height}). Choose another file.")
    if width * height > max_pixels:
        raise ImageError(
            f"The image is {width}×{height} = {width * height:,} pixels; the limit is {max_pixels:,}. "
            "Scale it down and upload it again."
        )


def _to_rgb(image: Image.Image, notes: list[str]) -> Image.Image:
    """Convert any Pillow mode to RGB the way a person would expect to see it."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        image = _scale_to_8bit(image)
        notes.append(f"{'16-bit' if mode.startswith('I;16') else mode + '-mode'} image scaled to 8 bits")
        mode = image.mode
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        if rgba.getextrema()[3][0] < 255:
            notes.append("transparent areas shown on white")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    rgb = image.convert("RGB")
    rgb.info[NOTES_KEY] = notes
    return rgb


def _scale_to_8bit(image: Image.Image) -> Image.Image:
    """Stretch a high-bit-depth image's actual range to 0–255; a plain convert would clip it to white."""
    array = np.asarray(image, dtype=np.float64)
    finite = array[np.isfinite(array)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if high > low:
        array = (array - low) / (high - low) * 255.0
    else:
        array = np.zeros_like(array)
    return Image.fromarray(np.nan_to_num(array).round().astype(np.uint8), mode="L")


def image_notes(image: Image.Image) -> list[str]:
    """What :func:`load_image` changed to make this image displayable (may be empty)."""
    return list(image.info.get(NOTES_KEY, []))
