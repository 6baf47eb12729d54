"""What one browser session remembers between reruns and pages.

Streamlit forgets a widget's value when the page that drew it ends, and a shared link sets values through
the URL; these helpers give every control the same rule for where its value comes from, and keep the last
good value of anything that can fail, so a failed change leaves the screen as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

import streamlit as st


def remember(key: str, value: object) -> None:
    """Keep the last good value of something, so a failed change leaves the screen as it was."""
    st.session_state[f"last_good_{key}"] = value


def last_good(key: str) -> Optional[object]:
    return st.session_state.get(f"last_good_{key}")


def persistent_choice(key: str, options: list, default: object, what: str = "",
                      parse: Callable[[str], Any] = str, format_func: Callable[[Any], Any] | None = None) -> None:
    """Start widget ``key`` on: its current value; else a shared link's value; else the value last chosen on
    any page; else ``default``.

    The value is always written through the Session State API: a widget with the same key on another page
    is a new widget, and would otherwise start on its first option. A link value that is not among the
    options (an unknown model, a layer this model lacks) is reported once and replaced by the default.
    Streamlit's query-parameter binding writes an option's displayed label (``format_func``) into the URL,
    so labels are mapped back to options.
    """
    current = st.session_state.get(key)
    raw = link_value(key) if current is None and f"chosen_{key}" not in st.session_state else None
    if raw is not None:  # a fresh session opened from a shared link
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


def link_value(key: str) -> Optional[str]:
    """A shared link's value for ``key``, given once: from the query parameters the session was opened with.

    Not the URL as it is now: a value another page left there (a layer, while the model was changed on a
    page without a layer picker) is not a link, and a value is not restored again once it was used.
    """
    link = st.session_state.get("link_params")
    if link is None:
        link = st.session_state["link_params"] = st.query_params.to_dict()
    return link.pop(key, None)


def follow_link(params: dict[str, str]) -> None:
    """Take ``params`` as a shared link opened now, in this session: each value replaces what was chosen (a
    lesson's "Open" button; the page it switches to restores them as it would a link's)."""
    st.session_state["link_params"] = dict(params)
    for key in params:
        st.session_state.pop(key, None)
        st.session_state.pop(f"chosen_{key}", None)


def link_note(text: str) -> None:
    """Say once, above the page, what of a shared link could not be restored."""
    notes = st.session_state.setdefault("link_notes", [])
    if text not in notes:
        notes.append(text)


def pop_link_notes() -> list[str]:
    return st.session_state.pop("link_notes", [])


def show_in_link(key: str, value: object, default: object = None) -> None:
    """Write ``value`` into the page's address as ``key=`` (dropped at ``default``), so that a copied link
    opens what is on screen. Streamlit's own binding writes a value only when the person changes the widget,
    not when a button, a click on a tile or a link chose it."""
    text = None if value == default else str(value)
    if st.query_params.get(key) != text:
        if text is None:
            del st.query_params[key]
        else:
            st.query_params[key] = text


def keep_choice(key: str) -> None:
    st.session_state[f"chosen_{key}"] = st.session_state.get(key)


def set_choice(key: str, value: object) -> None:
    """Change a widget's value from a button callback, on this page and the next."""
    st.session_state[key] = value
    st.session_state[f"chosen_{key}"] = value


def kept(slot: str) -> Optional[Any]:
    """What the person gave in this session for ``slot`` (an uploaded image, weights, a model), or None.

    A file uploader forgets its file when the page that drew it ends; what was read from the file is kept
    here, in this session's state only (never in a cache other sessions reach), until it is replaced or
    dropped.
    """
    return st.session_state.get(f"given_{slot}")


def keep(slot: str, value: object) -> None:
    st.session_state[f"given_{slot}"] = value


def forget(slot: str) -> None:
    """Drop what was given for ``slot``, and the record of the upload it came from."""
    st.session_state.pop(f"given_{slot}", None)
    st.session_state.pop(f"taken_{slot}", None)


def taken(slot: str) -> Optional[tuple[Any, Any]]:
    """(token of the last upload read for ``slot``, the problem it had or None): the same upload is read once."""
    return st.session_state.get(f"taken_{slot}")


def mark_taken(slot: str, token: object, problem: object) -> None:
    st.session_state[f"taken_{slot}"] = (token, problem)
