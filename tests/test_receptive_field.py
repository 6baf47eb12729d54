"""A unit's receptive field from the layers' geometry.

Two references, neither using featviz's code: the published fields of AlexNet and VGG-16 (the classic
kernel/stride arithmetic), and, for graphs with residual additions, concatenated branches, channel shuffles
and squeeze-and-excitation gates, the input pixels a unit's gradient reaches in a copy of the model made
linear and positive (activations removed, max pools made average pools, weights made positive, float64):
there no ReLU or max closes a path, so the gradient reaches exactly the pixels the geometry says.
"""

from __future__ import annotations

import copy
import functools

import pytest
import torch
import torchvision
from torch import nn

from featviz_core.analysis._receptive_field import Field, Span, layer_fields
from featviz_core.models._digits import DigitsCNN

_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.Hardswish, nn.SiLU, nn.GELU, nn.Hardtanh)


def _linear_positive(model: nn.Module) -> nn.Module:
    model = copy.deepcopy(model).double().eval()
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, _ACTIVATIONS):
                setattr(parent, name, nn.Identity())
            elif isinstance(child, nn.MaxPool2d):
                setattr(parent, name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding, child.ceil_mode))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.abs_().add_(0.01)
    return model


def _gradient_boxes(model: nn.Module, size: int, channels: int = 3) -> dict[str, list[tuple]]:
    """Per layer with maps: ((y, x), box the gradient reaches) for its first unit of its first channel and its
    middle unit of its middle channel."""
    outputs: dict[str, torch.Tensor] = {}

    def keeper(name: str):
        def keep(module, args, output) -> None:  # returns None: a hook's return value would replace the output
            outputs.setdefault(name, output)
        return keep

    handles = [module.register_forward_hook(keeper(name)) for name, module in model.named_modules() if name]
    x = torch.rand(1, channels, size, size, dtype=torch.float64).add_(0.5).requires_grad_(True)
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    boxes = {}
    for name, out in outputs.items():
        if not isinstance(out, torch.Tensor) or out.dim() != 4:
            continue
        units = {(0, 0, 0), (out.shape[1] // 2, out.shape[2] // 2, out.shape[3] // 2)}
        boxes[name] = []
        for c, y, x_ in sorted(units):
            (grad,) = torch.autograd.grad(out[0, c, y, x_], x, retain_graph=True)
            rows, cols = torch.nonzero(grad[0].abs().sum(0) > 0, as_tuple=True)
            if len(rows):  # else the unit does not depend on the input (a layer's constant part)
                boxes[name].append(((y, x_), (int(cols.min()), int(rows.min()), int(cols.max()) + 1,
                                              int(rows.max()) + 1)))
    return boxes


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@functools.cache
def _published(build) -> nn.Module:
    """One untrained model per architecture for the published fields: a VGG-16 takes about a second to build,
    and its fields do not depend on its weights."""
    return build().eval()


@pytest.mark.parametrize(("build", "layer", "size", "jump"), [
    (torchvision.models.alexnet, "features.10", 163, 16),  # conv5
    (torchvision.models.alexnet, "features.12", 195, 32),  # pool5
    (torchvision.models.vgg16, "features.28", 196, 16),  # conv5_3
    (torchvision.models.vgg16, "features.30", 212, 32),  # pool5
    (torchvision.models.vgg16, "features.0", 3, 1),
])
def test_published_fields(build, layer, size, jump):
    field = layer_fields(_published(build), torch.zeros(3, 224, 224))[layer]
    assert field is not None and field.rows == field.cols
    assert (field.rows.size, field.rows.jump) == (size, jump)


def test_fields_of_a_plain_chain_and_whole_image_after_flatten():
    fields = layer_fields(DigitsCNN().eval(), torch.zeros(1, 28, 28))
    assert fields["conv1"] == Field(Span(1, 3, 0), Span(1, 3, 0))
    assert fields["pool1"].rows == Span(2, 4, 0)
    assert fields["conv2"].rows == Span(2, 8, 0)
    assert fields["pool2"].rows == Span(4, 10, 0)
    assert fields["fc1"].whole and fields["fc2"].whole  # every input pixel reaches a linear layer on the flattened maps
    assert fields["fc1"].box(0, 0, 28, 28) == (0, 0, 28, 28)
    assert fields["flatten"] is None  # one element is one position of one channel: left to the gradient


_SLOW = pytest.mark.slow  # one backward pass per unit and layer: 1.7 to 14 s for these graphs (shufflenet: 1 s)


@pytest.mark.parametrize(("name", "size", "followed"), [
    pytest.param("resnet18", 96, 1.0, marks=_SLOW), pytest.param("mobilenet_v2", 96, 1.0, marks=_SLOW),
    pytest.param("efficientnet_b0", 64, 1.0, marks=_SLOW),
    # after concatenated branches that see differently, a channel's view is its own branch's: left to the
    # gradient until a full convolution mixes the channels again
    pytest.param("googlenet", 96, 0.5, marks=_SLOW), ("shufflenet_v2_x0_5", 96, 0.5),
    pytest.param("densenet121", 64, 0.4, marks=_SLOW),
])
def test_geometry_is_what_the_gradient_of_a_linear_positive_copy_reaches(name, size, followed):
    torch.manual_seed(0)
    kwargs = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
    model = torchvision.models.get_model(name, weights=None, **kwargs).eval()
    fields = layer_fields(model, torch.zeros(3, size, size))
    boxes = _gradient_boxes(_linear_positive(model), size)
    assert boxes
    assert sum(fields[layer] is not None for layer in boxes) >= followed * len(boxes)
    for layer, units in boxes.items():
        field = fields[layer]
        if field is None:
            continue
        for (y, x), box in units:
            assert field.box(y, x, size, size) == box, f"{name} {layer} unit {(y, x)}"


def test_same_model_from_two_sessions_is_left_as_it_was():
    model = DigitsCNN().eval()
    before = {name: (len(m._forward_hooks), len(m._forward_pre_hooks)) for name, m in model.named_modules()}
    first = layer_fields(model, torch.zeros(1, 28, 28))
    assert layer_fields(model, torch.zeros(1, 28, 28)) is first  # learnt once per input shape
    assert before == {name: (len(m._forward_hooks), len(m._forward_pre_hooks)) for name, m in model.named_modules()}


class _Upsampled(nn.Module):
    """A convolution, then an upsampling: geometry has no rule for the latter, the gradient does."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, stride=2)
        self.up = nn.Upsample(scale_factor=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.conv(x))


def _png(seed: int) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray((torch.rand(28, 28, generator=torch.Generator().manual_seed(seed)) * 255).byte().numpy()).save(
        buffer, format="PNG")
    return buffer.getvalue()


def test_top_images_crop_to_the_geometric_field_else_the_gradient():
    import featviz_core as fv
    from featviz_core.scan._views import top_images

    digits = fv.load_model("digits_cnn")
    shown = top_images(digits, [_png(1), _png(2)], "conv2", 5, [(0, 0), (4, 7)])
    field = layer_fields(digits.module, digits.preprocess(fv.load_image(_png(1))))["conv2"]
    assert [tile.found_by for tile in shown] == ["geometry", "geometry"]
    assert [tile.box for tile in shown] == [field.box(0, 0, 28, 28), field.box(4, 7, 28, 28)] == [
        (0, 0, 8, 8), (14, 8, 22, 16)]
    upsampled = fv.LoadedModel("upsampled", _Upsampled().eval(), digits.preprocess, None)
    (tile,) = top_images(upsampled, [_png(3)], "up", 0, [(5, 5)])
    assert tile.found_by == "gradient" and tile.box == (4, 4, 7, 7)  # up (5, 5) is conv (2, 2): pixels 4 to 6
