"""Analysts' formats read back: OCEL 2.0 JSON (against the format's schema and its own
references) and Parquet (pyarrow), each checked against the history lines themselves."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow.parquet as pq
import pytest

import peerflow
from peerflow.cli import main
from peerflow.engine._registry import example_path
from peerflow.replay import replay, replay_files
from peerflow.replay._ocel import write_ocel
from peerflow.replay._parquet import write_parquet
from peerflow.synthetic import generate

SCHEMA = json.loads((Path(__file__).parent / "ocel" / "ocel20-json.schema.json").read_text())
EXAMPLES = [example_path(d) for d in sorted(peerflow.builtin_files())]


def history_lines() -> list[dict[str, Any]]:
    """Every event of the six shipped examples, as the files hold them."""
    return [json.loads(line) for path in EXAMPLES for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def log() -> dict[str, Any]:
    stream = io.StringIO()
    write_ocel(replay_files(*EXAMPLES).programmes, stream)
    return dict(json.loads(stream.getvalue()))


def test_the_ocel_log_follows_the_ocel_2_0_json_schema(log: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(SCHEMA).validate(log)
    broken = dict(log, events=[{k: v for k, v in log["events"][0].items() if k != "time"}])
    with pytest.raises(jsonschema.ValidationError):  # the schema can fail
        jsonschema.Draft202012Validator(SCHEMA).validate(broken)


_OCEL_TYPES = {"string": str, "integer": int, "float": float, "boolean": bool}


def test_every_reference_in_the_ocel_log_resolves_and_every_value_has_its_declared_type(
    log: dict[str, Any],
) -> None:
    """What a schema cannot say: types and attributes are declared, related objects exist."""
    event_types = {
        t["name"]: {a["name"]: a["type"] for a in t["attributes"]} for t in log["eventTypes"]
    }
    object_types = {
        t["name"]: {a["name"]: a["type"] for a in t["attributes"]} for t in log["objectTypes"]
    }
    objects = {o["id"]: o for o in log["objects"]}
    assert len(objects) == len(log["objects"]), "object ids are unique"
    assert len({e["id"] for e in log["events"]}) == len(log["events"]), "event ids are unique"
    for kind, items, declared in (
        ("event", log["events"], event_types),
        ("object", log["objects"], object_types),
    ):
        for item in items:
            attributes = declared[item["type"]]
            for attribute in item.get("attributes", []):
                expected = _OCEL_TYPES[attributes[attribute["name"]]]
                assert type(attribute["value"]) is expected, (kind, item["id"], attribute)
                if "time" in attribute:
                    assert datetime.fromisoformat(attribute["time"]).utcoffset() is not None
            for relation in item.get("relationships", []):
                assert relation["objectId"] in objects, (kind, item["id"], relation)
    for event in log["events"]:
        assert datetime.fromisoformat(event["time"]).utcoffset() is not None


def test_each_history_event_is_an_ocel_event_related_to_what_it_concerns(
    log: dict[str, Any],
) -> None:
    """From the lines themselves: the actor, the deliverable submitted, the claim filed or
    paid (by its id in the payload) and the programme, at the line's moment in UTC."""
    events = {e["id"]: e for e in log["events"]}
    objects = {o["id"]: o for o in log["objects"]}
    lines = history_lines()
    assert len(events) == len(lines)
    claims = pays = 0
    for line in lines:
        programme = line["programme"]
        event = events[f"{programme}#{line['seq']}"]
        related = {(r["objectId"], r["qualifier"]) for r in event["relationships"]}
        at = datetime.fromisoformat(line["at"])
        assert datetime.fromisoformat(event["time"]) == at
        assert (programme, "programme") in related
        assert (f"{programme}/participant/{line['actor']['id']}", "actor") in related
        attributes = {a["name"]: a["value"] for a in event["attributes"]}
        assert attributes["seq"] == line["seq"]
        if line["type"] == "submit":
            name = line["payload"]["deliverable"]
            assert event["type"] == f"submit {name}"
            assert (f"{programme}/deliverable/{name}", "submitted") in related
        if line["type"] == "claim":
            claims += 1
            claim = f"{programme}/claim/{line['payload']['claim']}"
            assert (claim, "filed") in related
            assert objects[claim]["type"] == "claim"
        if line["type"] == "pay":
            pays += 1
            claim = f"{programme}/claim/{line['payload']['claim']}"
            assert (claim, "paid") in related
            paid = [a for a in objects[claim]["attributes"] if a["name"] == "paid"]
            assert [datetime.fromisoformat(a["time"]) for a in paid] == [at]
    assert claims and pays, "the examples hold claims and payments"


def test_the_ocel_programme_state_changes_over_time_as_the_replay_says(
    log: dict[str, Any],
) -> None:
    result = replay_files(*EXAMPLES)
    objects = {o["id"]: o for o in log["objects"]}
    for p in result.programmes:
        states = [a for a in objects[p.programme]["attributes"] if a["name"] == "state"]
        assert states[-1]["value"] == p.state
        assert len(states) == 1 + sum(
            1 for before, r in zip(p.events, p.events[1:], strict=False) if r.after != before.after
        )


@pytest.fixture(scope="module")
def broken() -> list[peerflow.Event]:
    events: list[peerflow.Event] = []
    for definition_id in ("prospect-peer-mentoring", "sc-site-visit", "mia-peer-groups"):
        events += generate(
            peerflow.definition(definition_id), 10, seed=5, deviation_share=0.6
        ).events
    return events


