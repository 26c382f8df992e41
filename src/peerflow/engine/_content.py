"""Structured deliverables: the parts a submission must carry.

A learning plan without its evidence of success, or a transferability
assessment with a measure rated 4, is refused when it is submitted, so nobody
finds out months later at the report. Checking is plain data against the
definition's parts; the submission's ``content`` stays in the history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from peerflow.engine._blockers import IncompleteContent
from peerflow.model._types import Field, Part

if TYPE_CHECKING:
    from peerflow.engine._compiled import CompiledDefinition


def _filled(value: Any) -> bool:
    """A value counts as given unless it is missing, blank or an empty collection."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | dict | tuple):
        return bool(value)
    return True


def _choice_problem(path: str, value: Any, allowed: tuple[int | str, ...]) -> str | None:
    if value in allowed and not isinstance(value, bool):
        return None
    listed = ", ".join(str(a) for a in allowed)
    return f"{path}: {value!r} is not one of {listed}"


def _entry_problems(path: str, entry: Any, fields: Mapping[str, Field]) -> list[str]:
    if not isinstance(entry, Mapping):
        return [f"{path}: expected an object with {', '.join(fields)}"]
    problems = []
    for name, field in fields.items():
        value = entry.get(name)
        if not _filled(value):
            problems.append(f"{path}.{name} is missing")
        elif field.one_of is not None:
            problem = _choice_problem(f"{path}.{name}", value, field.one_of)
            if problem:
                problems.append(problem)
    return problems


def check_content(
    deliverable: str, parts: Mapping[str, Part], content: Any
) -> IncompleteContent | None:
    """What is missing or wrong in a submission's ``content``; None when it is complete.

    Every part is needed, except the ``and_or`` alternatives, of which one is enough."""
    if not parts:
        return None
    if content is not None and not isinstance(content, Mapping):
        return IncompleteContent(
            deliverable, _needed(parts), ("payload.content must be an object",)
        )
    given: Mapping[str, Any] = content or {}
    missing: list[str] = []
    problems: list[str] = []
    for name, part in parts.items():
        value = given.get(name)
        if not _filled(value):
            if not part.and_or:
                missing.append(name)
        elif part.one_of is not None:
            problem = _choice_problem(name, value, part.one_of)
            if problem:
                problems.append(problem)
        elif part.list_of is not None:
            if not isinstance(value, list):
                problems.append(f"{name}: expected a list of entries")
                continue
            for i, entry in enumerate(value):
                problems.extend(_entry_problems(f"{name}[{i}]", entry, part.list_of))
    alternatives = [name for name, part in parts.items() if part.and_or]
    if alternatives and not any(_filled(given.get(name)) for name in alternatives):
        missing.append(_one_or_more(alternatives))
    if missing or problems:
        return IncompleteContent(deliverable, tuple(missing), tuple(problems))
    return None


def _one_or_more(alternatives: list[str]) -> str:
    return "one or more of " + ", ".join(alternatives)


def _needed(parts: Mapping[str, Part]) -> tuple[str, ...]:
    """What an empty submission lacks: each required part, and one of the alternatives."""
    required = [name for name, part in parts.items() if not part.and_or]
    alternatives = [name for name, part in parts.items() if part.and_or]
    return (*required, *([_one_or_more(alternatives)] if alternatives else []))


def complete_content(definition: CompiledDefinition, deliverable: str) -> dict[str, object] | None:
    """Content carrying every part a deliverable declares (None if it declares none)."""
    parts = definition.type.deliverables[deliverable].content
    if not parts:
        return None
    content: dict[str, object] = {}
    for name, part in parts.items():
        if part.one_of is not None:
            content[name] = part.one_of[0]
        elif part.list_of is not None:
            content[name] = [
                {f: (spec.one_of[0] if spec.one_of else f) for f, spec in part.list_of.items()}
            ]
        else:
            content[name] = name
    return content
