"""The file replay's fast path takes every plainly conforming step itself.

The fast path (`_fastfold.py`) folds a conforming event on local variables and hands
everything else to the engine's audit, so a check made more cautious by mistake (a window
never known, a quorum never met) changes no result, only the speed: the equality tests in
test_replay.py cannot see it. This test can: on the shipped histories, which conform, the
fast path must stop only where its design sends an event to the engine (docs/replay.md): the
start, waivers and every step while a waiver stands, claims and payments.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

import peerflow
from peerflow import Actor
from peerflow.engine._compiled import CompiledDefinition
from peerflow.engine._registry import example_path
from peerflow.engine._tables import StepSpec
from peerflow.events._envelope import Event, row_of
from peerflow.replay import Replay, replay
from peerflow.replay._fastfold import DEFERRED, STEP_FIELDS, FastFold, _plans


def engine_only(compiled: CompiledDefinition, event: Event) -> bool:
    """Whether the fast path's design leaves this event to the engine: every step of
    ``compiled`` has a plan (test_steps_with_a_deferred_guard_have_no_fast_plan), and plain
    joins are taken too, so only the other kinds of event are."""
    del compiled
    return event.type not in ("fire", "submit", "schedule", "join")


def _same_both_ways(
    monkeypatch: pytest.MonkeyPatch,
    events: list[Event],
    definition: CompiledDefinition | None = None,
) -> Replay:
    """Replay ``events`` with the fast path and with the engine alone; the two must agree in
    every deviation, record and final state. Returns the engine's."""
    fast = replay(events, definition)
    with monkeypatch.context() as patched:
        patched.setattr(FastFold, "run", lambda self, rows, start, states: start)
        slow = replay(events, definition)
    assert [p.to_dict() for p in fast] == [p.to_dict() for p in slow]
    assert [p.final for p in fast] == [p.final for p in slow]
    return slow


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
"""The start: Monday 1 March 2027; the programme's days are UTC days."""

STARTED = """\
id: started
version: 1
title: Windows counted from the start, and a deadline
roles:
  facilitator: {}
states:
  open: {}
  done: {terminal: true}
initial: open
deadline: {after: start, weeks: 2}
transitions:
  - event: finish
    from: open
    to: done
    by: facilitator
    window:
      opens: {after: start, weeks: 1}
      closes: {after: start, weeks: 3}
    advisory:
      closes: {after: start, days: 10}
  - event: finish_late
    from: open
    to: done
    by: facilitator
    deadline_applies: false
    window:
      opens: {after: start, weeks: 1}
"""
FACILITATOR = Actor("facilitator", "f")
START = Event(
    "p",
    0,
    "p-0",
    BEGIN,
    FACILITATOR,
    "start",
    {"definition": "started", "version": 1, "participants": [{"id": "f", "role": "facilitator"}]},
)


@pytest.mark.parametrize(
    ("event", "moment", "taken"),
    [
        ("finish", "2027-03-07T23:59:59", False),  # the window opens on the 8th
        ("finish", "2027-03-08T00:00:00", True),  # at its first instant
        ("finish", "2027-03-15T23:59:59", True),  # the deadline's last day (two weeks)
        ("finish", "2027-03-16T00:00:00", False),  # the deadline closes before the window
        ("finish_late", "2027-04-20T10:00:00", True),  # the deadline does not bind it
    ],
)
def test_windows_counted_from_the_start_are_the_engine_s(
    event: str, moment: str, taken: bool
) -> None:
    """The fast path takes a step inside its window (from its first instant to the last
    instant of its last day) and leaves one outside to the engine, which refuses it."""
    compiled = peerflow.compile_text(STARTED)
    start = compiled.start(START)
    at = datetime.fromisoformat(moment).replace(tzinfo=UTC)
    fire = Event("p", 1, "p-1", at, FACILITATOR, "fire", {"event": event})
    fast = FastFold(compiled, start)
    assert fast.run([row_of(START), row_of(fire)], 1, []) == (2 if taken else 1)
    if taken:
        assert fast.state_now() == compiled.apply(start, fire)
    else:
        with pytest.raises(peerflow.StepBlocked):
            compiled.apply(start, fire)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"seq": 2}, "a seq that is not the next"),
        ({"programme": "q"}, "another programme's event"),
        ({"at": BEGIN - timedelta(seconds=1)}, "time going back"),
    ],
)
def test_an_event_that_does_not_fit_is_left_to_the_engine(
    change: dict[str, object], why: str
) -> None:
    compiled = peerflow.compile_text(STARTED)
    fire = Event("p", 1, "p-1", BEGIN + timedelta(days=8), FACILITATOR, "fire", {"event": "finish"})
    fast = FastFold(compiled, compiled.start(START))
    assert fast.run([row_of(START), row_of(attrs.evolve(fire, **change))], 1, []) == 1, why


