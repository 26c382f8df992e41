"""The schedule forecast: when each remaining step can happen, and whether a programme can
still finish in time.

Two kinds of proof. The dates come from the PROSPECT booklet (the nine months of PM-02, the two
weeks of PM-05), never from the definition. And the forecast agrees with the model checker:
for a situation the checker's explorer reached in any built-in definition, the forecast from
that situation is feasible exactly where the explorer's graph has a way to a completion in
time from it, finishes first at the explorer's first such completion, and gives each step the
first and last moment the explorer's graph takes it on such a way. The explorer is a separate
search (``peerflow.checking``); the forecast shares only the engine's own ``apply`` and
``next_steps`` with it.
"""

from __future__ import annotations

import functools
import json
from collections import deque
from datetime import date, datetime, timedelta
from pathlib import Path

import attrs
import pytest
from conftest import CAST, CET, FACILITATOR, MENTEE_A, MENTEE_B, MENTOR, cet
from hypothesis import given, settings
from hypothesis import strategies as st

import peerflow
from peerflow import Forecast, Programme
from peerflow.checking import Edge, Exploration, complete_content, explore
from peerflow.engine._registry import builtin_files

# --- what the booklet says -------------------------------------------------------------

ORIENTATION = datetime(2027, 2, 1, 10, tzinfo=CET)
"""The ``oriented`` fixture holds the orientation then."""
# PM-02: "four (4) main steps that need to be completed within a maximum period of nine (9)
# months" from the orientation: the whole day of 2027-11-01 still counts.
NINE_MONTHS_END = datetime(2027, 11, 2, tzinfo=CET)
# PM-05: Learning Needs and Learning Experiences "uploaded within two weeks after the
# orientation session": through 2027-02-15, closed from 2027-02-16.
TWO_WEEKS_END = datetime(2027, 2, 16, tzinfo=CET)


def test_a_programme_on_time_can_finish_before_the_nine_months(oriented: Programme) -> None:
    f = oriented.forecast(ORIENTATION)
    assert f.feasible and f.breaking is None and f.complete
    assert f.deadline == NINE_MONTHS_END
    assert f.finish_at is not None and ORIENTATION < f.finish_at < NINE_MONTHS_END
    by_step = {(s.kind, s.name): s for s in f.steps}
    for upload in ("learning_needs", "learning_experiences"):
        s = by_step["submit", upload]
        assert s.closes_at == TWO_WEEKS_END
        assert ORIENTATION <= s.earliest < s.latest < TWO_WEEKS_END
        # it can wait until the last minute of the two weeks and the programme still finishes
        assert s.latest == TWO_WEEKS_END - timedelta(minutes=1)
        assert s.critical
    # Every step said to wait until the last minute of its window can: taken then, by
    # whoever may, the programme can still finish (the search's claim, checked by the engine)
    for s in f.steps:
        if s.closes_at is not None and s.latest == s.closes_at - timedelta(minutes=1):
            assert _can_still_finish_after(oriented, s.kind, s.name, s.latest), s
    # The last step is the completion, within the nine months, and on the first way.
    assert f.critical_path[-1].kind == "fire" and f.critical_path[-1].at == f.finish_at
    assert all(p.at <= f.finish_at for p in f.critical_path)
    assert [p.at for p in f.critical_path] == sorted(p.at for p in f.critical_path)


def _can_still_finish_after(p: Programme, kind: str, step: str, at: datetime) -> bool:
    """Some participant takes the step at ``at`` from where the programme stands or after the
    steps of its first way that come before ``at``; then a forecast says it can finish."""
    d = p.definition
    first_way = p.forecast(ORIENTATION).critical_path
    st = p.state
    for planned in first_way:
        if planned.at >= at or (planned.kind, planned.name) == (kind, step):
            break
        st = _take(d, st, planned.kind, planned.name, planned.role, planned.at) or st
    after = _take(d, st, kind, step, None, at)
    return after is not None and peerflow.forecast(d, after, at).feasible


