"""The server warms the example every visitor opens on, once, when it starts.

Why: a fresh server imports torch (about 2.4 s on a busy 2-core machine), loads the bundled digits CNN,
captures its held-out 7 and measures the first layer before the first visitor sees a grid; with nothing
warmed, the first visitor waits for all of it (7–10 s). ``app.py`` hands :func:`lifespan` to ``st.App``, so
``streamlit run app.py`` runs it as the server starts: a background thread fills the shared caches with the
same entries the first page run reads (the same model, capture and figure keys), and the server answers
while it works. A visitor who arrives before it is done finds the caches half filled and does the rest.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

_log = logging.getLogger(__name__)
_warmed = threading.Event()


def warm_default_example() -> None:
    """Fill the shared caches with what the Feature maps page shows first: the bundled model, its capture of the
    default sample, the first convolution's statistics and its grid."""
    import featviz_core as fv  # the import itself is the largest part of a cold start
    from featviz_core.analysis import PAGE_SIZE, select_channels
    from featviz_core.draw import DISPLAY_WIDTH
    from featviz_core.samples import DEFAULT_SAMPLE, sample_bytes

    from .caches import cached_capture, cached_grid, cached_model, cached_stats
    from .context import decode
    from .own_model import DEFAULT_MODEL

    model = cached_model(DEFAULT_MODEL, True)
    image = decode(sample_bytes(DEFAULT_SAMPLE), DEFAULT_SAMPLE)
    model_key = f"{DEFAULT_MODEL}|trained"
    captured = cached_capture(image.digest, model_key, model, image.image)
    layer = fv.default_layer(captured)
    if layer is None:
        return
    fmap = captured[layer]
    stats = cached_stats((image.digest, model_key), fmap)
    display = fv.GridSettings()  # the sidebar's defaults: per channel, viridis
    selection = select_channels(stats, page_size=PAGE_SIZE)
    cached_grid((image.digest, model_key), fmap, display.with_order(selection.channels), model.label,
                display_width=DISPLAY_WIDTH)


def _warm() -> None:
    started = time.perf_counter()
    try:
        warm_default_example()
        print(f"featviz: the default example is warmed ({time.perf_counter() - started:.1f} s)", file=sys.stderr,
              flush=True)  # in the server's console, beside Streamlit's own start-up lines
    except Exception:  # noqa: BLE001 - a failed warm-up only means the first visitor does the work
        _log.warning("featviz: warming the default example failed; the first visitor will load it", exc_info=True)
    finally:
        _warmed.set()


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    """``st.App``'s lifespan: the server's memory policy, then the default example warmed on a thread beside the
    server, which answers at once."""
    from featviz_core import settings

    from . import server

    server.tune_allocator()  # before the warm-up's capture, as every later one (featviz_ui/server.py)
    if settings.current().warm_start:  # FEATVIZ_WARM_START=0: a server started for one test need not
        threading.Thread(target=_warm, name="featviz-warm", daemon=True).start()
    else:
        _warmed.set()
    yield


def warmed(timeout: float | None = None) -> bool:
    """Whether the warm-up has finished (for tests and benchmarks), waiting up to ``timeout`` seconds."""
    return _warmed.wait(timeout)
