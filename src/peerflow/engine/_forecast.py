"""When each remaining step can still happen, and whether the programme can still finish.

A facilitator asks "can this programme still make it?" and "by when must the report be in?".
The answer is a search over what may happen from the programme as it stands: the engine's own
steps, taken by its participants, at the moment it is asked or whenever the clock reaches a
window's boundary (a window opening or closing). Every path that reaches a completion state in
time counts; a step's earliest and latest dates are the first and last moments it is taken on
such a path.

The choices that keep the search finite are those of ``peerflow check`` and are stated in
:class:`Forecast`: events happen at the moment asked or at a window boundary, participants of
one role act one after another, a date not yet set is set as soon as it may be, ``schedule_days``
ahead, and a role that joins later is filled to its minimum (at least one). The search reads
no clock: the moment is passed in, like everywhere in the engine.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import attrs

from peerflow._errors import EventError
from peerflow.engine._content import complete_content
from peerflow.engine._participation import join_moves
from peerflow.engine._state import ProgrammeState
from peerflow.engine._steps import FIRE, SCHEDULE, SUBMIT, Step
from peerflow.events._envelope import Actor, Event

if TYPE_CHECKING:
    from peerflow.engine._compiled import CompiledDefinition

DEFAULT_SCHEDULE_DAYS = 35
"""How far ahead an unset date is assumed set (as ``peerflow check`` assumes)."""
DEFAULT_HORIZON_DAYS = 3 * 366
"""How far the search looks where the programme has no overall deadline."""
DEFAULT_MAX_NODES = 50_000
"""The most situations the search visits; the forecast says when it stopped there."""

_LAST_MINUTE = timedelta(minutes=1)
"""A step's last chance: this long before its window closes (windows close at a day's start)."""
_WAIVE = "waive"
_JOIN = "join"
_CLOCK = "clock"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _minutes(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M}"


@attrs.frozen
class PlannedStep:
    """One move on the way to completion: who takes which step when."""

    kind: str
    """``fire``, ``submit``, ``schedule``, ``join`` or ``waive``."""
    name: str
    at: datetime
    role: str

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "at": self.at.isoformat(), "role": self.role}


@attrs.frozen
class StepForecast:
    """When one remaining step can happen on a way to completion in time.

    ``earliest`` is the first moment the step is taken on such a way. ``latest`` is the last
    minute of its own window where a search from there, taking the step then, still finds a
    way; otherwise the last moment the step is taken on a way (moments are the one asked and
    the windows' boundaries). ``closes_at`` is when its window shuts: refused from then on.
    A deliverable handed in again, saying the same, is not counted as taking the step.
    """

    kind: str
    name: str
    title: str
    earliest: datetime
    latest: datetime
    closes_at: datetime | None
    critical: bool
    """On the way that finishes first."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "title": self.title,
            "earliest": self.earliest.isoformat(),
            "latest": self.latest.isoformat(),
            "closes_at": _iso(self.closes_at),
            "critical": self.critical,
        }


