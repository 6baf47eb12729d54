"""The classroom lessons featviz exists for, each one click from the dashboard state that shows it.

A lesson is what to look at (two or three sentences), a question with its answer, and the shared-link
state (the same query parameters a shared link carries) that opens the dashboard on it. The two lessons
that need no model, the output-shape formula and normalizing before display, come with what they compute:
:func:`conv_output_size` checked against a real ``Conv2d`` (:func:`conv2d_output_shape`) and against every
layer of a model (:func:`shape_checks`), and :func:`tiny_layer`, a layer whose values are too small to see
unnormalized.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import nn

from .activations._records import Capture
from .draw._inspect_layer import _pair, conv_output_size
from .models._load import LoadedModel
from .models._weights import weights_file

PAGES = {"explore": "pages/explore.py", "compare_layers": "pages/compare_layers.py",
         "trained_vs_untrained": "pages/trained_vs_untrained.py", "lessons": "pages/lessons.py"}
"""Where a lesson opens, by short name."""


@dataclass(frozen=True)
class Lesson:
    key: str
    title: str
    look: str
    question: str
    answer: str
    page: str = "explore"
    state: dict[str, str] = field(default_factory=dict)
    """Shared-link parameters (model, weights, source, sample, layer, layer_b, normalization, colormap,
    order_by): what the dashboard restores when the lesson is opened."""

    @property
    def page_path(self) -> str:
        return PAGES[self.page]


DIGIT = {"model": "digits_cnn", "weights": "pretrained", "source": "Sample", "sample": "Handwritten 7"}

LESSONS: tuple[Lesson, ...] = (
    Lesson(
        "output-shape", "Output shape: (W − K + 2P) / S + 1",
        "A convolution slides a K×K kernel over a W×W input in steps of S, after padding P pixels on each side. "
        "Move the sliders below and watch the formula, then check it against a real Conv2d and against every "
        "layer of the digits model, where conv1 turns 28×28 into 26×26.",
        "A Conv2d(3, 16, 3, stride=1, padding=1) gets a 1×3×64×64 input. What shape comes out?",
        "1×16×64×64: (64 − 3 + 2·1)/1 + 1 = 64, and 16 output channels, one per filter. Padding 1 with a 3×3 "
        "kernel keeps the size.",
        state={**DIGIT, "layer": "conv1"},
    ),
    Lesson(
        "normalize", "Normalize before display",
        "A layer whose values are all near zero (here randn(1, 16, 64, 64) × 0.01) looks black when its values "
        "are drawn as they are, on a 0–1 scale as an image would be. Stretch each channel to its own min–max "
        "and the patterns appear; the colour bar then says 0 = min, 1 = max.",
        "Both grids below show the same numbers. Why is the left one black?",
        "Its values lie within about ±0.03 of zero, so on a 0–1 scale every pixel is within 3 % of black. "
        "Normalizing rescales each channel's own range to the whole colour map; it changes how the numbers "
        "look, never the numbers.",
        page="lessons",
        state={**DIGIT, "layer": "conv1", "normalization": "raw"},
    ),
    Lesson(
        "one-map-per-channel", "One map per channel",
        "conv1 of the digits model outputs 32×26×26: 32 channels, each a 26×26 map of where its filter found "
        "its pattern. It is not one picture with 32 colours, so featviz draws each channel as its own tile, "
        "numbered, on a grid.",
        "Why does plt.imshow fail on conv1's output tensor (32×26×26)?",
        "imshow draws H×W (one grey value per pixel) or H×W×3/4 (red, green, blue, alpha). 32 channels first "
        "are neither: each channel has to be drawn on its own, as in this grid.",
        state={**DIGIT, "layer": "conv1", "normalization": "per_channel"},
    ),
    Lesson(
        "early-vs-deep", "Early layers see edges, deeper layers larger patterns",
        "Left, the first convolution of the digits model: its 32 maps still look like the digit, each "
        "lighting up one kind of edge or stroke. Right, the second: 64 smaller maps, each responding to a "
        "combination of strokes (a corner, a loop, an end) over a larger part of the digit.",
        "Why are conv2's maps smaller (11×11) and less like the digit than conv1's (26×26)?",
        "Pooling halves the size (26 → 13) and conv2's 3×3 kernel takes 2 more (13 → 11); each of its pixels "
        "sees a 8×8 patch of the input, built from conv1's edges, so it answers to parts of digits rather than "
        "to single strokes.",
        page="compare_layers",
        state={**DIGIT, "layer": "conv1", "layer_b": "conv2"},
    ),
    Lesson(
        "sparse", "Sparse activations",
        "After a ReLU most values are exactly zero and a few are strong: relu2 of the digits model is sorted "
        "here by sparsity, the share of zeros. Open a channel's histogram under *One channel up close*: a tall "
        "bar at zero, a thin tail of strong responses.",
        "A channel is zero almost everywhere and strong in one small spot. What does that say about it?",
        "It is selective: it responds to one pattern in one place (here a part of this digit) and ignores "
        "the rest. A channel that is zero everywhere on every image is dead; one that is never zero is not "
        "selective.",
        state={**DIGIT, "layer": "relu2", "order_by": "sparsity"},
    ),
    Lesson(
        "trained-vs-untrained", "Trained vs untrained, honestly",
        "The same layer with learned and with random weights. On a smooth digit the two grids can look alike, "
        "and random maps are not noise. Look at the numbers under the grids: filter structure, redundancy and "
        "the inactive share separate the two on every sample digit.",
        "Your own model's maps look smooth and tidy. Does that prove it has learned?",
        "No: random filters on a smooth picture give smooth maps too. Check its filters (structure clearly above "
        "0), whether its channels differ from one another (low redundancy) and whether they are selective (a "
        "large inactive share), or compare with its untrained twin here.",
        page="trained_vs_untrained",
        state={**DIGIT, "layer": "relu2"},
    ),
)


ZOO_FIRST_LAST: dict[str, tuple[str, str]] = {
    "resnet18": ("relu", "layer4"),
    "resnet50": ("relu", "layer4"),
    "vgg16": ("features.1", "features.29"),
    "alexnet": ("features.1", "features.11"),
    "googlenet": ("conv1", "inception5b"),
    "mobilenet_v2": ("features.0", "features.18"),
    "efficientnet_b0": ("features.0", "features.8"),
    "convnext_tiny": ("features.0", "features.7"),
}
"""The early-vs-deep lesson on photographs: for zoo models a class may have fetched, the output of the first
block (the stem's activation, on the full-size image) and of the last block before global pooling."""

ZOO_PHOTO = "Cat (Chelsea)"


def zoo_first_last_state(model: str) -> dict[str, str]:
    """Shared-link state of the compare-layers page on ``model``'s first and last blocks, pretrained, on a
    photograph (what its weights were trained on)."""
    first, last = ZOO_FIRST_LAST[model]
    return {"model": model, "weights": "pretrained", "source": "Sample", "sample": ZOO_PHOTO,
            "layer": first, "layer_b": last}


def cached_zoo_models() -> list[str]:
    """The models of :data:`ZOO_FIRST_LAST` whose default weights are in torchvision's cache on this machine
    (``python -m featviz_core weights fetch resnet18`` puts them there before class)."""
    return [model for model in ZOO_FIRST_LAST if weights_file(model).is_cached]


def lesson_by_key(key: str) -> Lesson:
    return next(item for item in LESSONS if item.key == key)


def conv2d_output_shape(size: int, kernel: int, padding: int = 0, stride: int = 1, in_channels: int = 3,
                        out_channels: int = 16, pool: int = 1) -> Optional[tuple[int, ...]]:
    """The shape a real ``Conv2d`` (then ``MaxPool2d(pool)`` when pool > 1) gives a 1×C×W×W input, or None
    when torch refuses it (the kernel does not fit)."""
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=padding)]
    if pool > 1:
        layers.append(nn.MaxPool2d(pool))
    with torch.inference_mode():
        try:
            return tuple(nn.Sequential(*layers)(torch.zeros(1, in_channels, size, size)).shape)
        except RuntimeError:
            return None


