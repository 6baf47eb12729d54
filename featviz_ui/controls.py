"""Sidebar controls that several pages use: the layer picker and the display options.

Widget state ends with the page that drew it, so each control starts from the value last chosen on any
page (``persistent_choice``) and records its new value (``keep_choice``).
"""

from __future__ import annotations

import streamlit as st

import featviz_core as fv
from featviz_core.colormaps import COLORMAPS, DIVERGING
from featviz_core.normalize import DEFAULT_PERCENTILES, NORMALIZATIONS
from featviz_core.stats import STAT_COLUMNS, ChannelStats

from .state import keep_choice, persistent_choice


def pick_layer(model: fv.LoadedModel, captured: fv.Capture, key: str = "layer",
               label: str = "Layer (name · type · output shape)", default: str | None = None) -> str:
    entries = [entry for entry in fv.layer_tree(model, captured) if entry.key is not None]
    labels = {entry.key: entry.label.replace("  ", "\u2003") for entry in entries}
    persistent_choice(key, list(labels), default or fv.default_layer(captured), "layer", format_func=labels.get)
    layer = st.selectbox(
        label, list(labels), key=key, format_func=labels.get, bind="query-params",
        on_change=keep_choice, args=(key,),
        help="Every module of the model in order, indented by depth. Type to search by name, type or shape.",
    )
    keep_choice(key)
    st.caption(f"{len(labels)} layer outputs captured in one forward pass.")
    return layer


def pick_display(prefix: str = "") -> fv.GridSettings:
    """Normalization and colour map (and their range options); channel order comes from pick_channel_order."""
    mode_key, cmap_key = f"{prefix}normalization", f"{prefix}colormap"
    persistent_choice(mode_key, list(NORMALIZATIONS), "per_channel", "normalization", format_func=NORMALIZATIONS.get)
    mode = st.selectbox(
        "Normalization", list(NORMALIZATIONS), key=mode_key, format_func=NORMALIZATIONS.get,
        bind="query-params",
        help="How raw activations map to colours. Per channel shows each channel's own pattern; the others "
        "keep channels comparable and show the scale on the colour bar.",
    )
    persistent_choice(cmap_key, list(COLORMAPS), "viridis", "colour map")
    colormap = st.selectbox("Colour map", list(COLORMAPS), key=cmap_key, bind="query-params")
    keep_choice(mode_key)
    keep_choice(cmap_key)
    percentiles, vmin, vmax = DEFAULT_PERCENTILES, None, None
    if mode == "percentile":
        percentiles = st.slider("Clip to percentiles", 0.0, 100.0, DEFAULT_PERCENTILES, 0.5, key=f"{prefix}percentiles")
    if mode == "raw":
        left, right = st.columns(2)
        vmin = left.number_input("Min", value=None, key=f"{prefix}vmin", placeholder="layer min", format="%g")
        vmax = right.number_input("Max", value=None, key=f"{prefix}vmax", placeholder="layer max", format="%g")
    if mode == "symmetric" and colormap != DIVERGING:
        st.caption(f"Tip: the diverging map *{DIVERGING}* shows the sign: white is zero.")
    return fv.GridSettings(normalize=mode, colormap=colormap, percentiles=percentiles, vmin=vmin, vmax=vmax)


ORDER_LABELS = {"index": "Channel number", **STAT_COLUMNS}
SHOW_CHOICES = ("all", 16, 32, 64, 128, 256)


def pick_channel_order(stats: ChannelStats) -> list[int]:
    """Sort and filter the grid's channels by a statistic; returns the channels to draw, in order."""
    persistent_choice("order_by", list(ORDER_LABELS), "index")
    by = st.selectbox("Order channels by", list(ORDER_LABELS), key="order_by", format_func=ORDER_LABELS.get)
    keep_choice("order_by")
    left, right = st.columns(2)
    descending = left.toggle("Highest first", value=True, key="descending", disabled=by == "index")
    show = right.selectbox("Show", SHOW_CHOICES, key="show", format_func=lambda v: "all" if v == "all" else f"top {v}")
    hide_dead = st.toggle("Hide dead channels", key="hide_dead")
    return stats.order(
        by, descending=descending if by != "index" else False,
        top=None if show == "all" else int(show), hide_dead=hide_dead,
    )
