"""Many browser sessions at once against one server: every session sees its own maps, the server answers.

Each session opens its own image, model and layer (through a shared-link URL), then switches layer, while
the others do the same; every grid it draws must equal what a session alone got for the same settings.
Each grid is read once the page has settled (Streamlit idle, the same grid over several polls), never while
a rerun still shows the old grid next to the new one. CI runs a reduced count; the full load is::

    FEATVIZ_LOAD_SESSIONS=20 python -m pytest -s tests/test_load.py
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import statistics
import time
import urllib.parse
import urllib.request

import pytest
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import async_playwright

from tests.support.browser import (
    APP_IDLE_JS,
    CHROMIUM,
    CHROMIUM_ARGS,
    GRID,
    SETTLE_INTERVAL_S,
    Settling,
    dashboard,
    poll_script,
)

SESSIONS = int(os.environ.get("FEATVIZ_LOAD_SESSIONS", "6"))
SAMPLES = [f"Handwritten {d}" for d in range(10)] + [
    "Cat (Chelsea)", "Coffee cup", "Astronaut", "Rocket launch", "Checkerboard", "Circles", "Stripes 45°",
    "Brick wall (grayscale)",
]
DIGITS_LAYERS = ("conv1", "relu1", "conv2", "pool2")
RESNET_LAYERS = ("conv1", "layer1.0.conv1", "layer2.0.conv2", "layer4.1.conv2")

pytestmark = [pytest.mark.browser, pytest.mark.load, pytest.mark.slow, pytest.mark.timeout(1200)]
WAIT_S = 300  # for one grid while every session loads the server and the 2 cores


def plan(index: int) -> dict:
    """Session ``index``: its sample, model, first layer and the layer it switches to."""
    digits = index % 2 == 0
    layers = DIGITS_LAYERS if digits else RESNET_LAYERS
    params = {"sample": SAMPLES[index % len(SAMPLES)], "layer": layers[index % len(layers)]}
    if not digits:
        params.update(model="resnet18", weights="untrained")
    return {"params": params, "switch_to": layers[(index + 1) % len(layers)]}


GRID_JS = """(selector) => {
    const plots = document.querySelectorAll(selector);
    const gd = plots[0];
    const image = gd && gd.querySelector('image');
    const href = image ? (image.getAttribute('href') || image.getAttribute('xlink:href') || '') : '';
    const shown = gd && gd.querySelector('.gtitle');
    const title = gd && gd.layout && gd.layout.title ? gd.layout.title.text : '';
    return [plots.length, shown ? shown.textContent : '', title, href.length, href.slice(-96)];
}"""
"""A cheap fingerprint of what the page shows: how many grids, the first one's title (as drawn, and as in its
layout: that one may carry markup) and mosaic image."""

VALUES_JS = """(selector) => {
    const z = document.querySelector(selector)._fullData[1].z;
    return Array.from(z, row => Array.from(row, v => Number.isNaN(v) ? 'n' : v.toFixed(6)).join(',')).join(';');
}"""
"""The grid's hover values (its raw maps), read once the page has settled on it."""


async def settled_grid(page, layer: str) -> tuple[str, str]:
    """The grid's title and values once the page has settled on one drawn grid of ``layer``.

    The fingerprint is polled (cheap: six sessions poll at once on two cores); the values are read once it
    has settled and must belong to that same settled grid (the fingerprint is unchanged after reading).
    """
    script = poll_script(GRID_JS)
    settling = Settling(until=lambda grid: grid[0] == 1 and grid[1].startswith(layer + " ·") and grid[3] > 0)
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            idle, grid = await page.evaluate(script, GRID)
            if settling.observe(idle, grid):
                values = await page.evaluate(VALUES_JS, GRID)
                idle, after = await page.evaluate(script, GRID)
                if idle and after == grid:
                    return grid[2], values
                settling.observe(idle, after)  # it changed while being read: settle again
        except PlaywrightError:  # navigating, or the grid was replaced while being read: not settled
            settling.observe(False, None)
        if time.monotonic() > deadline:
            raise settling.timeout_error(WAIT_S)
        await asyncio.sleep(SETTLE_INTERVAL_S)


async def wait_drawn(page, layer: str) -> None:
    """The moment a single grid of ``layer`` is drawn (animation-frame polling: where a latency ends)."""
    await page.wait_for_function(
        """([selector, layer]) => {
            const plots = document.querySelectorAll(selector);
            if (plots.length !== 1) return false;
            const title = plots[0].querySelector('.gtitle');
            return !!(title && title.textContent.startsWith(layer + ' ·') && plots[0].querySelector('image'));
        }""",
        arg=[GRID, layer],
        timeout=WAIT_S * 1000,
    )


