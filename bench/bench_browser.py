"""In the browser: time from a click to the grid being drawn, in Chromium, for every kind of change.

Why: the core benchmarks time Python; a person waits for the whole path: the rerun, the figure's JSON
over the websocket, and Plotly drawing it. This starts the real dashboard (``tests.support.browser.dashboard``)
and times, in headless Debian Chromium: the first grid on a fresh page load; a layer change to a 64-, a
512-, a 2048-channel layer and a vector; and on each of them a display change (normalization, colour map,
channel order). Each measurement alternates between two choices, so every choice is a real change.
Also what a person waits for when the picture itself changes: an image change on resnet50 (a new capture
each time: every image is one it has not seen) and a model change (a model not loaded before, on the cat).
Targets (issues 12 and 29): first grid < 4 s, layer change < 0.5 s, display change < 0.3 s, image change on
resnet50 < 1 s (medians); model changes are reported. A display change is drawn by the browser itself
(featviz_ui.live_grid) and then by the server's own figure: both times are reported, the second being the
whole round trip every display change took before.

    python bench/bench_browser.py                # 5 timed changes per measurement
    python bench/bench_browser.py --quick        # 2 timed changes per measurement: a smoke run
    python bench/bench_browser.py --waits --against 274213f   # first grid, image, model and layer changes
                                                 # only, an earlier commit's dashboard first, then this one's
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from featviz_core.draw import NORMALIZATIONS

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

sys.path.insert(0, str(REPO_ROOT))  # `python bench/bench_browser.py` puts bench/, not the root, on sys.path
from tests.support.browser import (  # noqa: E402 - the browser driver lives with the tests (playwright is dev-only)
    GRID,
    choose,
    dashboard,
    launch,
    settle,
    use_untrained_zoo_model,
    wait_for_grid,
)

LAYER_TARGET_S = 0.5
DISPLAY_TARGET_S = 0.3
FIRST_GRID_TARGET_S = 4.0
IMAGE_TARGET_S = 1.0
IMAGE_MODEL = "resnet50"
IMAGES = ("Coffee cup", "Astronaut", "Rocket launch", "Camera operator (grayscale)", "Brick wall (grayscale)",
          "Checkerboard", "Circles", "Stripes 45°", "Stripes 135°", "Handwritten 3")
"""Each a new capture for resnet50: the image change a person waits for when they try another picture."""
MODELS = ("resnet34", "resnet50", "mobilenet_v3_large", "efficientnet_b0", "densenet121", "regnet_y_800mf",
          "convnext_tiny", "shufflenet_v2_x1_0", "googlenet", "mnasnet1_0")
"""Each loaded for the first time, on the default sample (untrained weights: offline, the pretrained ones are
not here)."""
VIEWPORT = {"width": 1400, "height": 1100}
TIMEOUT_MS = 120_000


@dataclass(frozen=True)
class LayerCase:
    """A layer to time (``layer``) and the one to alternate with (``other``), both in ``model``."""

    label: str
    model: str
    layer: str
    other: str


CASES = (
    LayerCase("64 channels (56×56)", "resnet18", "layer1.0.conv1", "layer4.0.conv1"),
    LayerCase("512 channels (7×7)", "resnet18", "layer4.0.conv1", "layer1.0.conv1"),
    LayerCase("1000 values (vector)", "resnet18", "fc", "layer4.0.conv1"),
    LayerCase("2048 channels (7×7)", "resnet50", "layer4.0.conv3", "layer4.1.conv3"),
)
DISPLAY_CHANGES = (  # (what, select box label, the two options alternated)
    ("normalization", "Normalization", (NORMALIZATIONS["symmetric"], NORMALIZATIONS["per_channel"])),
    ("colour map", "Colour map", ("magma", "viridis")),
    ("order", "Order channels by", ("Max", "Channel number")),
)

_FINGERPRINT_JS = """(selector) => {
    const plots = document.querySelectorAll(selector);
    if (plots.length !== 1) return null;
    const plot = plots[0];
    if (!plot.querySelector('.main-svg')) return null;
    const texts = (s) => Array.from(plot.querySelectorAll(s)).slice(0, 4).map((e) => e.textContent).join(',');
    const meta = plot.layout && plot.layout.meta ? JSON.stringify(plot.layout.meta.featviz) : '';
    const title = plot.querySelector('.gtitle');
    const image = plot.querySelector('image'), href = image ? image.getAttribute('href') || '' : '';
    let picture = href.length;  // the picture drawn: its length and a sum over a sample of its characters
    for (let i = 0; i < href.length; i += 97) picture = (picture * 31 + href.charCodeAt(i)) % 1000000007;
    const bars = Array.from(plot.querySelectorAll('.point path')).slice(0, 8).map((e) => e.style.fill).join(',');
    return [title ? title.textContent : '', meta, picture, bars, texts('.textpoint'), texts('.xtick')].join('|');
}"""
"""What the grid shows, in one string: title, meta, the picture, the first bars' colours, the first channel
numbers (tiles) or categories (bars)."""


def fingerprint(page: Any) -> str:
    return page.evaluate(_FINGERPRINT_JS, GRID)


_STOPWATCH_JS = f"""() => {{
    if (window.__featvizStopwatch) return;
    const watch = window.__featvizStopwatch = {{ armed: false }};
    // the person's click on the option, in the page's own clock: where a change starts
    document.addEventListener('pointerdown', (event) => {{
        if (!watch.armed || !event.target.closest('[role="option"]')) return;
        watch.armed = false;
        watch.start = performance.now();
        const poll = () => {{  // every animation frame: what the grid shows now
            const f = ({_FINGERPRINT_JS})(watch.selector), now = performance.now();
            const changed = f !== null && f !== watch.before && f.includes(watch.text);
            if (changed && watch.drawn === undefined) watch.drawn = now;
            if (changed && !f.includes('"preview":')) watch.server = now;  // the server's own figure
            else requestAnimationFrame(poll);
        }};
        requestAnimationFrame(poll);
    }}, true);
    document.addEventListener('featviz-redrawn', () => {{
        if (watch.start !== undefined && watch.whole === undefined) watch.whole = performance.now();
    }});
}}"""
"""A stopwatch in the page: from the pointer's press on an option to the first frame in which the grid shows
the change, to the component's word that it has redrawn all of it (``featviz-redrawn``), and to the first
frame with the server's own figure. In the page's clock, so Playwright's own work around the click (finding,
scrolling to and checking the option, tens to hundreds of ms on a busy machine) is not counted."""


def timed_choice(page: Any, label: str, option: str, contains: str = "", exact: bool = False
                 ) -> tuple[float, float, float]:
    """Seconds from the click on ``option`` in select box ``label`` until the changed grid is drawn, until
    the grid's component has redrawn all of it (colour bar, hover; for a change it leaves to the server, when
    that figure is there), and until the server's own figure of it is drawn."""
    wait_script_idle(page, TIMEOUT_MS)
    page.evaluate(_STOPWATCH_JS)
    page.evaluate("([selector, before, text]) => Object.assign(window.__featvizStopwatch, {armed: true,"
                  " selector, before, text, start: undefined, drawn: undefined, whole: undefined, server: undefined})",
                  [GRID, fingerprint(page), contains])
    choose(page, label, option, exact=exact)
    page.wait_for_function("() => window.__featvizStopwatch.server !== undefined", timeout=TIMEOUT_MS)
    wait_script_idle(page, TIMEOUT_MS)
    settle(page, _FINGERPRINT_JS, GRID, until=lambda f: f is not None and contains in f)
    watch = page.evaluate("() => window.__featvizStopwatch")
    whole = watch.get("whole") if watch.get("whole") is not None else watch["server"]
    return tuple((t - watch["start"]) / 1000 for t in (watch["drawn"], min(whole, watch["server"]), watch["server"]))


