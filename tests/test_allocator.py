"""The dashboard server's allocator policy (featviz_ui/server.py).

Freed memory is kept for the next capture and handed back when it piles up.
"""

from __future__ import annotations

import sys

import pytest
import torch

from featviz_ui import server

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator is Linux's")


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS"))


def test_free_memory_is_handed_back_when_it_piles_up_and_not_more_often_than_allowed():
    assert server.tune_allocator(), "CI runs on Linux with glibc, where tuning must take effect"
    blocks = [torch.ones(2**20) for _ in range(160)]  # 4 MB each, below the mmap threshold: heap memory
    del blocks[::2]  # 320 MB freed in fragments that glibc keeps
    assert server.free_heap_bytes() > 200 * 2**20
    before = _rss_mb()
    assert server.release_free_memory(free_limit=64 * 2**20, interval_s=0)
    assert _rss_mb() < before - 200, "the freed blocks should have left resident memory"
    assert not server.release_free_memory(free_limit=64 * 2**20, interval_s=3600), "released again within the interval"
    del blocks


def test_nothing_is_released_below_the_limit():
    assert server.tune_allocator()
    assert not server.release_free_memory(free_limit=2**62, interval_s=0)
