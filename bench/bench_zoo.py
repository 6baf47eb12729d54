"""The whole zoo: capture overhead, exactness, memory and figures for every model, one subprocess each.

Why: the other benchmarks hold their targets on six models; a user can pick any of the 81. Each model runs
in its own interpreter with a timeout, as a server would survive a model that is too slow or too large,
with untrained weights (they time the same as trained ones), the default weights' preprocessing of the
cat photo, and the allocator tuned as the dashboard's server does. Per model:

- capture / plain forward pass: median of alternating pairs (target <= 1.10 for the median model and
  <= 1.30 for every model);
- exactness: every captured layer against an independent reference (hooks that clone each output, no
  watching mode), bit for bit;
- peak resident memory during one capture (the kernel's high-water mark, reset just before), minor page
  faults of one capture, and the capture's size in float16 against ``FEATVIZ_ACTIVATION_CACHE_MB``;
- the dashboard's own capture (``featviz_core.cache.capture_for_cache``: the first ``FEATVIZ_CAPTURE_RAM_MB``
  of layers held exactly and measured when first read, the rest only noted, run again when read and spilled
  to disk then): its time against a plain pass (targets <= 1.2 for the median model, <= 1.5 for every model), its
  peak resident memory, measured after one plain forward pass and before anything else, and what it holds in
  memory and on disk;
- the largest grid figure over every layer, as the dashboard sends it (the readable default view, and a
  full page of channels where a layer has more than the default shows), and the slowest build
  (``channel_grid`` + JSON; a build over 0.3 s is timed twice more and the fastest counts, as one pause of
  the machine is not the figure's), against 2 MB and 0.3 s.

    python bench/bench_zoo.py                          # all 81 models (hours on 2 cores)
    python bench/bench_zoo.py --quick                  # four small models, few repeats (CI's smoke run)
    python bench/bench_zoo.py --models resnet18 regnet_y_400mf --repeats 21
    python bench/bench_zoo.py --device cuda            # the same sweep on a GPU
    python bench/bench_zoo.py --resume                 # go on from the stored result (it is written after each model)
    python bench/bench_zoo.py --redo alexnet resnet18  # sweep these again, keeping the stored rest
    python bench/bench_zoo.py --no-figures             # timings and memory only: bench/results/zoo_timing.json
    python bench/bench_zoo.py --dashboard-only         # the dashboard's capture against a plain pass, nothing
                                                       # else: bench/results/zoo_dashboard.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import REPO_ROOT, Table, Target, log, print_table, print_targets, write_results

QUICK_MODELS = ("mobilenet_v3_small", "shufflenet_v2_x0_5", "regnet_y_400mf", "resnet18")
MEDIAN_TARGET = 1.10
WORST_TARGET = 1.30
DASHBOARD_MEDIAN_TARGET = 1.2
DASHBOARD_WORST_TARGET = 1.5
FIGURE_BYTES_TARGET = 2 * 2**20
FIGURE_SECONDS_TARGET = 0.3
TIMING_BUDGET_S = 20.0  # per model, for the alternating pairs: big models get fewer of them
SAMPLE = "Cat (Chelsea)"


# ------------------------------------------------------------------------------------------ child side


def _reset_peak_rss() -> bool:
    """Reset the kernel's resident high-water mark (VmHWM) of this process: Linux >= 4.0."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure_model(name: str, repeats: int | None, warmup: int, device: str, figures: bool,
                  dashboard_only: bool = False) -> dict[str, Any]:
    """Everything the sweep reports for one model, in this process (run by the parent in a fresh one)."""
    import torch
    from torch.nn.modules.module import register_module_forward_hook

    import featviz_core as fv
    from featviz_core.activations import channel_view
    from featviz_core.analysis import PAGE_SIZE, select_channels
    from featviz_core.cache import capture_for_cache
    from featviz_core.capturing._copy_on_write import WritePlan, known_plan, remember_plan
    from featviz_core.draw import is_vector
    from featviz_core.settings import current as settings
    from featviz_ui import server

    from _common import time_pair

    server.tune_allocator()
    # built as the dashboard builds an untrained model: in its default weights' configuration (vit_h_14 for
    # the 518 px its preprocessing crops), seeded, frozen
    loaded = fv.load_model(name, weights=None, device=device)
    model = loaded.module
    x = loaded.preprocess(fv.load_sample(SAMPLE)).to(device)
    batch = x.unsqueeze(0)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def plain() -> object:
        with torch.inference_mode():
            out = model(batch)
        sync()
        return out

    def captured() -> object:
        result = fv.capture(model, x)
        sync()
        return result

    start = time.perf_counter()
    plain()
    first_plain = time.perf_counter() - start

    # the dashboard's capture, measured first (before any full capture leaves freed memory in the process):
    # float16 as each layer returns, FEATVIZ_CAPTURE_RAM_MB of it in memory, the rest spilled to disk
    peak_known = _reset_peak_rss()
    dashboard_before = _status_mb("VmRSS")
    kept = capture_for_cache(model, x)
    dashboard_peak = _status_mb("VmHWM") if peak_known else float("nan")
    kept_mb, spilled_mb = kept.nbytes / 2**20, kept.disk_bytes / 2**20
    del kept
    if repeats is None:
        repeats = max(3, min(15, int(TIMING_BUDGET_S / max(2.2 * first_plain, 1e-3))))

    def dashboard() -> object:  # what the dashboard runs on a new image or model (featviz_ui.caches)
        result = capture_for_cache(model, x)
        sync()
        return result

    dashboard_timing = time_pair(dashboard, plain, repeats=repeats, warmup=warmup)
    if dashboard_only:
        return {"model": name, "input": "×".join(map(str, x.shape)), "plain_s": dashboard_timing.baseline_median,
                "dashboard_s": dashboard_timing.candidate_median, "dashboard_ratio": dashboard_timing.ratio,
                "pairs": repeats, "dashboard_peak_rss_mb": dashboard_peak, "kept_mb": kept_mb,
                "spilled_mb": spilled_mb, "capture_ram_mb": settings().capture_ram_mb}
    timing = time_pair(captured, plain, repeats=repeats, warmup=warmup)

    # the profile: the forward hooks alone, keeping references and copying nothing (not a correct capture:
    # in-place ops overwrite what they keep), which every hook-based capture pays before it copies anything
    def hooked() -> object:
        kept: list[Any] = []
        handle = register_module_forward_hook(lambda _module, _args, output: kept.append(output))
        try:
            with torch.inference_mode():
                model(batch)
        finally:
            handle.remove()
        sync()
        return kept

    hooks_timing = time_pair(hooked, plain, repeats=repeats, warmup=1)
    plan_key = (tuple(batch.shape), batch.dtype, batch.device)
    plan = known_plan(model, plan_key)
    # ... and the capture with its plan's copies dropped (not correct either): between the hooks alone and the
    # full capture, it splits the overhead into the hooks, the capture's own bookkeeping and the copies
    uncopied_ratio = None
    if plan is not None:
        remember_plan(model, plan_key, WritePlan(plan.records, frozenset()))
        try:
            uncopied_ratio = time_pair(captured, plain, repeats=repeats, warmup=1).ratio
        finally:
            remember_plan(model, plan_key, plan)

    # exactness against an independent reference: clone every module output as it is returned
    reference: dict[str, list[torch.Tensor]] = {}
    names = {id(m): n for n, m in model.named_modules() if n}

    def keep(module: torch.nn.Module, _args: Any, output: Any) -> None:
        tensor = output if isinstance(output, torch.Tensor) else None
        if tensor is None and isinstance(output, (tuple, list)):
            tensor = next((t for t in output if isinstance(t, torch.Tensor)), None)
        if tensor is not None and id(module) in names:
            reference.setdefault(names[id(module)], []).append(tensor.detach().clone())

    handles = [m.register_forward_hook(keep) for n, m in model.named_modules() if n]
    try:
        with torch.inference_mode():
            model(batch)
    finally:
        for handle in handles:
            handle.remove()

    faults_before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    peak_known = _reset_peak_rss()
    rss_before = _status_mb("VmRSS")
    maps = fv.capture(model, x)
    peak = _status_mb("VmHWM") if peak_known else float("nan")
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_before

    layers = exact = 0
    mismatched: list[str] = []
    for key, fmap in maps.items():
        base, _, call = key.partition("#")
        expected = reference.get(base, [])
        index = int(call) - 1 if call else 0
        if index >= len(expected):
            continue
        layers += 1
        want = expected[index]
        want = want[0] if want.dim() >= 1 and want.shape[0] == 1 else want
        if want.shape == fmap.tensor.shape and torch.equal(want.cpu(), fmap.tensor):
            exact += 1
        elif len(mismatched) < 5:
            mismatched.append(key)
    reference.clear()

    cached_mb = sum(f.tensor.numel() for f in maps.values()) * 2 / 2**20  # float16, as the old cache kept it
    row: dict[str, Any] = {
        "model": name,
        "input": "×".join(map(str, x.shape)),
        "layers": len(maps),
        "compared": layers,
        "exact": exact,
        "mismatched": mismatched,
        "plain_s": timing.baseline_median,
        "capture_s": timing.candidate_median,
        "ratio": timing.ratio,
        "dashboard_s": dashboard_timing.candidate_median,
        "dashboard_ratio": dashboard_timing.ratio,
        "hooks_ratio": hooks_timing.ratio,
        "uncopied_ratio": uncopied_ratio,  # None: attention models, which copy every output at once
        "copied": len(plan.copy) if plan is not None else None,  # None: every output copied (attention models)
        "pairs": repeats,
        "captured_mb": maps.nbytes / 2**20,
        "cached_mb": cached_mb,
        "cache_cap_mb": settings().activation_cache_mb,
        "rss_before_mb": rss_before,
        "peak_rss_mb": peak,
        "minor_faults": faults,
        "dashboard_rss_before_mb": dashboard_before,
        "dashboard_peak_rss_mb": dashboard_peak,
        "kept_mb": kept_mb,
        "spilled_mb": spilled_mb,
        "capture_ram_mb": settings().capture_ram_mb,
    }
    if figures:
        largest = (0, "", 0.0)
        slowest = (0.0, "", 0)
        over_bytes = over_time = count = 0
        for key, fmap in maps.items():
            stats = fv.channel_stats(fmap)
            page_size = None if is_vector(channel_view(fmap.tensor)) else PAGE_SIZE  # bars are never paged
            views = [select_channels(stats, show="auto", page_size=page_size)]
            if views[0].is_subset:
                views.append(select_channels(stats, show="all", page_size=page_size))
            for selection in views:
                channels = list(selection.channels)
                size, took = _figure_built(fmap, channels)
                if took > FIGURE_SECONDS_TARGET:  # one slow build may be a pause of the machine: the best of three
                    took = min(took, *(_figure_built(fmap, channels)[1] for _ in range(2)))
                count += 1
                over_bytes += size > FIGURE_BYTES_TARGET
                over_time += took > FIGURE_SECONDS_TARGET
                label = f"{key} ({len(selection.channels)} ch)"
                if size > largest[0]:
                    largest = (size, label, took)
                if took > slowest[0]:
                    slowest = (took, label, size)
        row.update(figures=count, figures_over_bytes=over_bytes, figures_over_time=over_time,
                   largest_figure=largest, slowest_figure=slowest)
    return row


