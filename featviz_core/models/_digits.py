"""The bundled handwritten-digits CNN: the classic network of feature-map lessons, trained by featviz.

It is the model that works with no network at all, so its preprocessing has to turn anything a person
gives it (a photo of a digit on paper, a drawing, a sample) into what it was trained on: one light digit
on a dark 28×28 square, fitted into the middle 20×20 like MNIST. Training runs its data through the same
:func:`digit_canvas`, so the two can never drift apart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter
from torch import nn

NAME = "digits_cnn"
CLASSES = tuple(str(d) for d in range(10))
SIZE = 28
FIT = 20  # the digit's longer side after fitting, as in MNIST
WORKING_SIDE = 256
"""Larger images are reduced to this longer side before the ink is found: fast on a 12-megapixel photo."""
WEIGHTS_FILE = "digits_cnn.pt"
META_FILE = "digits_cnn.json"


class DigitsCNN(nn.Module):
    """Conv(1,32,3) → ReLU → MaxPool(2) → Conv(32,64,3) → ReLU → MaxPool(2) → Linear(1600,64) → ReLU → Linear(64,10)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(64 * 5 * 5, 64)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc2(self.relu3(self.fc1(self.flatten(x))))


@dataclass(frozen=True)
class DigitsPreprocess:
    """PIL image → normalized (1, 28, 28) tensor, with the training set's mean and std."""

    mean: float
    std: float

    def __call__(self, image: Image.Image) -> torch.Tensor:
        canvas = torch.from_numpy(digit_canvas(image))
        return ((canvas - self.mean) / self.std).unsqueeze(0)


def digit_canvas(image: Image.Image | np.ndarray) -> np.ndarray:
    """A light digit on black the way MNIST was made (float32 0–1, 28×28): ink cropped, fitted into 20×20
    keeping its aspect, and placed so that its centre of mass is the canvas centre.

    Centring the bounding box instead moves a digit whose ink is uneven (a 7's heavy bar, a 6's loop) by
    about 0.6 px on average against what the network learnt, and costs accuracy. A photo is first freed of
    what is not ink: uneven light (the paper's own brightness, estimated per pixel), sensor grain (a floor
    at three times the paper's noise) and specks (the crop follows the smoothed ink). An MNIST digit comes
    out as it went in.
    """
    gray = _as_gray(image)
    if max(gray.shape) > WORKING_SIDE:  # a phone photo: the digit ends up 20 px tall anyway
        scale = WORKING_SIDE / max(gray.shape)
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        gray = np.asarray(_to_image(gray).resize(size, Image.Resampling.BOX), dtype=np.float32) / 255.0
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 0.5:  # dark ink on light paper: turn it to the training polarity
        gray = 1.0 - gray
    gray = np.clip(gray - _background(gray), 0.0, None)
    ink = float(np.percentile(gray, 99.5)) if gray.size >= 400 else float(gray.max())
    if ink <= 1e-6:
        return np.zeros((SIZE, SIZE), dtype=np.float32)
    gray = np.clip(gray / ink, 0.0, 1.0)
    paper = gray[gray < 0.5]
    if paper.size:
        grain = 1.4826 * float(np.median(np.abs(paper - np.median(paper))))
        floor = min(0.4, 3 * grain)
        gray = np.clip((gray - floor) / (1 - floor), 0.0, 1.0)
    mask = gray
    if max(gray.shape) > 40:
        radius = max(gray.shape) / 100
        mask = np.asarray(_to_image(gray).filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32) / 255.0
    rows, cols = np.nonzero(mask > 0.15)
    if rows.size:
        gray = gray[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    height, width = gray.shape
    scale = FIT / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    fitted = np.asarray(_to_image(gray).resize(new_size, Image.Resampling.LANCZOS), dtype=np.float32) / 255.0
    canvas = np.zeros((SIZE, SIZE), dtype=np.float32)
    top, left = _centre_of_mass_origin(fitted)
    canvas[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
    return canvas


def _to_image(gray: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(gray, 0, 1) * 255).astype(np.uint8), mode="L")


def _background(gray: np.ndarray) -> np.ndarray | float:
    """The paper's brightness under light ink: per pixel for a photo (a grey-scale opening wider than a
    stroke, so a shadow across the page is not ink), one value for a small scan."""
    side = max(gray.shape)
    if side <= 40:
        return float(np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])))
    small = _to_image(gray)
    if side > 64:  # the paper's light changes slowly: estimated at 64 px, a filter 16× cheaper at 256
        small = small.resize((max(1, round(gray.shape[1] * 64 / side)), max(1, round(gray.shape[0] * 64 / side))),
                             Image.Resampling.BOX)
    size = 2 * (max(small.size) // 12) + 1
    opened = small.filter(ImageFilter.MinFilter(size)).filter(ImageFilter.MaxFilter(size))
    opened = opened.filter(ImageFilter.BoxBlur(size // 2)).resize((gray.shape[1], gray.shape[0]),
                                                                   Image.Resampling.BILINEAR)
    return np.asarray(opened, dtype=np.float32) / 255.0


def _centre_of_mass_origin(fitted: np.ndarray) -> tuple[int, int]:
    """Where the fitted digit's top-left corner goes so that its centre of mass lands on the canvas centre
    (rounded to whole pixels, as MNIST's were), without leaving the canvas."""
    mass = float(fitted.sum())
    h, w = fitted.shape
    if mass <= 0:
        return (SIZE - h) // 2, (SIZE - w) // 2
    cy = float((fitted.sum(axis=1) * np.arange(h)).sum()) / mass
    cx = float((fitted.sum(axis=0) * np.arange(w)).sum()) / mass
    centre = SIZE / 2  # MNIST's digits have their centre of mass at pixel (14.0, 14.0), measured
    top = int(np.clip(round(centre - cy), 0, SIZE - h))
    left = int(np.clip(round(centre - cx), 0, SIZE - w))
    return top, left


def _as_gray(image: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    array = np.asarray(image, dtype=np.float32)
    return array / array.max() if array.max() > 1.0 else array


def metadata() -> dict[str, Any]:
    """What the training script recorded: data, split, seed, accuracies, date, command."""
    return json.loads(resources.files("featviz_core").joinpath("weights", META_FILE).read_text())


def build(trained: bool = True) -> tuple[nn.Module, DigitsPreprocess]:
    """The network with the bundled weights (or seeded random ones) and its preprocessing."""
    meta = metadata()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = DigitsCNN()
    if trained:
        with resources.files("featviz_core").joinpath("weights", WEIGHTS_FILE).open("rb") as handle:
            model.load_state_dict(torch.load(handle, map_location="cpu", weights_only=True))
    return model, DigitsPreprocess(meta["mean"], meta["std"])
