"""Drive the real dashboard in Debian's Chromium: start `streamlit run app.py`, act as a person would.

Shared by the browser tests, the benchmarks and the screenshot script (playwright is a dev requirement, so
this lives with the tests, not in the featviz_ui package; bench/ and docs/screenshots.py put the repository
root on sys.path to import it). Chromium is Debian's `/usr/bin/chromium`
(installed by `.ci/run`); Playwright never downloads a browser.

No wait here ends on what the page showed at one instant. While Streamlit reruns the script the page can
briefly hold the old and the new element side by side (two grids, twice the labels), so every wait ends on a
*settled* page: Streamlit reports no script running and what is read gave the same value in several polls in
a row (:func:`settle`). On a busy machine that only takes longer; it never reads a half-drawn page.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError

ROOT = Path(__file__).resolve().parents[2]  # the repository root: tests/support/browser.py
CHROMIUM = os.environ.get("FEATVIZ_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking switches Chromium keeps trying to reach Google's hosts.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
GRID = ".st-key-grid .js-plotly-plot"  # the feature-map grid, not the prediction chart

APP_IDLE_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
        && app.getAttribute('data-test-connection-state') === 'CONNECTED'
        && !document.querySelector('[data-testid="stStatusWidgetRunningIcon"]');
}"""
"""True while Streamlit runs no script for this page: connected, run state idle, no running-man icon."""

