"""Window arithmetic: anchors plus offsets to instants, in a programme's time zone.

Windows are whole days. A bound names a calendar day in the programme's time
zone; a window opens at the first instant of its opening day and closes at the
first instant after its closing day. Calendar arithmetic (months, DST) is
pendulum's; working days skip weekends and the public holidays of the named
country (the ``holidays`` package, which also knows each country's weekend and the weekend
days it works). Results are cached: thousands of
programmes share the same anchors and bounds, and the hot path must not redo
calendar work.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pendulum

from peerflow.model._types import Bound

_ONE_DAY = timedelta(days=1)


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The stdlib zone for ``name`` (cheap conversions on the hot path)."""
    return ZoneInfo(name)


@lru_cache(maxsize=1)
def known_countries() -> frozenset[str]:
    """The country codes the ``holidays`` package has calendars for."""
    return frozenset(holidays.list_supported_countries())


@lru_cache(maxsize=64)
def holiday_calendar(country: str, subdivision: str | None = None) -> Any:
    """One calendar per country, built once; it grows its years on demand."""
    return holidays.country_holidays(country, subdiv=subdivision)


def is_working_day(day: date, country: str, subdivision: str | None = None) -> bool:
    """A working day of ``country`` as the ``holidays`` package knows it: its own weekend
    (Friday and Saturday in Israel), its public holidays, and the weekend days it works
    (Hungary, Latvia and China move working Saturdays). Not simply Monday to Friday."""
    calendar = holiday_calendar(country, subdivision)
    # ``in`` first: it fills the year, and with it the year's moved working days
    # (holidays' own is_working_day reads those before the year is filled)
    if day in calendar:
        return False
    return day.weekday() not in calendar.weekend or day in calendar.weekend_workdays


def add_working_days(
    day: date, count: int, country: str, subdivision: str | None = None, direction: int = 1
) -> date:
    """The ``count``-th working day after (or, direction -1, before) ``day``.

    ``day`` itself is not counted: 5 working days after a Friday meeting is the
    next Friday, unless a holiday falls between.
    """
    step = timedelta(days=direction)
    current = day
    remaining = count
    while remaining > 0:
        current = current + step
        if is_working_day(current, country, subdivision):
            remaining -= 1
    return current


def local_date(moment: datetime, tz: str) -> date:
    """The calendar day ``moment`` falls on in time zone ``tz``."""
    return moment.astimezone(zone(tz)).date()


def bound_day(bound: Bound, anchor_day: date, default_country: str | None) -> date:
    """The calendar day a bound names, counted from the anchor's day."""
    if bound.working_days:
        country = bound.country or default_country
        if country is None:  # the loader refuses this; kept for hand-built definitions
            raise ValueError("working_days need a country")
        return add_working_days(
            anchor_day, bound.working_days, country, bound.subdivision, bound.sign
        )
    start = pendulum.Date(anchor_day.year, anchor_day.month, anchor_day.day)
    amounts = {
        "years": bound.years,
        "months": bound.months,
        "weeks": bound.weeks,
        "days": bound.days,
    }
    moved = start.add(**amounts) if bound.sign > 0 else start.subtract(**amounts)
    return date(moved.year, moved.month, moved.day)


def start_of_day(day: date, tz: str) -> datetime:
    """The first instant of ``day`` in ``tz``, as a plain datetime with a fixed offset.

    Midnight read with ``fold=0`` is the earlier of two when it repeats (Havana falls back
    from 01:00 to 00:00) and, when it is skipped (a spring-forward at midnight), names the
    instant the day's clock starts at 01:00: either way the day's first instant. The result
    is a stdlib datetime with a fixed offset, so later comparisons stay cheap.
    """
    first = datetime(day.year, day.month, day.day, tzinfo=zone(tz)).astimezone(UTC)
    local = first.astimezone(zone(tz))
    offset = local.utcoffset() or timedelta(0)
    return local.replace(tzinfo=timezone(offset))


@lru_cache(maxsize=65536)
def opening_instant(bound: Bound, anchor_day: date, tz: str, country: str | None) -> datetime:
    """When a window with this opening bound opens."""
    return start_of_day(bound_day(bound, anchor_day, country), tz)


@lru_cache(maxsize=65536)
def closing_instant(bound: Bound, anchor_day: date, tz: str, country: str | None) -> datetime:
    """When a window with this closing bound closes: the end of its day."""
    return start_of_day(bound_day(bound, anchor_day, country) + _ONE_DAY, tz)
