"""Channel statistics against values worked out by hand, and the analysis figures built on them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import featviz_core as fv
from featviz_core.activations._records import NOISE_THRESHOLD
from featviz_core.analysis._stats import layer_stats, layer_values


def constructed() -> torch.Tensor:
    """Four 8×8 channels: dead, constant, noise, structured."""
    torch.manual_seed(0)
    maps = torch.zeros(4, 8, 8)
    maps[1] = 2.5
    maps[2] = torch.randn(8, 8)
    y, x = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    maps[3] = torch.relu(3.0 - ((y - 2) ** 2 + (x - 5) ** 2) / 4)  # a blob peaking 3.0 at (2, 5)
    return maps


def test_flags_dead_constant_noise_and_structure():
    stats = fv.channel_stats(constructed())
    assert stats.dead.tolist() == [True, False, False, False]
    assert stats.constant.tolist() == [False, True, False, False]
    assert stats.noise_like.tolist() == [False, False, True, False]
    assert np.isnan(stats.hf_energy[0]) and np.isnan(stats.hf_energy[1])  # no variance: undefined
    assert stats.hf_energy[2] > NOISE_THRESHOLD > 0.2 > stats.hf_energy[3]


def test_figures_match_hand_computation():
    maps = constructed()
    stats = fv.channel_stats(maps)
    blob = maps[3]
    assert stats.mean[1] == 2.5 and stats.std[1] == 0 and stats.sparsity[1] == 0
    assert stats.sparsity[0] == 1.0 and stats.max[0] == 0
    assert stats.max[3] == 3.0 and (stats.argmax_y[3], stats.argmax_x[3]) == (2, 5)
    assert stats.sparsity[3] == pytest.approx(float((blob == 0).sum()) / 64)
    assert stats.mean[3] == pytest.approx(float(blob.double().mean()))
    assert stats.std[3] == pytest.approx(float(blob.double().std(correction=0)))


def test_hand_computed_small_example():
    stats = fv.channel_stats(torch.tensor([[[0.0, 1.0], [2.0, 5.0]]]))
    row = stats.rows()[0]
    assert (row["mean"], row["max"], row["min"], row["sparsity"], row["max_at"]) == (2.0, 5.0, 0.0, 0.25, "(1, 1)")
    assert row["std"] == pytest.approx(np.std([0, 1, 2, 5]))
    assert row["hf_energy"] is None  # 2×2 is too small to judge


def test_noise_measure_is_about_one_for_white_noise_at_any_size():
    generator = torch.Generator().manual_seed(1)
    for size in (7, 16, 56):
        scores = fv.channel_stats(torch.randn(40, size, size, generator=generator)).hf_energy
        assert 0.85 < float(np.mean(scores)) < 1.15, size


def test_order_top_and_hide_dead():
    maps = constructed()
    stats = fv.channel_stats(maps)
    assert stats.order("max") == sorted(range(4), key=lambda c: -float(maps[c].max()))
    assert stats.order("max", top=2) == stats.order("max")[:2]
    assert stats.order("sparsity", descending=False)[0] != 0
    assert 0 not in stats.order("index", hide_dead=True)
    assert stats.order("hf_energy")[0] == 2 and stats.order("hf_energy")[-2:] in ([0, 1], [1, 0])  # NaN last
    with pytest.raises(ValueError):
        stats.order("loudness")


def test_summary_line():
    assert fv.channel_stats(constructed()).summary() == (
        "4 channels · 1 dead · 1 constant · 1 noise-like · mean sparsity "
        f"{(1 + float((constructed()[3] == 0).float().mean())) / 4:.0%}"
    )


def test_single_values_are_not_called_constant_and_say_why():
    stats = fv.channel_stats(torch.tensor([0.0, 1.5, -2.0, 0.0]))  # a Linear layer's vector: four channels of 1×1
    assert stats.map_size == (1, 1) and not stats.constant_applies and not stats.noise_applies
    assert not stats.constant.any() and stats.dead.tolist() == [True, False, False, True]
    assert stats.summary() == (
        "4 channels of one value each · 2 zero · constant and noise-like do not apply to single values"
    )
    row = stats.row(1)
    assert row["constant"] is None and row["noise_like"] is None and row["dead"] is False
    assert "constant" not in fv.channel_stats(torch.ones(3, 1, 1)).summary().replace("constant and", "")


def test_noise_does_not_apply_below_five_by_five_but_constant_does():
    maps = torch.stack([torch.full((4, 4), 2.0), torch.randn(4, 4)])
    stats = fv.channel_stats(maps)
    assert stats.constant_applies and not stats.noise_applies
    assert stats.constant.tolist() == [True, False]
    assert [stats.row(c)["noise_like"] for c in range(2)] == [None, None]
    assert stats.summary() == (
        "2 channels · 0 dead · 1 constant · noise-like does not apply to maps under 5×5 · mean sparsity 0%"
    )


@pytest.mark.parametrize("scale", [1e-30, 1e-12, 1e-6, 1e6, 1e30])
def test_statistics_do_not_depend_on_the_layer_scale(scale):
    """A channel of 1e-12 is as noise-like, as constant and as alive as the same channel at 1."""
    base = fv.channel_stats(constructed())
    scaled = fv.channel_stats(constructed() * scale)
    for flag in ("dead", "constant", "noise_like"):
        assert getattr(scaled, flag).tolist() == getattr(base, flag).tolist(), flag
    np.testing.assert_allclose(scaled.hf_energy, base.hf_energy, rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(scaled.mean, base.mean * scale, rtol=1e-6)
    np.testing.assert_allclose(scaled.std, base.std * scale, rtol=1e-5)
    assert scaled.summary() == base.summary()


def test_layer_values_are_over_the_whole_output():
    tokens = torch.arange(17 * 3, dtype=torch.float32).reshape(17, 3)  # a class token and 4×4 patches
    values = layer_values(tokens)
    assert (values.min, values.max, values.count, values.zeros) == (0.0, 50.0, 51, 1)
    assert values.mean == pytest.approx(25.0) and values.sparsity == pytest.approx(1 / 51)
    fmap = fv.FeatureMap("x", "Identity", tokens)
    assert layer_stats(fmap).values == values  # the class token counts, though the grid leaves it out


def test_layer_summary_of_a_small_model(tiny_model):
    captured = fv.capture(tiny_model, torch.randn(3, 8, 8))
    rows = {row.name: row for row in fv.layer_summary(tiny_model, captured)}
    assert list(rows) == list(captured)
    assert rows["conv1"].parameters == 3 * 8 * 9 + 8 and rows["relu#2"].parameters == 0
    relu = captured["relu"].tensor
    assert rows["relu"].sparsity == pytest.approx(float((relu == 0).float().mean()))
    assert rows["fc"].shape == (5,) and rows["conv1"].channels == 8


def test_output_shape_explainer_with_padding_stride_dilation_and_groups():
    conv = nn.Conv2d(8, 16, 3, stride=2, padding=1)
    assert fv.output_shape_explainer(conv, (8, 64, 64))[:2] == [
        "height: out = ⌊(64 − 3 + 2·1)/2⌋ + 1 = 32", "width: out = ⌊(64 − 3 + 2·1)/2⌋ + 1 = 32",
    ]
    dilated = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=4)
    lines = fv.output_shape_explainer(dilated, (8, 20, 20))
    assert lines[0] == "height: out = ⌊(20 + 2·2 − 2·(3 − 1) − 1)/1⌋ + 1 = 20  (dilation 2)"
    assert "groups = 4: each filter sees 2 of the 8 input channels" in lines[-1]
    assert tuple(dilated(torch.zeros(1, 8, 20, 20)).shape[-2:]) == (20, 20)  # the formula matches torch


def test_kernels_rgb_and_per_input_channel():
    model = fv.load_model("resnet18", weights=None)
    conv1 = fv.conv_module(model, "conv1")
    rgb = fv.kernel_figure(conv1, rgb_input=True)
    assert rgb.data[0].type == "image" and list(rgb.data[1].text) == [str(i) for i in range(64)]
    per_input = fv.kernel_figure(fv.conv_module(model, "layer1.0.conv1"), out_channel=7)
    assert per_input.layout.meta["featviz"]["channels_total"] == 64
    assert "output channel 7" in per_input.layout.title.text
    assert fv.conv_module(model, "layer1.0.bn1") is None and fv.conv_module(model, "relu#2") is None
    digits = fv.kernel_figure(fv.conv_module(fv.load_model("digits_cnn"), "conv1"), out_channel=3)
    assert digits.layout.meta["featviz"]["channels_total"] == 32  # one input channel: all filters at once


def test_channel_closeup_figures_and_overlay():
    maps = constructed()
    figure = fv.channel_figure(maps, 3)
    np.testing.assert_array_equal(np.asarray(figure.data[0].z), maps[3].numpy())
    assert sum(fv.channel_histogram(maps, 3).data[0].x == 0) == int((maps[3] == 0).sum())
    base = Image.new("RGB", (64, 64), (255, 255, 255))
    assert fv.overlay(base, maps, 3, opacity=0.0).getpixel((0, 0)) == (255, 255, 255)
    heat = fv.overlay(base, maps, 3, opacity=1.0)
    assert heat.size == (64, 64) and heat.getpixel((44, 20)) != heat.getpixel((0, 63))  # blob vs background
    with pytest.raises(ValueError, match="channels 0…3"):
        fv.channel_figure(maps, 4)


def test_depth_profile_has_a_point_per_layer(tiny_model):
    captured = fv.capture(tiny_model, torch.randn(3, 8, 8))
    figure = fv.depth_profile(fv.layer_summary(tiny_model, captured))
    assert len(figure.data) == 2 and len(figure.data[0].y) == len(captured)
