"""Take the README's screenshots from the running dashboard: `python docs/screenshots.py`.

Uses the same headless Debian Chromium helpers as the browser tests, with an empty TORCH_HOME, so the
pictures show what a fresh offline machine shows.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.browser import (  # noqa: E402
    choose, dashboard, hover_tile, launch, sidebar_click, wait_for_grid, wait_for_meta,
)

DOCS = Path(__file__).resolve().parent


def main() -> None:
    with dashboard(Path(tempfile.mkdtemp())) as url, sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1250})
        page.goto(url)
        wait_for_grid(page, "all 32 channels")
        page.wait_for_timeout(800)
        page.screenshot(path=DOCS / "explore.png")

        choose(page, "Layer", "conv2")
        wait_for_grid(page, "conv2 · Conv2d")
        page.get_by_role("link", name="Trained vs untrained").click()
        page.get_by_text("What the difference means.").wait_for()
        page.wait_for_timeout(2500)
        page.screenshot(path=DOCS / "trained-vs-untrained.png")
        page.get_by_role("link", name="Feature maps").click()
        wait_for_grid(page, "conv2 · Conv2d")

        choose(page, "Model", "resnet18")  # offline: pretrained weights are missing
        page.get_by_text("resnet18-f37072fd.pth").first.wait_for()
        page.wait_for_timeout(800)
        page.screenshot(path=DOCS / "weights-missing.png")
        sidebar_click(page, "Use untrained weights")
        wait_for_grid(page, "UNTRAINED")
        choose(page, "Sample image", "Stripes 45°")
        wait_for_grid(page, "all 64 channels")
        choose(page, "Layer", "layer3.0.conv1")
        wait_for_grid(page, "all 256 channels")
        hover_tile(page, 21)
        page.wait_for_timeout(500)
        page.screenshot(path=DOCS / "hover-256-channels.png")
        choose(page, "Layer", "layer4.1.conv2")
        wait_for_grid(page, "all 512 channels")
        choose(page, "Normalization", "Symmetric around zero")
        wait_for_meta(page, "normalization", "symmetric")
        choose(page, "Colour map", "RdBu")
        wait_for_meta(page, "colormap", "RdBu")
        page.wait_for_timeout(800)
        page.screenshot(path=DOCS / "symmetric-512-channels.png")
        browser.close()
    print("wrote", *sorted(p.name for p in DOCS.glob("*.png")))


if __name__ == "__main__":
    main()
