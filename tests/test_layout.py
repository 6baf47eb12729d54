"""The layout docs/architecture.md describes: core without Streamlit, pages without torch, page scripts alone
in pages/, featviz_core in rooms that import only rooms below them, no import circle anywhere, what flows
between rooms below the code that makes it and the code that draws it, private APIs in one place only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("featviz_core", "featviz_ui")

FOUNDATION = {"settings", "errors", "_torch_private", "_per_model"}
"""Top-level modules of featviz_core that any room may import; they import no room."""
INPUTS = {"images", "samples", "datasets"}
"""Top-level modules for images and collections of them; above the foundation, below every room but these."""
ROOMS: dict[str, set[str]] = {
    "activations": set(),
    "recording": set(),
    "models": {"recording"},
    "capturing": {"activations", "recording", "models"},
    "draw": {"activations", "models"},
    "analysis": {"activations", "recording", "models", "capturing", "draw"},
    "scan": {"activations", "recording", "models", "capturing", "draw", "analysis"},
}
"""Each room of featviz_core and the rooms it may import (besides the foundation and, for models and above, the
inputs). Drawing never imports the capture machinery: both meet in ``activations``."""
ROOMS_WITH_INPUTS = {"models", "capturing", "draw", "analysis", "scan"}
PRIVATE_API_HOME = "featviz_core/_torch_private.py"


def _modules() -> dict[str, Path]:
    """Dotted module name → file, for every module of featviz_core and featviz_ui (a package by its __init__)."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(path: Path) -> set[str]:
    """Absolute names a file imports, relative imports resolved against its package; ``from a import b`` gives
    ``a.b``. Function-level and type-only imports count: each is a dependency all the same."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _resolved(name: str, modules: dict[str, Path]) -> str | None:
    """The featviz module an imported name lives in (``featviz_core.draw.channel_grid`` → ``featviz_core.draw``)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _graph() -> dict[str, set[str]]:
    """Module → the featviz modules it imports, with the packages Python runs on the way (importing ``a.b.c``
    runs ``a.b``'s ``__init__`` first), except the importer's own packages, which are already running."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for imported in _imports(path):
            target = _resolved(imported, modules)
            if target is None or target == name:
                continue
            edges.add(target)
            parts = target.split(".")
            for i in range(1, len(parts)):
                parent = ".".join(parts[:i])
                if parent in modules and not name.startswith(parent + ".") and parent != name:
                    edges.add(parent)
        graph[name] = edges
    return graph


def _room(module: str) -> str:
    """featviz_core's room of a module: a subpackage's name, or the top-level module's own name."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "featviz_core"


def test_featviz_core_knows_nothing_of_streamlit():
    for path in (ROOT / "featviz_core").rglob("*.py"):
        assert not {name for name in _imports(path) if name.split(".")[0] == "streamlit"}, path


def test_pages_never_import_torch():
    for path in [ROOT / "app.py", *(ROOT / "pages").glob("*.py")]:
        assert not {name for name in _imports(path) if name.split(".")[0] in ("torch", "torchvision")}, path


def test_pages_holds_only_the_page_scripts_the_app_lists():
    from featviz_ui.navigation import PAGES

    assert "navigation.pages()" in (ROOT / "app.py").read_text().replace("st.navigation(pages())", "navigation.pages()")
    listed = {script for script, _, _ in PAGES}
    present = {f"pages/{path.name}" for path in (ROOT / "pages").glob("*.py")}
    assert listed == present
    for path in (ROOT / "pages").glob("*.py"):
        assert not {name for name in _imports(path) if name.startswith("pages")}, f"{path.name} imports another page"


def test_there_is_no_import_circle_in_featviz_core_or_featviz_ui():
    graph = _graph()
    done: set[str] = set()

    def visit(name: str, trail: tuple[str, ...]) -> None:
        assert name not in trail, f"import circle: {' → '.join((*trail, name))}"
        if name not in done:
            for child in sorted(graph[name]):
                visit(child, (*trail, name))
            done.add(name)

    for name in sorted(graph):
        visit(name, ())


def test_featviz_core_is_in_rooms_with_their_internals_private():
    modules = _modules()
    rooms = {name.split(".")[1] for name, path in modules.items()
             if name.startswith("featviz_core.") and path.name == "__init__.py"}
    assert rooms == set(ROOMS)
    top = {name.split(".")[1] for name in modules
           if name.startswith("featviz_core.") and name.count(".") == 1 and name.split(".")[1] not in ROOMS}
    assert top <= FOUNDATION | INPUTS | {"__main__", "cache", "export", "lessons"}, "a new top-level module: a room?"
    for name in modules:
        parts = name.split(".")
        if parts[0] == "featviz_core" and len(parts) == 3:  # a room's module
            assert parts[2].startswith("_") or parts[2] == "train_digits", f"{name}: internal modules are _private"
            init = (ROOT / "featviz_core" / parts[1] / "__init__.py").read_text()
            assert "__all__" in init, f"{parts[1]}/__init__.py names the room's public API"


def test_each_room_imports_only_rooms_below_it():
    for name, edges in _graph().items():
        if not name.startswith("featviz_core.") or _room(name) not in ROOMS:
            if name.startswith("featviz_core.") and _room(name) in FOUNDATION:
                assert not {_room(e) for e in edges} - FOUNDATION, f"{name}: the foundation imports no room"
            continue
        room = _room(name)
        allowed = ROOMS[room] | FOUNDATION | {room} | (INPUTS if room in ROOMS_WITH_INPUTS else set())
        reached = {_room(edge) for edge in edges if edge.startswith("featviz_core.")}
        assert reached <= allowed, f"{name} imports {sorted(reached - allowed)}, above or beside its room"


def test_only_the_core_s_rooms_public_names_are_used_outside_it():
    """The UI, the pages and the app import featviz_core's rooms by their public names, never a ``_module``."""
    for path in [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "featviz_ui").rglob("*.py")]:
        private = {name for name in _imports(path)
                   if name.startswith("featviz_core.") and any(p.startswith("_") for p in name.split(".")[1:-1])}
        assert not private, f"{path.relative_to(ROOT)} imports featviz_core internals: {sorted(private)}"


def test_private_apis_of_torch_torchvision_and_streamlit_are_used_in_one_module_only():
    # featviz's own ``_featviz...`` attributes (kept on torch.library across module reloads) are not torch's
    library = re.compile(r"\b(torch|torchvision|streamlit|st)((?:\.[A-Za-z0-9]+)*)\._(?!featviz)[A-Za-z]")
    for package in (*PACKAGES, "pages"):
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if relative == PRIVATE_API_HOME:
                continue
            text = path.read_text()
            imported = {name for name in _imports(path)
                        if name.split(".")[0] in ("torch", "torchvision", "streamlit")
                        and any(part.startswith("_") for part in name.split(".")[:-1])}
            assert not imported, f"{relative} imports private modules: {sorted(imported)}"
            assert not library.search(text), f"{relative} reaches into a private attribute: {library.search(text)[0]}"
    for path in [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "featviz_ui").rglob("*.py")]:
        # ``import streamlit`` and its documented custom components; anything else of it is internal
        inside = {name for name in _imports(path) if name.startswith("streamlit.")
                  and not name.startswith("streamlit.components.v2")}
        assert not inside, f"{path.relative_to(ROOT)} imports Streamlit internals: {sorted(inside)}"