async def signature(page, layer: str) -> str:
    """The settled grid of ``layer``: its title and a hash of its values."""
    title, values = await settled_grid(page, layer)
    # Streamlit's frontend theme wraps the title in <b> again when a spec is drawn again: markup, not content
    title = title.split("<br>")[0].replace("<b>", "").replace("</b>", "")
    return title + "|" + hashlib.sha256(values.encode()).hexdigest()


async def choose_layer(page, layer: str) -> None:
    await page.wait_for_function(APP_IDLE_JS, timeout=WAIT_S * 1000)  # act on an idle page
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Layer").first
    await box.locator("input").click()
    await page.keyboard.type(layer)
    await page.get_by_role("option").filter(has_text=f"{layer} ·").first.click()


async def session(browser, url: str, index: int, latencies: list, failures: list, references=None) -> dict:
    """Open the session's link, draw its grid, switch layer, draw again; return the two signatures."""
    item = plan(index)
    context = await browser.new_context(viewport={"width": 1300, "height": 1000})
    page = await context.new_page()
    seen = {}
    try:
        start = time.perf_counter()
        await page.goto(f"{url}/?{urllib.parse.urlencode(item['params'])}")
        await wait_drawn(page, item["params"]["layer"])
        latencies.append(time.perf_counter() - start)
        seen["first"] = await signature(page, item["params"]["layer"])
        start = time.perf_counter()
        await choose_layer(page, item["switch_to"])
        await wait_drawn(page, item["switch_to"])
        latencies.append(time.perf_counter() - start)
        seen["second"] = await signature(page, item["switch_to"])
    except Exception as exc:  # noqa: BLE001 - counted and reported, the test fails on any
        failures.append(f"session {index}: {type(exc).__name__}: {str(exc)[:200]}")
    finally:
        await context.close()
    return seen


async def health_watch(url: str, stop: asyncio.Event, delays: list) -> None:
    """Ask the server's health endpoint every 0.25 s during the load: it must keep answering."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        start = time.perf_counter()
        ok = await loop.run_in_executor(
            None, lambda: urllib.request.urlopen(url + "/_stcore/health", timeout=10).status
        )
        delays.append((time.perf_counter() - start, ok))
        await asyncio.sleep(0.25)


async def run(url: str) -> dict:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        references, failures = [], []
        for index in range(SESSIONS):  # one session at a time: the reference each must match under load
            references.append(await session(browser, url, index, [], failures))
        latencies: list[float] = []
        delays: list = []
        stop = asyncio.Event()
        watcher = asyncio.create_task(health_watch(url, stop, delays))
        started = time.perf_counter()
        results = await asyncio.gather(*(session(browser, url, i, latencies, failures) for i in range(SESSIONS)))
        elapsed = time.perf_counter() - started
        stop.set()
        await watcher
        await browser.close()
    return {"references": references, "results": results, "failures": failures, "latencies": latencies,
            "health": delays, "elapsed": elapsed}


def test_concurrent_sessions_each_see_their_own_maps(tmp_path):
    with dashboard(tmp_path) as url:
        outcome = asyncio.run(run(url))
    mismatched = [
        i for i, (got, want) in enumerate(zip(outcome["results"], outcome["references"], strict=False))
        if got and want and got != want
    ]
    latencies = sorted(outcome["latencies"])
    requests = 2 * SESSIONS
    p50 = statistics.median(latencies) if latencies else float("nan")
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else float("nan")
    health = [delay for delay, _ in outcome["health"]]
    print(
        f"\nload: {SESSIONS} concurrent sessions, {requests} requests (open a link, switch layer), "
        f"{len(outcome['failures'])} failures, {len(mismatched)} sessions with maps differing from their "
        f"single-session reference; latency p50 {p50:.2f} s, p95 {p95:.2f} s; all done in {outcome['elapsed']:.1f} s; "
        f"health endpoint answered {len(health)} times, slowest {max(health, default=0):.2f} s"
    )
    assert not outcome["failures"], outcome["failures"]
    assert all(len(r) == 2 for r in outcome["references"] + outcome["results"])
    details = {i: (outcome["results"][i], outcome["references"][i]) for i in mismatched}
    assert not mismatched, f"sessions {mismatched} saw maps that are not their own: {details}"
    # the browsers share the 2 cores with the server, so "responsive" means: every probe answered, none stalled
    assert all(status == 200 for _, status in outcome["health"]) and max(health, default=0) < 15