@attrs.frozen
class Breaking:
    """The step that makes a programme late: it needs a waiver of its closed window."""

    kind: str
    name: str
    title: str
    closed_at: datetime | None
    """When its window closed (or will have closed when the step's turn comes)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "title": self.title,
            "closed_at": _iso(self.closed_at),
        }


@attrs.frozen
class Forecast:
    """Whether a programme can still finish in time, and when each remaining step can happen.

    ``feasible``: a completion state can be reached from ``at`` without a waiver, before the
    overall deadline where the programme has one. ``finish_at`` is the earliest such moment
    and ``critical_path`` the steps of that way. Where it cannot, ``breaking`` names the first
    step on the way that needs the fewest waivers (None when even waivers do not help, or the
    search could not tell). ``complete`` is False where the search stopped at ``max_nodes``:
    what it found holds, but a way it did not reach may exist.
    """

    programme: str
    state: str
    at: datetime
    feasible: bool
    finish_at: datetime | None
    deadline: datetime | None
    horizon: datetime
    steps: tuple[StepForecast, ...]
    critical_path: tuple[PlannedStep, ...]
    breaking: Breaking | None
    complete: bool
    situations: int
    """How many (state, moment) situations the search visited."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "programme": self.programme,
            "state": self.state,
            "at": self.at.isoformat(),
            "feasible": self.feasible,
            "finish_at": _iso(self.finish_at),
            "deadline": _iso(self.deadline),
            "horizon": self.horizon.isoformat(),
            "steps": [s.to_dict() for s in self.steps],
            "critical_path": [p.to_dict() for p in self.critical_path],
            "breaking": None if self.breaking is None else self.breaking.to_dict(),
            "complete": self.complete,
            "situations": self.situations,
        }

    def headline(
        self,
        shown: Callable[[datetime], str] = _minutes,
        due: Callable[[datetime], str] | None = None,
    ) -> str:
        """The answer in one sentence; ``shown`` writes a moment and ``due`` a moment something
        is due by (a page's own formats; ``due`` defaults to ``shown``)."""
        due = shown if due is None else due
        if self.feasible and self.finish_at is not None:
            head = f"Can finish in time: at the earliest {shown(self.finish_at)}"
        elif not self.complete:
            head = (
                "Could not tell whether it can finish in time "
                f"(searched {self.situations:,} situations and stopped: raise max_nodes)"
            )
        elif self.breaking is not None:
            when = (
                f" (its window closed at {due(self.breaking.closed_at)})"
                if self.breaking.closed_at is not None
                else ""
            )
            head = f"Cannot finish in time without a waiver: {self.breaking.title}{when}"
        else:
            head = "Cannot finish: no way leads to a completion state"
        if self.deadline is not None:
            head += f". The programme's deadline is {due(self.deadline)}"
        return head + "."

    def to_text(self) -> str:
        """A facilitator's summary in a few lines."""
        head = self.headline()
        lines = [head]
        for s in self.steps:
            mark = "*" if s.critical else " "
            closes = ""
            if s.closes_at is not None:
                closes = (
                    f", window closed {s.closes_at:%Y-%m-%d %H:%M} (waived)"
                    if s.closes_at <= s.earliest
                    else f", window closes {s.closes_at:%Y-%m-%d %H:%M}"
                )
            lines.append(
                f" {mark} {s.kind} {s.name}: earliest {s.earliest:%Y-%m-%d %H:%M}, "
                f"latest {s.latest:%Y-%m-%d %H:%M}{closes}"
            )
        if self.steps:
            lines.append("   (* on the way that finishes first)")
        return "\n".join(lines)


@attrs.frozen
class _Edge:
    source: int
    target: int
    kind: str
    name: str
    role: str
    closes_at: datetime | None
    again: bool = False
    """A deliverable handed in again, saying the same: not a step still to take."""


def _newcomers(d: CompiledDefinition, st: ProgrammeState) -> tuple[Actor, ...]:
    """Stand-ins for participants still to join: each later role up to its minimum (one at
    least, no more than its maximum), less those who joined already."""
    taken = set(st.participants)
    found: list[Actor] = []
    for name, role in d.type.roles.items():
        if not role.joins_later:
            continue
        wanted = max(role.min, 1) if role.max is None else min(max(role.min, 1), role.max)
        number = 0
        for _ in range(wanted - st.count(name)):
            number += 1
            while f"{name}-{number}" in taken:
                number += 1
            found.append(Actor(name, f"{name}-{number}"))
    return tuple(found)


def _key(st: ProgrammeState, at: datetime) -> tuple[object, ...]:
    waivers = tuple(sorted((w.step_kind, w.step, w.blocker) for w in st.waivers))
    return (st.state, st.people, st.roles, st.submitted, st.marks, st.facts, st.counts, waivers, at)


