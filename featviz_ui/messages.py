"""Errors as a page shows them: the sentence for the person on top, what the library said under *Details*."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import streamlit as st


@dataclass(frozen=True)
class Problem:
    """An error to show: ``message`` says what happened and what to do; ``detail`` is the library's own
    text (Pillow's decoder error, torch's), for whoever wants it."""

    message: str
    detail: Optional[str] = None


def problem(prefix: str, exc: BaseException) -> Problem:
    """``prefix`` followed by the error's message, keeping a FeatvizError's ``detail`` apart."""
    return Problem(f"{prefix}{exc}", getattr(exc, "detail", None))


def show_problem(item: Union[str, Problem]) -> None:
    """st.error with the message; the detail, if any, in a closed *Details* expander under it."""
    if isinstance(item, str):
        st.error(item)
        return
    st.error(item.message)
    if item.detail:
        with st.expander("Details"):
            st.code(item.detail, language=None, wrap_lines=True)
