"""Synthetic histories for benchmarks and tests: mostly conforming, some with one known deviation.

Each programme is walked with the strict engine: only steps ``next_steps`` lists as allowed,
at moments inside their windows, so a conforming programme has no deviation by construction.
A given share of programmes gets exactly one injected deviation of a chosen kind; before it is
written, the engine's own audit confirms that the event deviates in that way and no other.
The same seed gives the same histories.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import attrs

from peerflow._errors import EventError, StepNotAvailable
from peerflow.checking._explorer import split_cast
from peerflow.engine._compiled import CompiledDefinition
from peerflow.engine._content import complete_content
from peerflow.engine._participation import join_moves
from peerflow.engine._steps import FIRE, SCHEDULE, SUBMIT, Step
from peerflow.events._envelope import Actor, Event
from peerflow.replay._audit import DEVIATION_KINDS

__all__ = ["INJECTABLE", "Injected", "Synthetic", "generate"]

INJECTABLE = tuple(
    kind
    for kind in DEVIATION_KINDS
    if kind
    not in {
        "missing_receipts",
        "date_not_scheduled",
        "participant_limit",
        "too_few_occurrences",
        "invalid",
    }
)
"""The deviation kinds the generator can inject."""

_MAX_EVENTS = 80


@attrs.frozen
class Injected:
    """A deviation the generator put in: programme, the event's ``seq``, and its kind."""

    programme: str
    seq: int
    kind: str


@attrs.frozen
class Synthetic:
    """Generated histories (every programme's events, programme by programme) and the truth."""

    events: tuple[Event, ...]
    injected: tuple[Injected, ...]
    programmes: tuple[str, ...]

    def lines(self) -> list[str]:
        return [e.to_line() for e in self.events]


