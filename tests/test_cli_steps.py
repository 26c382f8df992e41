"""Facilitators take every step at the command line: each shipped example (PROSPECT with a
waiver and claims and payments, a MiA peer group that peers join, a site visit, ...) is run
from `peerflow new` to its end purely through commands built from its recorded events, and
the store must then hold exactly the recorded history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import peerflow
from peerflow import Event
from peerflow.cli import main
from peerflow.engine._registry import example_path
from peerflow.store import open_store


def _history(definition_id: str) -> list[Event]:
    return [e for _, e in peerflow.read_history(example_path(definition_id))]


def _claim_options(payload: dict[str, object]) -> list[str]:
    argv: list[str] = []
    for item in payload["items"]:  # type: ignore[attr-defined]
        name = item["item"]
        argv += ["--item", f"{name}:{item['amount']}" if "amount" in item else name]
        argv += [f"--receipt={name}:{r}" for r in item.get("receipts", ())]
        argv += [f"--{unit}={name}:{item[unit]}" for unit in ("days", "nights") if unit in item]
    for key in ("claim", "invoice_date", "bank_details"):
        if key in payload:
            argv.append(f"--{key.replace('_', '-')}={payload[key]}")
    if payload.get("accept_cap"):
        argv.append("--accept-cap")
    return argv


def command(event: Event) -> list[str]:
    """The command a facilitator (or participant) types for ``event``."""
    p = event.payload
    common = [f"--at={event.at.isoformat()}", f"--event-id={event.id}"]
    by = [f"--by={event.actor.id}"]
    if event.type == "start":
        people = [f"-p={m['id']}:{m['role']}" for m in p["participants"]]
        zone = [f"--timezone={p['timezone']}"] if "timezone" in p else []
        country = [f"--country={p['country']}"] if "country" in p else []
        return ["new", p["definition"], event.programme, *people, *zone, *country, *by, *common]
    head = [event.type, event.programme]
    if event.type == "fire":
        return [*head, p["event"], *by, *common]
    if event.type == "submit":
        extra = [f"--ref={p['ref']}"] if "ref" in p else []
        if "content" in p:
            extra.append(f"--content={json.dumps(p['content'])}")
        return [*head, p["deliverable"], *extra, *by, *common]
    if event.type == "schedule":
        return [*head, p["date"], p["value"], *by, *common]
    if event.type == "waive":
        blockers = [f"--blocker={b}" for b in p["blockers"]]
        who = [f"--for={p['participant']}"] if "participant" in p else []
        step = p["step"]
        return [*head, step["kind"], step["name"], *blockers, f"--reason={p['reason']}", *who]
    if event.type == "join":
        joins_self = p["participant"] == event.actor.id
        return [*head, p["participant"], p["role"], *([] if joins_self else by), *common]
    if event.type == "claim":
        return [*head, *_claim_options(dict(p)), *by, *common]
    if event.type == "pay":
        amount = [f"--amount={p['amount']}"] if "amount" in p else []
        return [*head, p["claim"], *amount, *by, *common]
    raise AssertionError(event.type)


@pytest.mark.parametrize("definition_id", sorted(peerflow.builtin_files()))
def test_each_example_runs_from_new_to_its_end_through_the_command_line(
    definition_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = _history(definition_id)
    db = f"--db={tmp_path / 'store.sqlite3'}"
    for event in history:
        argv = command(event)
        if event.type == "waive":
            argv += [f"--by={event.actor.id}", f"--at={event.at.isoformat()}"]
            argv.append(f"--event-id={event.id}")
        code = main([*argv, db])
        _, err = capsys.readouterr()
        assert code == 0, (argv, err)
    with open_store(str(tmp_path / "store.sqlite3"), create=False) as store:
        assert store.events(history[0].programme) == history


def test_the_examples_take_every_kind_of_step() -> None:
    kinds = {e.type for d in peerflow.builtin_files() for e in _history(d)}
    assert kinds == {"start", "fire", "submit", "schedule", "waive", "join", "claim", "pay"}


def _started(tmp_path: Path, definition_id: str, events: int) -> tuple[str, list[Event]]:
    history = _history(definition_id)
    db = str(tmp_path / "store.sqlite3")
    with open_store(db) as store:
        store.append(history[:events], expected_next_seq=0)
    return db, history


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["claim", "{p}", "--item", "travel:10", "--receipt", "hotel:x.pdf",
          "--by", "porto-mentee"],
         "--receipt expects ITEM:VALUE for an item given with --item (travel)"),
        (["claim", "{p}", "--by", "porto-mentee"], "say what is claimed"),
        (["claim", "{p}", "--items", "@{tmp}/missing.json", "--by", "porto-mentee"],
         "--items: cannot read"),
        (["claim", "{p}", "--items", "@{tmp}/bad.yaml", "--by", "porto-mentee"],
         "--items: {tmp}/bad.yaml:3: YAML syntax error"),
        (["claim", "{p}", "--items", "[1, 2", "--by", "porto-mentee"], "--items is not JSON"),
        (["claim", "{p}", "--item", "travel:10", "--days", "travel:two", "--by", "porto-mentee"],
         "expected a whole number of days"),
        (["pay", "{p}", "nope", "--by", "finance-office"], "no claim 'nope' is recorded"),
        (["join", "{p}", "newcomer", "mentee"], "cannot join after the start"),
        (["waive", "{p}", "fire", "hold_orientation", "--blocker", "window_closed",
          "--reason", "late", "--by", "porto-mentee"], "'waive' is blocked: role 'mentee'"),
        (["submit", "{p}", "learning_plan", "--content", "@{tmp}/bad.yaml",
          "--by", "porto-mentee"], "--content: {tmp}/bad.yaml:3: YAML syntax error"),
    ],
)  # fmt: skip
def test_a_mistaken_command_is_refused_in_one_line_and_records_nothing(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, history = _started(tmp_path, "prospect-peer-mentoring", 5)
    (tmp_path / "bad.yaml").write_text("items:\n  - [unclosed\n", encoding="utf-8")
    filled = [a.format(p=history[0].programme, tmp=tmp_path) for a in argv]
    code = main([*filled, f"--db={db}", f"--at={history[4].at.isoformat()}"])
    _, err = capsys.readouterr()
    assert code == 1
    assert err.count("\n") == 1 and message.format(tmp=tmp_path) in err, err
    with open_store(db, create=False) as store:
        assert store.events(history[0].programme) == history[:5]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["next", "{p}", "--as", "mentr"],
         "--as 'mentr' is not a role of 'prospect-peer-mentoring' (roles: facilitator, mentor, "
         "mentee, finance_coordinator)"),
        (["agenda", "--as", "mentr"], "no programme in the store has a role 'mentr' (roles: "),
        (["export", "--programme", "nope"], "no programme 'nope' in the store"),
        (["new", "prospect-peer-mentoring", "{p}", "-p", "a:facilitator", "--by", "a"],
         "programme '{p}' already exists (next seq 5)"),
        (["next", "nope"], "no programme 'nope' in the store"),
    ],
)  # fmt: skip
def test_a_name_that_is_not_there_is_an_error_naming_what_is(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, history = _started(tmp_path, "prospect-peer-mentoring", 5)
    p = history[0].programme
    code = main([*(a.format(p=p) for a in argv), f"--db={db}"])
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and err.count("\n") == 1
    assert message.format(p=p) in err, err


def test_the_text_shows_the_next_seq_a_careful_writer_expects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, history = _started(tmp_path, "prospect-peer-mentoring", 5)
    main(["next", history[0].programme, f"--db={db}", f"--at={history[4].at.isoformat()}"])
    assert "; next seq 5 (for --expect-next-seq)" in capsys.readouterr().out.splitlines()[1]


def test_a_template_filled_in_is_accepted_and_one_left_empty_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """PM-07: the Learning Plan has six parts (learning objectives, action steps, mentor
    support, time frame, resources needed, evidence of success). The template names each;
    left empty it is refused naming them; filled in, it is recorded."""
    db, history = _started(tmp_path, "prospect-peer-mentoring", 15)  # up to the plan
    plan = tmp_path / "plan.yaml"
    assert main(["template", "prospect-peer-mentoring", "learning_plan", f"-o={plan}"]) == 0
    text = plan.read_text(encoding="utf-8")
    parts = [
        "learning_objectives", "action_steps", "mentor_support",
        "time_frame", "resources_needed", "evidence_of_success",
    ]  # fmt: skip
    assert [line.split(":")[0] for line in text.splitlines() if not line.startswith("#")] == parts
    mentor = history[15].actor.id
    submit = ["submit", history[0].programme, "learning_plan", f"--content=@{plan}",
              f"--by={mentor}", f"--at={history[15].at.isoformat()}", f"--db={db}"]  # fmt: skip
    capsys.readouterr()
    assert main(submit) == 1
    err = capsys.readouterr().err
    assert all(part in err for part in parts), err
    plan.write_text(text.replace('""', '"agreed with the mentee"'), encoding="utf-8")
    assert main(submit) == 0
    with open_store(db, create=False) as store:
        (last,) = store.events(history[0].programme, 15)
    assert last.payload["content"] == dict.fromkeys(parts, "agreed with the mentee")
    assert main(["template", "prospect-peer-mentoring", "learning_plan", f"-o={plan}"]) == 1
    assert "exists" in capsys.readouterr().err  # a filled-in file is never overwritten


@pytest.mark.parametrize(("value", "warned"), [("2027-01-10", True), ("2027-02-01", False)])
def test_a_date_set_in_the_past_is_recorded_with_a_warning(
    value: str, warned: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Setting the orientation on 11 January 2027 to the 10th is likely a slip: said, kept."""
    db, history = _started(tmp_path, "prospect-peer-mentoring", 1)
    code = main(["schedule", history[0].programme, "orientation_date", value, "--by",
                 "anna-facilitator", "--at=2027-01-11T10:00:00+01:00", f"--db={db}"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 0
    expected = (
        f"peerflow: warning: orientation_date is set to {value}, in the past "
        "(it is 2027-01-11 in Europe/Brussels); recorded all the same\n"
    )
    assert err == (expected if warned else "")


OWN = """\
id: own-review
version: 3
title: A review of our own
roles:
  lead: {}
states:
  open: {}
  done: {terminal: true}
initial: open
timezone: Europe/Brussels
transitions:
  - event: finish
    from: open
    to: done
    by: lead
    window:
      opens: {after: start, weeks: 1}
"""


def test_programmes_on_an_own_definition_travel_with_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exported with its definition, a programme on a definition of one's own imports into
    another store and replays; without the definition the refusal says how to give it."""
    own = tmp_path / "own.yaml"
    own.write_text(OWN, encoding="utf-8")
    first, second = f"--db={tmp_path / 'a.sqlite3'}", f"--db={tmp_path / 'b.sqlite3'}"
    assert main(["new", str(own), "r1", "-p", "lena:lead", "--by", "lena",
                 "--at=2027-03-01T09:00", first]) == 0  # fmt: skip
    assert main(["fire", "r1", "finish", "--by", "lena", "--at=2027-03-09T09:00", first]) == 0
    out, folder = tmp_path / "events.jsonl", tmp_path / "definitions"
    capsys.readouterr()
    assert main(["export", f"--definitions={own}", first]) == 1  # a file, not a folder
    assert "not a folder" in capsys.readouterr().err
    assert own.read_text(encoding="utf-8") == OWN  # left as it was
    assert main(["export", "-o", str(out), f"--definitions={folder}", first]) == 0
    written = folder / "own-review-v3.yaml"
    assert written.read_text(encoding="utf-8") == OWN
    capsys.readouterr()
    assert main(["import", str(out), second]) == 1
    assert "--definition" in capsys.readouterr().err
    assert main(["import", str(out), f"--definition={written}", second]) == 0
    with (
        open_store(str(tmp_path / "a.sqlite3"), create=False) as a,
        open_store(str(tmp_path / "b.sqlite3"), create=False) as b,
    ):
        assert b.events("r1") == a.events("r1") and len(a.events("r1")) == 2
    capsys.readouterr()
    assert main(["replay", str(out), f"--definition={written}"]) == 0
    assert "done" in capsys.readouterr().out
