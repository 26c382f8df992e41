"""The checks a step goes through, one function each, shared by the engine and the fast path.

The engine (``_guards.evaluate``) turns each failed check into a blocker; the
replay's fast path (``peerflow.replay._fastfold``) only asks whether every check passes and,
at the first that does not, hands the event to the engine. Both call these functions, so the
two cannot drift apart on what a window, a quorum, an owed deliverable, an anchor day or a
scheduled value is.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Final

from peerflow.events._envelope import check_year
from peerflow.model._calendar import local_date

START, EVENT, DATE = 0, 1, 2
"""What a window's bound is counted from: the start, an event's last firing, a scheduled date."""


class _Unset:
    """A date the definition has but nobody has scheduled yet."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()


def anchor_day(
    kind: int,
    index: int,
    marks: Sequence[datetime | date | None],
    events_count: int,
    started_at: datetime,
    timezone: str,
) -> date | _Unset | None:
    """The local day a bound is counted from; ``None`` while its event has not fired,
    :data:`UNSET` for a date nobody has scheduled. ``marks`` holds each event's last firing,
    then each date's value."""
    if kind == START:
        return local_date(started_at, timezone)
    if kind == DATE:
        value = marks[events_count + index]
        return UNSET if value is None else value
    moment = marks[index]
    return None if moment is None else local_date(moment, timezone)  # type: ignore[arg-type]


def missing_bits(owed: int, each: bool, submitted: int) -> int:
    """Bits of the participants who still owe a deliverable; 0 once it is in.

    ``each``: every owing participant submits their own; otherwise any one of them settles it.
    """
    if each:
        return owed & ~submitted
    return 0 if owed & submitted else owed


def quorum_shortfalls(
    roles: bytes, quorum: Sequence[tuple[int, str, int]]
) -> list[tuple[str, int, int]]:
    """``(role, least, count)`` for each role with fewer participants than the step needs."""
    return [
        (role, least, count)
        for index, role, least in quorum
        if (count := roles.count(index)) < least
    ]


def scheduled_day(value: object) -> date:
    """The day a ``schedule`` event sets; ``ValueError`` saying what was expected otherwise."""
    try:
        day = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        day = None
    if day is None:
        raise ValueError(f"payload.value must be a date like 2027-03-15, got {value!r}")
    check_year(day, "payload.value")
    return day


def earlier_close(
    closes_at: datetime | None, deadline_at: datetime | None
) -> tuple[datetime | None, bool]:
    """When a step's window shuts, and whether the programme deadline is what shuts it."""
    if deadline_at is not None and (closes_at is None or deadline_at < closes_at):
        return deadline_at, True
    return closes_at, False
