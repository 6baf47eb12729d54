"""Streamlit glue shared by the pages: caches around featviz_core and the last good state.

Everything heavy is cached: a bundled or zoo model once per process for every session
(``cache_resource``, at most :data:`MODEL_CACHE_ENTRIES`; featviz_core never mutates it), and in
:func:`caches` one capture per (image bytes, model) in float16, each layer's statistics, and built grid
figures, so changing the layer, the normalization or the colour map never runs the model again. These are
featviz_core's byte-bounded LRU caches rather than ``st.cache_data``, which bounds only the entry count
and unpickles a full copy of every layer on each hit. Keys are short strings (digests), so a rerun never
re-hashes a large array. Models people upload live in their own session only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Optional

import streamlit as st

import featviz_core as fv

MODEL_CACHE_ENTRIES = 4


@dataclass(frozen=True)
class ImageChoice:
    """The image on screen: its bytes (the cache key's source), a name to show, and the decoded picture."""

    data: bytes
    name: str
    digest: str
    image: object  # PIL.Image.Image


@dataclass
class Context:
    """What the shared sidebar chose this run: every page starts from it."""

    image: ImageChoice
    model: Optional[fv.LoadedModel]
    model_key: str = ""
    captured: Optional[fv.Capture] = None
    problems: list[str] = field(default_factory=list)  # errors to show in the main area
    notices: list[str] = field(default_factory=list)  # warnings to show in the main area


@st.cache_resource(max_entries=MODEL_CACHE_ENTRIES, show_spinner=False)
def cached_model(name: str, trained: bool) -> fv.LoadedModel:
    """One shared model per (architecture, weights). Never downloads: the sidebar does that with progress."""
    return fv.load_model(name, weights="default" if trained else None, download=False)


@dataclass(frozen=True)
class Caches:
    activations: fv.LRUCache  # (image digest, model key) -> float16 Capture
    stats: fv.LRUCache  # (capture key, layer) -> ChannelStats
    figures: fv.LRUCache  # (capture key, layer, display, order, subtitle) -> plotly Figure


@st.cache_resource(show_spinner=False)
def caches() -> Caches:
    """One set for the whole server, shared by every session (sizes: FEATVIZ_ACTIVATION_CACHE_MB, ...)."""
    return Caches(
        activations=fv.activation_cache(),
        stats=fv.LRUCache(64 * 2**20, lambda stats: 100 * stats.channels),
        figures=fv.figure_cache(),
    )


def cached_capture(image_digest: str, model_key: str, model: fv.LoadedModel, image: object) -> fv.Capture:
    """Every layer for one image and model (float16), captured once for all sessions."""
    return caches().activations.get_or_compute(
        (image_digest, model_key), lambda: fv.compact(fv.capture(model, image))
    )


def cached_stats(capture_key: tuple, fmap: fv.FeatureMap) -> fv.ChannelStats:
    return caches().stats.get_or_compute((capture_key, fmap.name), lambda: fv.channel_stats(fmap))


def cached_grid(capture_key: tuple, fmap: fv.FeatureMap, order: list[int] | None, subtitle: str, **display):
    """The grid figure for these exact settings, built once (Streamlit still serializes it per rerun)."""
    key = (capture_key, fmap.name, tuple(sorted((k, str(v)) for k, v in display.items())),
           None if order is None else tuple(order), subtitle)
    return caches().figures.get_or_compute(
        key, lambda: fv.channel_grid(fmap, order=order, subtitle=subtitle, **display)
    )


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


def start_page(title: str):
    """Every page's beginning: its title, a place for messages under it, and the shared sidebar's context.

    Returns (context, messages box); the page stops here, after its messages, when there is nothing to show.
    """
    from pages.sidebar import build_context  # the sidebar imports this module

    st.title(title)
    box = st.container()
    ctx = build_context()
    if ctx.captured is None or ctx.model is None:
        stop_page(ctx, box)
    return ctx, box


def stop_page(ctx: Context, box) -> None:
    """Stop the page here, after showing its messages."""
    show_messages(ctx, box)
    st.stop()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def decode(data: bytes, name: str) -> ImageChoice:
    """Decode bytes into an ImageChoice; raises fv.ImageError with a message for the user."""
    return ImageChoice(data, name, digest(data), fv.load_image(data))


def remember(key: str, value: object) -> None:
    """Keep the last good value of something, so a failed change leaves the screen as it was."""
    st.session_state[f"last_good_{key}"] = value


def last_good(key: str) -> Optional[object]:
    return st.session_state.get(f"last_good_{key}")


def show_messages(ctx: Context, box=None) -> None:
    """Errors and warnings about the image or model, and notes on a shared link.

    Pages call this last, into a container made under their title (``box``), so notes raised anywhere on
    the page (a layer or channel in a link that does not exist) still appear at the top.
    """
    with box if box is not None else st.container():
        for note in st.session_state.pop("link_notes", []):
            st.info(note)
        for problem in ctx.problems:
            st.error(problem)
        for notice in ctx.notices:
            st.warning(notice)


def persistent_choice(key: str, options: list, default: object, what: str = "", parse=str, format_func=None) -> None:
    """Start widget ``key`` on: its current value; else a shared link's value; else the value last chosen on
    any page; else ``default``.

    The value is always written through the Session State API: a widget with the same key on another page
    is a new widget, and would otherwise start on its first option. A link value that is not among the
    options (an unknown model, a layer this model lacks) is reported once and replaced by the default.
    Streamlit's query-parameter binding writes an option's displayed label (``format_func``) into the URL,
    so labels are mapped back to options.
    """
    current = st.session_state.get(key)
    if current is None and key in st.query_params:  # a fresh session opened from a shared link
        raw = st.query_params[key]
        by_label = {str(format_func(option)): option for option in options} if format_func else {}
        try:
            current = by_label[raw] if raw in by_label else parse(raw)
        except (TypeError, ValueError):
            current = None
        if current not in options:
            link_note(f"The link asked for {what or key} **{raw}**, which is not available here; showing "
                      f"**{default}** instead.")
    remembered = st.session_state.get(f"chosen_{key}")
    st.session_state[key] = current if current in options else remembered if remembered in options else default


def link_note(text: str) -> None:
    """Say once, above the page, what of a shared link could not be restored."""
    notes = st.session_state.setdefault("link_notes", [])
    if text not in notes:
        notes.append(text)


def keep_choice(key: str) -> None:
    st.session_state[f"chosen_{key}"] = st.session_state.get(key)


def set_choice(key: str, value: object) -> None:
    """Change a widget's value from a button callback, on this page and the next."""
    st.session_state[key] = value
    st.session_state[f"chosen_{key}"] = value
