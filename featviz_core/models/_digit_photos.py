"""A 28×28 digit as a person would photograph or draw it: the digits model's robustness check and training aid.

In class, digits come from phone photos and drawings, not from MNIST's scanner: off-centre on a page, larger
or smaller, tilted, out of focus, on tinted paper, grainy, JPEG-compressed, dark ink on light paper or chalk
on a board. :func:`photo_like` makes such an image from a canvas, seeded, so that the training script can
learn from them and the tests can check that the model still reads them after
:func:`~featviz_core.models._digits.digit_canvas`.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

VARIANTS = ("off_centre", "scaled", "rotated", "blurred", "tinted", "noisy", "jpeg", "light_on_dark")
"""What :func:`photo_like` varies; every image gets one of each kind of change, drawn at random."""
MAX_ROTATION = 15.0
"""Degrees either way, as a digit drawn on a tilted page."""


def photo_like(canvas: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """An RGB photo-like image of ``canvas`` (28×28, light ink on black, 0–1).

    The digit is scaled (its height 25–70 % of the picture), rotated up to :data:`MAX_ROTATION`°, put
    off-centre on paper of a random tint (dark ink on light paper, or light on dark for half of them),
    blurred, given sensor noise and saved as JPEG.
    """
    ink = Image.fromarray((np.clip(canvas, 0, 1) * 255).astype(np.uint8), mode="L")
    ink = ink.rotate(float(rng.uniform(-MAX_ROTATION, MAX_ROTATION)), resample=Image.Resampling.BICUBIC)
    side = int(rng.integers(64, 161))
    digit_side = max(12, int(side * rng.uniform(0.25, 0.7) * 28 / 20))  # the canvas's 20 px digit → 25–70 %
    ink = ink.resize((digit_side, digit_side), Image.Resampling.BICUBIC)
    mask = np.zeros((side, side), dtype=np.float32)
    top = int(rng.integers(0, max(1, side - digit_side)))
    left = int(rng.integers(0, max(1, side - digit_side)))
    patch = np.asarray(ink, dtype=np.float32)[: side - top, : side - left] / 255.0
    mask[top : top + patch.shape[0], left : left + patch.shape[1]] = patch
    focus = ImageFilter.GaussianBlur(rng.uniform(0, 1.5) * side / 64)
    mask = np.asarray(Image.fromarray((mask * 255).astype(np.uint8)).filter(focus), dtype=np.float32) / 255.0

    paper = rng.uniform(0.75, 1.0, size=3) * 255  # white to tinted (cream, grey, blue...) paper
    pen = rng.uniform(0.0, 0.3, size=3) * 255  # black, blue or dark pencil
    if rng.random() < 0.5:  # chalk on a board, a light pen on dark paper
        paper, pen = 255 - paper, 255 - pen
    shade = np.linspace(1.0, rng.uniform(0.85, 1.0), side, dtype=np.float32)[:, None, None]  # uneven light
    rgb = (paper * (1 - mask[..., None]) + pen * mask[..., None]) * shade
    rgb = rgb + rng.normal(0, rng.uniform(0, 12), size=rgb.shape)  # sensor noise
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), mode="RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=int(rng.integers(35, 90)))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
