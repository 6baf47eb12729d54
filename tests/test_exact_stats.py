"""What the pages report comes from the exact values, and what the cache draws keeps every layer's range.

The dashboard keeps activations in float16 (:func:`featviz_core.cache.compact`). float16 rounds values below
about 6e-8 to zero, and an untrained efficientnet_b0's deep layers are about 1e-12: the page called all 320
channels of ``features.7`` dead and drew them blank. These tests go through the same cache the pages use.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import featviz_core as fv
from featviz_core.analysis._stats import layer_values
from featviz_core.cache import compact
from featviz_core.models._load import list_zoo_models
from featviz_ui.caches import cached_capture, cached_stats
from tests.support.apptest import choose_model, start

FLAGS = ("dead", "constant", "noise_like")
SMALLEST = {
    # family prefix -> its smallest model in fewest operations (vit_b_32 over vit_b_16: a quarter of the work)
    "alexnet": "alexnet", "convnext": "convnext_tiny", "densenet": "densenet121", "digits_cnn": "digits_cnn",
    "efficientnet_b": "efficientnet_b0", "efficientnet_v2": "efficientnet_v2_s", "googlenet": "googlenet",
    "inception": "inception_v3", "maxvit": "maxvit_t", "mnasnet": "mnasnet0_5", "mobilenet_v2": "mobilenet_v2",
    "mobilenet_v3": "mobilenet_v3_small", "regnet_x": "regnet_x_400mf", "regnet_y": "regnet_y_400mf",
    "resnet": "resnet18", "resnext": "resnext50_32x4d", "shufflenet": "shufflenet_v2_x0_5",
    "squeezenet": "squeezenet1_1", "swin_v2": "swin_v2_t", "swin_": "swin_t", "vgg": "vgg11", "vit": "vit_b_32",
    "wide_resnet": "wide_resnet50_2",
}
IMAGE = "Cat (Chelsea)"


def family(name: str) -> str:
    return max((prefix for prefix in SMALLEST if name.startswith(prefix)), key=len, default="")


def test_the_sweep_covers_every_family_of_the_zoo():
    names = ["digits_cnn", *list_zoo_models()]  # torchvision's zoo; timm's models have their own tests
    assert {name: family(name) for name in names if not family(name)} == {}
    assert set(SMALLEST.values()) <= set(names)
    assert all(family(model) == prefix for prefix, model in SMALLEST.items())


def scaled_down(model: fv.LoadedModel, factor: float = 1e-6) -> fv.LoadedModel:
    """The same model with every parameter times ``factor`` (load_model builds a new module on each call,
    so this one is the test's own)."""
    with torch.no_grad():
        for parameter in model.module.parameters():
            parameter.mul_(factor)
    return model


def assert_cache_tells_the_truth(model: fv.LoadedModel, key: str) -> None:
    """Flags, statistics and the overview from the cached capture equal those of the float32 capture, and
    the cached values keep each layer's range: no layer or channel drawn blank unless it is zero."""
    image = fv.load_sample(IMAGE)
    exact = fv.capture(model, image)
    cached = cached_capture("sweep", key, model, image)
    assert list(cached) == list(exact)
    # every layer measured in one go: layers past FEATVIZ_CAPTURE_RAM_MB (efficientnet_v2_s, maxvit_t) then run
    # the model again once, not once per layer read (tests/test_capture_for_cache.py reads them one by one)
    cached.finish()
    for name, fmap in exact.items():
        truth = fv.channel_stats(fmap)
        told = cached_stats(("sweep", key), cached[name])
        for flag in FLAGS:
            assert np.array_equal(getattr(told, flag), getattr(truth, flag)), (name, flag)
        assert told.summary() == truth.summary(), name
        values = fmap.tensor.float()
        drawn = cached[name].tensor.float()
        finite = torch.isfinite(values)
        if finite.any():
            peak, drawn_peak = float(values[finite].abs().max()), float(drawn[finite].abs().max())
            precision = torch.finfo(cached[name].stored.dtype).eps if cached[name].stored.is_floating_point() else 0
            assert abs(drawn_peak - peak) <= peak * precision / 2, (name, peak, drawn_peak)
        # tiles drawn from the cache are blank exactly where the layer is dead
        as_drawn = fv.FeatureMap(name, fmap.module_type, drawn, layout=cached[name].layout)  # tiles, as laid out
        assert np.array_equal(fv.channel_stats(as_drawn).dead, truth.dead), name
    for got, want in zip(fv.layer_summary(model, cached), fv.layer_summary(model, exact), strict=True):
        assert (got.name, got.dead_channels, got.sparsity) == (want.name, want.dead_channels, want.sparsity)
        assert got.mean == pytest.approx(want.mean, rel=1e-5, abs=1e-300), got.name


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALLEST.values()))
def test_cached_statistics_equal_float32_untrained_and_scaled_down(name, one_torch_thread):
    model = fv.load_model(name, weights=None)
    assert_cache_tells_the_truth(model, f"{name}:untrained")
    assert_cache_tells_the_truth(scaled_down(model), f"{name}:untrained-x1e-6")