def test_an_event_at_the_same_instant_as_the_last_is_taken() -> None:
    """Time may stand still between two events (it may not go back): the fast path takes the
    second of two agreements signed at the same instant."""
    events = [e for _, e in peerflow.read_history(example_path("prospect-peer-mentoring"))]
    first = next(i for i, e in enumerate(events) if e.type == "submit")
    events[first + 1] = attrs.evolve(events[first + 1], at=events[first].at)
    compiled = peerflow.definition("prospect-peer-mentoring")
    fast = FastFold(compiled, peerflow.fold(events[:first]))
    rows = [row_of(e) for e in events]
    assert fast.run(rows, first, []) > first + 1


def test_a_moved_date_moves_the_window_the_fast_path_keeps() -> None:
    """The visit is put off from 10 to 20 May 2027 before it happens: the fast path counts the
    visit's window from the new date, as the engine does, and takes the visit on the 20th."""
    events = [e for _, e in peerflow.read_history(example_path("prospect-peer-mentoring"))]
    visit = next(i for i, e in enumerate(events) if e.payload.get("event") == "hold_visit")
    moved = attrs.evolve(
        events[visit],
        at=events[visit - 1].at + timedelta(hours=1),
        type="schedule",
        actor=Actor("facilitator", "anna-facilitator"),
        payload={"date": "visit_date", "value": "2027-05-20"},
    )
    held = attrs.evolve(
        events[visit], seq=visit + 1, id="moved-visit", at=events[visit].at + timedelta(days=10)
    )
    history = [*events[:visit], moved, held]
    compiled = peerflow.definition("prospect-peer-mentoring")
    first = next(
        i for i, e in enumerate(events) if e.payload.get("event") == "hold_working_together"
    )
    fast = FastFold(compiled, peerflow.fold(events[: first + 1]))
    assert fast.run([row_of(e) for e in history], first + 1, []) == len(history)
    assert fast.state_now() == peerflow.fold(history)


def test_an_advice_with_only_an_end_has_no_start() -> None:
    compiled = peerflow.compile_text(STARTED)
    st = compiled.start(START)
    (finish,) = [s for s in compiled.next_steps(st, BEGIN) if s.name == "finish"]
    assert (finish.advised_from, finish.advised_by) == (None, datetime(2027, 3, 12, tzinfo=UTC))


