"""The file replay's fast path takes every plainly conforming step itself.

The fast path (`_fastfold.py`) folds a conforming event on local variables and hands
everything else to the engine's audit, so a check made more cautious by mistake (a window
never known, a quorum never met) changes no result, only the speed: the equality tests in
test_replay.py cannot see it. This test can: on the shipped histories, which conform, the
fast path must stop only where its design sends an event to the engine (docs/replay.md): the
start, joins, waivers and every step while a waiver stands, claims, payments, and the steps
whose evaluation reads more than its plans hold (conditional requirements, counted steps,
renewals, submissions a condition reads).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

import peerflow
from peerflow import Actor
from peerflow._engine import CompiledDefinition
from peerflow._events import Event, row_of
from peerflow._fastfold import FastFold
from peerflow.cli import example_path


def engine_only(compiled: CompiledDefinition, event: Event) -> bool:
    """Whether the fast path's design leaves this event to the engine."""
    t = compiled.type
    if event.type not in ("fire", "submit", "schedule"):
        return True
    if event.type == "submit":
        return any(c.deliverable == event.payload["deliverable"] for c in compiled.conditions)
    if event.type == "fire":
        name = event.payload["event"]
        return (
            any(tr.event == name and (tr.requires_when or tr.min_times) for tr in t.transitions)
            or any(d.renewed_by == name for d in t.deliverables.values())
            or any(d.renewed_by == name for d in t.dates.values())
            or name in compiled.counted_events
        )
    return False


@pytest.mark.parametrize("definition_id", sorted(peerflow.builtin_files()))
def test_the_fast_path_stops_only_where_it_is_designed_to(definition_id: str) -> None:
    events = [e for _, e in peerflow.read_history(example_path(definition_id))]
    compiled = peerflow.definition(definition_id)
    rows = [row_of(e) for e in events]
    fast = FastFold(compiled, compiled.start(events[0]))
    stopped, index, after = [], 1, [fast.st.state]
    while index < len(rows):
        index = fast.run(rows, index, after)
        if index >= len(rows):
            break
        stopped.append(index)
        st = compiled.apply(fast.state_now(), events[index])  # the examples conform
        fast.load(st)
        after.append(st.state)
        index += 1
    expected, st = [], compiled.start(events[0])
    for i, e in enumerate(events[1:], start=1):
        if st.waivers or engine_only(compiled, e):  # while a waiver stands, the engine judges
            expected.append(i)
        st = compiled.apply(st, e)
    assert stopped == expected, [(i, events[i].type, events[i].payload) for i in stopped]
    assert fast.state_now() == peerflow.fold(events)


def test_a_step_the_deadline_does_not_bind_is_taken_after_it() -> None:
    """PROSPECT's cancellation is not bound by the nine months (deadline_applies: false): the
    fast path takes it a year after the orientation, as the engine does."""
    events = [e for _, e in peerflow.read_history(example_path("prospect-peer-mentoring"))]
    compiled = peerflow.definition("prospect-peer-mentoring")
    cut = next(i for i, e in enumerate(events) if e.payload.get("event") == "hold_visit")
    late = attrs.evolve(
        events[cut],
        at=events[cut].at + timedelta(days=365),
        actor=events[0].actor,
        payload={"event": "cancel"},
    )
    rows = [row_of(e) for e in [*events[:cut], late]]
    st = peerflow.fold(events[:cut])
    fast = FastFold(compiled, st)
    assert fast.run(rows, cut, []) == cut + 1
    assert fast.state_now() == compiled.apply(st, late)


BEGIN = datetime(2027, 3, 1, 12, tzinfo=UTC)

STARTED = """\
id: started
version: 1
title: A window counted from the start
roles:
  facilitator: {}
states:
  open: {}
  done: {terminal: true}
initial: open
transitions:
  - event: finish
    from: open
    to: done
    by: facilitator
    window:
      opens: {after: start, weeks: 1}
      closes: {after: start, weeks: 2}
"""


@pytest.mark.parametrize(("days", "taken"), [(6, False), (7, True), (14, True), (15, False)])
def test_a_window_counted_from_the_start_is_the_engine_s(days: int, taken: bool) -> None:
    """Opens on the 7th day after the start's day, open through the 14th: the fast path takes
    a step inside and leaves one outside to the engine, which refuses it."""
    compiled = peerflow.compile_text(STARTED)
    facilitator = Actor("facilitator", "f")
    start = compiled.start(
        Event(
            "p",
            0,
            "p-0",
            BEGIN,
            facilitator,
            "start",
            {
                "definition": "started",
                "version": 1,
                "participants": [{"id": "f", "role": "facilitator"}],
            },
        )
    )
    finish = Event(
        "p", 1, "p-1", BEGIN + timedelta(days=days), facilitator, "fire", {"event": "finish"}
    )
    fast = FastFold(compiled, start)
    reached = fast.run(
        [row_of(Event("p", 0, "p-0", BEGIN, facilitator, "start", {})), row_of(finish)], 1, []
    )
    assert reached == (2 if taken else 1)
    if taken:
        assert fast.state_now() == compiled.apply(start, finish)
    else:
        with pytest.raises(peerflow.StepBlocked):
            compiled.apply(start, finish)
