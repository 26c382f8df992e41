"""The replay's fast path: conforming fire/submit/schedule events folded on local variables.

Most events of a real history conform. For those, the replay need not build a
``ProgrammeState`` or an ``Event`` per event nor collect blockers it will not find: it keeps
the state's parts in local variables and checks the event (a plain tuple, a
:data:`~peerflow._events.Row`) against the compiled step tables: role, quorum, required
deliverables as bitmasks, structured content, and window instants worked out once per state.
The moment any check does not pass, or the event is of a rarer kind (waivers, joins, claims,
payments), :meth:`FastFold.run` stops and hands the event to :meth:`CompiledDefinition.audit`,
which decides and explains.
So the fast path only ever says "conforms, applied"; every deviation comes from the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from peerflow._calendar import local_date
from peerflow._content import check_content
from peerflow._engine import _DATE, _EVENT, _START, CompiledDefinition, _BoundRef, _StepSpec
from peerflow._events import Row
from peerflow._state import ProgrammeState

_NOT_SET = object()  # an anchor date nobody scheduled: a blocker, so not for the fast path
_CLOSED = (None, None, False)  # a window the fast path cannot vouch for


class FastFold:
    """One programme's state, unpacked; :meth:`run` applies events while they plainly conform."""

    def __init__(self, compiled: CompiledDefinition, st: ProgrammeState) -> None:
        self.compiled = compiled
        self.fire = compiled._fire
        self.submit = compiled._submit
        self.schedule = compiled._schedule
        self.width = len(compiled.deliverable_names)
        self.each = compiled._each
        self.events_count = len(compiled.event_names)
        self.parts = compiled._content_parts
        self.load(st)

    def load(self, st: ProgrammeState) -> None:
        """Start again from a state the engine made (after a fallback)."""
        self.st = st
        self.programme = st.programme
        self.state = st.state
        self.submitted = st.submitted
        self.marks = list(st.marks)
        self.version = st.version
        self.last_at = st.last_at
        self.roles = st.roles
        self.who = {pid: (i, role) for i, (pid, role) in enumerate(st.members())}
        self.layout = self.compiled.layout(st)
        self.blocked = bool(st.waivers)  # waivers change what blocks: leave them to the engine
        self.days: dict[tuple[int, int], object] = {}
        self.windows: dict[int, tuple[datetime | None, datetime | None, bool]] = {}
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

    def _window(self, spec: _StepSpec) -> tuple[datetime | None, datetime | None, bool]:
        """``(opens_at, closes_at, known)`` of a step's window as the marks stand now."""
        compiled, st = self.compiled, self.st
        opens_at = closes_at = None
        ref = spec.opens
        if ref is not None:
            day = self._day(ref)
            if type(day) is not date:
                return _CLOSED
            opens_at = compiled._instant(ref, day, st, closing=False)
        ref = spec.closes
        if ref is not None:
            day = self._day(ref)
            if day is _NOT_SET:
                return _CLOSED
            if day is not None:
                closes_at = compiled._instant(ref, day, st, closing=True)  # type: ignore[arg-type]
        deadline_ref = compiled._deadline
        if spec.deadline and deadline_ref is not None:
            day = self._day(deadline_ref)
            if type(day) is date:
                deadline = compiled._instant(deadline_ref, day, st, closing=True)
                if closes_at is None or deadline < closes_at:
                    closes_at = deadline
        return opens_at, closes_at, True

    def _quorum(self, spec: _StepSpec) -> bool:
        return all(self.roles.count(index) >= least for index, _, least in spec.quorum)

    def _owed_all_in(self, spec: _StepSpec, submitted: int) -> bool:
        owed_by, each = self.layout.owed, self.each
        for d in spec.requires:
            owed = owed_by[d]
            if (owed & ~submitted) if each[d] else (owed and not owed & submitted):
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
        tables = {"fire": ("event", self.fire), "submit": ("deliverable", self.submit)}
        tables["schedule"] = ("date", self.schedule)
        who, programme, marks, windows = self.who, self.programme, self.marks, self.windows
        window_of, parts_of, add = self._window, self.parts, states.append
        state, version, last_at, submitted = self.state, self.version, self.last_at, self.submitted
        i, end = start, len(rows)
        while i < end:
            row = rows[i]
            row_programme, seq, _, at, role, actor, kind, payload = row
            if seq != version or row_programme != programme or at.tzinfo is None:
                break
            if at < last_at:
                break
            member = who.get(actor)
            table = tables.get(kind)
            if member is None or member[1] != role or table is None:
                break
            name = payload.get(table[0])
            spec = table[1][state].get(name) if type(name) is str else None
            if spec is None or role not in spec.roleset:
                break
            if spec.quorum and not self._quorum(spec):
                break
            if spec.requires and not self._owed_all_in(spec, submitted):
                break
            window = windows.get(id(spec))
            if window is None:
                window = windows[id(spec)] = window_of(spec)
            opens_at, closes_at, known = window
            if not known or (opens_at is not None and at < opens_at):
                break
            if closes_at is not None and at >= closes_at:
                break
            if kind == "submit":
                parts = parts_of.get(spec.name)
                if parts and check_content(spec.name, parts, payload.get("content")) is not None:
                    break
                submitted |= 1 << (member[0] * self.width + spec.index)
            elif kind == "fire":
                marks[spec.index] = at
                state = spec.dest  # type: ignore[assignment]
                self.days.pop((_EVENT, spec.index), None)  # the one anchor day that moved
                windows.clear()
            else:
                value = payload.get("value")
                try:
                    day = date.fromisoformat(value) if type(value) is str else None
                except ValueError:
                    day = None
                if day is None:
                    break
                marks[self.events_count + spec.index] = day
                self.days.pop((_DATE, spec.index), None)
                windows.clear()
            add(state)
            version += 1
            last_at = at
            i += 1
        if i > start:
            self.state, self.version, self.last_at = state, version, last_at
            self.submitted = submitted
            self.changed = True
        return i
