"""The import contract: the packages of peerflow form layers, and nothing imports upward.

docs/architecture.md draws the same layers; each package's docstring says what it may import,
and a test below holds those sentences to the contract.

Every import counts, including one inside a function (a "lazy" import hides a circle; it
does not remove it); only imports under ``if TYPE_CHECKING:`` are left out, since they never
run.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

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


# Each unit (a package, or a module directly under peerflow) and the units it may import.
# Bottom to top: the ground, the definition model and events, the engine, then the live
# programme, replay, store and checking side by side, synthetic histories, the command line.
GROUND = {"peerflow._errors", "peerflow._bulk", "peerflow._lazy"}
LOWER = {"peerflow.model", "peerflow.events", *GROUND}
ENGINE = {"peerflow.engine", *LOWER}
CONTRACT: dict[str, set[str]] = {
    "peerflow._errors": set(),
    "peerflow._bulk": set(),
    "peerflow._lazy": set(),
    "peerflow.model": {"peerflow._errors", "peerflow._lazy"},
    "peerflow.events": set(GROUND),
    "peerflow.engine": set(LOWER),
    "peerflow._programme": set(ENGINE),
    "peerflow.replay": set(ENGINE),
    "peerflow.store": set(ENGINE),
    "peerflow.checking": set(ENGINE),
    "peerflow.synthetic": {"peerflow.checking", "peerflow.replay", *ENGINE},
    "peerflow._ics": set(ENGINE),
    "peerflow.http": {"peerflow._ics", "peerflow.replay", "peerflow.store", *ENGINE},
    "peerflow.cli": {
        "peerflow._ics",
        "peerflow.http",
        "peerflow._programme",
        "peerflow.replay",
        "peerflow.store",
        "peerflow.checking",
        *ENGINE,
    },
    "peerflow.__main__": {"peerflow.cli"},
}


def unit_of(module: str) -> str:
    """``peerflow.engine._compiled`` belongs to ``peerflow.engine``."""
    return ".".join(module.split(".")[:2])


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    """Every import from one unit into another that the contract does not allow."""
    return sorted(
        f"{name} imports {dep}"
        for name, deps in edges.items()
        for dep in deps
        if unit_of(dep) != unit_of(name) and unit_of(dep) not in CONTRACT[unit_of(name)]
    )


def test_every_module_belongs_to_a_unit_of_the_contract() -> None:
    assert sorted({unit_of(name) for name in graph()} - set(CONTRACT)) == []


def test_no_module_imports_a_layer_above_its_own() -> None:
    assert upward_imports(graph()) == []


def test_the_contract_catches_an_import_that_points_up() -> None:
    """The check above can fail: the engine importing the store is refused."""
    edges = {"peerflow.engine._compiled": {"peerflow.store._store", "peerflow.model._types"}}
    assert upward_imports(edges) == ["peerflow.engine._compiled imports peerflow.store._store"]


PACKAGES = sorted(unit for unit in CONTRACT if (PACKAGE / unit.split(".")[1]).is_dir())


@pytest.mark.parametrize("unit", PACKAGES)
def test_each_package_says_what_it_owns_and_what_it_may_import(unit: str) -> None:
    """The sentence "May import: ..." in the package's docstring is the contract's row."""
    doc = importlib.import_module(unit).__doc__ or ""
    said = re.search(r"May import: (.*?)(?:\n\n|$)", doc, re.S)
    assert said, f"{unit}'s docstring does not say what it may import"
    if "anything in peerflow" in said.group(1):
        allowed = set(CONTRACT) - {unit}
    else:
        allowed = set(re.findall(r"``(peerflow[\w.]*)``", said.group(1)))
    assert allowed == CONTRACT[unit] or (unit == "peerflow.cli" and CONTRACT[unit] <= allowed)


def test_docs_architecture_names_every_package_and_nothing_else() -> None:
    """docs/architecture.md's table has one row per unit of the contract, no more, no less."""
    text = (PACKAGE.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = set(re.findall(r"^\| `(peerflow[\w.]*)`", text, re.M))
    assert rows == (set(CONTRACT) - {"peerflow.__main__"}) | {"peerflow"}
    drawing = text.split("```")[1]
    tree = {f"{p.name}/" for p in PACKAGE.iterdir() if (p / "__init__.py").exists()} | {
        p.name for p in PACKAGE.glob("*.py") if p.stem not in {"__init__", "__main__"}
    }
    assert sorted(name for name in tree if name not in drawing.split()) == []