class _Walk:
    """One programme being generated."""

    def __init__(
        self,
        d: CompiledDefinition,
        programme: str,
        rng: random.Random,
        start: datetime,
        short: str | None = None,
    ):
        """``short`` names a role that joins later to start one participant short of its
        minimum, so the step that needs them all can be taken too early."""
        self.d, self.rng, self.programme = d, rng, programme
        t = d.type
        self.cast: list[Actor] = []
        for name, role in t.roles.items():
            count = max(role.min, 1)
            if role.max is not None:
                count = min(count, role.max)
            count += rng.random() < 0.3 and (role.max is None or count < role.max)
            if name == short:
                count = role.min - 1
            self.cast.extend(Actor(name, f"{programme}-{name}-{i + 1}") for i in range(count))
        self.cast = [a for a in self.cast if t.roles[a.role].max != 0]
        starter, listed, self.joiners = split_cast(d, tuple(self.cast))
        first = Event(
            programme,
            0,
            f"{programme}-0",
            start,
            starter,
            "start",
            {
                "definition": d.id,
                "version": d.version,
                "participants": [{"id": a.id, "role": a.role} for a in listed],
            },
        )
        self.st = d.start(first)
        self.zone = ZoneInfo(self.st.timezone)
        self.events = [first]
        self.at = start
        self.escapes = {
            tr.event for tr in t.transitions if t.states[tr.dest].terminal and not tr.requires
        }

    def later(self, moment: datetime, delta: timedelta) -> datetime:
        """``delta`` of real time after ``moment``, on the programme's local clock.

        Adding to a zone-aware datetime moves the wall clock, which can land in a DST gap;
        counting in UTC cannot.
        """
        return (moment.astimezone(UTC) + delta).astimezone(self.zone)

    def event(self, actor: Actor, kind: str, payload: dict[str, object], at: datetime) -> Event:
        seq = self.st.next_seq
        return Event(self.programme, seq, f"{self.programme}-{seq}", at, actor, kind, payload)

    def record(self, event: Event, strict: bool = True) -> None:
        self.st = self.d.apply(self.st, event) if strict else self.d.audit(self.st, event)[0]
        self.events.append(event)
        self.at = event.at

    def payload(self, step: Step, at: datetime) -> dict[str, object]:
        if step.kind == FIRE:
            return {"event": step.name}
        if step.kind == SUBMIT:
            payload: dict[str, object] = {"deliverable": step.name}
            content = complete_content(self.d, step.name)
            if content is not None:
                payload["content"] = content
            return payload
        day = at.astimezone(ZoneInfo(self.st.timezone)).date()
        return {
            "date": step.name,
            "value": (day + timedelta(days=self.rng.randint(28, 56))).isoformat(),
        }

    @property
    def members(self) -> list[Actor]:
        """The cast's participants who have joined so far."""
        return [a for a in self.cast if self.st.index_of(a.id) is not None]

    def join_all(self, at: datetime) -> None:
        """Whoever of the cast may join now joins (each role's participants in turn)."""
        while moves := join_moves(self.d, self.st, self.joiners):
            actor, newcomer = moves[0]
            payload: dict[str, object] = {"participant": newcomer.id, "role": newcomer.role}
            self.record(self.event(actor, "join", payload, at))

    def allowed(self, at: datetime, reschedule: bool = False) -> list[tuple[Actor, Step]]:
        out = []
        for actor in self.members:
            for step in self.d.next_steps(self.st, at, actor):
                if not step.allowed or step.name in self.escapes:
                    continue
                # Each deliverable once from whoever owes it, each date set once.
                if step.kind == SUBMIT and actor.id not in step.owed_by:
                    continue
                if step.kind == SCHEDULE and self.st.scheduled_date(step.name) and not reschedule:
                    continue
                out.append((actor, step))
        return out

    def conforming_step(self) -> bool:
        """Take one allowed step, letting time pass a little; False when none can be taken."""
        if self.st.terminal or len(self.events) >= _MAX_EVENTS:
            return False
        self.join_all(self.at)
        later = self.later(self.at, timedelta(minutes=self.rng.randint(30, 36 * 60)))
        options = self.allowed(later)
        at = later
        if not options:
            options, at = self.allowed(self.at), self.at
        if not options:
            openings = [
                s.opens_at
                for s in self.d.next_steps(self.st, self.at)
                if s.opens_at and s.opens_at > self.at
            ]
            if openings:
                at = self.later(min(openings), timedelta(hours=self.rng.randint(1, 8)))
                options = self.allowed(at)
            else:  # a date passed before its step was taken: set it again
                at = self.at
                options = [o for o in self.allowed(at, reschedule=True) if o[1].kind == SCHEDULE]
            if not options:
                return False
        # Submissions and dates first, then a move on: a walk that fires at random leaves
        # deliverables behind and stalls.
        pending = [o for o in options if o[1].kind != FIRE]
        pool = pending if pending and self.rng.random() < 0.8 else options
        actor, step = self.rng.choice(sorted(pool, key=lambda o: (o[1].kind, o[1].name, o[0].id)))
        self.record(self.event(actor, step.kind, self.payload(step, at), at))
        return True

    # --- deviations ------------------------------------------------------------------

    def inject(self, kind: str) -> int | None:
        """Write one event deviating as ``kind`` from here, if one can; its seq, or None."""
        maker: Callable[[], list[Event] | None] = getattr(self, f"_{kind}")
        events = maker()
        if not events:
            return None
        *before, last = events
        for event in before:
            self.record(event)
        if kind in ("impossible", "unknown_event"):
            self.record_skipped(last)
        else:
            self.record(last, strict=False)
        return events[0].seq if kind == "waived" else last.seq

    def _only(self, event: Event, kind: str) -> bool:
        """The engine's audit agrees: this event deviates by exactly one blocker of ``kind``."""
        try:
            _, blockers = self.d.audit(self.st, event)
        except EventError:
            return False
        return [b.kind for b in blockers] == [kind]

    def _candidates(self, at: datetime) -> list[tuple[Actor, Step]]:
        return [
            (actor, step)
            for actor in self.members
            for step in self.d.next_steps(self.st, at, actor)
            if step.kind in (FIRE, SUBMIT) and step.name not in self.escapes
        ]

    def _late(self) -> list[Event] | None:
        for actor, step in self._candidates(self.at):
            if step.allowed and step.closes_at is not None:
                at = self.later(step.closes_at, timedelta(days=self.rng.randint(1, 6), hours=2))
                event = self.event(actor, step.kind, self.payload(step, at), at)
                if self._only(event, "window_closed"):
                    return [event]
        return None

    def _early(self) -> list[Event] | None:
        for actor, step in self._candidates(self.at):
            if step.opens_at is not None and step.opens_at > self.at:
                event = self.event(actor, step.kind, self.payload(step, self.at), self.at)
                if self._only(event, "window_not_open"):
                    return [event]
        return None

    def _missing_deliverable(self) -> list[Event] | None:
        return self._fire_blocked_only_by("missing_deliverable")

    def _fire_blocked_only_by(self, kind: str) -> list[Event] | None:
        """Fire a step whose one blocker is of ``kind``."""
        for actor, step in self._candidates(self.at):
            if step.kind == FIRE and [b.kind for b in step.blockers] == [kind]:
                event = self.event(actor, FIRE, {"event": step.name}, self.at)
                if self._only(event, kind):
                    return [event]
        return None

    def _wrong_role(self) -> list[Event] | None:
        for _, step in self._candidates(self.at):
            if not step.allowed:
                continue
            for other in self.members:
                if other.role not in step.roles:
                    event = self.event(other, step.kind, self.payload(step, self.at), self.at)
                    if self._only(event, "role"):
                        return [event]
        return None

    def _waived(self) -> list[Event] | None:
        waiver_actor = next((a for a in self.cast if a.role in self.d.type.waivable_by), None)
        if waiver_actor is None:
            return None
        for actor, step in self._candidates(self.at):
            kinds = [b.kind for b in step.blockers]
            if kinds == ["missing_deliverable"] and actor.role in step.roles:
                waive = self.event(
                    waiver_actor,
                    "waive",
                    {
                        "step": {"kind": step.kind, "name": step.name},
                        "blockers": kinds,
                        "reason": "synthetic: agreed with the programme office",
                    },
                    self.at,
                )
                after = self.d.apply(self.st, waive)
                seq = after.next_seq
                then = Event(
                    self.programme,
                    seq,
                    f"{self.programme}-{seq}",
                    self.at,
                    actor,
                    step.kind,
                    self.payload(step, self.at),
                )
                try:
                    self.d.apply(after, then)
                except EventError:
                    continue
                return [waive, then]
        return None

    def _over_budget(self) -> list[Event] | None:
        budget = self.d.type.budget
        if budget is None or (budget.claims_during and self.st.state not in budget.claims_during):
            return None
        for actor in self.cast:
            role_budget = budget.roles.get(actor.role)
            if role_budget is None:
                continue
            for name, item in sorted(role_budget.items.items()):
                limit = item.cap if item.cap is not None else None
                if limit is None and item.per_day is not None:
                    limit = item.per_day
                if limit is None and item.per_night is not None:
                    limit = item.per_night
                if limit is None:
                    continue
                entry: dict[str, object] = {
                    "item": name,
                    "amount": str(limit + 25),
                    "receipts": ["receipt-1"],
                }
                if item.per_day is not None:
                    entry["days"] = 1
                if item.per_night is not None:
                    entry["nights"] = 1
                payload: dict[str, object] = {
                    "claim": f"claim-{self.st.next_seq}",
                    "items": [entry],
                }
                if budget.bank_details_required:
                    payload["bank_details"] = f"XX00 {actor.id}"
                event = self.event(actor, "claim", payload, self.at)
                if self._only(event, "over_budget"):
                    return [event]
        return None

    def _incomplete_content(self) -> list[Event] | None:
        for actor, step in self._candidates(self.at):
            if step.kind != SUBMIT or not step.allowed or actor.id not in step.owed_by:
                continue
            payload = self.payload(step, self.at)
            content = payload.get("content")
            if isinstance(content, dict) and content:
                dropped = sorted(content)[self.rng.randrange(len(content))]
                payload["content"] = {k: v for k, v in content.items() if k != dropped}
                event = self.event(actor, SUBMIT, payload, self.at)
                if self._only(event, "incomplete_content"):
                    return [event]
        return None

    def _too_few_participants(self) -> list[Event] | None:
        return self._fire_blocked_only_by("too_few_participants")

    def _impossible(self) -> list[Event] | None:
        offered = {s.name for s in self.d.next_steps(self.st, self.at) if s.kind == FIRE}
        for name in self.d.event_names:
            if name not in offered:
                event = self.event(self.cast[0], FIRE, {"event": name}, self.at)
                try:
                    self.d.audit(self.st, event)
                except StepNotAvailable:
                    return [event]
                except EventError:
                    continue
        return None

    def _unknown_event(self) -> list[Event] | None:
        return [self.event(self.cast[0], FIRE, {"event": "no_such_step"}, self.at)]

    def record_skipped(self, event: Event) -> None:
        self.events.append(event)
        self.st = attrs.evolve(self.st, next_seq=self.st.next_seq + 1, last_at=event.at)
        self.at = event.at


