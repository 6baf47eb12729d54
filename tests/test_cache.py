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
    assert half["conv1"].tensor.dtype == torch.float16
    assert torch.allclose(half["conv1"].tensor.float(), full["conv1"].tensor, rtol=1e-3, atol=1e-3)
    # a block's output is its last ReLU's tensor, and layer1 (a Sequential) is its last block's
    assert half["layer1"].tensor.data_ptr() == half["layer1.1"].tensor.data_ptr()
    assert half.nbytes <= full.nbytes / 2 + 1024


def test_float16_overflow_stays_float32():
    captured = fv.Capture({"x": fv.FeatureMap("x", "Identity", torch.tensor([[1e6, 1.0]]))}, torch.zeros(1), None)
    assert compact(captured)["x"].tensor.dtype == torch.float32


@pytest.mark.parametrize("shape", [(64, 112, 112), (512, 7, 7), (2048, 1, 1), (8, 12, 12)])
def test_figure_size_counts_what_the_figure_really_holds(shape):
    torch.manual_seed(0)
    fv.channel_grid(torch.rand(4, 8, 8))  # plotly's one-off imports and validators, not the figure's
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        figure = fv.channel_grid(torch.rand(shape))
        gc.collect()
        real = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    estimate = figure_nbytes(figure)
    assert 0.8 * real <= estimate <= 1.5 * real, f"estimate {estimate} bytes, real {real} bytes"


@pytest.mark.parametrize(
    "values, dtype",
    [
        ([1e6, 1.0], torch.float32),  # overflows float16
        ([float("nan"), 1e6], torch.float32),  # NaN must not hide the overflow
        ([float("inf"), -3.0, 2.0], torch.float16),  # inf is representable; the finite values fit
        ([float("nan"), float("nan")], torch.float16),
        ([-70000.0, 0.0], torch.float32),
    ],
)
def test_half_looks_past_nan_and_inf_to_decide(values, dtype):
    tensor = torch.tensor([values])
    captured = fv.Capture({"x": fv.FeatureMap("x", "Identity", tensor)}, torch.zeros(1), None)
    half = compact(captured)["x"].tensor
    assert half.dtype == dtype
    assert torch.equal(torch.isnan(half), torch.isnan(tensor)) and torch.equal(torch.isinf(half), torch.isinf(tensor))
