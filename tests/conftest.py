"""Shared fixtures. Every test runs with its own empty TORCH_HOME so no test sees this machine's cache.

Helpers that tests call directly live in ``tests/support/``; this file holds fixtures, and the hooks that run
the suite on two pytest-xdist workers (``-n 2``, set in pyproject.toml). torch and featviz are imported where
they are used, not here: pytest-xdist's controller loads this file too and runs no test.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from torch import nn

_UNITS = "FEATVIZ_TEST_UNITS"
"""Set by pytest-xdist's controller: where its workers write which tests go to one worker together."""


def _runs_tests(config: pytest.Config) -> bool:
    """False in pytest-xdist's controller (``-n 2``), which only hands the tests to its workers."""
    return hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None)


def pytest_configure(config: pytest.Config) -> None:
    """Torch on one thread in every process that runs tests, and in every process they start (the dashboard,
    the soak, the zoo sweep).

    Why: torch starts one thread per core. The suite runs on two cores with two pytest-xdist workers, and on a
    machine where other jobs hold a core; torch's threads then wait on each other at every operation and a
    CPU-heavy test slows down several times over (a zoo capture measured 0.8 s alone and 5.5 s beside one other
    job). One thread per process keeps each test's pace whatever else runs.
    """
    os.environ["OMP_NUM_THREADS"] = "1"
    if _runs_tests(config):
        import torch

        torch.set_num_threads(1)
    elif config.getvalue("dist") == "loadscope":
        os.environ[_UNITS] = str(Path(tempfile.mkdtemp(prefix="featviz-test-units-")) / "units")


def pytest_unconfigure(config: pytest.Config) -> None:
    if not _runs_tests(config) and os.environ.get(_UNITS):
        shutil.rmtree(Path(os.environ.pop(_UNITS)).parent, ignore_errors=True)


def _uses_a_module_fixture(item: pytest.Item) -> bool:
    """Whether the test uses a module-, class- or package-scoped fixture of its own (not frozen_heap, which every
    module has)."""
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    return any(defs and defs[-1].scope in ("class", "module", "package")
               for name, defs in definitions.items() if name != "frozen_heap")


