"""Audit replay: injected deviations are found exactly, bad lines are named, output is stable."""

from __future__ import annotations

import gc
import json
import random
import re
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

import peerflow
from peerflow import Actor, Event
from peerflow.engine._content import check_content
from peerflow.engine._registry import example_path
from peerflow.events._history import histories_of
from peerflow.replay import read_histories, replay, replay_files, state_at
from peerflow.replay._audit import _replay_rows, _Run, replay_programme
from peerflow.replay._fastfold import FastFold, _complete, _shape
from peerflow.synthetic import INJECTABLE, generate

BUILTINS = sorted(peerflow.builtin_files())


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("definition_id", BUILTINS)
def test_every_injected_deviation_is_found_and_nothing_else(definition_id: str, seed: int) -> None:
    synthetic = generate(peerflow.definition(definition_id), 48, seed=seed, deviation_share=0.5)
    truth: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for injected in synthetic.injected:
        truth[injected.programme].append((injected.seq, injected.kind))
    result = replay(synthetic.events)
    assert [p.programme for p in result] == sorted(synthetic.programmes)
    for programme in result:
        found = [(d.seq, d.kind) for d in programme.deviations]
        assert found == truth.get(programme.programme, []), programme.programme
        assert not programme.problems
    conforming = [p for p in result if p.programme not in truth]
    assert conforming and all(p.conforming for p in conforming)
    assert len(truth) >= 12  # about half of 48, one deviation each


def test_the_generator_injects_every_kind_a_definition_can_show() -> None:
    kinds = {
        injected.kind
        for definition_id in BUILTINS
        for injected in generate(
            peerflow.definition(definition_id), 48, seed=7, deviation_share=0.5
        ).injected
    }
    assert kinds == set(INJECTABLE)


def test_the_same_seed_gives_the_same_histories() -> None:
    tutoring = peerflow.definition("mia-tutoring")
    first = generate(tutoring, 10, seed=5).lines()
    assert first == generate(tutoring, 10, seed=5).lines()
    assert first != generate(tutoring, 10, seed=6).lines()


def result_json(path: Path) -> str:
    return json.dumps([p.to_dict() for p in replay(read_histories(path))], ensure_ascii=False)


def interleaved(queues: list[list[str]], rng: random.Random) -> list[str]:
    """The programmes' lines mixed at random, each programme's still in seq order."""
    queues = [list(q) for q in queues]
    mixed = []
    while queues:
        queue = rng.choice(queues)
        mixed.append(queue.pop(0))
        if not queue:
            queues.remove(queue)
    return mixed


def test_replay_is_deterministic_and_independent_of_programme_order(tmp_path: Path) -> None:
    synthetic = generate(peerflow.definition("prospect-peer-mentoring"), 30, seed=4)
    by_programme: dict[str, list[str]] = defaultdict(list)
    for event in synthetic.events:
        by_programme[event.programme].append(event.to_line())
    in_order = tmp_path / "in-order.jsonl"
    in_order.write_text("\n".join(synthetic.lines()) + "\n", encoding="utf-8")
    mixed_lines = interleaved(list(by_programme.values()), random.Random(0))
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("\n".join(mixed_lines) + "\n", encoding="utf-8")
    assert result_json(in_order) == result_json(in_order)
    assert result_json(in_order) == result_json(mixed)


