"""Run every benchmark in bench/, one after another, and write bench/RESULTS.md from their result files.

Why subprocesses: each benchmark then starts from a fresh interpreter (no warm caches, allocator state or
torch threads left over from the one before), and a benchmark that fails or hangs cannot take the others
down: its failure is written into RESULTS.md instead.

    python bench/run_all.py            # full runs (about 10-15 minutes on 2 cores)
    python bench/run_all.py --quick    # smoke runs; --quick is passed to every benchmark
    python bench/run_all.py --only grid capture
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Optional

from _common import BENCH_DIR, REPO_ROOT, RESULTS_DIR, log, machine_info, markdown_table, now_iso

BENCHMARKS = {  # result name -> script
    "capture": "bench_capture.py",
    "grid": "bench_grid.py",
    "memory": "bench_memory.py",
    "browser": "bench_browser.py",
    "scan": "bench_scan.py",
    "zoo": "bench_zoo.py",
    "zoo_timing": "bench_zoo.py",  # its --no-figures sweep
    "zoo_dashboard": "bench_zoo.py",  # its --dashboard-only sweep
    "browser_waits": "bench_browser.py",  # its --waits --against REVISION run: before and after, in one run
    "capture_ab": "ab_capture.py",  # --against REVISION: the dashboard's capture before and after, in one run
}
ALONE = ("zoo", "zoo_timing", "zoo_dashboard", "browser_waits", "capture_ab")
"""Run only by their own command (the whole zoo takes hours); RESULTS.md shows their stored results."""
TIMEOUT_S = 900  # per benchmark; each is meant to take under ~4 minutes
RESULTS_MD = BENCH_DIR / "RESULTS.md"


def run_one(name: str, quick: bool) -> dict[str, Any]:
    """Run one benchmark script; return its results file's content, or why there is none."""
    result_file = RESULTS_DIR / f"{name}.json"
    if result_file.exists():
        result_file.unlink()  # never report an older run's figures as this run's
    command = [sys.executable, str(BENCH_DIR / BENCHMARKS[name])] + (["--quick"] if quick else [])
    log(f"\n=== {name}: {' '.join(command[1:])}")
    started = time.perf_counter()
    # Own process group: on a timeout the benchmark's dashboard server and Chromium are stopped with it.
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               bufsize=1, start_new_session=True)
    timed_out = threading.Event()

    def stop() -> None:
        """Interrupt first (its ``finally`` blocks stop the server and the browser), then kill the group."""
        timed_out.set()
        try:
            os.kill(process.pid, signal.SIGINT)
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        except ProcessLookupError:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(TIMEOUT_S, stop)  # a hung browser must not hang the whole run
    timer.start()
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for line in process.stdout:  # shown as it comes, and kept for RESULTS.md if the benchmark fails
            print(line, end="", flush=True)
            lines.append(line)
        returncode: Optional[int] = process.wait()
    except KeyboardInterrupt:  # the benchmark is in its own session: Ctrl-C here does not reach it
        stop()
        raise
    finally:
        timer.cancel()
    output = "".join(lines)
    if timed_out.is_set():
        output += f"\n(stopped after {TIMEOUT_S} s)"
        returncode = None
    elapsed = time.perf_counter() - started
    if returncode == 0 and result_file.exists():
        results = json.loads(result_file.read_text())
        results["elapsed_s"] = round(elapsed, 1)
        return results
    return {"name": name, "failed": True, "returncode": returncode, "elapsed_s": round(elapsed, 1),
            "output_tail": output[-3000:]}


def stored(name: str) -> dict[str, Any]:
    """A result file written earlier (``--report-only``)."""
    path = RESULTS_DIR / f"{name}.json"
    if not path.exists():
        return {"name": name, "failed": True, "returncode": None, "output_tail": f"no {path.name} in bench/results/"}
    results = json.loads(path.read_text())
    results.setdefault("elapsed_s", results.get("wall_s"))
    return results


def render(results: list[dict[str, Any]], quick: bool, machine: dict[str, Any], started: str) -> str:
    """RESULTS.md: the machine, then per benchmark its tables, targets and notes."""
    lines = [
        "# featviz benchmark results",
        "",
        f"Written by `python bench/run_all.py{' --quick' if quick else ''}` on {started} (UTC)."
        + (" **Quick smoke run**: few repeats, timings are indicative only." if quick else ""),
        "Every baseline was measured in the same run as its candidate, alternating with it.",
        "",
        "## Machine",
        "",
        markdown_table(["", "measured on"], [
            ["CPU", f"{machine.get('cpu_count')} × {machine.get('cpu_model')}"],
            ["device", machine.get("device", "?")],
            ["torch", f"{machine.get('torch', '?')} ({machine.get('torch_threads', '?')} threads), "
                      f"torchvision {machine.get('torchvision', '?')}"],
            ["plotly / streamlit", f"{machine.get('plotly', '?')} / {machine.get('streamlit', '?')}"],
            ["Python", f"{machine.get('python')} on {machine.get('platform')}"],
        ]),
        "",
        "## Summary",
        "",
        markdown_table(
            ["benchmark", "targets met", "result", "run time"],
            [[r.get("title", r["name"]),
              "—" if r.get("failed") else f"{sum(t['met'] for t in r['targets'])} of {len(r['targets'])}",
              "**failed to run**" if r.get("failed") else ("all met" if r["all_met"] else "**not all met**"),
              f"{r.get('elapsed_s', '?')} s"] for r in results],
        ),
    ]
    for r in results:
        lines += ["", f"## {r.get('title', r['name'])} (`bench/{BENCHMARKS[r['name']]}`)", ""]
        if r.get("failed"):
            lines += [f"Did not complete (exit status {r['returncode']}). Last output:", "", "```",
                      r["output_tail"].rstrip(), "```"]
            continue
        for table in r["tables"]:
            lines += [f"**{table['title']}**", "", markdown_table(table["columns"], table["rows"]), ""]
        lines += ["Targets:", ""]
        lines += [f"- {'met' if t['met'] else '**NOT met**'}: {t['target']}"
                  + (f" ({t['detail']})" if t["detail"] else "") for t in r["targets"]]
        if r.get("notes"):
            lines += ["", "Notes:", ""] + [f"- {note}" for note in r["notes"]]
    return "\n".join(lines) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark (smoke run)")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these benchmarks")
    parser.add_argument("--report-only", action="store_true",
                        help="run nothing: rewrite RESULTS.md from the result files already in bench/results/")
    args = parser.parse_args(argv)
    names = args.only or [name for name in BENCHMARKS if name not in ALONE]
    if args.report_only:
        stored_alone = [name for name in ALONE if (RESULTS_DIR / f"{name}.json").exists()]
        names = args.only or [name for name in BENCHMARKS if name not in ALONE] + stored_alone
        results = [stored(name) for name in names]
        started = min((r["date"] for r in results if "date" in r), default=now_iso())
        quick = any(r.get("quick") for r in results if r["name"] not in ALONE)  # a partial zoo sweep says so itself
    else:
        started, quick = now_iso(), args.quick
        results = [run_one(name, args.quick) for name in names]
    machine = next((r["machine"] for r in results if "machine" in r), None) or machine_info()
    RESULTS_MD.write_text(render(results, quick, machine, started))
    log(f"\nwrote {RESULTS_MD.relative_to(REPO_ROOT)}")
    failed = [r["name"] for r in results if r.get("failed")]
    if failed:
        log(f"failed to run: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