def _work_unit(item: pytest.Item) -> str:
    """The tests pytest-xdist hands to one worker together: every test on the shared dashboard (``app_url``) or a
    module's Chromium (``browser``), so the dashboard starts once; a module's tests when it has a module-scoped
    fixture (a trained model, a Ray cluster), so that is built once; any other test on its own."""
    if {"app_url", "browser"} & set(item.fixturenames):
        return "browser"
    return item.nodeid.split("::", 1)[0] if _uses_a_module_fixture(item) else item.nodeid


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Order the tests long-first, and tell pytest-xdist's controller the work units (:func:`_work_unit`).

    Order (stable, a unit's tests kept together): the browser unit, then the units with a slow or load test,
    then the rest. Why: with two workers a long test that starts last leaves the other worker idle to the end;
    started first, the short ones fill in around it. Run serially, the order changes nothing.
    """
    units = {item.nodeid: _work_unit(item) for item in items}
    rank: dict[str, int] = {}
    for item in items:
        unit = units[item.nodeid]
        long = item.get_closest_marker("slow") or item.get_closest_marker("load")
        weight = 0 if unit == "browser" else 1 if long else 2
        rank[unit] = min(rank.get(unit, weight), weight)
    items.sort(key=lambda item: rank[units[item.nodeid]])
    if hasattr(config, "workerinput") and os.environ.get(_UNITS):
        written = Path(f"{os.environ[_UNITS]}.{config.workerinput['workerid']}")
        partial = Path(f"{written}.partial")
        partial.write_text(json.dumps(units))
        partial.replace(written)  # whole or absent when the controller reads it


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadscope`` by the workers' :func:`_work_unit`, handed out in collection order
    (``--no-loadscope-reorder``).

    Why not ``--dist loadgroup`` with xdist_group marks: pytest-xdist 3.8 marks a group by rewriting the test's
    node id, which pytest 9.2's structured node ids ignore, so the groups are silently split
    (pytest-dev/pytest-xdist#1386). The workers write their units to a file before they report their collection;
    the controller reads it when every worker has (``schedule``). A test missing there goes by its module.
    """
    if config.getvalue("dist") != "loadscope" or not os.environ.get(_UNITS):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        units: dict[str, str] = {}

        def schedule(self) -> None:
            if self.collection is None:
                written = sorted(p for p in Path(os.environ[_UNITS]).parent.glob("units.gw*") if p.suffix != ".partial")
                self.units = json.loads(written[0].read_text()) if written else {}
            super().schedule()

        def _split_scope(self, nodeid: str) -> str:
            return self.units.get(nodeid) or nodeid.split("::", 1)[0]

    return UnitScheduling(config, log)


@pytest.fixture(autouse=True, scope="module")
def frozen_heap() -> None:
    """Before each module: collect the garbage, then freeze what is still alive (the imported modules, torch,
    keras, ray, onnx..., session fixtures, process-wide caches) out of the garbage collector's reach.

    Why: Streamlit runs a full ``gc.collect()`` after every script run (``runner.postScriptGC``), and so do a few
    tests; a full collection walks every tracked object, so with the whole suite imported each AppTest run paid
    about 0.3 s for it, several times per test (test_app.py: 59 s in a full serial run before, 6 s after).
    What a module's tests create is collected as before; what was alive before it is mostly alive to the end.
    """
    gc.collect()
    gc.freeze()


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
    from featviz_core.models import _registry as registry

    before = dict(registry._REGISTERED)
    yield
    registry._REGISTERED.clear()
    registry._REGISTERED.update(before)


@pytest.fixture(autouse=True)
def fresh_settings() -> None:
    """featviz parses its FEATVIZ_* settings once; each test starts from the environment as it is."""
    from featviz_core import settings

    settings.reload()


@pytest.fixture
def setting(monkeypatch) -> Callable[[str, str], None]:
    """Set a FEATVIZ_* variable for this test only; featviz reads it at once."""
    from featviz_core import settings

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
    its pace on a busy 2-core machine. pytest_configure already sets one thread for the whole run; this
    fixture says so where a test depends on it, and holds if a test before it changed the count.
    train_digits also switches deterministic algorithms on for good.
    """
    import torch

    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


@pytest.fixture
def tiny_model() -> nn.Module:
    from tests.support.models import tiny_residual

    return tiny_residual()


@pytest.fixture(scope="session")
def app_home(tmp_path_factory) -> Path:
    """The shared dashboard's TORCH_HOME, where its server writes streamlit.log."""
    return tmp_path_factory.mktemp("browser_torch_home")


@pytest.fixture(scope="session")
def app_url(app_home: Path) -> Iterator[str]:
    """The real dashboard (`streamlit run app.py`) shared by the browser test modules, on its own empty
    TORCH_HOME, started once per run (once per pytest-xdist worker; the browser tests share one worker).

    Every test opens its own browser context, so its own Streamlit session; what the modules share is the server
    and its caches, as the people using one dashboard do. A test that needs a fresh server starts its own
    (test_browser_lessons' presenter link, test_load). The server's file watcher is off: an edit in the working
    tree during the run must not make it re-import the app mid-test. It warms the default example as it starts,
    as a real server does (the test servers started for one test do not).
    """
    from tests.support.browser import dashboard

    quiet = {"STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none", "STREAMLIT_SERVER_RUN_ON_SAVE": "false"}
    with dashboard(app_home, extra_env=quiet, warm=True) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium through Playwright, one per browser test module (closed before test_load
    runs its own asynchronous Playwright in this process)."""
    from playwright.sync_api import sync_playwright

    from tests.support.browser import launch

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()