def write_broken_file(path: Path) -> tuple[Any, list[str]]:
    """Eight tutoring programmes, six of them with one bad line of a different sort."""
    synthetic = generate(peerflow.definition("mia-tutoring"), 8, seed=2, deviation_share=0)
    lines = synthetic.lines()
    programmes = list(synthetic.programmes)
    first_line = {
        p: next(i for i, line in enumerate(lines) if f'"{p}"' in line) for p in programmes
    }

    def line_of(programme: str, seq: int) -> int:
        return first_line[programme] + seq

    broken = list(lines)
    broken[line_of(programmes[1], 3)] = "{not json"
    broken[line_of(programmes[2], 4)] = re.sub(
        r'"type": "\w+"', '"type": "upload"', broken[line_of(programmes[2], 4)]
    )
    no_offset = json.loads(broken[line_of(programmes[3], 2)])
    no_offset["at"] = no_offset["at"][:19]
    broken[line_of(programmes[3], 2)] = json.dumps(no_offset)
    missing = json.loads(broken[line_of(programmes[4], 5)])
    del missing["actor"]
    broken[line_of(programmes[4], 5)] = json.dumps(missing)
    broken[line_of(programmes[5], 6)] = ""  # a lost line: a gap in seq
    broken[line_of(programmes[6], 2)] = (
        broken[line_of(programmes[6], 2)] + "\n" + lines[line_of(programmes[6], 2)]
    )  # the same event twice
    path.write_text("\n".join(broken) + "\n", encoding="utf-8")
    return synthetic, programmes


