"""The engine: a compiled definition and the pure functions that use it.

A definition is compiled once. Its ``transitions`` Machine is built once
(``model=None``, no auto transitions) and a lookup table is derived from
``machine.events``; every programme of that type shares both. Applying an
event is a pure function from state to state, so live use and replay run the
same code and cannot disagree. Every guard is evaluated (not only up to the
first failure) so a refusal can say everything that blocks the step.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import attrs
from transitions import Machine

from peerflow._errors import EventError, StepBlocked, StepNotAvailable
from peerflow.engine._blockers import (
    WAIVABLE_KINDS,
    Blocker,
    DateNotScheduled,
    MissingDeliverable,
    OverBudget,
    ParticipantLimit,
    RoleNotAllowed,
    TooFewOccurrences,
    TooFewParticipants,
    WindowClosed,
    WindowNotOpen,
)
from peerflow.engine._budget import Claim, amount, assess_claim, in_money_context
from peerflow.engine._checks import (
    DATE,
    EVENT,
    START,
    UNSET,
    anchor_day,
    earlier_close,
    missing_bits,
    quorum_shortfalls,
    scheduled_day,
)
from peerflow.engine._content import check_content
from peerflow.engine._deadlines import due_from
from peerflow.engine._payloads import (
    _check_starter,
    _participants,
    _require_actor,
    _require_aware,
)
from peerflow.engine._state import ID_SEPARATOR, ProgrammeState, Waiver
from peerflow.engine._steps import (
    FIRE,
    JOIN,
    SCHEDULE,
    STEP_KINDS,
    SUBMIT,
    Deadline,
    Step,
    StepKind,
)
from peerflow.events._envelope import Actor, Event, id_problem
from peerflow.model._calendar import (
    closing_instant,
    known_countries,
    local_date,
    opening_instant,
    zone,
)
from peerflow.model._loading import parse_definition
from peerflow.model._types import (
    SELF,
    START_ANCHOR,
    Bound,
    Budget,
    Condition,
    ProgrammeType,
    Role,
    Window,
)

# transitions logs every trigger at INFO; at that level a trigger is several times slower.
logging.getLogger("transitions").setLevel(logging.WARNING)

_INSTANT_CACHE_LIMIT = 100_000


_START, _EVENT, _DATE = START, EVENT, DATE  # what a bound is counted from


@attrs.frozen
class _BoundRef:
    """A bound with its anchor resolved to an index, and an id for cache keys."""

    id: int
    bound: Bound
    anchor_kind: int
    anchor_index: int
    text: str


@attrs.frozen
class _StepSpec:
    """A step compiled for the hot path: roles as a set, deliverables as indexes."""

    kind: StepKind
    name: str
    title: str
    roles: tuple[str, ...]
    roleset: frozenset[str]
    index: int
    requires: tuple[int, ...] = ()
    opens: _BoundRef | None = None
    closes: _BoundRef | None = None
    deadline: bool = True
    dest: str | None = None
    quorum: tuple[tuple[int, str, int], ...] = ()
    """(role index, role, min) for roles whose joining stage this step leaves."""
    min_times: tuple[tuple[int, str, int], ...] = ()
    """(position in ``counted_events``, event, least) the step needs to have happened."""
    advisory: tuple[_BoundRef | None, _BoundRef | None] | None = None
    """The indicative window's bounds (opens, closes): shown, never blocking."""
    requires_when: tuple[tuple[int, int], ...] = ()
    """(condition index, deliverable index): the deliverable is required while the
    condition holds (see :class:`~peerflow.model._types.ConditionalRequirement`)."""


@attrs.frozen
class _Layout:
    """Per role layout (shared by every programme with the same roles in the same order):
    for each deliverable, the bits of the participants who owe it."""

    owed: tuple[int, ...]


@attrs.define
class MachineContext:
    """What a ``transitions`` trigger sees: the Machine needs a ``state`` attribute."""

    state: str
    programme: ProgrammeState
    at: datetime
    actor: Actor | None