def generate(
    definition: CompiledDefinition,
    count: int,
    *,
    seed: int = 0,
    deviation_share: float = 0.2,
    kinds: Sequence[str] = INJECTABLE,
    start: datetime | None = None,
    prefix: str | None = None,
) -> Synthetic:
    """``count`` programmes of ``definition``; about ``deviation_share`` of them with one deviation.

    Deviant programmes take the kinds in turn; a kind the definition cannot show (no budget
    for ``over_budget``) or that never fits the walk leaves that programme conforming.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be a whole number 0 or more, got {count!r}")
    if not 0 <= deviation_share <= 1:
        raise ValueError(f"deviation_share must be between 0 and 1, got {deviation_share!r}")
    unknown = set(kinds) - set(INJECTABLE)
    if unknown:
        raise ValueError(f"cannot inject {sorted(unknown)} (injectable: {', '.join(INJECTABLE)})")
    rng = random.Random(f"{definition.id}:{seed}")
    first = start or datetime(2027, 1, 11, 9, tzinfo=ZoneInfo(definition.type.timezone))
    name = prefix or definition.id
    t = definition.type
    short_role = next((r for r, role in t.roles.items() if role.joins_later and role.min > 0), None)
    events: list[Event] = []
    injected: list[Injected] = []
    programmes: list[str] = []
    deviant = 0
    for i in range(count):
        programme = f"{name}-{seed}-{i:06d}"
        started = first + timedelta(days=rng.randint(0, 700))
        kind = None
        if kinds and rng.random() < deviation_share:
            kind = kinds[deviant % len(kinds)]
            deviant += 1
        short = short_role if kind == "too_few_participants" else None
        walk = _Walk(definition, programme, rng, started, short)
        steps_before = rng.randint(1, 12)
        taken = 0
        while True:
            if kind is not None and taken >= steps_before:
                seq = walk.inject(kind)
                if seq is not None:
                    injected.append(Injected(programme, seq, kind))
                    kind = None
            if walk.conforming_step():
                taken += 1
            elif kind is not None and taken < steps_before:
                steps_before = taken  # stuck before the deviation: try it here
            else:
                break
        events.extend(walk.events)
        programmes.append(programme)
    return Synthetic(tuple(events), tuple(injected), tuple(programmes))
