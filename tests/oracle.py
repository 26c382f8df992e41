"""A reference interpreter of the definition language, for the property tests to compare with.

Written from docs/definition-language.md and docs/concepts.md, not from the engine: it imports
nothing of peerflow's evaluation (no compiled definition, no blocker classes, no calendar
code, no state). It reads the definition as plain data (the loaded model's fields), keeps a
programme as dictionaries and sets, works out windows with ``zoneinfo`` and the ``holidays``
package directly, and answers, for one step at one moment, what the documents say: not
available, or the set of blocker kinds that refuse it (empty: allowed).

It is deliberately naive (it recomputes everything on every question) so that it stays
short enough to read against the documents. Content is not interpreted: the property tests
send complete content, and the content rules have tests of their own.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays

# docs/concepts.md, "Waivers": what a waiver may lift
WAIVABLE = frozenset(
    {
        "missing_deliverable",
        "window_not_open",
        "window_closed",
        "date_not_scheduled",
        "too_few_participants",
        "too_few_occurrences",
    }
)
STEP_KINDS = ("fire", "submit", "schedule")


@cache
def _calendar(country: str, subdivision: str | None) -> Any:
    return holidays.country_holidays(country, subdiv=subdivision)


def _working(day: date, country: str, subdivision: str | None) -> bool:
    return bool(_calendar(country, subdivision).is_working_day(day))


def _add_months(day: date, months: int) -> date:
    """Calendar months, the day kept where the month has it, else the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def bound_day(bound: Any, anchor: date, country: str | None) -> date:
    """The day a bound names: 'after' counts forward from the anchor's day, 'before' back."""
    sign = 1 if bound.after is not None else -1
    if bound.working_days:
        where = bound.country or country
        assert where is not None
        day, left = anchor, bound.working_days
        while left:
            day += timedelta(days=sign)
            if _working(day, where, bound.subdivision):
                left -= 1
        return day
    moved = _add_months(anchor, sign * (12 * bound.years + bound.months))
    return moved + sign * timedelta(days=7 * bound.weeks + bound.days)