def test_an_advice_counted_from_an_unset_date_is_not_shown_until_the_date_is_set() -> None:
    """Advice is indicative: a date not yet scheduled leaves it out, never blocks or fails."""
    text = STARTED.replace(
        "closes: {after: start, days: 10}", "closes: {before: review_day, days: 3}"
    )
    text += "dates:\n  review_day: {title: Review day, set_by: [facilitator]}\n"
    compiled = peerflow.compile_text(text)
    st = compiled.start(START)
    (finish,) = [s for s in compiled.next_steps(st, BEGIN) if s.name == "finish"]
    assert (finish.advised_from, finish.advised_by) == (None, None)
    assert [d.name for d in compiled.deadlines(st, BEGIN) if d.advisory] == []
    day = {"date": "review_day", "value": "2027-03-20"}
    st = compiled.apply(st, Event("p", 1, "p-1", BEGIN, FACILITATOR, "schedule", day))
    (finish,) = [s for s in compiled.next_steps(st, BEGIN) if s.name == "finish"]
    assert finish.advised_by == datetime(2027, 3, 18, tzinfo=UTC)  # ends 3 days before the 20th
    advice = [(d.name, d.due_at) for d in compiled.deadlines(st, BEGIN) if d.advisory]
    assert advice == [("finish", finish.advised_by)]


def test_the_fast_path_knows_every_field_of_a_compiled_step() -> None:
    """A guard added to the engine's compiled step is either checked by the fast path with
    the engine's own function or leaves the step to the engine; never silently ignored."""
    assert sorted(STEP_FIELDS) == sorted(f.name for f in attrs.fields(StepSpec))


@pytest.mark.parametrize("definition_id", sorted(peerflow.builtin_files()))
def test_steps_with_a_deferred_guard_have_no_fast_plan(definition_id: str) -> None:
    """Every step that uses a field the fast path defers is absent from its plans, and every
    other step has one."""
    compiled = peerflow.definition(definition_id)
    deferred = [name for name, how in STEP_FIELDS.items() if how == DEFERRED]
    plans = _plans(compiled)
    tables = compiled.tables.by_kind
    wrong = []
    for kind, table in tables.items():
        for state, steps in table.items():
            for name, spec in steps.items():
                should = not any(getattr(spec, field) for field in deferred)
                if should != (name in plans[kind][1][state]):
                    wrong.append(f"{kind} {name} in {state}: planned {not should}")
    assert wrong == []


def _join_variants(definition_id: str) -> list[list[Event]]:
    """The shipped history with one join made odd in each way the join rules can refuse or
    flag it: a role that does not join later, a participant already in, an empty or
    unprintable id, a wrong or absent role of the actor, someone else joining a role that
    joins itself (or a role not allowed to add), a join after its stage, one past the
    maximum, and the actor naming another role than the one it holds."""
    events = [e for _, e in peerflow.read_history(example_path(definition_id))]
    joins = [i for i, e in enumerate(events) if e.type == "join"]
    assert joins, definition_id
    first, last = joins[0], joins[-1]
    starter = events[0].actor
    members = [(p["id"], p["role"]) for p in events[0].payload["participants"]]
    joined = events[first]
    other_member = next(
        pid for pid, role in members if pid != joined.actor.id and role != joined.actor.role
    )
    variants: list[list[Event]] = []

    def changed(index: int, **fields: object) -> None:
        variants.append(
            [*events[:index], attrs.evolve(events[index], **fields), *events[index + 1 :]]
        )

    def payload(**given: object) -> dict[str, object]:
        return {**events[first].payload, **given}

    changed(first, payload=payload(role=members[0][1]))  # a role that joins at the start
    changed(first, payload=payload(role="nobody"))
    changed(first, payload=payload(participant=members[0][0]))  # already in
    changed(first, payload=payload(participant=""))
    changed(first, payload=payload(participant="new\x1bperson"))
    changed(first, payload=payload(participant=42))
    changed(first, actor=Actor(starter.role, starter.id))  # someone else adds them
    # a member acting in the role that may add (or join), which they do not hold
    changed(first, actor=Actor(joined.actor.role, other_member))
    # the same participant joining twice, the second time rightly in every other way
    twice = [*events[: first + 1], events[first], *events[first + 1 :]]
    variants.append([attrs.evolve(e, seq=i) for i, e in enumerate(twice)])
    changed(first, actor=Actor(joined.actor.role + "x", joined.actor.id))
    # the last join moved after the next step (past the join stage, where there is one)
    following = next((i for i in range(last + 1, len(events)) if events[i].type == "fire"), None)
    if following is not None:
        moved = [*events[:last], *events[last + 1 : following + 1]]
        late = attrs.evolve(events[last], at=events[following].at)
        rest = [late, *events[following + 1 :]]
        variants.append([attrs.evolve(e, seq=i) for i, e in enumerate([*moved, *rest])])
    # more joins than the role's maximum, each a new participant
    extra = [
        attrs.evolve(
            events[last],
            payload={**events[last].payload, "participant": f"extra-{n}"},
            actor=Actor(events[last].actor.role, f"extra-{n}")
            if events[last].actor.id == events[last].payload["participant"]
            else events[last].actor,
        )
        for n in range(10)
    ]
    spliced = [*events[: last + 1], *extra, *events[last + 1 :]]
    variants.append([attrs.evolve(e, seq=i) for i, e in enumerate(spliced)])
    return variants