def _take(
    d: peerflow.CompiledDefinition,
    st: peerflow.ProgrammeState,
    kind: str,
    step: str,
    role: str | None,
    at: datetime,
) -> peerflow.ProgrammeState | None:
    owing = {
        pid for s in d.next_steps(st, at) if (s.kind, s.name) == (kind, step) for pid in s.owed_by
    }
    for pid, held in st.members():
        if role is not None and held != role:
            continue
        if owing and pid not in owing:
            continue  # one who still owes it hands it in, not one handing it in again
        payload: dict[str, object] = {"event": step} if kind == "fire" else {"deliverable": step}
        if kind == "schedule":
            payload = {"date": step, "value": (at + timedelta(days=35)).date().isoformat()}
        content = complete_content(d, step) if kind == "submit" else None
        if content is not None:
            payload["content"] = content
        event = peerflow.Event(
            st.programme,
            st.next_seq,
            f"t{st.next_seq}",
            at,
            peerflow.Actor(held, pid),
            kind,
            payload,
        )
        try:
            return d.apply(st, event)
        except peerflow.EventError:
            continue
    return None


def test_missing_the_two_weeks_needs_a_waiver_and_names_the_step(oriented: Programme) -> None:
    """PM-05 missed: nothing finishes without lifting the lateness of the uploads."""
    late = TWO_WEEKS_END + timedelta(hours=10)
    f = oriented.forecast(late)
    assert not f.feasible and f.finish_at is None and f.complete
    assert f.breaking is not None
    assert (f.breaking.kind, f.breaking.name) in {
        ("submit", "learning_needs"),
        ("submit", "learning_experiences"),
    }
    assert f.breaking.closed_at == TWO_WEEKS_END
    assert f"without a waiver: {f.breaking.title} (its window closed" in f.to_text()
    # The waiver the forecast names is what it takes: with both uploads waived (one of them
    # is named, the other closed at the same moment), the programme can finish again.
    for upload in ("learning_needs", "learning_experiences"):
        oriented.waive(
            "submit", upload, ["window_closed"], reason="late uploads", at=late, actor=FACILITATOR
        )
    assert oriented.forecast(late).feasible


def test_uploads_in_time_keep_the_programme_feasible(oriented: Programme) -> None:
    at = datetime(2027, 2, 15, 12, tzinfo=CET)  # the last day of the two weeks
    assert oriented.forecast(at).feasible
    oriented.submit("learning_needs", at=at, actor=MENTEE_A)
    oriented.submit("learning_needs", at=at, actor=MENTEE_B)
    oriented.submit("learning_experiences", at=at, actor=MENTOR)
    after = oriented.forecast(at + timedelta(days=2))
    assert after.feasible
    assert {(s.kind, s.name) for s in after.steps}.isdisjoint(
        {("submit", "learning_needs"), ("submit", "learning_experiences")}
    )


def test_a_finished_programme_has_nothing_left(new_programme: object) -> None:
    d = peerflow.definition("mia-tutoring")
    ex = _explored("mia-tutoring")
    done = next(n for n, s in enumerate(ex.states) if s.state in d.type.completion_states())
    f = peerflow.forecast(d, ex.states[done], ex.moments[done])
    assert f.feasible and f.steps == () and f.critical_path == ()
    assert f.finish_at == ex.moments[done]


def test_a_forecast_refuses_a_naive_moment_or_one_before_the_history(
    oriented: Programme,
) -> None:
    with pytest.raises(ValueError, match="aware"):
        oriented.forecast(datetime(2027, 3, 1))
    with pytest.raises(ValueError, match="before the programme's latest event"):
        oriented.forecast(ORIENTATION - timedelta(days=1))


def test_the_search_bound_is_said(oriented: Programme) -> None:
    f = oriented.forecast(ORIENTATION, max_nodes=5)
    assert not f.complete and f.situations <= 5
    assert "raise max_nodes" in f.to_text()


def test_to_dict_is_json_with_every_field(oriented: Programme) -> None:

    f = oriented.forecast(ORIENTATION)
    data = json.loads(json.dumps(f.to_dict()))
    assert set(data) == {a.name for a in attrs.fields(Forecast)}
    assert data["feasible"] is True and data["deadline"] == NINE_MONTHS_END.isoformat()
    assert len(data["steps"]) == len(f.steps) and data["breaking"] is None


