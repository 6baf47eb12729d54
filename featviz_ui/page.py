"""Every page's beginning and end: its title, a place for messages under it, the shared sidebar, a stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import streamlit as st

from featviz_core.errors import FeatvizError

from .context import Context
from .messages import problem, show_problem
from .navigation import pages
from .sidebar import build_context
from .state import pop_link_notes

DeltaGenerator = Any
"""What ``st.container()`` returns (Streamlit's own class lives in a module it does not document)."""

_RAN = "featviz_ran"
"""Session state: this session has run a page before."""
_run = threading.local()  # each script run has its thread: is this one app.py's?


@contextmanager
def app_run() -> Iterator[None]:
    """Marks the script run on this thread as ``app.py``'s: its navigation chose the page that runs inside."""
    _run.through_app = True
    try:
        yield
    finally:
        _run.through_app = False


def run_through_app() -> None:
    """Make sure this page runs inside ``app.py`` (its navigation, page settings and server policy).

    Streamlit starts every server in its old "pages folder" mode, because a ``pages/`` folder exists, and
    leaves it when a script calls ``st.navigation``. A fresh server whose first visitor arrives on a page's
    own URL (a shared link to /lessons, say) runs that page alone, with the folder's file names as navigation.
    Such a page calls ``st.navigation`` itself, hidden, with the app's own pages (it opens on the same page),
    which ends that mode for the server, and reruns: the rerun runs ``app.py``, whose navigation opens the same
    page. Only on a session's first run, which has no click a rerun could drop (AppTest starts every run in the
    old mode again and runs a page it switched to alone; its later runs are left as they are).
    """
    first_run = not st.session_state.get(_RAN)
    st.session_state[_RAN] = True
    if first_run and not getattr(_run, "through_app", False):
        st.navigation(pages(), position="hidden")
        st.rerun()


def start_page(title: str) -> tuple[Context, DeltaGenerator]:
    """Title, messages box, and the shared sidebar's context.

    Returns (context, messages box); the page stops here, after its messages, when there is nothing to show.
    """
    run_through_app()
    st.title(title)
    box = st.container()
    ctx = build_context()
    if ctx.captured is None or ctx.model is None:
        stop_page(ctx, box)
    return ctx, box


def stop_page(ctx: Context, box: DeltaGenerator) -> NoReturn:
    """Stop the page here, after showing its messages."""
    show_messages(ctx, box)
    st.stop()


def show_messages(ctx: Context, box: DeltaGenerator | None = None) -> None:
    """Errors and warnings about the image or model, and notes on a shared link.

    Pages call this last, into a container made under their title (``box``), so notes raised anywhere on
    the page (a layer or channel in a link that does not exist) still appear at the top.
    """
    with box if box is not None else st.container():
        for note in pop_link_notes():
            st.info(note)
        for problem in ctx.problems:  # a sentence, or a Problem whose library detail goes under "Details"
            show_problem(problem)
        for notice in ctx.notices:
            st.warning(notice)


@contextmanager
def reading_layers(ctx: Context, box: DeltaGenerator) -> Iterator[None]:
    """Read layers of the dashboard's capture inside this: a layer is measured (and one past the memory budget
    runs the model again) when first read, and a problem then (a full spill disk) becomes the page's message
    and stops the page there, the sidebar and its choices untouched."""
    try:
        yield
    except FeatvizError as exc:
        ctx.problems.append(problem("This layer could not be read: ", exc))
        stop_page(ctx, box)


def finish_every_layer(captured: Any) -> None:
    """Measure every layer that has not been read yet, with a progress bar: for a page that reads them all
    (the dashboard's capture measures a layer when it is first shown; see ``capture_for_cache``)."""
    total = captured.waiting
    if not total:
        return
    bar = st.progress(0.0, text=f"Measuring {total} layers from their exact values…")
    step = max(1, total // 50)  # about fifty updates, however many layers

    def progress(done: int, count: int) -> None:
        if done % step == 0 or done == count:
            bar.progress(done / count, text=f"Measuring layer {done} of {count} from its exact values…")

    captured.finish(progress)
    bar.empty()
