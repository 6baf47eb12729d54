"""A long session: many changes of image, model, layer and normalization through one page session.

Runs with AppTest in a fresh interpreter (tests/support/soak.py), so it can look inside the server and
its resident memory is the session's own: memory must level off, the shared caches must stay within their
caps, and no hook may be left on any cached model. CI runs a reduced count; the full soak is::

    FEATVIZ_SOAK_CHANGES=500 python -m pytest -s tests/test_soak.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.soak import MODELS

ROOT = Path(__file__).resolve().parents[1]
# Peaks of resident memory still rise for about the first 120 changes, while the caches fill: with 180 the
# middle third is past that warm-up (120 gave +4 to +9 % from it alone, 180 gives 0 to +3 %).
CHANGES = int(os.environ.get("FEATVIZ_SOAK_CHANGES", "180"))
CACHE_MB = 150
FIGURE_MB = 48

pytestmark = [pytest.mark.load, pytest.mark.slow, pytest.mark.timeout(1800)]


def test_a_long_session_stays_bounded_and_leaves_no_hooks():
    env = {**os.environ, "FEATVIZ_ACTIVATION_CACHE_MB": str(CACHE_MB), "FEATVIZ_FIGURE_CACHE_MB": str(FIGURE_MB)}
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.soak", str(CHANGES)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1700,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    seen = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("SOAK "))[5:])

    assert seen["activation_bytes"] <= CACHE_MB * 2**20, "the activation cache went over its cap"
    assert seen["figure_bytes"] <= FIGURE_MB * 2**20, "the figure cache went over its cap"
    assert seen["hooks"] == {name: 0 for name, _ in MODELS}, seen["hooks"]
    # Resident memory rises and falls as the caches evict and free memory is handed back (a saw-tooth about
    # 60 changes long, 10-12 % high). So compare peaks, not single readings: the highest reading of the
    # middle third against the highest of the last third. A leak raises every peak.
    readings = seen["readings"]
    third = len(readings) // 3
    warm = max(readings[third : 2 * third])
    end = max(readings[2 * third :])
    growth = (end - warm) / warm
    print(
        f"\nsoak: {CHANGES} changes in one session; RSS {readings[0]:.0f} MB after the first, {warm:.0f} MB after "
        f"warm-up (highest in the middle third), {end:.0f} MB at the end (highest in the last third, "
        f"{growth:+.1%}); activation cache "
        f"{seen['activation_bytes'] / 2**20:.0f} of {CACHE_MB} MB in {seen['captures']} captures, figure cache "
        f"{seen['figure_bytes'] / 2**20:.0f} of {FIGURE_MB} MB in {seen['grids']} grids; "
        f"0 hooks left on {len(MODELS)} cached models"
    )
    assert growth < 0.10, f"resident memory kept growing: {warm:.0f} -> {end:.0f} MB"
