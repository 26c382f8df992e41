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


STORE_GUIDE = ROOT / "docs" / "store.md"
AT = "2026-12-07T10:00:00+01:00"
"""The moment the store guide's commands run at (they read the clock otherwise): before the
orientation date the guide schedules, so its blocked line stays blocked in any year."""


def test_the_store_guide_s_python_example_runs(tmp_path: Any) -> None:
    block = python_blocks(STORE_GUIDE.read_text())[0]
    block = block.replace("sqlite:///var/lib/portal/peerflow.sqlite3", str(tmp_path / "s.db"))
    block = block.replace("datetime.now(timezone.utc)", f"datetime.fromisoformat({AT!r})")
    scope: dict[str, Any] = {}
    exec(compile(block, "docs/store.md", "exec"), scope)
    assert str(scope["state"].scheduled_date("orientation_date")) == "2027-02-01"
    assert {s.name for s in scope["steps"]} >= {"peer_learning_agreement"}


def test_the_store_guide_s_command_lines_run_in_order(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each line of the guide's shell block, on an empty store: a line whose comment starts
    with "refused" must be refused in one line, every other must succeed."""
    import shlex  # noqa: PLC0415

    from peerflow.cli import main  # noqa: PLC0415

    monkeypatch.chdir(tmp_path)
    (block,) = re.findall(r"## The command line.*?```sh\n(.*?)```", STORE_GUIDE.read_text(), re.S)
    lines = [line for line in block.splitlines() if line.strip()]
    assert len(lines) >= 12
    for line in lines:
        words = shlex.split(line, comments=True)
        assert words[0] == "peerflow"
        timed = [] if words[1] in ("import", "export") else ["--at", AT]
        code = main([*words[1:], *timed])
        _, err = capsys.readouterr()
        if line.partition("#")[2].strip().startswith("refused"):
            assert code == 1 and err.count("\n") == 1, (line, err)
        else:
            assert code == 0, (line, err)
    assert (tmp_path / "copy.sqlite3").exists()
