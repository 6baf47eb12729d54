"""The dashboard's pages, in the order of its navigation: one list for ``app.py`` and for a page that finds
itself run alone (:func:`featviz_ui.page.run_through_app`)."""

from __future__ import annotations

import streamlit as st

PAGES: tuple[tuple[str, str, str], ...] = (
    ("pages/explore.py", "Feature maps", ":material/grid_view:"),
    ("pages/compare_layers.py", "Compare two layers", ":material/view_column:"),
    ("pages/compare_images.py", "Compare two images", ":material/photo_library:"),
    ("pages/trained_vs_untrained.py", "Trained vs untrained", ":material/compare:"),
    ("pages/overview.py", "Model overview", ":material/table_chart:"),
    ("pages/dataset.py", "Dataset", ":material/dataset:"),
    ("pages/lessons.py", "Lessons", ":material/school:"),
    ("pages/about.py", "How to read the maps", ":material/help:"),
)
"""(script, title, icon); the first opens by default."""


def pages() -> list[st.Page]:
    return [st.Page(script, title=title, icon=icon, default=index == 0)
            for index, (script, title, icon) in enumerate(PAGES)]
