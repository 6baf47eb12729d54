"""Files that Pillow refuses in its own words: valid but unsupported, damaged in the middle, broken at the start.

Shared by the decoding tests (test_images) and the page tests (test_bad_input), which check that Pillow's
words stay out of the message and reach the *Details* box.
"""

from __future__ import annotations

import struct

from tests.support.images import encode, gradient_image


def bitfields_bmp(width: int = 4, height: int = 4) -> bytes:
    """A valid 32-bit BMP (BITMAPV4HEADER) with 10-bit channel masks, as some scanners and HDR tools write:
    Windows reads it; Pillow says "Unsupported BMP bitfields layout"."""
    row = width * 4
    pixels = bytes(row * height)
    masks = (0x3FF00000, 0x000FFC00, 0x000003FF, 0)
    dib = struct.pack("<IiiHHIIiiII", 108, width, height, 1, 32, 3, len(pixels), 2835, 2835, 0, 0)
    dib += struct.pack("<IIII", *masks) + struct.pack("<I", 0x73524742) + bytes(48)  # sRGB, no gamma
    offset = 14 + len(dib)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + dib + pixels


def corrupt_tiff() -> bytes:
    """A deflate-compressed TIFF whose compressed data is overwritten: Pillow says "decoder error -2"."""
    data = bytearray(encode(gradient_image(256, 256), "TIFF", compression="tiff_deflate"))
    data[300:400] = b"\x13" * 100
    return bytes(data)


def png_broken_at_the_start() -> bytes:
    """A PNG cut after its first 40 bytes: the signature is there, no decoder takes the rest."""
    return encode(gradient_image(256, 256), "PNG")[:40]


LIBRARY_WORDS = ("decoder error", "bitfields", "\x1b[", "cannot identify image file", "image file is truncated")
"""Pillow's and torch's own phrases, which belong in a detail and never in a message."""
