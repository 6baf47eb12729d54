"""The bad-input matrix: every row through featviz_core and through the page, the last view kept on screen.

Images that cannot be used must give an ImageError with a clear message and leave the page as it was;
odd but valid images must be shown, with what was done to them said. Models and weights likewise.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

import featviz_core as fv
from featviz_core.activations._shapes import channel_view
from featviz_core.images import image_notes
from tests.support.apptest import choose_model, grid_spec, start, upload
from tests.support.bad_files import LIBRARY_WORDS, bitfields_bmp, corrupt_tiff, png_broken_at_the_start
from tests.support.images import encode, gradient_image


def _truncated(fmt: str) -> bytes:
    data = encode(gradient_image(256, 256), fmt)
    return data[: len(data) // 2]


def _animated_gif() -> bytes:
    frames = [Image.new("RGB", (40, 40), colour) for colour in ((200, 30, 30), (30, 30, 200), (30, 200, 30))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=40)
    return buffer.getvalue()


def _exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(gradient_image(60, 30).transpose(Image.Transpose.ROTATE_90), "JPEG", exif=exif.tobytes())


def _palette_with_transparency() -> bytes:
    image = Image.new("P", (32, 32), 0)  # index 0 is transparent ...
    image.paste(1, (8, 8, 24, 24))  # ... around a green square
    image.putpalette([255, 0, 0] + [0, 128, 0] * 255)
    return encode(image, "PNG", transparency=0)


BAD_IMAGES = {
    "zero bytes": (b"", "empty"),
    "text named .png": (b"just some notes, not a picture\n" * 4, "not an image"),
    "truncated JPEG": (_truncated("JPEG"), "damaged or truncated"),
    "truncated PNG": (_truncated("PNG"), "damaged or truncated"),
    "decompression bomb": (encode(Image.new("1", (20_000, 20_000)), "PNG"), "limit"),
    "SVG": (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>', "SVG"),
    "HEIC": (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 40, "HEIC"),
    "BMP with a bitfields layout": (bitfields_bmp(), "variant of the format"),
    "TIFF damaged inside": (corrupt_tiff(), "damaged or truncated"),
    "PNG broken at the start": (png_broken_at_the_start(), "This PNG file is damaged"),
}
LIBRARY_DETAIL = {  # what Pillow said, which the page keeps under "Details"
    "truncated JPEG": "image file is truncated",
    "BMP with a bitfields layout": "Unsupported BMP bitfields layout",
    "TIFF damaged inside": "decoder error -2",
    "PNG broken at the start": "cannot identify image file",
}

ODD_IMAGES = {  # name: (bytes, expected (width, height), note that must be said or None)
    "CMYK JPEG": (encode(Image.new("CMYK", (40, 30), (0, 200, 200, 0)), "JPEG"), (40, 30), None),
    "16-bit grayscale PNG": (
        encode(Image.fromarray(np.arange(1024, dtype=np.uint16).reshape(32, 32) * 60), "PNG"), (32, 32), "16-bit"
    ),
    "palette PNG with transparency": (_palette_with_transparency(), (32, 32), "transparent"),
    "grayscale with alpha": (encode(Image.new("LA", (20, 20), (90, 128)), "PNG"), (20, 20), "transparent"),
    "1-bit": (encode(Image.new("1", (16, 16), 1), "PNG"), (16, 16), None),
    "EXIF-rotated JPEG": (_exif_rotated(), (60, 30), "EXIF"),
    "animated GIF": (_animated_gif(), (40, 40), "first of its 3 frames"),
    "1×1": (encode(Image.new("RGB", (1, 1), (10, 20, 30)), "PNG"), (1, 1), None),
    "very wide panorama": (encode(Image.new("RGB", (12_000, 120), (40, 90, 160)), "PNG"), (12_000, 120), None),
}


@pytest.mark.parametrize("name", list(BAD_IMAGES))
def test_core_refuses_bad_images_with_a_clear_message(name):
    data, phrase = BAD_IMAGES[name]
    with pytest.raises(fv.ImageError, match=phrase):
        fv.load_image(data)


@pytest.mark.parametrize("name", list(ODD_IMAGES))
def test_core_shows_odd_images_and_says_what_it_did(name):
    data, size, note = ODD_IMAGES[name]
    image = fv.load_image(data)
    assert image.mode == "RGB" and image.size == size
    if note:
        assert any(note in n for n in image_notes(image)), image_notes(image)
    for model in ("digits_cnn", "resnet18"):  # every odd image also runs through both kinds of model
        maps = fv.capture(fv.load_model(model, weights=None), image)
        assert len(maps) > 5


@pytest.fixture
def page_with_a_view():
    at = start()
    upload(at, "good.png", encode(gradient_image(), "PNG"))
    assert not at.error
    return at, grid_spec(at)


@pytest.mark.parametrize("name", list(BAD_IMAGES))
def test_page_reports_bad_images_and_keeps_the_view(page_with_a_view, name):
    at, before = page_with_a_view
    data, phrase = BAD_IMAGES[name]
    upload(at, f"bad-{name}.png", data)
    message = " ".join(e.value for e in at.error)
    assert f"bad-{name}.png" in message and phrase.lower() in message.lower()
    said = message.replace(f"bad-{name}.png", "")
    assert not any(words in said for words in LIBRARY_WORDS) and "use PNG" not in said
    if name in LIBRARY_DETAIL:  # Pillow's own words, under the message in a closed "Details" box
        details = [code.value for box in at.expander if box.label == "Details" for code in box.code]
        assert len(details) == 1 and LIBRARY_DETAIL[name] in details[0]
    assert grid_spec(at) == before


@pytest.mark.parametrize("name", ["CMYK JPEG", "EXIF-rotated JPEG", "animated GIF", "1×1", "very wide panorama"])
def test_page_shows_odd_images_with_their_notes(page_with_a_view, name):
    at, before = page_with_a_view
    data, size, note = ODD_IMAGES[name]
    upload(at, f"odd-{name}.png", data)
    assert not at.error
    captions = [c for image in at.get("image") for c in image.captions]
    assert any(f"odd-{name}.png · {size[0]}×{size[1]}" in c for c in captions), captions
    if note:
        assert any(note in c.value for c in at.caption), [c.value for c in at.caption]
    assert grid_spec(at) != before


def _state_dict(module: torch.nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return buffer.getvalue()


def _pickled_model() -> bytes:
    buffer = io.BytesIO()
    torch.save(fv.load_model("digits_cnn").module, buffer)
    return buffer.getvalue()


BAD_WEIGHTS = {
    "wrong architecture": (
        lambda: _state_dict(fv.load_model("resnet18", weights=None).module), "does not fit digits_cnn"
    ),
    "truncated checkpoint": (
        lambda: _state_dict(fv.load_model("digits_cnn").module)[:5000], "not a readable PyTorch checkpoint"
    ),
    "pickled full model": (_pickled_model, "does not unpickle"),
}


@pytest.mark.parametrize("name", list(BAD_WEIGHTS))
def test_bad_weights_are_refused_in_core_and_on_the_page(name):
    make, phrase = BAD_WEIGHTS[name]
    data = make()
    with pytest.raises(fv.ModelError, match=phrase):
        fv.load_with_state_dict("digits_cnn", data, f"{name}.pth")
    at = choose_model(start(), "digits_cnn", "upload")
    before = grid_spec(at)
    at.sidebar.file_uploader(key="weights_file").set_value((f"{name}.pth", data, "application/octet-stream")).run()
    assert any(phrase in e.value for e in at.error)
    assert not any(words in e.value for e in at.error for words in LIBRARY_WORDS)
    assert grid_spec(at) == before


def test_uploads_over_the_size_limit_are_refused(setting):
    setting("FEATVIZ_MAX_WEIGHTS_MB", "0.1")
    setting("FEATVIZ_MAX_IMAGE_MB", "0.01")
    weights = _state_dict(fv.load_model("digits_cnn").module)  # 480 KB
    with pytest.raises(fv.ModelError, match="accepts up to"):
        fv.load_with_state_dict("digits_cnn", weights, "big.pth")
    with pytest.raises(fv.ModelError, match="accepts up to"):
        fv.load_torchscript(weights, "big.pt")
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8))
    with pytest.raises(fv.ImageError, match="the limit is"):
        fv.load_image(encode(noise, "PNG"))  # 120 KB
    at = choose_model(start(), "digits_cnn", "upload")
    before = grid_spec(at)
    at.sidebar.file_uploader(key="weights_file").set_value(("big.pth", weights, "application/octet-stream")).run()
    assert any("accepts up to" in e.value for e in at.error) and grid_spec(at) == before


def test_a_torchscript_model_that_fails_on_the_input_shows_its_own_error_and_keeps_the_view():
    class Picky(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if x.shape[-1] != 100:
                raise ValueError("picky model wants 100x100 input")
            return self.conv(x)

    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(Picky()), buffer)
    model = fv.load_torchscript(buffer.getvalue(), "picky.pt")
    with pytest.raises(fv.ModelError, match="could not run on this input") as raised:
        fv.capture(model, fv.load_sample("Checkerboard"))
    assert "picky model wants 100x100 input" in raised.value.detail
    at = start()
    before = grid_spec(at)
    choose_model(at, "Your own model (TorchScript)")
    upload = ("picky.pt", buffer.getvalue(), "application/octet-stream")
    at.sidebar.file_uploader(key="own_model").set_value(upload).run()
    assert any("could not run on this input" in e.value for e in at.error)
    details = [code.value for box in at.expander if box.label == "Details" for code in box.code]
    assert any("picky model wants 100x100 input" in detail for detail in details)  # its own words, under Details
    assert grid_spec(at) == before and any("Still showing" in w.value for w in at.warning)


class Outputs(torch.nn.Module):
    """Submodules returning a tuple, a list, a dict and a token matrix."""

    class Pair(torch.nn.Module):
        def forward(self, x):
            return x + 1, x - 1

    class Listed(torch.nn.Module):
        def forward(self, x):
            return [x * 2]

    class Keyed(torch.nn.Module):
        def forward(self, x):
            return {"features": x.flatten(2).transpose(1, 2)}  # (1, H*W, C) tokens

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.pair, self.listed, self.keyed = self.Pair(), self.Listed(), self.Keyed()

    def forward(self, x):
        x = self.conv(x)
        a, _ = self.pair(x)
        (b,) = self.listed(a)
        return self.keyed(b)["features"].mean(dim=1)


def test_layers_with_tuple_list_dict_and_token_outputs_are_drawn():
    maps = fv.capture(Outputs().eval(), torch.randn(3, 16, 16))
    assert "tuple of 2" in maps["pair"].note and "list of 1" in maps["listed"].note
    assert "dict of 1" in maps["keyed"].note
    assert channel_view(maps["keyed"].tensor).kind == "tokens"
    for name in maps:
        figure = fv.channel_grid(maps[name])
        assert figure.layout.meta["featviz"]["channels_shown"] >= 1
