"""Grid building: ``featviz_core.channel_grid`` + JSON vs one Plotly heatmap subplot per channel + JSON.

Why: every layer or display change in the dashboard rebuilds the grid figure and Streamlit serializes it
with ``plotly.io.to_json(fig, validate=False)``; that JSON is also what travels to the browser. The
obvious way to draw every channel (``make_subplots`` with a ``go.Heatmap`` per channel) is the baseline.
Targets: candidate < 0.15 s in every case; >= 20x faster than per-channel at 512 channels; candidate JSON
<= 2 MB except for (96, 224, 224).

Uniform noise is the worst case for the PNG inside the candidate figure, so the size is also reported for
real layer outputs (untrained resnet18 / resnet50 on the 'Cat (Chelsea)' sample), as extra rows.

    python bench/bench_grid.py            # python bench/bench_grid.py --quick   (smoke run)
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable
from typing import Union

import plotly.graph_objects as go
import plotly.io as pio
import torch
from plotly.subplots import make_subplots

import featviz_core as fv

from _common import (
    REPO_ROOT,
    Table,
    Target,
    log,
    met,
    print_table,
    print_targets,
    time_pair,
    write_results,
)

CASES = ((64, 112, 112), (256, 56, 56), (512, 28, 28), (2048, 7, 7), (96, 224, 224))
QUICK_CASES = ((64, 112, 112), (512, 28, 28))
REAL_LAYERS = {  # (model, layer): shapes that match or resemble the synthetic cases
    "resnet18": ("conv1", "layer1.0.conv1", "layer2.0.conv1", "layer3.0.conv1", "layer4.0.conv1"),
    "resnet50": ("layer1.0.conv3", "layer2.0.conv3", "layer4.0.conv3"),
}
QUICK_REAL_LAYERS = {"resnet18": ("conv1", "layer4.0.conv1")}
SAMPLE = "Cat (Chelsea)"
MAX_CANDIDATE_S = 0.15
MIN_SPEEDUP_AT_512 = 20.0
MAX_MB = 2.0
SIZE_EXEMPT = (96, 224, 224)
SLOW_BASELINE_CHANNELS = 1024  # from here on the per-channel figure takes seconds: fewer samples of it


def candidate_json(fmap: Union[torch.Tensor, fv.FeatureMap]) -> str:
    """What the dashboard does per change: build the grid, serialize it as Streamlit does."""
    return pio.to_json(fv.channel_grid(fmap), validate=False)


def per_channel_json(maps: torch.Tensor) -> str:
    """The baseline: a near-square make_subplots grid, one heatmap per channel, added in one call.

    Deliberately minimal (no axis hiding, one add_traces call rather than add_trace per channel), so the
    baseline is as fast as this approach gets and the speed-up is not overstated.
    """
    channels = maps.shape[0]
    cols = math.ceil(math.sqrt(channels))
    rows = math.ceil(channels / cols)
    figure = make_subplots(rows=rows, cols=cols)
    values = maps.float().numpy()
    figure.add_traces(
        [go.Heatmap(z=values[i], showscale=False) for i in range(channels)],
        rows=[i // cols + 1 for i in range(channels)],
        cols=[i % cols + 1 for i in range(channels)],
    )
    return pio.to_json(figure, validate=False)


def measure(
    label: str, maps: torch.Tensor, candidate_input: Union[torch.Tensor, fv.FeatureMap], repeats: int, warmup: int,
    slow_repeats: int,
) -> dict:
    channels = maps.shape[0]
    slow = channels >= SLOW_BASELINE_CHANNELS
    baseline_repeats = min(slow_repeats, repeats) if slow else repeats
    log(f"grid: {label} {tuple(maps.shape)} ({repeats} candidate / {baseline_repeats} baseline runs)…")
    cand: Callable[[], str] = lambda: candidate_json(candidate_input)  # noqa: E731
    base: Callable[[], str] = lambda: per_channel_json(maps)  # noqa: E731
    timing = time_pair(cand, base, repeats=repeats, warmup=warmup, baseline_repeats=baseline_repeats,
                       baseline_warmup=0 if slow else warmup)
    return {
        "label": label,
        "shape": list(maps.shape),
        "candidate_mb": len(cand()) / 1e6,
        "baseline_mb": len(base()) / 1e6 if not slow else None,
        "baseline_runs": len(timing.baseline),
        "candidate_runs": len(timing.candidate),
        "speedup": timing.speedup,
        **timing.as_dict(),
    }


def real_layers(layers_by_model: dict[str, tuple[str, ...]]) -> list[tuple[str, fv.FeatureMap]]:
    image = fv.load_sample(SAMPLE)
    found = []
    for model_name, layers in layers_by_model.items():
        model = fv.load_model(model_name, weights=None)
        captured = fv.capture(model, image)
        found += [(f"{model_name} {layer}", captured[layer]) for layer in layers]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=None, help="timed runs per case (default 7; 3 with --quick)")
    parser.add_argument("--slow-repeats", type=int, default=None,
                        help=f"baseline runs when it has >= {SLOW_BASELINE_CHANNELS} channels "
                        "(default 3; 1 with --quick)")
    parser.add_argument("--no-real", action="store_true", help="skip the real-activation rows")
    parser.add_argument("--quick", action="store_true", help="smoke run: two cases, two real layers, 3 repeats")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    repeats = args.repeats or (3 if args.quick else 7)
    slow_repeats = args.slow_repeats or (1 if args.quick else 3)
    warmup = 1

    torch.manual_seed(0)
    synthetic = []
    for shape in QUICK_CASES if args.quick else CASES:
        maps = torch.rand(*shape)
        synthetic.append(measure("uniform noise", maps, maps, repeats, warmup, slow_repeats))
    real = []
    if not args.no_real:
        for label, fmap in real_layers(QUICK_REAL_LAYERS if args.quick else REAL_LAYERS):
            real.append(measure(label, fmap.tensor, fmap, repeats, warmup, slow_repeats))

    columns = ["input", "C×H×W", "candidate s", "per-channel s", "speed-up", "candidate MB", "per-channel MB",
               "runs (cand/base)", "target", "result"]
    tables, targets = [], []
    for title, rows in (
        ("Grid building, uniform noise torch.rand(C,H,W): channel_grid + to_json vs per-channel subplots + to_json",
         synthetic),
        ("Grid building, real layer outputs (untrained weights, 'Cat (Chelsea)' sample): extra rows", real),
    ):
        if not rows:
            continue
        table = Table(title + f" (medians; {warmup} warm-up)", columns)
        for r in rows:
            shape = tuple(r["shape"])
            checks = [r["candidate_median_s"] < MAX_CANDIDATE_S]
            target = [f"< {MAX_CANDIDATE_S} s"]
            if shape[0] == 512:
                checks.append(r["speedup"] >= MIN_SPEEDUP_AT_512)
                target.append(f"≥ {MIN_SPEEDUP_AT_512:.0f}×")
            if shape != SIZE_EXEMPT:
                checks.append(r["candidate_mb"] <= MAX_MB)
                target.append(f"≤ {MAX_MB:.0f} MB")
            ok = all(checks)
            base_runs = f"{r['candidate_runs']}/{r['baseline_runs']}"
            if r["baseline_runs"] < r["candidate_runs"]:
                base_runs += " (slow baseline: fewer runs)"
            table.rows.append([
                r["label"], "×".join(map(str, shape)), f"{r['candidate_median_s']:.3f}",
                f"{r['baseline_median_s']:.3f}", f"{r['speedup']:.1f}×", f"{r['candidate_mb']:.2f}",
                "—" if r["baseline_mb"] is None else f"{r['baseline_mb']:.2f}", base_runs, ", ".join(target), met(ok),
            ])
            name = f"{r['label']} {'×'.join(map(str, shape))}"
            targets.append(Target(f"{name}: candidate < {MAX_CANDIDATE_S} s", checks[0],
                                  f"{r['candidate_median_s']:.3f} s"))
            if shape[0] == 512:
                targets.append(Target(f"{name}: ≥ {MIN_SPEEDUP_AT_512:.0f}× faster than per-channel",
                                      r["speedup"] >= MIN_SPEEDUP_AT_512, f"{r['speedup']:.1f}×"))
            if shape != SIZE_EXEMPT:
                targets.append(Target(f"{name}: candidate JSON ≤ {MAX_MB:.0f} MB", r["candidate_mb"] <= MAX_MB,
                                      f"{r['candidate_mb']:.2f} MB"))
        print_table(table)
        tables.append(table)
    print_targets(targets)
    notes = [
        "Candidate: plotly.io.to_json(fv.channel_grid(x), validate=False) (per-channel normalization, viridis; "
        "the real rows pass the captured FeatureMap, as the dashboard does). Baseline: make_subplots(rows, cols) "
        "near-square, one go.Heatmap per channel added with one add_traces call, then to_json.",
        f"Baselines with ≥ {SLOW_BASELINE_CHANNELS} channels take seconds each: they get no warm-up and "
        f"{slow_repeats} timed run(s) while the candidate gets {repeats}; their JSON size is not measured again.",
        "MB = 10^6 bytes of JSON text. Real rows use untrained (seeded random) weights: offline, no pretrained "
        "weights are available; trained weights give smoother maps, which compress better.",
        "Speed-up = per-channel median / candidate median, both timed alternately in this process.",
    ]
    path = write_results("grid", "Grid building", tables, targets, quick=args.quick, notes=notes,
                         data={"repeats": repeats, "slow_repeats": slow_repeats, "synthetic": synthetic, "real": real},
                         started=started)
    log(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
