"""What every benchmark in bench/ shares: the paired timing loop, result files, tables, and process memory.

Why one module: the four benchmarks must time, report and store results the same way, so that
``bench/run_all.py`` can put them side by side in ``bench/RESULTS.md`` and a fix to the timing loop
reaches all of them.
"""

from __future__ import annotations

import datetime as _dt
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO_ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"

# --------------------------------------------------------------------------------------------- timing


@dataclass
class PairTiming:
    """Samples (seconds) of a candidate and its baseline, taken interleaved in one process."""

    candidate: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)

    @property
    def candidate_median(self) -> float:
        return statistics.median(self.candidate)

    @property
    def baseline_median(self) -> float:
        return statistics.median(self.baseline) if self.baseline else float("nan")

    @property
    def ratio(self) -> float:
        """candidate / baseline: below 1 means the candidate is faster."""
        return self.candidate_median / self.baseline_median

    @property
    def speedup(self) -> float:
        """baseline / candidate: how many times faster the candidate is."""
        return self.baseline_median / self.candidate_median

    def as_dict(self) -> dict[str, Any]:
        return {
            "candidate_s": self.candidate,
            "baseline_s": self.baseline,
            "candidate_median_s": self.candidate_median,
            "baseline_median_s": self.baseline_median,
        }


def _timed(fn: Callable[[], object]) -> float:
    """One call's wall time, without freeing what it returned.

    The result is dropped (and garbage collected) after the clock stops, and leftovers are collected
    before it starts: freeing a capture of a few hundred tensors happens later in the dashboard (on cache
    eviction), not during the call, and must not land in whichever timing happens to come next.
    """
    gc.collect()
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    del result
    gc.collect()
    return elapsed


def time_pair(
    candidate: Callable[[], object],
    baseline: Callable[[], object],
    repeats: int,
    warmup: int = 1,
    baseline_repeats: Optional[int] = None,
    baseline_warmup: Optional[int] = None,
) -> PairTiming:
    """Time ``candidate`` and ``baseline`` alternately, after ``warmup`` untimed calls of each.

    Alternating (and swapping which goes first on every round) spreads drift and noise from other
    processes over both sides, which back-to-back blocks of runs would not. A slow baseline can be
    sampled fewer times (``baseline_repeats``): it is then timed in the first rounds only.
    """
    baseline_repeats = repeats if baseline_repeats is None else min(baseline_repeats, repeats)
    baseline_warmup = warmup if baseline_warmup is None else baseline_warmup
    for i in range(max(warmup, baseline_warmup)):
        if i < warmup:
            candidate()
        if i < baseline_warmup:
            baseline()
    result = PairTiming()
    for i in range(repeats):
        with_baseline = i < baseline_repeats
        if i % 2 == 0 or not with_baseline:
            result.candidate.append(_timed(candidate))
            if with_baseline:
                result.baseline.append(_timed(baseline))
        else:
            result.baseline.append(_timed(baseline))
            result.candidate.append(_timed(candidate))
    return result


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


# ------------------------------------------------------------------------------------ process memory


def read_rss_bytes(pid: int) -> int:
    """Resident set size of a process (VmRSS in /proc/<pid>/status), in bytes."""
    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS line (process gone or a kernel thread?)")


def find_pid_by_port(port: int, must_contain: str = "streamlit") -> int:
    """The PID of the process started with ``--server.port <port>`` (tests.support.browser.dashboard keeps its
    Popen to itself), found by scanning /proc/*/cmdline; psutil is not a dependency of featviz."""
    try:
        import psutil  # type: ignore[import-not-found]
    except ImportError:
        psutil = None
    found: list[int] = []
    if psutil is not None:
        for proc in psutil.process_iter(["pid", "cmdline"]):
            args = proc.info.get("cmdline") or []
            if _has_port(args, port) and any(must_contain in a for a in args):
                found.append(proc.info["pid"])
    else:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
            except OSError:
                continue  # exited meanwhile, or not ours to read
            if _has_port(args, port) and any(must_contain in a for a in args):
                found.append(int(entry.name))
    if not found:
        raise RuntimeError(f"no process with '--server.port {port}' and '{must_contain}' in its command line")
    return min(found)  # the server itself is started first; anything it spawns would come later


def _has_port(args: Sequence[str], port: int) -> bool:
    return any(a == "--server.port" and i + 1 < len(args) and args[i + 1] == str(port) for i, a in enumerate(args))


# ------------------------------------------------------------------------------------------- browser


