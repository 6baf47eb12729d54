"""featviz: the dashboard. Run with `streamlit run app.py`; the pages do the work through featviz_core.

``streamlit run`` finds ``app`` below and serves the dashboard through it, with a lifespan that warms the
example every visitor opens on as the server starts (featviz_ui/warm.py). Each session's script run executes
this file as ``__main__``; the server imports it as a module only to find ``app``.
"""

import streamlit as st

from featviz_ui import warm

app = st.App("app.py", lifespan=warm.lifespan)

if __name__ == "__main__":
    from featviz_ui import page, server
    from featviz_ui.caches import recount_captures
    from featviz_ui.navigation import pages

    server.tune_allocator()  # this process reuses freed memory across captures (featviz_ui/server.py)

    st.set_page_config(page_title="featviz", page_icon=":material/grid_view:", layout="wide")

    navigation = st.navigation(pages())
    try:
        with page.app_run():  # the page runs inside this script (featviz_ui.page.run_through_app)
            navigation.run()
    finally:
        recount_captures()  # layers this run read were measured and rounded, or run again onto disk
        server.release_free_memory()  # hand back what fragments after many runs (rate-limited)
