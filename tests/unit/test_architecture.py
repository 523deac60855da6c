"""The package's rooms: each imports only the rooms below it, and no module imports lead back to themselves."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "edshook"

ALLOWED = {
    "errors": set(),
    "records": set(),
    "policies": set(),
    "models": {"errors"},
    "data": {"errors"},
    "interventions": {"errors", "policies"},
    "judges": {"errors", "records", "models", "data", "interventions"},
    "backends": {"errors", "models", "interventions"},
    "baselines": {"errors", "models", "data", "interventions", "backends"},
    "training": {"errors", "models", "data", "interventions", "judges", "backends"},
    "evaluation": {
        "errors",
        "records",
        "models",
        "data",
        "interventions",
        "judges",
        "backends",
        "baselines",
        "training",
    },
}
"""Room -> the rooms it may import (docs/architecture.md); ``cli``, ``demo`` and the package root may import any."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every edshook module ``path`` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("edshook"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("edshook"))
    return found


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


GRAPH = {module_name(path): imports(path) for path in PACKAGE.rglob("*.py")}


def test_every_room_imports_only_rooms_below_it():
    wrong = [
        f"{source} imports {target}"
        for source, targets in GRAPH.items()
        for target in targets
        if room(source) in ALLOWED and room(target) != room(source) and room(target) not in ALLOWED[room(source)]
    ]
    assert wrong == []
    assert set(ALLOWED) | {"cli", "demo", ""} == {room(module) for module in GRAPH}, "every room is in the table"


def test_no_import_cycles():
    """Depth-first search over module imports; a package import counts as an import of its __init__."""
    state: dict[str, str] = {}
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(GRAPH.get(module, ())):
            if target not in GRAPH:
                continue
            if state.get(target) == "open":
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_files_stay_short():
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > 300
    }
    assert long == {}, "split files over 300 lines into rooms with one job each"
