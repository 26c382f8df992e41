"""Compiling a definition: its ``transitions`` Machine, its steps and lookup tables.

A definition is compiled once. Its ``transitions`` Machine is built once
(``model=None``, no auto transitions) and the fire table is derived from
``machine.events``; every programme of that type shares both. The checks live in
``_guards`` and ``_windows``, applying events in ``_handlers``: each is a pure function
of the compiled definition, the state and the event, so live use and replay run the same
code and cannot disagree.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import attrs
from transitions import Machine

from peerflow._errors import EventError
from peerflow.engine._blockers import Blocker
from peerflow.engine._budget import Claim
from peerflow.engine._checks import DATE, EVENT, START
from peerflow.engine._deadlines import due_from
from peerflow.engine._forecast import (
    DEFAULT_MAX_NODES,
    DEFAULT_SCHEDULE_DAYS,
    Forecast,
    forecast,
)
from peerflow.engine._guards import Moment, evaluate, layout, owing, step_of
from peerflow.engine._handlers import apply_event, start_state
from peerflow.engine._participation import participation_steps
from peerflow.engine._payloads import _require_aware
from peerflow.engine._state import ProgrammeState
from peerflow.engine._steps import FIRE, SCHEDULE, SUBMIT, Deadline, Step
from peerflow.engine._tables import BoundRef, Layout, StepSpec, Tables
from peerflow.engine._windows import deadline_instant, payment_due
from peerflow.events._envelope import Actor, Event
from peerflow.model._loading import parse_definition
from peerflow.model._types import START_ANCHOR, Bound, Condition, ProgrammeType, Window

# transitions logs every trigger at INFO; at that level a trigger is several times slower.
logging.getLogger("transitions").setLevel(logging.WARNING)

_START, _EVENT, _DATE = START, EVENT, DATE  # what a bound is counted from


@attrs.define
class MachineContext:
    """What a ``transitions`` trigger sees: the Machine needs a ``state`` attribute."""

    state: str
    programme: ProgrammeState
    at: datetime
    actor: Actor | None


class CompiledDefinition:
    """A programme type ready to run: validated, with its Machine built once.

    Use :func:`peerflow.definition` or :func:`peerflow.load_definition` to get one;
    they cache compiled definitions so each is built once per process.
    """

    def __init__(
        self, programme_type: ProgrammeType, digest: str = "", source: str = "", file: str = ""
    ) -> None:
        t = self.type = programme_type
        self.id = t.id
        self.version = t.version
        self.digest = digest
        self.source = source
        self.file = file
        self.role_names = tuple(t.roles)
        self.role_index = {name: i for i, name in enumerate(self.role_names)}
        self.event_names = tuple(dict.fromkeys(tr.event for tr in t.transitions))
        self.event_index = {name: i for i, name in enumerate(self.event_names)}
        self.date_names = tuple(t.dates)
        self.date_index = {name: i for i, name in enumerate(self.date_names)}
        self.deliverable_names = tuple(t.deliverables)
        self.deliverable_index = {name: i for i, name in enumerate(self.deliverable_names)}
        self.conditions: tuple[Condition, ...] = tuple(
            dict.fromkeys(c.when for tr in t.transitions for c in tr.requires_when)
        )
        """Every distinct condition a step reads; bit i of ``ProgrammeState.facts`` holds
        whether condition i is true of the latest submission."""
        needed: dict[str, int] = {}
        for tr in t.transitions:
            for event, least in tr.min_times.items():
                needed[event] = max(needed.get(event, 0), least)
        self.counted_events = tuple(needed)
        """Events some step counts (``min_times``); ``ProgrammeState.counts`` follows this order
        and stops counting at the most any step needs, so states stay finitely many."""
        renewed_by: dict[int, tuple[int, ...]] = {}
        for index, d in enumerate(t.deliverables.values()):
            if d.renewed_by is not None:
                at = self.event_index[d.renewed_by]
                renewed_by[at] = (*renewed_by.get(at, ()), index)
        renewed_dates: dict[int, tuple[int, ...]] = {}
        for index, sd in enumerate(t.dates.values()):
            if sd.renewed_by is not None:
                at = self.event_index[sd.renewed_by]
                renewed_dates[at] = (*renewed_dates.get(at, ()), index)
        watched: dict[str, tuple[tuple[int, str, int | str], ...]] = {}
        for i, condition in enumerate(self.conditions):
            watched[condition.deliverable] = (
                *watched.get(condition.deliverable, ()),
                (i, condition.part, condition.equals),
            )
        self.completion_states = t.completion_states()
        """Terminal states that mean completed (see :meth:`ProgrammeType.completion_states`)."""
        # marks: when each event last fired, then each scheduled date (see ProgrammeState)
        self.no_marks: tuple[date | None, ...] = (None,) * (
            len(self.event_names) + len(self.date_names)
        )
        self.instant_cache: dict[tuple[int, date, str, str | None], datetime] = {}
        """Opening and closing instants worked out so far (see ``_windows.instant``)."""
        self.layout_cache: dict[bytes, Layout] = {}
        """Who owes what, per sequence of roles (see ``_guards.layout``)."""
        self._bound_refs: list[BoundRef] = []
        deadline = self._ref(t.deadline)
        self.machine = self._build_machine()
        fire = self._fire_table()
        submit, schedule = self._submissions_and_dates()
        self.tables = Tables(
            fire=fire,
            submit=submit,
            schedule=schedule,
            specs={
                state: (*fire[state].values(), *submit[state].values(), *schedule[state].values())
                for state in t.states
            },
            bound_refs=tuple(self._bound_refs),
            deadline=deadline,
            each=tuple(d.each for d in t.deliverables.values()),
            owing_roles=tuple(
                frozenset(self.role_index[r] for r in d.owed_by) for d in t.deliverables.values()
            ),
            content_parts={n: d.content for n, d in t.deliverables.items() if d.content},
            strict_minimums=frozenset(n for n, r in t.roles.items() if not r.min_waivable),
            watched=watched,
            counted_at={self.event_index[e]: i for i, e in enumerate(self.counted_events)},
            count_caps=tuple(needed.values()),
            renewed_by=renewed_by,
            renewed_dates=renewed_dates,
        )
        self.step_titles: dict[tuple[str, str], str] = {
            (spec.kind, spec.name): spec.title
            for specs in self.tables.specs.values()
            for spec in specs
        }
        """What each step is called, by (kind, name): the title ``next_steps`` gives it."""
        """The compiled steps and lookup tables every check reads (frozen)."""

    def __repr__(self) -> str:
        return f"<CompiledDefinition {self.id} v{self.version}>"

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        """Pickled as its text, recompiled once per process (for process pools)."""
        if not self.source:
            raise TypeError(
                f"{self!r} was compiled without its text and cannot be sent to another "
                "process; load it with peerflow.definition() or compile_text()"
            )
        return compile_text, (self.source, self.file)

    # --- compiling ---------------------------------------------------------------

    def _ref(self, bound: Bound | None) -> BoundRef | None:
        if bound is None:
            return None
        anchor = bound.anchor
        if anchor == START_ANCHOR:
            kind, index = _START, 0
        elif anchor in self.date_index:
            kind, index = _DATE, self.date_index[anchor]
        else:
            kind, index = _EVENT, self.event_index[anchor]
        ref = BoundRef(len(self._bound_refs), bound, kind, index, bound.describe())
        self._bound_refs.append(ref)
        return ref

    def _build_machine(self) -> Machine:
        t = self.type
        transitions = [
            {
                "trigger": tr.event,
                "source": list(t.sources_of(tr)),
                "dest": tr.dest,
                "conditions": [self._machine_guard],
            }
            for tr in t.transitions
        ]
        return Machine(
            model=None,
            states=list(t.states),
            transitions=transitions,
            initial=t.initial,
            auto_transitions=False,
            send_event=True,
        )

    def _machine_guard(self, event_data: Any) -> bool:
        """The Machine's condition: the step is allowed (same evaluation as ours)."""
        ctx: MachineContext = event_data.model
        spec = self.tables.fire[ctx.state][event_data.event.name]
        blockers, _, _, _ = evaluate(self, Moment(self, ctx.programme, ctx.at), spec, ctx.actor)
        return not blockers

    def _fire_table(self) -> dict[str, dict[str, StepSpec]]:
        """state -> event -> compiled step, read off the Machine's own events."""
        t = self.type
        by_key = {(src, tr.event): tr for tr in t.transitions for src in t.sources_of(tr)}
        compiled: dict[int, tuple[BoundRef | None, BoundRef | None]] = {}
        advisories: dict[int, tuple[BoundRef | None, BoundRef | None]] = {}
        table: dict[str, dict[str, StepSpec]] = {name: {} for name in t.states}
        live = t.live_states()
        joining = {
            name: frozenset(role.join_during or live)
            for name, role in t.roles.items()
            if role.joins_later and role.min > 0
        }
        for event_name, event in self.machine.events.items():
            for src, machine_transitions in event.transitions.items():
                tr = by_key[src, event_name]
                if id(tr) not in compiled:
                    opens, closes = _bounds(tr.window)
                    compiled[id(tr)] = (self._ref(opens), self._ref(closes))
                    if tr.advisory is not None:
                        advised_opens, advised_closes = _bounds(tr.advisory)
                        advisories[id(tr)] = (self._ref(advised_opens), self._ref(advised_closes))
                opens_ref, closes_ref = compiled[id(tr)]
                table[src][event_name] = StepSpec(
                    kind=FIRE,
                    name=event_name,
                    title=tr.title or event_name.replace("_", " "),
                    roles=tr.by,
                    roleset=frozenset(tr.by),
                    index=self.event_index[event_name],
                    requires=tuple(self.deliverable_index[d] for d in tr.requires),
                    opens=opens_ref,
                    closes=closes_ref,
                    deadline=tr.deadline_applies,
                    dest=machine_transitions[0].dest,
                    advisory=advisories.get(id(tr)),
                    min_times=tuple(
                        (self.counted_events.index(e), e, least)
                        for e, least in tr.min_times.items()
                    ),
                    requires_when=tuple(
                        (self.conditions.index(c.when), self.deliverable_index[c.deliverable])
                        for c in tr.requires_when
                    ),
                    quorum=tuple(
                        (self.role_index[role], role, t.roles[role].min)
                        for role, states in joining.items()
                        if src in states
                        and tr.dest not in states
                        and not t.states[tr.dest].terminal
                    ),
                )
        return table

    def _submissions_and_dates(
        self,
    ) -> tuple[dict[str, dict[str, StepSpec]], dict[str, dict[str, StepSpec]]]:
        """state -> name -> compiled step, for submissions and for scheduled dates."""
        t = self.type
        live = t.live_states()
        submit: dict[str, dict[str, StepSpec]] = {s: {} for s in t.states}
        schedule: dict[str, dict[str, StepSpec]] = {s: {} for s in t.states}
        for index, (name, d) in enumerate(t.deliverables.items()):
            opens, closes = _bounds(d.window)
            spec = StepSpec(
                SUBMIT,
                name,
                d.title,
                d.owed_by,
                frozenset(d.owed_by),
                index,
                opens=self._ref(opens),
                closes=self._ref(closes),
            )
            for state in d.during or live:
                submit[state][name] = spec
        for index, (name, sd) in enumerate(t.dates.items()):
            spec = StepSpec(
                SCHEDULE, name, sd.title, sd.set_by, frozenset(sd.set_by), index, deadline=False
            )
            for state in sd.during or live:
                schedule[state][name] = spec
        return submit, schedule

    # --- reading a state -------------------------------------------------------

    def submission_bit(self, st: ProgrammeState, deliverable: str, participant: str) -> int | None:
        """The bit of ``st.submitted`` that says ``participant`` has handed in ``deliverable``."""
        d = self.deliverable_index.get(deliverable)
        index = st.index_of(participant)
        if d is None or index is None:
            return None
        return index * len(self.deliverable_names) + d

    def missing(self, st: ProgrammeState, deliverable: str) -> tuple[str, ...]:
        """Who still owes ``deliverable``; empty once it is in."""
        return owing(self, st, layout(self, st), self.deliverable_index[deliverable])

    def deadline_at(self, st: ProgrammeState) -> datetime | None:
        """When the programme's overall deadline passes (None without one, or not yet known)."""
        return deadline_instant(self, Moment(self, st, st.last_at))

    def payment_due(self, st: ProgrammeState, claim: Claim) -> datetime | None:
        """When ``claim`` must be paid by, from the budget's payment window."""
        return payment_due(self, st, claim)

    def next_steps(
        self,
        st: ProgrammeState,
        at: datetime,
        actor: Actor | str | None = None,
        *,
        participation: bool = False,
    ) -> list[Step]:
        """Every step open from the current state, allowed or with its blockers.

        ``actor`` (an :class:`Actor` or a role name) adds the role check and lets
        participant-specific waivers apply; without it, ``allowed`` means
        allowed for whoever holds one of the step's roles. ``participation`` adds the
        joins, the claim and the payments open now (kinds ``join``, ``claim``, ``pay``).
        """
        _require_aware(at)
        m = Moment(self, st, at)
        steps = [step_of(self, m, spec, actor) for spec in self.tables.specs[st.state]]
        if participation:
            steps += participation_steps(self, st, at, actor)
        return steps

    def deadlines(self, st: ProgrammeState, at: datetime) -> list[Deadline]:
        """What is due by when from the current state, and what is overdue."""
        _require_aware(at)
        return due_from(self, Moment(self, st, at))

    def forecast(
        self,
        st: ProgrammeState,
        at: datetime,
        *,
        schedule_days: int = DEFAULT_SCHEDULE_DAYS,
        horizon: datetime | None = None,
        max_nodes: int = DEFAULT_MAX_NODES,
    ) -> Forecast:
        """When each remaining step can still happen and whether ``st`` can finish in time:
        see :func:`peerflow.forecast`."""
        return forecast(
            self, st, at, schedule_days=schedule_days, horizon=horizon, max_nodes=max_nodes
        )

    # --- applying events ---------------------------------------------------------

    def start(self, event: Event) -> ProgrammeState:
        """The state a ``start`` event creates."""
        return start_state(self, event)

    def apply(self, st: ProgrammeState, event: Event) -> ProgrammeState:
        """The state after ``event``; raises and changes nothing if it is not allowed."""
        return apply_event(self, st, event, None)

    def audit(self, st: ProgrammeState, event: Event) -> tuple[ProgrammeState, list[Blocker]]:
        """The state after ``event`` as it happened, and the blockers it went through.

        Replaying real history, what happened is accepted wherever the definition has the
        step at all: blockers (lateness, a missing deliverable, the wrong role, ...) are
        returned, not raised. An event the definition has no step for still raises
        (:class:`StepNotAvailable`), as does a malformed one (:class:`EventError`).
        """
        found: list[Blocker] = []
        return apply_event(self, st, event, found), found

    def fold(self, events: Iterable[Event]) -> ProgrammeState:
        """Apply a whole history, strictly, from its ``start`` event."""
        iterator = iter(events)
        try:
            first = next(iterator)
        except StopIteration:
            raise EventError("the history is empty: it must begin with a 'start' event") from None
        st = start_state(self, first)
        for event in iterator:
            st = apply_event(self, st, event, None)
        return st


def _bounds(window: Window | None) -> tuple[Bound | None, Bound | None]:
    return (None, None) if window is None else (window.opens, window.closes)


_cache: dict[str, CompiledDefinition] = {}


def compile_text(text: str, file: str = "<string>") -> CompiledDefinition:
    """Check and compile YAML text; the same text is compiled once per process."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    found = _cache.get(digest)
    if found is None:
        found = _cache[digest] = CompiledDefinition(
            parse_definition(text, file), digest, text, file
        )
    return found