# --- the forecast against the model checker's explorer -----------------------------------


@functools.cache
def _explored(name: str) -> Exploration:
    return explore(peerflow.definition(name), max_nodes=50_000)


@attrs.frozen
class _Truth:
    """What the explorer's graph says of the ways from one of its situations."""

    feasible: bool
    finish_at: datetime | None
    steps: dict[tuple[str, str], tuple[datetime, datetime]]


@functools.cache
def _alive(name: str) -> tuple[frozenset[int], dict[int, list[int]]]:
    """The explorer's situations with a way to a completion in time (no waivers), and its
    edges forwards; computed here from the explorer's edges, not by the forecast."""
    d = peerflow.definition(name)
    ex = _explored(name)
    goal = set()
    for n, s in enumerate(ex.states):
        if s.state in d.type.completion_states():
            deadline = d.deadline_at(s)
            if deadline is None or ex.moments[n] < deadline:
                goal.add(n)
    back: dict[int, list[int]] = {}
    forward: dict[int, list[int]] = {}
    for e in ex.edges:
        if not e.waiver:
            back.setdefault(e.target, []).append(e.source)
            forward.setdefault(e.source, []).append(e.target)
    alive, queue = set(goal), deque(goal)
    while queue:
        for source in back.get(queue.popleft(), ()):
            if source not in alive:
                alive.add(source)
                queue.append(source)
    return frozenset(alive), forward


def _truth(name: str, node: int) -> _Truth:
    d = peerflow.definition(name)
    ex = _explored(name)
    alive, forward = _alive(name)
    reach, queue = {node}, deque([node])
    while queue:
        for target in forward.get(queue.popleft(), ()):
            if target not in reach:
                reach.add(target)
                queue.append(target)
    finishes = [
        ex.moments[n] for n in reach & alive if ex.states[n].state in d.type.completion_states()
    ]
    steps: dict[tuple[str, str], tuple[datetime, datetime]] = {}
    for e in ex.edges:
        if e.kind == "clock" or e.waiver:
            continue
        if e.source not in reach or e.source not in alive or e.target not in alive:
            continue
        before, after = ex.states[e.source], ex.states[e.target]
        if e.kind == "submit" and (before.submitted, before.facts) == (
            after.submitted,
            after.facts,
        ):
            continue  # handed in again, saying the same: not a step still to take
        key = (e.kind, e.step.removeprefix("join ") if e.kind == "join" else e.step)
        m = ex.moments[e.source]
        first, last = steps.get(key, (m, m))
        steps[key] = (min(first, m), max(last, m))
    return _Truth(node in alive, min(finishes, default=None), steps)


