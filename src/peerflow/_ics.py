"""Calendar feeds: a programme's dates and deadlines as iCalendar (RFC 5545), for any calendar.

Each scheduled date is an all-day event; each deadline an event at the moment it falls due,
in the programme's time zone, with what is due and from whom. UIDs are stable (programme,
kind, name), so a calendar updates an entry instead of adding one; SEQUENCE counts how often
the entry's moment moved in the programme's history, so a client knows the newer version.
Made with ``icalendar`` (the ``calendar`` extra, part of ``server``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

import attrs

from peerflow.engine._registry import definition_of
from peerflow.engine._state import ProgrammeState
from peerflow.events._envelope import Event

MEDIA_TYPE = "text/calendar"


@attrs.frozen
class FeedItem:
    """One calendar entry: a scheduled date (``start`` a date) or a deadline (a moment)."""

    uid: str
    summary: str
    description: str
    start: date | datetime
    sequence: int
    programme: str
    owed_by: tuple[str, ...] = ()
    """The participants or roles a deadline waits for (empty for a date: it concerns all)."""


def _items_now(st: ProgrammeState, at: datetime) -> dict[str, FeedItem]:
    """The entries of a programme as it stands (SEQUENCE 0: the caller counts the moves)."""
    t = st.definition.type
    found: dict[str, FeedItem] = {}
    for name, scheduled in t.dates.items():
        day = st.scheduled_date(name)
        if day is None:
            continue
        uid = f"{st.programme}.date.{name}@peerflow"
        found[uid] = FeedItem(
            uid,
            f"{scheduled.title or name} ({st.programme})",
            f"{t.title}: {scheduled.title or name}, set by {', '.join(scheduled.set_by)}.",
            day,
            0,
            st.programme,
        )
    zone = ZoneInfo(st.timezone)
    for deadline in st.definition.deadlines(st, at):
        uid = deadline_uid(st.programme, deadline.kind, deadline.name, deadline.advisory)
        owed = ", ".join(deadline.owed_by) or "nobody in particular"
        kind = "indicative deadline" if deadline.advisory else "deadline"
        found[uid] = FeedItem(
            uid,
            f"Due: {deadline.title or deadline.name} ({st.programme})",
            f"{t.title}: {deadline.title or deadline.name} is due from {owed} ({kind}; "
            f"{deadline.rule}).",
            deadline.due_at.astimezone(zone),
            0,
            st.programme,
            tuple(deadline.owed_by),
        )
    return found


def deadline_uid(programme: str, kind: str, name: str, advisory: bool) -> str:
    """A step may have a binding deadline and an indicative one: two entries."""
    return f"{programme}.{kind}.{name}{'.indicative' if advisory else ''}@peerflow"


def programme_items(events: Sequence[Event], at: datetime) -> list[FeedItem]:
    """A programme's entries at ``at``, each with the number of times its moment moved."""
    if not events:
        return []
    compiled = definition_of(events[0])
    st = compiled.start(events[0])
    seen: dict[str, date | datetime] = {}
    moves: dict[str, int] = {}
    for event in events[1:]:
        st = compiled.apply(st, event)
        for uid, item in _items_now(st, at).items():
            before = seen.get(uid)
            if before is not None and before != item.start:
                moves[uid] = moves.get(uid, 0) + 1
            seen[uid] = item.start
    return [
        attrs.evolve(item, sequence=moves.get(uid, 0))
        for uid, item in sorted(_items_now(st, at).items())
    ]


def concerns(item: FeedItem, st: ProgrammeState, participant: str) -> bool:
    """Whether an entry belongs in ``participant``'s calendar: every date of their
    programmes, and the deadlines that wait for them or for their role."""
    role = st.role_of(participant)
    return not item.owed_by or participant in item.owed_by or role in item.owed_by


def participant_items(
    programmes: Iterable[ProgrammeState],
    events_of: Callable[[str], Sequence[Event]],
    participant: str,
    at: datetime,
) -> list[FeedItem] | None:
    """A participant's entries across ``programmes``; None if they take part in none of
    them (an empty list: they do, and nothing is dated)."""
    found: list[FeedItem] = []
    takes_part = False
    for st in programmes:
        if st.role_of(participant) is None:
            continue
        takes_part = True
        items = programme_items(events_of(st.programme), at)
        found.extend(i for i in items if concerns(i, st, participant))
    return found if takes_part else None


def ics(name: str, items: Iterable[FeedItem], at: datetime) -> bytes:
    """The feed as iCalendar text, with a VTIMEZONE for each zone it uses."""
    from icalendar import Calendar  # noqa: PLC0415 - an optional extra
    from icalendar import Event as Entry  # noqa: PLC0415

    calendar = Calendar()
    calendar.add("prodid", "-//peerflow//programme calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    for item in items:
        entry = Entry()
        entry.add("uid", item.uid)
        entry.add("dtstamp", at)
        entry.add("dtstart", item.start)
        entry.add("summary", item.summary)
        entry.add("description", item.description)
        entry.add("sequence", item.sequence)
        entry.add("transp", "TRANSPARENT")  # a deadline does not make anyone busy
        calendar.add_component(entry)
    calendar.add_missing_timezones()
    data: bytes = calendar.to_ical()
    return data
