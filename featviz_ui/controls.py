"""Sidebar controls that several pages use: the layer picker and the display options.

Widget state ends with the page that drew it, so each control starts from the value last chosen on any
page (``persistent_choice``) and records its new value (``keep_choice``).
"""

from __future__ import annotations

from collections.abc import Iterable

import streamlit as st

import featviz_core as fv
from featviz_core.activations import STAT_COLUMNS, ChannelStats
from featviz_core.analysis import DEFAULT_ACTIVE, PAGE_SIZE, ChannelSelection, orderings, select_channels
from featviz_core.capturing import LayerEntry, layer_name
from featviz_core.draw import COLORMAPS, DEFAULT_PERCENTILES, DIVERGING, NORMALIZATIONS

from .state import keep_choice, persistent_choice


def layer_labels(entries: Iterable[LayerEntry]) -> dict[str, str]:
    """Each layer's label in the picker: indented by depth with em spaces (plain spaces would collapse), and
    padded with trailing spaces to one length so that Streamlit's search ranks equal matches in model order
    (see :func:`pick_layer`)."""
    labels = {entry.key: entry.label.replace("  ", "\u2003") for entry in entries if entry.key is not None}
    width = max(map(len, labels.values()), default=0)
    return {name: text.ljust(width) for name, text in labels.items()}


def pick_layer(model: fv.LoadedModel, captured: fv.Capture, key: str = "layer",
               label: str = "Layer (name · type · output shape)", default: str | None = None) -> str:
    """Every captured layer in model order, searchable; the chosen one's type and whole shape under it.

    Streamlit's search (fzy's scoring) ranks a match at the start of a word highest, so typing "conv2" lists
    conv2 before conv1 (whose type, Conv2d, also contains it) and "layer4" lists layer4 and what is in it
    before layer1's blocks. It also takes a little off for every character left after the match, which put relu3
    before relu1 only because relu3's shape is shorter: every label is padded with trailing spaces (not
    drawn) to one length, so equal matches keep model order. Shapes are written with "x" (``64x56x56``). The
    link carries the plain layer name (``layer=layer1.0.conv1``), written here rather than by Streamlit's
    binding, which would write the label.
    """
    entries = {entry.key: entry for entry in fv.layer_tree(model, captured) if entry.key is not None}
    labels = layer_labels(entries.values())
    persistent_choice(key, list(labels), default or fv.default_layer(captured), "layer", parse=layer_name)
    layer = st.selectbox(
        label, list(labels), key=key, format_func=labels.get,
        on_change=keep_choice, args=(key,),
        help="Every module of the model in order, indented by depth. Type part of a name, type or shape "
        "(e.g. relu, layer4, 11x11): layers whose name starts with it come first.",
    )
    keep_choice(key)
    if st.query_params.get(key) != layer:
        st.query_params[key] = layer
    chosen = entries[layer]
    st.caption(
        f"**{chosen.name}** · {chosen.module_type} · output **{chosen.shape_text}**  \n"
        f"{len(labels)} layer outputs captured in one forward pass."
    )
    return layer


def pick_display(prefix: str = "") -> fv.GridSettings:
    """Normalization, colour map (and their range options) and the presentation setting; channel order comes
    from pick_channel_order."""
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
    large_text = pick_presentation() if not prefix else bool(st.session_state.get("chosen_presentation"))
    return fv.GridSettings(normalize=mode, colormap=colormap, percentiles=percentiles, vmin=vmin, vmax=vmax,
                           large_text=large_text)


PRESENTATION_CSS = """<style>
[data-testid="stMain"] [data-testid="stMarkdownContainer"] :is(p, li, code) { font-size: 19px; }
[data-testid="stMain"] [data-testid="stCaptionContainer"] :is(p, li, code) { font-size: 17px; }
[data-testid="stMain"] h1 { font-size: 36px; }
[data-testid="stMain"] :is(h2, h3) { font-size: 26px; }
[data-testid="stSidebar"] [data-testid="stMarkdownContainer"] p { font-size: 17px; }
</style>"""
"""Presentation text: the page's own text at 17–19 px (Streamlit's 14–16 px is small on a projector)."""

