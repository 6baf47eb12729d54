"""What the model predicts: class names with probabilities, most likely first."""

from __future__ import annotations

from typing import Optional, Union

import torch

from ..activations._records import Capture
from ..capturing._capture import InputLike, capture
from ..models._load import LoadedModel


def predict(model: LoadedModel, image: Union[InputLike, Capture], top: Optional[int] = None) -> list[tuple[str, float]]:
    """``(label, probability)`` pairs, most likely first (all classes, or the ``top`` few).

    ``image`` may be a :class:`Capture` of this model, so the dashboard reuses the forward pass it already
    ran. Labels come from the weights' categories (torchvision), the digit classes or a labels file; a model
    without category names gets "class N". A model that ends in its own softmax (Keras' usual last layer, many
    ONNX exports) is read as it is, not put through softmax again.

    Example::

        >>> import featviz_core as fv
        >>> model = fv.load_model("digits_cnn")
        >>> maps = fv.capture(model, fv.load_sample("Handwritten 7"))
        >>> [label for label, probability in fv.predict(model, maps, top=2)]
        ['7', ...]
    """
    logits = image.output if isinstance(image, Capture) else capture(model, image).output
    if logits is None or logits.dim() != 1:
        return []
    probabilities = logits.float() if is_distribution(logits) else torch.softmax(logits.float(), dim=0)
    order = torch.argsort(probabilities, descending=True)
    if top is not None:
        order = order[:top]
    names = getattr(model, "categories", ())  # a bare module has none
    return [
        (names[i] if i < len(names) else f"class {i}", float(probabilities[i]))
        for i in order.tolist()
    ]


def is_distribution(values: torch.Tensor, tolerance: float = 1e-3) -> bool:
    """Whether a model's output is already probabilities: none negative, summing to one."""
    return bool(values.min() >= 0) and abs(float(values.double().sum()) - 1.0) <= tolerance


def labels_mismatch(model: LoadedModel, captured: Capture) -> Optional[str]:
    """Say so when a model's class names do not match its output (a labels file for another model); None when
    they do, or when there is nothing to compare."""
    output = captured.output
    names = getattr(model, "categories", ())
    if not names or output is None or output.dim() != 1 or len(names) == output.numel():
        return None
    return (f"The class names given for **{model.name}** are {len(names)}, but it gives {output.numel()} scores: "
            "they belong to another model. Predictions past the names read “class N”; give the model's own labels "
            "file.")
