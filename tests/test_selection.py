"""select_channels(): the readable default for large layers, all of them in pages, and a caption that says
exactly which channels are shown."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import featviz_core as fv
from featviz_core.analysis._selection import DEFAULT_ACTIVE, PAGE_SIZE, select_channels


@pytest.fixture(scope="module")
def big():
    torch.manual_seed(0)
    gains = torch.linspace(0.1, 2.0, 2048)[torch.randperm(2048)]  # channels of clearly different strength
    return fv.channel_stats(torch.rand(2048, 7, 7) * gains[:, None, None])


def test_a_large_layer_opens_on_its_most_active_channels_in_the_chosen_order(big):
    view = select_channels(big)
    most_active = set(np.argsort(-big.max, kind="stable")[:DEFAULT_ACTIVE].tolist())
    assert len(view.channels) == DEFAULT_ACTIVE and set(view.channels) == most_active
    assert list(view.channels) == sorted(view.channels)  # shown by channel number, the chosen order
    assert view.description == "The 64 most active of 2048 channels (highest max), by channel number"
    assert view.is_subset and view.pages == 1 and view.exported == view.channels
    by_mean = select_channels(big, "mean", descending=False)
    assert set(by_mean.channels) == most_active  # the same channels, in the order asked for
    assert list(by_mean.channels) == sorted(by_mean.channels, key=lambda c: big.mean[c])
    assert by_mean.description.endswith("ordered by mean, lowest first")


def test_all_2048_channels_are_reachable_page_by_page(big):
    pages = [select_channels(big, show="all", page=p) for p in range(2048 // PAGE_SIZE)]
    assert [c for page in pages for c in page.channels] == list(range(2048))
    assert all(page.pages == 8 and len(page.channels) == PAGE_SIZE for page in pages)
    assert pages[0].description == "Channels 0–255 of 2048 (page 1 of 8)"
    assert pages[7].description == "Channels 1792–2047 of 2048 (page 8 of 8)"
    assert pages[3].exported == tuple(range(2048))  # an export of "all" holds every page
    assert select_channels(big, show="all", page=99).page == 0  # a page this layer lacks: the first, as the picker
    ranked = select_channels(big, "max", show="all", page=1)
    assert ranked.description == "Channels ranked 257–512 of 2048 channels, ordered by max, highest first (page 2 of 8)"
    assert list(ranked.channels) == big.order("max")[256:512]


def test_small_layers_show_every_channel_and_top_n_says_so():
    stats = fv.channel_stats(torch.rand(32, 5, 5))
    assert select_channels(stats).description == "All 32 channels, numbered from 0"
    assert select_channels(stats).channels == tuple(range(32)) and not select_channels(stats).is_subset
    top = select_channels(stats, "max", show=16)
    assert list(top.channels) == stats.order("max", top=16)
    assert top.description == "The top 16 of 32 channels, ordered by max, highest first"
    assert select_channels(stats, show="16").description == "Channels 0–15 of 32"  # a link's text value


def test_hidden_dead_channels_are_counted_in_the_sentence():
    maps = torch.rand(300, 4, 4)
    maps[:10] = 0
    stats = fv.channel_stats(maps)
    view = select_channels(stats, hide_dead=True)
    assert not set(view.channels) & set(range(10)) and view.available == 290
    assert view.description == ("The 64 most active of 290 live channels of 300 (highest max), by channel number "
                                "(10 dead hidden)")


def test_bars_are_never_cut_or_paged():
    stats = fv.channel_stats(torch.rand(4096))
    for show in ("auto", "all"):
        view = select_channels(stats, show=show, page_size=None)
        assert view.channels == tuple(range(4096)) and view.pages == 1
