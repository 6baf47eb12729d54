"""Streamlit glue shared by the pages: caches around featviz_core and the image and model pickers.

Everything heavy is cached: a model once per process for every session (``cache_resource``; featviz_core
never mutates it), a capture per (image bytes, model, weights) (``cache_data``), so changing the layer,
the normalization or the colour map never runs the model again. Cache keys are short strings (a digest of
the image bytes), so a rerun never re-hashes a large array.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Optional

import streamlit as st

import featviz_core as fv

DEFAULT_MODEL = "resnet18"
CAPTURE_CACHE_ENTRIES = 12


@dataclass(frozen=True)
class ImageChoice:
    """The image on screen: its bytes (the cache key's source), a name to show, and the decoded picture."""

    data: bytes
    name: str
    digest: str
    image: object  # PIL.Image.Image


@st.cache_resource(max_entries=4, show_spinner=False)
def cached_model(name: str, trained: bool) -> fv.LoadedModel:
    """One shared model per (architecture, weights). Never downloads: the page does that with progress."""
    return fv.load_model(name, weights="default" if trained else None, download=False)


@st.cache_data(max_entries=CAPTURE_CACHE_ENTRIES, show_spinner=False)
def cached_capture(image_digest: str, model_name: str, trained: bool, _image: object) -> fv.Capture:
    """Every layer for one image and model; keyed by the image digest, not the pixels."""
    return fv.capture(cached_model(model_name, trained), _image)


@st.cache_data(ttl=120, show_spinner=False)
def _probe_download(url: str) -> bool:
    """Whether the weights server answers; remembered for two minutes so reruns stay fast offline."""
    file = fv.WeightsFile(model="", weights="", url=url)
    return fv.weights_state(file) is fv.WeightsState.DOWNLOADABLE


def weights_status(name: str) -> tuple[fv.WeightsFile, fv.WeightsState]:
    """Cached is checked on disk every time (a file put there by hand shows up at once); the network is not."""
    file = fv.weights_file(name)
    if file.is_cached:
        return file, fv.WeightsState.CACHED
    return file, fv.WeightsState.DOWNLOADABLE if _probe_download(file.url) else fv.WeightsState.UNAVAILABLE


def recheck_weights() -> None:
    _probe_download.clear()


def decode(data: bytes, name: str) -> ImageChoice:
    """Decode bytes into an ImageChoice; raises fv.ImageError with a message for the user."""
    image = fv.load_image(data)
    return ImageChoice(data, name, hashlib.sha256(data).hexdigest()[:32], image)


def remember(key: str, value: object) -> None:
    """Keep the last good value of something, so a failed change leaves the screen as it was."""
    st.session_state[f"last_good_{key}"] = value


def last_good(key: str) -> Optional[object]:
    return st.session_state.get(f"last_good_{key}")
