"""The Lessons page in Chromium, as a teacher uses it: from the first screen, through every lesson with the
keyboard (PageDown, what a presentation clicker sends), an answer revealed on a click, and a lesson opened in
the dashboard."""

from __future__ import annotations

import pytest

from featviz_core.lessons import LESSONS, lesson_by_key
from tests.support.browser import TIMEOUT_MS, dashboard, settle, settled_texts, wait_for_grid, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]
HEADER = '[data-testid="stMain"] h2'


def lesson_heading(page) -> str:
    return settled_texts(page, HEADER)[0]


def test_walk_through_every_lesson_and_open_one(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = context.new_page()
    try:
        page.goto(app_url)
        wait_for_grid(page, "conv1 · Conv2d", TIMEOUT_MS)
        page.get_by_role("link", name="Lessons: what these maps are").click()
        page.get_by_text("1 · Output shape").first.wait_for(timeout=TIMEOUT_MS)
        seen = [lesson_heading(page)]
        for _ in LESSONS[1:]:
            wait_until_idle(page)
            page.locator(HEADER).first.click()  # focus on the page, not in a widget
            page.keyboard.press("PageDown")
            page.wait_for_function("([selector, before]) => { const h = document.querySelector(selector); "
                                   "return h && h.textContent !== before; }", arg=[HEADER, seen[-1]],
                                   timeout=TIMEOUT_MS)
            seen.append(lesson_heading(page))
        assert [heading.split(" · ")[0] for heading in seen] == [str(i + 1) for i in range(len(LESSONS))]
        assert [heading.split(" · ", 1)[1] for heading in seen] == [lesson.title for lesson in LESSONS]

        page.keyboard.press("PageUp")  # back one, to the sparse-activations lesson
        sparse = lesson_by_key("sparse")
        page.get_by_role("heading", name=f"{LESSONS.index(sparse) + 1} · {sparse.title}").wait_for(timeout=TIMEOUT_MS)
        page.get_by_text("Show the answer").click()
        page.get_by_text(sparse.answer[:60]).wait_for(timeout=TIMEOUT_MS)  # revealed on the click
        page.get_by_role("button", name=f"Open in the dashboard: {sparse.title}").click()
        wait_for_grid(page, f"{sparse.state['layer']} · ReLU", TIMEOUT_MS)
        assert "layer=relu2" in page.url  # the dashboard's own link now says where it is
    finally:
        context.close()


def test_a_link_to_the_presenter_view_on_a_fresh_server_fills_a_projector(browser, tmp_path):
    """The first visitor of a freshly started dashboard opens a bookmarked lesson link on a 1024×768 projector:
    the page runs inside the app (its navigation, not the pages folder's file names), with no sidebar, in large
    type, the whole lesson on one screen, and PageDown goes on."""
    early = lesson_by_key("early-vs-deep")
    number = LESSONS.index(early) + 1
    with dashboard(tmp_path) as url:
        context = browser.new_context(viewport={"width": 1024, "height": 768})
        page = context.new_page()
        try:
            page.goto(f"{url}/lessons?presenter=true&lesson={early.key}")
            page.get_by_role("heading", name=f"{number} · {early.title}").wait_for(timeout=TIMEOUT_MS)
            wait_until_idle(page)
            nav = settle(page, "() => document.querySelector('[data-testid=stSidebarNav]')?.textContent ?? ''")
            assert "Feature maps" in nav and "Lessons" in nav and "trained vs untrained" not in nav
            assert not page.locator('[data-testid="stSidebar"]').is_visible()  # the whole screen is the lesson's
            sizes = settle(page, "(s) => [...document.querySelectorAll(s)]"
                                 ".map(e => parseFloat(getComputedStyle(e).fontSize))",
                           HEADER + ', [data-testid="stMain"] [data-testid="stMarkdownContainer"] p')
            heading = settle(page, "(s) => parseFloat(getComputedStyle(document.querySelector(s)).fontSize)", HEADER)
            assert heading >= 32 and min(sizes) >= 24, (heading, sizes)
            question = page.get_by_text(early.question).bounding_box()
            assert question["y"] + question["height"] <= 768  # the question is on the screen, not below it
            page.locator(HEADER).first.click()
            page.keyboard.press("PageDown")
            page.get_by_role("heading", name=f"{number + 1} · {LESSONS[number].title}").wait_for(timeout=TIMEOUT_MS)
            assert "presenter=true" in page.url
        finally:
            context.close()