def first_grid(browser: Any, url: str) -> float:
    """Seconds from opening the dashboard in a fresh browser context (no session, no cache in the
    browser) until its first grid is drawn."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        start = time.perf_counter()
        page.goto(url)
        return wait_for_grid(page, "conv1 · Conv2d", TIMEOUT_MS) - start
    finally:
        context.close()


def new_pictures(page: Any, repeats: int, warmup: int) -> tuple[list[float], list[float]]:
    """Model changes (each to a model this server has not loaded), then image changes on resnet50 (each an
    image it has not captured): seconds from the pointer's press to the new grid drawn."""
    use_untrained_zoo_model(page, "resnet18")  # untimed: the weights choice is kept from here on
    wait_script_idle(page, TIMEOUT_MS)
    models = MODELS[:warmup + repeats]
    model_s = _series(page, "Model", models, lambda name: f"{name} · UNTRAINED", warmup)
    if models[-1] != IMAGE_MODEL:
        use_untrained_zoo_model(page, IMAGE_MODEL)
        wait_script_idle(page, TIMEOUT_MS)
    image_s = _series(page, "Sample image", IMAGES[:warmup + repeats], lambda _: f"{IMAGE_MODEL} · UNTRAINED", warmup)
    return model_s, image_s


def _series(page: Any, label: str, options: tuple[str, ...], shows: Any, warmup: int) -> list[float]:
    """Each option chosen in turn in select box ``label``, timed until the grid shows ``shows(option)``; the
    first ``warmup`` are not kept."""
    seconds = []
    for i, option in enumerate(options):
        log(f"browser: {label.lower()} → {option}…")
        drawn, _, _ = timed_choice(page, label, option, shows(option), exact=True)
        if i >= warmup:
            seconds.append(drawn)
    return seconds


