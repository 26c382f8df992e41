"""Which tests prove which rules: the ``@pytest.mark.rule("PM-05", ...)`` marks, read from source.

Read with ``ast`` rather than by collecting, so that docs/traceability.md's test and the
definition mutation runner (tools/mutate_definitions.py) can ask without running pytest.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _rule_ids(decorator: ast.expr) -> list[str]:
    """The ids of a ``pytest.mark.rule(...)`` decorator; [] for any other decorator."""
    if not isinstance(decorator, ast.Call):
        return []
    func = decorator.func
    if not (isinstance(func, ast.Attribute) and func.attr == "rule"):
        return []
    mark = func.value
    if not (isinstance(mark, ast.Attribute) and mark.attr == "mark"):
        return []
    return [
        a.value for a in decorator.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
    ]


def marked_tests(tests: Path = TESTS) -> dict[str, tuple[str, ...]]:
    """``file.py::test_name`` -> the rule ids it is marked with (only marked tests)."""
    found: dict[str, tuple[str, ...]] = {}
    for path in sorted(tests.glob("test_*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                ids = [i for d in node.decorator_list for i in _rule_ids(d)]
                if ids:
                    found[f"{path.name}::{node.name}"] = tuple(ids)
    return found


def tests_by_rule(tests: Path = TESTS) -> dict[str, list[str]]:
    """Rule id -> the tests marked with it."""
    index: dict[str, list[str]] = defaultdict(list)
    for test, ids in marked_tests(tests).items():
        for rule in ids:
            index[rule].append(test)
    return dict(index)
