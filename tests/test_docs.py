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
from peerflow.model import _types as _model

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


# Spellings a file may use that the loader turns into fields: 'day_of: X' into a window's opens
# and closes, a deadline's 'rules' into deadline_rules.
@pytest.mark.parametrize(
    ("cls", "schema_def", "written"),
    [
        (_model.ProgrammeType, SCHEMA, set()),
        (_model.Bound, SCHEMA["$defs"]["bound"], set()),
        (_model.Window, SCHEMA["$defs"]["window"], {"day_of"}),
        (_model.Bound, SCHEMA["$defs"]["deadline"], {"rules"}),
        (_model.State, SCHEMA["$defs"]["state"], set()),
        (_model.Role, SCHEMA["$defs"]["role"], set()),
        (_model.Deliverable, SCHEMA["$defs"]["deliverable"], set()),
        (_model.ScheduledDate, SCHEMA["$defs"]["date"], set()),
        (_model.Transition, SCHEMA["$defs"]["transition"], set()),
        (_model.Part, SCHEMA["$defs"]["part"], set()),
        (_model.Field, SCHEMA["$defs"]["field"], set()),
        (_model.CostItem, SCHEMA["$defs"]["cost_item"], set()),
        (_model.RoleBudget, SCHEMA["$defs"]["role_budget"], set()),
        (_model.Budget, SCHEMA["$defs"]["budget"], set()),
    ],
)
def test_schema_names_exactly_the_model_fields(
    cls: type, schema_def: dict[str, Any], written: set[str]
) -> None:
    renamed = {"source": "from", "dest": "to"} if cls is _model.Transition else {}
    fields = {renamed.get(f.name, f.name) for f in attrs.fields(cls)}
    assert set(schema_def["properties"]) == fields | written
    required = {
        renamed.get(f.name, f.name) for f in attrs.fields(cls) if f.default is attrs.NOTHING
    }
    assert set(schema_def.get("required", [])) == required


PAGES = ROOT / "docs" / "programmes"


@pytest.mark.parametrize("definition_id", sorted(peerflow.builtin_files()))
def test_programme_page_is_what_the_command_generates(
    definition_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from peerflow.cli import main  # noqa: PLC0415

    assert main(["show", definition_id, "--format", "markdown"]) == 0
    generated = capsys.readouterr().out
    page = PAGES / f"{definition_id}.md"
    assert page.is_file(), f"no page: run peerflow show {definition_id} --format markdown > {page}"
    assert page.read_text() == generated, (
        f"{page} is out of date: run peerflow show {definition_id} --format markdown > {page}"
    )


def test_every_programme_page_has_its_definition() -> None:
    assert {p.stem for p in PAGES.glob("*.md")} == set(peerflow.builtin_files())
