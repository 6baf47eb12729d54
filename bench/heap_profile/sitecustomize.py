"""Heap profile of the dashboard server while a benchmark drives it (a dev tool, not part of featviz).

Why: RSS alone says that the server grew, not what grew. Put this directory on PYTHONPATH and set
FEATVIZ_PROFILE_DIR; a ``streamlit run app.py`` started then (bench_memory starts one and passes its
environment on) traces Python allocations and, every FEATVIZ_PROFILE_PERIOD seconds (default 20), writes a
tracemalloc snapshot (FEATVIZ_PROFILE_TRACE=0: none, and no slow-down) plus RSS, glibc's mallinfo2
(native heap in use and free) and live object counts:

    FEATVIZ_PROFILE_DIR=/tmp/heap PYTHONPATH=bench/heap_profile python bench/bench_memory.py
    python bench/heap_profile/compare.py /tmp/heap 4 12

The server runs 2-3x slower while traced, so its RSS figures are not the benchmark's.
"""

from __future__ import annotations

import os
import sys

if os.environ.get("FEATVIZ_PROFILE_DIR") and "app.py" in sys.argv:
    import collections
    import gc
    import json
    import threading
    import time
    import tracemalloc

    _OUT = os.environ["FEATVIZ_PROFILE_DIR"]

    def _mallinfo() -> dict:
        # imported late: featviz_core brings torch, which the server loads anyway, but not at interpreter start
        from featviz_ui.server import heap_info

        return heap_info() or {}

    def _rss() -> int:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) * 1024
        return 0

    def _anonymous() -> int:
        try:
            with open("/proc/self/smaps_rollup") as rollup:
                return next(int(line.split()[1]) * 1024 for line in rollup if line.startswith("Anonymous:"))
        except (OSError, StopIteration):
            return 0

    def _every(period: float) -> None:
        index = 0
        while True:
            time.sleep(period)
            index += 1
            types = collections.Counter(type(o).__name__ for o in gc.get_objects())
            info = {"t": time.time(), "rss": _rss(), "anonymous": _anonymous(), "mallinfo": _mallinfo(),
                    "python_blocks": sys.getallocatedblocks(), "threads": threading.active_count(),
                    "traced": tracemalloc.get_traced_memory(), "types": types.most_common(80)}
            with open(os.path.join(_OUT, f"info_{index:03d}.json"), "w") as file:
                json.dump(info, file)
            if tracemalloc.is_tracing():
                tracemalloc.take_snapshot().dump(os.path.join(_OUT, f"snap_{index:03d}.pickle"))

    os.makedirs(_OUT, exist_ok=True)
    if os.environ.get("FEATVIZ_PROFILE_TRACE", "1") != "0":  # 0: RSS, mallinfo and counts only, at full speed
        tracemalloc.start(int(os.environ.get("FEATVIZ_PROFILE_FRAMES", "12")))
    threading.Thread(target=_every, args=(float(os.environ.get("FEATVIZ_PROFILE_PERIOD", "20")),),
                     daemon=True, name="featviz-heap-profile").start()