class _Search:
    """Over (state, moment) situations from the programme as it stands, breadth-first.

    With ``waivers``, the situations are taken in order of how many waiver moves led there
    (breadth-first within each count) and the search stops at the first completion in time:
    the way there needs the fewest waivers. With ``first`` (does the programme still finish if
    this step is taken now?), the root may take only that step, and the search goes depth
    first and stops at the first completion: any way will do, and one is usually found fast.
    """

    def __init__(
        self,
        d: CompiledDefinition,
        root: ProgrammeState,
        at: datetime,
        horizon: datetime,
        schedule_days: int,
        max_nodes: int,
        waivers: bool,
        first: tuple[str, str] | None = None,
    ) -> None:
        """``first``: the one step (kind, name) the root may take (a "last chance" check)."""
        self.d = d
        self.horizon = horizon
        self.schedule_days = schedule_days
        self.waivers = waivers
        self.root_at = at
        self.newcomers = _newcomers(d, root)
        self.completion = d.type.completion_states()
        self.states = [root]
        self.moments = [at]
        self.parent_edge: list[_Edge | None] = [None]
        self.edges: list[_Edge] = []
        self.complete = True
        self.found: int | None = None
        """With ``waivers`` or ``first``: the first completion in time reached."""
        self.closed: dict[tuple[str, str], datetime | None] = {}
        """When each waived step's window closed."""
        seen = {_key(root, at): 0}
        cost_of = [0]
        done: set[int] = set()
        levels: list[deque[int]] = [deque([0])]
        level = 0
        while level < len(levels):
            if not levels[level]:
                level += 1
                continue
            node = (
                levels[level].pop() if first is not None else levels[level].popleft()
            )  # see above
            if node in done:
                continue  # reached again with fewer waivers, and taken then
            done.add(node)
            st, moment = self.states[node], self.moments[node]
            if (waivers or first is not None) and _in_time(d, st, moment):
                self.found = node
                return
            if st.terminal:
                continue
            for kind, name, role, closes_at, new_st, new_at in self._moves(st, moment):
                if node == 0 and first is not None and (kind, name) != first:
                    continue
                if new_st.terminal and new_st.state not in self.completion:
                    continue  # an end that is not a completion (cancelled): no way on from it
                key = _key(new_st, new_at)
                target = seen.get(key)
                edge_target = target if target is not None else len(self.states)
                again = (
                    kind == SUBMIT and new_st.submitted == st.submitted and new_st.facts == st.facts
                )
                edge = _Edge(node, edge_target, kind, name, role, closes_at, again)
                cost = level + (kind == _WAIVE)
                if target is None:
                    if len(self.states) >= max_nodes:
                        self.complete = False
                        continue
                    seen[key] = edge_target
                    self.states.append(new_st)
                    self.moments.append(new_at)
                    self.parent_edge.append(edge)
                    cost_of.append(cost)
                elif cost < cost_of[target]:
                    cost_of[target] = cost
                    self.parent_edge[target] = edge
                else:
                    self.edges.append(edge)
                    continue
                while len(levels) <= cost:
                    levels.append(deque())
                levels[cost].append(edge_target)
                self.edges.append(edge)

    def _moves(
        self, st: ProgrammeState, at: datetime
    ) -> Iterator[tuple[str, str, str, datetime | None, ProgrammeState, datetime]]:
        d = self.d
        overview = d.next_steps(st, at)
        for actor, newcomer in join_moves(d, st, self.newcomers):
            event = self._event(
                st, at, actor, _JOIN, {"participant": newcomer.id, "role": newcomer.role}
            )
            new_st = self._apply(st, event)
            if new_st is not None:
                yield _JOIN, newcomer.role, actor.role, None, new_st, at
        # A date is set as soon as it may be: where the programme waited since its last event,
        # only at the moment asked (the dates nobody set yet can be set now).
        may_schedule = st.last_at >= at or at == self.root_at
        tried: set[tuple[str, str, str]] = set()
        for pid, role in st.members():
            actor = Actor(role, pid)
            for step in d.next_steps(st, at, actor):
                if not step.allowed or (step.kind, step.name, role) in tried:
                    continue
                if step.kind == SUBMIT and step.owed_by and pid not in step.owed_by:
                    continue
                if step.kind == SCHEDULE and not may_schedule:
                    continue
                tried.add((step.kind, step.name, role))
                for event in self._events(st, at, actor, step):
                    new_st = self._apply(st, event)
                    if new_st is not None:
                        yield step.kind, step.name, role, step.closes_at, new_st, at
        if self.waivers:
            yield from self._waivers(st, at, overview)
        boundaries = [
            moment
            for step in overview
            for moment in (step.opens_at, step.closes_at)
            if moment is not None and moment > at
        ]
        if boundaries:
            following = min(boundaries)
            # Past the horizon the search stops (the forecast says so); from the overall
            # deadline on nothing finishes in time, so no way goes on from there.
            deadline = d.deadline_at(st)
            if following <= self.horizon and (deadline is None or following < deadline):
                yield _CLOCK, "", "", None, st, following

    def _waivers(
        self, st: ProgrammeState, at: datetime, overview: list[Step]
    ) -> Iterator[tuple[str, str, str, datetime | None, ProgrammeState, datetime]]:
        """One move that waives every step late now: the facilitator lifts their lateness
        together, as soon as it arises (now, or the moment a window closes), since a later
        waiver only loses time and waivers one by one would multiply the situations."""
        holders = st.holders(self.d.type.waivable_by)
        if not holders:
            return
        actor = Actor(st.role_of(holders[0]) or "", holders[0])
        waived: list[str] = []
        for step in overview:
            if sorted({b.kind for b in step.blockers}) != ["window_closed"]:
                continue  # lateness only: the rest stays as the definition says
            if at not in (self.root_at, step.closes_at):
                continue
            payload = {
                "step": {"kind": step.kind, "name": step.name},
                "blockers": ["window_closed"],
                "reason": "forecast",
            }
            new_st = self._apply(st, self._event(st, at, actor, _WAIVE, payload))
            if new_st is not None:
                st = new_st
                waived.append(f"{step.kind}:{step.name}")
                self.closed[(step.kind, step.name)] = step.closes_at
        if waived:
            yield _WAIVE, "|".join(waived), actor.role, None, st, at

    def _events(self, st: ProgrammeState, at: datetime, actor: Actor, step: Step) -> list[Event]:
        """The events that take ``step``: one, but a submission whose content a condition
        reads is tried with each value of what it reads."""
        if step.kind == FIRE:
            return [self._event(st, at, actor, FIRE, {"event": step.name})]
        if step.kind == SCHEDULE:
            day = at.astimezone(ZoneInfo(st.timezone)).date() + timedelta(days=self.schedule_days)
            payload = {"date": step.name, "value": day.isoformat()}
            return [self._event(st, at, actor, SCHEDULE, payload)]
        content = complete_content(self.d, step.name)
        if content is None:
            return [self._event(st, at, actor, SUBMIT, {"deliverable": step.name})]
        parts = self.d.type.deliverables[step.name].content
        read = dict.fromkeys(c.part for c in self.d.conditions if c.deliverable == step.name)
        variants = [
            {**content, part: value} for part in read for value in parts[part].one_of or ()
        ] or [content]
        return [
            self._event(st, at, actor, SUBMIT, {"deliverable": step.name, "content": said})
            for said in variants
        ]

    @staticmethod
    def _event(
        st: ProgrammeState, at: datetime, actor: Actor, kind: str, payload: Mapping[str, object]
    ) -> Event:
        seq = st.next_seq
        return Event(st.programme, seq, f"forecast-{seq}", at, actor, kind, dict(payload))

    def _apply(self, st: ProgrammeState, event: Event) -> ProgrammeState | None:
        try:
            return self.d.apply(st, event)
        except EventError:
            return None  # offered but refused: the checker reports such steps, not the forecast


