"""Memory: does the dashboard server's resident memory stay flat over many layer and normalization switches?

Why: every switch reruns the page, reads a capture from Streamlit's cache and builds a new figure; a leak
there (figures, captures or models kept alive, caches that do not evict) grows the server until it falls
over. This starts the real dashboard (``tests.support.browser.dashboard``), drives it with Chromium through
layer/normalization switches across 3 sample images and 2 models (the bundled, trained digits CNN and an
untrained resnet18), and reads the server's VmRSS after a warm-up cycle (which fills every cache) and at
intervals. Target: growth from after warm-up to the end < 5 %.

    python bench/bench_memory.py                 # 200 switches
    python bench/bench_memory.py --quick         # ~20 switches: a smoke run
    python bench/bench_memory.py --switches 500
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from playwright.sync_api import sync_playwright

from featviz_core.draw import NORMALIZATIONS
from featviz_core.samples import DEFAULT_SAMPLE

from _common import (
    REPO_ROOT,
    Table,
    Target,
    find_pid_by_port,
    freeze_dashboard_sources,
    log,
    median,
    met,
    print_table,
    print_targets,
    read_rss_bytes,
    report_browser_failure,
    wait_script_idle,
    write_results,
)

sys.path.insert(0, str(REPO_ROOT))  # `python bench/bench_memory.py` puts bench/, not the root, on sys.path
from tests.support.browser import (  # noqa: E402 - the browser driver lives with the tests (playwright is dev-only)
    choose,
    dashboard,
    launch,
    use_untrained_zoo_model,
    wait_for_grid,
    wait_for_meta,
)

TARGET_GROWTH = 0.05
VIEWPORT = {"width": 1400, "height": 1100}
SAMPLES = ("Handwritten 7", "Cat (Chelsea)", "Coffee cup")
# Layer names unique as search text within their model; a mix of conv maps, pooled maps and vectors.
LAYERS = {
    "digits_cnn": ("conv1", "conv2", "pool1", "relu2", "fc1"),
    "resnet18": ("layer1.0.conv1", "layer2.1.bn2", "layer3.0.downsample.0", "layer4.0.conv1", "maxpool", "avgpool"),
}
MODES = list(NORMALIZATIONS)  # keys, in the order the selectbox lists them
SWITCHES_PER_BLOCK = 10  # layer and normalization switches per (model, image) before moving on
WARMUP_SWITCHES_PER_BLOCK = 4


@dataclass
class Driver:
    """Keeps track of what is on screen so every switch is a real change."""

    page: Any
    model: str = "digits_cnn"
    image: str = DEFAULT_SAMPLE
    layer: str = "conv1"
    normalization: str = "per_channel"
    layer_turn: int = 0
    switches: int = 0
    durations: list[float] = field(default_factory=list)  # click to redrawn grid, per counted switch
    verbose: bool = False

    def _done(self, what: str, start: float, drawn: float) -> None:
        self.durations.append(drawn - start)
        self.switches += 1
        if self.verbose:
            log(f"  switch {self.switches}: {self.model} / {self.image}: {what} in {self.durations[-1]:.2f} s")

    def set_model(self, model: str) -> None:
        if model == self.model:
            return
        if model == "digits_cnn":
            choose(self.page, "Model", "digits_cnn")
            # the Weights radio keeps "untrained" from resnet18: go back to the trained, bundled weights
            self.page.locator('[data-testid="stSidebar"]').get_by_text("Trained by featviz", exact=False).first.click()
            wait_for_grid(self.page, "featviz digits (bundled)")
        else:
            use_untrained_zoo_model(self.page, model)
            wait_for_grid(self.page, f"{model} · UNTRAINED", timeout=120_000)  # not the last model's grid
        wait_script_idle(self.page)
        self.model, self.layer = model, "conv1"  # a model change starts on its first convolution

    def set_image(self, image: str) -> None:
        if image == self.image:
            return
        choose(self.page, "Sample image", image)
        self.page.get_by_text(f"Input · {image} ·").first.wait_for(timeout=120_000)
        wait_script_idle(self.page)
        self.image = image

    def switch_layer(self) -> None:
        layers = [name for name in LAYERS[self.model] if name != self.layer]
        layer = layers[self.layer_turn % len(layers)]
        self.layer_turn += 1
        start = choose(self.page, "Layer", layer)
        drawn = wait_for_grid(self.page, f"{layer} · ", timeout=120_000)
        wait_script_idle(self.page)
        self._done(f"layer {layer}", start, drawn)
        self.layer = layer

    def switch_normalization(self) -> None:
        mode = MODES[(MODES.index(self.normalization) + 1) % len(MODES)]
        start = choose(self.page, "Normalization", NORMALIZATIONS[mode])
        drawn = wait_for_meta(self.page, "normalization", mode, timeout=120_000)
        wait_script_idle(self.page)
        self._done(f"normalization {mode}", start, drawn)
        self.normalization = mode


def blocks() -> Iterator[tuple[str, str]]:
    """(model, image) in a fixed cycle: all three images on one model, then on the other."""
    while True:
        for model in LAYERS:
            for image in SAMPLES:
                yield model, image


def block_sizes(switches: int, block: int, pairs: int) -> list[int]:
    """Switches per (model, image) block: about ``block`` each, over whole cycles of all ``pairs``.

    Whole cycles put the last reading on the same model and image as the warm-up reading: the server's
    RSS swings by about 10 % with what is on screen, which would otherwise swamp any growth.
    """
    cycles = max(1, math.ceil(switches / (block * pairs)))
    base, extra = divmod(switches, cycles * pairs)
    return [base + (1 if i < extra else 0) for i in range(cycles * pairs)]


def run(switches: int, samples: int, block: int, warmup_block: int, verbose: bool = False) -> dict:
    freeze_dashboard_sources()
    home = Path(tempfile.mkdtemp(prefix="featviz-bench-memory-"))
    readings: list[dict] = []
    started = time.perf_counter()
    pairs = len(LAYERS) * len(SAMPLES)
    with dashboard(home) as url, sync_playwright() as playwright:
        pid = find_pid_by_port(int(url.rsplit(":", 1)[1]))
        rss_start = read_rss_bytes(pid)
        log(f"memory: dashboard at {url}, server pid {pid}, RSS at start {rss_start / 2**20:.0f} MiB")
        browser = launch(playwright)
        page = browser.new_context(viewport=VIEWPORT).new_page()
        driver = Driver(page, verbose=verbose)
        try:
            page.goto(url)
            wait_for_grid(page, "conv1 · Conv2d · all 32 channels", timeout=120_000)
            wait_script_idle(page)
            cycle = blocks()

            def do_block(count: int, after_each: Optional[Callable[[], None]] = None) -> None:
                model, image = next(cycle)
                driver.set_model(model)
                driver.set_image(image)
                for i in range(count):
                    (driver.switch_layer if i % 2 == 0 else driver.switch_normalization)()
                    if after_each is not None:
                        after_each()

            # Warm-up: one whole cycle over every (model, image) pair, so every cache holds what it will hold.
            for _ in range(pairs):
                do_block(warmup_block)
            warm_switches = driver.switches
            rss_warm = read_rss_bytes(pid)
            readings.append({"after_switches": 0, "rss": rss_warm, "cycle_end": True,
                             "t_s": time.perf_counter() - started})
            log(f"memory: warm-up done ({warm_switches} switches), RSS {rss_warm / 2**20:.0f} MiB")

            every = max(1, switches // samples)
            state = {"done": 0, "next": every}

            def maybe_read() -> None:
                state["done"] += 1
                if state["done"] >= state["next"] or state["done"] == switches:
                    rss = read_rss_bytes(pid)
                    readings.append({"after_switches": state["done"], "rss": rss, "cycle_end": False,
                                     "t_s": time.perf_counter() - started})
                    log(f"memory: {state['done']}/{switches} switches, RSS {rss / 2**20:.0f} MiB")
                    state["next"] += every

            for index, count in enumerate(block_sizes(switches, block, pairs)):
                do_block(count, maybe_read)
                if (index + 1) % pairs == 0:  # back at the warm-up reading's model and image
                    if readings[-1]["after_switches"] == state["done"]:
                        readings[-1]["cycle_end"] = True
                    else:
                        readings.append({"after_switches": state["done"], "rss": read_rss_bytes(pid),
                                         "cycle_end": True, "t_s": time.perf_counter() - started})
        except Exception:
            report_browser_failure(page, home, f"memory benchmark (model {driver.model}, image {driver.image}, "
                                               f"layer {driver.layer}, normalization {driver.normalization})")
            raise
        finally:
            browser.close()
    shutil.rmtree(home, ignore_errors=True)  # kept only when the run failed: it holds streamlit.log
    return {
        "rss_start": rss_start, "warmup_switches": warm_switches, "readings": readings,
        "switch_s": driver.durations[warm_switches:], "warmup_switch_s": driver.durations[:warm_switches],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--switches", type=int, default=None,
                        help="measured switches after warm-up (default 200; 20 with --quick)")
    parser.add_argument("--samples", type=int, default=10, help="RSS readings spread over the run (default 10)")
    parser.add_argument("--quick", action="store_true", help="smoke run: ~20 switches, shorter blocks")
    parser.add_argument("--verbose", action="store_true", help="log every switch and how long it took")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    switches = args.switches or (20 if args.quick else 200)
    block = 2 if args.quick else SWITCHES_PER_BLOCK
    warmup_block = 2 if args.quick else WARMUP_SWITCHES_PER_BLOCK

    result = run(switches, args.samples, block, warmup_block, args.verbose)
    readings = result["readings"]
    warm, end = readings[0]["rss"], readings[-1]["rss"]
    after = [r["rss"] for r in readings]
    growth = (end - warm) / warm
    ok = growth < TARGET_GROWTH
    table = Table(
        f"Dashboard server memory (VmRSS) over {switches} layer/normalization switches "
        f"(3 images × 2 models, about {block} switches per image and model, whole cycles; "
        f"warm-up {result['warmup_switches']} switches over every image and model)",
        ["RSS at start MiB", "RSS after warm-up MiB", "RSS at end MiB", "min–max after warm-up MiB", "growth",
         "median switch s", "target", "result"],
        [[f"{result['rss_start'] / 2**20:.0f}", f"{warm / 2**20:.0f}", f"{end / 2**20:.0f}",
          f"{min(after) / 2**20:.0f}–{max(after) / 2**20:.0f}", f"{growth:+.1%}",
          f"{median(result['switch_s']):.2f}", f"< {TARGET_GROWTH:.0%}", met(ok)]],
    )
    series = Table("RSS readings (* = same model and image as the warm-up reading)",
                   ["switches after warm-up", "RSS MiB", "change vs warm-up"],
                   [[f"{r['after_switches']}{' *' if r['cycle_end'] else ''}", f"{r['rss'] / 2**20:.0f}",
                     f"{(r['rss'] - warm) / warm:+.1%}"] for r in readings])
    print_table(table)
    print_table(series)
    targets = [Target(f"server RSS growth after warm-up < {TARGET_GROWTH:.0%} over {switches} switches", ok,
                      f"{growth:+.1%}")]
    print_targets(targets)
    notes = [
        "Server: `streamlit run app.py` started by tests.support.browser.dashboard with an empty TORCH_HOME; its PID "
        "found from its `--server.port` command line in /proc; RSS from /proc/<pid>/status (one process).",
        f"Driven by headless Chromium: samples {', '.join(SAMPLES)}; models digits_cnn (bundled, trained) and "
        "resnet18 (untrained); switches alternate a layer change and a normalization change (all five modes "
        "in turn). Image and model changes are not counted as switches.",
        "RSS swings by about ±10 % with the model and image on screen, so the switches are spread over whole "
        "cycles of (model, image) and the end reading is taken on the same model and image as the warm-up "
        "reading (resnet18, Coffee cup); readings marked * are all at that point of the cycle.",
        "MiB = 2^20 bytes. Growth = (RSS at end − RSS after warm-up) / RSS after warm-up. Switch time = from "
        "the click on the option until the new grid is first drawn; the next switch starts once the page has "
        "settled and Streamlit reports no script running.",
    ]
    path = write_results("memory", "Memory", [table, series], targets, quick=args.quick, notes=notes,
                         data={"switches": switches, "block": block, "warmup_block": warmup_block, **result},
                         started=started)
    log(f"wrote {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
