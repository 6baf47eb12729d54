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
from PIL import Image
from torch import nn

NAME = "digits_cnn"
CLASSES = tuple(str(d) for d in range(10))
SIZE = 28
FIT = 20  # the digit's longer side after fitting, as in MNIST
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
    """A light digit on black, cropped to its ink, fitted into 20×20 and centred in 28×28 (float32 0–1)."""
    gray = _as_gray(image)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 0.5:  # dark ink on light paper: turn it to the training polarity
        gray = 1.0 - gray
    background = float(np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])))
    peak = float(gray.max())
    if peak - background > 1e-6:
        gray = np.clip((gray - background) / (peak - background), 0.0, 1.0)
    else:
        gray = np.zeros_like(gray)
    rows, cols = np.nonzero(gray > 0.15)
    if rows.size:
        gray = gray[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    height, width = gray.shape
    scale = FIT / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    fitted = np.asarray(
        Image.fromarray((gray * 255).astype(np.uint8), mode="L").resize(new_size, Image.Resampling.LANCZOS),
        dtype=np.float32,
    ) / 255.0
    canvas = np.zeros((SIZE, SIZE), dtype=np.float32)
    top, left = (SIZE - fitted.shape[0]) // 2, (SIZE - fitted.shape[1]) // 2
    canvas[top : top + fitted.shape[0], left : left + fitted.shape[1]] = fitted
    return canvas


def _as_gray(image: Image.Image | np.ndarray) -> np.ndarray:
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    array = np.asarray(image, dtype=np.float32)
    return array / array.max() if array.max() > 1.0 else array


def metadata() -> dict[str, Any]:
    """What the training script recorded: data, split, seed, accuracies, date, command."""
    return json.loads(resources.files(__package__).joinpath("weights", META_FILE).read_text())


def build(trained: bool = True) -> tuple[nn.Module, DigitsPreprocess]:
    """The network with the bundled weights (or seeded random ones) and its preprocessing."""
    meta = metadata()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = DigitsCNN()
    if trained:
        with resources.files(__package__).joinpath("weights", WEIGHTS_FILE).open("rb") as handle:
            model.load_state_dict(torch.load(handle, map_location="cpu", weights_only=True))
    return model, DigitsPreprocess(meta["mean"], meta["std"])
