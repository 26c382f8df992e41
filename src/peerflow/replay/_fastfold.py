"""The replay's fast path: conforming fire/submit/schedule/join events folded on local variables.

Most events of a real history conform. For those, the replay need not build a
``ProgrammeState`` or an ``Event`` per event nor collect blockers it will not find: it keeps
the state's parts in local variables and checks the event (a plain tuple, a
:data:`~peerflow.events._envelope.Row`) against plans compiled once per definition from its step
tables: role, quorum, required deliverables as bitmasks, structured content, and window
instants worked out once per window and state (most steps have no window at all, and steps
with the same bounds share one). A plain join (:meth:`FastFold._join`, the join handler's
checks as data) adds its participant to the same parts.
The moment any check does not pass, or the event is of a rarer kind (waivers, claims,
payments), :meth:`FastFold.run` stops and hands the event to :meth:`CompiledDefinition.audit`,
which decides and explains.
So the fast path only ever says "conforms, applied"; every deviation comes from the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import NamedTuple
from weakref import WeakKeyDictionary

from peerflow._errors import EventError
from peerflow.engine._checks import (
    DATE,
    EVENT,
    UNSET,
    anchor_day,
    earlier_close,
    missing_bits,
    quorum_shortfalls,
    scheduled_day,
)
from peerflow.engine._compiled import CompiledDefinition
from peerflow.engine._content import check_content
from peerflow.engine._guards import layout, layout_of
from peerflow.engine._state import ID_SEPARATOR, ProgrammeState
from peerflow.engine._tables import BoundRef, StepSpec
from peerflow.engine._windows import instant
from peerflow.events._envelope import Row, id_problem
from peerflow.model._types import SELF, Part

_CLOSED = (None, None, False)  # a window the fast path cannot vouch for

DEFERRED = "deferred"
"""A step with this field set gets no plan: every event of it goes to the engine."""

STEP_FIELDS: Mapping[str, str] = {
    "kind": "which table the plan is in (submit, fire, schedule)",
    "name": "the payload's step name finds the plan",
    "title": "shown to people only",
    "roles": "checked, as roleset",
    "roleset": "checked: the actor's role",
    "index": "where the step writes: the submission bit, the event's mark, the date's value",
    "requires": "checked: missing_bits, as the engine",
    "opens": "checked: anchor_day and the engine's instants",
    "closes": "checked: anchor_day and the engine's instants",
    "deadline": "checked: earlier_close, as the engine",
    "dest": "where a fire moves the programme",
    "quorum": "checked: quorum_shortfalls, as the engine",
    "min_times": "checked: the occurrences counted so far, as the engine",
    "advisory": "shown only, never blocking",
    "requires_when": "checked: required(), with the facts as the submissions read set them",
}
"""How the fast path treats each field of the engine's compiled step. A field added to
``StepSpec`` and missing here fails tests/test_fast_path.py: a new guard must be checked here
with the engine's function, or its steps deferred to the engine."""
_SUBMIT, _FIRE, _SCHEDULE = 0, 1, 2


class _Bounds:
    """A step's bounds: opens, closes, and whether the programme deadline applies.

    One object per distinct set of bounds in a definition, hashed by identity: it keys a
    programme's cache of window instants, shared by every step with those bounds.
    """

    __slots__ = ("anchors", "closes", "deadline", "opens")

    def __init__(
        self, opens: BoundRef | None, closes: BoundRef | None, deadline: BoundRef | None
    ) -> None:
        self.opens, self.closes, self.deadline = opens, closes, deadline is not None
        self.anchors = frozenset(
            (ref.anchor_kind, ref.anchor_index) for ref in (opens, closes, deadline) if ref
        )
        """The anchors the window is counted from: when one moves, the window is stale."""


_Shape = tuple[tuple[str, tuple[int | str, ...] | None, "_Shape | None"], ...]
"""A structured deliverable's parts: (name, allowed values or None, entry shape or None)."""


