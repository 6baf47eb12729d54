"""Let the server reuse freed memory instead of handing it back to the OS after every capture.

A capture copies every layer's output into fresh memory. glibc serves large blocks with mmap and returns
them on free, so each capture pays page faults and zeroing again for tens or hundreds of MB; on a 2-core
CPU that is comparable to a small model's whole forward pass. Raising the mmap and trim thresholds makes
glibc keep such blocks in its heap for reuse: resnet18's capture overhead fell from 1.44× to 1.14× of a
plain forward pass, resnet50's from 1.77× to 1.30× (bench/bench_capture.py). Resident memory then stays
at its high-water mark rather than shrinking between captures, which a long-running server wants anyway.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20  # glibc's maximum on 64-bit systems
TRIM_THRESHOLD = 1024 * 2**20

_tuned: bool | None = None


def tune_allocator() -> bool:
    """Apply the thresholds once per process; True where it took effect (Linux with glibc), else False.

    ``FEATVIZ_TUNE_ALLOCATOR=0`` leaves glibc's defaults (memory handed back sooner, captures slower)."""
    global _tuned
    if _tuned is not None:
        return _tuned
    _tuned = False
    if os.environ.get("FEATVIZ_TUNE_ALLOCATOR", "1").strip().lower() in ("0", "false", "no", "off"):
        return _tuned
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _tuned = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
                libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
            )
        except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
            _tuned = False
    return _tuned
