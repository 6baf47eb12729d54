"""featviz: the dashboard. Run with `streamlit run app.py`; the pages do the work through featviz_core."""

import streamlit as st

from featviz_ui import server

server.tune_allocator()  # this process reuses freed memory across captures (featviz_ui/server.py)


st.set_page_config(page_title="featviz", page_icon=":material/grid_view:", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/explore.py", title="Feature maps", icon=":material/grid_view:", default=True),
        st.Page("pages/compare_layers.py", title="Compare two layers", icon=":material/view_column:"),
        st.Page("pages/compare_images.py", title="Compare two images", icon=":material/photo_library:"),
        st.Page("pages/trained_vs_untrained.py", title="Trained vs untrained", icon=":material/compare:"),
        st.Page("pages/overview.py", title="Model overview", icon=":material/table_chart:"),
        st.Page("pages/dataset.py", title="Dataset", icon=":material/dataset:"),
        st.Page("pages/lessons.py", title="Lessons", icon=":material/school:"),
        st.Page("pages/about.py", title="How to read the maps", icon=":material/help:"),
    ]
)
try:
    navigation.run()
finally:
    server.release_free_memory()  # hand back what fragments after many runs (rate-limited)
