"""The engine: a compiled definition and the pure functions that use it.

A definition is compiled once. Its ``transitions`` Machine is built once
(``model=None``, no auto transitions) and a lookup table is derived from
``machine.events``; every programme of that type shares both. Applying an
event is a pure function from state to state, so live use and replay run the
same code and cannot disagree. Every guard is evaluated (not only up to the
first failure) so a refusal can say everything that blocks the step.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import attrs
from transitions import Machine

from peerflow._blockers import (
    WAIVABLE_KINDS,
    Blocker,
    DateNotScheduled,
    MissingDeliverable,
    RoleNotAllowed,
    WindowClosed,
    WindowNotOpen,
)
from peerflow._calendar import (
    closing_instant,
    local_date,
    opening_instant,
    zone,
)
from peerflow._errors import EventError, StepBlocked, StepNotAvailable
from peerflow._events import Actor, Event
from peerflow._model import START_ANCHOR, Bound, ProgrammeType, Window
from peerflow._state import ProgrammeState, Waiver
from peerflow._steps import FIRE, SCHEDULE, SUBMIT, STEP_KINDS, Deadline, Step

# transitions logs every trigger at INFO; at that level a trigger is several times slower.
logging.getLogger("transitions").setLevel(logging.WARNING)

_INSTANT_CACHE_LIMIT = 100_000


@attrs.frozen
class _StepSpec:
    """A step compiled for the hot path: roles as a set, bounds pre-paired."""

    kind: str
    name: str
    title: str
    roles: tuple[str, ...]
    roleset: frozenset[str]
    requires: tuple[str, ...] = ()
    opens: Bound | None = None
    closes: Bound | None = None
    deadline: bool = True
    dest: str | None = None


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

    def __init__(self, programme_type: ProgrammeType, digest: str = "") -> None:
        self.type = programme_type
        self.id = programme_type.id
        self.version = programme_type.version
        self.digest = digest
        self._instants: dict[tuple[Bound, date, str, str | None, bool], datetime] = {}
        self.machine = self._build_machine()
        self._fire = self._fire_table()
        self._submit: dict[str, dict[str, _StepSpec]] = {s: {} for s in programme_type.states}
        self._schedule: dict[str, dict[str, _StepSpec]] = {s: {} for s in programme_type.states}
        self._compile_submissions_and_dates()
        self._owing: dict[str, frozenset[str]] = {
            name: frozenset(d.owed_by) for name, d in programme_type.deliverables.items()
        }

    def __repr__(self) -> str:
        return f"<CompiledDefinition {self.id} v{self.version}>"

    # --- compiling ---------------------------------------------------------------

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
        blockers, _, _, _ = self._evaluate(ctx.programme, spec, ctx.at, ctx.actor)
        return not blockers

    def _fire_table(self) -> dict[str, dict[str, _StepSpec]]:
        """state -> event -> compiled step, read off the Machine's own events."""
        by_key = {
            (src, tr.event): tr for tr in self.type.transitions for src in self.type.sources_of(tr)
        }
        table: dict[str, dict[str, _StepSpec]] = {name: {} for name in self.type.states}
        for event_name, event in self.machine.events.items():
            for src, machine_transitions in event.transitions.items():
                tr = by_key[src, event_name]
                opens, closes = _bounds(tr.window)
                table[src][event_name] = _StepSpec(
                    kind=FIRE,
                    name=event_name,
                    title=tr.title or event_name.replace("_", " "),
                    roles=tr.by,
                    roleset=frozenset(tr.by),
                    requires=tr.requires,
                    opens=opens,
                    closes=closes,
                    deadline=tr.deadline_applies,
                    dest=machine_transitions[0].dest,
                )
        return table

    def _compile_submissions_and_dates(self) -> None:
        t = self.type
        live = tuple(name for name, s in t.states.items() if not s.terminal)
        for name, d in t.deliverables.items():
            opens, closes = _bounds(d.window)
            spec = _StepSpec(SUBMIT, name, d.title, d.owed_by, frozenset(d.owed_by),
                             opens=opens, closes=closes)
            for state in d.during or live:
                self._submit[state][name] = spec
        for name, sd in t.dates.items():
            spec = _StepSpec(SCHEDULE, name, sd.title, sd.set_by, frozenset(sd.set_by),
                             deadline=False)
            for state in sd.during or live:
                self._schedule[state][name] = spec

    # --- time --------------------------------------------------------------------

    def _anchor_day(self, st: ProgrammeState, anchor: str) -> date | DateNotScheduled | None:
        """The anchor's calendar day, a blocker if it is an unset date, None if not yet fired."""
        if anchor == START_ANCHOR:
            return local_date(st.started_at, st.timezone)
        if anchor in self.type.dates:
            day = st.scheduled_date(anchor)
            if day is None:
                return DateNotScheduled(anchor, self.type.dates[anchor].set_by)
            return day
        moment = st.fired_at(anchor)
        return None if moment is None else local_date(moment, st.timezone)

    def _instant(self, bound: Bound, day: date, st: ProgrammeState, closing: bool) -> datetime:
        key = (bound, day, st.timezone, st.country, closing)
        found = self._instants.get(key)
        if found is None:
            if len(self._instants) > _INSTANT_CACHE_LIMIT:
                self._instants.clear()
            compute = closing_instant if closing else opening_instant
            found = self._instants[key] = compute(bound, day, st.timezone, st.country)
        return found

    def deadline_at(self, st: ProgrammeState) -> datetime | None:
        """When the programme's overall deadline passes (None without one, or not yet known)."""
        bound = self.type.deadline
        if bound is None:
            return None
        day = self._anchor_day(st, bound.anchor)
        if not isinstance(day, date):
            return None
        return self._instant(bound, day, st, closing=True)

    # --- evaluation --------------------------------------------------------------

    def _missing(self, st: ProgrammeState, deliverable: str) -> tuple[str, ...]:
        """Who still owes ``deliverable``; empty once it is in."""
        holders = st.holders(self._owing[deliverable])
        if self.type.deliverables[deliverable].each:
            return tuple(p for p in holders if (deliverable, p) not in st.submitted)
        if any((deliverable, p) in st.submitted for p in holders):
            return ()
        return holders

    def _evaluate(
        self, st: ProgrammeState, spec: _StepSpec, at: datetime, actor: Actor | str | None
    ) -> tuple[list[Blocker], list[Blocker], datetime | None, datetime | None]:
        """Every blocker of a step (waived ones apart) and its window's instants."""
        if isinstance(actor, Actor):
            role: str | None = actor.role
            participant: str | None = actor.id
        else:
            role, participant = actor, None
        blockers: list[Blocker] = []
        if role is not None and role not in spec.roleset:
            blockers.append(RoleNotAllowed(role, spec.roles))
        for deliverable in spec.requires:
            missing = self._missing(st, deliverable)
            if missing:
                blockers.append(MissingDeliverable(deliverable, missing))
        opens_at: datetime | None = None
        closes_at: datetime | None = None
        closes_rule = ""
        if spec.opens is not None:
            day = self._anchor_day(st, spec.opens.anchor)
            if isinstance(day, date):
                opens_at = self._instant(spec.opens, day, st, closing=False)
                if at < opens_at:
                    blockers.append(WindowNotOpen(opens_at, "opens " + spec.opens.describe()))
            elif day is None:
                blockers.append(WindowNotOpen(None, spec.opens.describe()))
            else:
                blockers.append(day)
        if spec.closes is not None:
            day = self._anchor_day(st, spec.closes.anchor)
            if isinstance(day, date):
                closes_at = self._instant(spec.closes, day, st, closing=True)
                closes_rule = "closes " + spec.closes.describe()
            elif isinstance(day, DateNotScheduled) and day not in blockers:
                blockers.append(day)
        if spec.deadline:
            deadline = self.deadline_at(st)
            if deadline is not None and (closes_at is None or deadline < closes_at):
                closes_at = deadline
                closes_rule = "programme deadline: " + _describe(self.type.deadline)
        if closes_at is not None and at >= closes_at:
            blockers.append(WindowClosed(closes_at, closes_rule))
        waived: list[Blocker] = []
        if st.waivers and blockers:
            for blocker in list(blockers):
                if self._is_waived(st, spec, blocker.kind, participant):
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

    def _step(self, st: ProgrammeState, spec: _StepSpec, at: datetime,
              actor: Actor | str | None) -> Step:
        blockers, waived, opens_at, closes_at = self._evaluate(st, spec, at, actor)
        return Step(
            kind=spec.kind,
            name=spec.name,
            title=spec.title,
            allowed=not blockers,
            blockers=tuple(blockers),
            roles=spec.roles,
            dest=spec.dest,
            owed_by=self._missing(st, spec.name) if spec.kind == SUBMIT else (),
            waived=tuple(waived),
            opens_at=opens_at,
            closes_at=closes_at,
        )

    def _specs(self, state: str) -> Iterable[_StepSpec]:
        yield from self._fire[state].values()
        yield from self._submit[state].values()
        yield from self._schedule[state].values()

    def next_steps(
        self, st: ProgrammeState, at: datetime, actor: Actor | str | None = None
    ) -> list[Step]:
        """Every step open from the current state, allowed or with its blockers.

        ``actor`` (an :class:`Actor` or a role name) adds the role check and lets
        participant-specific waivers apply; without it, ``allowed`` means
        allowed for whoever holds one of the step's roles.
        """
        _require_aware(at)
        return [self._step(st, spec, at, actor) for spec in self._specs(st.state)]

    def deadlines(self, st: ProgrammeState, at: datetime) -> list[Deadline]:
        """What is due by when from the current state, and what is overdue."""
        _require_aware(at)
        due: dict[tuple[str, str], Deadline] = {}

        def add(item: Deadline) -> None:
            key = (item.kind, item.name)
            if key not in due or item.due_at < due[key].due_at:
                due[key] = item

        programme_deadline = self.deadline_at(st)
        for spec in self._specs(st.state):
            step = self._step(st, spec, at, None)
            if step.closes_at is None or step.closes_at == programme_deadline:
                continue  # bound only by the programme deadline, listed once below
            rule = next((b.rule for b in step.blockers if isinstance(b, WindowClosed)), "")
            if spec.kind == SUBMIT:
                if step.owed_by:
                    add(Deadline(SUBMIT, spec.name, spec.title, step.closes_at,
                                 at >= step.closes_at, step.owed_by, rule))
                continue
            add(Deadline(spec.kind, spec.name, spec.title, step.closes_at,
                         at >= step.closes_at, spec.roles, rule))
            for deliverable in spec.requires:
                missing = self._missing(st, deliverable)
                if missing:
                    title = self.type.deliverables[deliverable].title
                    add(Deadline(SUBMIT, deliverable, title, step.closes_at,
                                 at >= step.closes_at, missing, f"needed by '{spec.name}'"))
        if programme_deadline is not None and not st.terminal:
            add(Deadline("programme", "deadline", "Programme deadline", programme_deadline,
                         at >= programme_deadline, (), _describe(self.type.deadline)))
        return sorted(due.values(), key=lambda d: (d.due_at, d.kind, d.name))

    # --- applying events ---------------------------------------------------------

    def start(self, event: Event) -> ProgrammeState:
        """The state a ``start`` event creates."""
        if event.type != "start":
            raise EventError(f"a programme's first event must be 'start', not '{event.type}'",
                             seq=event.seq)
        if event.seq != 0:
            raise EventError(f"'start' must have seq 0, not {event.seq}", seq=event.seq)
        _require_aware(event.at, event.seq)
        p = event.payload
        t = self.type
        if p.get("definition", t.id) != t.id:
            raise EventError(f"start names definition {p.get('definition')!r}, not '{t.id}'",
                             seq=event.seq)
        if p.get("version", t.version) != t.version:
            raise EventError(
                f"programme started on version {p.get('version')!r} of '{t.id}', "
                f"but version {t.version} is loaded; load the version it started on",
                seq=event.seq,
            )
        participants = _participants(p.get("participants"), t, event.seq)
        tz = p.get("timezone", t.timezone)
        country = p.get("country", t.country)
        try:
            zone(tz)
        except Exception:
            raise EventError(f"payload.timezone: unknown time zone {tz!r}", seq=event.seq) from None
        return ProgrammeState(
            definition=self,
            programme=event.programme,
            state=t.initial,
            version=1,
            started_at=event.at,
            last_at=event.at,
            timezone=tz,
            country=country,
            participants=participants,
        )

    def apply(self, st: ProgrammeState, event: Event) -> ProgrammeState:
        """The state after ``event``; raises and changes nothing if it is not allowed."""
        self._check_envelope(st, event)
        handler = _HANDLERS.get(event.type)
        if handler is None:
            raise EventError(f"event type '{event.type}' cannot be applied here", seq=event.seq)
        return handler(self, st, event)

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

    def _check_envelope(self, st: ProgrammeState, event: Event) -> None:
        if event.programme != st.programme:
            raise EventError(
                f"event is for programme '{event.programme}', not '{st.programme}'", seq=event.seq
            )
        if event.seq != st.version:
            raise EventError(
                f"expected seq {st.version}, got {event.seq} (seq counts 0, 1, 2, ... without gaps)",
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
        role = st.role_of(event.actor.id)
        if role is None:
            raise EventError(f"actor '{event.actor.id}' is not a participant", seq=event.seq)
        if role != event.actor.role:
            raise EventError(
                f"actor '{event.actor.id}' takes part as '{role}', not '{event.actor.role}'",
                seq=event.seq,
            )

    def _lookup(self, st: ProgrammeState, kind: str, name: Any, seq: int) -> _StepSpec:
        table = {FIRE: self._fire, SUBMIT: self._submit, SCHEDULE: self._schedule}[kind]
        spec = table[st.state].get(name) if isinstance(name, str) else None
        if spec is None:
            available = [f"{s.kind} {s.name}" for s in self._specs(st.state)]
            raise StepNotAvailable(f"{kind} {name}", st.state, available, seq=seq)
        return spec

    def _checked(self, st: ProgrammeState, spec: _StepSpec, event: Event) -> None:
        blockers, _, _, _ = self._evaluate(st, spec, event.at, event.actor)
        if blockers:
            raise StepBlocked(f"{spec.kind} {spec.name}", blockers, seq=event.seq)

    def _fire_event(self, st: ProgrammeState, event: Event) -> ProgrammeState:
        spec = self._lookup(st, FIRE, event.payload.get("event"), event.seq)
        self._checked(st, spec, event)
        assert spec.dest is not None
        fired = tuple((n, m) for n, m in st.fired if n != spec.name) + ((spec.name, event.at),)
        # Waivers were granted for steps of the state being left: they end with it.
        return attrs.evolve(st, state=spec.dest, version=st.version + 1, last_at=event.at,
                            fired=fired, waivers=())

    def _submit_event(self, st: ProgrammeState, event: Event) -> ProgrammeState:
        spec = self._lookup(st, SUBMIT, event.payload.get("deliverable"), event.seq)
        self._checked(st, spec, event)
        waivers = tuple(
            w for w in st.waivers
            if not (w.step_kind == SUBMIT and w.step == spec.name
                    and w.participant == event.actor.id)
        )
        return attrs.evolve(st, version=st.version + 1, last_at=event.at, waivers=waivers,
                            submitted=st.submitted | {(spec.name, event.actor.id)})

    def _schedule_event(self, st: ProgrammeState, event: Event) -> ProgrammeState:
        spec = self._lookup(st, SCHEDULE, event.payload.get("date"), event.seq)
        value = event.payload.get("value")
        try:
            day = date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            day = None
        if day is None:
            raise EventError(f"payload.value must be a date like 2027-03-15, got {value!r}",
                             seq=event.seq)
        self._checked(st, spec, event)
        scheduled = tuple((n, d) for n, d in st.scheduled if n != spec.name) + ((spec.name, day),)
        return attrs.evolve(st, version=st.version + 1, last_at=event.at, scheduled=scheduled)

    def _waive_event(self, st: ProgrammeState, event: Event) -> ProgrammeState:
        p = event.payload
        if event.actor.role not in self.type.waivable_by:
            raise StepBlocked("waive", [RoleNotAllowed(event.actor.role, self.type.waivable_by)],
                              seq=event.seq)
        target = p.get("step")
        if not isinstance(target, dict) or target.get("kind") not in STEP_KINDS:
            raise EventError(
                "payload.step must be {kind: fire|submit|schedule, name: ...}", seq=event.seq
            )
        spec = self._lookup(st, target["kind"], target.get("name"), event.seq)
        kinds = p.get("blockers")
        if not isinstance(kinds, list) or not kinds:
            raise EventError("payload.blockers must list the blocker kinds to waive",
                             seq=event.seq)
        for kind in kinds:
            if kind not in WAIVABLE_KINDS:
                raise EventError(
                    f"payload.blockers: '{kind}' cannot be waived "
                    f"(waivable: {', '.join(sorted(WAIVABLE_KINDS))})",
                    seq=event.seq,
                )
        reason = p.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise EventError("payload.reason must say why the blocker is waived", seq=event.seq)
        participant = p.get("participant")
        if participant is not None and st.role_of(participant) is None:
            raise EventError(f"payload.participant '{participant}' is not a participant",
                             seq=event.seq)
        new = tuple(Waiver(spec.kind, spec.name, kind, reason, event.seq, participant)
                    for kind in kinds)
        return attrs.evolve(st, version=st.version + 1, last_at=event.at,
                            waivers=st.waivers + new)


_HANDLERS = {
    "fire": CompiledDefinition._fire_event,
    "submit": CompiledDefinition._submit_event,
    "schedule": CompiledDefinition._schedule_event,
    "waive": CompiledDefinition._waive_event,
}


def _bounds(window: Window | None) -> tuple[Bound | None, Bound | None]:
    return (None, None) if window is None else (window.opens, window.closes)


def _describe(bound: Bound | None) -> str:
    return bound.describe() if bound is not None else ""


def _require_aware(at: datetime, seq: int | None = None) -> None:
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise EventError(f"time {at!r} must be a datetime with a UTC offset", seq=seq)


def _participants(value: Any, t: ProgrammeType, seq: int) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        raise EventError("payload.participants must list {id, role} objects", seq=seq)
    seen: dict[str, str] = {}
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or not isinstance(item.get("id"), str) \
                or not isinstance(item.get("role"), str):
            raise EventError(f"payload.participants[{i}] must be {{id, role}}", seq=seq)
        pid, role = item["id"], item["role"]
        if role not in t.roles:
            raise EventError(
                f"payload.participants[{i}]: unknown role '{role}' "
                f"(roles: {', '.join(t.roles)})", seq=seq)
        if pid in seen:
            raise EventError(f"payload.participants[{i}]: '{pid}' is listed twice", seq=seq)
        seen[pid] = role
    for name, role_def in t.roles.items():
        count = sum(1 for r in seen.values() if r == name)
        if count < role_def.min:
            raise EventError(
                f"payload.participants: role '{name}' needs at least {role_def.min}, got {count}",
                seq=seq)
        if role_def.max is not None and count > role_def.max:
            raise EventError(
                f"payload.participants: role '{name}' allows at most {role_def.max}, got {count}",
                seq=seq)
    return tuple(seen.items())
