"""What separates a trained layer from an untrained one (featviz_core.analysis._learned), checked on the digits
model for every bundled sample digit: the measures that hold where the maps alone look alike."""

from __future__ import annotations

import pytest

import featviz_core as fv
from featviz_core.analysis._learned import channel_redundancy, filter_structure, layer_signs

SAMPLES = [f"Handwritten {digit}" for digit in range(10)]


@pytest.fixture(scope="module")
def pair():
    return fv.load_model("digits_cnn"), fv.load_model("digits_cnn", weights=None)


def test_learned_filters_have_structure_random_ones_do_not(pair):
    trained, untrained = pair
    for conv in ("conv1", "conv2"):
        learned = filter_structure(getattr(trained.module, conv))
        random = filter_structure(getattr(untrained.module, conv))
        assert learned > 0.15 and abs(random) < 0.1 and learned > random + 0.1, (conv, learned, random)


@pytest.mark.parametrize("sample", SAMPLES)
def test_on_every_sample_digit_the_trained_deep_layer_is_less_redundant_and_more_selective(pair, sample):
    trained, untrained = pair
    image = fv.load_sample(sample)
    a = layer_signs(trained, fv.capture(trained, image), "relu2")
    b = layer_signs(untrained, fv.capture(untrained, image), "relu2")
    assert a.filters_of == b.filters_of == "conv2"
    assert a.redundancy < b.redundancy - 0.02, (a, b)
    assert a.inactive > b.inactive + 0.1, (a, b)
    assert a.filter_structure > b.filter_structure + 0.1


def test_redundancy_is_one_for_copies_and_near_zero_for_independent_noise():
    import torch

    base = torch.randn(1, 16, 16)
    assert channel_redundancy(torch.cat([base, 2 * base, -base])) == pytest.approx(1.0)
    assert channel_redundancy(torch.randn(64, 32, 32)) < 0.05
    assert channel_redundancy(torch.ones(4, 5, 5)) == 0.0  # channels that never vary are left out
