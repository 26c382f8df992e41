"""The docs stay true: the README's example runs, the JSON Schema matches the model."""

from __future__ import annotations

import json
import re
from typing import Any

import attrs
import jsonschema
import pytest
import yaml
from conftest import ROOT

import peerflow
from peerflow import _model

SCHEMA = json.loads((ROOT / "docs" / "definition.schema.json").read_text())


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    (block,) = python_blocks((ROOT / "README.md").read_text())
    exec(compile(block, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "missing_deliverable" in out  # the mentee has not signed yet


def test_readme_starts_with_the_two_commands() -> None:
    commands = re.findall(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(), flags=re.S)
    assert commands[0].endswith("peerflow demo")
    assert commands[1].endswith(".venv/bin/pytest")
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("path", sorted(peerflow.builtin_files().values()), ids=lambda p: p.stem)
def test_builtin_definitions_match_the_schema(path: Any) -> None:
    jsonschema.validate(yaml.safe_load(path.read_text()), SCHEMA)


@pytest.mark.parametrize(
    ("cls", "schema_def"),
    [
        (_model.ProgrammeType, SCHEMA),
        (_model.Bound, SCHEMA["$defs"]["bound"]),
        (_model.Window, SCHEMA["$defs"]["window"]),
        (_model.State, SCHEMA["$defs"]["state"]),
        (_model.Role, SCHEMA["$defs"]["role"]),
        (_model.Deliverable, SCHEMA["$defs"]["deliverable"]),
        (_model.ScheduledDate, SCHEMA["$defs"]["date"]),
        (_model.Transition, SCHEMA["$defs"]["transition"]),
        (_model.Part, SCHEMA["$defs"]["part"]),
        (_model.Field, SCHEMA["$defs"]["field"]),
        (_model.CostItem, SCHEMA["$defs"]["cost_item"]),
        (_model.RoleBudget, SCHEMA["$defs"]["role_budget"]),
        (_model.Budget, SCHEMA["$defs"]["budget"]),
    ],
)
def test_schema_names_exactly_the_model_fields(cls: type, schema_def: dict[str, Any]) -> None:
    renamed = {"source": "from", "dest": "to"} if cls is _model.Transition else {}
    fields = {renamed.get(f.name, f.name) for f in attrs.fields(cls)}
    assert set(schema_def["properties"]) == fields
    required = {
        renamed.get(f.name, f.name) for f in attrs.fields(cls) if f.default is attrs.NOTHING
    }
    assert set(schema_def.get("required", [])) == required
