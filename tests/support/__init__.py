"""Helpers shared by several test modules, so no test module imports another.

One job per module: ``apptest`` drives the page through Streamlit's AppTest, ``images`` makes pictures,
``weights`` seeds torchvision's cache, ``capture`` checks hooks and thread safety of capture(),
``models`` holds small modules built for tests. Fixtures stay in ``tests/conftest.py``; the
real-browser driver is ``featviz_ui.testing`` (the benchmarks and docs use it too).
"""
