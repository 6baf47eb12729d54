"""Fuzz the image decoding path with mutated real image files: ImageError or success, nothing else."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import featviz_core as fv
from featviz_core.samples import sample_bytes
from tests.support.images import encode

EXAMPLES = 400


def _seeds() -> dict[str, bytes]:
    """Small real files of every supported format, and one of the bundled photographs."""
    rng = np.random.default_rng(0)
    picture = Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
    frames = [picture, picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    exif = Image.Exif()
    exif[0x0112] = 6
    return {
        "png": encode(picture, "PNG"),
        "jpeg": encode(picture, "JPEG", exif=exif.tobytes()),
        "webp": encode(picture, "WEBP"),
        "bmp": encode(picture, "BMP"),
        "tiff": encode(picture, "TIFF"),
        "gif": gif.getvalue(),
        "palette": encode(picture.convert("P"), "PNG", transparency=3),
        "16bit": encode(Image.fromarray(rng.integers(0, 65535, (16, 16), dtype=np.uint16)), "PNG"),
        "photo": sample_bytes("Handwritten 3"),
    }


SEEDS = _seeds()


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "overwrite", "duplicate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif kind == "overwrite":
            chunk = draw(st.binary(min_size=1, max_size=8))
            data[at : at + len(chunk)] = chunk
        elif kind == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


def test_mutated_image_files_give_image_error_or_an_image(capsys):
    outcomes = {"decoded": 0, "ImageError": 0}

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(mutated())
    def decode(data: bytes) -> None:
        try:
            image = fv.load_image(data)
        except fv.ImageError as exc:
            assert str(exc)  # every refusal says why
            outcomes["ImageError"] += 1
        else:
            assert image.mode == "RGB" and image.width >= 1 and image.height >= 1
            outcomes["decoded"] += 1

    decode()
    total = sum(outcomes.values())
    with capsys.disabled():
        print(f"\nimage fuzz: {total} mutated files, {outcomes['decoded']} decoded, "
              f"{outcomes['ImageError']} ImageError, "
              "0 other exceptions")
    assert total >= EXAMPLES * 0.9
