"""Normalization modes against values worked out by hand, and the reshaping of non-(C,H,W) outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from featviz_core.activations._shapes import channel_view
from featviz_core.draw._normalize import normalize

# channel 0: 0..3, channel 1: constant 5, channel 2: -2..2 (signed)
MAPS = torch.tensor(
    [
        [[0.0, 1.0], [2.0, 3.0]],
        [[5.0, 5.0], [5.0, 5.0]],
        [[-2.0, 0.0], [1.0, 2.0]],
    ]
)


def test_per_channel_stretches_each_channel_and_draws_constants_at_the_bottom():
    out = normalize(MAPS, "per_channel")
    np.testing.assert_allclose(out.values[0], [[0, 1 / 3], [2 / 3, 1]], rtol=1e-6)
    np.testing.assert_allclose(out.values[1], 0.0)
    np.testing.assert_allclose(out.values[2], [[0, 0.5], [0.75, 1]])
    np.testing.assert_allclose(out.low, [0, 5, -2]) and np.testing.assert_allclose(out.high, [3, 5, 2])
    assert not out.shared_scale


def test_per_layer_uses_one_range_for_all_channels():
    out = normalize(MAPS, "per_layer")  # layer range -2..5
    np.testing.assert_allclose(out.values[0, 0, 0], 2 / 7, rtol=1e-6)
    np.testing.assert_allclose(out.values[1], 1.0)
    np.testing.assert_allclose(out.values[2, 0, 0], 0.0)
    assert out.shared_scale and out.low[0] == -2 and out.high[0] == 5


def test_symmetric_puts_zero_in_the_middle():
    out = normalize(MAPS, "symmetric")  # ±5
    np.testing.assert_allclose(out.values[2], [[0.3, 0.5], [0.6, 0.7]], rtol=1e-6)
    assert out.low[0] == -5 and out.high[0] == 5
    zeros = normalize(torch.zeros(2, 3, 3), "symmetric")
    np.testing.assert_allclose(zeros.values, 0.5)


def test_percentile_clips_outliers():
    x = torch.zeros(1, 10, 10)
    x[0, 0, 0] = 1000.0  # one outlier
    x[0, 1:, :] = torch.linspace(0, 1, 90).reshape(9, 10)
    out = normalize(x, "percentile", percentiles=(0, 98))
    assert out.high[0] < 2.0  # the outlier no longer sets the range
    assert out.values[0, 0, 0] == 1.0  # ...and is clipped to the top colour
    with pytest.raises(ValueError, match="Percentiles"):
        normalize(x, "percentile", percentiles=(50, 150))


def test_raw_uses_the_fixed_range_given():
    out = normalize(MAPS, "raw", vmin=0, vmax=10)
    np.testing.assert_allclose(out.values[1], 0.5)
    np.testing.assert_allclose(out.values[2, 0, 0], 0.0)  # -2 clipped to the bottom
    assert "0 … 10" in out.description


def test_non_finite_values_are_kept_out_of_the_range_and_marked():
    x = MAPS.clone()
    x[0, 0, 0] = float("nan")
    x[2, 0, 0] = float("inf")
    out = normalize(x, "per_channel")
    assert np.isnan(out.values[0, 0, 0]) and np.isnan(out.values[2, 0, 0])
    np.testing.assert_allclose(out.values[0, 1, 1], 1.0)
    assert out.low[0] == 1 and out.high[2] == 2


def test_unknown_mode_is_a_clear_error():
    with pytest.raises(ValueError, match="per_channel"):
        normalize(MAPS, "loudness")


@pytest.mark.parametrize(
    ("shape", "kind", "maps_shape"),
    [
        ((64, 7, 7), "maps", (64, 7, 7)),
        ((1000,), "vector", (1000, 1, 1)),
        ((197, 768), "tokens", (768, 14, 14)),
        ((196, 768), "tokens", (768, 14, 14)),
        ((10, 7), "matrix", (1, 10, 7)),
        ((56, 56, 96), "channels_last", (96, 56, 56)),
        ((4, 3, 8, 8), "volume", (4, 8, 8)),
        ((), "scalar", (1, 1, 1)),
    ],
)
def test_every_output_shape_becomes_channel_maps(shape, kind, maps_shape):
    view = channel_view(torch.randn(shape))
    assert view.kind == kind and tuple(view.maps.shape) == maps_shape
    assert (view.note != "") == (kind != "maps")


def test_vit_tokens_are_laid_out_on_the_patch_grid_without_the_class_token():
    tokens = torch.arange(197 * 2, dtype=torch.float32).reshape(197, 2)
    view = channel_view(tokens)
    assert view.maps[0, 0, 0] == tokens[1, 0]  # first patch token, not the class token
    assert view.maps[1, 13, 13] == tokens[196, 1]
    assert "class token" in view.note


def test_channels_last_is_turned_around_exactly():
    x = torch.randn(5, 5, 8)
    view = channel_view(x)
    assert torch.equal(view.maps[3], x[..., 3])