PRESENTER_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"],
[data-testid="stHeader"], [data-testid="stMain"] h1 { display: none; }
[data-testid="stMainBlockContainer"] { padding: 1rem 2rem; max-width: none; }
[data-testid="stMain"] [data-testid="stMarkdownContainer"] :is(p, li, code) { font-size: 24px; line-height: 1.45; }
[data-testid="stMain"] [data-testid="stCaptionContainer"] :is(p, li, code) { font-size: 19px; }
[data-testid="stMain"] :is(h2) { font-size: 34px; }
[data-testid="stMain"] :is(h3) { font-size: 28px; }
</style>"""
"""The Lessons page as a presenter view, on top of :data:`PRESENTATION_CSS`: the whole screen for one lesson
(no sidebar, no title bar) and its text at 24 px, readable from the back of a room on a 1024×768 projector."""


def on_off(raw: str) -> bool:
    """A link's value for a toggle: ``true`` or ``false``, as Streamlit writes it."""
    value = {"true": True, "false": False}.get(raw.strip().lower())
    if value is None:
        raise ValueError(raw)
    return value


def pick_presentation() -> bool:
    """The presentation setting: large channel numbers, titles and page text. Remembered across pages and
    kept in shared links (``presentation=true``)."""
    persistent_choice("presentation", [False, True], False, "presentation", parse=on_off)
    large = st.toggle(
        "Presentation (large text)", key="presentation", bind="query-params", on_change=keep_choice,
        args=("presentation",),
        help="For a projector: channel numbers and scales at 16 px or more, larger titles and page text, and the "
        "grid laid out for a 1024×768 screen. The PNG export uses larger numbers too.",
    )
    keep_choice("presentation")
    if large:
        st.html(PRESENTATION_CSS)
    return bool(large)


ORDER_LABELS = {"index": "Channel number", **STAT_COLUMNS}
SHOW_CHOICES = ("auto", "all", 16, 32, 64, 128, 256)
SHOW_LABELS = {"auto": "readable", "all": "all"}
PAGE_KEY = "grid_page"
"""The explore page's page picker (st.pagination, 1-based): read here, drawn under the grid's heading."""


def pick_channel_order(stats: ChannelStats, page_size: int | None = PAGE_SIZE) -> ChannelSelection:
    """Sort and filter the grid's channels by a statistic and choose how many to show; returns the channels
    to draw, in order, with the sentence that says which (``page_size=None`` for layers drawn as bars)."""
    persistent_choice("order_by", list(ORDER_LABELS), "index")
    by = st.selectbox("Order channels by", list(ORDER_LABELS), key="order_by", format_func=ORDER_LABELS.get)
    keep_choice("order_by")
    left, right = st.columns(2)
    descending = left.toggle("Highest first", value=True, key="descending", disabled=by == "index")
    right.selectbox(
        "Show", SHOW_CHOICES, key="show", format_func=lambda v: SHOW_LABELS.get(v, f"top {v}"),
        help=f"Readable: every channel when they fit on one page (up to {PAGE_SIZE}), else the {DEFAULT_ACTIVE} "
        f"most active (highest max) in the chosen order. All: every channel, {PAGE_SIZE} to a page. Top N: the "
        "first N in the chosen order.",
    )
    st.toggle("Hide dead channels", key="hide_dead")
    return select_channels(stats, by, descending=descending, page_size=page_size, **_view_options())


def _view_options() -> dict:
    """What the channel-order controls say beside the order itself: how many to show, dead ones, the page."""
    return {"show": st.session_state.get("show", "auto"), "hide_dead": bool(st.session_state.get("hide_dead")),
            "page": int(st.session_state.get(PAGE_KEY) or 1) - 1}


def live_display(grid: fv.GridSettings, stats: ChannelStats,
                 page_size: int | None = PAGE_SIZE) -> tuple[dict, dict, dict]:
    """For the grid's redraw in the browser (:mod:`featviz_ui.live_grid`): what it shows (normalization,
    colour map, order and direction), where the sidebar chooses each (keys, and each option's label), and the
    channels every order would draw with the other controls as they are."""
    display = {"normalization": grid.normalize, "colormap": grid.colormap,
               "order_by": st.session_state.get("order_by", "index"),
               "descending": bool(st.session_state.get("descending", True))}
    controls = {
        "normalization": "normalization", "colormap": "colormap", "order_by": "order_by", "descending": "descending",
        "labels": {"normalization": {label: mode for mode, label in NORMALIZATIONS.items()},
                   "colormap": {name: name for name in COLORMAPS},
                   "order_by": {label: by for by, label in ORDER_LABELS.items()}},
    }
    return display, controls, orderings(stats, page_size=page_size, **_view_options())
