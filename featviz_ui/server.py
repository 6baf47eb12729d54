"""The dashboard server's memory policy: reuse freed memory across captures, and hand it back when it piles up.

This changes glibc's malloc for the whole process, so it is a deployment choice made by the server at
start-up (``app.py`` calls :func:`tune_allocator` once and :func:`release_free_memory` after each script
run), never by featviz_core: a notebook or another program importing the library keeps its own allocator.
Turn it off with ``FEATVIZ_TUNE_ALLOCATOR=0`` (:mod:`featviz_core.settings`).

Why: a capture copies every layer's output into fresh memory. glibc serves large blocks with mmap and returns
them on free, so each capture pays page faults and zeroing again for tens or hundreds of MB; on a 2-core
CPU that is comparable to a small model's whole forward pass. Raising the mmap and trim thresholds makes
glibc keep such blocks in its heap for reuse: resnet18's capture overhead fell from 1.44× to 1.14× of a
plain forward pass, resnet50's from 1.77× to 1.30× (bench/bench_capture.py). Resident memory then stays
at its high-water mark rather than shrinking between captures.

What it keeps must still be handed back now and then: over hundreds of layer changes, memory in use stays
flat but freed blocks fragment, and glibc's free memory grew from 72 to 131 MB over 200 switches
(bench/heap_profile, mallinfo2), which showed as a slow rise of the server's resident memory.
:func:`release_free_memory` returns it to the OS when glibc holds more than 64 MB free, at most every 10 s;
the dashboard calls it after each script run.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading
import time

from featviz_core import settings

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20  # glibc's maximum on 64-bit systems
TRIM_THRESHOLD = 1024 * 2**20

FREE_LIMIT = 64 * 2**20
RELEASE_INTERVAL_S = 10.0

_tuned: bool | None = None
_libc: ctypes.CDLL | None = None
_release_lock = threading.Lock()
_last_release = 0.0


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                     "keepcost")
    ]


def tune_allocator() -> bool:
    """Apply the thresholds once per process; True where it took effect (Linux with glibc), else False.

    ``FEATVIZ_TUNE_ALLOCATOR=0`` leaves glibc's defaults (memory handed back sooner, captures slower)."""
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    if not settings.current().tune_allocator:
        return _tuned
    if sys.platform.startswith("linux"):
        try:
            libc = _glibc()
            _tuned = libc is not None and bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
                libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
            )
        except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
            _tuned = False
    return _tuned


def heap_info() -> dict[str, int] | None:
    """glibc's mallinfo2 for all its heaps (``uordblks`` in use, ``fordblks`` free, ...); None where that
    cannot be read (not glibc, or older than 2.33)."""
    libc = _glibc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        return None
    info = libc.mallinfo2()
    return {name: int(getattr(info, name)) for name, _ in _MallInfo2._fields_}


def free_heap_bytes() -> int | None:
    """Bytes glibc holds free in its heaps (mallinfo2's fordblks); None where that cannot be read."""
    info = heap_info()
    return None if info is None else info["fordblks"]


def release_free_memory(free_limit: int = FREE_LIMIT, interval_s: float = RELEASE_INTERVAL_S) -> bool:
    """Hand glibc's free heap memory back to the OS (``malloc_trim``) when it holds more than ``free_limit``
    and the last release was at least ``interval_s`` ago. True when it released; cheap when it does not.

    Only where :func:`tune_allocator` took effect: with glibc's defaults there is nothing to do."""
    global _last_release
    if not _tuned or not _release_lock.acquire(blocking=False):
        return False
    try:
        now = time.monotonic()
        if now - _last_release < interval_s:
            return False
        free = free_heap_bytes()
        if free is None or free <= free_limit:
            return False
        _last_release = now
        libc = _glibc()
        return bool(libc is not None and libc.malloc_trim(0))
    finally:
        _release_lock.release()


def _glibc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None and sys.platform.startswith("linux"):
        try:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        except OSError:
            return None
        if hasattr(_libc, "mallinfo2"):
            _libc.mallinfo2.restype = _MallInfo2
    return _libc