def test_efficientnet_b0_untrained_deep_layers_are_alive_in_the_cache(one_torch_thread):
    model = fv.load_model("efficientnet_b0", weights=None)
    image = fv.load_sample(IMAGE)
    exact = fv.capture(model, image)
    cached = compact(exact)
    for name in ("features.6", "features.7", "features.8", "avgpool"):
        values = exact[name].tensor
        assert 0 < float(values.abs().max()) < 1e-9 and not (values == 0).any()  # the case
        stats = fv.channel_stats(cached[name])
        assert not stats.dead.any(), name
        assert float(stats.sparsity.max()) == 0.0
        assert cached[name].stored.dtype == torch.float16 and cached[name].scale < 2.0**-30
        assert torch.allclose(cached[name].tensor, values, rtol=2**-10, atol=0)
        kept, real = layer_values(cached[name]), layer_values(exact[name])
        assert (kept.min, kept.max, kept.zeros) == (real.min, real.max, 0) and kept.mean == pytest.approx(real.mean)
    assert "320 dead" not in fv.channel_stats(cached["features.7"]).summary()


def test_explore_and_overview_pages_report_the_exact_values(one_torch_thread):
    at = choose_model(start(), "efficientnet_b0", "untrained")
    image = fv.load_sample(at.sidebar.selectbox(key="sample").value)
    exact = fv.capture(fv.load_model("efficientnet_b0", weights=None), image)
    at.sidebar.selectbox(key="layer").set_value("features.7").run()
    assert not at.exception
    truth = fv.channel_stats(exact["features.7"])
    assert not truth.dead.any()
    summaries = [m.value for m in at.markdown if m.value.startswith("**features.7**")]
    assert summaries == [f"**features.7**: {truth.summary()}"]
    assert "0 dead" in summaries[0] and "320 dead" not in summaries[0]
    facts = " ".join(m.value for m in at.markdown)
    assert f"max {float(exact['features.7'].tensor.max()):.4g}" in facts

    at.switch_page("pages/overview.py").run()
    assert not at.exception
    table = at.dataframe[0].value.set_index("layer")
    for row in fv.layer_summary(fv.load_model("efficientnet_b0", weights=None), exact):
        assert table.loc[row.name, "dead channels"] == row.dead_channels, row.name
        assert table.loc[row.name, "sparsity"] == pytest.approx(row.sparsity, abs=1e-12), row.name
    assert table.loc["features.7", "sparsity"] == 0 and table.loc["features.7", "dead channels"] == 0


def test_a_vector_layer_says_spatial_flags_do_not_apply():
    at = start()  # digits_cnn; fc2 gives its 10 class scores
    at.sidebar.selectbox(key="layer").set_value("fc2").run()
    assert not at.exception
    summary = next(m.value for m in at.markdown if m.value.startswith("**fc2**"))
    assert "constant and noise-like do not apply to single values" in summary
    assert " constant ·" not in summary and "noise-like ·" not in summary
    at.number_input(key="channel").set_value(3).run()
    assert any("constant, noise-like: n/a" in m.value for m in at.markdown)
