"""The docs as a newcomer reads them: a short README, every module named in docs/architecture.md's table, and
every link and image in README.md and docs/*.md pointing at a file (and a heading) that exists."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
README_MAX_BYTES = 16 * 1024

LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^()\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", flags=re.S | re.M)


def _modules() -> list[str]:
    """Every Python module of featviz_core and featviz_ui, as a path from the repository root."""
    found = [*ROOT.glob("featviz_core/**/*.py"), *ROOT.glob("featviz_ui/**/*.py")]
    return sorted(path.relative_to(ROOT).as_posix() for path in found if "__pycache__" not in path.parts)


def _architecture_table() -> set[str]:
    """The module paths named in the first cell of a table row of docs/architecture.md."""
    named = set()
    for line in ARCHITECTURE.read_text(encoding="utf-8").splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2:
            named.update(re.findall(r"`((?:featviz_core|featviz_ui)/[\w/]+\.py)`", cells[1]))
    return named


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())  # a link in a heading: its text
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    anchors: set[str] = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, flags=re.M):
        slug, n = _slug(heading), 0
        while (slug if n == 0 else f"{slug}-{n}") in anchors:
            n += 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def _links(path: Path) -> list[str]:
    """Every link and image target in a Markdown file, outside code blocks and inline code."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`\n]*`", "``", text)
    return LINK.findall(text)


def test_the_readme_is_short():
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes; move detail to docs/ (limit {README_MAX_BYTES})"


def test_every_module_is_in_the_architecture_table():
    named = _architecture_table()
    missing = [module for module in _modules() if module not in named]
    assert not missing, f"add a row to docs/architecture.md's table for: {', '.join(missing)}"


def test_the_architecture_table_names_no_module_that_is_gone():
    gone = sorted(module for module in _architecture_table() if not (ROOT / module).is_file())
    assert not gone, f"docs/architecture.md's table names modules that do not exist: {', '.join(gone)}"


def test_every_relative_link_and_image_resolves():
    broken = []
    for page in DOCS:
        for target in _links(page):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: are not checked here
                continue
            file_part, _, anchor = target.partition("#")
            resolved = (page.parent / unquote(file_part)).resolve() if file_part else page
            where = f"{page.relative_to(ROOT).as_posix()}: {target}"
            if not resolved.exists():
                broken.append(f"{where} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                broken.append(f"{where} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_every_docs_page_links_back_to_the_readme():
    for page in DOCS[1:]:
        lines = [line for line in page.read_text(encoding="utf-8").splitlines() if line.strip()]
        assert lines[0].startswith("# "), page.name
        assert "../README.md" in lines[1], f"{page.name}: its one-line summary should link back to the README"


def test_the_readme_links_every_docs_page():
    linked = {target.partition("#")[0] for target in _links(ROOT / "README.md")}
    unlinked = [page.name for page in DOCS[1:] if f"docs/{page.name}" not in linked]
    assert not unlinked, f"the README links no page for: {', '.join(unlinked)}"
