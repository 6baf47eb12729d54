"""Take the README's screenshots from the running dashboard: `python docs/screenshots.py`.

Uses the same headless Debian Chromium helpers as the browser tests, with an empty TORCH_HOME, so the
pictures show what a fresh offline machine shows.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from featviz_core.lessons import lesson_by_key

# `python docs/screenshots.py` puts docs/, not the repository root, on sys.path; the browser driver lives with the
# tests (playwright is a dev requirement)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.browser import (  # noqa: E402
    GRID,
    choose,
    click_tile,
    dashboard,
    hover_tile,
    launch,
    sidebar_click,
    use_untrained_zoo_model,
    wait_for_grid,
    wait_for_meta,
    wait_for_plot,
)

DOCS = Path(__file__).resolve().parent


def section(page, start_text: str, name: str, height: int = 1000) -> None:
    """Screenshot from the element with ``start_text`` down ``height`` pixels, across the main area.

    Streamlit scrolls inside its own container, so the viewport is made tall enough to hold the section.
    """
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": 3600})
    page.wait_for_timeout(1500)
    top = page.get_by_text(start_text).first
    top.scroll_into_view_if_needed()
    box = top.bounding_box()
    main = page.locator('[data-testid="stMain"]').bounding_box()
    clip = {"x": main["x"], "y": box["y"] - 20, "width": main["width"], "height": height}
    page.screenshot(path=DOCS / name, clip=clip)
    page.set_viewport_size(size)


def analysis_views(page) -> None:
    """Ordered grid with the layer summary, statistics, one channel up close, filters, the other pages."""
    choose(page, "Order channels by", "Max")
    choose(page, "Show", "top 16")
    wait_for_grid(page, "16 of 32 channels")
    page.get_by_text("Channel statistics (32 channels)").click()
    page.wait_for_timeout(1500)
    section(page, "conv1: 32 channels", "ordered-and-statistics.png", 1150)
    page.get_by_text("Channel statistics (32 channels)").click()
    page.locator('[data-testid="stNumberInput"] input').first.fill("3")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => (document.querySelector('.st-key-closeup .gtitle') || {}).textContent?.includes('channel 3 ·')"
    )
    section(page, "One channel up close", "channel-closeup.png", 820)
    page.get_by_text("Inside this layer").click()
    page.wait_for_timeout(1500)
    section(page, "Inside this layer", "filters-and-shape.png", 640)
    choose(page, "Show", "all")
    choose(page, "Order channels by", "Channel number")
    wait_for_grid(page, "all 32 channels")
    for link, name, height in (("Compare two layers", "compare-layers.png", 1250),
                               ("Compare two images", "compare-images.png", 2000),  # with the difference map
                               ("Model overview", "overview.png", 1250)):
        page.set_viewport_size({"width": 1400, "height": height})
        page.get_by_role("link", name=link).click()
        page.wait_for_timeout(4000)
        page.screenshot(path=DOCS / name)
    page.set_viewport_size({"width": 1400, "height": 1250})
    page.get_by_role("link", name="Feature maps").click()
    wait_for_grid(page, "all 32 channels")


def lessons(page) -> None:
    """The Lessons page: the output-shape lesson with its live formula, and the faint layer raw and normalized."""
    page.get_by_role("link", name="Lessons: what these maps are").click()
    page.get_by_text("1 · Output shape").first.wait_for()
    page.wait_for_timeout(2500)
    section(page, "1 · Output shape", "lesson-output-shape.png", 1150)
    page.get_by_role("button", name="Next").click()
    page.get_by_text("2 · Normalize before display").first.wait_for()
    page.wait_for_timeout(3000)
    section(page, "2 · Normalize before display", "lesson-normalize.png", 900)
    page.get_by_role("link", name="Feature maps").click()
    wait_for_grid(page, "all 32 channels")


def lesson_states(page, url: str) -> None:
    """Each lesson that opens the dashboard, as it opens it; then the presenter view on a 1024×768 projector."""
    for key, wait_text in (("one-map-per-channel", "all 32 channels"), ("early-vs-deep", "conv2 ·"),
                           ("sparse", "relu2 ·"), ("trained-vs-untrained", "What the difference means.")):
        lesson = lesson_by_key(key)
        page.goto(f"{url}/lessons?lesson={key}")
        page.get_by_role("button", name=f"Open in the dashboard: {lesson.title}").click()
        page.get_by_text(wait_text).first.wait_for(timeout=120_000)
        page.wait_for_timeout(3000)
        page.screenshot(path=DOCS / f"lesson-{key}.png")
    page.set_viewport_size({"width": 1024, "height": 768})
    for key in ("early-vs-deep", "normalize"):
        page.goto(f"{url}/lessons?presenter=true&lesson={key}")
        page.get_by_text(lesson_by_key(key).title).first.wait_for()
        page.wait_for_timeout(3000)
        page.screenshot(path=DOCS / f"presenter-{key}.png")
    page.set_viewport_size({"width": 1400, "height": 1250})


def dataset_page(page) -> None:
    """The Dataset page after a scan of the bundled digits at conv2: a channel's top images, each cropped to
    the unit's receptive field. Starts and ends on the single-image view at conv2."""
    page.get_by_role("link", name="Dataset").click()
    page.get_by_role("button", name="Scan 1,000 images").click()
    page.get_by_text("Channel 0: its top 16 images").wait_for(timeout=300_000)
    page.locator(".st-key-channel input").fill("3")
    page.keyboard.press("Enter")
    page.get_by_text("Channel 3: its top 16 images").wait_for()
    page.wait_for_timeout(2500)
    section(page, "Channel 3: its top 16 images", "dataset-top-images.png", 1000)
    page.get_by_role("link", name="Feature maps").click()
    wait_for_grid(page, "conv2 · Conv2d")


