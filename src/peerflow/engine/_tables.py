"""The shapes a definition compiles to: steps with their roles as sets and deliverables as
indexes, bounds with their anchors resolved, and the lookup tables every check reads.

They are frozen and built once per definition, so the engine and the replay fast path read
the same tables without either reaching into the other's private attributes.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from peerflow.engine._steps import StepKind
from peerflow.model._types import Bound, Part


@attrs.frozen
class BoundRef:
    """A bound with its anchor resolved to an index, and an id for cache keys."""

    id: int
    bound: Bound
    anchor_kind: int
    anchor_index: int
    text: str


@attrs.frozen
class StepSpec:
    """A step compiled for the hot path: roles as a set, deliverables as indexes."""

    kind: StepKind
    name: str
    title: str
    roles: tuple[str, ...]
    roleset: frozenset[str]
    index: int
    requires: tuple[int, ...] = ()
    opens: BoundRef | None = None
    closes: BoundRef | None = None
    deadline: bool = True
    dest: str | None = None
    quorum: tuple[tuple[int, str, int], ...] = ()
    """(role index, role, min) for roles whose joining stage this step leaves."""
    min_times: tuple[tuple[int, str, int], ...] = ()
    """(position in ``counted_events``, event, least) the step needs to have happened."""
    advisory: tuple[BoundRef | None, BoundRef | None] | None = None
    """The indicative window's bounds (opens, closes): shown, never blocking."""
    requires_when: tuple[tuple[int, int], ...] = ()
    """(condition index, deliverable index): the deliverable is required while the
    condition holds (see :class:`~peerflow.model._types.ConditionalRequirement`)."""


@attrs.frozen
class Layout:
    """Per role layout (shared by every programme with the same roles in the same order):
    for each deliverable, the bits of the participants who owe it."""

    owed: tuple[int, ...]


StepTable = Mapping[str, Mapping[str, StepSpec]]
"""state -> step name -> compiled step."""


@attrs.frozen
class Tables:
    """Everything a check looks up, compiled once per definition. Read it; never change it."""

    fire: StepTable
    submit: StepTable
    schedule: StepTable
    specs: Mapping[str, tuple[StepSpec, ...]]
    """state -> every step open there (fires, then submissions, then dates)."""
    bound_refs: tuple[BoundRef, ...]
    """Every bound of every window and the deadline, by ``BoundRef.id``."""
    deadline: BoundRef | None
    """The programme's overall deadline."""
    each: tuple[bool, ...]
    """Per deliverable: owed by each participant of its roles (else by any one of them)."""
    owing_roles: tuple[frozenset[int], ...]
    """Per deliverable: the indexes of the roles that owe it."""
    content_parts: Mapping[str, Mapping[str, Part]]
    """Deliverable -> the parts its content must have."""
    strict_minimums: frozenset[str]
    """Roles whose ``too_few_participants`` no waiver lifts."""
    watched: Mapping[str, tuple[tuple[int, str, int | str], ...]]
    """Deliverable -> (condition index, part, value) of the conditions that read it."""
    counted_at: Mapping[int, int]
    """Event index -> its position in ``ProgrammeState.counts``."""
    count_caps: tuple[int, ...]
    """Per counted event: the most any step needs (counting stops there)."""
    renewed_by: Mapping[int, tuple[int, ...]]
    """Event index -> the deliverables owed anew after it."""
    renewed_dates: Mapping[int, tuple[int, ...]]
    """Event index -> the dates to be set again after it."""
    by_kind: Mapping[str, StepTable] = attrs.field(init=False)
    """Step kind (fire, submit, schedule) -> its table."""

    @by_kind.default
    def _by_kind(self) -> Mapping[str, StepTable]:
        return {"fire": self.fire, "submit": self.submit, "schedule": self.schedule}
