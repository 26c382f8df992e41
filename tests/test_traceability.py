"""docs/traceability.md covers every rule, names real tests, and the definitions tag real rules."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml
from rule_marks import marked_tests

import peerflow

ROOT = Path(__file__).resolve().parents[1]
SHARED_RULES = ROOT.parent / "shared" / "seed-rules.md"
RULES_COPY = ROOT / "docs" / "sources" / "seed-rules.md"
TRACEABILITY = (ROOT / "docs" / "traceability.md").read_text()
RULE_ID = re.compile(r"\b[A-Z]{2}-\d\d\b")


def rule_ids() -> list[str]:
    return re.findall(r"^- ([A-Z]{2}-\d\d) ", RULES_COPY.read_text(), flags=re.M)


def rows() -> dict[str, list[str]]:
    found = {}
    for line in TRACEABILITY.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and RULE_ID.fullmatch(cells[0]):
            found[cells[0]] = cells
    return found


def test_the_copy_of_the_rules_is_current() -> None:
    if not SHARED_RULES.exists():
        pytest.skip(f"{SHARED_RULES} is not beside this checkout; the copy is checked where it is")
    assert RULES_COPY.read_text() == SHARED_RULES.read_text()


def test_every_rule_has_a_row_with_an_element_and_a_test() -> None:
    ids = rule_ids()
    assert len(ids) == 60
    table = rows()
    missing = [i for i in ids if i not in table]
    assert not missing, f"rules without a row in docs/traceability.md: {missing}"
    for rule, cells in table.items():
        assert rule in ids, f"row for unknown rule {rule}"
        assert ".yaml" in cells[1], f"{rule}: no definition element named"
        assert "::test_" in cells[2], f"{rule}: no test named"


def _test_functions() -> set[str]:
    names = set()
    for path in (ROOT / "tests").glob("test_*.py"):
        tree = ast.parse(path.read_text())
        names |= {
            f"{path.name}::{node.name}"
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
        }
    return names


def test_every_named_test_carries_the_mark_of_its_rule() -> None:
    """A row cites only tests marked ``@pytest.mark.rule(<its rule>)``: what the mutation
    runner (tools/mutate_definitions.py) runs against that rule's mutants."""
    marks = marked_tests()
    for rule, cells in rows().items():
        for test in re.findall(r"`(test_\w+\.py::test_\w+)`", cells[2]):
            assert rule in marks.get(test, ()), f"{rule}: {test} is not marked with the rule"


def test_every_named_test_exists() -> None:
    named = set(re.findall(r"`(test_\w+\.py::test_\w+)`", TRACEABILITY))
    unknown = named - _test_functions()
    assert not unknown, f"docs/traceability.md names tests that do not exist: {sorted(unknown)}"


def test_every_named_definition_file_exists() -> None:
    files = set(re.findall(r"`([a-z-]+\.yaml):", TRACEABILITY))
    assert files == {f"{i}.yaml" for i in peerflow.builtin_files()}


def _tags(node: object) -> list[str]:
    if isinstance(node, dict):
        return [
            tag
            for key, value in node.items()
            for tag in (value if key in ("rules", "deadline_rules") else _tags(value))
        ]
    if isinstance(node, list):
        return [tag for item in node for tag in _tags(item)]
    return []


@pytest.mark.parametrize("path", sorted(peerflow.builtin_files().values()), ids=lambda p: p.stem)
def test_definitions_tag_only_known_rules(path: Path) -> None:
    unknown = set(_tags(yaml.safe_load(path.read_text()))) - set(rule_ids())
    assert not unknown, f"{path.name} tags unknown rule ids {sorted(unknown)}"
