"""capture(): exact values despite in-place ops, hooks always removed, no cross-talk between threads."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import featviz_core as fv
from tests.support.capture import assert_concurrent_captures_match, hook_count


def test_hooks_are_live_during_the_forward_pass_and_gone_after():
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append(hook_count(self))
            return x

    fv.capture(nn.Sequential(Probe()), torch.randn(3, 4, 4))
    assert seen == [2] and hook_count(Probe()) == 0  # one global hook and the copy-on-write mode


def test_captured_conv_output_equals_the_conv_applied_to_its_input(tiny_model):
    x = torch.randn(3, 20, 20)
    maps = fv.capture(tiny_model, x)
    with torch.no_grad():
        expected_conv1 = tiny_model.conv1(x.unsqueeze(0))[0]
        # conv2's input is relu(bn1(conv1)): rebuild it from the captured relu output
        expected_conv2 = tiny_model.conv2(maps["relu"].tensor.unsqueeze(0))[0]
    assert torch.equal(maps["conv1"].tensor, expected_conv1)
    assert torch.allclose(maps["conv2"].tensor, expected_conv2, atol=1e-6)


def test_outputs_overwritten_in_place_are_kept_as_the_layer_produced_them(tiny_model):
    x = torch.randn(3, 20, 20)
    maps = fv.capture(tiny_model, x)
    with torch.no_grad():
        bn1 = tiny_model.bn1(tiny_model.conv1(x.unsqueeze(0)))[0]
        bn2 = tiny_model.bn2(tiny_model.conv2(F.relu(bn1).unsqueeze(0)))[0]
    assert (bn1 < 0).any(), "the test needs negative values that the in-place ReLU would erase"
    assert torch.allclose(maps["bn1"].tensor, bn1, atol=1e-6)
    assert torch.allclose(maps["bn2"].tensor, bn2, atol=1e-6)  # before `out += identity`
    assert torch.allclose(maps["relu"].tensor, F.relu(bn1), atol=1e-6)
    assert torch.allclose(maps["relu#2"].tensor, F.relu(bn2 + F.relu(bn1)), atol=1e-6)


def test_maps_are_in_module_order_with_repeated_calls_numbered(tiny_model):
    maps = fv.capture(tiny_model, torch.randn(3, 16, 16))
    assert list(maps) == ["conv1", "bn1", "relu", "relu#2", "conv2", "bn2", "pool", "fc"]
    assert maps["relu#2"].call == 2 and maps["relu#2"].module_name == "relu"
    assert maps["conv1"].module_type == "Conv2d" and maps["conv1"].shape == (8, 16, 16)
    assert maps.output is not None and maps.output.shape == (5,)
    assert maps.input.shape == (3, 16, 16)


def test_hooks_are_removed_after_capture(tiny_model):
    before = hook_count(tiny_model)
    fv.capture(tiny_model, torch.randn(3, 16, 16))
    assert hook_count(tiny_model) == before == 0


def test_hooks_are_removed_when_the_forward_pass_raises(tiny_model):
    with pytest.raises(fv.ModelError, match="could not run on this input"):
        fv.capture(tiny_model, torch.randn(1, 16, 16))  # one channel into a 3-channel conv
    assert hook_count(tiny_model) == 0


def test_capture_does_not_change_the_model(tiny_model):
    state = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    fv.capture(tiny_model, torch.randn(3, 16, 16))
    assert not tiny_model.training
    assert all(torch.equal(state[k], v) for k, v in tiny_model.state_dict().items())


def test_concurrent_captures_on_one_shared_model_each_match_their_own_result(tiny_model):
    images = [torch.randn(3, 24, 24, generator=torch.Generator().manual_seed(i)) for i in range(8)]
    assert_concurrent_captures_match(tiny_model, images)
    assert hook_count(tiny_model) == 0


class TupleOut(nn.Module):
    def forward(self, x):
        return x * 2, {"skip": x}


class Wrapper(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pair = TupleOut()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        doubled, extra = self.pair(x)
        return self.conv(doubled + extra["skip"]).mean(dim=(2, 3))


def test_tuple_outputs_are_captured_with_a_note():
    maps = fv.capture(Wrapper().eval(), torch.randn(3, 8, 8))
    assert maps["pair"].shape == (3, 8, 8)
    assert "tuple of 2" in maps["pair"].note and "element 0" in maps["pair"].note


def test_capture_of_a_zoo_model_with_a_pil_image():
    model = fv.load_model("resnet18", weights=None)
    maps = fv.capture(model, fv.load_sample("Checkerboard"))
    assert maps["conv1"].shape == (64, 112, 112)
    assert maps["layer4"].shape == (512, 7, 7)
    assert maps["fc"].shape == (1000,)
    assert fv.default_layer(maps) == "conv1"
    assert hook_count(model.module) == 0


def test_unknown_layer_is_a_clear_error(tiny_model):
    maps = fv.capture(tiny_model, torch.randn(3, 8, 8))
    with pytest.raises(fv.LayerError, match="no captured layer named 'nope'"):
        maps["nope"]



def test_a_sequential_shares_its_last_childs_copy_and_both_stay_exact():
    torch.manual_seed(0)
    inner = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4).eval(), nn.ReLU(inplace=True))
    model = nn.Sequential(inner, nn.Conv2d(4, 2, 1)).eval()
    x = torch.randn(3, 10, 10)
    maps = fv.capture(model, x)
    with torch.no_grad():
        relu = torch.relu(inner[1](inner[0](x.unsqueeze(0))))[0]
    assert torch.equal(maps["0"].tensor, maps["0.2"].tensor) and torch.allclose(maps["0"].tensor, relu)
    assert maps["0"].tensor.data_ptr() == maps["0.2"].tensor.data_ptr()  # one copy, shared
    assert not torch.equal(maps["0.1"].tensor, maps["0.2"].tensor)  # the BN output was kept before the ReLU
