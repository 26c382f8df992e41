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
from peerflow.engine._compiled import CompiledDefinition
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
        return self.record("fire", {"event": event}, at=at, actor=actor)

    def submit(
        self, deliverable: str, *, at: datetime, actor: Actor, ref: str | None = None, **fields: Any
    ) -> Event:
        payload: dict[str, Any] = {"deliverable": deliverable, **fields}
        if ref is not None:
            payload["ref"] = ref
        return self.record("submit", payload, at=at, actor=actor)

    def schedule(self, date_name: str, value: date | str, *, at: datetime, actor: Actor) -> Event:
        """Set a date: a ``date`` (a datetime would hide a time of day), or ``"2027-02-01"``."""
        if isinstance(value, datetime) or not isinstance(value, date | str):
            raise EventError(
                f"schedule {date_name}: the value must be a date or an ISO date string, "
                f"got {value!r}",
                seq=self.state.next_seq,
            )
        text = value if isinstance(value, str) else value.isoformat()
        return self.record("schedule", {"date": date_name, "value": text}, at=at, actor=actor)

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
        payload: dict[str, Any] = {
            "step": {"kind": kind, "name": step},
            "blockers": list(blockers),
            "reason": reason,
        }
        if participant is not None:
            payload["participant"] = participant
        return self.record("waive", payload, at=at, actor=actor)

    def next_steps(self, at: datetime, actor: Actor | str | None = None) -> list[Step]:
        return self.definition.next_steps(self.state, at, actor)

    def deadlines(self, at: datetime) -> list[Deadline]:
        return self.definition.deadlines(self.state, at)