TIMEOUT_MS = 120_000  # default for every wait: a first model load on a busy 2-core machine takes a while
SETTLE_POLLS = 3  # the same value this many polls in a row, with the app idle at each
SETTLE_INTERVAL_S = 0.25


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def dashboard(torch_home: Path, timeout: float = 180.0, extra_env: dict[str, str] | None = None,
              root: Path = ROOT, warm: bool = False) -> Iterator[str]:
    """Run `streamlit run app.py` on a free local port; yield its URL; stop it afterwards.

    The server gets this process's environment, its own TORCH_HOME, HF_HOME and scan folder, and ``extra_env``;
    ``root``: the checkout whose dashboard runs (a benchmark may run an earlier commit's beside this one);
    ``warm``: whether it warms the default example as it starts, as a real one does (FEATVIZ_WARM_START): a test
    that starts its own server has no use for it, and the warm-up's capture would only compete for the CPU."""
    port = free_port()
    env = {**os.environ, "FEATVIZ_WARM_START": "1" if warm else "0", **(extra_env or {}),
           "TORCH_HOME": str(torch_home), "HF_HOME": str(torch_home / "huggingface"),
           "FEATVIZ_SCAN_DIR": str(torch_home / "scans"), "PYTHONUNBUFFERED": "1",
           # this checkout's featviz_core, whichever copy pip's editable install points to
           "PYTHONPATH": os.pathsep.join(filter(None, (str(root), os.environ.get("PYTHONPATH"))))}
    log = open(torch_home / "streamlit.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"streamlit exited: {(torch_home / 'streamlit.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("streamlit did not become healthy")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


FAKE_CAMERA_ARGS = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
"""Chromium's built-in test camera (a moving pattern with a clock), so st.camera_input can be used."""


def launch(playwright):
    """Headless Debian Chromium with a fake camera; a clear failure, never a skip, when it is missing."""
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(
            f"{CHROMIUM} is missing: the browser tests use Debian's Chromium. Install it with "
            "`apt-get install -y chromium` (`.ci/run` does this)."
        )
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + FAKE_CAMERA_ARGS)


def poll_script(probe: str) -> str:
    """JavaScript that returns ``[app idle, probe(arg)]`` from one evaluation, so both describe one instant."""
    return f"(arg) => [({APP_IDLE_JS})(), ({probe})(arg)]"


class Settling:
    """Decides when a series of polls has settled; shared by :func:`settle` and async callers (test_load)."""

    def __init__(self, until: Callable[[Any], bool] | None = None, polls: int = SETTLE_POLLS) -> None:
        self.until, self.polls = until, polls
        self.last: Any = None
        self.same = 0

    def observe(self, idle: bool, value: Any) -> bool:
        """Record one poll; True once ``polls`` polls in a row were idle, accepted and equal."""
        if not idle or (self.until is not None and not self.until(value)):
            self.same = 0
        elif self.same and value == self.last:
            self.same += 1
        else:
            self.same = 1
        self.last = value
        return self.same >= self.polls

    def timeout_error(self, seconds: float) -> TimeoutError:
        return TimeoutError(f"the page did not settle within {seconds:.0f} s; last value read: {str(self.last)[:300]}")


def settle(page, probe: str, arg: Any = None, until: Callable[[Any], bool] | None = None,
           timeout: float = TIMEOUT_MS, polls: int = SETTLE_POLLS) -> Any:
    """Return ``probe(arg)`` (a JavaScript function's source) once the page is settled.

    Settled: at each of ``polls`` polls in a row, ``SETTLE_INTERVAL_S`` apart, Streamlit runs no script,
    the value is the same, and ``until(value)`` holds when given. ``timeout`` is in milliseconds.
    """
    script = poll_script(probe)
    settling = Settling(until, polls)
    deadline = time.monotonic() + timeout / 1000
    while True:
        try:
            idle, value = page.evaluate(script, arg)
        except PlaywrightError:  # the page is navigating or its context was replaced: not settled
            idle, value = False, None
        if settling.observe(idle, value):
            return value
        if time.monotonic() > deadline:
            error = settling.timeout_error(timeout / 1000)
            try:  # say what the page shows instead, when it is an error
                shown = page.evaluate(
                    "() => Array.from(document.querySelectorAll('[data-testid=\"stException\"]'), e => e.innerText)"
                )
            except PlaywrightError:
                shown = []
            if shown:
                error.add_note("the page shows: " + " | ".join(text[:500] for text in shown))
            raise error
        page.wait_for_timeout(SETTLE_INTERVAL_S * 1000)


def wait_until_idle(page, timeout: float = TIMEOUT_MS) -> None:
    """Wait until Streamlit runs no script for this page (before acting on a widget, not before reading)."""
    page.wait_for_function(APP_IDLE_JS, timeout=timeout)


def settled_texts(page, selector: str, timeout: float = TIMEOUT_MS) -> list[str]:
    """The text of every element matching ``selector``, read once the page is settled (never a passing count)."""
    return settle(page, "(s) => Array.from(document.querySelectorAll(s), e => e.textContent)", selector,
                  timeout=timeout)


def settled_box(page, selector: str, timeout: float = TIMEOUT_MS) -> dict:
    """The bounding box of the first element matching ``selector`` once it is laid out and stays put."""
    x, y, width, height = settle(
        page,
        "(s) => { const e = document.querySelector(s); if (!e) return null;"
        " const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }",
        selector, until=lambda box: box is not None and box[2] > 0 and box[3] > 0, timeout=timeout,
    )
    return {"x": x, "y": y, "width": width, "height": height}


_PLOT_JS = """(selector) => {
    const plots = document.querySelectorAll(selector);  // while Streamlit reruns, the old chart can linger
    const plot = plots[0];
    const title = plot && plot.querySelector('.gtitle');
    const image = plot && plot.querySelector('image');
    const meta = plot && plot.layout && plot.layout.meta && plot.layout.meta.featviz;
    return {
        plots: plots.length,
        title: title ? title.textContent : '',
        mosaic: !!image &&
            (image.getAttribute('href') || image.getAttribute('xlink:href') || '').startsWith('data:image/png'),
        drawn: !!(plot && plot.querySelector('.main-svg')),
        meta: meta ? Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, String(v)])) : null,
    };
}"""


def plot_state(page, selector: str = GRID) -> dict:
    """What the plot(s) matching ``selector`` show now: count, title, mosaic drawn, ``layout.meta.featviz``.

    One instant: use it after a wait, or through :func:`settle`.
    """
    return page.evaluate(_PLOT_JS, selector)


def wait_for_plot(page, selector: str, title_contains: str = "", mosaic: bool = False,
                  meta: dict[str, str] | None = None, timeout: float = TIMEOUT_MS) -> float:
    """Wait until exactly one plot matches ``selector``, drawn, with the title text (and the mosaic image,
    and ``layout.meta.featviz`` values starting with ``meta``'s), and the page has settled on it.

    Returns the ``time.perf_counter()`` at which that plot was first seen drawn, where a timing should end
    (settling afterwards takes about ``SETTLE_POLLS * SETTLE_INTERVAL_S`` more).
    """
    wanted = meta or {}

    def shown(state: dict) -> bool:
        return (
            state["plots"] == 1 and state["drawn"] and title_contains in state["title"]
            and (state["mosaic"] or not mosaic)
            and all(state["meta"] is not None and state["meta"].get(k, "").startswith(v) for k, v in wanted.items())
        )

    page.wait_for_function(  # polls every animation frame: ends the moment the plot is drawn
        f"""([selector, text, mosaic, wanted]) => {{
            const s = ({_PLOT_JS})(selector);
            return s.plots === 1 && s.drawn && s.title.includes(text) && (s.mosaic || !mosaic) &&
                   Object.entries(wanted).every(([k, v]) => s.meta !== null && (s.meta[k] || '').startsWith(v));
        }}""",
        arg=[selector, title_contains, mosaic, wanted],
        timeout=timeout,
    )
    drawn = time.perf_counter()
    settle(page, _PLOT_JS, selector, until=shown, timeout=timeout)
    return drawn


def grid_title(page) -> str:
    """The grid's title on the settled page."""
    return settle(page, _PLOT_JS, GRID, until=lambda s: s["plots"] == 1)["title"]


def wait_for_grid(page, title_contains: str, timeout: float = TIMEOUT_MS) -> float:
    """Wait until the one grid, its title containing the text, is drawn (its mosaic image is in the DOM)
    and the page has settled; returns the perf_counter at which it was first seen drawn."""
    return wait_for_plot(page, GRID, title_contains, mosaic=True, timeout=timeout)


def wait_for_meta(page, key: str, prefix: str, timeout: float = TIMEOUT_MS) -> float:
    """Wait until the drawn grid's ``layout.meta.featviz[key]`` starts with ``prefix`` on a settled page;
    returns the perf_counter at which it was first seen."""
    return wait_for_plot(page, GRID, meta={key: prefix}, timeout=timeout)


def choose(page, label: str, option_text: str, exact: bool = False) -> float:
    """Pick an option in a Streamlit selectbox by typing into its search, as a person would; ``exact``: the
    option named exactly so ("resnet50", never "timm/resnet50.a1_in1k", which a list still filtered by the first
    keys typed may show first), else the first that contains the text.

    Returns the ``time.perf_counter()`` of the click on the option, where a timing should start.
    """
    wait_until_idle(page)
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    box.locator("input").click()
    page.keyboard.type(option_text)
    if exact:
        option = page.get_by_role("option", name=option_text, exact=True).first
    else:
        option = page.get_by_role("option").filter(has_text=option_text).first
    option.wait_for()
    clicked = time.perf_counter()
    option.click()
    return clicked


_TILE_CENTRE_JS = """([selector, index]) => {
    const gd = document.querySelector(selector);
    if (!gd || !gd.layout || !gd._fullLayout) return null;
    const meta = gd.layout.meta.featviz;
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    if (!xa || !ya || !xa.d2p) return null;
    // where the grid says its tiles are (layout.meta.featviz): first tile's top left, pitch, tile size
    const [top, left] = meta.first_tile, [pitchY, pitchX] = meta.pitch, [h, w] = meta.tile_shape;
    const row = Math.floor(index / meta.columns), col = index % meta.columns;
    const y = top + row * pitchY + Math.floor((h - 1) / 2), x = left + col * pitchX + Math.floor((w - 1) / 2);
    const box = gd.getBoundingClientRect();
    return [box.left + xa._offset + xa.d2p(x), box.top + ya._offset + ya.d2p(y)];
}"""


def sidebar_click(page, text: str) -> None:
    """Click a sidebar control (radio option, button) by its visible text."""
    wait_until_idle(page)
    page.locator('[data-testid="stSidebar"]').get_by_text(text, exact=True).first.click()


def upload_file(page, widget_key: str, path) -> None:
    """Give a file (or a list of files, to an uploader that takes several) to the st.file_uploader whose key is
    ``widget_key``."""
    wait_until_idle(page)
    files = [str(item) for item in path] if isinstance(path, (list, tuple)) else str(path)
    page.locator(f'.st-key-{widget_key} input[type="file"]').set_input_files(files)


def use_untrained_zoo_model(page, name: str, timeout: float = TIMEOUT_MS) -> None:
    """Switch to a torchvision model with untrained weights (offline, its weights are not cached)."""
    choose(page, "Model", name, exact=True)
    sidebar_click(page, "Untrained (random)")
    wait_for_plot(page, GRID, f"{name} · UNTRAINED", timeout=timeout)  # tiles or, for single values, bars


def hover_tile(page, channel_position: int = 0, attempts: int = 5) -> str:
    """Move the mouse to the centre of a tile and return the hover label's text.

    The point is read once the layout has settled, and again on each attempt: Streamlit may lay the chart
    out again just after drawing it.
    """
    label = page.locator(f"{GRID} .hoverlayer .hovertext")
    for attempt in range(attempts):
        x, y = settle(page, _TILE_CENTRE_JS, [GRID, channel_position], until=lambda point: point is not None)
        page.mouse.move(x - 4, y - 4)
        page.mouse.move(x, y, steps=3)
        try:
            label.first.wait_for(timeout=3_000)
            return label.first.text_content() or ""
        except Exception:  # noqa: BLE001 - no label yet: move again
            if attempt == attempts - 1:
                raise
            page.mouse.move(0, 0)
    return ""


def click_tile(page, channel_position: int = 0) -> str:
    """Click the centre of a tile, as a person opening that channel would; returns the hover label there."""
    text = hover_tile(page, channel_position)
    x, y = settle(page, _TILE_CENTRE_JS, [GRID, channel_position], until=lambda point: point is not None)
    page.mouse.click(x, y)
    return text
