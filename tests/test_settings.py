"""One settings module: every FEATVIZ_* variable parsed once, the README's table and Streamlit's limit agree
with it, and the uploaders state the numbers it holds."""

from __future__ import annotations

import logging
import re
import tomllib
from pathlib import Path

from featviz_core import settings
from tests.support.apptest import start

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_table_is_the_settings_table():
    readme = (ROOT / "README.md").read_text()
    rows = [line for line in readme.splitlines() if re.match(r"\| `FEATVIZ_[A-Z_]+` \|", line)]
    expected = [f"| `{row.variable}` | {row.default} | {row.meaning} |" for row in settings.table()]
    assert rows == expected


def test_no_module_reads_a_featviz_variable_but_the_settings_module():
    readers = []
    for path in [*ROOT.glob("featviz_core/**/*.py"), *ROOT.glob("featviz_ui/**/*.py"), *ROOT.glob("pages/*.py"),
                 ROOT / "app.py"]:
        text = path.read_text()
        if re.search(r"(os\.environ|getenv)[^\n]*FEATVIZ_", text) and path.name != "settings.py":
            readers.append(path.relative_to(ROOT).as_posix())
    # the browser driver's FEATVIZ_CHROMIUM picks a test browser, not a deployment setting
    assert readers in ([], ["featviz_ui/testing.py"])


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
