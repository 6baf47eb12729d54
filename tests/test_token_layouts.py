"""MaxViT's windows × tokens × channels: recognised from the model, put back on the image grid exactly.

The reference is the model itself: the maps of a partition's output, laid back out, must equal the maps that
went into the partition, and the last swap's output laid back out must equal the model's own departition.
"""

from __future__ import annotations

import pytest
import torch
import torchvision

import featviz_core as fv
from featviz_core.activations._shapes import channel_view, view_of


@pytest.fixture(scope="module")
def maxvit() -> fv.Capture:
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return fv.capture(torchvision.models.maxvit_t().eval(), torch.randn(3, 224, 224))
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("block", ["blocks.0.layers.0.layers", "blocks.3.layers.1.layers"])
def test_partitions_are_laid_back_out_where_the_model_took_them_from(maxvit, block):
    window, grid = f"{block}.window_attention", f"{block}.grid_attention"
    before_window = maxvit[f"{block}.MBconv"].tensor
    for name in (f"{window}.partition_op", f"{window}.partition_swap"):
        view = view_of(maxvit[name])
        assert view.kind == "windows" and torch.equal(view.maps, before_window), name
    before_grid = maxvit[window].tensor
    for name in (f"{grid}.partition_op", f"{grid}.partition_swap"):
        view = view_of(maxvit[name])
        assert view.kind == "windows" and torch.equal(view.maps, before_grid), name
    for attention in (window, grid):
        assert torch.equal(view_of(maxvit[f"{attention}.departition_swap"]).maps,
                           maxvit[f"{attention}.departition_op"].tensor)


def test_every_partitioned_output_is_recognised_and_said(maxvit):
    partitioned = [fmap for name, fmap in maxvit.items() if "_attention." in name
                   and not name.endswith("departition_op") and fmap.tensor.dim() == 3]
    assert len(partitioned) > 300 and all(fmap.layout is not None for fmap in partitioned)
    swap = view_of(maxvit["blocks.0.layers.0.layers.grid_attention.mlp_layer.3"])
    assert swap.maps.shape == (64, 56, 56)
    assert "tokens × windows × channels (64, 49, 64)" in swap.note and "56×56 grid" in swap.note
    plain = channel_view(maxvit["blocks.0.layers.0.layers.grid_attention.mlp_layer.3"].tensor)
    assert plain.kind == "maps"  # the shape alone would say 64 maps of 49×64


def test_the_layout_survives_the_shared_cache(maxvit):
    from featviz_core.cache import compact

    name = "blocks.1.layers.0.layers.window_attention.attn_layer.1"
    kept = compact(maxvit)[name]
    assert kept.layout == maxvit[name].layout and view_of(kept).kind == "windows"


@pytest.mark.slow  # maxvit_t through the whole page: about 1.6 s
def test_the_page_shows_a_partition_as_maps_on_the_image_grid_and_says_so():
    from tests.support.apptest import grid_spec, open_link

    at = open_link(model="maxvit_t", weights="untrained",
                   layer="blocks.0.layers.0.layers.grid_attention.attn_layer.1")
    assert any("**Shown as** 64 maps of 56×56" in block.value for block in at.markdown)
    assert any("tokens × windows × channels (64, 49, 64)" in note.value for note in at.info)
    assert "56×56" in grid_spec(at)["layout"]["title"]["text"]
