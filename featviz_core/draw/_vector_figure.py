"""A layer of single values (a Linear layer, logits, a pooled C×1×1 output) as what it is: a bar chart.

As tiles, each value would be a 1×1 square, and per-channel min–max would paint every one the same colour.
Here each channel is one bar in the chosen order, on one shared scale in raw units with a zero line, coloured
by the colour map on the normalization's shared range (per-channel min–max falls back to the layer's range,
and the figure says so). Bars are one typed-array trace, so 4096 values build and draw as fast as ten; the
hover gives "channel i: value", and dragging zooms in on a range of channels.

Each bar's colour is computed here, with the same palette levels as the grid's tiles, and the colour bar is
a separate trace: given numbers and a colour scale, Plotly colours each bar through its scale functions, about
0.1 s for 1000 bars on every redraw (measured in Chromium), where given colours cost almost nothing.
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import plotly.graph_objects as go

from ._colormaps import LEVELS, lookup_table, surround
from ._grid import NAN_RGB, PreparedGrid, colorbar_trace, figure_heading, text_sizes
from ._grid_settings import GridSettings

BAR_CHART_HEIGHT = 380
"""Plot height in screen pixels (more for presentation text)."""
SOLID_BARS_FROM = 200
"""From this many bars on, bars touch (no gap): at 4096 values each is a fraction of a pixel wide."""


PER_CHANNEL_NOTE = ("Per-channel min–max does not apply to single values (each channel's minimum is its maximum): "
                    "drawn on one shared scale, the layer's min–max.")


def single_value_note(prepared: PreparedGrid) -> str:
    """One sentence when the normalization asked for was replaced (per-channel min–max of single values)."""
    return "" if prepared.requested == prepared.normalized.mode else PER_CHANNEL_NOTE


def bar_colours(prepared: PreparedGrid, colormap: str) -> list[str]:
    """Each shown bar's colour as ``#rrggbb``: its normalized value on the colour map's :data:`LEVELS` levels,
    as the grid's tiles are coloured (non-finite values in the grid's NaN colour)."""
    levels = prepared.normalized.values.reshape(-1)[prepared.shown]
    table = np.vstack([lookup_table(colormap), NAN_RGB]).astype(np.uint8)
    index = np.where(np.isnan(levels), LEVELS, np.rint(np.nan_to_num(levels) * (LEVELS - 1))).astype(int)
    return ["#{:02x}{:02x}{:02x}".format(*rgb) for rgb in table[index].tolist()]


def vector_figure(prepared: PreparedGrid, settings: GridSettings, *, heading: str, subtitle: Optional[str],
                  display_width: int, value_name: str = "activation") -> go.Figure:
    """Bars of ``prepared``'s values in its channel order (see :func:`featviz_core.channel_grid`)."""
    sizes = text_sizes(settings.large_text)
    shown = prepared.shown
    values = prepared.view.maps.reshape(-1)[shown].numpy().astype(np.float32)
    grey = "rgb({},{},{})".format(*surround(settings.colormap))
    plot_height = BAR_CHART_HEIGHT + 4 * (sizes.scale - 12)
    figure = go.Figure(
        go.Bar(
            x=[str(channel) for channel in shown],
            y=values,
            marker=dict(color=bar_colours(prepared, settings.colormap), line=dict(width=0)),
            customdata=np.asarray(shown, dtype=np.int32).reshape(-1, 1),  # (channel,) per bar: clicks read it
            hovertemplate="channel %{x}: %{y:.5g}<extra></extra>",
            name="values",
        )
    )
    figure.add_trace(colorbar_trace(prepared.normalized, settings.colormap, value_name, sizes, plot_height))
    top = figure_heading(figure, heading, subtitle, sizes)
    note = single_value_note(prepared)
    axis_font = dict(size=sizes.scale)
    figure.update_layout(
        margin=dict(l=8, r=8, t=top, b=8),
        height=plot_height + top,
        plot_bgcolor=grey,  # the grid's surround: white and black bars both stand out from it
        bargap=0 if len(shown) >= SOLID_BARS_FROM else 0.15,
        xaxis=dict(type="category", title=dict(text="channel", font=axis_font), tickfont=axis_font,
                   showgrid=False, nticks=max(2, display_width // (4 * sizes.scale))),  # room for 4-digit numbers
        yaxis=dict(title=dict(text=value_name, font=axis_font), tickfont=axis_font, zeroline=True,
                   zerolinecolor="black", zerolinewidth=1.5, gridcolor="rgba(255,255,255,0.35)"),
        hovermode="closest",
        hoverlabel=dict(font=dict(size=sizes.hover)),
        dragmode="zoom",
        showlegend=False,
        meta={
            "featviz": {
                "channels_total": prepared.view.channels,
                "channels_shown": len(shown),
                "channels": list(shown),  # in the order drawn
                "heading": heading,
                "map_shape": [1, 1],
                "kind": "vector",
                "view_kind": prepared.view.kind,
                "drawn_as": "bars",
                "normalization": prepared.normalized.mode,
                "normalization_requested": prepared.requested,
                "note": note,
                "colormap": settings.colormap,
                "display_width": display_width,
                "label_px": sizes.scale,
                "large_text": settings.large_text,
            }
        },
    )
    return figure