@dataclass(frozen=True)
class ShapeCheck:
    """One convolution or pooling layer of a model: the formula's output size against what it produced."""

    layer: str
    kind: str
    input_size: tuple[int, int]
    kernel: tuple[int, int]
    padding: tuple[int, int]
    stride: tuple[int, int]
    formula: tuple[int, int]
    produced: tuple[int, int]

    @property
    def agrees(self) -> bool:
        return self.formula == self.produced


def shape_checks(model: LoadedModel, captured: Capture) -> list[ShapeCheck]:
    """Every Conv2d and MaxPool2d/AvgPool2d with numeric padding, in model order, worked out by the formula
    from its input's captured size and compared with its captured output."""
    modules = dict(model.module.named_modules())
    checks = []
    for name, fmap in captured.outline():  # shapes only: nothing to finish
        module = modules.get(name)
        if not isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)) or fmap.input_shape is None:
            continue
        if isinstance(module.padding, str) or len(fmap.input_shape) < 2 or len(fmap.shape) < 2:
            continue  # padding="same"/"valid" names no number to put in the formula
        kernel, stride, padding, dilation = (_pair(getattr(module, attr, 1), 2)
                                             for attr in ("kernel_size", "stride", "padding", "dilation"))
        ceil = getattr(module, "ceil_mode", False)
        size = tuple(fmap.input_shape[-2:])
        formula = tuple(
            _ceil_size(n, k, p, s) if ceil else conv_output_size(n, k, p, s, d)
            for n, k, p, s, d in zip(size, kernel, padding, stride, dilation, strict=True)
        )
        checks.append(ShapeCheck(name, type(module).__name__, size, kernel, padding, stride, formula,
                                 tuple(fmap.shape[-2:])))
    return checks


def _ceil_size(size: int, kernel: int, padding: int, stride: int) -> int:
    return math.ceil((size + 2 * padding - kernel) / stride) + 1


def tiny_layer(seed: int = 0) -> torch.Tensor:
    """``randn(1, 16, 64, 64) * 0.01`` (seeded), batch removed: a layer too faint to see unnormalized."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(1, 16, 64, 64, generator=generator)[0] * 0.01
