"""featviz_core.draw._compare: two maps of one layer on one colour scale, and their difference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import featviz_core as fv
from featviz_core.draw._colormaps import DIVERGING
from featviz_core.draw._compare import difference, difference_grid, shared_scale


def colour_bar(figure) -> tuple[float, float]:
    """(cmin, cmax) of the figure's colour bar: the trace that shows a scale."""
    bars = [trace for trace in figure.data if getattr(trace, "marker", None) is not None and trace.marker.showscale]
    assert len(bars) == 1
    return bars[0].marker.cmin, bars[0].marker.cmax


@pytest.fixture
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    """Two maps of one layer on clearly different ranges (-1.2…1.5 and -2.3…1.9, as in the issue)."""
    torch.manual_seed(0)
    a, b = torch.rand(6, 8, 8) * 2.7 - 1.2, torch.rand(6, 8, 8) * 4.2 - 2.3
    a[0, 0, 0], a[1, 0, 0], b[0, 0, 0], b[1, 0, 0] = -1.2, 1.5, -2.3, 1.9
    return a, b


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (fv.GridSettings(normalize="per_layer"), (-2.3, 1.9)),
        (fv.GridSettings(normalize="symmetric"), (-2.3, 2.3)),
        (fv.GridSettings(normalize="raw", vmin=-1.0), (-1.0, 1.9)),
        (fv.GridSettings(normalize="raw", vmin=-0.5, vmax=0.5), (-0.5, 0.5)),
    ],
)
def test_both_grids_get_one_range_taken_over_both_maps(pair, settings, expected):
    a, b = pair
    scale = shared_scale(a, b, settings)
    assert scale.shared and scale.settings.normalize == "raw"
    assert (scale.low, scale.high) == pytest.approx(expected, abs=1e-6)
    assert "shared by both images" in scale.description
    bars = [colour_bar(fv.channel_grid(side, scale.settings)) for side in pair]
    assert bars[0] == bars[1] == pytest.approx(expected, abs=1e-6)
    alone = [colour_bar(fv.channel_grid(side, settings)) for side in pair]
    assert (alone[0] != alone[1]) == (settings.vmin is None or settings.vmax is None)  # the bug this fixes


def test_percentile_clip_is_taken_over_both_maps_together(pair):
    a, b = pair
    scale = shared_scale(a, b, fv.GridSettings(normalize="percentile", percentiles=(5, 95)))
    both = np.concatenate([a.numpy().ravel(), b.numpy().ravel()])
    assert (scale.low, scale.high) == pytest.approx(tuple(np.percentile(both, [5, 95])), rel=1e-5)
    assert colour_bar(fv.channel_grid(a, scale.settings)) == colour_bar(fv.channel_grid(b, scale.settings))


def test_per_channel_min_max_is_not_called_shared(pair):
    scale = shared_scale(*pair, fv.GridSettings(normalize="per_channel", colormap="magma"))
    assert not scale.shared and scale.low is None
    assert scale.settings == fv.GridSettings(normalize="per_channel", colormap="magma")
    assert "own minimum and maximum on each side" in scale.description


def test_the_range_is_that_of_the_maps_as_drawn():
    """A 3-D layer is drawn as its mean over depth: the shared range is that of the means, not the volume."""
    volume = torch.zeros(2, 4, 3, 3)
    volume[0, 0] = 8.0  # mean over the 4 depth slices: 2
    scale = shared_scale(volume, torch.zeros(2, 4, 3, 3), fv.GridSettings(normalize="per_layer"))
    assert (scale.low, scale.high) == (0.0, 2.0)


def test_difference_of_a_map_with_itself_is_all_zero():
    maps = fv.capture(fv.load_model("digits_cnn"), fv.load_sample("Handwritten 7"))
    diff = difference(maps["conv1"], maps["conv1"])
    assert diff.identical and diff.name == "conv1"
    assert not diff.tensor.any() and not diff.change.any() and diff.most_changed() == []
    figure = difference_grid(diff)
    values = next(trace for trace in figure.data if trace.name == "values")
    assert np.nanmax(np.abs(np.asarray(values.z, dtype=float))) == 0.0


def test_difference_is_a_minus_b_drawn_symmetric_and_diverging(pair):
    a, b = pair
    diff = difference(a, b)
    assert torch.equal(diff.tensor, a - b)
    assert diff.bound == pytest.approx(float((a - b).abs().max()))
    expected = (a - b).abs().mean(dim=(1, 2)).numpy()
    np.testing.assert_allclose(diff.change, expected, rtol=1e-6)
    assert diff.most_changed(3) == list(np.argsort(-expected)[:3])
    figure = difference_grid(diff, value_name="left − right")
    meta = figure.layout.meta["featviz"]
    assert meta["normalization"] == "symmetric" and meta["colormap"] == DIVERGING
    assert colour_bar(figure) == pytest.approx((-diff.bound, diff.bound))


def test_difference_keeps_the_grids_channel_order(pair):
    figure = difference_grid(difference(*pair), fv.GridSettings(order=(4, 1)))
    assert figure.layout.meta["featviz"]["channels_shown"] == 2


def test_maps_of_different_shapes_cannot_be_subtracted():
    with pytest.raises(fv.FeatvizError, match=r"shape 4×6×6 for the first image and 4×7×7 for the second"):
        difference(torch.zeros(4, 6, 6), torch.zeros(4, 7, 7))


def test_only_finite_values_count_towards_the_change():
    a = torch.zeros(2, 2, 2)
    a[0, 0, 0], a[1, 0, 0] = float("nan"), 4.0
    diff = difference(a, torch.zeros(2, 2, 2))
    assert diff.bound == 4.0 and diff.change.tolist() == [0.0, 1.0] and diff.most_changed() == [1]