@pytest.mark.parametrize(
    "definition_id", ["mia-peer-groups", "mia-tutoring", "sc-expert-mission", "sc-site-visit"]
)
def test_the_fast_path_takes_a_join_only_as_the_engine_would(
    definition_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Joins are the fast path's since it mirrors the join handler: every odd join gives
    the very same replay (deviations, refusals, final state) as the engine alone."""
    for events in _join_variants(definition_id):
        _same_both_ways(monkeypatch, events)


def _workshop_variants() -> list[list[Event]]:
    """MiA peer groups' workshops (PP-04: at least two; each renews the workshop date and the
    minutes and materials owed): the second workshop held without its date set again; a
    second workshop the same day as the first, its renewed deliverables handed in again
    (its date, renewed, is no longer set); two more workshops than the count that matters;
    and the evaluation fired after one workshop."""
    events = [e for _, e in peerflow.read_history(example_path("mia-peer-groups"))]

    def renumbered(seq: list[Event]) -> list[Event]:
        return [attrs.evolve(e, seq=i) for i, e in enumerate(seq)]

    fires = [i for i, e in enumerate(events) if e.payload.get("event") == "hold_workshop"]
    first, second = fires[0], fires[1]
    dates = [i for i, e in enumerate(events) if e.type == "schedule" and i > first]
    variants = [renumbered([e for i, e in enumerate(events) if i != dates[0]])]
    # the same day: the renewed deliverables again, then the workshop an hour later
    start = events[first].at
    renewed = [e for e in events[first + 1 : second] if e.type == "submit"]
    again = [attrs.evolve(e, at=start + timedelta(minutes=5)) for e in renewed]
    same_day = attrs.evolve(events[first], at=start + timedelta(hours=1))
    variants.append(renumbered([*events[: first + 1], *again, same_day, *events[first + 1 :]]))
    # two more workshops after the second, each with its date, deliverables and day
    more: list[Event] = []
    day = events[second].at
    between = [e for e in events[first + 1 : second] if e.type == "schedule"]
    between += [e for e in events[first + 1 : second] if e.type == "submit"]
    for n in (1, 2):
        held = day + timedelta(days=7 * n)
        for e in between:
            if e.type == "schedule":
                more.append(
                    attrs.evolve(
                        e,
                        at=held - timedelta(days=3),
                        payload={**e.payload, "value": held.date().isoformat()},
                    )
                )
            else:
                more.append(attrs.evolve(e, at=held - timedelta(days=2)))
        more.append(attrs.evolve(events[second], at=held))
    later = [attrs.evolve(e, at=e.at + timedelta(days=21)) for e in events[second + 1 :]]
    variants.append(renumbered([*events[: second + 1], *more, *later]))
    evaluate = next(i for i, e in enumerate(events) if e.payload.get("event") == "evaluate")
    early = attrs.evolve(events[evaluate], at=events[first].at)
    variants.append(renumbered([*events[: first + 1], early, *events[first + 1 :]]))
    return variants


def test_the_fast_path_counts_and_renews_as_the_engine_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Counted, renewing and conditional fires are the fast path's: each odd variant gives
    the very same replay (deviations, final counts and marks) as the engine alone."""
    found: list[list[str]] = []
    for events in _workshop_variants():
        slow = _same_both_ways(monkeypatch, events)
        found.append([d.kind for p in slow for d in p.deviations])
    assert found[2] == []  # the extra workshops conform: the fast path takes them
    assert all(found[i] for i in (0, 1, 3))