def _in_time(d: CompiledDefinition, st: ProgrammeState, at: datetime) -> bool:
    """A completion state, reached before the overall deadline if there is one (at the
    deadline itself every step is refused: windows close at it)."""
    if st.state not in d.type.completion_states():
        return False
    deadline = d.deadline_at(st)
    return deadline is None or at < deadline


def _alive(search: _Search, goal: set[int]) -> set[int]:
    """The situations from which a goal can be reached. (The checker has the same walk over
    its own graph; the forecast keeps its own so that the two stay independent proofs.)"""
    backwards: dict[int, list[int]] = {}
    for e in search.edges:
        backwards.setdefault(e.target, []).append(e.source)
    alive = set(goal)
    queue = deque(goal)
    while queue:
        for source in backwards.get(queue.popleft(), ()):
            if source not in alive:
                alive.add(source)
                queue.append(source)
    return alive


def _path(search: _Search, node: int) -> list[_Edge]:
    edges: list[_Edge] = []
    while (edge := search.parent_edge[node]) is not None:
        edges.append(edge)
        node = edge.source
    return edges[::-1]


def _title(d: CompiledDefinition, kind: str, name: str) -> str:
    if kind == _JOIN and name in d.type.roles:
        return f"Join as {d.type.roles[name].title or name}"
    return d.step_titles.get((kind, name), name)


