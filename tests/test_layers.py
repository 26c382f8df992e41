"""The modules of peerflow import each other without circles (issue 15 adds the layers).

Every import counts, including one inside a function (a "lazy" import hides a circle; it
does not remove it); only imports under ``if TYPE_CHECKING:`` are left out, since they never
run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import peerflow

PACKAGE = Path(peerflow.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The peerflow modules ``path`` imports when it runs."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("peerflow"):
            if node.module == "peerflow":  # from peerflow import _calendar
                found.update(f"peerflow.{alias.name}" for alias in node.names)
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("peerflow."))
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {
        name: {m for m in imports_of(path) if m in modules and m != name}
        for name, path in modules.items()
        if name != "peerflow"  # the namespace gathers everything; nothing imports it back
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each circle once, found by depth-first search from every module."""
    found: list[list[str]] = []
    seen_sets: set[frozenset[str]] = set()

    def walk(node: str, path: list[str]) -> None:
        for nxt in sorted(edges.get(node, ())):
            if nxt in path:
                circle = path[path.index(nxt) :]
                if frozenset(circle) not in seen_sets:
                    seen_sets.add(frozenset(circle))
                    found.append([*circle, nxt])
            elif len(path) < len(edges):
                walk(nxt, [*path, nxt])

    for start in sorted(edges):
        walk(start, [start])
    return found


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert cycles(graph()) == []


def test_the_circle_finder_finds_a_circle() -> None:
    """The check above can fail: a made-up circle of three is found."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_nothing_in_the_library_imports_the_namespace_or_the_command_line() -> None:
    """The command line is the roof: no module below it imports it (or the namespace)."""
    upward = {
        name: sorted(m for m in deps if m in {"peerflow", "peerflow.cli"})
        for name, deps in graph().items()
        if name != "peerflow.cli"
    }
    assert {name: deps for name, deps in upward.items() if deps} == {}
