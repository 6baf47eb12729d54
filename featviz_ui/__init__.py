"""featviz_ui: the Streamlit code the page scripts in ``pages/`` share. Everything heavy is in featviz_core.

One job a module, imported in this order (none imports one below it):

- :mod:`.state`: what a session remembers: the last good image, model and capture, and choices that
  carry over between pages and travel in shared links;
- :mod:`.context`: the image and model a page starts from (:class:`~.context.Context`);
- :mod:`.caches`: the server-wide caches around featviz_core (models, captures, statistics, figures);
- :mod:`.weights_probe`: whether a zoo model's pretrained weights are cached, downloadable or missing;
- :mod:`.upload_limits`: the limit each uploader states and enforces, from featviz_core's settings;
- :mod:`.sidebar`: the image and model picker every page shares;
- :mod:`.controls`: the layer picker and the display, order and filter controls;
- :mod:`.navigation`: the dashboard's pages, one list for ``app.py`` and for a page run alone;
- :mod:`.page`: every page's beginning and end (title, messages, stop), always inside ``app.py``;
- :mod:`.server`: the server process's memory settings, applied once at start-up by ``app.py``.

The browser tests' Chromium driver is a dev tool and lives with them, in ``tests/support/browser.py``.
"""
