"""Decoding: every supported format gives the right upright RGB pixels; bad input gives ImageError."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import featviz_core as fv
from featviz_core.images import image_notes
from featviz_core.samples import sample_description
from tests.support.bad_files import LIBRARY_WORDS, bitfields_bmp, corrupt_tiff, png_broken_at_the_start
from tests.support.images import encode, gradient_image


@pytest.mark.parametrize(
    ("fmt", "kwargs", "lossless"),
    [
        ("PNG", {}, True),
        ("BMP", {}, True),
        ("TIFF", {}, True),
        ("WEBP", {"lossless": True}, True),
        ("JPEG", {"quality": 95}, False),
    ],
)
def test_supported_formats_decode_to_the_same_pixels(fmt, kwargs, lossless):
    original = gradient_image()
    decoded = fv.load_image(encode(original, fmt, **kwargs))
    assert decoded.mode == "RGB" and decoded.size == original.size
    difference = np.abs(np.asarray(decoded, np.int16) - np.asarray(original, np.int16))
    assert difference.max() == 0 if lossless else difference.mean() < 4


def test_path_bytes_and_file_object_are_all_accepted(tmp_path):
    data = encode(gradient_image(), "PNG")
    path = tmp_path / "x.png"
    path.write_bytes(data)
    from_path, from_bytes, from_file = fv.load_image(path), fv.load_image(data), fv.load_image(io.BytesIO(data))
    assert np.array_equal(np.asarray(from_path), np.asarray(from_bytes))
    assert np.array_equal(np.asarray(from_path), np.asarray(from_file))


def test_animated_gif_gives_first_frame_and_says_so():
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=50)
    decoded = fv.load_image(buffer.getvalue())
    assert decoded.getpixel((4, 4)) == (255, 0, 0)
    assert any("first of its 3 frames" in note for note in image_notes(decoded))


def test_exif_rotated_jpeg_is_shown_upright():
    original = gradient_image(40, 20)  # landscape
    stored = original.transpose(Image.Transpose.ROTATE_90)  # what a camera held sideways writes (portrait)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation 6: the viewer must turn it 90° clockwise
    decoded = fv.load_image(encode(stored, "JPEG", quality=95, exif=exif.tobytes()))
    assert decoded.size == original.size
    assert np.abs(np.asarray(decoded, np.int16) - np.asarray(original, np.int16)).mean() < 4
    assert any("EXIF" in note for note in image_notes(decoded))


def test_plain_photo_has_no_rotation_note():
    assert image_notes(fv.load_image(encode(gradient_image(), "JPEG"))) == []


def test_sixteen_bit_grayscale_is_stretched_not_clipped():
    ramp = (np.arange(256, dtype=np.uint16).reshape(16, 16) * 100 + 1000).astype(np.uint16)
    decoded = fv.load_image(encode(Image.fromarray(ramp), "PNG"))
    pixels = np.asarray(decoded)[..., 0]
    assert pixels.min() == 0 and pixels.max() == 255  # a plain convert would give all 255


def test_transparency_is_flattened_on_white():
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert fv.load_image(encode(rgba, "PNG")).getpixel((0, 0)) == (255, 255, 255)
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([0, 0, 0] * 256)
    assert fv.load_image(encode(palette, "PNG", transparency=0)).getpixel((1, 1)) == (255, 255, 255)


def test_one_pixel_and_cmyk_and_one_bit():
    assert fv.load_image(encode(Image.new("RGB", (1, 1), (9, 8, 7)), "PNG")).size == (1, 1)
    cmyk = fv.load_image(encode(Image.new("CMYK", (4, 4), (0, 255, 255, 0)), "JPEG"))
    r, g, b = cmyk.getpixel((1, 1))
    assert r > 200 and g < 60 and b < 60  # cyan-free, magenta+yellow = red
    assert fv.load_image(encode(Image.new("1", (4, 4), 1), "PNG")).getpixel((0, 0)) == (255, 255, 255)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"this is not an image at all", "not an image"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "HEIC"),
    ],
)
def test_bad_input_raises_image_error_with_a_clear_message(data, message):
    with pytest.raises(fv.ImageError, match=message):
        fv.load_image(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_files_raise_image_error(fmt):
    data = encode(gradient_image(256, 256), fmt)
    with pytest.raises(fv.ImageError, match="damaged or truncated"):
        fv.load_image(data[: len(data) // 2])


def test_a_valid_bmp_pillow_cannot_decode_is_not_called_damaged():
    with pytest.raises(fv.ImageError, match="variant of the format") as raised:
        fv.load_image(bitfields_bmp())
    message = str(raised.value)
    assert "BMP" in message and "save it as PNG" in message
    assert "damaged" not in message and "bitfields" not in message
    assert raised.value.detail == "OSError: Unsupported BMP bitfields layout"


@pytest.mark.parametrize(
    ("data", "said", "library"),
    [
        (corrupt_tiff(), "This TIFF file is damaged or truncated", "decoder error -2"),
        (encode(gradient_image(256, 256), "JPEG")[:2000], "This JPEG file is damaged or truncated", "truncated"),
        (png_broken_at_the_start(), "This PNG file is damaged", "cannot identify image file"),
        (b"some notes\n" * 8, "not an image featviz can read", "cannot identify image file"),
    ],
)
def test_damage_is_said_in_plain_words_with_pillows_words_in_the_detail(data, said, library):
    with pytest.raises(fv.ImageError, match=said) as raised:
        fv.load_image(data)
    message = str(raised.value)
    assert not any(words in message for words in LIBRARY_WORDS)
    assert "use PNG" not in message  # a broken .png is told to save it again, not to use PNG
    assert "again" in message  # what to do
    assert library in raised.value.detail


def test_decompression_bomb_is_refused_before_decoding():
    huge = encode(Image.new("1", (20_000, 20_000)), "PNG")  # 400 M pixels, a few kB on disk
    with pytest.raises(fv.ImageError, match="limit"):
        fv.load_image(huge)


def test_file_over_the_byte_limit_is_refused():
    with pytest.raises(fv.ImageError, match="limit"):
        fv.load_image(encode(gradient_image(), "PNG"), max_bytes=100)


def test_every_sample_loads_as_rgb():
    for name in fv.list_samples():
        image = fv.load_sample(name)
        assert image.mode == "RGB" and min(image.size) >= 100, name
        assert sample_description(name)


def test_stripe_patterns_are_oriented():
    vertical = np.asarray(fv.load_sample("Stripes 0° (vertical)"))[..., 0].astype(int)
    horizontal = np.asarray(fv.load_sample("Stripes 90° (horizontal)"))[..., 0].astype(int)
    assert (np.diff(vertical, axis=0) == 0).all() and (np.diff(vertical, axis=1) != 0).any()
    assert (np.diff(horizontal, axis=1) == 0).all() and (np.diff(horizontal, axis=0) != 0).any()
