"""Reading the event envelope: every bad line is named with its file and line."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

import peerflow
from peerflow import HistoryError
from peerflow.engine._registry import example_path
from peerflow.events._envelope import _checked_event, event_from_json, read_history_text, row_of

GOOD = (
    '{"v": 1, "programme": "p", "seq": 0, "id": "e0", "at": "2027-01-11T09:00:00+01:00", '
    '"actor": {"role": "facilitator", "id": "fac"}, "type": "start", "payload": {}}'
)


def test_good_line_reads() -> None:
    ((line, event),) = read_history_text(GOOD, "h.jsonl")
    assert (line, event.seq, event.actor.id, event.at.utcoffset().seconds) == (1, 0, "fac", 3600)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("{", "{{"), "not JSON"),
        (('"seq": 0', '"seq": -1'), "'seq' must be a whole number 0 or more"),
        (('"type": "start"', '"type": "teleport"'), "unknown event type 'teleport'"),
        (('"id": "e0", ', ""), "missing field 'id'"),
        (("+01:00", ""), "'at' has no UTC offset"),
        (('"payload": {}', '"deliverable": "x"'), "unknown field(s) ['deliverable']"),
        (
            ('"actor": {"role": "facilitator", "id": "fac"}', '"actor": "fac"'),
            "'actor' must be an object",
        ),
        (('"v": 1', '"v": 2'), "format version 2 is not supported"),
        (('"type": "start"', '"type": ["start"]'), "unknown event type ['start']"),
        (('"type": "start"', '"type": {"a": 1}'), "unknown event type {'a': 1}"),
        (('"seq": 0', '"seq": "0"'), "'seq' must be a whole number 0 or more"),
        (('"seq": 0', '"seq": true'), "'seq' must be a whole number 0 or more"),
        (('"programme": "p"', '"programme": ["p"]'), "'programme' must be a string, got list"),
        (('"role": "facilitator"', '"role": ["facilitator"]'), "'actor' must be an object"),
        (('"payload": {}', '"payload": []'), "'payload' must be an object"),
        (("2027-", "0202-"), "'at' is in the year 202"),
    ],
)
def test_bad_line_names_file_and_line(change: tuple[str, str], message: str) -> None:
    bad = GOOD.replace(*change, 1)
    assert bad != GOOD
    with pytest.raises(HistoryError) as caught:
        read_history_text(GOOD + "\n\n" + bad, "h.jsonl")
    assert (caught.value.file, caught.value.line) == ("h.jsonl", 3)
    assert message in str(caught.value)
    bulk = peerflow.replay.Histories()  # the bulk reader reports it too, and keeps going
    bulk.add_lines([GOOD, bad, GOOD.replace('"p"', '"p2"')], "h.jsonl")
    assert [(p.line, message in p.reason) for p in bulk.problems] == [(2, True)]
    assert "p2" in bulk.rows


def test_the_quick_envelope_pass_reads_lines_as_the_careful_one_does() -> None:
    for definition_id in peerflow.builtin_files():
        for line in example_path(definition_id).read_text(encoding="utf-8").splitlines():
            data = json.loads(line)
            quick, careful = event_from_json(data), _checked_event(data)
            assert quick == careful
            assert quick.at.utcoffset() == careful.at.utcoffset()
            assert quick.at.tzinfo is careful.at.tzinfo  # one shared zone per offset


def test_histories_keep_rows_and_make_the_same_events_on_demand() -> None:
    """Bulk reading keeps tuples; the events made from them are the ones a strict read gives."""
    paths = [example_path(d) for d in sorted(peerflow.builtin_files())]
    found = peerflow.replay.read_histories(*paths)
    assert not found.problems
    for path in paths:
        events = [event for _, event in peerflow.read_history(path)]
        assert found.events[events[0].programme] == events
        assert [row_of(e) for e in events] == found.rows[events[0].programme]
    # adding an event later is seen by the next read of ``events``
    extra = attrs.evolve(events[-1], seq=len(events), id="extra")
    found.add(extra)
    assert found.events[extra.programme][-1] == extra


def test_errors_survive_pickling_with_their_fields() -> None:
    """Process pools send problems and refusals between processes: an exception pickles its
    message as its only argument by default, which our constructors do not take."""
    from peerflow._errors import (  # noqa: PLC0415
        DefinitionError,
        EventError,
        HistoryError,
        Problem,
        StepBlocked,
        StepNotAvailable,
    )
    from peerflow.engine._blockers import WindowClosed  # noqa: PLC0415

    closed = WindowClosed(datetime(2027, 1, 1, tzinfo=UTC), "5 working days after the meeting")
    errors: list[Exception] = [
        HistoryError("a.jsonl", 3, "not JSON", "p-1"),
        EventError("bad payload", seq=4),
        EventError("no seq"),
        StepNotAvailable("fire close", "draft", ["fire open"], seq=2),
        StepBlocked("submit report", [closed], seq=9),
        DefinitionError([Problem("d.yaml", 2, "states", "missing")]),
    ]
    for error in errors:
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error)
        assert str(again) == str(error)
        fields = {k: v for k, v in vars(error).items() if not k.startswith("__")}
        assert {k: v for k, v in vars(again).items() if not k.startswith("__")} == fields


def test_a_byte_order_mark_is_not_a_bad_line(tmp_path: Path) -> None:
    plain = example_path("mia-tutoring")
    marked = tmp_path / "marked.jsonl"
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    found = peerflow.replay.read_histories(marked)
    assert not found.problems and found.rows == peerflow.replay.read_histories(plain).rows
    assert [e for _, e in peerflow.read_history(marked)] == [
        e for _, e in peerflow.read_history(plain)
    ]
    assert not peerflow.replay.replay_files(marked).bad_lines


def test_a_line_without_a_payload_is_a_bad_line(tmp_path: Path) -> None:
    """It replayed as 'submit None', and the exports carried None as a step name."""
    import json  # noqa: PLC0415

    from peerflow.engine._registry import example_path  # noqa: PLC0415

    lines = example_path("prospect-peer-mentoring").read_text().splitlines()
    no_payload = json.loads(lines[3])
    del no_payload["payload"]
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join([*lines[:3], json.dumps(no_payload), *lines[4:]]) + "\n")
    found = peerflow.replay.read_histories(path)
    assert [p.line for p in found.problems] == [4]
    assert found.problems[0].reason.startswith("missing field 'payload'")
    result = peerflow.replay.replay_files(path)
    assert all("None" not in r.step for p in result for r in p.events)


def test_a_line_of_separators_is_a_bad_line_not_a_blank_one(tmp_path: Path) -> None:
    """str.strip() takes the ASCII separators (\\x1c-\\x1f) for white space; JSON does not,
    so such a line was skipped unreported (found by tests/test_fuzz_files.py)."""
    lines = example_path("prospect-peer-mentoring").read_text().splitlines()
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join([lines[0], "\x1f", *lines[1:]]) + "\n")
    found = peerflow.replay.read_histories(path)
    assert [p.line for p in found.problems] == [2]
    with pytest.raises(HistoryError, match=":2: not JSON"):
        peerflow.read_history(path)
