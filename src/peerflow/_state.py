"""A programme's state: a small immutable value folded from its history.

Thousands of programmes live side by side, so the value holds only what the
history decided (where it stands, who takes part, what is in, what happened
when) as tuples of pairs, and refers to its shared compiled definition.
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
    event must carry. ``definition`` is shared, not part of equality.
    """

    definition: CompiledDefinition = attrs.field(eq=False, repr=False)
    programme: str
    state: str
    version: int
    started_at: datetime
    last_at: datetime
    timezone: str
    country: str | None
    participants: tuple[tuple[str, str], ...]
    submitted: frozenset[tuple[str, str]] = frozenset()
    fired: tuple[tuple[str, datetime], ...] = ()
    scheduled: tuple[tuple[str, date], ...] = ()
    waivers: tuple[Waiver, ...] = ()

    @property
    def terminal(self) -> bool:
        return self.definition.type.states[self.state].terminal

    def role_of(self, participant: str) -> str | None:
        for pid, role in self.participants:
            if pid == participant:
                return role
        return None

    def holders(self, roles: tuple[str, ...] | frozenset[str]) -> tuple[str, ...]:
        """The participants holding any of ``roles``, in joining order."""
        return tuple(pid for pid, role in self.participants if role in roles)

    def fired_at(self, event: str) -> datetime | None:
        """When ``event`` last fired."""
        for name, moment in self.fired:
            if name == event:
                return moment
        return None

    def scheduled_date(self, name: str) -> date | None:
        for key, day in self.scheduled:
            if key == name:
                return day
        return None

    def has_submitted(self, deliverable: str, participant: str) -> bool:
        return (deliverable, participant) in self.submitted
