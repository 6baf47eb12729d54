"""The Dataset page through AppTest: scan the bundled digits, see a channel's top images, the never-active
channels and the class matrix, open a top image in the single-image view at that layer and channel; a zip
upload with a broken file is scanned with the file skipped and listed."""

from __future__ import annotations

import io
import zipfile

import pytest

from featviz_core import datasets
from featviz_core.scan._results import list_scans
from tests.support.apptest import chart, start, title, typed


@pytest.fixture(autouse=True)
def scan_dir(tmp_path, setting):
    setting("FEATVIZ_SCAN_DIR", str(tmp_path / "scans"))
    return tmp_path / "scans"


def dataset_page(**state):
    at = start()
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page("pages/dataset.py").run()
    assert not at.exception, at.exception
    return at


def test_scan_the_bundled_digits_and_open_a_top_image_in_the_single_image_view(scan_dir):
    at = dataset_page()
    assert at.button(key="run_scan").label == "Scan 1,000 images"
    at.multiselect(key="scan_layers").set_value(["conv2"])
    at.button(key="run_scan").click().run(timeout=180)
    assert not at.exception and not at.error, [e.value for e in at.error]
    saved = list_scans(scan_dir)
    assert len(saved) == 1 and saved[0].manifest["layers"] == ["conv2"] and saved[0].manifest["images"] == 1000
    assert any("never active" in m.value for m in at.markdown)
    assert len([b for b in at.button if b.key.startswith("open_top_")]) == 16
    matrix = chart(at, "class_matrix")
    assert typed(matrix["data"][0]["z"]).shape == (10, 64)  # ten digits × 64 channels
    at.number_input(key="channel").set_value(7).run()
    top = saved[0].table("top", "conv2")
    best = top[(top["channel"] == 7) & (top["rank"] == 0)].iloc[0]
    at.button(key="open_top_0").click().run()
    assert not at.exception
    assert title(at).startswith("conv2 · Conv2d") and at.session_state["channel"] == 7
    assert at.session_state["source"] == "Upload" and at.session_state["layer"] == "conv2"
    assert any(best["name"] in m.value for m in at.sidebar.markdown)  # the image the scan ranked first


def test_a_zip_with_an_unreadable_file_is_scanned_and_the_file_listed(scan_dir):
    buffer = io.BytesIO()
    digits = datasets.bundled(datasets.DIGITS)
    with zipfile.ZipFile(buffer, "w") as archive:
        for item in digits.items[::100]:
            archive.writestr(f"digits/{item.label}/{item.name}", item.read())
        archive.writestr("digits/7/broken.png", b"\x89PNG\r\n\x1a\nnope")
    at = dataset_page()
    at.selectbox(key="scan_source").set_value("Upload a zip of images").run()
    at.file_uploader(key="scan_zip").set_value(("digits.zip", buffer.getvalue(), "application/zip")).run()
    assert at.button(key="run_scan").label == "Scan 11 images"
    at.button(key="run_scan").click().run(timeout=120)
    assert not at.exception and not at.error, [e.value for e in at.error]
    skipped = list_scans(scan_dir)[0].table("skipped")
    assert skipped["name"].tolist() == ["digits/7/broken.png"]
    assert any("1 file(s) could not be read" in box.label for box in at.expander)