def _condition_variants() -> list[list[Event]]:
    """Scalable Cities expert review (ER-07/ER-08): the final document is required to
    complete only while the final meeting's minutes say changes were discussed ("yes").
    Without the final document: minutes saying "yes", "no", "yes" then corrected to "no",
    "no" then corrected to "yes", and "yes" written as true or 1 (not the text "yes")."""
    events = [e for _, e in peerflow.read_history(example_path("sc-expert-review"))]
    minutes = next(
        i for i, e in enumerate(events) if e.payload.get("deliverable") == "final_meeting_minutes"
    )
    final = {
        i
        for i, e in enumerate(events)
        if e.payload.get("deliverable") == "final_document"
        or e.payload.get("event") == "deliver_final_document"
    }

    def said(*values: object) -> list[Event]:
        again = [
            attrs.evolve(
                events[minutes],
                at=events[minutes].at + timedelta(minutes=n),
                payload={
                    **events[minutes].payload,
                    "content": {**events[minutes].payload["content"], "changes_discussed": v},
                },
            )
            for n, v in enumerate(values)
        ]
        kept = [e for i, e in enumerate(events) if i not in final and i != minutes]
        spliced = [*kept[:minutes], *again, *kept[minutes:]]
        return [attrs.evolve(e, seq=i) for i, e in enumerate(spliced)]

    return [said("yes"), said("no"), said("yes", "no"), said("no", "yes"), said(True), said(1)]


def test_the_fast_path_reads_conditions_as_the_engine_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Submissions a condition reads are the fast path's: the latest decides, and only the
    very value ("yes", not true or 1) sets the condition; every variant replays the same."""
    missing = []
    for events in _condition_variants():
        slow = _same_both_ways(monkeypatch, events)
        missing.append(any(d.kind == "missing_deliverable" for p in slow for d in p.deviations))
        if not any(p.deviations for p in slow):  # the fast path took all the design gives it
            assert _stops(events) == [
                i
                for i, e in enumerate(events)
                if i and engine_only(peerflow.definition("sc-expert-review"), e)
            ]
    assert missing == [True, False, False, True, False, False]


def _stops(events: list[Event]) -> list[int]:
    """Where the fast path hands a history's events to the engine."""
    compiled = peerflow.definition(events[0].payload["definition"])
    rows = [row_of(e) for e in events]
    fast = FastFold(compiled, compiled.start(events[0]))
    stopped, index, after = [], 1, [fast.st.state]
    while (index := fast.run(rows, index, after)) < len(rows):
        stopped.append(index)
        fast.load(compiled.audit(fast.state_now(), events[index])[0])
        index += 1
    return stopped


def test_a_renewed_date_no_window_of_the_step_reads_is_forgotten_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """MiA peer groups with the later workshops held on no fixed day: the workshop that
    renews the date never read it, so the date's day was never worked out, and forgetting
    it must not fail; the replay is the engine's."""
    text = Path(peerflow.builtin_files()["mia-peer-groups"]).read_text(encoding="utf-8")
    later = text.index("from: workshops\n    to: workshops")
    window = text.index("    window: {day_of: workshop_date}\n", later)
    compiled = peerflow.compile_text(text[:window] + text[window + 36 :])
    assert not compiled.tables.fire["workshops"]["hold_workshop"].opens
    events = [e for _, e in peerflow.read_history(example_path("mia-peer-groups"))]
    assert _same_both_ways(monkeypatch, events, compiled).programmes[0].completed