@contextmanager
def opened_dashboard() -> Iterator[tuple[Any, str]]:
    """A fresh dashboard with an empty TORCH_HOME, open on its first grid in a 1400×1250 window: (page, URL)."""
    with dashboard(Path(tempfile.mkdtemp())) as url, sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1250})
        page.goto(url)
        wait_for_grid(page, "all 32 channels")
        yield page, url
        browser.close()


def main() -> None:
    with opened_dashboard() as (page, url):
        page.wait_for_timeout(800)
        page.screenshot(path=DOCS / "explore.png")
        lessons(page)
        click_tile(page, 5)  # a click on a tile opens that channel up close
        wait_for_plot(page, ".st-key-closeup .js-plotly-plot", "channel 5 ·")
        section(page, "One channel up close", "click-a-tile.png", 820)

        analysis_views(page)
        choose(page, "Layer", "conv2")
        wait_for_grid(page, "conv2 · Conv2d")
        dataset_page(page)
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
        wait_for_grid(page, "64 of 512 channels")  # a large layer opens on its 64 most active channels
        choose(page, "Normalization", "Symmetric around zero")
        wait_for_meta(page, "normalization", "symmetric")
        choose(page, "Colour map", "RdBu")
        wait_for_meta(page, "colormap", "RdBu")
        page.wait_for_timeout(800)
        page.screenshot(path=DOCS / "symmetric-512-channels.png")
        choose(page, "Layer", "fc · Linear")
        wait_for_plot(page, GRID, "fc · Linear", meta={"drawn_as": "bars"})
        page.wait_for_timeout(800)
        page.screenshot(path=DOCS / "vector-layer.png")

        page.set_viewport_size({"width": 1024, "height": 768})  # a projector
        sidebar_click(page, "Presentation (large text)")
        wait_for_meta(page, "large_text", "true")  # the rerun is over before the layer picker is opened
        choose(page, "Layer", "layer1.0.conv1 ·")
        wait_for_plot(page, GRID, "layer1.0.conv1 · Conv2d", mosaic=True, meta={"large_text": "true"})
        page.wait_for_timeout(800)
        page.screenshot(path=DOCS / "presentation.png")
        sidebar_click(page, "Presentation (large text)")
        page.set_viewport_size({"width": 1400, "height": 1250})

        use_untrained_zoo_model(page, "resnet50")
        choose(page, "Layer", "layer4.2.conv3")
        wait_for_grid(page, "64 of 2048 channels")  # the readable default; every channel one click away
        page.wait_for_timeout(800)
        page.screenshot(path=DOCS / "large-2048-channels.png")
        lesson_states(page, url)
    print("wrote", *sorted(p.name for p in DOCS.glob("*.png")))


def dataset_only() -> None:
    """`python docs/screenshots.py dataset`: retake the Dataset page's screenshot alone."""
    with opened_dashboard() as (page, _):
        choose(page, "Layer", "conv2")
        wait_for_grid(page, "conv2 · Conv2d")
        dataset_page(page)


if __name__ == "__main__":
    dataset_only() if sys.argv[1:] == ["dataset"] else main()