@dataclass
class Reference:
    """One programme as the documents describe it, with plain values."""

    type: Any  # the definition's model (plain data)
    started: datetime
    zone: str
    country: str | None
    state: str
    people: dict[str, str]  # participant id -> role, in the order they came
    submitted: dict[str, set[str]] = field(default_factory=dict)  # deliverable -> ids
    fired: dict[str, datetime] = field(default_factory=dict)  # event -> last time
    dates: dict[str, date] = field(default_factory=dict)
    waivers: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    said: dict[str, Any] = field(default_factory=dict)  # deliverable -> latest content
    times: dict[str, int] = field(default_factory=dict)  # event -> how often it fired

    @classmethod
    def start(cls, type_: Any, payload: dict[str, Any], at: datetime) -> Reference:
        return cls(
            type_,
            at,
            payload.get("timezone", type_.timezone),
            payload.get("country", type_.country),
            type_.initial,
            {p["id"]: p["role"] for p in payload["participants"]},
        )

    @classmethod
    def from_history(cls, type_: Any, history: Any) -> Reference:
        """The reference's own reading of an accepted history (it must accept every event)."""
        first, *rest = history
        ref = cls.start(type_, first.payload, first.at)
        for event in rest:
            assert ref.take(event.type, event.payload, event.actor.id, event.at), (
                f"the reference refuses event {event.seq} ({event.type} {event.payload})"
            )
        return ref

    # --- the definition, read as the language page says --------------------------

    def live(self) -> list[str]:
        return [n for n, s in self.type.states.items() if not s.terminal]

    def terminal(self) -> bool:
        return bool(self.type.states[self.state].terminal)

    def transition(self, event: str) -> Any | None:
        """The transition of ``event`` that leaves the current state ('*': every live one)."""
        for tr in self.type.transitions:
            if tr.event != event:
                continue
            sources = self.live() if "*" in tr.source else list(tr.source)
            if self.state in sources:
                return tr
        return None

    def owing(self, deliverable: str) -> list[str]:
        """Who still owes it: each participant of the owing roles, or all of them till one."""
        d = self.type.deliverables[deliverable]
        holders = [p for p, role in self.people.items() if role in d.owed_by]
        done = self.submitted.get(deliverable, set())
        if d.each:
            return [p for p in holders if p not in done]
        return [] if any(p in done for p in holders) else holders

    def local_day(self, moment: datetime) -> date:
        return moment.astimezone(ZoneInfo(self.zone)).date()

    def day_start(self, day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(self.zone))

    def anchor(self, bound: Any) -> date | str | None:
        """The anchor's day; 'unset' for a date nobody set; None for an event not yet fired."""
        name = bound.after if bound.after is not None else bound.before
        if name == "start":
            return self.local_day(self.started)
        if name in self.type.dates:
            return self.dates.get(name, "unset")
        moment = self.fired.get(name)
        return None if moment is None else self.local_day(moment)

    def deadline(self) -> datetime | None:
        bound = self.type.deadline
        if bound is None:
            return None
        day = self.anchor(bound)
        if not isinstance(day, date):
            return None
        return self.day_start(bound_day(bound, day, self.country) + timedelta(days=1))

    # --- one step ------------------------------------------------------------------

    def step(self, kind: str, name: str) -> tuple[tuple[str, ...], Any, bool, list[Any]] | None:
        """(roles, window, the deadline binds it, quorum) of an available step, else None."""
        if self.terminal():
            return None
        if kind == "fire":
            tr = self.transition(name)
            if tr is None:
                return None
            return tr.by, tr.window, tr.deadline_applies, self.quorum(tr)
        if kind == "submit":
            d = self.type.deliverables.get(name)
            if d is None or self.state not in (d.during or self.live()):
                return None
            return d.owed_by, d.window, True, []
        sd = self.type.dates.get(name)
        if sd is None or self.state not in (sd.during or self.live()):
            return None
        return sd.set_by, None, False, []

    def quorum(self, tr: Any) -> list[tuple[str, Any]]:
        """Roles whose joining stage this transition leaves for a live state."""
        out = []
        for name, role in self.type.roles.items():
            if not role.joined_by or role.min == 0:
                continue
            stage = role.join_during or self.live()
            if self.state in stage and tr.dest not in stage and tr.dest in self.live():
                out.append((name, role))
        return out

    def verdict(
        self, kind: str, name: str, actor: str, role: str, at: datetime
    ) -> frozenset[str] | None:
        """None: no such step now; else the kinds of blocker that refuse it (empty: allowed)."""
        found = self.step(kind, name)
        if found is None:
            return None
        roles, window, deadline_binds, quorum = found
        blockers: set[str] = set()
        unwaivable: set[str] = set()
        if role not in roles:
            blockers.add("role")
        for role_name, role_def in quorum:
            if list(self.people.values()).count(role_name) < role_def.min:
                blockers.add("too_few_participants")
                if not role_def.min_waivable:
                    unwaivable.add("too_few_participants")
        if kind == "fire":
            for required in self.transition(name).requires:
                if self.owing(required):
                    blockers.add("missing_deliverable")
            # "min_times": events that must have fired at least so many times
            for event, least in self.transition(name).min_times.items():
                if self.times.get(event, 0) < least:
                    blockers.add("too_few_occurrences")
            # "requires_when": needed while the latest submission of `when` says so
            for conditional in self.transition(name).requires_when:
                when = conditional.when
                said = self.said.get(when.deliverable)
                value = said.get(when.part) if isinstance(said, dict) else None
                holds = type(value) is type(when.equals) and value == when.equals
                if holds and self.owing(conditional.deliverable):
                    blockers.add("missing_deliverable")
        closes_at: datetime | None = None
        if window is not None and window.opens is not None:
            day = self.anchor(window.opens)
            if day == "unset":
                blockers.add("date_not_scheduled")
            elif day is None:
                blockers.add("window_not_open")  # counts from an event that has not happened
            elif at < self.day_start(bound_day(window.opens, day, self.country)):
                blockers.add("window_not_open")
        if window is not None and window.closes is not None:
            day = self.anchor(window.closes)
            if day == "unset":
                blockers.add("date_not_scheduled")
            elif isinstance(day, date):
                last = bound_day(window.closes, day, self.country)
                closes_at = self.day_start(last + timedelta(days=1))
        deadline = self.deadline() if deadline_binds else None
        if deadline is not None and (closes_at is None or deadline < closes_at):
            closes_at = deadline
        if closes_at is not None and at >= closes_at:
            blockers.add("window_closed")
        liftable = {b for b in blockers if b in WAIVABLE and b not in unwaivable}
        return frozenset(
            b for b in blockers if not (b in liftable and self.waived(kind, name, b, actor))
        )

    def waived(self, kind: str, name: str, blocker: str, actor: str) -> bool:
        return any(
            (k, n, b) == (kind, name, blocker) and (p is None or p == actor)
            for k, n, b, p in self.waivers
        )

    # --- taking events -------------------------------------------------------------

    def take(self, type_: str, payload: dict[str, Any], actor: str, at: datetime) -> bool:
        """Apply an event if the documents allow it; say whether they did."""
        role = self.people.get(actor)
        if type_ == "join":
            return self.join(payload, actor, role)
        if role is None:
            return False
        if type_ in ("claim", "pay"):
            return True  # the budget has tests of its own; claims move no state here
        if type_ == "waive":
            return self.waive(payload, actor, role)
        key = {"fire": "event", "submit": "deliverable", "schedule": "date"}[type_]
        name = payload[key]
        if self.verdict(type_, name, actor, role, at) != frozenset():
            return False
        if type_ == "fire":
            self.state = self.transition(name).dest
            self.fired[name] = at
            self.times[name] = self.times.get(name, 0) + 1
            # "renewed_by": owed (or to be set) anew after each occurrence of the event
            for deliverable, spec in self.type.deliverables.items():
                if spec.renewed_by == name:
                    self.submitted.pop(deliverable, None)
            for date_name, spec in self.type.dates.items():
                if spec.renewed_by == name:
                    self.dates.pop(date_name, None)
            self.waivers = []  # "Waivers end when the programme changes state"
        elif type_ == "submit":
            self.submitted.setdefault(name, set()).add(actor)
            self.said[name] = payload.get("content")
            # "a participant's submission waiver ends with that participant's submission"
            self.waivers = [w for w in self.waivers if w[:2] != ("submit", name) or w[3] != actor]
        else:
            self.dates[name] = date.fromisoformat(payload["value"])
        return True

    def waive(self, payload: dict[str, Any], actor: str, role: str) -> bool:
        if role not in self.type.waivable_by:
            return False
        kind, name = payload["step"]["kind"], payload["step"]["name"]
        if kind == "join":  # one more join past a role's max, where the role says max_waivable
            joining = self.type.roles.get(name)
            if (
                joining is None
                or not joining.max_waivable
                or payload["blockers"] != ["participant_limit"]
            ):
                return False
            self.waivers.append(("join", name, "participant_limit", None))
            return True
        if "participant_limit" in payload["blockers"]:
            return False
        found = self.step(kind, name)
        if found is None or not all(b in WAIVABLE for b in payload["blockers"]):
            return False
        quorum = found[3]
        if (
            "too_few_participants" in payload["blockers"]
            and quorum
            and all(not r.min_waivable for _, r in quorum)
        ):
            return False  # "no waiver lifts it, and a waive event for it is refused"
        participant = payload.get("participant")
        self.waivers += [(kind, name, b, participant) for b in payload["blockers"]]
        return True

    def join(self, payload: dict[str, Any], actor: str, role: str | None) -> bool:
        pid, role_name = payload["participant"], payload["role"]
        joining = self.type.roles.get(role_name)
        if joining is None or not joining.joined_by or pid in self.people:
            return False
        if self.terminal() or self.state not in (joining.join_during or self.live()):
            return False
        if pid == actor:
            if "self" not in joining.joined_by:
                return False
        elif role is None or role not in joining.joined_by:
            return False
        if joining.max is not None and list(self.people.values()).count(role_name) >= joining.max:
            # "max_waivable": a waiver lets one more join past the maximum
            waiver = ("join", role_name, "participant_limit", None)
            if not joining.max_waivable or waiver not in self.waivers:
                return False
            self.waivers.remove(waiver)
        self.people[pid] = role_name
        return True