def _breaking(d: CompiledDefinition, search: _Search, way: list[_Edge]) -> Breaking | None:
    """Of the steps taken late on ``way``, the one whose window closed first."""
    lifted: set[tuple[str, str]] = set()
    late: list[tuple[str, str]] = []
    for e in way:
        if e.kind == _WAIVE:
            lifted.update(tuple(w.split(":", 1)) for w in e.name.split("|"))  # type: ignore[misc]
        elif (e.kind, e.name) in lifted and (e.kind, e.name) not in late:
            late.append((e.kind, e.name))
    if not late:
        return None
    far = datetime.max.replace(tzinfo=ZoneInfo("UTC"))
    kind, name = min(late, key=lambda k: search.closed.get(k) or far)
    return Breaking(kind, name, _title(d, kind, name), search.closed.get((kind, name)))


def forecast(
    definition: CompiledDefinition,
    st: ProgrammeState,
    at: datetime,
    *,
    schedule_days: int = DEFAULT_SCHEDULE_DAYS,
    horizon: datetime | None = None,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> Forecast:
    """Whether ``st`` can still reach a completion state in time from ``at``, and when each
    remaining step can happen on the ways that do.

    ``horizon`` bounds the search where the programme has no overall deadline (by default
    three years from ``at``); ``schedule_days`` is how far ahead an unset date is assumed set.
    """
    if at.tzinfo is None:
        raise ValueError("a forecast needs an aware moment (with a time zone)")
    if at < st.last_at:
        raise ValueError(
            f"a forecast at {at.isoformat()} is before the programme's latest event "
            f"({st.last_at.isoformat()})"
        )
    deadline = definition.deadline_at(st)
    if horizon is None:
        horizon = at + timedelta(days=DEFAULT_HORIZON_DAYS)
    plain = _Search(definition, st, at, horizon, schedule_days, max_nodes, waivers=False)
    goal = {n for n, s in enumerate(plain.states) if _in_time(definition, s, plain.moments[n])}
    alive = _alive(plain, goal)
    feasible = 0 in alive
    finish_at: datetime | None = None
    critical: list[_Edge] = []
    if goal:
        first = min(goal, key=lambda n: (plain.moments[n], n))
        finish_at = plain.moments[first]
        critical = [e for e in _path(plain, first) if e.kind != _CLOCK]
    on_way = {(e.kind, e.name) for e in critical}
    found: dict[tuple[str, str], tuple[datetime, datetime, datetime | None, int]] = {}
    for e in plain.edges:
        if e.kind == _CLOCK or e.again or e.source not in alive or e.target not in alive:
            continue
        moment = plain.moments[e.source]
        key = (e.kind, e.name)
        earliest, latest, closes, where = found.get(key, (moment, moment, e.closes_at, e.source))
        if moment >= latest:
            latest, closes, where = moment, e.closes_at, e.source
        found[key] = (min(earliest, moment), latest, closes, where)
    situations = len(plain.states)
    steps: list[StepForecast] = []
    for (kind, name), (first_at, found_last, closes, where) in sorted(
        found.items(), key=lambda kv: (kv[1][0], kv[0])
    ):
        # The search takes steps at window boundaries only; whether the step can wait until
        # the last minute of its window is asked of a search from there.
        last_at = found_last
        if closes is not None and plain.complete:
            last_minute = closes - _LAST_MINUTE
            if found_last < last_minute <= horizon:
                check = _Search(
                    definition,
                    plain.states[where],
                    last_minute,
                    horizon,
                    schedule_days,
                    max(1_000, max_nodes // 10),
                    waivers=False,
                    first=(kind, name),
                )
                situations += len(check.states)
                if check.found is not None:
                    last_at = last_minute
        steps.append(
            StepForecast(
                kind,
                name,
                _title(definition, kind, name),
                first_at,
                last_at,
                closes,
                (kind, name) in on_way,
            )
        )
    breaking = None
    complete = plain.complete
    if not feasible and complete:  # cut short, the search cannot say what breaks
        waived = _Search(definition, st, at, horizon, schedule_days, max_nodes, waivers=True)
        situations += len(waived.states)
        complete = complete and waived.complete
        breaking = _breaking(
            definition, waived, [] if waived.found is None else _path(waived, waived.found)
        )
    return Forecast(
        programme=st.programme,
        state=st.state,
        at=at,
        feasible=feasible,
        finish_at=finish_at if feasible else None,
        deadline=deadline,
        horizon=horizon,
        steps=tuple(steps),
        critical_path=tuple(
            PlannedStep(e.kind, e.name, plain.moments[e.source], e.role) for e in critical
        ),
        breaking=breaking,
        complete=complete,
        situations=situations,
    )