def run(repeats: int, warmup: int, displays: bool = True, root: Path = REPO_ROOT) -> dict:
    freeze_dashboard_sources()
    home = Path(tempfile.mkdtemp(prefix="featviz-bench-browser-"))
    layer_s: dict[str, list[float]] = {}
    display_s: dict[str, dict[str, list[float]]] = {}
    whole_s: dict[str, dict[str, list[float]]] = {}  # the same changes, until the component redrew all
    server_s: dict[str, dict[str, list[float]]] = {}  # and until the server's own figure
    first_s: list[float] = []
    model_s: list[float] = []
    image_s: list[float] = []
    with dashboard(home, root=root, warm=True) as url, sync_playwright() as playwright:
        browser = launch(playwright)
        log("browser: first grid on a fresh page load (server just started)…")
        cold = first_grid(browser, url)
        for _ in range(repeats):
            first_s.append(first_grid(browser, url))
        page = browser.new_context(viewport=VIEWPORT).new_page()
        try:
            page.goto(url)
            wait_for_grid(page, "conv1 · Conv2d", TIMEOUT_MS)
            wait_script_idle(page, TIMEOUT_MS)
            model, current = "digits_cnn", "conv1"
            for case in CASES:
                if case.model != model:
                    log(f"browser: loading {case.model} (untrained)…")
                    use_untrained_zoo_model(page, case.model)
                    wait_script_idle(page, TIMEOUT_MS)
                    model, current = case.model, fingerprint(page).split(" · ")[0]  # the layer it opened on
                log(f"browser: layer change to {case.layer} ({case.label}), {warmup} warm-up + {repeats} timed…")
                samples = []
                for i in range(warmup + repeats):
                    if current != case.other:  # away (untimed), then back
                        timed_choice(page, "Layer", case.other, f"{case.other} · ")
                    seconds, _, _ = timed_choice(page, "Layer", case.layer, f"{case.layer} · ")  # by the server
                    current = case.layer
                    if i >= warmup:
                        samples.append(seconds)
                layer_s[case.label] = samples
                display_s[case.label], whole_s[case.label], server_s[case.label] = {}, {}, {}
                for what, label, options in DISPLAY_CHANGES if displays else ():
                    log(f"browser: {what} changes on {case.layer} ({case.label})…")
                    drawn, whole, served = [], [], []
                    for i in range(warmup + repeats):
                        for option in options:  # both directions are timed
                            seconds = timed_choice(page, label, option, f"{case.layer} · ")
                            if i >= warmup:
                                for samples, value in zip((drawn, whole, served), seconds, strict=True):
                                    samples.append(value)
                    display_s[case.label][what], server_s[case.label][what] = drawn, served
                    whole_s[case.label][what] = whole
            page.close()
            page = browser.new_context(viewport=VIEWPORT).new_page()  # a fresh session for the new pictures
            page.goto(url)
            wait_for_grid(page, "conv1 · Conv2d", TIMEOUT_MS)
            model_s, image_s = new_pictures(page, repeats, warmup)
        except Exception:
            report_browser_failure(page, home, "browser benchmark")
            raise
        finally:
            browser.close()
    shutil.rmtree(home, ignore_errors=True)  # kept only when the run failed: it holds streamlit.log
    return {"first_grid_cold_s": cold, "first_grid_s": first_s, "layer_s": layer_s, "display_s": display_s,
            "display_whole_s": whole_s, "display_server_s": server_s, "model_s": model_s, "image_s": image_s}


