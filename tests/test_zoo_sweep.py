"""The zoo sweep (bench/bench_zoo.py) on a handful of models: every model runs in its own interpreter,
every layer is captured bit-identical to a reference, and the figure sweep finds no figure over its budget.

Timings are the benchmark's business, not asserted here; the whole zoo is ``python bench/bench_zoo.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_a_handful_of_zoo_models_run_exactly_and_stay_within_the_figure_budget():
    done = subprocess.run(
        [sys.executable, "bench/bench_zoo.py", "--models", "mobilenet_v3_small", "shufflenet_v2_x0_5",
         "--repeats", "2", "--warmup", "1", "--dry"],
        cwd=ROOT, capture_output=True, text=True, timeout=880,
        # CPU-heavy: one thread, so it holds on a loaded machine; this checkout's featviz_core, wherever pip's
        # editable install points (the script's own folder, not the root, is on its sys.path)
        env={**os.environ, "OMP_NUM_THREADS": "1",
             "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))},
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr[-3000:] + out[-3000:]
    assert "[met] every model runs" in out, out[-3000:]
    assert "[met] every captured layer bit-identical to the reference" in out, out[-3000:]
    assert "[met] every figure <= 2 MB" in out, out[-3000:]
    exact = next(line for line in out.splitlines() if line.startswith("exact: "))
    compared = int(exact.split()[3])
    assert compared > 300 and exact.split()[1] == exact.split()[3], exact


def test_redo_sweeps_only_the_named_models_and_puts_their_rows_back_in_place(monkeypatch):
    """``--redo`` re-measures a few models of a stored sweep of hours without losing or reordering the rest."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import bench_zoo
    finally:
        sys.path.remove(str(ROOT / "bench"))
    stored = [{"model": name, "failure": "stored"} for name in ("alexnet", "resnet18", "vgg11", "vit_b_16")]
    swept: list[str] = []
    written: list[list[dict]] = []

    def run_one(name, _args):
        swept.append(name)
        return {"model": name, "failure": "redone"}

    monkeypatch.setattr(bench_zoo, "stored_rows", lambda _name, models: [r for r in stored if r["model"] in models])
    monkeypatch.setattr(bench_zoo, "run_one", run_one)
    monkeypatch.setattr(bench_zoo, "write_results", lambda *_a, data, **_k: written.append(list(data["rows"])))
    bench_zoo.main(["--models", "alexnet", "resnet18", "vgg11", "vit_b_16", "--redo", "vit_b_16", "resnet18"])
    assert sorted(swept) == ["resnet18", "vit_b_16"]
    rows = written[-1]
    assert [r["model"] for r in rows] == ["alexnet", "resnet18", "vgg11", "vit_b_16"]
    assert [r["failure"] for r in rows] == ["stored", "redone", "stored", "redone"]
