"""The dashboard through Streamlit's AppTest: start it, act in the sidebar, read the figures it draws.

Shared by the page tests (test_app*, test_bad_input, test_soak), which all go through the same widgets.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 300  # seconds for one script run: a first zoo-model run on a loaded 2-core machine takes a while


def start() -> AppTest:
    """The app as it opens: one run, no exception."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    return at


def open_link(**params: str) -> AppTest:
    """The app opened from a shared link with these query parameters."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(params)
    at.run()
    assert not at.exception, at.exception
    return at


def chart(at: AppTest, key: str) -> dict:
    """The Plotly figure of the st.plotly_chart with widget key ``key`` (its element id ends with the key)."""
    found = [json.loads(c.proto.spec) for c in at.get("plotly_chart") if c.proto.id.endswith(f"-{key}")]
    assert len(found) == 1, f"expected one chart with key {key!r}, found {len(found)}"
    return found[0]


def component_data(at: AppTest, key: str) -> dict:
    """The data a ``st.components.v2`` component with key ``key`` was given (its element id ends with the key)."""
    found = [json.loads(c.proto.json) for c in at.get("bidi_component") if c.proto.id.endswith(f"-{key}")]
    assert len(found) == 1, f"expected one component with key {key!r}, found {len(found)}"
    return found[0]


def grid_spec(at: AppTest) -> dict:
    """The feature-map grid's figure."""
    return chart(at, "grid")


def meta(at: AppTest) -> dict:
    """What the grid says about itself (``layout.meta.featviz``): channels, shape, normalization..."""
    return grid_spec(at)["layout"]["meta"]["featviz"]


def title(at: AppTest) -> str:
    return grid_spec(at)["layout"]["title"]["text"]


def typed(value) -> np.ndarray:
    """A Plotly typed array from the figure JSON ({"dtype", "bdata", "shape"}) as numpy."""
    if isinstance(value, dict):
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]).newbyteorder("<"))
        return array.reshape([int(n) for n in str(value.get("shape", array.size)).split(",")])
    return np.asarray(value, dtype=float)


def upload(at: AppTest, name: str, data: bytes, mime: str = "image/png") -> AppTest:
    """Switch the source to Upload (if needed) and give the uploader a file."""
    if at.sidebar.radio(key="source").value != "Upload":
        at.sidebar.radio(key="source").set_value("Upload").run()
    at.sidebar.file_uploader(key="upload").set_value((name, data, mime)).run()
    assert not at.exception, at.exception
    return at


def choose_model(at: AppTest, name: str, weights: str | None = None) -> AppTest:
    """Pick a model and, if given, its weights (pretrained, untrained, upload)."""
    at.sidebar.selectbox(key="model").set_value(name).run()
    if weights is not None:
        at.sidebar.radio(key="weights").set_value(weights).run()
    assert not at.exception, at.exception
    return at


def tile_pixels(spec: dict) -> np.ndarray:
    """The drawn colours of every tile of a grid figure's mosaic, (channels, h, w, 3), cut out where the figure
    says its tiles are (``layout.meta.featviz``: first tile, pitch, columns)."""
    import io

    from PIL import Image

    source = next(trace for trace in spec["data"] if trace.get("name") == "mosaic")["source"]
    mosaic = np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).convert("RGB"))
    info = spec["layout"]["meta"]["featviz"]
    (top, left), (pitch_y, pitch_x), (h, w) = info["first_tile"], info["pitch"], info["tile_shape"]
    tiles = []
    for position in range(info["channels_shown"]):
        row, col = divmod(position, info["columns"])
        y, x = top + row * pitch_y, left + col * pitch_x
        tiles.append(mosaic[y : y + h, x : x + w])
    return np.stack(tiles)
