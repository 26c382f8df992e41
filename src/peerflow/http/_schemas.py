"""The shapes the API reads and writes, as attrs classes: Litestar checks requests against
them and the OpenAPI document is generated from them, so the contract cannot drift from code.

Writes name the acting participant (``by``); the service looks up their role in the
programme, and the engine checks that role against the step, as on every other write path.
``at`` defaults to the service's clock; a moment without an offset is refused.
"""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Any

import attrs


@attrs.frozen
class DefinitionOut:
    id: str
    version: int
    title: str


@attrs.frozen
class ParticipantIn:
    id: str
    role: str


@attrs.frozen
class ProgrammeIn:
    """A new programme; ``by`` (one of ``participants``) starts it."""

    programme: str
    definition: str
    by: str
    participants: list[ParticipantIn]
    at: datetime | None = None
    timezone: str | None = None
    country: str | None = None
    version: int | None = None


@attrs.frozen
class ParticipantOut:
    id: str
    role: str


@attrs.frozen
class ProgrammeOut:
    """Where a programme stands; ``next_seq`` is also its ETag."""

    programme: str
    definition: str
    definition_version: int
    state: str
    terminal: bool
    next_seq: int
    started_at: datetime
    last_at: datetime
    timezone: str
    country: str | None
    participants: list[ParticipantOut]


@attrs.frozen
class ProgrammeList:
    items: list[ProgrammeOut]
    next_after: str | None
    """Pass as ``after`` for the next page (None: this was the last)."""


@attrs.frozen
class ActorOut:
    role: str
    id: str


@attrs.frozen
class EventOut:
    """An event as the interchange format has it (docs/format.md)."""

    programme: str
    seq: int
    id: str
    at: datetime
    actor: ActorOut
    type: str
    payload: dict[str, Any]


@attrs.frozen
class PositionedEvent:
    position: int
    event: EventOut


@attrs.frozen
class EventPage:
    items: list[PositionedEvent]
    next_after: int | None
    """Pass as ``after`` for the next page (None: nothing more now)."""


@attrs.frozen
class EventIn:
    """Any event type with its payload, as in a history file (``type``: submit, fire,
    schedule, waive, join, claim, pay)."""

    type: str
    by: str
    payload: dict[str, Any] = attrs.field(factory=dict)
    at: datetime | None = None
    id: str | None = None
    """The event's id; default: the Idempotency-Key (``KEY.N`` in a batch), else a new one."""


@attrs.frozen
class BatchIn:
    """Events applied all or nothing, in order."""

    events: list[EventIn]


@attrs.frozen
class SubmissionIn:
    deliverable: str
    by: str
    ref: str | None = None
    content: dict[str, Any] | None = None
    at: datetime | None = None


@attrs.frozen
class StepIn:
    """Take a step that moves the programme (a ``fire`` event)."""

    step: str
    by: str
    at: datetime | None = None


@attrs.frozen
class DateIn:
    date: str
    value: dt.date
    by: str
    at: datetime | None = None


@attrs.frozen
class WaiverIn:
    kind: str
    step: str
    blockers: list[str]
    reason: str
    by: str
    participant: str | None = None
    at: datetime | None = None


@attrs.frozen
class JoinIn:
    participant: str
    role: str
    by: str
    at: datetime | None = None


@attrs.frozen
class ClaimIn:
    items: list[dict[str, Any]]
    by: str
    claim: str | None = None
    invoice_date: dt.date | None = None
    bank_details: str | None = None
    accept_cap: bool = False
    at: datetime | None = None


@attrs.frozen
class PaymentIn:
    claim: str
    by: str
    amount: str | None = None
    at: datetime | None = None


@attrs.frozen
class StatusOut:
    """What may happen next and what is due, every blocker structured (``peerflow next
    --json`` prints the same)."""

    programme: str
    definition: str
    definition_version: int
    at: datetime
    state: str
    terminal: bool
    next_seq: int
    steps: list[dict[str, Any]]
    deadlines: list[dict[str, Any]]


@attrs.frozen
class AgendaItemOut:
    programme: str
    deadline: dict[str, Any]


@attrs.frozen
class AgendaOut:
    at: datetime
    within_days: int
    items: list[AgendaItemOut]


@attrs.frozen
class Health:
    status: str
    version: str


@attrs.frozen
class WebhookIn:
    """``kinds``: ``event`` (every recorded event), ``reminder`` (deadlines due within
    ``reminder_days``, and passed)."""

    url: str
    kinds: list[str] = attrs.field(factory=lambda: ["event"])
    reminder_days: int = 3


@attrs.frozen
class WebhookOut:
    id: str
    url: str
    kinds: list[str]
    reminder_days: int
    created: datetime
    secret: str | None = None
    """The signing secret (Standard Webhooks), shown only in the answer to the subscription."""
