"""Helpers shared by several test modules, so no test module imports another.

One job per module: ``apptest`` drives the page through Streamlit's AppTest, ``images`` makes pictures,
``weights`` seeds torchvision's cache, ``capture`` checks hooks and thread safety of capture(),
``models`` holds small modules built for tests, ``browser`` drives the real dashboard in Chromium (the
benchmarks and docs/screenshots.py use it too). Fixtures stay in ``tests/conftest.py``.
"""
