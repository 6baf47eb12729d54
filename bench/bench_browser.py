"""In the browser: time from choosing a layer (or a normalization) to the grid being drawn, in Chromium.

Why: the core benchmarks time Python; a person waits for the whole path: the rerun, the figure's JSON
over the websocket, and Plotly drawing it. This starts the real dashboard (``featviz_ui.testing.dashboard``)
and times, in headless Debian Chromium, a layer change to a 64-, a 512- and a 2048-channel layer and a
normalization change on each. Each measurement alternates between two choices, so every choice is a real
change. Target: median < 1 s for each.

    python bench/bench_browser.py                # 5 timed changes per measurement
    python bench/bench_browser.py --quick        # 2 timed changes per measurement: a smoke run
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from featviz_core.normalize import NORMALIZATIONS
from featviz_ui.testing import (
    GRID,
    choose,
    dashboard,
    launch,
    use_untrained_zoo_model,
    wait_for_grid,
    wait_for_plot,
)

from _common import (
    REPO_ROOT,
    Table,
    Target,
    freeze_dashboard_sources,
    log,
    median,
    met,
    print_table,
    print_targets,
    report_browser_failure,
    wait_script_idle,
    write_results,
)

TARGET_S = 1.0
VIEWPORT = {"width": 1400, "height": 1100}
TIMEOUT_MS = 120_000


@dataclass(frozen=True)
class LayerCase:
    """A layer to time (``layer``) and the one to alternate with (``other``), both in ``model``."""

    label: str
    model: str
    layer: str
    layer_title: str
    other: str
    other_title: str


R18_64 = ("layer1.0.conv1", "layer1.0.conv1 · Conv2d · all 64 channels of 56×56")
R18_512 = ("layer4.0.conv1", "layer4.0.conv1 · Conv2d · all 512 channels of 7×7")
R50_2048 = ("layer4.0.conv3", "layer4.0.conv3 · Conv2d · all 2048 channels of 7×7")
R50_2048_OTHER = ("layer4.1.conv3", "layer4.1.conv3 · Conv2d · all 2048 channels of 7×7")
CASES = (
    LayerCase("64 channels (56×56)", "resnet18", *R18_64, *R18_512),
    LayerCase("512 channels (7×7)", "resnet18", *R18_512, *R18_64),
    LayerCase("2048 channels (7×7)", "resnet50", *R50_2048, *R50_2048_OTHER),
)
NORMALIZATION_PAIR = ("symmetric", "per_channel")  # alternated; both directions are timed


def timed(page: Any, action: Callable[[], float], wait: Callable[[], float]) -> float:
    """Seconds from the click (``action`` returns its perf_counter) until the new grid was first drawn
    (``wait`` returns that perf_counter, then waits, untimed, for the page to settle); then wait for Streamlit
    to finish the run so the next measurement starts from a quiet page."""
    start = action()
    drawn = wait()
    wait_script_idle(page, TIMEOUT_MS)
    return drawn - start


def layer_change(page: Any, layer: str, title: str) -> float:
    return timed(page, lambda: choose(page, "Layer", layer), lambda: wait_for_grid(page, title, TIMEOUT_MS))


def normalization_change(page: Any, mode: str, title: str) -> float:
    def wait() -> float:  # the grid with this title, its mosaic, and the new normalization, drawn
        return wait_for_plot(page, GRID, title, mosaic=True, meta={"normalization": mode}, timeout=TIMEOUT_MS)

    return timed(page, lambda: choose(page, "Normalization", NORMALIZATIONS[mode]), wait)


def run(repeats: int, warmup: int) -> dict:
    freeze_dashboard_sources()
    home = Path(tempfile.mkdtemp(prefix="featviz-bench-browser-"))
    layer_s: dict[str, list[float]] = {}
    normalization_s: dict[str, list[float]] = {}
    with dashboard(home) as url, sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_context(viewport=VIEWPORT).new_page()
        try:
            page.goto(url)
            wait_for_grid(page, "conv1 · Conv2d · all 32 channels", TIMEOUT_MS)
            wait_script_idle(page, TIMEOUT_MS)
            model = "digits_cnn"
            normalization = "per_channel"
            for case in CASES:
                if case.model != model:
                    log(f"browser: loading {case.model} (untrained)…")
                    use_untrained_zoo_model(page, case.model)
                    wait_for_grid(page, f"{case.model} · UNTRAINED", TIMEOUT_MS)  # not the last model's grid
                    wait_script_idle(page, TIMEOUT_MS)
                    model = case.model
                log(f"browser: layer change to {case.layer} ({case.label}), {warmup} warm-up + {repeats} timed…")
                samples = []
                for i in range(warmup + repeats):
                    layer_change(page, case.other, case.other_title)  # away (untimed), then back (timed)
                    seconds = layer_change(page, case.layer, case.layer_title)
                    if i >= warmup:
                        samples.append(seconds)
                layer_s[case.label] = samples
                log(f"browser: normalization changes on {case.layer} ({case.label})…")
                samples = []
                for i in range(warmup + repeats):
                    normalization = NORMALIZATION_PAIR[(NORMALIZATION_PAIR.index(normalization) + 1) % 2] \
                        if normalization in NORMALIZATION_PAIR else NORMALIZATION_PAIR[0]
                    seconds = normalization_change(page, normalization, case.layer_title)
                    if i >= warmup:
                        samples.append(seconds)
                normalization_s[case.label] = samples
        except Exception:
            report_browser_failure(page, home, "browser benchmark")
            raise
        finally:
            browser.close()
    shutil.rmtree(home, ignore_errors=True)  # kept only when the run failed: it holds streamlit.log
    return {"layer_s": layer_s, "normalization_s": normalization_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed changes per measurement (default 5; 2 with --quick)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed changes first (default 1)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 timed changes per measurement")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    repeats = args.repeats or (2 if args.quick else 5)

    result = run(repeats, args.warmup)
    table = Table(
        f"Browser (headless Chromium): click on the option → grid drawn, "
        f"median of {repeats} after {args.warmup} warm-up",
        ["change", "layer", "median s", "min s", "max s", "target", "result"],
    )
    targets = []
    for kind, samples_by_case in (("layer", result["layer_s"]), ("normalization", result["normalization_s"])):
        for case in CASES:
            samples = samples_by_case[case.label]
            value = median(samples)
            ok = value < TARGET_S
            what = f"{kind} change → {case.label}" if kind == "layer" else f"normalization change on {case.label}"
            table.rows.append([what, f"{case.model} {case.layer}", f"{value:.2f}", f"{min(samples):.2f}",
                               f"{max(samples):.2f}", f"< {TARGET_S:.0f} s", met(ok)])
            targets.append(Target(f"{what}: median < {TARGET_S:.0f} s", ok, f"{value:.2f} s"))
    print_table(table)
    print_targets(targets)
    notes = [
        "Real dashboard (`streamlit run app.py` via featviz_ui.testing.dashboard, empty TORCH_HOME, untrained zoo "
        "weights) in headless Debian Chromium via Playwright, viewport 1400×1100.",
        "Start: featviz_ui.testing.choose's perf_counter at the click on the option. End: the first animation "
        "frame in which the grid with the expected title and its mosaic PNG is drawn (normalization: with the "
        "new normalization in its meta, in the same wait); the page then settles, untimed. Layer "
        "changes alternate with a second layer (64 ↔ 512 on resnet18; layer4.0.conv3 ↔ layer4.1.conv3, both "
        "2048, on resnet50); normalization alternates symmetric ↔ per channel and both directions are timed.",
        "No baseline: the target is absolute. Chromium renders with SwiftShader (no GPU) on the same 2 cores "
        "as the server and this script.",
    ]
    path = write_results("browser", "In the browser", [table], targets, quick=args.quick, notes=notes,
                         data={"repeats": repeats, "warmup": args.warmup, **result}, started=started)
    log(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
