"""A programme's state: a small immutable value folded from its history.

Thousands of programmes live side by side, so the value holds only what the
history decided, packed against its shared compiled definition: participant ids
as one string (joined by a separator ids may not contain), their roles as one
byte each, submissions as the bits of one integer, and one tuple of
"marks": when each of the definition's events last fired, followed by each of
its scheduled dates. The accessors below read it in names.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import attrs

ID_SEPARATOR = "\x1f"
"""Joins participant ids in a state (the ASCII unit separator); ids may not contain it."""

if TYPE_CHECKING:
    from peerflow.engine._budget import Claim
    from peerflow.engine._compiled import CompiledDefinition


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


@attrs.frozen(repr=False)
class ProgrammeState:
    """Where one programme stands after the events it has seen.

    ``next_seq`` is the number of events applied, so also the ``seq`` the next
    event must carry. ``definition`` is shared, not part of equality. The
    packed fields (``people``, ``roles``, ``submitted``, ``marks``, ``facts``) are read
    through the methods, which speak in names.
    """

    definition: CompiledDefinition = attrs.field(eq=False, repr=False)
    programme: str
    state: str
    next_seq: int
    started_at: datetime
    last_at: datetime
    timezone: str
    country: str | None
    people: str
    roles: bytes
    submitted: int = 0
    marks: tuple[date | None, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    claims: tuple[Claim, ...] = ()
    facts: int = 0
    counts: tuple[int, ...] = ()
    """How often each event of ``definition.counted_events`` fired (empty: never), up to the
    most any step needs."""
    """Bit i: the definition's condition i holds of the latest submission it reads."""

    def __repr__(self) -> str:
        """The state in names: the packing is the engine's business, not the reader's."""
        fired = {
            name: moment.isoformat()
            for name in self.definition.event_names
            if (moment := self.fired_at(name)) is not None
        }
        dates = {
            name: day.isoformat()
            for name in self.definition.date_names
            if (day := self.scheduled_date(name)) is not None
        }
        parts = [
            f"programme={self.programme!r}",
            f"definition={self.definition.id!r}",
            f"state={self.state!r}",
            f"next_seq={self.next_seq}",
            f"participants={dict(self.members())!r}",
            f"submitted={list(self.submissions())!r}",
            f"fired={fired!r}",
            f"dates={dates!r}",
        ]
        if self.waivers:
            parts.append(f"waivers={list(self.waivers)!r}")
        if self.claims:
            parts.append(f"claims={[c.id for c in self.claims]!r}")
        return f"ProgrammeState({', '.join(parts)})"

    @property
    def terminal(self) -> bool:
        return self.definition.type.states[self.state].terminal

    @property
    def participants(self) -> tuple[str, ...]:
        """The participant ids, in joining order."""
        return tuple(self.people.split(ID_SEPARATOR))

    def index_of(self, participant: str) -> int | None:
        """The participant's position in joining order (None if not a participant)."""
        found = (ID_SEPARATOR + self.people + ID_SEPARATOR).find(
            ID_SEPARATOR + participant + ID_SEPARATOR
        )
        return None if found < 0 else self.people.count(ID_SEPARATOR, 0, found)

    def role_of(self, participant: str) -> str | None:
        index = self.index_of(participant)
        return None if index is None else self.definition.role_names[self.roles[index]]

    def members(self) -> tuple[tuple[str, str], ...]:
        """``(participant, role)`` pairs, in joining order."""
        names = self.definition.role_names
        return tuple(zip(self.participants, (names[r] for r in self.roles), strict=True))

    def holders(self, roles: tuple[str, ...] | frozenset[str]) -> tuple[str, ...]:
        """The participants holding any of ``roles``, in joining order."""
        return tuple(pid for pid, role in self.members() if role in roles)

    def count(self, role: str) -> int:
        """How many participants hold ``role``."""
        index = self.definition.role_index.get(role)
        return 0 if index is None else self.roles.count(index)

    def claim(self, claim_id: str) -> Claim | None:
        return next((c for c in self.claims if c.id == claim_id), None)

    def fired_at(self, event: str) -> datetime | None:
        """When ``event`` last fired."""
        index = self.definition.event_index.get(event)
        moment = None if index is None or not self.marks else self.marks[index]
        return moment if isinstance(moment, datetime) else None

    def scheduled_date(self, name: str) -> date | None:
        index = self.definition.date_index.get(name)
        if index is None or not self.marks:
            return None
        return self.marks[len(self.definition.event_names) + index]

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
