"""featviz: the dashboard. Run with `streamlit run app.py`; the pages do the work through featviz_core."""

import streamlit as st


st.set_page_config(page_title="featviz", page_icon=":material/grid_view:", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/explore.py", title="Feature maps", icon=":material/grid_view:", default=True),
        st.Page("pages/compare.py", title="Trained vs untrained", icon=":material/compare:"),
        st.Page("pages/about.py", title="How to read the maps", icon=":material/help:"),
    ]
)
navigation.run()
