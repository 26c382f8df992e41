"""The store on the command line: new, record, next, agenda, import, export, demo --db."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import peerflow
from peerflow.cli import main
from peerflow.engine._registry import example_path
from peerflow.store import open_store

AT = datetime(2027, 3, 1, 12, tzinfo=timezone(timedelta(hours=1)))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_programme_run_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "store.sqlite3")
    people = [
        "-p",
        "fac:facilitator",
        "-p",
        "m:mentor",
        "-p",
        "a:mentee",
        "-p",
        "f:finance_coordinator",
    ]
    code, out, _ = run(
        capsys, "new", "prospect-peer-mentoring", "p1", *people, "--by", "fac",
        "--at", "2027-01-11T09:00:00+01:00", "--db", db,
    )  # fmt: skip
    assert code == 0 and "state: preparation" in out
    code, _, _ = run(
        capsys, "schedule", "p1", "orientation_date", "2027-02-01", "--by", "fac",
        "--at", "2027-01-11T10:00:00+01:00", "--db", db,
    )  # fmt: skip
    assert code == 0
    code, _, err = run(
        capsys,
        "fire",
        "p1",
        "hold_orientation",
        "--by",
        "fac",
        "--at",
        "2027-02-01T10:00:00+01:00",
        "--db",
        db,
    )
    assert code == 1 and "is blocked: deliverable 'peer_learning_agreement' is missing" in err
    code, _, err = run(
        capsys, "submit", "p1", "peer_learning_agreement", "--by", "nobody", "--db", db
    )
    assert code == 1 and "'nobody' is not a participant of 'p1'" in err
    code, _, err = run(
        capsys, "submit", "p1", "peer_learning_agreement", "--by", "m", "--expect-next-seq", "1",
        "--at", "2027-01-12T10:00:00+01:00", "--db", db,
    )  # fmt: skip
    assert code == 1 and "is at next seq 2, not 1" in err
    code, out, _ = run(
        capsys, "next", "p1", "--db", db, "--at", "2027-01-12T10:00:00+01:00", "--json"
    )
    assert code == 0 and json.loads(out)["state"] == "preparation"
    code, out, _ = run(capsys, "export", "--db", db)
    assert [json.loads(line)["seq"] for line in out.splitlines()] == [0, 1]


def cut_examples(at: datetime) -> list[peerflow.Event]:
    """Every example, as far as it had got at ``at`` (the later ones) or halfway (the older)."""
    events: list[peerflow.Event] = []
    for definition_id in sorted(peerflow.builtin_files()):
        history = [e for _, e in peerflow.read_history(example_path(definition_id))]
        before = [e for e in history if e.at <= at]
        events += before if len(before) < len(history) else history[: len(history) // 2]
    return events


def test_the_agenda_lists_what_the_engine_says_is_due(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = tmp_path / "cut.jsonl"
    with history.open("w", encoding="utf-8") as stream:
        peerflow.write_history(cut_examples(AT), stream)
    db = str(tmp_path / "store.sqlite3")
    code, out, _ = run(capsys, "import", str(history), "--db", db)
    assert code == 0 and "imported 6 programme(s)" in out
    within = timedelta(days=14)
    expected = set()
    with open_store(db) as store:
        for row in store.programmes():
            state = store.state(row.programme)
            assert not state.terminal
            for d in state.definition.deadlines(state, AT):
                if d.due_at <= AT + within:
                    expected.add((row.programme, d.kind, d.name, d.due_at.isoformat(), d.overdue))
    assert any(item[-1] for item in expected) and any(not item[-1] for item in expected)
    code, out, _ = run(
        capsys, "agenda", "--db", db, "--at", AT.isoformat(), "--within", "14d", "--json"
    )
    listed = {
        (i["programme"], i["kind"], i["name"], i["due_at"], i["overdue"]) for i in json.loads(out)
    }
    assert code == 0 and listed == expected
    code, out, _ = run(capsys, "agenda", "--db", db, "--at", AT.isoformat(), "--within", "2w")
    assert f"{len(expected)} item(s)" in out and "OVERDUE" in out


def test_import_refuses_what_the_engine_refuses_and_keeps_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = [e for _, e in peerflow.read_history(example_path("mia-tutoring"))]
    bad = [e for _, e in peerflow.read_history(example_path("prospect-peer-mentoring"))]
    del bad[11]  # the waiver: the late upload after it is refused
    bad = [
        e
        if e.seq < 11
        else peerflow.Event(e.programme, e.seq - 1, e.id, e.at, e.actor, e.type, dict(e.payload))
        for e in bad
    ]
    path = tmp_path / "mixed.jsonl"
    with path.open("w", encoding="utf-8") as stream:
        peerflow.write_history([*good, *bad], stream)
    db = str(tmp_path / "store.sqlite3")
    code, out, err = run(capsys, "import", str(path), "--db", db)
    assert code == 1 and "imported 1 programme(s); 1 not imported" in out
    assert "prospect-2027-ghent: not imported" in err and "window closed" in err
    with open_store(db) as store:
        assert [r.programme for r in store.programmes()] == [good[0].programme]


def test_the_demo_records_in_the_store_it_is_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "demo.sqlite3")
    shipped = len(list(peerflow.read_history(example_path("prospect-peer-mentoring"))))
    code, out, _ = run(capsys, "demo", "--db", db)
    assert code == 0 and f"{shipped} events in the store" in out
    with open_store(db) as store:
        assert len(store.events("prospect-2027-ghent")) == shipped
    code, _, err = run(capsys, "demo", "--db", db)
    assert code == 1 and "already in this store" in err


@pytest.mark.parametrize("typed", ["2027-04-01", "2027-04-01T12:00", "today", "+14d", "-2w"])
def test_the_agenda_takes_the_moments_people_type(
    typed: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A date, a local date and time, or words; the bare date once printed
    "2027-04-01+01:00+01:00" when its hint was followed."""
    db = str(tmp_path / "store.sqlite3")
    with open_store(db) as store:
        store.append(
            [e for _, e in peerflow.read_history(example_path("prospect-peer-mentoring"))][:3],
            expected_next_seq=0,
        )
    code, out, err = run(capsys, "agenda", f"--at={typed}", "--within", "+2w", "--db", db)
    assert code == 0, err
    assert out.startswith("Agenda at ") and "+01:00+01:00" not in out