class _Plan(NamedTuple):
    """A step as plain data, unpacked in one go on the hot path."""

    roles: frozenset[str]  # roles that may take the step
    quorum: tuple[tuple[int, str, int], ...]  # (role index, role, least)
    requires: tuple[int, ...]  # deliverables required first
    bounds: _Bounds | None  # None: no bound at all, nothing to check
    parts: Mapping[str, Part] | None  # a submission's structured parts
    shape: _Shape | None  # the same parts, for the quick check
    action: int  # _SUBMIT, _FIRE or _SCHEDULE
    position: int  # the deliverable's, event's or date's index
    dest: str | None  # a fire's destination
    stale: _Stale | None  # what a fire or schedule that moves an anchor makes stale
    step: str  # the step's name (for content problems)
    extra: _Extra | None  # a fire's rarer parts: conditions, occurrences, renewals
    watched: tuple[tuple[int, str, int | str], ...]  # a submission's parts conditions read


class _Stale(NamedTuple):
    """What a step that moves anchors makes stale: the anchor days it moved and the windows
    counted from them. Windows counted from other anchors stay as they were worked out."""

    days: tuple[tuple[int, int], ...]
    windows: tuple[_Bounds, ...]


class _Extra(NamedTuple):
    """What a fire does besides moving the programme, as the engine's fire handler does it."""

    requires_when: tuple[tuple[int, int], ...]  # (condition, deliverable) required if it holds
    min_times: tuple[tuple[int, str, int], ...]  # (counted position, event, least)
    counted: int  # this fire's position among the counted events, or -1
    cap: int  # where its count stops
    renewed_dates: tuple[int, ...]  # dates to be set again
    renewed: tuple[int, ...]  # deliverables owed anew


class _Join(NamedTuple):
    """A role whose participants join after the start, as the join check reads it."""

    byte: int  # the role's byte in ``roles``
    during: frozenset[str]  # the states it may join in
    by_self: bool  # participants join themselves
    joined_by: frozenset[str]  # roles that may add them
    most: int | None  # the role's maximum


_JOINS: WeakKeyDictionary[CompiledDefinition, dict[str, _Join]] = WeakKeyDictionary()


def _joins(compiled: CompiledDefinition) -> dict[str, _Join]:
    """The roles that join later, by name: the engine's join handler, as data."""
    found = _JOINS.get(compiled)
    if found is None:
        live = compiled.type.live_states()
        found = _JOINS[compiled] = {
            name: _Join(
                compiled.role_index[name],
                frozenset(role.join_during or live),
                SELF in role.joined_by,
                frozenset(role.joined_by),
                role.max,
            )
            for name, role in compiled.type.roles.items()
            if role.joins_later
        }
    return found


_Plans = dict[str, tuple[str, dict[str, dict[str, _Plan]]]]
"""Event type -> (payload key naming the step, state -> step name -> plan)."""

_PLANS: WeakKeyDictionary[CompiledDefinition, _Plans] = WeakKeyDictionary()


def _plans(compiled: CompiledDefinition) -> _Plans:
    """The definition's steps as plans, made once per compiled definition."""
    found = _PLANS.get(compiled)
    if found is not None:
        return found
    tables = compiled.tables
    windows: dict[tuple[int, int, bool], _Bounds] = {}  # one object per distinct set of bounds

    def bounds_of(spec: StepSpec) -> _Bounds | None:
        deadline = tables.deadline if spec.deadline else None
        opens, closes = spec.opens, spec.closes
        if opens is None and closes is None and deadline is None:
            return None
        key = (
            -1 if opens is None else opens.id,
            -1 if closes is None else closes.id,
            bool(deadline),
        )
        found = windows.get(key)
        if found is None:
            found = windows[key] = _Bounds(opens, closes, deadline)
        return found

    every_step = [
        spec
        for table in (tables.submit, tables.fire, tables.schedule)
        for specs in table.values()
        for spec in specs.values()
    ]
    for spec in every_step:  # every window first: a step's stale windows may be any step's
        bounds_of(spec)

    def made_stale(moved: tuple[tuple[int, int], ...]) -> _Stale | None:
        days = tuple(key for key in moved if any(key in b.anchors for b in windows.values()))
        if not days:
            return None
        return _Stale(days, tuple(b for b in windows.values() if b.anchors.intersection(days)))

    def plan(spec: StepSpec, action: int, moved: tuple[tuple[int, int], ...]) -> _Plan:
        """``moved``: the anchors this step sets."""
        window = bounds_of(spec)
        parts = compiled.tables.content_parts.get(spec.name) if action == _SUBMIT else None
        extra = None
        if action == _FIRE:
            counted = tables.counted_at.get(spec.index, -1)
            renewed_dates = tuple(tables.renewed_dates.get(spec.index, ()))
            renewed = tuple(tables.renewed_by.get(spec.index, ()))
            if spec.requires_when or spec.min_times or counted >= 0 or renewed_dates or renewed:
                extra = _Extra(
                    spec.requires_when,
                    spec.min_times,
                    counted,
                    tables.count_caps[counted] if counted >= 0 else 0,
                    renewed_dates,
                    renewed,
                )
                moved += tuple((DATE, d) for d in renewed_dates)  # set again: moved too
        return _Plan(
            spec.roleset,
            spec.quorum,
            spec.requires,
            window,
            parts or None,
            _shape(parts) if parts else None,
            action,
            spec.index,
            spec.dest,
            made_stale(moved),
            spec.name,
            extra,
            compiled.tables.watched.get(spec.name, ()) if action == _SUBMIT else (),
        )

    found = {
        "submit": (
            "deliverable",
            {
                state: {name: plan(spec, _SUBMIT, ()) for name, spec in steps.items()}
                for state, steps in compiled.tables.submit.items()
            },
        ),
        "fire": (
            "event",
            {
                state: {
                    name: plan(spec, _FIRE, ((EVENT, spec.index),)) for name, spec in steps.items()
                }
                for state, steps in compiled.tables.fire.items()
            },
        ),
        "schedule": (
            "date",
            {
                state: {
                    name: plan(spec, _SCHEDULE, ((DATE, spec.index),))
                    for name, spec in steps.items()
                }
                for state, steps in compiled.tables.schedule.items()
            },
        ),
    }
    _PLANS[compiled] = found
    return found


