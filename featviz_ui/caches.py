"""The caches every session shares, around featviz_core.

A bundled or zoo model is loaded once per process for every session (``cache_resource``, at most
:data:`MODEL_CACHE_ENTRIES`; featviz_core never mutates it). One capture per (image bytes, model) is kept
in float16, each layer on its own power-of-two scale, with every layer's statistics computed from the
exact float32 values before rounding, and layers past ``FEATVIZ_CAPTURE_RAM_MB`` on disk
(:func:`featviz_core.cache.capture_for_cache`); built grid figures are kept too. Changing the layer, the
normalization or the colour map never runs the model again. These are featviz_core's byte-bounded LRU
caches rather than ``st.cache_data``, which bounds only the entry count and unpickles a full copy of every
layer on each hit.
Keys are short strings (digests), so a rerun never re-hashes a large array. Models people upload are
never put here: they live in their own session (:mod:`featviz_ui.sidebar`).
"""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go
import streamlit as st

import featviz_core as fv
from featviz_core import settings
from featviz_core.activations import ChannelStats
from featviz_core.cache import LRUCache, activation_cache, capture_for_cache, figure_cache
from featviz_core.draw import DISPLAY_WIDTH, grid_preview, preview_nbytes

MODEL_CACHE_ENTRIES = settings.current().model_cache_entries  # read once: the decorator below is applied at import


@st.cache_resource(max_entries=MODEL_CACHE_ENTRIES, show_spinner=False)
def cached_model(name: str, trained: bool) -> fv.LoadedModel:
    """One shared model per (architecture, weights). Never downloads: the sidebar does that with progress."""
    return fv.load_model(name, weights="default" if trained else None, download=False)


@dataclass(frozen=True)
class Caches:
    activations: LRUCache  # (image digest, model key) -> float16 Capture with exact statistics
    stats: LRUCache  # (capture key, layer) -> ChannelStats, for maps that carry none
    figures: LRUCache  # (capture key, layer, GridSettings, subtitle, width) -> plotly Figure
    previews: LRUCache  # the same and the orders -> what the browser redraws that figure from (grid_preview)


@st.cache_resource(show_spinner=False)
def caches() -> Caches:
    """One set for the whole server, shared by every session (sizes: FEATVIZ_ACTIVATION_CACHE_MB, ...)."""
    return Caches(
        activations=activation_cache(),
        stats=LRUCache(64 * 2**20, lambda stats: 100 * stats.channels),
        figures=figure_cache(),
        previews=LRUCache(16 * 2**20, preview_nbytes),
    )


def cached_capture(image_digest: str, model_key: str, model: fv.LoadedModel, image: object) -> fv.Capture:
    """Every layer for one image and model (float16, with exact statistics), captured once for all sessions.

    Layers are measured and rounded when first read; :func:`recount_captures` counts them again."""
    key = (image_digest, model_key)
    captured = caches().activations.get(key)
    if captured is None or not captured.can_finish():  # its model was let go and loaded again: capture afresh
        captured = caches().activations.put(key, capture_for_cache(model, image))
    return captured


def recount_captures() -> None:
    """Count every cached capture again, after a script run: its layers read in that run were measured and
    rounded (smaller in memory) or run again onto disk."""
    caches().activations.recount()


def cached_stats(capture_key: tuple, fmap: fv.FeatureMap) -> ChannelStats:
    """The layer's channel statistics: those computed from its exact values when the capture was cached."""
    if fmap.stats is not None:
        return fmap.stats.channels
    return caches().stats.get_or_compute((capture_key, fmap.name), lambda: fv.channel_stats(fmap))


def cached_grid(capture_key: tuple, fmap: fv.FeatureMap, grid: fv.GridSettings, subtitle: str,
                display_width: int = DISPLAY_WIDTH) -> go.Figure:
    """The grid figure for these exact settings, built once (Streamlit still serializes it per rerun)."""
    key = (capture_key, fmap.name, grid, subtitle, display_width)
    return caches().figures.get_or_compute(
        key, lambda: fv.channel_grid(fmap, grid, subtitle=subtitle, display_width=display_width)
    )


def cached_preview(capture_key: tuple, fmap: fv.FeatureMap, grid: fv.GridSettings, subtitle: str,
                   orders: dict[str, tuple[int, ...]], display_width: int = DISPLAY_WIDTH) -> dict:
    """What the browser needs to redraw :func:`cached_grid`'s figure for another display, built once."""
    figure = cached_grid(capture_key, fmap, grid, subtitle, display_width)
    key = (capture_key, fmap.name, grid, subtitle, display_width, tuple(orders.items()))
    return caches().previews.get_or_compute(key, lambda: grid_preview(fmap, figure, grid, orders))