@pytest.fixture
def far_west_machine(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This machine in Los Angeles: the end of a day here is the next morning in Brussels."""
    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_date_in_the_agenda_is_that_day_in_each_programmes_own_zone(
    far_west_machine: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """PM-02/PM-03: the agreement and the availability are due by the orientation, which
    the first events set for 1 February in Brussels. On 1 February they are due, not late,
    wherever the facilitator's machine is; on 2 February they are late."""
    db = str(tmp_path / "store.sqlite3")
    with open_store(db) as store:
        store.append(
            [e for _, e in peerflow.read_history(example_path("prospect-peer-mentoring"))][:3],
            expected_next_seq=0,
        )
    code, out, _ = run(capsys, "agenda", "--at", "2027-02-01", "--within", "1w", "--db", db)
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith(
        "Agenda at end of 2027-02-01 in each programme's zone, 1 week(s) ahead: "
    )
    header, rows = lines[1], lines[2:]
    assert header.split() == ["DUE", "BY", "STATUS", "PROGRAMME", "WHAT", "WAITING", "FOR"]
    assert rows and all(row.split()[:2] == ["2027-02-01", "due"] for row in rows)
    for column in ("STATUS", "PROGRAMME", "WHAT"):  # each column starts where its title does
        start = header.index(column)
        assert all(row[start - 2 : start] == "  " and row[start] != " " for row in rows)
    code, out, _ = run(capsys, "agenda", "--at", "2027-02-02", "--within", "1w", "--db", db)
    assert "2027-02-01  OVERDUE" in out and "2027-02-01  due " not in out
