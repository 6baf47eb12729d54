"""The preprocessing featviz gives a model that brings none of its own (an uploaded TorchScript, ONNX or Keras
model, a team's registered architecture): what a zoo model's pipeline does, with the sizes and statistics
the model's files or settings give."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image
from torchvision.transforms import v2


@dataclass(frozen=True)
class GenericPreprocess:
    """Resize the short side, centre-crop to ``size`` (a side, or height and width), scale to 0–1 and
    normalize: a zoo model's pipeline."""

    size: int | tuple[int, int]
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    invert: bool = False  # light ink on dark, as MNIST was made, for a model trained on it

    def __call__(self, image: Image.Image) -> torch.Tensor:
        if self.channels == 1:
            image = image.convert("L")
        pipeline = v2.Compose(
            [
                v2.PILToTensor(),
                v2.Resize(self.size if isinstance(self.size, int) else max(self.size), antialias=True),
                v2.CenterCrop(self.size),
                v2.ToDtype(torch.float32, scale=True),
                *([v2.Lambda(lambda x: 1.0 - x)] if self.invert else []),
                v2.Normalize(list(self.mean), list(self.std)),
            ]
        )
        tensor = pipeline(image)
        if self.channels not in (1, tensor.shape[0]):
            tensor = tensor[:1].expand(self.channels, -1, -1).clone()
        return tensor
