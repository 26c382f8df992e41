"""Moments as people type them (``--at``, ``--within``) and as they read them back.

A facilitator in Brussels who asks what is due on 15 February means that day in Brussels, so
a bare date is the end of that day in the programme's own time zone, and every moment shown
is in that zone. The command line reads the clock ("now"); the engine never does.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

Resolve = Callable[[str | None], datetime]
"""A typed moment, waiting for the zone it is meant in (None: this machine's zone)."""

LONGEST = timedelta(days=100 * 366)
_RELATIVE = re.compile(r"^([+-])(\d+)([dwh])$")
_UNITS = {"d": 24, "w": 24 * 7, "h": 1}
WORDS = "now, today, tomorrow, yesterday, +14d, -2w, +36h"


def _hours(found: re.Match[str]) -> int | None:
    """The hours a ``+14d`` names; None past 100 years (checked on the digits first, so a
    5,000-digit number is never handed to int())."""
    digits = found.group(2)
    hours = int(digits) * _UNITS[found.group(3)] if len(digits) <= 9 else None
    return hours if hours is not None and hours <= LONGEST.days * 24 else None


def _quoted(text: str) -> str:
    """What was typed, for an error line: quoted, and cut short if it is long."""
    return repr(text if len(text) <= 40 else text[:40] + "...")


def parse_duration(text: str) -> timedelta:
    """``14d``, ``2w`` or ``36h`` (a ``+`` allowed), for ``--within``: at most 100 years."""
    found = _RELATIVE.match(text.strip() if text[:1] in "+-" else "+" + text.strip())
    if found is None or found.group(1) == "-":
        raise ValueError(f"expected a duration like 14d, 2w or 36h, got {_quoted(text)}")
    hours = _hours(found)
    if hours is None:
        raise ValueError(f"{_quoted(text)} is too far ahead: at most 100 years")
    return timedelta(hours=hours)


def _zone(name: str | None) -> tzinfo:
    if name is None:
        local = datetime.now(UTC).astimezone().tzinfo
        assert local is not None
        return local
    return ZoneInfo(name)


def end_of(day: date, zone: str | None) -> datetime:
    """The last instant of ``day`` in ``zone``: what "by 15 February" means there."""
    return datetime.combine(day, time.max, tzinfo=_zone(zone))


def parse_moment(text: str, option: str, now: datetime) -> Resolve:
    """A typed moment: an ISO date-time (with an offset, or meant in the programme's zone), a
    date (the end of that day there), or one of the words: now, today, tomorrow, yesterday,
    +14d, -2w, +36h (from now). Refused in one line naming ``option``."""
    from peerflow.events._envelope import check_year  # noqa: PLC0415 - not for --help

    word = text.strip().lower()
    if word == "now":
        return lambda _zone_name: now
    days = {"today": 0, "tomorrow": 1, "yesterday": -1}.get(word)
    if days is not None:
        return lambda zone_name: end_of(
            now.astimezone(_zone(zone_name)).date() + timedelta(days=days), zone_name
        )
    found = _RELATIVE.match(word)
    if found is not None:
        hours = _hours(found)
        if hours is None:
            raise ValueError(f"{option} {_quoted(text)} is too far from now: at most 100 years")
        moved = now + timedelta(hours=hours if found.group(1) == "+" else -hours)
        return lambda _zone_name: moved
    if len(word) == 10:
        try:
            day = date.fromisoformat(word)
        except ValueError:
            pass
        else:
            check_year(day, option)
            return lambda zone_name: end_of(day, zone_name)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{option} {_quoted(text)} is not a moment: give a date (2027-02-15), a date and time "
            f"(2027-02-15T10:00, with +01:00 if not in the programme's zone) or {WORDS}"
        ) from None
    check_year(moment, option)
    if moment.tzinfo is not None:
        return lambda _zone_name: moment
    return lambda zone_name: moment.replace(tzinfo=_zone(zone_name))


def shown(moment: datetime, zone: str | None) -> str:
    """A moment as a person reads it: to the minute, in the programme's zone, named."""
    local = moment.astimezone(_zone(zone))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or ''}".rstrip()
