"""The embedding API: a live programme that records events strictly.

A :class:`Programme` is the state plus the history that made it. Each method
builds the next event of the envelope, applies it with the strict engine and
keeps it only if it was accepted, so a refused step leaves both unchanged.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from peerflow._errors import EventError
from peerflow.engine._commands import (
    claim_payload,
    fire_payload,
    join_payload,
    pay_payload,
    schedule_payload,
    submit_payload,
    waive_payload,
)
from peerflow.engine._compiled import CompiledDefinition
from peerflow.engine._forecast import (
    DEFAULT_MAX_NODES,
    DEFAULT_SCHEDULE_DAYS,
    Forecast,
)
from peerflow.engine._payloads import require_json, start_event
from peerflow.engine._registry import definition_of
from peerflow.engine._state import ProgrammeState
from peerflow.engine._steps import Deadline, Step
from peerflow.events._envelope import Actor, Event


def fold(events: Iterable[Event], definition: CompiledDefinition | None = None) -> ProgrammeState:
    """A programme's state from its history; the definition defaults to the one it names."""
    events = list(events)
    if not events:
        raise EventError("the history is empty: it must begin with a 'start' event")
    compiled = definition if definition is not None else definition_of(events[0])
    return compiled.fold(events)


class Programme:
    """A programme being run: records steps, refuses what is not allowed."""

    def __init__(self, state: ProgrammeState, history: Sequence[Event]) -> None:
        self.state = state
        self.history: list[Event] = list(history)

    @property
    def definition(self) -> CompiledDefinition:
        return self.state.definition

    @classmethod
    def start(
        cls,
        definition: CompiledDefinition,
        programme: str,
        *,
        at: datetime,
        actor: Actor,
        participants: Iterable[tuple[str, str]] | Iterable[Mapping[str, str]],
        timezone: str | None = None,
        country: str | None = None,
        event_id: str | None = None,
    ) -> Programme:
        """Start a programme; ``participants`` are ``(id, role)`` pairs or ``{id, role}``."""
        event = start_event(
            definition,
            programme,
            at=at,
            actor=actor,
            participants=participants,
            timezone=timezone,
            country=country,
            event_id=event_id,
        )
        return cls(definition.start(event), [event])

    @classmethod
    def from_history(
        cls, events: Iterable[Event], definition: CompiledDefinition | None = None
    ) -> Programme:
        events = list(events)
        return cls(fold(events, definition), events)

    def record(
        self,
        type: str,
        payload: Mapping[str, Any],
        *,
        at: datetime,
        actor: Actor,
        event_id: str | None = None,
    ) -> Event:
        """Apply one event of ``type``; keep it only if the engine accepts it."""
        require_json(payload, self.state.next_seq)
        event = Event(
            self.state.programme,
            self.state.next_seq,
            str(uuid.uuid4()) if event_id is None else event_id,
            at,
            actor,
            type,
            dict(payload),
        )
        self.state = self.definition.apply(self.state, event)
        self.history.append(event)
        return event

    def fire(self, event: str, *, at: datetime, actor: Actor) -> Event:
        return self.record("fire", fire_payload(event), at=at, actor=actor)

    def submit(
        self, deliverable: str, *, at: datetime, actor: Actor, ref: str | None = None, **fields: Any
    ) -> Event:
        """Hand in a deliverable; ``content={...}`` for one with parts (see its definition)."""
        return self.record("submit", submit_payload(deliverable, ref, **fields), at=at, actor=actor)

    def schedule(self, date_name: str, value: date | str, *, at: datetime, actor: Actor) -> Event:
        """Set a date: a ``date`` (a datetime would hide a time of day), or ``"2027-02-01"``."""
        payload = schedule_payload(date_name, value, self.state.next_seq)
        return self.record("schedule", payload, at=at, actor=actor)

    def waive(
        self,
        kind: str,
        step: str,
        blockers: Sequence[str],
        *,
        reason: str,
        at: datetime,
        actor: Actor,
        participant: str | None = None,
    ) -> Event:
        """Lift blockers of a step of the current state, with the reason on record."""
        payload = waive_payload(kind, step, blockers, reason, participant)
        return self.record("waive", payload, at=at, actor=actor)

    def join(self, participant: str, role: str, *, at: datetime, actor: Actor) -> Event:
        """Add ``participant`` in ``role`` (a role whose participants join after the start).

        ``actor`` is the participant itself where the role is joined by ``self``, or someone
        holding one of the role's ``joined_by`` roles.
        """
        return self.record("join", join_payload(participant, role), at=at, actor=actor)

    def claim(
        self,
        items: Sequence[Mapping[str, Any]],
        *,
        at: datetime,
        actor: Actor,
        claim: str | None = None,
        invoice_date: date | str | None = None,
        bank_details: str | None = None,
        accept_cap: bool = False,
    ) -> Event:
        """Claim costs: ``items`` are ``{"item", "amount", "receipts", "days", "nights"}``.

        Amounts are strings like ``"92.50"`` or whole numbers, never floats (money is exact).
        ``accept_cap`` takes a claim over its cap at the cap instead of refusing it.
        """
        payload = claim_payload(items, claim, invoice_date, bank_details, accept_cap)
        return self.record("claim", payload, at=at, actor=actor)

    def pay(
        self, claim: str, *, at: datetime, actor: Actor, amount: str | int | None = None
    ) -> Event:
        """Reimburse a claim; ``amount`` defaults to what the claim may be reimbursed."""
        return self.record("pay", pay_payload(claim, amount), at=at, actor=actor)

    def next_steps(
        self, at: datetime, actor: Actor | str | None = None, *, participation: bool = False
    ) -> list[Step]:
        """What may happen next; ``participation`` adds joins, the claim and payments."""
        return self.definition.next_steps(self.state, at, actor, participation=participation)

    def deadlines(self, at: datetime) -> list[Deadline]:
        return self.definition.deadlines(self.state, at)

    def forecast(
        self,
        at: datetime,
        *,
        schedule_days: int = DEFAULT_SCHEDULE_DAYS,
        horizon: datetime | None = None,
        max_nodes: int = DEFAULT_MAX_NODES,
    ) -> Forecast:
        """Whether the programme can still finish in time, and when each remaining step can
        happen: see :func:`peerflow.forecast`."""
        return self.definition.forecast(
            self.state, at, schedule_days=schedule_days, horizon=horizon, max_nodes=max_nodes
        )
