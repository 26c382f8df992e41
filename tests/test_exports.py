"""Exports of a replay (XES, CSV, JSON), the replay command, and replay across processes."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

import peerflow
from peerflow.cli import main
from peerflow.engine._registry import example_path
from peerflow.replay import read_histories, replay, replay_many
from peerflow.replay._exports import write_events_csv, write_programmes_csv, write_xes
from peerflow.synthetic import generate

XES = "{http://www.xes-standard.org/}"


@pytest.fixture(scope="module")
def mixed() -> list[peerflow.Event]:
    events: list[peerflow.Event] = []
    for definition_id in ("prospect-peer-mentoring", "sc-site-visit"):
        events += generate(
            peerflow.definition(definition_id), 12, seed=3, deviation_share=0.5
        ).events
    return events


def attributes(element: ET.Element) -> dict[str, tuple[str, str]]:
    return {
        child.get("key", ""): (child.tag[len(XES) :], child.get("value", "")) for child in element
    }


def test_xes_reads_back_as_an_event_log_with_utc_timestamps(mixed: list[peerflow.Event]) -> None:
    result = replay(mixed)
    stream = io.StringIO()
    write_xes(result.programmes, stream)
    text = stream.getvalue()
    assert "nan" not in text.lower().replace("financ", "")
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag == f"{XES}log"
    prefixes = {e.get("prefix") for e in root.findall(f"{XES}extension")}
    assert prefixes == {"concept", "time", "org", "lifecycle"}
    scopes = {g.get("scope"): set(attributes(g)) for g in root.findall(f"{XES}global")}
    assert scopes["event"] >= {
        "concept:name",
        "time:timestamp",
        "org:resource",
        "org:role",
        "lifecycle:transition",
    }
    assert root.findall(f"{XES}classifier")
    traces = root.findall(f"{XES}trace")
    assert [attributes(t)["concept:name"][1] for t in traces] == [p.programme for p in result]
    by_id = {e.id: e for e in mixed}
    for trace, programme in zip(traces, result, strict=True):
        events = trace.findall(f"{XES}event")
        assert len(events) == len(programme.events)
        for element, record in zip(events, programme.events, strict=True):
            attrs_ = attributes(element)
            assert attrs_["concept:name"] == ("string", record.step)
            kind, stamp = attrs_["time:timestamp"]
            assert kind == "date" and stamp.endswith("+00:00")
            assert datetime.fromisoformat(stamp) == record.at.astimezone(UTC)
            assert attrs_["org:resource"] == ("string", record.actor)
            assert attrs_["org:role"] == ("string", record.role)
            assert attrs_["lifecycle:transition"] == ("string", "complete")
            original = by_id[f"{programme.programme}-{record.seq}"]
            assert original.actor.id == record.actor


NCNAME = re.compile(r"^[A-Za-z_][\w.\-]*$")
XS_DATETIME = re.compile(r"^-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$")


def test_xes_keeps_the_ieee_1849_datatypes(mixed: list[peerflow.Event]) -> None:
    """The types IEEE 1849-2016 gives the log's own names: a classifier's name and an
    extension's name and prefix are xs:NCName (no spaces: 'Activity and role' was not),
    a global's scope is trace or event, dates are xs:dateTime, ints xs:long, booleans
    xs:boolean. (The standard's XSD is not ours to ship; these are its rules for what we
    write.)"""
    stream = io.StringIO()
    write_xes(replay(mixed).programmes, stream)
    root = ET.fromstring(stream.getvalue().encode("utf-8"))
    for classifier in root.iter(f"{XES}classifier"):
        assert NCNAME.match(classifier.get("name", "")), classifier.get("name")
        assert classifier.get("keys", "").split()
    for extension in root.iter(f"{XES}extension"):
        assert NCNAME.match(extension.get("name", "")) and NCNAME.match(extension.get("prefix", ""))
    assert {g.get("scope") for g in root.iter(f"{XES}global")} <= {"trace", "event"}
    for element in root.iter(f"{XES}date"):
        assert XS_DATETIME.match(element.get("value", "")), element.get("value")
    for element in root.iter(f"{XES}int"):
        assert -(2**63) <= int(element.get("value", "x")) < 2**63
    for element in root.iter(f"{XES}boolean"):
        assert element.get("value") in {"true", "false"}


def test_pm4py_reads_the_xes_export(mixed: list[peerflow.Event], tmp_path: Path) -> None:
    pm4py = pytest.importorskip(
        "pm4py", reason="pm4py (AGPL) is an optional test-only extra: pip install pm4py"
    )
    path = tmp_path / "log.xes"
    with path.open("w", encoding="utf-8") as stream:
        write_xes(replay(mixed).programmes, stream)
    frame = pm4py.read_xes(str(path))
    assert len(frame) == sum(len(p.events) for p in replay(mixed))


def test_csv_has_a_row_per_event_with_deviation_flags(mixed: list[peerflow.Event]) -> None:
    result = replay(mixed)
    stream = io.StringIO()
    write_events_csv(result.programmes, stream)
    rows = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert len(rows) == len(mixed)
    flagged = {
        (r["programme"], int(r["seq"]), k)
        for r in rows
        for k in peerflow.replay.DEVIATION_KINDS
        if r[k] == "1"
    }
    expected = {(p.programme, d.seq, d.kind) for p in result for d in p.deviations}
    assert flagged == expected and expected
    stream = io.StringIO()
    write_programmes_csv(result.programmes, stream)
    per_programme = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert [r["programme"] for r in per_programme] == [p.programme for p in result]
    for row, programme in zip(per_programme, result, strict=True):
        assert int(row["deviations"]) == len(programme.deviations)
        assert row["completed"] == str(int(programme.completed))


def test_replay_many_in_a_process_pool_gives_the_same_result(mixed: list[peerflow.Event]) -> None:
    alone = replay(mixed)
    with ProcessPoolExecutor(2) as pool:
        pooled = replay_many(mixed, executor=pool, chunk_size=5)
    assert pooled == alone
    assert [p.final for p in pooled] == [p.final for p in alone]
    assert pooled.programmes[0].final is not None
    assert pooled.programmes[0].final.definition is alone.programmes[0].final.definition


def test_replay_many_in_a_process_pool_carries_bad_lines(
    mixed: list[peerflow.Event], tmp_path: Path
) -> None:
    """Problems travel to the workers and back with their parts (file, line, programme)."""
    path = tmp_path / "histories.jsonl"
    lines = [e.to_line() for e in mixed]
    lines[3] = "{not json"
    lines[7] = lines[7].replace('"type": "', '"type": "x')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = read_histories(path)
    alone = replay(found)
    with ProcessPoolExecutor(2) as pool:
        pooled = replay_many(found, executor=pool, chunk_size=5)
    as_json = [json.dumps([p.to_dict() for p in r]) for r in (pooled, alone)]
    assert as_json[0] == as_json[1]
    assert [str(p) for p in pooled.bad_lines] == [str(p) for p in alone.bad_lines]
    assert sum(len(p.problems) for p in pooled) >= 1 and len(pooled.bad_lines) == 3


def write_lines(path: Path, events: list[peerflow.Event], extra: str = "") -> None:
    path.write_text("\n".join(e.to_line() for e in events) + "\n" + extra, encoding="utf-8")


def test_the_replay_command(
    mixed: list[peerflow.Event], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "histories.jsonl"
    write_lines(path, mixed)
    assert main(["replay", str(path)]) == 0
    out = capsys.readouterr().out
    assert "24 programmes" in out and "deviations:" in out
    assert main(["replay", str(path), "--format", "json", "--summary"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["programmes"] == 24
    assert "events" not in data["programmes"][0]
    target = tmp_path / "out.xes"
    assert main(["replay", str(path), "--format", "xes", "-o", str(target)]) == 0
    assert ET.parse(target).getroot().tag == f"{XES}log"
    assert main(["replay", str(path), "--format", "xes", "--summary"]) == 2
    assert "--summary has no XES form" in capsys.readouterr().err
    # a bad line: reported with file and line on stderr, the rest replayed, exit 1
    write_lines(path, mixed, '{"programme": "x", "seq": 0}\n')
    assert main(["replay", str(path), "--format", "csv", "--summary"]) == 1
    captured = capsys.readouterr()
    assert f"{path}:{len(mixed) + 1}: missing field 'id'" in captured.err
    assert len(captured.out.splitlines()) == 1 + 24 + 1  # header, programmes, the cut one


def test_next_at_a_date_shows_the_programme_as_it_stood(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["next", str(example_path("prospect-peer-mentoring")), "--at", "2027-02-01", "--json"])
        == 0
    )
    status = json.loads(capsys.readouterr().out)
    assert status["state"] != "completed"


def test_to_dataframe_gives_the_csv_rows(mixed: list[peerflow.Event]) -> None:
    pytest.importorskip(
        "pandas", reason="pandas is an optional extra: pip install 'peerflow[pandas]'"
    )
    result = replay(mixed)
    events = peerflow.replay.to_dataframe(result.programmes)
    assert len(events) == len(mixed)
    assert int(events["late"].sum()) == sum(d.kind == "late" for p in result for d in p.deviations)
    per_programme = peerflow.replay.to_dataframe(result.programmes, per="programme")
    assert list(per_programme["programme"]) == [p.programme for p in result]


def test_csv_at_utc_keeps_the_microseconds_at_keeps(tmp_path: Path) -> None:

    from peerflow.replay._exports import write_events_csv  # noqa: PLC0415

    lines = example_path("prospect-peer-mentoring").read_text().splitlines()
    precise = lines[1].replace(':00+01:00"', ':00.123456+01:00"', 1)
    assert precise != lines[1]
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join([lines[0], precise]) + "\n")
    out = io.StringIO()
    write_events_csv(peerflow.replay.replay_files(path).programmes, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[1]["at"].endswith(".123456+01:00")
    assert rows[1]["at_utc"].endswith(".123456+00:00")
