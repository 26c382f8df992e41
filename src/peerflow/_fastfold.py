"""The replay's fast path: conforming fire/submit/schedule events folded on local variables.

Most events of a real history conform. For those, the replay need not build a
``ProgrammeState`` per event nor collect blockers it will not find: it keeps the state's parts
in local variables and checks the event against the compiled step tables (role, required
deliverables as bitmasks, window instants from the cached boundaries). The moment any check
does not pass, or the event is of a rarer kind (waivers, joins, claims, payments, structured
content), it hands back to :meth:`CompiledDefinition.audit`, which decides and explains.
So the fast path only ever says "conforms, applied"; every deviation comes from the engine.
"""

from __future__ import annotations

from datetime import date, datetime

from peerflow._calendar import local_date
from peerflow._engine import _DATE, _START, CompiledDefinition, _BoundRef, _StepSpec
from peerflow._events import Event
from peerflow._state import ProgrammeState

_NOT_SET = object()  # an anchor date nobody scheduled: a blocker, so not for the fast path


class FastFold:
    """One programme's state, unpacked; :meth:`take` applies an event if it plainly conforms."""

    def __init__(self, compiled: CompiledDefinition, st: ProgrammeState) -> None:
        self.compiled = compiled
        self.fire = compiled._fire
        self.submit = compiled._submit
        self.schedule = compiled._schedule
        self.width = len(compiled.deliverable_names)
        self.events_count = len(compiled.event_names)
        self.structured = frozenset(
            name for name, d in compiled.type.deliverables.items() if d.content
        )
        self.load(st)

    def load(self, st: ProgrammeState) -> None:
        """Start again from a state the engine made (after a fallback)."""
        self.st = st
        self.state = st.state
        self.submitted = st.submitted
        self.marks = list(st.marks)
        self.version = st.version
        self.last_at = st.last_at
        self.who = {pid: (i, role) for i, (pid, role) in enumerate(st.members())}
        self.layout = self.compiled.layout(st)
        self.blocked = bool(st.waivers)  # waivers change what blocks: leave them to the engine
        self.days: dict[tuple[int, int], object] = {}
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
                st.people,
                st.roles,
                self.submitted,
                tuple(self.marks),
                st.waivers,
                st.claims,
            )
            self.changed = False
        return self.st

    def _day(self, ref: _BoundRef) -> object:
        key = (ref.anchor_kind, ref.anchor_index)
        if key in self.days:
            return self.days[key]
        st = self.st
        day: object
        if ref.anchor_kind == _START:
            day = local_date(st.started_at, st.timezone)
        elif ref.anchor_kind == _DATE:
            value = self.marks[self.events_count + ref.anchor_index]
            day = _NOT_SET if value is None else value
        else:
            moment = self.marks[ref.anchor_index]
            day = None if moment is None else local_date(moment, st.timezone)  # type: ignore[arg-type]
        self.days[key] = day
        return day

    def _in_window(self, spec: _StepSpec, at: datetime) -> bool:
        compiled, st = self.compiled, self.st
        ref = spec.opens
        if ref is not None:
            day = self._day(ref)
            if type(day) is not date or at < compiled._instant(ref, day, st, closing=False):
                return False
        closes_at = None
        ref = spec.closes
        if ref is not None:
            day = self._day(ref)
            if day is _NOT_SET:
                return False
            if day is not None:
                closes_at = compiled._instant(ref, day, st, closing=True)  # type: ignore[arg-type]
        deadline_ref = compiled._deadline
        if spec.deadline and deadline_ref is not None:
            day = self._day(deadline_ref)
            if type(day) is date:
                deadline = compiled._instant(deadline_ref, day, st, closing=True)
                if closes_at is None or deadline < closes_at:
                    closes_at = deadline
        return closes_at is None or at < closes_at

    def _allowed(self, spec: _StepSpec, event: Event, role: str) -> bool:
        if role not in spec.roleset or spec.quorum:
            return False
        submitted, owed_by = self.submitted, self.layout.owed
        each = self.compiled._each
        for d in spec.requires:
            owed = owed_by[d]
            if (owed & ~submitted) if each[d] else (owed and not owed & submitted):
                return False
        return self._in_window(spec, event.at)

    def take(self, event: Event) -> bool:
        """Apply ``event`` if it plainly conforms; False leaves everything as it was."""
        if self.blocked or event.seq != self.version or event.programme != self.st.programme:
            return False
        at = event.at
        if at.tzinfo is None or at < self.last_at:
            return False
        member = self.who.get(event.actor.id)
        if member is None or member[1] != event.actor.role:
            return False
        kind, payload = event.type, event.payload
        if kind == "fire":
            spec = self.fire[self.state].get(payload.get("event"))  # type: ignore[arg-type]
            if spec is None or not self._allowed(spec, event, member[1]):
                return False
            self.marks[spec.index] = at
            self.state = spec.dest  # type: ignore[assignment]
            self.days.clear()
        elif kind == "submit":
            name = payload.get("deliverable")
            spec = self.submit[self.state].get(name)  # type: ignore[arg-type]
            if spec is None or name in self.structured or not self._allowed(spec, event, member[1]):
                return False
            self.submitted |= 1 << (member[0] * self.width + spec.index)
        elif kind == "schedule":
            spec = self.schedule[self.state].get(payload.get("date"))  # type: ignore[arg-type]
            value = payload.get("value")
            if spec is None or not isinstance(value, str) or member[1] not in spec.roleset:
                return False
            try:
                day = date.fromisoformat(value)
            except ValueError:
                return False
            if not self._allowed(spec, event, member[1]):
                return False
            self.marks[self.events_count + spec.index] = day
            self.days.clear()
        else:
            return False
        self.version += 1
        self.last_at = at
        self.changed = True
        return True
