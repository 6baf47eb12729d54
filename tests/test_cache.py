"""The shared caches: bounded by the memory their values really hold, least recently used evicted."""

from __future__ import annotations

import gc
import tracemalloc

import pytest
import torch
import torchvision

import featviz_core as fv
from featviz_core.cache import LRUCache, compact, figure_nbytes


def test_lru_evicts_the_least_recently_used_to_stay_under_its_byte_cap():
    cache = LRUCache(100, size_of=len)
    cache.put("a", "x" * 40)
    cache.put("b", "x" * 40)
    assert cache.get("a") is not None  # "a" is now the most recent
    cache.put("c", "x" * 40)
    assert "b" not in cache and "a" in cache and "c" in cache
    assert cache.nbytes == 80 <= cache.max_bytes


def test_a_value_larger_than_the_cap_is_kept_alone_rather_than_dropped():
    cache = LRUCache(10, size_of=len)
    cache.put("small", "x")
    cache.put("big", "x" * 50)
    assert list(cache._items) == ["big"] and cache.nbytes == 50


def test_compact_halves_floats_and_keeps_shared_layers_shared():
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    full = fv.capture(model, torch.randn(3, 64, 64))
    half = compact(full)
    assert half["conv1"].tensor.dtype == torch.float16 and half["conv1"].scale == 1.0  # ordinary: plain float16
    assert torch.allclose(half["conv1"].tensor.float(), full["conv1"].tensor, rtol=1e-3, atol=1e-3)
    # a block's output is its last ReLU's tensor, and layer1 (a Sequential) is its last block's
    assert half["layer1"].stored.data_ptr() == half["layer1.1"].stored.data_ptr()
    assert half["layer1"].stats is half["layer1.1"].stats  # measured once too
    assert len({half["conv1"], half["layer1"]}) == 2  # still hashable, as a fresh capture's maps are
    tensors = {fmap.stored.data_ptr(): fmap.stored.untyped_storage().nbytes() for fmap in half.values()}
    stats = {id(fmap.stats): fmap.stats.nbytes for fmap in half.values()}
    assert half.nbytes == sum(tensors.values()) + sum(stats.values())  # what the cache budgets by
    assert sum(tensors.values()) <= full.nbytes / 2 + 1024


def test_float16_overflow_is_scaled_not_kept_in_float32():
    captured = fv.Capture({"x": fv.FeatureMap("x", "Identity", torch.tensor([[1e6, 1.0]]))}, torch.zeros(1), None)
    fmap = compact(captured)["x"]
    assert fmap.stored.dtype == torch.float16 and fmap.scale == 2.0**5  # 1e6 / 32 = 31250 fits float16
    assert torch.allclose(fmap.tensor, torch.tensor([[1e6, 1.0]]), rtol=1e-3)


@pytest.mark.parametrize("magnitude", [1e-30, 1e-12, 1e-6, 0.01, 1.0, 100.0, 3e4, 1e6, 1e30])
def test_every_layer_keeps_its_range_and_its_relative_precision(magnitude):
    torch.manual_seed(0)
    values = torch.randn(8, 6, 6) * magnitude
    values[0] = 0.0  # a dead channel stays dead, and only it
    values[1, 0, 0] = magnitude * 1e-4  # a value ten thousand times smaller than the rest keeps its digits
    captured = fv.Capture({"x": fv.FeatureMap("x", "Conv2d", values)}, torch.zeros(1), None)
    fmap = compact(captured)["x"]
    assert fmap.stored.dtype == torch.float16
    back = fmap.tensor.float()
    assert torch.allclose(back, values, rtol=2**-10, atol=0)  # float16's precision, relative to each value
    assert torch.equal(back == 0, values == 0)
    assert fv.channel_stats(fmap).dead.tolist() == [True] + [False] * 7


def test_scales_float32_cannot_hold_still_round_trip():
    values = torch.tensor([[3e-38, -1e-40, 0.0]])  # 2**-140: the factor to bring it near 1 overflows float32
    fmap = compact(fv.Capture({"x": fv.FeatureMap("x", "Identity", values)}, torch.zeros(1), None))["x"]
    assert fmap.scale < 2.0**-100
    assert torch.allclose(fmap.tensor, values, rtol=2**-10, atol=0)


@pytest.mark.parametrize("shape", [(64, 112, 112), (512, 7, 7), (2048, 1, 1), (8, 12, 12)])
def test_figure_size_counts_what_the_figure_really_holds(shape):
    torch.manual_seed(0)
    fv.channel_grid(torch.rand(shape))  # one of the same kind first: plotly's one-off imports and validators
    gc.collect()
    real = float("inf")
    for _ in range(3):  # the least of three: another thread (an earlier test's server) may allocate meanwhile
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            figure = fv.channel_grid(torch.rand(shape))
            gc.collect()
            real = min(real, tracemalloc.get_traced_memory()[0] - before)
        finally:
            tracemalloc.stop()
    estimate = figure_nbytes(figure)
    assert 0.8 * real <= estimate <= 1.5 * real, f"estimate {estimate} bytes, real {real} bytes"


@pytest.mark.parametrize(
    "values, scale",
    [
        ([1e6, 1.0], 2.0**5),  # would overflow float16: scaled
        ([float("nan"), 1e6], 2.0**5),  # NaN must not hide the overflow
        ([float("inf"), -3.0, 2.0], 1.0),  # inf is representable; the finite values fit
        ([float("nan"), float("nan")], 1.0),
        ([-70000.0, 0.0], 2.0**2),
        ([float("inf"), 1e-9], 2.0**-44),  # inf must not hide how small the rest is
    ],
)
def test_half_looks_past_nan_and_inf_to_decide(values, scale):
    tensor = torch.tensor([values])
    captured = fv.Capture({"x": fv.FeatureMap("x", "Identity", tensor)}, torch.zeros(1), None)
    fmap = compact(captured)["x"]
    half = fmap.tensor
    assert fmap.stored.dtype == torch.float16 and fmap.scale == scale
    assert torch.equal(torch.isnan(half), torch.isnan(tensor)) and torch.equal(torch.isinf(half), torch.isinf(tensor))
