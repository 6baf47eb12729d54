"""Which of a layer's channels one view shows, in what order, and the sentence that says exactly that.

A grid of 2048 channels at a readable tile size is several screens tall, so the dashboard's default is
readable: every channel when they fit on one page (:data:`PAGE_SIZE`), else the :data:`DEFAULT_ACTIVE` most
active ones (highest maximum) shown in the chosen order, with all of them one click away in pages of
:data:`PAGE_SIZE`. Layers drawn as bars (single values) fit at any size and are never cut or paged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Union

from ..activations._records import STAT_COLUMNS, ChannelStats

PAGE_SIZE = 256
"""Most tiles on one page of the on-screen grid: at the smallest tile size about 900×600 px."""
DEFAULT_ACTIVE = 64
"""Channels shown by default when a layer has more than a page: the most active ones."""
ACTIVITY = "max"
"""The statistic that ranks channels for the default view: a channel that fires strongly anywhere counts."""
Show = Union[str, int]
"""``"auto"`` (the readable default), ``"all"`` (in pages when needed), or a number N (the first N in order)."""


@dataclass(frozen=True)
class ChannelSelection:
    """The channels one view draws, in order, and what they are out of."""

    channels: tuple[int, ...]
    total: int  # channels in the layer
    available: int  # channels left to choose from (dead ones hidden when asked)
    description: str  # exactly what is shown, for the caption: "Channels 0–255 of 2048 (page 1 of 8)"
    page: int = 0  # 0-based
    pages: int = 1
    ordered: tuple[int, ...] = ()  # every available channel in the chosen order (what the pages run through)

    @property
    def is_subset(self) -> bool:
        """True when some available channels are not drawn (a top N, the most active, a page)."""
        return len(self.channels) < self.available

    @property
    def exported(self) -> tuple[int, ...]:
        """What an export holds: every page when paging through all channels, else what is drawn."""
        return self.ordered if self.pages > 1 else self.channels


def select_channels(stats: ChannelStats, by: str = "index", *, descending: bool = True, show: Show = "auto",
                    hide_dead: bool = False, page: int = 0,
                    page_size: Optional[int] = PAGE_SIZE) -> ChannelSelection:
    """The channels to draw: ordered by ``by`` (``"index"`` or a statistic), cut as ``show`` says.

    ``page`` picks the page (0-based; one this layer does not have means the first) when ``show="all"``
    needs more than one; ``page_size=None`` never pages (bars).

    Example::

        >>> import torch
        >>> from featviz_core import channel_stats
        >>> stats = channel_stats(torch.rand(2048, 7, 7))
        >>> view = select_channels(stats)
        >>> len(view.channels), view.description
        (64, 'The 64 most active of 2048 channels (highest max), by channel number')
        >>> select_channels(stats, show="all", page=7).description
        'Channels 1792–2047 of 2048 (page 8 of 8)'
    """
    ascending_index = by == "index"
    ordered = stats.order(by, descending=descending and not ascending_index, hide_dead=hide_dead)
    total, available = stats.channels, len(ordered)
    dead = f" ({total - available} dead hidden)" if total > available else ""
    how = _order_phrase(by, descending)
    if isinstance(show, str) and show not in ("auto", "all"):
        show = int(show)
    fits = page_size is None or available <= page_size
    if show == "auto" and not fits:
        active = set(stats.order(ACTIVITY, descending=True, hide_dead=hide_dead)[:DEFAULT_ACTIVE])
        chosen = tuple(c for c in ordered if c in active)
        return ChannelSelection(
            chosen, total, available,
            f"The {len(chosen)} most active of {_of(available, total)} (highest {ACTIVITY}), {how}{dead}",
        )
    if isinstance(show, int) and show < available:
        chosen = tuple(ordered[:show])
        if ascending_index and not dead:
            text = f"Channels {chosen[0]}–{chosen[-1]} of {total}"
        else:
            text = f"The {'first' if ascending_index else 'top'} {show} of {_of(available, total)}, {how}{dead}"
        return ChannelSelection(chosen, total, available, text)
    if fits:
        if ascending_index and not dead:
            text = f"All {total} channels, numbered from 0"
        else:
            text = f"All {_of(available, total)}, {how}{dead}"
        return ChannelSelection(tuple(ordered), total, available, text)
    pages = math.ceil(available / page_size)
    page = int(page) if 0 <= int(page) < pages else 0  # a page the layer does not have: the first, as the picker
    chosen = tuple(ordered[page * page_size : (page + 1) * page_size])
    where = f"page {page + 1} of {pages}"
    if ascending_index and not dead:
        text = f"Channels {chosen[0]}–{chosen[-1]} of {total} ({where})"
    else:
        first = page * page_size + 1
        text = (f"Channels ranked {first}–{first + len(chosen) - 1} of {_of(available, total)}, {how}{dead} "
                f"({where})")
    return ChannelSelection(chosen, total, available, text, page, pages, tuple(ordered))


def _of(available: int, total: int) -> str:
    return f"{total} channels" if available == total else f"{available} live channels of {total}"


def _order_phrase(by: str, descending: bool) -> str:
    if by == "index":
        return "by channel number"
    if by not in STAT_COLUMNS:
        raise ValueError(f"Cannot sort by {by!r}; choose index or one of {', '.join(STAT_COLUMNS)}.")
    return f"ordered by {STAT_COLUMNS[by].lower()}, {'highest' if descending else 'lowest'} first"


def order_key(by: str, descending: bool) -> str:
    """``"index"``, or the statistic and direction (``"max:desc"``): how :func:`orderings` names an order."""
    return "index" if by == "index" else f"{by}:{'desc' if descending else 'asc'}"


def orderings(stats: ChannelStats, *, show: Show = "auto", hide_dead: bool = False, page: int = 0,
              page_size: Optional[int] = PAGE_SIZE) -> dict[str, tuple[int, ...]]:
    """The channels each order (by channel number, or by every statistic either way) would draw with the rest
    of the view as it is, keyed by :func:`order_key`: a browser that has them can reorder the grid at once
    when the set drawn stays the same (:mod:`featviz_core.draw._grid_preview`)."""
    choices = [("index", True)] + [(by, descending) for by in STAT_COLUMNS for descending in (True, False)]
    return {
        order_key(by, descending): select_channels(stats, by, descending=descending, show=show, hide_dead=hide_dead,
                                                   page=page, page_size=page_size).channels
        for by, descending in choices
    }
