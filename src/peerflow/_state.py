"""A programme's state: a small immutable value folded from its history.

Thousands of programmes live side by side, so the value holds only what the
history decided, packed against its shared compiled definition: participants'
roles as one byte each, submissions as the bits of one integer, and the times
events fired and the dates scheduled as tuples indexed like the definition's
events and dates. The accessors below read it in names.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from peerflow._engine import CompiledDefinition


@attrs.frozen
class Waiver:
    """A facilitator's permission to take a step despite one kind of blocker.

    ``participant`` narrows a submission waiver to one participant; ``seq`` is
    the waive event that granted it.
    """

    step_kind: str
    step: str
    blocker: str
    reason: str
    seq: int
    participant: str | None = None


@attrs.frozen
class ProgrammeState:
    """Where one programme stands after the events it has seen.

    ``version`` is the number of events applied, so also the ``seq`` the next
    event must carry. ``definition`` is shared, not part of equality. The
    packed fields (``roles``, ``submitted``, ``fired``, ``scheduled``) are read
    through the methods, which speak in names.
    """

    definition: CompiledDefinition = attrs.field(eq=False, repr=False)
    programme: str
    state: str
    version: int
    started_at: datetime
    last_at: datetime
    timezone: str
    country: str | None
    participants: tuple[str, ...]
    roles: bytes
    submitted: int = 0
    fired: tuple[datetime | None, ...] = ()
    scheduled: tuple[date | None, ...] = ()
    waivers: tuple[Waiver, ...] = ()

    @property
    def terminal(self) -> bool:
        return self.definition.type.states[self.state].terminal

    def role_of(self, participant: str) -> str | None:
        try:
            index = self.participants.index(participant)
        except ValueError:
            return None
        return self.definition.role_names[self.roles[index]]

    def members(self) -> tuple[tuple[str, str], ...]:
        """``(participant, role)`` pairs, in joining order."""
        names = self.definition.role_names
        return tuple(zip(self.participants, (names[r] for r in self.roles), strict=True))

    def holders(self, roles: tuple[str, ...] | frozenset[str]) -> tuple[str, ...]:
        """The participants holding any of ``roles``, in joining order."""
        return tuple(pid for pid, role in self.members() if role in roles)

    def fired_at(self, event: str) -> datetime | None:
        """When ``event`` last fired."""
        index = self.definition.event_index.get(event)
        return None if index is None or not self.fired else self.fired[index]

    def scheduled_date(self, name: str) -> date | None:
        index = self.definition.date_index.get(name)
        return None if index is None or not self.scheduled else self.scheduled[index]

    def has_submitted(self, deliverable: str, participant: str) -> bool:
        bit = self.definition.submission_bit(self, deliverable, participant)
        return bit is not None and bool(self.submitted >> bit & 1)

    def submissions(self) -> tuple[tuple[str, str], ...]:
        """Every ``(deliverable, participant)`` submitted so far."""
        names = self.definition.deliverable_names
        return tuple(
            (name, pid)
            for p_index, pid in enumerate(self.participants)
            for d_index, name in enumerate(names)
            if self.submitted >> (p_index * len(names) + d_index) & 1
        )
