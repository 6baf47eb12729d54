"""The layout docs/architecture.md describes: core without Streamlit, pages without torch, page scripts alone
in pages/, and a UI package without import cycles."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports resolved against its package)."""
    package = path.parent.name
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package if node.module is None else f"{package}.{node.module}"
                names.update(f"{base}.{alias.name}" if node.module is None else base for alias in node.names)
            elif node.module:
                names.add(node.module)
    return names


def test_featviz_core_knows_nothing_of_streamlit():
    for path in (ROOT / "featviz_core").rglob("*.py"):
        assert not {name for name in _imports(path) if name.split(".")[0] == "streamlit"}, path


def test_pages_never_import_torch():
    for path in [ROOT / "app.py", *(ROOT / "pages").glob("*.py")]:
        assert not {name for name in _imports(path) if name.split(".")[0] in ("torch", "torchvision")}, path


def test_pages_holds_only_the_page_scripts_the_app_lists():
    listed = set(re.findall(r'st\.Page\("(pages/[a-z_]+\.py)"', (ROOT / "app.py").read_text()))
    present = {f"pages/{path.name}" for path in (ROOT / "pages").glob("*.py")}
    assert listed == present
    for path in (ROOT / "pages").glob("*.py"):
        assert not {name for name in _imports(path) if name.startswith("pages")}, f"{path.name} imports another page"


def test_the_ui_package_has_no_import_cycle():
    modules = {path.stem: path for path in (ROOT / "featviz_ui").glob("*.py") if path.stem != "__init__"}
    graph = {
        name: {imported.split(".")[1] for imported in _imports(path) if imported.startswith("featviz_ui.")}
        & set(modules)
        for name, path in modules.items()
    }
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, f"import cycle: {' → '.join((*trail, name))}"
        if name not in done:
            for child in graph[name]:
                visit(child, (*trail, name))
            done.add(name)

    for name in graph:
        visit(name, ())