def earlier_checkout(revision: str) -> Path:
    """``revision``'s files in a temporary folder (``git archive``): the dashboard as it was then."""
    folder = Path(tempfile.mkdtemp(prefix="featviz-bench-before-"))
    archive = subprocess.run(["git", "archive", revision], cwd=REPO_ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed changes per measurement (default 5; 2 with --quick)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed changes first (default 1)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 timed changes per measurement")
    parser.add_argument("--waits", action="store_true",
                        help="first grid, model, image and layer changes only (no display changes)")
    parser.add_argument("--against", metavar="REVISION",
                        help="measure this earlier commit's dashboard first, in the same run, as the baseline")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    repeats = args.repeats or (2 if args.quick else 5)

    before = None
    if args.against:
        log(f"browser: the dashboard as of {args.against}, first…")
        checkout = earlier_checkout(args.against)
        try:
            before = run(repeats, args.warmup, displays=not args.waits, root=checkout)
        finally:
            shutil.rmtree(checkout, ignore_errors=True)
        log("browser: and this checkout's…")
    result = run(repeats, args.warmup, displays=not args.waits)
    table = Table(
        f"Browser (headless Chromium): click on the option → grid drawn, median of {repeats} after "
        f"{args.warmup} warm-up" + (f"; 'before': commit {args.against}, measured first in this run" if before else ""),
        ["change", "layer", *(["before s"] if before else []), "median s", "min s", "max s", "target", "result"],
    )
    targets = []

    def add(what: str, where: str, samples: list[float], target: float | None,
            earlier: list[float] | None = None) -> None:
        value = median(samples)
        ok = target is None or value < target
        was = [f"{median(earlier):.2f}" if earlier else "—"] if before else []
        table.rows.append([what, where, *was, f"{value:.2f}", f"{min(samples):.2f}", f"{max(samples):.2f}",
                           "(reported)" if target is None else f"< {target:g} s", "" if target is None else met(ok)])
        if target is not None:
            targets.append(Target(f"{what}: median < {target:g} s", ok, f"{value:.2f} s"))

    def then(key: str, *path: str) -> list[float] | None:
        value: Any = before
        for part in (key, *path):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    add("first grid, fresh page load, server just started", "digits_cnn conv1", [result["first_grid_cold_s"]],
        None, [before["first_grid_cold_s"]] if before else None)
    add("first grid, fresh page load", "digits_cnn conv1", result["first_grid_s"], FIRST_GRID_TARGET_S,
        then("first_grid_s"))
    add("image change (an image not captured before)", f"{IMAGE_MODEL}, its first layer", result["image_s"],
        IMAGE_TARGET_S, then("image_s"))
    add("model change (a model not loaded before)", "the default 7, each model's first layer", result["model_s"], None,
        then("model_s"))
    for case in CASES:
        where = f"{case.model} {case.layer}"
        add(f"layer change → {case.label}", where, result["layer_s"][case.label], LAYER_TARGET_S,
            then("layer_s", case.label))
        for what, _, _ in DISPLAY_CHANGES if not args.waits else ():
            add(f"{what} change on {case.label}", where, result["display_s"][case.label][what], DISPLAY_TARGET_S)
            for label, key in (("… all of it redrawn (colour bar, hover)", "display_whole_s"),
                               ("… the server's own figure of it", "display_server_s")):
                add(label, where, result[key][case.label][what], None, then(key, case.label, what))
    print_table(table)
    print_targets(targets)
    notes = [
        "Real dashboard (`streamlit run app.py` via tests.support.browser.dashboard, empty TORCH_HOME, untrained zoo "
        "weights) in headless Debian Chromium via Playwright, viewport 1400×1100, default view of each layer "
        "(the readable default: every channel up to a page of 256, else the 64 most active).",
        "Start: the pointer's press on the option, in the page's clock (first grid: page.goto in a fresh browser "
        "context). End: the first animation frame in which the one grid on the page is drawn showing something "
        "new (title, meta, picture, first bar colours, first channel numbers or bar categories) for the "
        "expected layer; the page then settles, untimed. Layer changes alternate with a second layer; display "
        "changes alternate two options and both directions are timed. Runs before this one started the clock "
        "at Playwright's call to click, which also counted Playwright finding and checking the option.",
        "A display change is first drawn by the browser (featviz_ui.live_grid, from featviz_core.draw._grid_preview): "
        "the row's time is when its tiles and numbers are on screen; 'all of it redrawn' is when the component "
        "says it has finished (colour bar and, after a new order, the hover layer: its featviz-redrawn event); "
        "'the server's own figure of it' is when the figure the server built for it replaced that redraw, the "
        "round trip every display change waited for before the browser drew it.",
        "No baseline: the targets are absolute. Chromium renders with SwiftShader (no GPU) on the same 2 cores "
        "as the server and this script.",
    ]
    if args.waits:
        notes.append("--waits: display changes not measured in this run.")
    path = write_results("browser_waits" if args.waits else "browser", "In the browser" + (
        ": what a person waits for" if args.waits else ""), [table], targets, quick=args.quick, notes=notes,
        data={"repeats": repeats, "warmup": args.warmup, "against": args.against, "before": before, **result},
        started=started)
    log(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