def test_bad_lines_are_named_and_the_good_programmes_replay(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    synthetic, programmes = write_broken_file(path)
    histories = read_histories(path)
    result = {p.programme: p for p in replay(histories)}
    clean = {p.programme: p for p in replay(synthetic.events)}
    for untouched in (programmes[0], programmes[7]):
        assert result[untouched] == clean[untouched]
    messages = [str(p) for p in histories.problems]
    assert any("not JSON" in m for m in messages)
    assert any("unknown event type 'upload'" in m for m in messages)
    assert any("no UTC offset" in m for m in messages)
    assert any("missing field 'actor'" in m for m in messages)
    assert any("expected seq 6, got 7 (a gap)" in m for m in messages)
    assert any("seq 2 again (the same event id: a repeated write)" in m for m in messages)
    assert all(m.startswith(f"{path}:") for m in messages)
    for index, seq in ((2, 4), (3, 2), (4, 5), (5, 6), (6, 3)):
        cut = result[programmes[index]]
        assert cut.problems, programmes[index]
        assert len(cut.events) == seq  # the events before the bad line were replayed
        assert cut.left_out > 0
    # the line that is not JSON names no programme: it is reported on its own, and the
    # programme that lost it shows the gap it left
    assert any("not JSON" in str(p) for p in replay(histories).problems)
    assert result[programmes[1]].problems and "a gap" in str(result[programmes[1]].problems[0])


@pytest.mark.parametrize("chunk", [1, 5, 4096])
def test_replaying_files_while_reading_gives_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """replay_files folds each chunk of lines as it is read and then slims the rows; the
    result must be replay(read_histories(...))'s, whatever the chunk size, with programmes
    interleaved, cut by bad lines, spread over files, and a file that is not there."""
    monkeypatch.setattr(peerflow.events._history, "_CHUNK", chunk)
    broken = tmp_path / "broken.jsonl"
    write_broken_file(broken)
    by_programme: dict[str, list[str]] = defaultdict(list)
    for definition_id in ("prospect-peer-mentoring", "sc-site-visit"):
        synthetic = generate(peerflow.definition(definition_id), 12, seed=7, deviation_share=0.5)
        for event in synthetic.events:
            by_programme[event.programme].append(event.to_line())
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("\n".join(interleaved(list(by_programme.values()), random.Random(1))))
    files = (mixed, broken, tmp_path / "not-there.jsonl")

    expected = replay(read_histories(*files))
    seen: list[tuple[int, int]] = []
    got = replay_files(*files, progress=lambda done, total: seen.append((done, total)))
    # (HistoryError is an exception: equal only to itself, so compared as text)
    assert [str(p) for p in got.bad_lines] == [str(p) for p in expected.bad_lines]
    assert len(got.bad_lines) == 8 and [str(p) for p in got.problems] == [
        str(p) for p in expected.problems
    ]
    as_json = [json.dumps([p.to_dict() for p in r], ensure_ascii=False) for r in (got, expected)]
    assert as_json[0] == as_json[1]
    assert sum(len(p.deviations) for p in got) >= 10
    assert seen[-1][0] == seen[-1][1] > 0 and seen == sorted(seen)


def test_a_replay_fed_in_several_goes_is_the_same(tmp_path: Path) -> None:
    synthetic = generate(peerflow.definition("sc-expert-mission"), 20, seed=3, deviation_share=1)
    histories = histories_of(synthetic.events)
    rng = random.Random(2)
    for programme in histories.programmes:
        rows = histories.rows[programme]
        whole = _replay_rows(rows, None)
        run, cut = _Run(None), sorted(rng.sample(range(len(rows) + 1), 3))
        for end in (*cut, len(rows)):
            run.feed(rows[:end])
        assert run.result(rows, (), 0) == whole, programme


def example_events(definition_id: str) -> list[peerflow.Event]:
    return [e for _, e in peerflow.read_history(example_path(definition_id))]


def test_late_counts_calendar_and_working_days() -> None:
    events = example_events("sc-expert-review")
    index = next(
        i for i, e in enumerate(events) if e.payload.get("deliverable") == "final_document"
    )
    # the final meeting was on Monday 2022-11-28; 5 working days later closes the window
    late_at = datetime(2022, 12, 12, 10, tzinfo=timezone(timedelta(hours=1)))
    history = [*events[:index], attrs.evolve(events[index], at=late_at)]
    (result,) = replay(history)
    (deviation,) = result.deviations
    assert (deviation.seq, deviation.kind, deviation.step) == (
        index,
        "late",
        "submit final_document",
    )
    closing_day = deviation_closing_day = date.fromisoformat(
        deviation.detail.split("window closed at ")[1][:10]
    ) - timedelta(days=1)
    assert deviation.days == (late_at.date() - closing_day).days
    country = result.final.country if result.final and result.final.country else "BE"
    calendar = holidays.country_holidays(country, years=2022)
    expected = sum(
        1
        for n in range(1, deviation.days + 1)
        if (day := deviation_closing_day + timedelta(days=n)).weekday() < 5 and day not in calendar
    )
    assert deviation.working_days == expected < deviation.days


def test_state_at_is_the_state_as_it_stood_then() -> None:
    events = example_events("prospect-peer-mentoring")
    for cut in (1, 5, 12, len(events)):
        when = events[cut - 1].at
        following = events[cut].at if cut < len(events) else None
        if following == when:
            continue
        assert state_at(events, when) == peerflow.fold(events[:cut])
    assert state_at(events, events[0].at - timedelta(seconds=1)) is None


def test_a_waiver_is_reported_with_its_reason() -> None:
    (result,) = replay(example_events("prospect-peer-mentoring"))
    (waived,) = result.deviations
    assert waived.kind == "waived" and waived.reason and waived.step == "submit learning_needs"
    assert result.completed and result.ended


def without_fast_path(monkeypatch: pytest.MonkeyPatch, events: list[peerflow.Event]) -> Any:
    with monkeypatch.context() as patched:
        patched.setattr(FastFold, "run", lambda self, rows, start, states: start)
        return replay(events)


@pytest.mark.parametrize("definition_id", BUILTINS)
def test_the_fast_path_changes_nothing(definition_id: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every event through the engine's audit gives the very same replay as the fast path."""
    events = example_events(definition_id)
    for seed in (11, 12):
        events += generate(
            peerflow.definition(definition_id), 30, seed=seed, deviation_share=0.6
        ).events
    fast, slow = replay(events), without_fast_path(monkeypatch, events)
    assert fast == slow
    assert [p.final for p in fast] == [p.final for p in slow]
    assert json.dumps([p.to_dict() for p in fast]) == json.dumps([p.to_dict() for p in slow])


_NAME_KEY = {"fire": "event", "submit": "deliverable", "schedule": "date"}


def at_window_edges(events: list[peerflow.Event], rng: random.Random) -> list[peerflow.Event]:
    """The same history with about half its timed events moved onto a window edge (the
    instant it opens or closes, or a microsecond before), where they keep their order."""
    compiled = peerflow.definition(events[0].payload["definition"])
    st = compiled.start(events[0])
    out = [events[0]]
    tick = timedelta(microseconds=1)
    for i, original in enumerate(events[1:], start=1):
        event = original
        key = _NAME_KEY.get(event.type)
        edges: list[datetime] = []
        for step in compiled.next_steps(st, event.at, event.actor) if key else []:
            if step.kind == event.type and step.name == event.payload.get(key):
                edges += [
                    e + d for e in (step.opens_at, step.closes_at) if e for d in (-tick, 0 * tick)
                ]
        following = events[i + 1].at if i + 1 < len(events) else None
        edges = [e for e in edges if e >= out[-1].at and (following is None or e <= following)]
        if edges and rng.random() < 0.5:
            event = attrs.evolve(event, at=rng.choice(edges))
        out.append(event)
        try:
            st = compiled.audit(st, event)[0]
        except peerflow.EventError:
            st = attrs.evolve(st, next_seq=st.next_seq + 1, last_at=max(st.last_at, event.at))
    return out


@pytest.mark.parametrize("definition_id", BUILTINS)
def test_the_fast_path_agrees_at_window_edges(
    definition_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events a microsecond either side of a window's edge: the fast path takes exactly the
    ones the engine finds conforming (taking one more would hide a deviation)."""
    rng = random.Random(definition_id)
    synthetic = generate(peerflow.definition(definition_id), 40, seed=21, deviation_share=0.3)
    by_programme: dict[str, list[peerflow.Event]] = defaultdict(list)
    for event in synthetic.events:
        by_programme[event.programme].append(event)
    events = [e for p in sorted(by_programme) for e in at_window_edges(by_programme[p], rng)]
    fast, slow = replay(events), without_fast_path(monkeypatch, events)
    assert fast == slow
    assert [p.final for p in fast] == [p.final for p in slow]
    moved = sum(a.at != b.at for a, b in zip(events, synthetic_order(synthetic), strict=True))
    if compiled_has_windows(definition_id):
        assert moved > 10
        edge_kinds = {d.kind for p in fast for d in p.deviations}
        assert {"late", "early"} <= edge_kinds  # the edges did produce deviations to agree on


def synthetic_order(synthetic: Any) -> list[peerflow.Event]:
    return sorted(synthetic.events, key=lambda e: (e.programme, e.seq))


def compiled_has_windows(definition_id: str) -> bool:
    t = peerflow.definition(definition_id).type
    return any(tr.window for tr in t.transitions) or any(d.window for d in t.deliverables.values())


def test_a_moved_date_moves_the_fast_paths_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first workshop is held on its date; that evening the next one is set for a week
    later, and held at once anyway: early. A fast path that kept the day it had worked out
    for the first date would take the second workshop as conforming."""
    events = example_events("mia-peer-groups")
    held = next(i for i, e in enumerate(events) if e.payload.get("event") == "hold_workshop")
    minutes = next(e for e in events if e.payload.get("deliverable") == "workshop_minutes")
    first = events[held]
    put_off = (first.at.date() + timedelta(days=7)).isoformat()

    def then(after: timedelta, kind: str, payload: dict[str, Any]) -> peerflow.Event:
        seq = held + 1 + len(extra)
        return attrs.evolve(
            first, seq=seq, id=f"edge-{seq}", at=first.at + after, type=kind, payload=payload
        )

    extra: list[peerflow.Event] = []
    extra.append(then(timedelta(minutes=30), "submit", dict(minutes.payload)))
    extra.append(then(timedelta(hours=1), "schedule", {"date": "workshop_date", "value": put_off}))
    readers = [e for e in events[:held] if e.payload.get("deliverable") == "materials_studied"]
    for reading in readers:  # the materials are studied before each workshop (PP-02)
        extra.append(
            attrs.evolve(
                then(timedelta(hours=1, minutes=30), "submit", reading.payload), actor=reading.actor
            )
        )
    extra.append(then(timedelta(hours=2), "fire", {"event": "hold_workshop"}))
    history = [*events[: held + 1], *extra]
    (result,) = replay(history)
    assert [(d.seq, d.kind) for d in result.deviations] == [(extra[-1].seq, "early")]
    assert without_fast_path(monkeypatch, history) == replay(history)


_ODD_VALUES = st.one_of(
    st.none(),
    st.sampled_from(["", "  ", "text", "yes", "a", True, False, 0, 1, 4, [], {}, ["x"]]),
)


def _content_for(fields: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Content for ``fields`` (parts, or a list entry's fields): each one mostly right,
    sometimes odd or missing, so that content one value away from complete comes up often."""

    def good(field: Any) -> st.SearchStrategy[Any]:
        if field.one_of:
            return st.sampled_from(field.one_of)
        if getattr(field, "list_of", None):
            return st.lists(_content_for(field.list_of), min_size=1, max_size=2)
        return st.just("written")

    missing = object()
    value = {
        name: st.one_of(good(f), good(f), good(f), good(f), _ODD_VALUES, st.just(missing))
        for name, f in fields.items()
    }
    content = st.fixed_dictionaries(value).map(
        lambda drawn: {k: v for k, v in drawn.items() if v is not missing}
    )
    return content | st.one_of(st.none(), st.text(max_size=2))


_STRUCTURED = [
    (compiled.id, name)
    for compiled in (peerflow.definition(d) for d in BUILTINS)
    for name in compiled.tables.content_parts
]


@pytest.mark.parametrize(("definition_id", "deliverable"), _STRUCTURED)
@given(data=st.data())
def test_the_quick_content_check_never_passes_what_check_content_refuses(
    definition_id: str, deliverable: str, data: st.DataObject
) -> None:
    """The fast path's ``_complete`` may say "not sure" (False) of complete content, but
    must never call content complete that ``check_content`` refuses."""
    parts = peerflow.definition(definition_id).tables.content_parts[deliverable]
    content = data.draw(_content_for(dict(parts)))
    if _complete(_shape(parts), content):
        assert check_content(deliverable, parts, content) is None, content


_ODD = (None, "", "  ", "text", True, False, 0, 1, 4, [], {}, ["x"], [{}])


def _complete_example(fields: Any) -> dict[str, Any]:
    return {
        name: field.one_of[0]
        if field.one_of
        else [_complete_example(field.list_of)]
        if getattr(field, "list_of", None)
        else "written"
        for name, field in fields.items()
    }


@pytest.mark.parametrize(("definition_id", "deliverable"), _STRUCTURED)
def test_the_quick_content_check_one_value_away_from_complete(
    definition_id: str, deliverable: str
) -> None:
    """Complete content passes the quick check; every single part (or entry field) set to
    each odd value, or left out, is either refused by the quick check or complete."""
    parts = peerflow.definition(definition_id).tables.content_parts[deliverable]
    shape, complete = _shape(parts), _complete_example(parts)
    assert _complete(shape, complete) and check_content(deliverable, parts, complete) is None
    variants = []
    for name, part in parts.items():
        for odd in (*_ODD, _MISSING):
            variants.append({**complete, name: odd})
            if part.list_of:
                for field in part.list_of:
                    entry = {**complete[name][0], field: odd}
                    variants.append({**complete, name: [entry]})
    # and_or parts are alternatives: only all of them left out is incomplete
    variants.append({k: v for k, v in complete.items() if not parts[k].and_or})
    for variant in variants:
        content = {k: v for k, v in variant.items() if v is not _MISSING}
        for entries in content.values():
            if isinstance(entries, list) and entries and isinstance(entries[0], dict):
                entries[0] = {k: v for k, v in entries[0].items() if v is not _MISSING}
        if _complete(shape, content):
            assert check_content(deliverable, parts, content) is None, content
    assert any(check_content(deliverable, parts, c) for c in variants)


_MISSING = object()


def test_replay_files_keeps_rows_without_payloads(tmp_path: Path) -> None:
    """Once folded, a row keeps the step's name instead of the payload: nothing in it for
    the cyclic collector, which stops tracking it, and a fraction of the memory."""
    synthetic = generate(peerflow.definition("sc-expert-review"), 10, seed=1)
    path = tmp_path / "histories.jsonl"
    path.write_text("\n".join(synthetic.lines()) + "\n", encoding="utf-8")
    result = replay_files(path)
    rows = [row for p in result for row in p.events._rows]  # type: ignore[attr-defined]
    assert len(rows) == len(synthetic.events)
    assert all(isinstance(row[7], str) for row in rows)
    gc.collect()
    assert not any(gc.is_tracked(row) for row in rows)


def test_a_moment_without_offset_is_refused_clearly() -> None:
    events = example_events("mia-tutoring")
    for call in (
        lambda: state_at(events, datetime(2027, 1, 1)),
        lambda: replay_programme(events, until=datetime(2027, 1, 1)),
        lambda: state_at(events, "2027-01-01"),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValueError, match="must be a datetime with a UTC offset"):
            call()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"count": -1}, "count must be a whole number 0 or more"),
        ({"count": "3"}, "count must be a whole number 0 or more"),
        ({"count": 2, "deviation_share": 1.5}, "deviation_share must be between 0 and 1"),
        ({"count": 2, "deviation_share": -0.1}, "deviation_share must be between 0 and 1"),
        ({"count": 2, "kinds": ["late", "lost"]}, "cannot inject \\['lost'\\]"),
    ],
)
def test_the_generator_refuses_what_it_cannot_do(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        generate(peerflow.definition("mia-tutoring"), **arguments)


def test_a_start_with_an_unknown_country_is_invalid_and_replay_goes_on() -> None:
    """The country picks the holiday calendar working days count on: one the holidays
    package does not know must be refused at the start, not fail inside it later."""
    events = example_events("sc-expert-review")
    payload = {**events[0].payload, "country": "XX"}
    broken = [attrs.evolve(e, programme="other") for e in events]
    broken[0] = attrs.evolve(broken[0], payload=payload)
    with pytest.raises(peerflow.EventError, match="no public holiday calendar for 'XX'"):
        peerflow.fold(broken)
    result = {p.programme: p for p in replay([*events, *broken])}
    assert [d.kind for d in result["other"].deviations] == ["invalid"]
    assert result["other"].state is None
    assert result[events[0].programme].completed


_ODD_PAYLOAD_VALUES = (
    None, 0, -1, 1.5, True, "", " ", "x", "2027-02-30", "2027-02-01", "0202-02-01",
    "9999-12-31", [], {}, [1], {"a": 1}, 10**30,
)  # fmt: skip


def _with_odd_value(value: Any, rng: random.Random) -> Any:
    """``value`` (a payload, or a part of one) with one leaf replaced by an odd value."""
    if isinstance(value, dict) and value:
        key = rng.choice(sorted(value))
        return {**value, key: _with_odd_value(value[key], rng)}
    if isinstance(value, list) and value:
        i = rng.randrange(len(value))
        return [*value[:i], _with_odd_value(value[i], rng), *value[i + 1 :]]
    return rng.choice(_ODD_PAYLOAD_VALUES)


@pytest.mark.parametrize("definition_id", BUILTINS)
@given(seed=st.integers(0, 2**32 - 1))
def test_odd_payloads_never_stop_a_replay(definition_id: str, seed: int) -> None:
    """Any payload value of any event swapped for an odd one (a number for a name, a list
    for a date, a date outside the calendar): replay reports, never raises, accounts for
    every event, and the fast path agrees with the engine alone."""
    rng = random.Random(seed)
    events = example_events(definition_id)
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(events))
        events[i] = attrs.evolve(events[i], payload=_with_odd_value(dict(events[i].payload), rng))
    fast = replay(events)
    (programme,) = fast.programmes
    assert len(programme.events) == len(events) or programme.state is None
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(FastFold, "run", lambda self, rows, start, states: start)
        slow = replay(events)
    assert json.dumps([p.to_dict() for p in fast]) == json.dumps([p.to_dict() for p in slow])


def test_a_year_far_out_is_a_bad_line_or_an_invalid_step(tmp_path: Path) -> None:
    """Years outside 1900-2999 (0202 for 2022) are caught where they are read."""
    events = example_events("prospect-peer-mentoring")
    lines = [e.to_line() for e in events]
    lines[2] = lines[2].replace('"at": "2027', '"at": "0202')
    schedule = next(i for i, e in enumerate(events) if e.type == "schedule")
    lines[schedule] = lines[schedule].replace('"value": "2027', '"value": "0202')
    path = tmp_path / "typos.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = read_histories(path)
    assert [p.line for p in found.problems] == [3]
    assert "'at' is in the year 202: expected 1900 to 2999 (a typo?)" in str(found.problems[0])
    with pytest.raises(ValueError, match="expected 1900 to 2999"):
        attrs.evolve(events[1], at=events[1].at.replace(year=3000))
    typo = {**events[schedule].payload, "value": "0202-02-01"}
    first_two = replay([events[0], attrs.evolve(events[schedule], seq=1, payload=typo)])
    (deviation,) = first_two.programmes[0].deviations
    assert deviation.kind == "invalid" and "payload.value' is in the year 202" in deviation.detail


_ODD_ENVELOPE_VALUES = (
    None, 0, -1, 1.5, True, "", "x", [], {}, [1], {"a": 1}, "2027-01-01",
    "0202-01-01T10:00:00+01:00", 10**30,
)  # fmt: skip


@given(data=st.data())
def test_any_broken_file_is_read_and_replayed_the_same_both_ways(
    data: st.DataObject, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Lines with an envelope field set to an odd value, a character lost, or a line
    doubled: reading never raises, every line is read or reported, and replay_files
    gives replay(read_histories())'s result."""
    definition_id = data.draw(st.sampled_from(BUILTINS))
    lines = example_path(definition_id).read_text(encoding="utf-8").splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(lines) - 1))
        how = data.draw(st.sampled_from(["field", "field", "field", "actor", "char", "double"]))
        if how == "char":
            j = data.draw(st.integers(0, len(lines[i]) - 1))
            lines[i] = lines[i][:j] + lines[i][j + 1 :]
        elif how == "double":
            lines.insert(i, lines[i])
        else:
            try:
                envelope = json.loads(lines[i])
            except ValueError:
                continue
            odd = data.draw(st.sampled_from(_ODD_ENVELOPE_VALUES))
            if how == "actor" and isinstance(envelope.get("actor"), dict):
                envelope["actor"][data.draw(st.sampled_from(["role", "id"]))] = odd
            else:
                envelope[data.draw(st.sampled_from(sorted(envelope)))] = odd
            lines[i] = json.dumps(envelope)
    path = tmp_path_factory.mktemp("broken") / "history.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = read_histories(path)
    kept = sum(len(rows) for rows in found.rows.values())
    assert kept <= len(lines)
    assert kept == len(lines) or found.problems
    expected = replay(found)
    got = replay_files(path)
    as_json = [json.dumps([p.to_dict() for p in r], ensure_ascii=False) for r in (got, expected)]
    assert as_json[0] == as_json[1]
    assert [str(p) for p in got.bad_lines] == [str(p) for p in found.problems]


TWO_WINDOWS_ON_ONE_EVENT = """\
id: two-windows
version: 1
title: One event, two windows from two states
timezone: Europe/Brussels
country: BE
waivable_by: [lead]
roles:
  lead: {}
states:
  a: {}
  b: {}
  done: {terminal: true}
initial: a
transitions:
  - {event: go, from: a, to: b, by: lead}
  - event: finish
    from: a
    to: done
    by: lead
    window: {closes: {after: start, days: 2}}
  - event: finish
    from: b
    to: done
    by: lead
    window: {closes: {after: go, working_days: 3}}
"""


def test_a_late_step_is_measured_against_the_window_of_the_state_it_left() -> None:
    """finish from b closes 3 working days (BE) after go on Monday 2027-01-11: at the end of
    Thursday 14 January. Fired on Tuesday 19 January it is 5 days late, 3 working days
    (Friday 15, Monday 18, Tuesday 19). Replay once took the window of finish from a."""
    compiled = peerflow.compile_text(TWO_WINDOWS_ON_ONE_EVENT, "two.yaml")
    cet = timezone(timedelta(hours=1))
    lead = Actor("lead", "lea")
    events = [
        Event(
            "p",
            0,
            "e0",
            datetime(2027, 1, 11, 9, tzinfo=cet),
            lead,
            "start",
            {
                "definition": "two-windows",
                "version": 1,
                "participants": [{"id": "lea", "role": "lead"}],
            },
        ),
        Event("p", 1, "e1", datetime(2027, 1, 11, 10, tzinfo=cet), lead, "fire", {"event": "go"}),
        Event(
            "p", 2, "e2", datetime(2027, 1, 19, 10, tzinfo=cet), lead, "fire", {"event": "finish"}
        ),
    ]
    (late,) = replay(events, compiled).programmes[0].deviations
    assert (late.kind, late.days, late.working_days) == ("late", 5, 3)


def test_every_blocker_kind_is_recorded_as_a_deviation_kind_reports_list() -> None:
    """A blocker an event went through becomes a deviation of a kind the reports count; one
    left out of ``DEVIATION_KINDS`` would vanish from summaries and CSV columns."""
    from peerflow.replay._audit import _FROM_BLOCKER  # noqa: PLC0415 - the mapping itself

    assert sorted(_FROM_BLOCKER) == sorted(peerflow.BLOCKER_KINDS)
    assert [k for k in _FROM_BLOCKER.values() if k not in peerflow.replay.DEVIATION_KINDS] == []


def test_a_group_evaluated_after_one_workshop_is_reported_so(tmp_path: Path) -> None:
    """MiA peer groups meet in "several workshops (at least two)" (PP-02). A history whose
    evaluation came after one workshop deviates, and every report says so: before the
    deviation kind was listed, the summary said "deviations: none"."""
    lines = [json.loads(line) for line in example_path("mia-peer-groups").read_text().splitlines()]
    workshops = [
        i for i, line in enumerate(lines) if line["payload"].get("event") == "hold_workshop"
    ]
    assert len(workshops) == 2  # the shipped example holds two
    kept = [line for i, line in enumerate(lines) if i != workshops[-1]]
    for seq, line in enumerate(kept):
        line["seq"] = seq
    path = tmp_path / "one-workshop.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in kept), encoding="utf-8")
    result = replay_files(path)
    (programme,) = result.programmes
    assert [(d.kind, d.step) for d in programme.deviations] == [
        ("too_few_occurrences", "fire evaluate")
    ]
    summary = peerflow.replay.summarise(result.programmes)
    assert summary["deviations_by_kind"] == {"too_few_occurrences": 1}
    assert summary["deviations_by_step"] == {"fire evaluate": {"too_few_occurrences": 1}}