def test_parquet_tables_read_back_with_pm4py_column_names(
    broken: list[peerflow.Event], tmp_path: Path
) -> None:
    result = replay(broken)
    written = write_parquet(result.programmes, tmp_path / "tables")
    assert sorted(p.name for p in written) == [
        "deviations.parquet",
        "events.parquet",
        "programmes.parquet",
    ]
    events = pq.read_table(tmp_path / "tables" / "events.parquet").to_pylist()
    # every recorded event, from the events themselves
    assert [
        (e["case:concept:name"], e["seq"], e["time:timestamp"], e["org:resource"], e["org:role"])
        for e in events
    ] == [
        (e.programme, e.seq, e.at.astimezone(UTC), e.actor.id, e.actor.role)
        for e in sorted(broken, key=lambda e: (e.programme, e.seq))
    ]
    assert {e["lifecycle:transition"] for e in events} == {"complete"}
    records = {(p.programme, r.seq): r for p in result.programmes for r in p.events}
    for e in events:
        record = records[e["case:concept:name"], e["seq"]]
        assert (e["concept:name"], e["state_after"], e["applied"], tuple(e["deviations"])) == (
            record.step,
            record.after,
            record.applied,
            record.deviations,
        )
    deviations = pq.read_table(tmp_path / "tables" / "deviations.parquet").to_pylist()
    expected = [
        (p.programme, d.seq, d.kind, d.step, d.days)
        for p in result.programmes
        for d in p.deviations
    ]
    assert len(expected) > 10
    assert [
        (d["case:concept:name"], d["seq"], d["kind"], d["concept:name"], d["days"])
        for d in deviations
    ] == expected
    programmes = pq.read_table(tmp_path / "tables" / "programmes.parquet").to_pylist()
    assert [
        (p["case:concept:name"], p["state"], p["completed"], p["events"]) for p in programmes
    ] == [(p.programme, p.state, p.completed, len(p.events)) for p in result.programmes]
    assert all(p["started_at"].utcoffset() is not None for p in programmes if p["started_at"])


def test_the_replay_command_writes_parquet_and_ocel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [str(p) for p in EXAMPLES]
    assert main(["replay", *files, "--format", "parquet", "-o", str(tmp_path / "t")]) == 0
    events = pq.read_table(tmp_path / "t" / "events.parquet")
    assert events.num_rows == len(history_lines())
    assert main(["replay", *files, "--format", "ocel", "-o", str(tmp_path / "log.json")]) == 0
    jsonschema.Draft202012Validator(SCHEMA).validate(
        json.loads((tmp_path / "log.json").read_text())
    )
    capsys.readouterr()
    for argv, said in (
        (["--format", "parquet"], "give a folder with -o FOLDER"),
        (["--format", "ocel", "--summary"], "--summary has no OCEL form"),
        (["--format", "parquet", "-o", str(tmp_path / "log.json")], "cannot write Parquet files"),
    ):
        assert main(["replay", *files, *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and said in err, err


def test_pm4py_reads_the_ocel_export_and_the_parquet_events(tmp_path: Path) -> None:
    """The optional-extras run (pip install -e '.[xes-check]'): pm4py's own OCEL 2.0 JSON
    reader takes the log, and pm4py mines the Parquet events table read with pandas, with
    no renaming of columns, as analysts would."""
    pm4py = pytest.importorskip(
        "pm4py", reason="pm4py (AGPL) is an optional test-only extra: pip install pm4py"
    )
    result = replay_files(*EXAMPLES)
    path = tmp_path / "log.jsonocel"
    with path.open("w", encoding="utf-8") as stream:
        write_ocel(result.programmes, stream)
    log = pm4py.read_ocel2_json(str(path))
    lines = history_lines()
    assert len(log.events) == len(lines)
    assert set(log.objects["ocel:type"]) == {"programme", "participant", "deliverable", "claim"}
    related = log.relations
    submits = related[related["ocel:qualifier"] == "submitted"]
    assert len(submits) == sum(1 for line in lines if line["type"] == "submit")
    write_parquet(result.programmes, tmp_path / "tables")
    import pandas  # noqa: PLC0415 - installed with pm4py

    frame = pandas.read_parquet(tmp_path / "tables" / "events.parquet")
    assert len(frame) == len(lines)
    starts = pm4py.get_start_activities(frame)  # reads pm4py's own column names
    assert starts == {"start": len({line["programme"] for line in lines})}


def test_ocel_object_ids_never_meet_whatever_the_ids_hold(tmp_path: Path) -> None:
    """Ids may hold any printable character: a programme named ``P/participant/anna`` beside
    programme ``P``'s participant ``anna`` (and a ``%``) must stay two objects."""
    source = example_path("prospect-peer-mentoring").read_text(encoding="utf-8")
    real = json.loads(source.splitlines()[0])["programme"]
    person = json.loads(source.splitlines()[0])["actor"]["id"]
    path = tmp_path / "odd.jsonl"
    path.write_text(
        source
        + source.replace(f'"{real}"', json.dumps(f"{real}/participant/{person}"))
        + source.replace(f'"{real}"', json.dumps(f"{real}%2Fparticipant%2F{person}")),
        encoding="utf-8",
    )
    result = replay_files(path)
    assert len(result) == 3 and result.ok
    stream = io.StringIO()
    write_ocel(result.programmes, stream)
    log = json.loads(stream.getvalue())
    ids = [o["id"] for o in log["objects"]]
    assert len(ids) == len(set(ids))
    assert (
        len({e["id"] for e in log["events"]}) == len(log["events"]) == 3 * len(source.splitlines())
    )
    jsonschema.Draft202012Validator(SCHEMA).validate(log)


def test_parquet_without_pyarrow_names_the_extra_before_replaying(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys  # noqa: PLC0415

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if not installed
    code = main(["replay", str(EXAMPLES[0]), "--format", "parquet", "-o", str(tmp_path / "t")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "pip install 'peerflow[parquet]'" in err and not (tmp_path / "t").exists()
