"""What a facilitator is shown: the steps open from here and what is due."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal, get_args

import attrs

from peerflow.engine._blockers import Blocker

if TYPE_CHECKING:
    from peerflow.engine._state import ProgrammeState

StepKind = Literal["fire", "submit", "schedule"]
"""A step of a state: fire a transition, submit a deliverable, schedule a date."""
ParticipationKind = Literal["join", "claim", "pay"]
"""A step beside the state's own: join a role, claim costs, reimburse a claim."""
DeadlineKind = Literal["fire", "submit", "schedule", "payment", "programme"]
"""What a deadline is for: a step, a claim's payment, or the programme's overall deadline."""

FIRE: Final = "fire"
SUBMIT: Final = "submit"
SCHEDULE: Final = "schedule"
STEP_KINDS: tuple[StepKind, ...] = get_args(StepKind)
JOIN: Final = "join"
"""Not a step of a state but a waiver's target: one more join past a role's maximum."""


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@attrs.frozen
class Step:
    """One step open from the current state, allowed now or not, and why.

    ``kind`` is ``fire`` (a transition, ``dest`` says where to), ``submit`` (a
    deliverable; ``owed_by`` lists who still owes it) or ``schedule`` (a date); with
    ``participation=True`` also ``join`` (``name`` is the role), ``claim`` and ``pay``
    (``name`` is the claim, ``closes_at`` when it must be paid).
    ``waived`` lists blockers a waiver has lifted.
    """

    kind: StepKind | ParticipationKind
    name: str
    title: str
    allowed: bool
    blockers: tuple[Blocker, ...]
    roles: tuple[str, ...]
    dest: str | None = None
    owed_by: tuple[str, ...] = ()
    waived: tuple[Blocker, ...] = ()
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    advised_from: datetime | None = None
    """Where the step has an indicative window ("Month 2-3"): when it starts. Never blocks."""
    advised_by: datetime | None = None
    """The end of the indicative window: a step still open after it is late by the guide,
    not refused."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "title": self.title,
            "allowed": self.allowed,
            "blockers": [b.to_dict() for b in self.blockers],
            "waived": [b.to_dict() for b in self.waived],
            "roles": list(self.roles),
            "dest": self.dest,
            "owed_by": list(self.owed_by),
            "opens_at": _iso(self.opens_at),
            "closes_at": _iso(self.closes_at),
            "advised_from": _iso(self.advised_from),
            "advised_by": _iso(self.advised_by),
        }


@attrs.frozen
class Deadline:
    """Something due by ``due_at``; ``overdue`` once that moment has passed.

    ``kind`` is a step kind, or ``programme`` for the overall deadline;
    ``owed_by`` names the participants (or roles) it waits for. An ``advisory`` deadline is
    the end of an indicative window: being past it refuses nothing.
    """

    kind: DeadlineKind
    name: str
    title: str
    due_at: datetime
    overdue: bool
    owed_by: tuple[str, ...]
    rule: str
    advisory: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "title": self.title,
            "due_at": self.due_at.isoformat(),
            "overdue": self.overdue,
            "owed_by": list(self.owed_by),
            "rule": self.rule,
            "advisory": self.advisory,
        }


def status_dict(
    st: ProgrammeState, at: datetime, steps: Sequence[Step], deadlines: Sequence[Deadline]
) -> dict[str, Any]:
    """Where a programme stands at ``at``, as JSON: one shape for every tool that asks."""
    return {
        "programme": st.programme,
        "definition": st.definition.id,
        "definition_version": st.definition.version,
        "at": at.isoformat(),
        "state": st.state,
        "terminal": st.terminal,
        "next_seq": st.next_seq,
        "steps": [s.to_dict() for s in steps],
        "deadlines": [d.to_dict() for d in deadlines],
    }