class _Moment:
    """One evaluation moment of one programme: anchor days and the deadline, worked out once."""

    __slots__ = ("at", "days", "deadline", "layout", "st")

    def __init__(self, compiled: CompiledDefinition, st: ProgrammeState, at: datetime) -> None:
        self.st = st
        self.at = at
        self.days: dict[tuple[int, int], date | DateNotScheduled | None] = {}
        self.layout = compiled._layout(st)
        self.deadline = compiled.deadline_instant(self)


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
        self._each = tuple(d.each for d in t.deliverables.values())
        self._content_parts = {name: d.content for name, d in t.deliverables.items() if d.content}
        self._strict_minimums = frozenset(n for n, r in t.roles.items() if not r.min_waivable)
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
        self._count_caps = tuple(needed.values())
        self._counted_at = {self.event_index[e]: i for i, e in enumerate(self.counted_events)}
        self._renewed_by: dict[int, tuple[int, ...]] = {}
        for index, d in enumerate(t.deliverables.values()):
            if d.renewed_by is not None:
                at = self.event_index[d.renewed_by]
                self._renewed_by[at] = (*self._renewed_by.get(at, ()), index)
        self._renewed_dates: dict[int, tuple[int, ...]] = {}
        for index, sd in enumerate(t.dates.values()):
            if sd.renewed_by is not None:
                at = self.event_index[sd.renewed_by]
                self._renewed_dates[at] = (*self._renewed_dates.get(at, ()), index)
        self._watched: dict[str, tuple[tuple[int, str, int | str], ...]] = {}
        for i, condition in enumerate(self.conditions):
            self._watched[condition.deliverable] = (
                *self._watched.get(condition.deliverable, ()),
                (i, condition.part, condition.equals),
            )
        """Roles whose ``too_few_participants`` no waiver lifts."""
        self.completion_states = t.completion_states()
        """Terminal states that mean completed (see :meth:`ProgrammeType.completion_states`)."""
        self._owing_roles = tuple(
            frozenset(self.role_index[r] for r in d.owed_by) for d in t.deliverables.values()
        )
        # marks: when each event last fired, then each scheduled date (see ProgrammeState)
        self.no_marks: tuple[date | None, ...] = (None,) * (
            len(self.event_names) + len(self.date_names)
        )
        self._bound_refs: list[_BoundRef] = []
        self._deadline = self._ref(t.deadline)
        self._instants: dict[tuple[int, date, str, str | None], datetime] = {}
        self._layouts: dict[bytes, _Layout] = {}
        self.machine = self._build_machine()
        self._fire = self._fire_table()
        self._submit: dict[str, dict[str, _StepSpec]] = {s: {} for s in t.states}
        self._schedule: dict[str, dict[str, _StepSpec]] = {s: {} for s in t.states}
        self._compile_submissions_and_dates()
        self._specs = {
            state: (
                *self._fire[state].values(),
                *self._submit[state].values(),
                *self._schedule[state].values(),
            )
            for state in t.states
        }
        self._tables = {FIRE: self._fire, SUBMIT: self._submit, SCHEDULE: self._schedule}

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

    def _ref(self, bound: Bound | None) -> _BoundRef | None:
        if bound is None:
            return None
        anchor = bound.anchor
        if anchor == START_ANCHOR:
            kind, index = _START, 0
        elif anchor in self.date_index:
            kind, index = _DATE, self.date_index[anchor]
        else:
            kind, index = _EVENT, self.event_index[anchor]
        ref = _BoundRef(len(self._bound_refs), bound, kind, index, bound.describe())
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
        spec = self._fire[ctx.state][event_data.event.name]
        blockers, _, _, _ = self._evaluate(_Moment(self, ctx.programme, ctx.at), spec, ctx.actor)
        return not blockers

    def _fire_table(self) -> dict[str, dict[str, _StepSpec]]:
        """state -> event -> compiled step, read off the Machine's own events."""
        t = self.type
        by_key = {(src, tr.event): tr for tr in t.transitions for src in t.sources_of(tr)}
        compiled: dict[int, tuple[_BoundRef | None, _BoundRef | None]] = {}
        advisories: dict[int, tuple[_BoundRef | None, _BoundRef | None]] = {}
        table: dict[str, dict[str, _StepSpec]] = {name: {} for name in t.states}
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
                table[src][event_name] = _StepSpec(
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

    def _compile_submissions_and_dates(self) -> None:
        t = self.type
        live = t.live_states()
        for index, (name, d) in enumerate(t.deliverables.items()):
            opens, closes = _bounds(d.window)
            spec = _StepSpec(
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
                self._submit[state][name] = spec
        for index, (name, sd) in enumerate(t.dates.items()):
            spec = _StepSpec(
                SCHEDULE, name, sd.title, sd.set_by, frozenset(sd.set_by), index, deadline=False
            )
            for state in sd.during or live:
                self._schedule[state][name] = spec

    # --- packed state helpers ----------------------------------------------------

    def _layout(self, st: ProgrammeState) -> _Layout:
        """Who owes what, for the roles of ``st`` (cached: layouts repeat across programmes)."""
        found = self._layouts.get(st.roles)
        if found is None:
            width = len(self.deliverable_names)
            owed = tuple(
                sum(1 << (p * width + d) for p, role in enumerate(st.roles) if role in owing)
                for d, owing in enumerate(self._owing_roles)
            )
            found = self._layouts[st.roles] = _Layout(owed)
        return found

    def _who(self, st: ProgrammeState, deliverable: int, bits: int) -> tuple[str, ...]:
        width = len(self.deliverable_names)
        return tuple(
            pid for p, pid in enumerate(st.participants) if bits >> (p * width + deliverable) & 1
        )

    def submission_bit(self, st: ProgrammeState, deliverable: str, participant: str) -> int | None:
        d = self.deliverable_index.get(deliverable)
        index = st.index_of(participant)
        if d is None or index is None:
            return None
        return index * len(self.deliverable_names) + d

    def _required(self, st: ProgrammeState, spec: _StepSpec) -> tuple[int, ...]:
        """The deliverables a step needs now: its own, and those whose condition holds."""
        if not spec.requires_when:
            return spec.requires
        facts = st.facts
        return spec.requires + tuple(
            d for i, d in spec.requires_when if facts >> i & 1 and d not in spec.requires
        )

    def _missing_bits(self, st: ProgrammeState, layout: _Layout, deliverable: int) -> int:
        """Bits of the participants who still owe ``deliverable``; 0 once it is in."""
        return missing_bits(layout.owed[deliverable], self._each[deliverable], st.submitted)

    def missing(self, st: ProgrammeState, deliverable: str) -> tuple[str, ...]:
        """Who still owes ``deliverable``; empty once it is in."""
        d = self.deliverable_index[deliverable]
        return self._who(st, d, self._missing_bits(st, self._layout(st), d))

    # --- time --------------------------------------------------------------------

    def _anchor_day(self, m: _Moment, ref: _BoundRef) -> date | DateNotScheduled | None:
        """The anchor's day; a blocker if it is an unset date; None if it has not fired."""
        key = (ref.anchor_kind, ref.anchor_index)
        if key in m.days:
            return m.days[key]
        st = m.st
        found = anchor_day(
            ref.anchor_kind,
            ref.anchor_index,
            st.marks,
            len(self.event_names),
            st.started_at,
            st.timezone,
        )
        day: date | DateNotScheduled | None
        if found is UNSET:
            name = self.date_names[ref.anchor_index]
            day = DateNotScheduled(name, self.type.dates[name].set_by)
        else:
            day = found  # type: ignore[assignment]
        m.days[key] = day
        return day

    def _instant(self, ref: _BoundRef, day: date, st: ProgrammeState, closing: bool) -> datetime:
        key = (ref.id, day, st.timezone, st.country)
        found = self._instants.get(key)
        if found is None:
            if len(self._instants) > _INSTANT_CACHE_LIMIT:
                self._instants.clear()
            compute = closing_instant if closing else opening_instant
            try:
                found = compute(ref.bound, day, st.timezone, st.country)
            except OverflowError:
                raise EventError(
                    f"'{ref.text}' counted from {day.isoformat()} falls outside the calendar"
                ) from None
            self._instants[key] = found
        return found

    def deadline_instant(self, m: _Moment) -> datetime | None:
        ref = self._deadline
        if ref is None:
            return None
        day = self._anchor_day(m, ref)
        return self._instant(ref, day, m.st, closing=True) if isinstance(day, date) else None

    def deadline_at(self, st: ProgrammeState) -> datetime | None:
        """When the programme's overall deadline passes (None without one, or not yet known)."""
        return self.deadline_instant(_Moment(self, st, st.last_at))

    # --- evaluation --------------------------------------------------------------

    def _evaluate(
        self, m: _Moment, spec: _StepSpec, actor: Actor | str | None
    ) -> tuple[list[Blocker], list[Blocker], datetime | None, datetime | None]:
        """Every blocker of a step (waived ones apart) and its window's instants."""
        st, at = m.st, m.at
        if actor is None:
            role: str | None = None
            participant: str | None = None
        elif isinstance(actor, str):
            role, participant = actor, None
        else:
            role, participant = actor.role, actor.id
        blockers: list[Blocker] = []
        if role is not None and role not in spec.roleset:
            blockers.append(RoleNotAllowed(role, spec.roles))
        if spec.quorum:
            for role_name, least, count in quorum_shortfalls(st.roles, spec.quorum):
                waivable = role_name not in self._strict_minimums
                blockers.append(TooFewParticipants(role_name, least, count, waivable))
        for d in self._required(st, spec):
            bits = missing_bits(m.layout.owed[d], self._each[d], st.submitted)
            if bits:
                blockers.append(
                    MissingDeliverable(self.deliverable_names[d], self._who(st, d, bits))
                )
        for position, event_name, least in spec.min_times:
            happened = st.counts[position] if st.counts else 0
            if happened < least:
                blockers.append(TooFewOccurrences(event_name, least, happened))
        opens_at: datetime | None = None
        closes_at: datetime | None = None
        closes_rule = ""
        closes_bound: Bound | None = None
        ref = spec.opens
        if ref is not None:
            day = self._anchor_day(m, ref)
            if isinstance(day, date):
                opens_at = self._instant(ref, day, st, closing=False)
                if at < opens_at:
                    blockers.append(WindowNotOpen(opens_at, "opens " + ref.text))
            elif day is None:
                blockers.append(WindowNotOpen(None, ref.text))
            else:
                blockers.append(day)
        ref = spec.closes
        if ref is not None:
            day = self._anchor_day(m, ref)
            if isinstance(day, date):
                closes_at = self._instant(ref, day, st, closing=True)
                closes_rule = "closes " + ref.text
                closes_bound = ref.bound
            elif day is not None and day not in blockers:
                blockers.append(day)
        by_deadline = False
        if spec.deadline and m.deadline is not None:
            closes_at, by_deadline = earlier_close(closes_at, m.deadline)
        if by_deadline:
            closes_rule = "programme deadline: " + self._deadline.text  # type: ignore[union-attr]
            closes_bound = self.type.deadline
        if closes_at is not None and at >= closes_at:
            blockers.append(WindowClosed(closes_at, closes_rule, closes_bound))
        waived: list[Blocker] = []
        if st.waivers and blockers:
            for blocker in list(blockers):
                if blocker.can_be_waived() and self._is_waived(st, spec, blocker.kind, participant):
                    blockers.remove(blocker)
                    waived.append(blocker)
        return blockers, waived, opens_at, closes_at

    @staticmethod  # without a participant (an overview) any waiver of the step counts
    def _is_waived(st: ProgrammeState, spec: _StepSpec, kind: str, participant: str | None) -> bool:
        return any(
            w.step_kind == spec.kind
            and w.step == spec.name
            and w.blocker == kind
            and (w.participant is None or participant is None or w.participant == participant)
            for w in st.waivers
        )

    def _advised(self, m: _Moment, spec: _StepSpec) -> tuple[datetime | None, datetime | None]:
        """The instants of a step's indicative window, where its anchors are known."""
        if spec.advisory is None:
            return None, None
        found: list[datetime | None] = []
        for ref, closing in zip(spec.advisory, (False, True), strict=True):
            day = None if ref is None else self._anchor_day(m, ref)
            found.append(
                self._instant(ref, day, m.st, closing=closing)
                if ref is not None and isinstance(day, date)
                else None
            )
        return found[0], found[1]

    def _step(self, m: _Moment, spec: _StepSpec, actor: Actor | str | None) -> Step:
        blockers, waived, opens_at, closes_at = self._evaluate(m, spec, actor)
        owed_by: tuple[str, ...] = ()
        if spec.kind == SUBMIT:
            owed_by = self._who(m.st, spec.index, self._missing_bits(m.st, m.layout, spec.index))
        advised_from, advised_by = self._advised(m, spec)
        return Step(
            kind=spec.kind,
            name=spec.name,
            title=spec.title,
            allowed=not blockers,
            blockers=tuple(blockers),
            roles=spec.roles,
            dest=spec.dest,
            owed_by=owed_by,
            waived=tuple(waived),
            opens_at=opens_at,
            closes_at=closes_at,
            advised_from=advised_from,
            advised_by=advised_by,
        )

    def next_steps(
        self, st: ProgrammeState, at: datetime, actor: Actor | str | None = None
    ) -> list[Step]:
        """Every step open from the current state, allowed or with its blockers.

        ``actor`` (an :class:`Actor` or a role name) adds the role check and lets
        participant-specific waivers apply; without it, ``allowed`` means
        allowed for whoever holds one of the step's roles.
        """
        _require_aware(at)
        m = _Moment(self, st, at)
        return [self._step(m, spec, actor) for spec in self._specs[st.state]]

    def deadlines(self, st: ProgrammeState, at: datetime) -> list[Deadline]:
        """What is due by when from the current state, and what is overdue."""
        _require_aware(at)
        return due_from(self, _Moment(self, st, at))

    # --- applying events ---------------------------------------------------------

    def start(self, event: Event) -> ProgrammeState:
        """The state a ``start`` event creates."""
        if event.type != "start":
            raise EventError(
                f"a programme's first event must be 'start', not '{event.type}'", seq=event.seq
            )
        if event.seq != 0:
            raise EventError(f"'start' must have seq 0, not {event.seq}", seq=event.seq)
        _require_aware(event.at, event.seq)
        _require_actor(event)
        p = event.payload
        t = self.type
        if p.get("definition", t.id) != t.id:
            raise EventError(
                f"start names definition {p.get('definition')!r}, not '{t.id}'", seq=event.seq
            )
        if p.get("version", t.version) != t.version:
            raise EventError(
                f"programme started on version {p.get('version')!r} of '{t.id}', "
                f"but version {t.version} is loaded; load the version it started on",
                seq=event.seq,
            )
        members = _participants(p.get("participants"), t, event.seq)
        _check_starter(event.actor, members, t, event.seq)
        tz = p.get("timezone", t.timezone)
        country = p.get("country", t.country)
        try:
            zone(tz)
        except Exception:
            raise EventError(f"payload.timezone: unknown time zone {tz!r}", seq=event.seq) from None
        if country is not None and country not in known_countries():
            raise EventError(
                f"payload.country: no public holiday calendar for {country!r} "
                "(expected an ISO 3166 code such as BE, DE, ES)",
                seq=event.seq,
            )
        return ProgrammeState(
            definition=self,
            programme=event.programme,
            state=t.initial,
            next_seq=1,
            started_at=event.at,
            last_at=event.at,
            timezone=tz,
            country=country,
            people=ID_SEPARATOR.join(pid for pid, _ in members),
            roles=bytes(self.role_index[role] for _, role in members),
            marks=self.no_marks,
        )

    def apply(self, st: ProgrammeState, event: Event) -> ProgrammeState:
        """The state after ``event``; raises and changes nothing if it is not allowed."""
        self._check_envelope(st, event, None)
        handler = _HANDLERS.get(event.type)
        if handler is None:
            raise EventError(f"event type '{event.type}' cannot be applied here", seq=event.seq)
        return handler(self, st, event, None)

    def audit(self, st: ProgrammeState, event: Event) -> tuple[ProgrammeState, list[Blocker]]:
        """The state after ``event`` as it happened, and the blockers it went through.

        Replaying real history, what happened is accepted wherever the definition has the
        step at all: blockers (lateness, a missing deliverable, the wrong role, ...) are
        returned, not raised. An event the definition has no step for still raises
        (:class:`StepNotAvailable`), as does a malformed one (:class:`EventError`).
        """
        found: list[Blocker] = []
        self._check_envelope(st, event, found)
        handler = _HANDLERS.get(event.type)
        if handler is None:
            raise EventError(f"event type '{event.type}' cannot be applied here", seq=event.seq)
        return handler(self, st, event, found), found

    def fold(self, events: Iterable[Event]) -> ProgrammeState:
        """Apply a whole history, strictly, from its ``start`` event."""
        iterator = iter(events)
        try:
            first = next(iterator)
        except StopIteration:
            raise EventError("the history is empty: it must begin with a 'start' event") from None
        st = self.start(first)
        for event in iterator:
            st = self.apply(st, event)
        return st

    def _check_envelope(
        self, st: ProgrammeState, event: Event, found: list[Blocker] | None
    ) -> None:
        if event.programme != st.programme:
            raise EventError(
                f"event is for programme '{event.programme}', not '{st.programme}'", seq=event.seq
            )
        if event.seq != st.next_seq:
            raise EventError(
                f"expected seq {st.next_seq}, got {event.seq} "
                "(seq counts 0, 1, 2, ... without gaps)",
                seq=event.seq,
            )
        _require_aware(event.at, event.seq)
        if event.at < st.last_at:
            raise EventError(
                f"at {event.at.isoformat()} is before the previous event "
                f"({st.last_at.isoformat()}): events must not go back in time",
                seq=event.seq,
            )
        if event.type == "start":
            raise EventError("the programme has already started", seq=event.seq)
        _require_actor(event)
        role = st.role_of(event.actor.id)
        if role is None and event.type == "join" and _joins_self(event):
            return  # a participant joining themselves is not one yet
        if role is None:
            raise EventError(f"actor '{event.actor.id}' is not a participant", seq=event.seq)
        if role != event.actor.role and found is not None:
            found.append(RoleNotAllowed(event.actor.role, (role,)))
        elif role != event.actor.role:
            raise EventError(
                f"actor '{event.actor.id}' takes part as '{role}', not '{event.actor.role}'",
                seq=event.seq,
            )

    def _lookup(self, st: ProgrammeState, kind: str, name: Any, seq: int) -> _StepSpec:
        spec = self._tables[kind][st.state].get(name) if isinstance(name, str) else None
        if spec is None:
            available = [f"{s.kind} {s.name}" for s in self._specs[st.state]]
            raise StepNotAvailable(f"{kind} {name}", st.state, available, seq=seq)
        return spec

    def _checked(
        self,
        st: ProgrammeState,
        spec: _StepSpec,
        event: Event,
        found: list[Blocker] | None,
        extra: Blocker | None = None,
    ) -> None:
        blockers, _, _, _ = self._evaluate(_Moment(self, st, event.at), spec, event.actor)
        if extra is not None:
            blockers.append(extra)
        _blocked(f"{spec.kind} {spec.name}", blockers, event, found)

    def _fire_event(
        self, st: ProgrammeState, event: Event, found: list[Blocker] | None
    ) -> ProgrammeState:
        spec = self._lookup(st, FIRE, event.payload.get("event"), event.seq)
        self._checked(st, spec, event, found)
        assert spec.dest is not None
        i = spec.index
        marks = (*st.marks[:i], event.at, *st.marks[i + 1 :])
        for d in self._renewed_dates.get(i, ()):  # to be set again for the next occurrence
            at = len(self.event_names) + d
            marks = (*marks[:at], None, *marks[at + 1 :])
        counts, submitted = st.counts, st.submitted
        position = self._counted_at.get(i)
        if position is not None:
            counts = counts or (0,) * len(self.counted_events)
            counted = min(counts[position] + 1, self._count_caps[position])
            counts = (*counts[:position], counted, *counts[position + 1 :])
        renewed = self._renewed_by.get(i)
        if renewed:  # owed anew after this step: its earlier submissions no longer count
            width = len(self.deliverable_names)
            for p in range(len(st.roles)):
                for d in renewed:
                    submitted &= ~(1 << (p * width + d))
        # Waivers were granted for steps of the state being left: they end with it.
        return _advanced(
            st,
            event.at,
            state=spec.dest,
            marks=marks,
            waivers=(),
            submitted=submitted,
            counts=counts,
        )

    def _submit_event(
        self, st: ProgrammeState, event: Event, found: list[Blocker] | None
    ) -> ProgrammeState:
        spec = self._lookup(st, SUBMIT, event.payload.get("deliverable"), event.seq)
        parts = self._content_parts.get(spec.name)
        content = check_content(spec.name, parts, event.payload.get("content")) if parts else None
        self._checked(st, spec, event, found, content)
        waivers = st.waivers
        if waivers:
            waivers = tuple(
                w
                for w in waivers
                if not (
                    w.step_kind == SUBMIT
                    and w.step == spec.name
                    and w.participant == event.actor.id
                )
            )
        index = st.index_of(event.actor.id)
        assert index is not None  # the envelope check made sure
        bit = index * len(self.deliverable_names) + spec.index
        facts = st.facts
        given = event.payload.get("content")
        for i, part, equals in self._watched.get(spec.name, ()):
            value = given.get(part) if isinstance(given, Mapping) else None
            # the latest submission decides; 1 is not True and "1" is not 1
            if type(value) is type(equals) and value == equals:
                facts |= 1 << i
            else:
                facts &= ~(1 << i)
        return _advanced(
            st, event.at, submitted=st.submitted | (1 << bit), waivers=waivers, facts=facts
        )

    def _schedule_event(
        self, st: ProgrammeState, event: Event, found: list[Blocker] | None
    ) -> ProgrammeState:
        spec = self._lookup(st, SCHEDULE, event.payload.get("date"), event.seq)
        try:
            day = scheduled_day(event.payload.get("value"))
        except ValueError as exc:
            raise EventError(str(exc), seq=event.seq) from None
        self._checked(st, spec, event, found)
        i = spec.index
        i += len(self.event_names)
        return _advanced(st, event.at, marks=(*st.marks[:i], day, *st.marks[i + 1 :]))

    def _waive_event(
        self, st: ProgrammeState, event: Event, found: list[Blocker] | None
    ) -> ProgrammeState:
        p = event.payload
        if event.actor.role not in self.type.waivable_by:
            _blocked(
                "waive", [RoleNotAllowed(event.actor.role, self.type.waivable_by)], event, found
            )
        target = p.get("step")
        if not isinstance(target, dict) or target.get("kind") not in (*STEP_KINDS, JOIN):
            raise EventError(
                "payload.step must be {kind: fire|submit|schedule|join, name: ...}", seq=event.seq
            )
        kinds = p.get("blockers")
        if not isinstance(kinds, list) or not kinds:
            raise EventError("payload.blockers must list the blocker kinds to waive", seq=event.seq)
        if target["kind"] == JOIN:
            return self._waive_join(st, event, target.get("name"), kinds)
        spec = self._lookup(st, target["kind"], target.get("name"), event.seq)
        if "participant_limit" in kinds:
            raise EventError(
                "payload.blockers: participant_limit is waived for a join: "
                "step {kind: join, name: ROLE}",
                seq=event.seq,
            )
        for kind in kinds:
            if not isinstance(kind, str) or kind not in WAIVABLE_KINDS:
                raise EventError(
                    f"payload.blockers: {kind!r} cannot be waived "
                    f"(waivable: {', '.join(sorted(WAIVABLE_KINDS))})",
                    seq=event.seq,
                )
        strict = [role for _, role, _ in spec.quorum if role in self._strict_minimums]
        if "too_few_participants" in kinds and strict and len(strict) == len(spec.quorum):
            raise EventError(
                f"payload.blockers: the minimum of role {', '.join(strict)} cannot be waived "
                f"('{self.id}' says min_waivable: false)",
                seq=event.seq,
            )
        reason = p.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise EventError("payload.reason must say why the blocker is waived", seq=event.seq)
        participant = p.get("participant")
        if participant is not None and (
            not isinstance(participant, str) or st.role_of(participant) is None
        ):
            raise EventError(
                f"payload.participant {participant!r} is not a participant", seq=event.seq
            )
        new = tuple(
            Waiver(spec.kind, spec.name, kind, reason, event.seq, participant) for kind in kinds
        )
        return _advanced(st, event.at, waivers=st.waivers + new)

    def _joining_role(self, name: Any) -> Role | None:
        """The role ``name`` if its participants join after the start, else None."""
        role = self.type.roles.get(name) if isinstance(name, str) else None
        return role if role is not None and role.joins_later else None

    def _joinable(self) -> str:
        """The roles whose participants join after the start, for a refusal's hint."""
        return ", ".join(n for n, r in self.type.roles.items() if r.joins_later) or "none"

    def _waive_join(
        self, st: ProgrammeState, event: Event, role_name: Any, kinds: list[Any]
    ) -> ProgrammeState:
        """A waiver of a role's maximum, for one more join while the programme stays put."""
        role = self._joining_role(role_name)
        if role is None:
            raise EventError(
                f"payload.step: {role_name!r} is not a role participants join "
                f"(roles that can: {self._joinable()})",
                seq=event.seq,
            )
        if kinds != ["participant_limit"]:
            raise EventError(
                "payload.blockers: a join's only waivable blocker is participant_limit",
                seq=event.seq,
            )
        if not role.max_waivable:
            raise EventError(
                f"payload.blockers: the maximum of role {role_name} cannot be waived "
                f"('{self.id}' does not say max_waivable: true)",
                seq=event.seq,
            )
        reason = event.payload.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise EventError("payload.reason must say why the blocker is waived", seq=event.seq)
        waiver = Waiver(JOIN, role_name, "participant_limit", reason, event.seq)
        return _advanced(st, event.at, waivers=(*st.waivers, waiver))

    def _join_event(
        self, st: ProgrammeState, event: Event, found: list[Blocker] | None
    ) -> ProgrammeState:
        p = event.payload
        pid, role_name = p.get("participant"), p.get("role")
        problem = id_problem(pid)
        if problem is not None or not isinstance(pid, str):
            raise EventError(
                f"payload.participant must be the joining participant's id: it {problem}",
                seq=event.seq,
            )
        role = self._joining_role(role_name)
        if role is None:
            raise EventError(
                f"payload.role: participants of role {role_name!r} cannot join after the start "
                f"(roles that can: {self._joinable()})",
                seq=event.seq,
            )
        during = role.join_during or self.type.live_states()
        if st.state not in during:
            raise StepNotAvailable(
                f"join as {role_name}",
                st.state,
                [f"join during {', '.join(during)}"],
                seq=event.seq,
            )
        if st.index_of(pid) is not None:
            raise EventError(f"'{pid}' already takes part as '{st.role_of(pid)}'", seq=event.seq)
        blockers: list[Blocker] = []
        if _joins_self(event):
            if SELF not in role.joined_by:
                blockers.append(RoleNotAllowed(event.actor.role, role.joined_by))
        elif event.actor.role not in role.joined_by:
            blockers.append(RoleNotAllowed(event.actor.role, role.joined_by))
        assert role_name is not None
        waivers = st.waivers
        if role.max is not None and st.count(role_name) >= role.max:
            lifted = next(
                (w for w in waivers if (w.step_kind, w.step) == (JOIN, role_name)),
                None,
            )
            if lifted is not None and role.max_waivable:
                waivers = tuple(w for w in waivers if w is not lifted)  # one join each
            else:
                blockers.append(ParticipantLimit(role_name, role.max, role.max_waivable))
        _blocked(f"join {pid} as {role_name}", blockers, event, found)
        people = pid if not st.people else st.people + ID_SEPARATOR + pid
        roles = st.roles + bytes((self.role_index[role_name],))
        return _advanced(st, event.at, people=people, roles=roles, waivers=waivers)

    def _budget_or_refuse(self, event: Event) -> Budget:
        budget = self.type.budget
        if budget is None:
            raise EventError(f"'{self.id}' has no budget: nothing to claim or pay", seq=event.seq)
        return budget

    def _claim_event(
        self, st: ProgrammeState, event: Event, found: list[Blocker] | None
    ) -> ProgrammeState:
        budget = self._budget_or_refuse(event)
        if budget.claims_during and st.state not in budget.claims_during:
            raise StepNotAvailable(
                "claim",
                st.state,
                [f"claim during {', '.join(budget.claims_during)}"],
                seq=event.seq,
            )
        claim, blockers = assess_claim(
            budget,
            event.actor.role,
            event.actor.id,
            event.payload,
            st.claims,
            event.seq,
            local_date(event.at, st.timezone),
        )
        accept_cap = event.payload.get("accept_cap", False)
        if accept_cap is not True and accept_cap is not False:
            raise EventError("payload.accept_cap must be true or false", seq=event.seq)
        if accept_cap:
            blockers = [b for b in blockers if not isinstance(b, OverBudget)]
        _blocked(f"claim {claim.id}", blockers, event, found)
        return _advanced(st, event.at, claims=(*st.claims, claim))

    @in_money_context
    def _pay_event(
        self, st: ProgrammeState, event: Event, found: list[Blocker] | None
    ) -> ProgrammeState:
        budget = self._budget_or_refuse(event)
        if event.actor.role not in budget.paid_by:
            _blocked("pay", [RoleNotAllowed(event.actor.role, budget.paid_by)], event, found)
        claim_id = event.payload.get("claim")
        claim = st.claim(claim_id) if isinstance(claim_id, str) else None
        if claim is None:
            raise EventError(f"payload.claim: no claim {claim_id!r} is recorded", seq=event.seq)
        if claim.paid_at is not None:
            raise EventError(f"claim '{claim.id}' is already paid", seq=event.seq)
        value = event.payload.get("amount")
        paid = claim.reimbursable if value is None else amount(value, "payload.amount", event.seq)
        if paid > claim.reimbursable:
            excess = OverBudget(
                f"payment of claim '{claim.id}'",
                claim.reimbursable,
                paid,
                paid - claim.reimbursable,
                "what the claim may be reimbursed",
            )
            _blocked(f"pay {claim.id}", [excess], event, found)
        done = attrs.evolve(claim, paid_at=event.at, paid=paid)
        claims = tuple(done if c is claim else c for c in st.claims)
        return _advanced(st, event.at, claims=claims)

    def payment_due(self, st: ProgrammeState, claim: Claim) -> datetime | None:
        """When ``claim`` must be paid by, from the budget's payment window."""
        budget = self.type.budget
        if budget is None or budget.payment is None or budget.payment.closes is None:
            return None
        return closing_instant(budget.payment.closes, claim.invoice_date, st.timezone, st.country)


def _blocked(step: str, blockers: list[Blocker], event: Event, found: list[Blocker] | None) -> None:
    """Strict: refuse a blocked step. Auditing (``found`` given): note the blockers, go on."""
    if not blockers:
        return
    if found is None:
        raise StepBlocked(step, blockers, seq=event.seq)
    found.extend(blockers)


def _joins_self(event: Event) -> bool:
    return event.payload.get("participant") == event.actor.id


def _advanced(
    st: ProgrammeState,
    at: datetime,
    *,
    state: str | None = None,
    submitted: int | None = None,
    marks: tuple[date | None, ...] | None = None,
    waivers: tuple[Waiver, ...] | None = None,
    people: str | None = None,
    roles: bytes | None = None,
    claims: tuple[Claim, ...] | None = None,
    facts: int | None = None,
    counts: tuple[int, ...] | None = None,
) -> ProgrammeState:
    """The state one event later (a direct constructor call: ``attrs.evolve`` is slower)."""
    return ProgrammeState(
        st.definition,
        st.programme,
        st.state if state is None else state,
        st.next_seq + 1,
        st.started_at,
        at,
        st.timezone,
        st.country,
        st.people if people is None else people,
        st.roles if roles is None else roles,
        st.submitted if submitted is None else submitted,
        st.marks if marks is None else marks,
        st.waivers if waivers is None else waivers,
        st.claims if claims is None else claims,
        st.facts if facts is None else facts,
        st.counts if counts is None else counts,
    )


_HANDLERS = {
    "fire": CompiledDefinition._fire_event,
    "submit": CompiledDefinition._submit_event,
    "schedule": CompiledDefinition._schedule_event,
    "waive": CompiledDefinition._waive_event,
    "join": CompiledDefinition._join_event,
    "claim": CompiledDefinition._claim_event,
    "pay": CompiledDefinition._pay_event,
}


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
