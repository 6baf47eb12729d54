"""A long session: many changes of image, model, layer and normalization through one page session.

Runs in-process with AppTest, so it can look inside the server: resident memory must level off, the shared
caches must stay within their caps, and no hook may be left on any cached model. CI runs a reduced count;
the full soak is::

    FEATVIZ_SOAK_CHANGES=500 python -m pytest -s tests/test_soak.py
"""

from __future__ import annotations

import itertools
import os
import re

import pytest

import featviz_core as fv
from tests.test_app import start

CHANGES = int(os.environ.get("FEATVIZ_SOAK_CHANGES", "120"))
CACHE_MB = 150
FIGURE_MB = 48
MODELS = (("digits_cnn", "pretrained"), ("resnet18", "untrained"), ("mobilenet_v3_small", "untrained"))
SAMPLES = ("Handwritten 2", "Cat (Chelsea)", "Checkerboard", "Handwritten 8", "Coffee cup", "Circles")
NORMALIZATIONS = list(fv.NORMALIZATIONS)

pytestmark = pytest.mark.timeout(1800)


def rss_mb() -> float:
    status = open("/proc/self/status").read()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024


def hooks_on(module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in module.modules())


def test_a_long_session_stays_bounded_and_leaves_no_hooks(monkeypatch):
    monkeypatch.setenv("FEATVIZ_ACTIVATION_CACHE_MB", str(CACHE_MB))
    monkeypatch.setenv("FEATVIZ_FIGURE_CACHE_MB", str(FIGURE_MB))
    from pages.shared import cached_model, caches

    at = start()
    kinds = itertools.cycle(["layer", "normalization", "layer", "sample", "layer", "model"])
    models, samples, modes = itertools.cycle(MODELS), itertools.cycle(SAMPLES), itertools.cycle(NORMALIZATIONS)
    readings = []
    for change in range(CHANGES):
        kind = next(kinds)
        if kind == "model":
            name, weights = next(models)
            at.sidebar.selectbox(key="model").set_value(name).run()
            at.sidebar.radio(key="weights").set_value(weights)
        elif kind == "sample":
            at.sidebar.selectbox(key="sample").set_value(next(samples))
        elif kind == "normalization":
            at.sidebar.selectbox(key="normalization").set_value(next(modes))
        else:
            options = _layer_keys(at)
            at.sidebar.selectbox(key="layer").set_value(options[(change * 7) % len(options)])
        at.run()
        assert not at.exception, (change, kind, at.exception)
        assert not at.error, (change, kind, [e.value for e in at.error])
        readings.append(rss_mb())

    store = caches()
    assert store.activations.nbytes <= CACHE_MB * 2**20, "the activation cache went over its cap"
    assert store.figures.nbytes <= FIGURE_MB * 2**20, "the figure cache went over its cap"
    for name, weights in MODELS:
        assert hooks_on(cached_model(name, weights == "pretrained").module) == 0, name
    warm = readings[len(readings) // 3]
    end = max(readings[-max(3, len(readings) // 10):])
    growth = (end - warm) / warm
    print(
        f"\nsoak: {CHANGES} changes in one session; RSS {readings[0]:.0f} MB after the first, {warm:.0f} MB after "
        f"warm-up (a third in), {end:.0f} MB at the end ({growth:+.1%}); activation cache "
        f"{store.activations.nbytes / 2**20:.0f} of {CACHE_MB} MB in {len(store.activations)} captures, figure cache "
        f"{store.figures.nbytes / 2**20:.0f} of {FIGURE_MB} MB in {len(store.figures)} grids; "
        f"0 hooks left on {len(MODELS)} cached models"
    )
    assert growth < 0.10, f"resident memory kept growing: {warm:.0f} -> {end:.0f} MB"


def _layer_keys(at) -> list[str]:
    """The layer selectbox's option values (its labels carry type and shape after the name)."""
    box = at.sidebar.selectbox(key="layer")
    return [label.strip().split(" · ")[0].replace("\u2003", "") for label in box.options]
