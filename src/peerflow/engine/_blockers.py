"""Why a step may not happen now, as values.

A blocker is data first (kind plus fields a portal can render in its own
words) and a sentence second (:meth:`Blocker.describe`), so the same object
serves the facilitator's screen, JSON output and exception messages.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

import attrs

from peerflow.model._types import Bound


def _when(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else "an unknown time"


BlockerKind = Literal[
    "missing_deliverable",
    "role",
    "window_not_open",
    "window_closed",
    "date_not_scheduled",
    "too_few_participants",
    "participant_limit",
    "incomplete_content",
    "over_budget",
    "missing_receipts",
    "too_few_occurrences",
]
"""The stable name of each blocker kind, used in JSON and in waivers."""


@attrs.frozen
class Blocker:
    """Base class; ``kind`` is the stable name used in JSON and in waivers."""

    kind: ClassVar[BlockerKind]

    def describe(self) -> str:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def can_be_waived(self) -> bool:
        """Whether a waiver may lift this blocker (its kind is waivable, and this one is)."""
        return self.kind in WAIVABLE_KINDS and getattr(self, "waivable", True) is not False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``kind`` plus the fields, datetimes as ISO-8601."""
        out: dict[str, Any] = {"kind": self.kind}
        for field in attrs.fields(type(self)):
            if field.metadata.get("json", True) is False:
                continue
            value = getattr(self, field.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[field.name] = value
        out["message"] = self.describe()
        return out


@attrs.frozen
class MissingDeliverable(Blocker):
    """A required deliverable is not in; ``owed_by`` lists who still owes it: each of them
    (``each``: a copy from every one) or any one of them."""

    kind: ClassVar[BlockerKind] = "missing_deliverable"
    deliverable: str
    owed_by: tuple[str, ...]
    each: bool = True

    def describe(self) -> str:
        if not self.owed_by:
            who = "nobody able to submit it"
        elif len(self.owed_by) == 1:
            who = self.owed_by[0]
        else:
            who = f"{'each of' if self.each else 'one of'} {', '.join(self.owed_by)}"
        return f"deliverable '{self.deliverable}' is missing (still owed by {who})"


@attrs.frozen
class RoleNotAllowed(Blocker):
    """The actor's role may not take this step; ``allowed`` says who may."""

    kind: ClassVar[BlockerKind] = "role"
    role: str
    allowed: tuple[str, ...]

    def describe(self) -> str:
        if not self.allowed:
            return f"role '{self.role}' may not do this (the definition lets no role do it)"
        return f"role '{self.role}' may not do this (allowed: {', '.join(self.allowed)})"


@attrs.frozen
class WindowNotOpen(Blocker):
    """Too early: the window opens at ``opens_at`` (``rule`` reads the bound)."""

    kind: ClassVar[BlockerKind] = "window_not_open"
    opens_at: datetime | None
    rule: str

    def describe(self) -> str:
        if self.opens_at is None:
            return f"window not open yet: it opens {self.rule}, which has not happened"
        return f"window not open yet: opens {_when(self.opens_at)} ({self.rule})"


@attrs.frozen
class WindowClosed(Blocker):
    """Too late: the window (or the programme's deadline) closed at ``closed_at``.

    ``bound`` is the bound that closed it, as the engine found it for this step from this
    state, so a report of how late (in working days, say) never works it out again.
    """

    kind: ClassVar[BlockerKind] = "window_closed"
    closed_at: datetime
    rule: str
    bound: Bound | None = attrs.field(default=None, eq=False, metadata={"json": False})

    def describe(self) -> str:
        return f"window closed at {_when(self.closed_at)} ({self.rule})"


@attrs.frozen
class DateNotScheduled(Blocker):
    """The step's window counts from a date nobody has scheduled yet."""

    kind: ClassVar[BlockerKind] = "date_not_scheduled"
    date: str
    set_by: tuple[str, ...]

    def describe(self) -> str:
        return f"date '{self.date}' is not scheduled yet (set by {', '.join(self.set_by)})"


@attrs.frozen
class TooFewParticipants(Blocker):
    """Leaving the joining stage needs ``min`` participants of ``role``; ``count`` joined."""

    kind: ClassVar[BlockerKind] = "too_few_participants"
    role: str
    min: int
    count: int
    waivable: bool = True
    """False for a role whose minimum the definition says cannot be waived."""

    def describe(self) -> str:
        text = f"role '{self.role}' needs at least {self.min} participant(s), {self.count} joined"
        return text if self.waivable else text + " (not waivable)"


@attrs.frozen
class ParticipantLimit(Blocker):
    """A role is full: ``max`` participants hold it already."""

    kind: ClassVar[BlockerKind] = "participant_limit"
    role: str
    max: int
    waivable: bool = False
    """True for a role whose maximum the definition says may be waived (max_waivable)."""

    def describe(self) -> str:
        text = f"role '{self.role}' is full: at most {self.max} participant(s) may hold it"
        return text + (" (waivable for one more join)" if self.waivable else "")


@attrs.frozen
class IncompleteContent(Blocker):
    """A structured deliverable lacks parts (``missing``) or has invalid ones (``problems``)."""

    kind: ClassVar[BlockerKind] = "incomplete_content"
    deliverable: str
    missing: tuple[str, ...]
    problems: tuple[str, ...] = ()

    def describe(self) -> str:
        said = []
        if self.missing:
            said.append("missing part(s): " + ", ".join(self.missing))
        said.extend(self.problems)
        return f"'{self.deliverable}' is incomplete: " + "; ".join(said)


@attrs.frozen
class OverBudget(Blocker):
    """A claim exceeds a cap or a rate: ``claimed`` against ``cap`` leaves ``excess``."""

    kind: ClassVar[BlockerKind] = "over_budget"
    item: str
    cap: Decimal
    claimed: Decimal
    excess: Decimal
    rule: str

    def describe(self) -> str:
        return (
            f"{self.item}: claimed {self.claimed}, cap {self.cap} ({self.rule}), "
            f"excess {self.excess}; claim at most the cap, or set accept_cap to be "
            "reimbursed up to it"
        )


@attrs.frozen
class MissingReceipts(Blocker):
    """Costs are reimbursed on receipts; these claimed items carry none."""

    kind: ClassVar[BlockerKind] = "missing_receipts"
    items: tuple[str, ...]

    def describe(self) -> str:
        return "no receipts for: " + ", ".join(self.items)


@attrs.frozen
class TooFewOccurrences(Blocker):
    """A step needs another step to have happened ``min`` times; it happened ``count``."""

    kind: ClassVar[BlockerKind] = "too_few_occurrences"
    event: str
    min: int
    count: int

    def describe(self) -> str:
        return f"'{self.event}' needs to happen at least {self.min} time(s), {self.count} so far"


BLOCKER_KINDS: tuple[str, ...] = tuple(
    cls.kind
    for cls in (
        MissingDeliverable,
        RoleNotAllowed,
        WindowNotOpen,
        WindowClosed,
        DateNotScheduled,
        TooFewParticipants,
        TooFewOccurrences,
        ParticipantLimit,
        IncompleteContent,
        OverBudget,
        MissingReceipts,
    )
)
"""Every blocker kind, in the order steps report them."""

WAIVABLE_KINDS: frozenset[str] = frozenset(
    {
        MissingDeliverable.kind,
        WindowNotOpen.kind,
        WindowClosed.kind,
        DateNotScheduled.kind,
        TooFewParticipants.kind,
        TooFewOccurrences.kind,
        ParticipantLimit.kind,
    }
)
"""What a waiver may lift. Never the role check (nobody acts in another's name), a
deliverable's content or a budget cap: those protect others. A participant limit only where
its role says ``max_waivable`` (each blocker's ``waivable`` field tells)."""
