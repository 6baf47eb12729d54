"""Shared fixtures. Every test runs with its own empty TORCH_HOME so no test sees this machine's cache.

Helpers that tests call directly live in ``tests/support/``; this file holds fixtures only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from torch import nn

from featviz_core import settings
from tests.support.models import tiny_residual


@pytest.fixture(autouse=True)
def fresh_caches():
    """Models, captures and figures are process-wide Streamlit caches; each test starts without them."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    """Models a test registers in code (fv.register_model) leave with it: the picker and
    fv.available_models() of the next test are the defaults."""
    from featviz_core import registry

    before = dict(registry._REGISTERED)
    yield
    registry._REGISTERED.clear()
    registry._REGISTERED.update(before)


@pytest.fixture(autouse=True)
def fresh_settings() -> None:
    """featviz parses its FEATVIZ_* settings once; each test starts from the environment as it is."""
    settings.reload()


@pytest.fixture
def setting(monkeypatch) -> Callable[[str, str], None]:
    """Set a FEATVIZ_* variable for this test only; featviz reads it at once."""

    def set_variable(variable: str, value: str) -> None:
        monkeypatch.setenv(variable, value)
        settings.reload()

    return set_variable


@pytest.fixture(autouse=True)
def torch_home(tmp_path_factory, monkeypatch) -> Path:
    """An empty torchvision cache for each test, and an empty Hugging Face cache (timm's weights) in it;
    tests that need weights seed them themselves."""
    home = tmp_path_factory.mktemp("torch_home")
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.setenv("HF_HOME", str(home / "huggingface"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as in CI: no network; the cache must answer
    return home


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Run the test's torch work on one thread, then restore torch's thread count and determinism flag.

    Why: torch starts one thread per core. When another job holds a core, those threads wait on each
    other at every operation and a CPU-heavy test slows down far more than its share; one thread keeps
    its pace on a busy 2-core machine. train_digits also switches deterministic algorithms on for good.
    """
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


@pytest.fixture
def tiny_model() -> nn.Module:
    return tiny_residual()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory) -> Iterator[str]:
    """The real dashboard (`streamlit run app.py`) for one browser test module, on its own empty TORCH_HOME."""
    from featviz_ui.testing import dashboard

    with dashboard(tmp_path_factory.mktemp("browser_torch_home")) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium through Playwright, one per browser test module."""
    from playwright.sync_api import sync_playwright

    from featviz_ui.testing import launch

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()
