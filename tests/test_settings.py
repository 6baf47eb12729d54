"""One settings module: every FEATVIZ_* variable parsed once, the table in docs/limits-and-safety.md and
Streamlit's limit agree with it, and the uploaders state the numbers it holds."""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path

import pytest

from featviz_core import settings
from tests.support.apptest import start

ROOT = Path(__file__).resolve().parents[1]


def test_the_limits_and_safety_table_is_the_settings_table():
    page = (ROOT / "docs" / "limits-and-safety.md").read_text(encoding="utf-8")
    rows = [line for line in page.splitlines() if re.match(r"\| `FEATVIZ_[A-Z_]+` \|", line)]
    expected = [f"| `{row.variable}` | {row.default} | {row.meaning} |" for row in settings.table()]
    assert rows == expected


def test_no_module_reads_a_featviz_variable_but_the_settings_module():
    readers = []
    for path in [*ROOT.glob("featviz_core/**/*.py"), *ROOT.glob("featviz_ui/**/*.py"), *ROOT.glob("pages/*.py"),
                 ROOT / "app.py"]:
        text = path.read_text()
        if re.search(r"(os\.environ|getenv)[^\n]*FEATVIZ_", text) and path.name != "settings.py":
            readers.append(path.relative_to(ROOT).as_posix())
    assert readers == []  # the browser driver's FEATVIZ_CHROMIUM (tests/support/browser.py) is a test's, not here


def test_streamlit_accepts_every_upload_featviz_accepts():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] >= settings.Settings().largest_upload_mb


def test_values_are_parsed_once_and_read_again_on_reload(monkeypatch):
    monkeypatch.setenv("FEATVIZ_MAX_IMAGE_MB", "7.5")
    monkeypatch.setenv("FEATVIZ_ALLOW_TORCHSCRIPT", "off")
    monkeypatch.setenv("FEATVIZ_MODEL_CACHE_ENTRIES", "2")
    first = settings.reload()
    assert (first.max_image_mb, first.max_image_bytes) == (7.5, int(7.5 * 2**20))
    assert first.allow_torchscript is False and first.model_cache_entries == 2
    monkeypatch.setenv("FEATVIZ_MAX_IMAGE_MB", "9")
    assert settings.current() is first, "parsed once: a later change needs reload()"
    assert settings.reload().max_image_mb == 9


def test_a_value_that_cannot_be_used_falls_back_to_the_default_and_says_so(monkeypatch, caplog):
    monkeypatch.setenv("FEATVIZ_FIGURE_CACHE_MB", "lots")
    monkeypatch.setenv("FEATVIZ_MAX_WEIGHTS_MB", "-3")
    monkeypatch.setenv("FEATVIZ_TUNE_ALLOCATOR", "perhaps")
    with caplog.at_level(logging.WARNING, logger="featviz"):
        loaded = settings.reload()
    assert (loaded.figure_cache_mb, loaded.max_weights_mb, loaded.tune_allocator) == (16, 600, True)
    assert {"FEATVIZ_FIGURE_CACHE_MB", "FEATVIZ_MAX_WEIGHTS_MB", "FEATVIZ_TUNE_ALLOCATOR"} <= {
        name for record in caplog.records for name in re.findall(r"FEATVIZ_[A-Z_]+", record.getMessage())
    }


def test_the_uploaders_state_and_enforce_the_configured_limits(setting):
    setting("FEATVIZ_MAX_IMAGE_MB", "7")
    setting("FEATVIZ_MAX_WEIGHTS_MB", "12")
    at = start()
    at.sidebar.radio(key="source").set_value("Upload").run()
    image = at.sidebar.file_uploader(key="upload")
    assert image.proto.max_upload_size_mb == 7 and "up to 7 MB" in image.proto.help
    at.sidebar.radio(key="weights").set_value("upload").run()
    assert at.sidebar.file_uploader(key="weights_file").proto.max_upload_size_mb == 12
    assert not at.exception


def reload_refusing(monkeypatch, caplog, variable: str, raw: str) -> tuple[settings.Settings, list[str]]:
    """Set one variable, reload, and return the settings with the warnings that name it."""
    monkeypatch.setenv(variable, raw)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="featviz"):
        loaded = settings.reload()
    return loaded, [record.getMessage() for record in caplog.records
                    if record.name == "featviz" and variable in record.getMessage()]


@pytest.mark.parametrize("raw", ["inf", "nan", "-inf", "1e400"])
def test_a_size_that_is_not_finite_is_refused_once(monkeypatch, caplog, raw):
    loaded, lines = reload_refusing(monkeypatch, caplog, "FEATVIZ_MAX_IMAGE_MB", raw)
    assert (loaded.max_image_mb, loaded.max_image_bytes) == (50.0, 50 * 2**20)
    assert len(lines) == 1 and repr(raw) in lines[0] and "using 50 MB" in lines[0]


@pytest.mark.parametrize("raw", ["inf", "nan", "0.5", "2.5", "0", "-2", "some"])
def test_a_count_that_is_not_a_whole_number_above_zero_is_refused_once(monkeypatch, caplog, raw):
    loaded, lines = reload_refusing(monkeypatch, caplog, "FEATVIZ_MODEL_CACHE_ENTRIES", raw)
    assert loaded.model_cache_entries == 4 and type(loaded.model_cache_entries) is int
    assert len(lines) == 1 and repr(raw) in lines[0] and "using 4 models" in lines[0]


@pytest.mark.parametrize("raw", ["2", " 2 ", "2.0"])
def test_a_whole_count_is_accepted_as_an_int(monkeypatch, caplog, raw):
    loaded, lines = reload_refusing(monkeypatch, caplog, "FEATVIZ_MODEL_CACHE_ENTRIES", raw)
    assert loaded.model_cache_entries == 2 and type(loaded.model_cache_entries) is int
    assert lines == []


def test_an_unknown_scan_engine_is_refused_and_the_allowed_ones_are_named(monkeypatch, caplog):
    loaded, lines = reload_refusing(monkeypatch, caplog, "FEATVIZ_SCAN_ENGINE", "bogus")
    assert loaded.scan_engine == "in-process"
    assert lines == ["featviz: FEATVIZ_SCAN_ENGINE='bogus' is not one of in-process, ray; using in-process."]


@pytest.mark.parametrize(("raw", "used"), [("RAY", "ray"), (" ray ", "ray"), ("In-Process", "in-process")])
def test_a_scan_engine_is_compared_without_case_and_kept_in_its_canonical_spelling(monkeypatch, caplog, raw, used):
    loaded, lines = reload_refusing(monkeypatch, caplog, "FEATVIZ_SCAN_ENGINE", raw)
    assert loaded.scan_engine == used
    assert lines == []