BUILT_IN = sorted(builtin_files())
EXAMPLES = max(8, settings().max_examples // 10)


@pytest.mark.parametrize("name", BUILT_IN)
@settings(max_examples=EXAMPLES)
@given(pick=st.integers(min_value=0))
def test_the_forecast_agrees_with_the_explorer(name: str, pick: int) -> None:
    """From any situation the explorer reached (the programme just after an event), the
    forecast is feasible exactly where the explorer has a way to complete in time, finishes
    when the explorer's first completion does, and dates each step as the explorer's ways do."""
    ex = _explored(name)
    fresh = [
        n
        for n, s in enumerate(ex.states)
        if not s.terminal and s.last_at == ex.moments[n] and n in ex.expanded
    ]
    node = fresh[pick % len(fresh)]
    f = peerflow.forecast(ex.definition, ex.states[node], ex.moments[node], horizon=ex.horizon)
    truth = _truth(name, node)
    assert f.complete
    assert f.feasible == truth.feasible, ex.path_to(node)
    assert f.finish_at == truth.finish_at
    assert {(s.kind, s.name): s.earliest for s in f.steps} == {
        key: first for key, (first, _) in truth.steps.items()
    }
    moved = []
    for s in f.steps:
        _, last = truth.steps[s.kind, s.name]
        # the explorer's latest, or the last minute of the step's window (found by a search
        # from there, which the explorer does not make)
        if s.latest != last:
            assert s.closes_at is not None and s.latest == s.closes_at - timedelta(minutes=1)
            assert s.latest > last, (s, last)
            moved.append((s, last))
    if moved:  # one of them, drawn, checked in full: still allowed then, and still finishing
        s, last = moved[pick % len(moved)]
        assert _allowed_at(name, s.kind, s.name, last, s.latest), (s, last)
    if f.feasible:
        assert _walks_to_completion(name, node, f)


@functools.cache
def _taking(name: str) -> dict[tuple[str, str, datetime], list[int]]:
    """The explorer's situations that take each step at each moment."""
    ex = _explored(name)
    found: dict[tuple[str, str, datetime], list[int]] = {}
    for e in ex.edges:
        found.setdefault((e.kind, e.step, ex.moments[e.source]), []).append(e.source)
    return found


def _allowed_at(name: str, kind: str, step: str, last: datetime, at: datetime) -> bool:
    """In a situation where the explorer takes the step at its latest, the engine still
    allows it at ``at`` (the last minute of its window), and once taken then, the programme
    can still finish (by a forecast from there: its verdicts are what the property holds)."""
    ex = _explored(name)
    d = ex.definition
    alive, _ = _alive(name)
    for source in _taking(name).get((kind, step, last), ()):
        if source not in alive:
            continue
        st = ex.states[source]
        for pid, role in st.members():
            actor = peerflow.Actor(role, pid)
            if not any(
                s.allowed and (kind != "submit" or not s.owed_by or pid in s.owed_by)
                for s in d.next_steps(st, at, actor)
                if (s.kind, s.name) == (kind, step)
            ):
                continue
            payload: dict[str, object] = (
                {"event": step} if kind == "fire" else {"deliverable": step}
            )
            content = complete_content(d, step) if kind == "submit" else None
            if content is not None:
                payload["content"] = content
            event = peerflow.Event(st.programme, st.next_seq, "late", at, actor, kind, payload)
            after = d.apply(st, event)
            if peerflow.forecast(d, after, at, horizon=ex.horizon).feasible:
                return True
    return False


def _walks_to_completion(name: str, node: int, f: Forecast) -> bool:
    """The forecast's first way, step by step, is a way through the explorer's graph: each
    planned step is an edge of that kind, step and role at its moment (the clock passing in
    between), ending in a completion at ``finish_at``."""
    ex = _explored(name)
    by_source: dict[int, list[Edge]] = {}
    for e in ex.edges:
        if not e.waiver:
            by_source.setdefault(e.source, []).append(e)
    here = {node}
    for planned in (*f.critical_path, None):
        until = f.finish_at if planned is None else planned.at
        assert until is not None
        # let the clock pass up to the step's moment
        queue, seen = deque(here), set(here)
        while queue:
            for e in by_source.get(queue.popleft(), ()):
                if e.kind == "clock" and ex.moments[e.target] <= until and e.target not in seen:
                    seen.add(e.target)
                    queue.append(e.target)
        here = {n for n in seen if ex.moments[n] == until}
        if planned is None:
            break
        step = f"join {planned.name}" if planned.kind == "join" else planned.name
        here = {
            e.target
            for n in here
            for e in by_source.get(n, ())
            if (e.kind, e.step) == (planned.kind, step)
            and e.actor is not None
            and e.actor.role == planned.role
        }
    completion = ex.definition.type.completion_states()
    return any(ex.states[n].state in completion for n in here)


@pytest.mark.parametrize("name", BUILT_IN)
@settings(max_examples=EXAMPLES)
@given(pick=st.integers(min_value=0))
def test_a_programme_that_waited_is_never_less_feasible_than_the_explorer_says(
    name: str, pick: int
) -> None:
    """A situation the clock reached (no event since): the forecast may set a date now,
    which the explorer does only right after an event, so it finds at least the explorer's
    ways: feasible wherever the explorer is."""
    ex = _explored(name)
    waited = [
        n
        for n, s in enumerate(ex.states)
        if not s.terminal and s.last_at < ex.moments[n] and n in ex.expanded
    ]
    if not waited:  # then the explorer never lets the clock pass before an end
        assert all(e.kind != "clock" or ex.states[e.target].terminal for e in ex.edges), name
        return
    node = waited[pick % len(waited)]
    f = peerflow.forecast(ex.definition, ex.states[node], ex.moments[node], horizon=ex.horizon)
    if _truth(name, node).feasible:
        assert f.feasible, ex.path_to(node)


def test_the_agreement_covers_both_answers() -> None:
    """The explorer's graphs hold situations that can still finish and, wherever the
    definition has a window, ones that cannot: the property above sees both verdicts."""
    for name in BUILT_IN:
        alive, _ = _alive(name)
        ex = _explored(name)
        live = [n for n, s in enumerate(ex.states) if not s.terminal]
        assert any(n in alive for n in live), name
        has_windows = any(tr.window for tr in ex.definition.type.transitions) or any(
            d.window for d in ex.definition.type.deliverables.values()
        )
        assert any(n not in alive for n in live) == has_windows, name


def test_dates_are_assumed_set_schedule_days_ahead(new_programme: object) -> None:
    d = peerflow.definition("prospect-peer-mentoring")
    p = Programme.start(
        d,
        "p-sched",
        at=cet(1, 11, 9),
        actor=FACILITATOR,
        participants=[(a.id, a.role) for a in CAST],
    )
    soon = p.forecast(cet(1, 11, 9), schedule_days=7)
    later = p.forecast(cet(1, 11, 9), schedule_days=35)
    hold = ("fire", "hold_orientation")
    first = {(s.kind, s.name): s.earliest for s in soon.steps}[hold]
    second = {(s.kind, s.name): s.earliest for s in later.steps}[hold]
    assert first.date() == date(2027, 1, 18) and second.date() == date(2027, 2, 15)


# --- the command line ------------------------------------------------------------------


def test_next_forecast_from_a_history_file(capsys: pytest.CaptureFixture[str]) -> None:
    """The Ghent example at the end of the two weeks of PM-05: uploads still open."""
    from peerflow.cli import main  # noqa: PLC0415
    from peerflow.engine._registry import example_path  # noqa: PLC0415

    history = str(example_path("prospect-peer-mentoring"))
    at = "2027-02-15T12:00:00+01:00"
    assert main(["next", history, "--at", at, "--forecast"]) == 0
    out = capsys.readouterr().out
    assert "forecast:\n  Can finish in time: at the earliest " in out
    assert "The programme's deadline is 2027-11-02 00:00." in out
    assert "submit learning_needs: earliest 2027-02-15 12:00" in out
    assert main(["next", history, "--at", at, "--forecast", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["forecast"]["feasible"] is True
    assert data["forecast"]["deadline"] == NINE_MONTHS_END.isoformat()
    assert main(["next", history, "--at", at, "--json"]) == 0
    assert "forecast" not in json.loads(capsys.readouterr().out)


def test_next_forecast_for_a_programme_in_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from peerflow.cli import main  # noqa: PLC0415

    db = str(tmp_path / "s.sqlite3")
    people = ["-p", "anna:facilitator", "-p", "lena:mentor", "-p", "rui:mentee"]
    people += ["-p", "fin:finance_coordinator"]
    new = ["new", "prospect-peer-mentoring", "ghent-2027", *people, "--by", "anna"]
    assert main([*new, "--at", "2027-01-11T09:00:00+01:00", "--db", db]) == 0
    capsys.readouterr()
    at = "2027-01-12T10:00:00+01:00"
    assert main(["next", "ghent-2027", "--at", at, "--forecast", "--json", "--db", db]) == 0
    data = json.loads(capsys.readouterr().out)
    # not oriented yet: the nine months (PM-02) are not counted yet, and it can still finish
    assert data["forecast"]["feasible"] is True and data["forecast"]["deadline"] is None
    assert data["forecast"]["programme"] == "ghent-2027"
