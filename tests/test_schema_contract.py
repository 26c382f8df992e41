"""One contract for definitions: the published JSON Schema and the loader give the same verdict.

Each variant changes one thing in a small valid definition and is fed to both. Shape is the
schema's to say, and the loader must agree both ways; a few rules of meaning cannot be said in
JSON Schema at all (comparing two fields, the time zone database) and are listed with why.

JSON (and so JSON Schema) cannot tell ``1.0`` from ``1``; the schema's integers are whole
numbers written without a point, so the validator here is told that a float is no integer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import peerflow
from peerflow.model._source import read_yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json.loads((ROOT / "docs" / "definition.schema.json").read_text())

BASE = """\
id: tiny
version: 1
title: Tiny
timezone: Europe/Brussels
country: BE
waivable_by: [lead]
roles:
  lead: {}
  member: {min: 1, max: 3}
deliverables:
  report: {title: Report, owed_by: member}
states:
  open: {}
  done: {terminal: true}
initial: open
transitions:
  - event: finish
    from: open
    to: done
    by: lead
    requires: [report]
    window: {closes: {after: start, days: 10}}
budget:
  paid_by: lead
  roles:
    member:
      items:
        travel: {cap: 500}
"""

# (description, text to find, text to put instead, valid?)
VARIANTS: list[tuple[str, str, str, bool]] = [
    ("the base", "", "", True),
    ("version 1.0", "version: 1", "version: 1.0", False),
    ("version 0", "version: 1", "version: 0", False),
    ("days 2.0", "days: 10", "days: 2.0", False),
    ("days -1", "days: 10", "days: -1", False),
    # at most 100 years in any unit, so every window is a real date (8000 years overflowed)
    ("days 100 years", "days: 10", "days: 36500", True),
    ("days over 100 years", "days: 10", "days: 36501", False),
    ("years 100", "days: 10", "years: 100", True),
    ("years 8000", "days: 10", "years: 8000", False),
    ("months over 100 years", "days: 10", "months: 1201", False),
    ("weeks over 100 years", "days: 10", "weeks: 5201", False),
    ("working days mixed with days", "days: 10", "days: 10, working_days: 5", False),
    ("working days alone", "days: 10", "working_days: 5", True),
    ("working days 0 beside days", "days: 10", "days: 10, working_days: 0", True),
    ("an empty window", "window: {closes: {after: start, days: 10}}", "window: {}", False),
    (
        "a window that only opens",
        "{closes: {after: start, days: 10}}",
        "{opens: {after: start}}",
        True,
    ),
    (
        "a window on the day of the start",
        "{closes: {after: start, days: 10}}",
        "{day_of: start}",
        True,
    ),
    (
        "a day_of window that also closes",
        "{closes: {after: start, days: 10}}",
        "{day_of: start, closes: {after: start}}",
        False,
    ),
    ("a day_of that is not a name", "{closes: {after: start, days: 10}}", "{day_of: 3}", False),
    (
        "a deadline with its rules inside",
        "title: Tiny",
        "title: Tiny\ndeadline: {after: start, months: 9, rules: [X-1]}",
        True,
    ),
    (
        "a deadline's rules written twice",
        "title: Tiny",
        "title: Tiny\ndeadline: {after: start, months: 9, rules: [X-1]}\ndeadline_rules: [X-1]",
        False,
    ),
    (
        "deadline_rules beside a deadline without rules",
        "title: Tiny",
        "title: Tiny\ndeadline: {after: start, months: 9}\ndeadline_rules: [X-1]",
        True,
    ),
    ("a bound with no anchor", "{after: start, days: 10}", "{days: 10}", False),
    (
        "a bound with two anchors",
        "{after: start, days: 10}",
        "{after: start, before: start}",
        False,
    ),
    ("by: []", "by: lead", "by: []", False),
    ("by a single name", "by: lead", "by: [lead]", True),
    (
        "transitions: []",
        BASE[BASE.index("transitions:") : BASE.index("budget:")],
        "transitions: []\n",
        False,
    ),
    ("an unknown top-level key", "title: Tiny", "title: Tiny\ncolour: blue", False),
    ("a cap of '1e3'", "cap: 500", "cap: '1e3'", False),
    ("a cap of ' 92.50'", "cap: 500", "cap: ' 92.50'", False),
    ("a cap of '-5'", "cap: 500", "cap: '-5'", False),
    ("a cap of '92.50'", "cap: 500", "cap: '92.50'", True),
    ("a cap of 92.5", "cap: 500", "cap: 92.5", True),
    ("a cap of true", "cap: 500", "cap: true", False),
    ("max null", "max: 3", "max: null", True),
    ("max 0", "max: 3", "max: 0", False),
    ("min -1", "min: 1", "min: -1", False),
    ("a boolean that is yes", "done: {terminal: true}", "done: {terminal: yes}", False),
    ("an event name with a hyphen", "event: finish", "event: fin-ish", False),
    ("a missing 'to'", "    to: done\n", "", False),
]

# Rules of meaning JSON Schema cannot express: the loader refuses, the schema cannot.
MEANING_ONLY: list[tuple[str, str, str, str]] = [
    ("min above max", "min: 1, max: 3", "min: 4, max: 3", "compares two fields"),
    ("an unknown time zone", "Europe/Brussels", "Europe/Gotham", "the tz database is data"),
    ("an unknown country", "country: BE", "country: XX", "the holidays package's list"),
    ("an unknown role in by", "by: lead", "by: leader", "names refer to other keys"),
    (
        "an unreachable state",
        "  done: {terminal: true}",
        "  done: {terminal: true}\n  lost: {}",
        "graph",
    ),
]


def _validator() -> Any:
    whole = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    )
    kind = jsonschema.validators.extend(jsonschema.Draft202012Validator, type_checker=whole)
    return kind(SCHEMA)


def _text(old: str, new: str) -> str:
    if not old:
        return BASE
    assert old in BASE, old
    return BASE.replace(old, new, 1)


def _loader_accepts(text: str) -> bool:
    try:
        peerflow.model.parse_definition(text, "variant.yaml")
    except peerflow.DefinitionError:
        return False
    return True


def _schema_accepts(text: str) -> bool:
    data, _, problems = read_yaml(text)
    assert not problems, problems
    return not list(_validator().iter_errors(data))


@pytest.mark.parametrize(
    ("old", "new", "valid"), [v[1:] for v in VARIANTS], ids=[v[0] for v in VARIANTS]
)
def test_the_schema_and_the_loader_agree(old: str, new: str, valid: bool) -> None:
    text = _text(old, new)
    assert (_schema_accepts(text), _loader_accepts(text)) == (valid, valid)


@pytest.mark.parametrize(
    ("old", "new"), [v[1:3] for v in MEANING_ONLY], ids=[v[0] for v in MEANING_ONLY]
)
def test_rules_of_meaning_are_the_loader_s(old: str, new: str) -> None:
    text = _text(old, new)
    assert _schema_accepts(text) and not _loader_accepts(text)


def test_every_built_in_definition_keeps_the_schema() -> None:
    for path in peerflow.builtin_files().values():
        data, _, _ = read_yaml(path.read_text())
        assert not list(_validator().iter_errors(data)), path.name
