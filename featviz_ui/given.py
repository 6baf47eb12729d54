"""What a person gave through an uploader, kept in their session: read once, reported once, removable.

A file uploader forgets its file when its page ends, so what was read from a file is kept in the session
(``featviz_ui.state.kept``) under a slot until it is replaced or removed; a file that cannot be used leaves
what the slot held before, and its problem is said while it stays in the uploader.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

import featviz_core as fv

from .messages import Problem, problem
from .state import keep, mark_taken, taken


def take(slot: str, token: object, name: str, read: Callable[[], Any]) -> list[Problem]:
    """Read a new upload once into this session's ``slot``; returns what stops it from being used.

    The same upload on a later run (``token``: its file id, and what it is read for) is not read again, and
    its problem, if it had one, is said again while it stays in the uploader. A file that cannot be used
    leaves what the slot held before.
    """
    before = taken(slot)
    if before is not None and before[0] == token:
        return [before[1]] if before[1] is not None else []
    found: Problem | None = None
    try:
        keep(slot, read())
    except fv.FeatvizError as exc:
        found = problem(f"**{name}** could not be used: ", exc)
    mark_taken(slot, token, found)
    return [found] if found is not None else []


def in_use(text: str, slot: str, drop: Callable[[str], None]) -> None:
    """Say that what the person gave is in use, with a button to stop using it."""
    st.markdown(f":material/check_circle: {text}")
    remove_button(slot, drop)


def remove_button(slot: str, drop: Callable[[str], None]) -> None:
    """Forget what was given for ``slot`` (``drop`` also moves the sidebar back to a default choice)."""
    st.button("Remove", key=f"drop_{slot}", icon=":material/close:", on_click=drop, args=(slot,),
              help="Stop using it and forget it. To replace it, upload another file instead.")
