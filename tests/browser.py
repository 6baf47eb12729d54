"""Drive the real dashboard in Debian's Chromium: start `streamlit run app.py`, act as a person would.

Shared by the browser tests and the browser benchmark. Chromium is Debian's `/usr/bin/chromium`
(installed by `.ci/run`); Playwright never downloads a browser.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def dashboard(torch_home: Path, timeout: float = 90.0) -> Iterator[str]:
    """Run `streamlit run app.py` on a free local port; yield its URL; stop it afterwards."""
    port = free_port()
    env = {**os.environ, "TORCH_HOME": str(torch_home), "PYTHONUNBUFFERED": "1"}
    log = open(torch_home / "streamlit.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
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


def grid_title(page) -> str:
    return page.evaluate(
        f"() => {{ const t = document.querySelector('{GRID} .gtitle'); return t ? t.textContent : ''; }}"
    )


def wait_for_grid(page, title_contains: str, timeout: float = 60_000) -> None:
    """Wait until the grid whose title contains the text is drawn (its mosaic image is in the DOM)."""
    page.wait_for_function(
        """([selector, text]) => {
            const plots = document.querySelectorAll(selector);
            if (plots.length !== 1) return false;  // while Streamlit reruns, the old chart can linger
            const plot = plots[0];
            const title = plot.querySelector('.gtitle');
            const image = plot.querySelector('image');
            return !!(title && title.textContent.includes(text) && image &&
                      (image.getAttribute('href') || image.getAttribute('xlink:href') || '').startsWith('data:image/png'));
        }""",
        arg=[GRID, title_contains],
        timeout=timeout,
    )


def wait_for_meta(page, key: str, prefix: str, timeout: float = 60_000) -> None:
    """Wait until the drawn grid's ``layout.meta.featviz[key]`` starts with ``prefix``."""
    page.wait_for_function(
        """([selector, key, prefix]) => {
            const gd = document.querySelector(selector);  // replaced while Streamlit reruns: may be null
            const meta = gd && gd.layout && gd.layout.meta && gd.layout.meta.featviz;
            return !!meta && String(meta[key]).startsWith(prefix);
        }""",
        arg=[GRID, key, prefix],
        timeout=timeout,
    )


def choose(page, label: str, option_text: str) -> float:
    """Pick an option in a Streamlit selectbox by typing into its search, as a person would.

    Returns the ``time.perf_counter()`` of the click on the option, where a timing should start.
    """
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    box.locator("input").click()
    page.keyboard.type(option_text)
    option = page.get_by_role("option").filter(has_text=option_text).first
    option.wait_for()
    clicked = time.perf_counter()
    option.click()
    return clicked


_TILE_CENTRE_JS = """([selector, index]) => {
    const gd = document.querySelector(selector);
    const meta = gd.layout.meta.featviz;
    const hover = gd._fullData[1];  // decoded typed arrays (gd.data keeps base64)
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    // hover cell centres are listed per tile: [strip], cells, [gap]
    const cols = meta.columns, rows = Math.ceil(meta.channels_shown / cols);
    const row = Math.floor(index / cols), col = index % cols;
    const perTileX = (hover.x.length + 1) / cols, perTileY = (hover.y.length + 1) / rows;
    const x = hover.x[col * perTileX + Math.floor((perTileX - 1) / 2)];
    const y = hover.y[row * perTileY + 1 + Math.floor((perTileY - 2) / 2)];
    const box = gd.getBoundingClientRect();
    return [box.left + xa._offset + xa.d2p(x), box.top + ya._offset + ya.d2p(y)];
}"""


def sidebar_click(page, text: str) -> None:
    """Click a sidebar control (radio option, button) by its visible text."""
    page.locator('[data-testid="stSidebar"]').get_by_text(text, exact=True).first.click()


def upload_file(page, widget_key: str, path) -> None:
    """Give a file to the st.file_uploader whose key is ``widget_key``."""
    page.locator(f'.st-key-{widget_key} input[type="file"]').set_input_files(str(path))


def use_untrained_zoo_model(page, name: str) -> None:
    """Switch to a torchvision model with untrained weights (offline, its weights are not cached)."""
    choose(page, "Model", name)
    sidebar_click(page, "Untrained (random)")
    wait_for_grid(page, "UNTRAINED")


def hover_tile(page, channel_position: int = 0, attempts: int = 5) -> str:
    """Move the mouse to the centre of a tile and return the hover label's text.

    The point is recomputed on each attempt: Streamlit may lay the chart out again just after drawing it.
    """
    label = page.locator(f"{GRID} .hoverlayer .hovertext")
    for attempt in range(attempts):
        x, y = page.evaluate(_TILE_CENTRE_JS, [GRID, channel_position])
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