def _shape(parts: Mapping[str, Part]) -> _Shape:
    return tuple(
        (
            name,
            part.one_of,
            None
            if part.list_of is None
            else tuple((f, field.one_of, None) for f, field in part.list_of.items()),
        )
        for name, part in parts.items()
    )


def _complete(shape: _Shape, content: object) -> bool:
    """True only if :func:`check_content` would find nothing wrong: the common case, checked
    without building problem lists. False may still be complete (a number for a text part,
    say): the caller then asks :func:`check_content`."""
    if type(content) is not dict:
        return False
    for name, allowed, entries in shape:
        value = content.get(name)
        if entries is not None:
            if type(value) is not list or not value:
                return False
            for entry in value:
                if not _complete(entries, entry):
                    return False
        elif allowed is not None:
            if type(value) is bool or value not in allowed:
                return False
            if type(value) is str and not value.strip():
                return False
        elif type(value) is not str or not value.strip():
            return False
    return True


class FastFold:
    """One programme's state, unpacked; :meth:`run` applies events while they plainly conform."""

    __slots__ = (
        "blocked",
        "changed",
        "compiled",
        "counts",
        "days",
        "each",
        "events_count",
        "facts",
        "joins",
        "last_at",
        "marks",
        "owed",
        "people",
        "plans",
        "programme",
        "roles",
        "st",
        "state",
        "submitted",
        "version",
        "who",
        "width",
        "windows",
    )

    def __init__(self, compiled: CompiledDefinition, st: ProgrammeState) -> None:
        self.compiled = compiled
        self.plans = _plans(compiled)
        self.joins = _joins(compiled)
        self.width = len(compiled.deliverable_names)
        self.each = compiled.tables.each
        self.events_count = len(compiled.event_names)
        self.load(st)

    def load(self, st: ProgrammeState) -> None:
        """Start again from a state the engine made (after a fallback)."""
        self.st = st
        self.programme = st.programme
        self.state = st.state
        self.submitted = st.submitted
        self.marks = list(st.marks)
        self.counts = list(st.counts)
        self.facts = st.facts
        self.version = st.next_seq
        self.last_at = st.last_at
        self.roles = st.roles
        self.people = st.people
        self.who = {pid: (i, role) for i, (pid, role) in enumerate(st.members())}
        self.owed = layout(self.compiled, st).owed
        self.blocked = bool(st.waivers)  # waivers change what blocks: leave them to the engine
        self.days: dict[tuple[int, int], object] = {}
        self.windows: dict[_Bounds, tuple[datetime | None, datetime | None, bool]] = {}
        self.changed = False

    def state_now(self) -> ProgrammeState:
        """The unpacked parts as a state again (only when something changed)."""
        if self.changed:
            st = self.st
            self.st = ProgrammeState(
                st.definition,
                st.programme,
                self.state,
                self.version,
                st.started_at,
                self.last_at,
                st.timezone,
                st.country,
                self.people,
                self.roles,
                self.submitted,
                tuple(self.marks),
                st.waivers,
                st.claims,
                self.facts,
                tuple(self.counts),
            )
            self.changed = False
        return self.st

    def _day(self, ref: BoundRef) -> object:
        key = (ref.anchor_kind, ref.anchor_index)
        if key in self.days:
            return self.days[key]
        st = self.st
        day = anchor_day(
            ref.anchor_kind,
            ref.anchor_index,
            self.marks,
            self.events_count,
            st.started_at,
            st.timezone,
        )
        self.days[key] = day
        return day

    def _window(self, bounds: _Bounds) -> tuple[datetime | None, datetime | None, bool]:
        """``(opens_at, closes_at, known)`` of a window as the marks stand now; not known
        where the engine would refuse to work it out (a date outside the calendar)."""
        try:
            return self._window_instants(bounds)
        except EventError:
            return _CLOSED

    def _window_instants(self, bounds: _Bounds) -> tuple[datetime | None, datetime | None, bool]:
        compiled, st = self.compiled, self.st
        opens, closes, deadline = bounds.opens, bounds.closes, bounds.deadline
        opens_at = closes_at = None
        if opens is not None:
            day = self._day(opens)
            if type(day) is not date:
                return _CLOSED
            opens_at = instant(compiled, opens, day, st, closing=False)
        if closes is not None:
            day = self._day(closes)
            if day is UNSET:  # a blocker (the date is not scheduled): the engine says so
                return _CLOSED
            if day is not None:
                closes_at = instant(compiled, closes, day, st, closing=True)  # type: ignore[arg-type]
        deadline_ref = compiled.tables.deadline
        if deadline and deadline_ref is not None:
            day = self._day(deadline_ref)
            if type(day) is date:
                deadline_at = instant(compiled, deadline_ref, day, st, closing=True)
                closes_at, _ = earlier_close(closes_at, deadline_at)
        return opens_at, closes_at, True

    def _join(self, payload: Mapping[str, object], actor: str, role: str, state: str) -> bool:
        """Take a join that the engine would take without a blocker; False leaves it to the
        engine (a refusal, a blocker, anything odd). Mirrors ``check_envelope`` and the join
        handler: the role joins later, in this state, the participant is new and a valid id,
        the actor joins themselves (if the role allows) or is a member in their role that
        may add them, and the role is not at its maximum (waivers stop the fast path)."""
        name, pid = payload.get("role"), payload.get("participant")
        joining = self.joins.get(name) if type(name) is str else None
        who = self.who
        if joining is None or type(pid) is not str or pid in who or state not in joining.during:
            return False
        if id_problem(pid) is not None:
            return False
        if actor == pid:
            if not joining.by_self:
                return False
        else:
            member = who.get(actor)
            if member is None or member[1] != role or role not in joining.joined_by:
                return False
        if joining.most is not None and self.roles.count(joining.byte) >= joining.most:
            return False
        who[pid] = (len(who), name)  # type: ignore[assignment]
        self.roles += bytes((joining.byte,))
        self.people = pid if not self.people else self.people + ID_SEPARATOR + pid
        self.owed = layout_of(self.compiled, self.roles).owed
        return True

    def _read_facts(self, watched: tuple[tuple[int, str, int | str], ...], given: object) -> None:
        """The conditions a submission is read for, as the submit handler sets them."""
        facts = self.facts
        for i, part, equals in watched:
            value = given.get(part) if isinstance(given, Mapping) else None
            # 1 is not True and "1" is not 1
            if type(value) is type(equals) and value == equals:
                facts |= 1 << i
            else:
                facts &= ~(1 << i)
        self.facts = facts

    def _extra_met(self, extra: _Extra, submitted: int) -> bool:
        """A fire's conditional requirements and counted occurrences, as ``evaluate``."""
        if extra.requires_when:
            facts, owed_by, each = self.facts, self.owed, self.each
            for condition, d in extra.requires_when:
                if facts >> condition & 1 and missing_bits(owed_by[d], each[d], submitted):
                    return False
        counts = self.counts
        for position, _, least in extra.min_times:
            if (counts[position] if counts else 0) < least:
                return False
        return True

    def _fired(self, extra: _Extra, submitted: int) -> int:
        """What the fire handler does besides the move: dates to be set again, the count of
        occurrences, deliverables owed anew. Returns the submissions that still count."""
        marks, events = self.marks, self.events_count
        for d in extra.renewed_dates:
            marks[events + d] = None
        if extra.counted >= 0:
            counts = self.counts
            if not counts:
                counts = self.counts = [0] * len(self.compiled.counted_events)
            counts[extra.counted] = min(counts[extra.counted] + 1, extra.cap)
        if extra.renewed:
            width = self.width
            for p in range(len(self.roles)):
                for d in extra.renewed:
                    submitted &= ~(1 << (p * width + d))
        return submitted

    def _forget(self, stale: _Stale) -> None:
        days, windows = self.days, self.windows
        for key in stale.days:
            days.pop(key, None)
        for bounds in stale.windows:
            windows.pop(bounds, None)

    def _owed_all_in(self, requires: tuple[int, ...], submitted: int) -> bool:
        owed_by, each = self.owed, self.each
        for d in requires:  # noqa: SIM110 - a loop, not all(): no generator on the hot path
            if missing_bits(owed_by[d], each[d], submitted):
                return False
        return True

    def run(self, rows: Sequence[Row], start: int, states: list[str]) -> int:
        """Apply ``rows[start:]`` for as long as they plainly conform, adding to ``states``
        the state after each; returns the index of the first row that does not
        (``len(rows)`` if none).

        One call folds a whole run of events on local variables: a method call and a dozen
        attribute reads per event would cost as much as the checks themselves.
        """
        if self.blocked:  # waivers change what blocks: leave them to the engine
            return start
        plans, who, programme, marks, windows = (
            self.plans,
            self.who,
            self.programme,
            self.marks,
            self.windows,
        )
        window_of, add, width = self._window, states.append, self.width
        state, version, last_at, submitted = self.state, self.version, self.last_at, self.submitted
        i, end = start, len(rows)
        while i < end:
            row_programme, seq, _, at, role, actor, kind, payload = rows[i]
            if seq != version or row_programme != programme or at.tzinfo is None:
                break
            if at < last_at:
                break
            if kind == "join":  # a plain join: the engine's join handler, as it accepts one
                if not self._join(payload, actor, role, state):
                    break
                add(state)
                version += 1
                last_at = at
                i += 1
                continue
            member = who.get(actor)
            table = plans.get(kind)
            if member is None or member[1] != role or table is None:
                break
            name = payload.get(table[0])
            plan = table[1][state].get(name) if type(name) is str else None
            if plan is None:
                break
            (
                roleset,
                quorum,
                requires,
                bounds,
                parts,
                shape,
                action,
                index,
                dest,
                stale,
                step,
                extra,
                watched,
            ) = plan
            if role not in roleset:
                break
            if quorum and quorum_shortfalls(self.roles, quorum):
                break
            if requires and not self._owed_all_in(requires, submitted):
                break
            if extra is not None and not self._extra_met(extra, submitted):
                break
            if bounds is not None:
                window = windows.get(bounds)
                if window is None:
                    window = windows[bounds] = window_of(bounds)
                opens_at, closes_at, known = window
                if not known or (opens_at is not None and at < opens_at):
                    break
                if closes_at is not None and at >= closes_at:
                    break
            if action == _SUBMIT:
                if shape is not None:
                    content = payload.get("content")
                    if not _complete(shape, content) and check_content(step, parts, content):  # type: ignore[arg-type]
                        break
                submitted |= 1 << (member[0] * width + index)
                if watched:  # the latest submission decides each condition it is read for
                    self._read_facts(watched, payload.get("content"))
            elif action == _FIRE:
                marks[index] = at
                state = dest  # type: ignore[assignment]
                if extra is not None:
                    submitted = self._fired(extra, submitted)
                if stale is not None:  # windows counted from a day that moved: forget them
                    self._forget(stale)
            else:
                try:
                    day = scheduled_day(payload.get("value"))
                except ValueError:
                    break
                marks[self.events_count + index] = day
                if stale is not None:
                    self._forget(stale)
            add(state)
            version += 1
            last_at = at
            i += 1
        if i > start:
            self.state, self.version, self.last_at = state, version, last_at
            self.submitted = submitted
            self.changed = True
        return i