def freeze_dashboard_sources() -> None:
    """Make dashboards started from now on ignore source-file changes (Streamlit's file watcher off).

    Why: ``tests.support.browser.dashboard`` passes this process's environment to ``streamlit run``. With the
    watcher on, an edit anywhere in the working tree during a benchmark (someone else working in the repo)
    makes the server re-import featviz_core mid-run, which changes what is measured and can break the app.
    """
    os.environ.setdefault("STREAMLIT_SERVER_FILE_WATCHER_TYPE", "none")
    os.environ.setdefault("STREAMLIT_SERVER_RUN_ON_SAVE", "false")


def wait_script_idle(page: Any, timeout_ms: float = 120_000) -> None:
    """Wait until Streamlit reports that no script run is going on (``data-test-script-state``).

    Only meaningful after something that proves a new run has started (a changed caption or title):
    right after a click the state may not have flipped to "running" yet.
    """
    page.wait_for_function(
        """() => { const app = document.querySelector('[data-testid="stApp"]');
                   return !!app && app.getAttribute('data-test-script-state') === 'notRunning'; }""",
        timeout=timeout_ms,
    )


def report_browser_failure(page: Any, folder: Path, what: str) -> None:
    """After a failed wait: say what the page showed (grid title, screenshot, server log) on stderr, so a
    benchmark that cannot finish explains why instead of ending on a bare Playwright timeout."""
    try:
        title = page.evaluate(
            "() => { const t = document.querySelector('.st-key-grid .js-plotly-plot .gtitle'); "
            "return t ? t.textContent : '(no grid)'; }"
        )
        shot = folder / "failure.png"
        page.screenshot(path=str(shot), full_page=True)
        log(f"{what} failed; grid on screen: {title!r}; screenshot {shot}")
    except Exception as exc:  # noqa: BLE001 - diagnostics must not hide the original error
        log(f"{what} failed; could not inspect the page: {exc}")
    server_log = folder / "streamlit.log"
    if server_log.exists():
        log("streamlit.log (tail):\n" + server_log.read_text(errors="replace")[-2000:])


# ------------------------------------------------------------------------------------ results files


def machine_info() -> dict[str, Any]:
    """What the figures were measured on, for RESULTS.md."""
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    try:
        import torch

        from featviz_core.models import best_device

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["device"] = str(best_device())
    except Exception as exc:  # noqa: BLE001 - machine info must never break a benchmark
        info["device"] = f"unknown ({exc})"
    for module in ("torchvision", "plotly", "streamlit"):
        try:
            info[module] = __import__(module).__version__
        except Exception:  # noqa: BLE001
            pass
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


@dataclass
class Table:
    """A result table: formatted cells for people (console, RESULTS.md)."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": self.columns, "rows": self.rows}


@dataclass
class Target:
    """One stated target and whether this run met it."""

    text: str
    met: bool
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.text, "met": self.met, "detail": self.detail}


def met(flag: bool) -> str:
    return "met" if flag else "NOT met"


def write_results(
    name: str,
    title: str,
    tables: Sequence[Table],
    targets: Sequence[Target],
    *,
    quick: bool,
    notes: Sequence[str] = (),
    data: Optional[dict[str, Any]] = None,
    started: Optional[float] = None,
) -> Path:
    """Write ``bench/results/<name>.json`` (via a .tmp file and a rename, so run_all never reads half a file)."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    payload = {
        "name": name,
        "title": title,
        "quick": quick,
        "date": now_iso(),
        "argv": sys.argv[1:],
        "wall_s": None if started is None else round(time.perf_counter() - started, 1),
        "machine": machine_info(),
        "tables": [t.as_dict() for t in tables],
        "targets": [t.as_dict() for t in targets],
        "all_met": all(t.met for t in targets),
        "notes": list(notes),
        "data": data or {},
    }
    path = RESULTS_DIR / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")
    os.replace(tmp, path)
    return path


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def print_table(table: Table) -> None:
    """A plain-text table on stdout, columns aligned."""
    widths = [max(len(str(c)), *(len(str(r[i])) for r in table.rows)) if table.rows else len(str(c))
              for i, c in enumerate(table.columns)]
    print(f"\n{table.title}")
    print("  ".join(str(c).ljust(w) for c, w in zip(table.columns, widths, strict=False)))
    print("  ".join("-" * w for w in widths))
    for row in table.rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=False)))
    sys.stdout.flush()


def print_targets(targets: Sequence[Target]) -> None:
    print("\nTargets:")
    for t in targets:
        print(f"  [{met(t.met)}] {t.text}" + (f" ({t.detail})" if t.detail else ""))
    sys.stdout.flush()


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def log(message: str) -> None:
    """Progress on stderr, so stdout stays the result tables."""
    print(message, file=sys.stderr, flush=True)
