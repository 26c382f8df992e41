"""Windows in time: the day a bound is counted from, the instant it opens or closes in the
programme's zone and holiday calendar, the programme deadline, and when a claim is due.

Instants are cached per definition (bound, day, zone, country): the calendar arithmetic is
the slowest part of a check, and the same few instants recur across a replay.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from peerflow._errors import EventError
from peerflow.engine._blockers import DateNotScheduled
from peerflow.engine._budget import Claim
from peerflow.engine._checks import UNSET, anchor_day
from peerflow.engine._state import ProgrammeState
from peerflow.engine._tables import BoundRef, StepSpec
from peerflow.model._calendar import closing_instant, opening_instant

if TYPE_CHECKING:
    from peerflow.engine._compiled import CompiledDefinition
    from peerflow.engine._guards import Moment

INSTANT_CACHE_LIMIT = 100_000
"""Instants kept per definition before the cache starts again (bounds memory on long runs)."""


def anchor_of(
    compiled: CompiledDefinition, m: Moment, ref: BoundRef
) -> date | DateNotScheduled | None:
    """The anchor's day; a blocker if it is an unset date; None if it has not fired."""
    key = (ref.anchor_kind, ref.anchor_index)
    if key in m.days:
        return m.days[key]
    st = m.st
    found = anchor_day(
        ref.anchor_kind,
        ref.anchor_index,
        st.marks,
        len(compiled.event_names),
        st.started_at,
        st.timezone,
    )
    day: date | DateNotScheduled | None
    if found is UNSET:
        name = compiled.date_names[ref.anchor_index]
        day = DateNotScheduled(name, compiled.type.dates[name].set_by)
    else:
        day = found  # type: ignore[assignment]
    m.days[key] = day
    return day


def instant(
    compiled: CompiledDefinition, ref: BoundRef, day: date, st: ProgrammeState, closing: bool
) -> datetime:
    """When a bound counted from ``day`` opens (or closes) in the programme's calendar."""
    cache = compiled.instant_cache
    key = (ref.id, day, st.timezone, st.country)
    found = cache.get(key)
    if found is None:
        if len(cache) > INSTANT_CACHE_LIMIT:
            cache.clear()
        compute = closing_instant if closing else opening_instant
        try:
            found = compute(ref.bound, day, st.timezone, st.country)
        except (OverflowError, ValueError):  # the loader caps bounds at 100 years: defensive
            raise EventError(
                f"'{ref.text}' counted from {day.isoformat()} falls outside the calendar"
            ) from None
        cache[key] = found
    return found


def deadline_instant(compiled: CompiledDefinition, m: Moment) -> datetime | None:
    """When the programme deadline passes; None without one or while its anchor is unknown."""
    ref = compiled.tables.deadline
    if ref is None:
        return None
    day = anchor_of(compiled, m, ref)
    return instant(compiled, ref, day, m.st, closing=True) if isinstance(day, date) else None


def advised(
    compiled: CompiledDefinition, m: Moment, spec: StepSpec
) -> tuple[datetime | None, datetime | None]:
    """The instants of a step's indicative window, where its anchors are known."""
    if spec.advisory is None:
        return None, None
    found: list[datetime | None] = []
    for ref, closing in zip(spec.advisory, (False, True), strict=True):
        day = None if ref is None else anchor_of(compiled, m, ref)
        found.append(
            instant(compiled, ref, day, m.st, closing=closing)
            if ref is not None and isinstance(day, date)
            else None
        )
    return found[0], found[1]


def payment_due(compiled: CompiledDefinition, st: ProgrammeState, claim: Claim) -> datetime | None:
    """When ``claim`` must be paid by, from the budget's payment window."""
    budget = compiled.type.budget
    if budget is None or budget.payment is None or budget.payment.closes is None:
        return None
    return closing_instant(budget.payment.closes, claim.invoice_date, st.timezone, st.country)