def _figure_built(fmap: Any, channels: list[int]) -> tuple[int, float]:
    """The bytes of a layer's grid figure as the dashboard sends it, and the seconds it took to build."""
    import plotly.io as pio

    import featviz_core as fv

    start = time.perf_counter()
    size = len(pio.to_json(fv.channel_grid(fmap, order=channels), validate=False))
    return size, time.perf_counter() - start


# ----------------------------------------------------------------------------------------- parent side


def run_one(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """One model in a fresh interpreter; a timeout or crash becomes a row that says so."""
    command = [sys.executable, __file__, "--one", name, "--warmup", str(args.warmup), "--device", args.device]
    if args.repeats:
        command += ["--repeats", str(args.repeats)]
    if not args.figures:
        command.append("--no-figures")
    if args.dashboard_only:
        command.append("--dashboard-only")
    start = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout, cwd=REPO_ROOT,
                              env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    except subprocess.TimeoutExpired:
        return {"model": name, "failure": f"timed out after {args.timeout} s"}
    for line in done.stdout.splitlines():
        if line.startswith("ZOO "):
            row = json.loads(line[4:])
            row["wall_s"] = time.perf_counter() - start
            return row
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return {"model": name, "failure": f"exit {done.returncode}: {tail[:200]}"}


def dashboard_summary(rows: list[dict[str, Any]]) -> tuple[list[Table], list[Target], list[str]]:
    """The dashboard's capture only (``--dashboard-only``): one row per model, the ratio and the targets."""
    ran = [r for r in rows if "failure" not in r]
    table = Table("Every model: the dashboard's capture (capture_for_cache) vs a plain forward pass, median of "
                  "alternating pairs",
                  ["model", "input", "plain ms", "dashboard ms", "ratio", "pairs", "in memory / spilled MB"])
    for r in rows:
        if "failure" in r:
            table.rows.append([r["model"], *[""] * 5, f"failed: {r['failure']}"])
            continue
        table.rows.append([r["model"], r["input"], f"{r['plain_s'] * 1e3:.1f}", f"{r['dashboard_s'] * 1e3:.1f}",
                           f"{r['dashboard_ratio']:.2f}", str(r["pairs"]),
                           f"{r['kept_mb']:.0f} / {r['spilled_mb']:.0f}"])
    targets, lines = _dashboard_targets(ran)
    targets.append(Target("every model runs", len(ran) == len(rows),
                          "; ".join(f"{r['model']}: {r['failure']}" for r in rows if "failure" in r) or "all"))
    return [table], targets, [f"models: {len(rows)} ({len(rows) - len(ran)} failed)", *lines]


def _dashboard_targets(ran: list[dict[str, Any]]) -> tuple[list[Target], list[str]]:
    ratios = [r["dashboard_ratio"] for r in ran if "dashboard_ratio" in r]
    if not ratios:
        return [], []
    median_ratio = statistics.median(ratios)
    worst = max((r for r in ran if "dashboard_ratio" in r), key=lambda r: r["dashboard_ratio"])
    over = sorted((r["dashboard_ratio"], r["model"]) for r in ran
                  if r.get("dashboard_ratio", 0) > DASHBOARD_WORST_TARGET)
    lines = [f"dashboard capture ratio: median {median_ratio:.2f}, worst {worst['dashboard_ratio']:.2f} "
             f"({worst['model']}); above {DASHBOARD_WORST_TARGET}: " + (", ".join(f"{m} {x:.2f}" for x, m in over)
                                                                      or "none")]
    targets = [
        Target(f"median dashboard capture / plain <= {DASHBOARD_MEDIAN_TARGET}",
               median_ratio <= DASHBOARD_MEDIAN_TARGET, f"{median_ratio:.2f}"),
        Target(f"every model's dashboard capture / plain <= {DASHBOARD_WORST_TARGET}",
               worst["dashboard_ratio"] <= DASHBOARD_WORST_TARGET,
               f"worst {worst['dashboard_ratio']:.2f} ({worst['model']})"),
    ]
    return targets, lines


def summarise(rows: list[dict[str, Any]], figures: bool) -> tuple[list[Table], list[Target], list[str]]:
    ran = [r for r in rows if "failure" not in r]
    table = Table(
        "Every model: capture vs plain forward pass (median of alternating pairs), exactness, memory of one "
        "capture, largest and slowest grid figure",
        ["model", "input", "layers", "exact", "plain ms", "capture ms", "ratio", "dashboard ratio", "hooks only",
         "nothing copied", "copied",
         "peak RSS MB", "minor faults",
         "float16 MB", "dashboard peak RSS MB", "in memory / spilled MB", "largest figure", "slowest figure"],
    )
    for r in rows:
        if "failure" in r:
            table.rows.append([r["model"], *[""] * 16, f"failed: {r['failure']}"])
            continue
        largest = slowest = "not measured"
        if figures:
            size, where, took = r["largest_figure"]
            largest = f"{size / 2**20:.2f} MB, {where}"
            took_s, where_s, _ = r["slowest_figure"]
            slowest = f"{took_s:.2f} s, {where_s}"
        table.rows.append([
            r["model"], r["input"], str(r["layers"]), f"{r['exact']}/{r['compared']}", f"{r['plain_s'] * 1e3:.1f}",
            f"{r['capture_s'] * 1e3:.1f}", f"{r['ratio']:.2f}",
            f"{r['dashboard_ratio']:.2f}" if "dashboard_ratio" in r else "not measured", _hooks_ratio(r),
            _uncopied_ratio(r), _copied(r),
            f"{r['peak_rss_mb']:.0f}", str(r["minor_faults"]),
            f"{r['cached_mb']:.0f}", f"{r['dashboard_peak_rss_mb']:.0f}",
            f"{r['kept_mb']:.0f} / {r['spilled_mb']:.0f}", largest, slowest,
        ])
    ratios = [r["ratio"] for r in ran]
    median_ratio = statistics.median(ratios) if ratios else float("nan")
    worst = max(ran, key=lambda r: r["ratio"]) if ran else None
    exact = all(r["exact"] == r["compared"] for r in ran)
    over_cache = [r["model"] for r in ran if r["cached_mb"] > r["cache_cap_mb"]]
    spilled = [r["model"] for r in ran if r["spilled_mb"] > 0]
    over_ram = [r["model"] for r in ran if r["kept_mb"] > r["capture_ram_mb"] + r["cached_mb"] * 0.02]
    saved = [(r["peak_rss_mb"] - r["dashboard_peak_rss_mb"], r["model"]) for r in ran if r["spilled_mb"] > 0]
    lines = [
        f"models: {len(rows)} ({len(rows) - len(ran)} failed)" + ("" if figures else "; figures not measured"),
        f"capture ratio: median {median_ratio:.2f}, worst {worst['ratio']:.2f} ({worst['model']})" if worst else "",
        f"above {MEDIAN_TARGET}: {sum(x > MEDIAN_TARGET for x in ratios)}; above {WORST_TARGET}: "
        f"{sum(x > WORST_TARGET for x in ratios)}",
        _over_budget_profile(ran),
        f"exact: {sum(r['exact'] for r in ran)} of {sum(r['compared'] for r in ran)} layers bit-identical",
        f"captures larger than the activation cache (float16): {len(over_cache)} {over_cache}",
        f"dashboard captures that spilled past FEATVIZ_CAPTURE_RAM_MB: {len(spilled)} {spilled}; holding more than "
        f"it in memory (beyond their statistics): {len(over_ram)} {over_ram}",
        "peak RSS saved by spilling, largest: " + ", ".join(f"{m} {mb:.0f} MB" for mb, m in sorted(saved)[::-1][:5]),
    ]
    targets = [
        Target(f"median capture / plain <= {MEDIAN_TARGET}", median_ratio <= MEDIAN_TARGET, f"{median_ratio:.2f}"),
        Target(f"every model's capture / plain <= {WORST_TARGET}", bool(ran) and max(ratios) <= WORST_TARGET,
               f"worst {worst['ratio']:.2f} ({worst['model']})" if worst else "none ran"),
        Target("every captured layer bit-identical to the reference", exact,
               "; ".join(f"{r['model']}: {r['mismatched']}" for r in ran if r["mismatched"]) or "all"),
        Target("no dashboard capture holds more than FEATVIZ_CAPTURE_RAM_MB in memory", not over_ram,
               ", ".join(over_ram) or f"{len(spilled)} spilled the rest to disk"),
        Target("every model runs", len(ran) == len(rows),
               "; ".join(f"{r['model']}: {r['failure']}" for r in rows if "failure" in r) or "all"),
    ]
    dashboard_targets, dashboard_lines = _dashboard_targets(ran)
    targets += dashboard_targets
    lines += dashboard_lines
    if figures:
        over_bytes = sum(r["figures_over_bytes"] for r in ran)
        over_time = sum(r["figures_over_time"] for r in ran)
        total = sum(r["figures"] for r in ran)
        lines.append(f"figures: {total}; over 2 MB: {over_bytes}; over 0.3 s: {over_time}")
        targets += [
            Target("every figure <= 2 MB", over_bytes == 0, f"{over_bytes} of {total} over"),
            Target("every figure built in < 0.3 s", over_time == 0, f"{over_time} of {total} over"),
        ]
    return [table, *_overhead_table(ran)], targets, [line for line in lines if line]


def _hooks_ratio(row: dict[str, Any]) -> str:
    return f"{row['hooks_ratio']:.2f}" if "hooks_ratio" in row else "not measured"


def _uncopied_ratio(row: dict[str, Any]) -> str:
    if "hooks_ratio" not in row:
        return "not measured"
    return "copies all" if row.get("uncopied_ratio") is None else f"{row['uncopied_ratio']:.2f}"


def _overhead_table(ran: list[dict[str, Any]]) -> list[Table]:
    """Where the time above a plain pass goes, for every model above the worst-case target: the three
    timings (hooks alone, capture with nothing copied, full capture) split it into hooks, the capture's
    own bookkeeping and the copies before in-place writes."""
    over = sorted((r for r in ran if r["ratio"] > WORST_TARGET and r.get("uncopied_ratio") is not None),
                  key=lambda r: -r["ratio"])
    if not over:
        return []
    table = Table(
        f"Where the overhead goes, models above {WORST_TARGET} (fractions of a plain pass, from three sets of "
        "alternating pairs, so the parts need not add up exactly)",
        ["model", "ratio", "hooks", "bookkeeping", "copies", "copied outputs", "captured MB", "plain ms"],
    )
    for r in over:
        hooks, uncopied = r["hooks_ratio"], r["uncopied_ratio"]
        table.rows.append([
            r["model"], f"{r['ratio']:.2f}", f"{hooks - 1:+.2f}", f"{uncopied - hooks:+.2f}",
            f"{r['ratio'] - uncopied:+.2f}", _copied(r), f"{r['captured_mb']:.0f}", f"{r['plain_s'] * 1e3:.1f}",
        ])
    return [table]


def _copied(row: dict[str, Any]) -> str:
    if "hooks_ratio" not in row:
        return "not measured"
    return "all" if row["copied"] is None else f"{row['copied']}/{row['layers']}"


def _over_budget_profile(ran: list[dict[str, Any]]) -> str:
    """Why the models above the worst-case target miss it: which part of the overhead is largest in each."""
    over = [r for r in ran if r["ratio"] > WORST_TARGET and "hooks_ratio" in r]
    if not over:
        return ""
    hooks_heavy = [r["model"] for r in over if r["hooks_ratio"] - 1 >= (r["ratio"] - 1) / 2]
    line = (f"above {WORST_TARGET}, the hooks alone (references kept, nothing copied) cost half the overhead or "
            f"more in {len(hooks_heavy)} of {len(over)}: {hooks_heavy}")
    split = [r for r in over if r.get("uncopied_ratio") is not None]
    if split:
        largest: dict[str, list[str]] = {"hooks": [], "bookkeeping": [], "copies": []}
        for r in split:
            parts = {"hooks": r["hooks_ratio"] - 1, "bookkeeping": r["uncopied_ratio"] - r["hooks_ratio"],
                     "copies": r["ratio"] - r["uncopied_ratio"]}
            largest[max(parts, key=parts.get)].append(r["model"])
        line += "; the largest part of it: " + ", ".join(f"{part} in {len(models)}" for part, models in largest.items())
    return line


def stored_rows(name: str, models: list[str]) -> list[dict]:
    """The rows a stored sweep already holds for ``models`` (``--resume``): a sweep of hours can be finished
    in several sittings, each writing what it has done."""
    path = REPO_ROOT / "bench" / "results" / f"{name}.json"
    if not path.exists():
        return []
    wanted = set(models)
    return [row for row in json.loads(path.read_text())["data"].get("rows", []) if row["model"] in wanted]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", help="torchvision names (default: the whole zoo)")
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {', '.join(QUICK_MODELS)}, 5 pairs")
    parser.add_argument("--repeats", type=int, help="alternating pairs per model (default: as many as fit 20 s)")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=900, help="seconds per model (default 900)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--no-figures", dest="figures", action="store_false", help="skip the figure sweep")
    parser.add_argument("--dashboard-only", action="store_true",
                        help="time the dashboard's capture against a plain pass and nothing else")
    parser.add_argument("--dry", action="store_true", help="print the table, write no result file")
    parser.add_argument("--resume", action="store_true",
                        help="keep the models the stored result already holds and sweep only the rest")
    parser.add_argument("--redo", nargs="+", metavar="MODEL", default=[],
                        help="sweep these models again in place of their stored rows (implies --resume)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print("ZOO " + json.dumps(measure_model(args.one, args.repeats, args.warmup, args.device, args.figures,
                                                args.dashboard_only)))
        return 0

    from featviz_core.models import list_zoo_models

    started = time.perf_counter()
    if args.quick:
        args.repeats = args.repeats or 5
    models = args.models or (list(QUICK_MODELS) if args.quick else list_zoo_models())
    # a sweep without figures is a timing sweep: it goes beside the full one rather than over it
    suffix = ("" if args.device == "cpu" else f"_{args.device.split(':')[0]}") + (
        "_dashboard" if args.dashboard_only else "" if args.figures else "_timing")
    rows = stored_rows(f"zoo{suffix}", models) if args.resume or args.redo else []
    stored_order = {row["model"]: index for index, row in enumerate(rows)}  # a redone row goes back in its place
    rows = [row for row in rows if row["model"] not in set(args.redo)]
    models = [row["model"] for row in rows] + [name for name in models if name not in {r["model"] for r in rows}]

    def save(finished: bool) -> tuple[list, list, list]:
        """Write what has been swept so far: a sweep of hours that is stopped keeps every model it finished."""
        rows.sort(key=lambda row: stored_order.get(row["model"], len(stored_order)))
        tables, targets, lines = dashboard_summary(rows) if args.dashboard_only else summarise(rows, args.figures)
        if not finished:
            left = models[len(rows):]
            lines = [f"Partial sweep: {len(rows)} of {len(models)} models; not reached: {', '.join(left)}.", *lines]
        if not args.dry:
            kind = ", the dashboard's capture" if args.dashboard_only else "" if args.figures else ", timing only"
            title = f"The whole zoo ({args.device}{kind})"
            write_results(f"zoo{suffix}", title, tables, targets,
                          quick=args.quick or bool(args.models) or not finished, notes=lines, data={"rows": rows},
                          started=started)
        return tables, targets, lines

    for index, name in enumerate(models[len(rows):], len(rows) + 1):
        log(f"zoo {index}/{len(models)}: {name}…")
        rows.append(run_one(name, args))
        row = rows[-1]
        log("  " + (row.get("failure") or (f"dashboard ratio {row['dashboard_ratio']:.2f}" if args.dashboard_only
                                           else f"ratio {row['ratio']:.2f}, exact {row['exact']}/{row['compared']}")))
        if index < len(models):
            save(finished=False)
    tables, targets, lines = save(finished=True)
    for table in tables:
        print_table(table)
    for line in lines:
        print(line)
    print_targets(targets)
    return 0 if not args.dry or all("failure" not in row for row in rows) else 1

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
