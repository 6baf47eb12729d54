"""capture() keeps references and copies an output only before something writes into it.

The oracle is the simple, obviously correct capture: hooks that copy every output the moment it is made.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

import featviz_core as fv
from featviz_core.capturing._copy_on_write import CopyOnWrite


@contextmanager
def _copy_everything(model: nn.Module, sink: dict[str, torch.Tensor]):
    def hook(name):
        def record(module, args, output):
            key = name if name not in sink else f"{name}#{sum(k.split('#')[0] == name for k in sink) + 1}"
            if isinstance(output, torch.Tensor):
                sink[key] = output[0].detach().clone()
        return record

    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules() if n]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _reference(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    sink: dict[str, torch.Tensor] = {}
    with _copy_everything(model, sink), torch.inference_mode():
        model(x.unsqueeze(0))
    return sink


FAMILIES = [  # the smallest model of every family featviz offers
    "alexnet", "convnext_tiny", "densenet121", "efficientnet_b0", "googlenet", "inception_v3", "maxvit_t",
    "mnasnet0_5", "mobilenet_v2", "mobilenet_v3_small", "regnet_x_400mf", "regnet_y_400mf", "resnet18",
    "resnext50_32x4d", "shufflenet_v2_x0_5", "squeezenet1_0", "swin_t", "swin_v2_t", "vgg11_bn", "vit_b_16",
]


# the heaviest two (1.4 to 2 s each) run with the slow tests; the other attention models (swin) stay in the fast ones
@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if name in ("vit_b_16", "maxvit_t")
                                  else name for name in FAMILIES])
def test_every_zoo_layer_equals_a_copy_taken_when_it_was_made(name):
    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None).eval()
    x = torch.randn(3, 299 if name == "inception_v3" else 224, 224 if name != "inception_v3" else 299)
    for attempt in ("watched", "planned"):  # the first pass is watched; the second copies what it learned
        reference = _reference(model, x)
        maps = fv.capture(model, x)
        assert set(reference) <= set(maps)
        wrong = [key for key, tensor in reference.items() if not torch.equal(maps[key].tensor, tensor)]
        assert not wrong, f"{name}, {attempt}: {len(wrong)} layers differ from a copy taken when made, e.g. {wrong[:5]}"
        x = torch.randn_like(x)


def test_outputs_nothing_writes_into_are_not_copied():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    maps = fv.capture(model, torch.randn(3, 64, 64))
    # conv1 feeds bn1, which makes a new tensor: conv1's output is never overwritten, so it is not copied;
    # bn1's output is overwritten by the in-place ReLU, so the ReLU's map is the live tensor and bn1's a copy
    assert maps["relu"].tensor.data_ptr() != maps["bn1"].tensor.data_ptr()
    assert (maps["bn1"].tensor < 0).any() and (maps["relu"].tensor >= 0).all()
    storages = {m.tensor.untyped_storage().data_ptr() for m in maps.values()}
    assert len(storages) < len(maps)  # a Sequential and a block share their last child's tensor


class _Writes(nn.Module):
    """Every way of writing into a kept output that the mode recognises, one child output each."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.c, self.d, self.e, self.f, self.g = (nn.Identity() for _ in range(7))
        self.hardswish = nn.Hardswish(inplace=True)  # passes inplace positionally: F.hardswish(x, True)

    def forward(self, x):
        a = self.a(x * 1)
        a.relu_()  # method ending in _
        b = self.b(x * 1)
        b += 5  # augmented assignment
        c = self.c(x * 1)
        c[:, 0] = 7  # item assignment
        d = self.d(x * 1)
        torch.add(x, 1, out=d)  # out=
        e = self.e(x * 1)
        e.view(-1)[:3].mul_(0)  # a write through a view of the kept tensor
        f = self.f(x * 1)
        F.relu(f, inplace=True)  # inplace keyword
        g = self.g(x * 1)
        self.hardswish(g)
        return a + b + c + d + e + f + g


def test_each_kind_of_write_is_seen():
    x = -torch.rand(2, 4, 4) - 1  # all negative: every write changes it
    maps = fv.capture(_Writes().eval(), x)
    for name in "abcdefg":
        assert torch.equal(maps[name].tensor, x), f"output {name} was overwritten"


def test_the_mode_is_thread_local_and_copies_nothing_it_does_not_keep():
    mode = CopyOnWrite()
    t = torch.zeros(3)
    with mode:
        kept = mode.keep(t)
        other = torch.zeros(3)
        other.add_(1)
        assert kept.tensor.data_ptr() == t.data_ptr()  # untouched: still the live tensor
        t.add_(1)
    assert kept.tensor.data_ptr() != t.data_ptr() and torch.equal(kept.tensor, torch.zeros(3))


class _Branches(nn.Module):
    """Which modules run depends on the input; one branch writes into a kept output, the other does not."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.c = nn.Identity(), nn.Identity(), nn.Identity()

    def forward(self, x):
        if x.mean() > 0:
            a = self.a(x * 1)
            return a.relu_()
        return self.c(self.b(x * 1) + 1)


def test_later_passes_are_unwatched_and_copy_what_the_watched_pass_saw_overwritten():
    seen: list[bool] = []

    class Spy(nn.Identity):
        def forward(self, x):
            seen.append(torch._C._is_torch_function_mode_enabled())
            return x

    model = nn.Sequential(nn.Conv2d(2, 3, 1), nn.BatchNorm2d(3), nn.ReLU(inplace=True), Spy()).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    attributes = set(vars(model))
    for _ in range(3):
        x = torch.randn(2, 5, 5)
        maps = fv.capture(model, x)
        with torch.inference_mode():
            bn = model[1](model[0](x[None]))[0]
        assert torch.equal(maps["1"].tensor, bn) and (maps["1"].tensor < 0).any()  # kept from before the ReLU
    assert seen == [True, False, False]
    assert set(vars(model)) == attributes and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_a_pass_that_takes_other_modules_than_the_plan_is_watched_again():
    model = _Branches().eval()
    positive, negative = torch.rand(1, 4, 4) + 0.5, -torch.rand(1, 4, 4) - 0.5
    positive[0, 0, :2] = -1.0  # mean still above 0: the ReLU changes these
    for x in (negative, positive, negative, positive):
        maps = fv.capture(model, x)
        if x.mean() > 0:
            assert torch.equal(maps["a"].tensor, x), "a's output was read after the in-place ReLU"
        else:
            assert torch.equal(maps["b"].tensor, x) and torch.equal(maps["c"].tensor, x + 1)
