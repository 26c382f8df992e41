"""The event envelope: what happened in a programme, one JSON object a line.

The envelope is the interchange format other portals and analysts depend on
(``docs/event-format.md``): change it only by adding fields or bumping
:data:`FORMAT_VERSION`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

import attrs

from peerflow._errors import HistoryError

FORMAT_VERSION = 1

EVENT_TYPES = ("start", "submit", "schedule", "fire", "waive", "join", "claim", "pay")
"""The event types this version of the engine understands."""

_ENVELOPE_KEYS = frozenset({"v", "programme", "seq", "id", "at", "actor", "type", "payload"})


ID_MAX_LENGTH = 200
"""The longest id (programme, participant, actor, event, claim) peerflow takes."""


def id_problem(value: object) -> str | None:
    """Why ``value`` is not an id, or None if it is one.

    One rule everywhere: a non-empty string of at most :data:`ID_MAX_LENGTH` printable
    characters. No control characters (a newline or an escape sequence would forge report
    lines on a terminal; NUL is refused by PostgreSQL), no separators, no lone surrogates.
    """
    if type(value) is str and 0 < len(value) <= ID_MAX_LENGTH and value.isprintable():
        return None  # the common case, in one test
    if not isinstance(value, str):
        return f"must be a string, got {type(value).__name__}"
    if not value:
        return "must not be empty"
    if len(value) > ID_MAX_LENGTH:
        return f"is {len(value):,} characters long (at most {ID_MAX_LENGTH})"
    if not value.isprintable():
        odd = next(c for c in value if not c.isprintable())
        return f"{value!r} holds the unprintable character {odd!a}"
    return None


class _AmbiguousLine(ValueError):
    """A line that is JSON but not one we read: a key twice, NaN or Infinity (JSON could read
    it in more than one way), or nesting past the limit."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _AmbiguousLine(f"the key {key!r} appears twice: a line must have one reading")
            seen.add(key)
    return found


def _no_constant(name: str) -> Any:
    raise _AmbiguousLine(f"{name} is not a number JSON has (write a number or a string)")


JSON_BLANK = " \t\r\n"
"""What JSON counts as white space: a line of only these is blank. (``str.strip()`` also
strips the ASCII separators \x1c-\x1f, so a line of those would vanish unreported.)"""

MAX_NESTING = 32
"""The deepest nesting of objects and lists in a line (an event needs 5: content lists)."""


def nesting_problem(data: Any, limit: int = MAX_NESTING) -> str | None:
    """Why ``data`` is nested too deeply, or None. Each container is looked at once, and the
    walk goes at most ``limit`` calls deep whatever the input: deep input cannot exhaust the
    stack here."""
    if _is_container(data) and _deeper_than(data, limit):
        return f"nested deeper than {limit} levels"
    return None


def _is_container(value: object) -> bool:
    return type(value) is dict or type(value) is list or isinstance(value, Mapping | list | tuple)


def _deeper_than(container: Any, room: int) -> bool:
    """Whether ``container`` holds more than ``room`` levels of containers, itself included."""
    if room <= 0:
        return True
    children = (
        container.values()
        if type(container) is dict or isinstance(container, Mapping)
        else container
    )
    for child in children:
        if (
            type(child) is dict or type(child) is list or isinstance(child, Mapping | list | tuple)
        ) and _deeper_than(child, room - 1):
            return True
    return False


_decode = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_no_constant).decode


def decode_line(line: str | bytes) -> Any:
    """The one reading of a line everywhere (history files, the store, the command line): JSON
    where every object's keys are unique, NaN and Infinity are refused, and nothing is nested
    deeper than :data:`MAX_NESTING` (a line of a few thousand brackets once stopped a whole
    replay with RecursionError)."""
    try:
        data = _decode(line if isinstance(line, str) else line.decode())
    except RecursionError:
        raise _AmbiguousLine(f"nested deeper than {MAX_NESTING} levels") from None
    # a line with few brackets cannot nest deeply: only the others are walked
    if (line.count("{") + line.count("[") if isinstance(line, str) else MAX_NESTING + 1) > (
        MAX_NESTING
    ):
        problem = nesting_problem(data)
        if problem is not None:
            raise _AmbiguousLine(problem)
    return data


def one_line(text: object) -> str:
    """``text`` with every unprintable character escaped, so that what a history or a user
    put in a message cannot start a new line or move the cursor on a terminal."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def check_id(value: object, field: str) -> str:
    """``value`` if it is an id; otherwise ``ValueError`` naming ``field``."""
    problem = id_problem(value)
    if problem is not None:
        raise ValueError(f"'{field}' {problem}")
    return value  # type: ignore[return-value]


@attrs.frozen
class Actor:
    """Who acted: the role they acted in and their participant id."""

    role: str
    id: str

    def __str__(self) -> str:
        return f"{self.id} ({self.role})"


YEARS = range(1900, 3000)
"""The years a timestamp or a scheduled date may fall in: a typo such as 0202 for 2022 is
caught at once, and window arithmetic stays far from the calendar's ends."""


def check_year(moment: datetime | date, what: str) -> None:
    if moment.year not in YEARS:
        raise ValueError(
            f"'{what}' is in the year {moment.year}: expected {YEARS.start} to "
            f"{YEARS.stop - 1} (a typo?)"
        )


def _fixed_offset(moment: datetime) -> datetime:
    """The same instant with a fixed UTC offset, so comparisons are always by instant.

    Python compares two datetimes of one ``ZoneInfo`` by wall clock, so in the hour a DST
    change repeats, 02:33 (after) would sort before 02:34 (before).
    """
    zone = moment.tzinfo
    if isinstance(moment, datetime):
        check_year(moment, "at")
    if zone is None or type(zone) is timezone:
        return moment
    offset = moment.utcoffset()
    return moment if offset is None else moment.replace(tzinfo=_offset_zone(offset))


@attrs.frozen
class Event:
    """One thing that happened; ``payload`` holds the fields its type needs.

    ``at`` is kept with a fixed UTC offset (a ``ZoneInfo`` time is converted on the way in).
    """

    programme: str
    seq: int
    id: str
    at: datetime = attrs.field(converter=_fixed_offset)
    actor: Actor
    type: str
    payload: Mapping[str, Any] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The envelope as a JSON-ready dict (``at`` as ISO-8601 with offset)."""
        return {
            "v": FORMAT_VERSION,
            "programme": self.programme,
            "seq": self.seq,
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": {"role": self.actor.role, "id": self.actor.id},
            "type": self.type,
            "payload": dict(self.payload),
        }

    def to_line(self) -> str:
        """One line of JSON; refuses NaN and infinities, which JSON does not have."""
        return json.dumps(self.to_json(), ensure_ascii=False, allow_nan=False)


def parse_timestamp(text: Any, what: str = "at") -> datetime:
    """An ISO-8601 timestamp that must carry its UTC offset."""
    if not isinstance(text, str):
        raise ValueError(f"'{what}' must be an ISO-8601 string, got {type(text).__name__}")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'{what}' is not an ISO-8601 timestamp: {text!r}") from None
    zone = moment.tzinfo
    if zone is None:
        raise ValueError(f"'{what}' has no UTC offset: {text!r} (write e.g. {text}+01:00)")
    check_year(moment, what)
    return _with_shared_zone(moment, zone)


def _with_shared_zone(moment: datetime, zone: Any) -> datetime:
    """``moment`` on the one shared zone object of its offset.

    fromisoformat makes a new tzinfo per timestamp, and states keep timestamps: sharing
    saves a third of a programme state's memory. ``combine`` is used because it costs a
    fifth of ``replace(tzinfo=...)``.
    """
    shared = _ZONES.get(zone)
    if shared is None:
        offset = moment.utcoffset()
        assert offset is not None
        shared = _offset_zone(offset)
        if len(_ZONES) < 256:
            _ZONES[zone] = shared
    if zone is shared:
        return moment
    return _combine(moment.date(), moment.time(), shared)


_combine = datetime.combine
_ZONES: dict[Any, timezone] = {}
"""A parsed timestamp's tzinfo (equal per offset) -> the shared zone of that offset."""


@lru_cache(maxsize=256)
def _offset_zone(offset: timedelta) -> timezone:
    return UTC if not offset else timezone(offset)


_EVENT_TYPE_SET = frozenset(EVENT_TYPES)


Row = tuple[str, int, str, datetime, str, str, str, Mapping[str, Any]]
"""An event as a plain tuple: (programme, seq, id, at, actor role, actor id, type, payload).

Bulk reading and replay pass rows around; an :class:`Event` is made from one only where it
is asked for, since making millions of them would cost more than reading the lines. A plain
tuple, not a ``NamedTuple``: making one is about 55 ns against 200 ns (measured on this
machine), paid once per line read, and the hot paths unpack rows in one go anyway.
"""


def quick_row(data: Any) -> Row | None:
    """A well-formed decoded line's envelope in one pass; None for anything else, and the
    careful check (:func:`event_from_json`) then names the field at fault."""
    if type(data) is not dict:
        return None
    try:
        programme, seq, event_id, kind = data["programme"], data["seq"], data["id"], data["type"]
        at, actor = data["at"], data["actor"]
        role, who = actor["role"], actor["id"]
    except (KeyError, TypeError):
        return None
    payload = data.get("payload")
    version = data.get("v", _NO_VERSION)
    if (
        type(programme) is not str
        or not programme
        or not programme.isprintable()
        or len(programme) > ID_MAX_LENGTH
        or type(seq) is not int
        or seq < 0
        or type(event_id) is not str
        or not event_id
        or not event_id.isprintable()
        or len(event_id) > ID_MAX_LENGTH
        or type(kind) is not str
        or kind not in _EVENT_TYPE_SET
        or type(actor) is not dict
        or type(role) is not str
        or type(who) is not str
        or not who.isprintable()
        or not who
        or len(who) > ID_MAX_LENGTH
        or type(payload) is not dict
        or type(at) is not str
        or len(data) != 7 + (version is not _NO_VERSION)
        or (version is not _NO_VERSION and (type(version) is not int or version != FORMAT_VERSION))
    ):
        return None
    try:
        moment = _fromisoformat(at)
    except ValueError:
        return None
    zone = moment.tzinfo
    if zone is None or moment.year not in YEARS:
        return None
    moment = _with_shared_zone(moment, zone)
    return (programme, seq, event_id, moment, role, who, kind, payload)


_NO_VERSION = object()
_fromisoformat = datetime.fromisoformat


def event_of(row: Row) -> Event:
    programme, seq, event_id, at, role, who, kind, payload = row
    return Event(programme, seq, event_id, at, Actor(role, who), kind, payload)


def row_of(event: Event) -> Row:
    actor = event.actor
    return (
        event.programme,
        event.seq,
        event.id,
        event.at,
        actor.role,
        actor.id,
        event.type,
        event.payload,
    )


def event_from_json(data: Any) -> Event:
    """Check one decoded line against the envelope; ``ValueError`` names the field.

    A well-formed line takes one quick pass; anything else goes through the checks one by
    one, so the error names the first field at fault.
    """
    row = quick_row(data)
    return _checked_event(data) if row is None else event_of(row)


def _checked_event(data: Any) -> Event:
    if not isinstance(data, dict):
        raise ValueError("a line must be a JSON object")
    version = data.get("v", FORMAT_VERSION)
    if type(version) is not int or version != FORMAT_VERSION:
        raise ValueError(f"format version {version!r} is not supported (expected {FORMAT_VERSION})")
    for key in ("programme", "seq", "id", "at", "actor", "type"):
        if key not in data:
            raise ValueError(f"missing field '{key}'")
    extra = set(data) - _ENVELOPE_KEYS
    if extra:
        raise ValueError(f"unknown field(s) {sorted(extra)}: event fields go under 'payload'")
    if "payload" not in data:
        raise ValueError("missing field 'payload' (write {} where the type needs nothing)")
    programme, seq, event_id, kind = data["programme"], data["seq"], data["id"], data["type"]
    check_id(programme, "programme")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ValueError(f"'seq' must be a whole number 0 or more, got {seq!r}")
    check_id(event_id, "id")
    if kind not in EVENT_TYPES:
        raise ValueError(f"unknown event type {kind!r} (expected one of {', '.join(EVENT_TYPES)})")
    actor = data["actor"]
    if (
        not isinstance(actor, dict)
        or not isinstance(actor.get("role"), str)
        or not isinstance(actor.get("id"), str)
    ):
        raise ValueError("'actor' must be an object with string fields 'role' and 'id'")
    check_id(actor["id"], "actor.id")
    payload = data["payload"]
    if not isinstance(payload, dict):
        raise ValueError("'payload' must be an object")
    return Event(
        programme=programme,
        seq=seq,
        id=event_id,
        at=parse_timestamp(data["at"]),
        actor=Actor(role=actor["role"], id=actor["id"]),
        type=kind,
        payload=payload,
    )


def iter_lines(stream: Iterable[str], file: str) -> Iterator[tuple[int, Event | HistoryError]]:
    """Each non-blank line as an event or as the error that explains it."""
    for number, line in enumerate(stream, start=1):
        if not line.strip(JSON_BLANK):
            continue
        try:
            data = decode_line(line)
        except ValueError as exc:
            yield number, not_json(exc, file, number, line)
            continue
        try:
            yield number, event_from_json(data)
        except ValueError as exc:
            yield number, bad_envelope(exc, data, file, number)


_PROGRAMME_FIELD = re.compile(r'"programme"\s*:\s*("(?:[^"\\]|\\.)*")')


def not_json(exc: ValueError, file: str, line: int, text: str = "") -> HistoryError:
    """The error for a line that is not JSON, or JSON with more than one reading (tied to its
    programme when every reading names the same one, so that programme is cut there)."""
    if isinstance(exc, _AmbiguousLine):
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):  # too deep to read at all: look for the field
            found = _PROGRAMME_FIELD.search(text)
            data = {"programme": json.loads(found[1])} if found else None
        return bad_envelope(exc, data, file, line)
    where = f" (column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
    message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
    return HistoryError(file, line, f"not JSON: {message}{where}")


def bad_envelope(exc: ValueError, data: Any, file: str, line: int) -> HistoryError:
    """The error for a line that is JSON but no event, tied to its programme if it names one."""
    named = data.get("programme") if isinstance(data, dict) else None
    programme = named if isinstance(named, str) and named else None
    return HistoryError(file, line, str(exc), programme)


def read_history(path: str | Path) -> list[tuple[int, Event]]:
    """Every event of a JSON Lines file with its line number; the first bad line raises."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HistoryError(str(path), 0, f"cannot read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise HistoryError(
            str(path), line, f"not UTF-8 text: {exc.reason} at byte {column}"
        ) from None
    return _strict(iter_lines(text.split("\n"), str(path)))


def read_history_text(text: str, file: str = "<string>") -> list[tuple[int, Event]]:
    return _strict(iter_lines(text.splitlines(), file))


def _strict(items: Iterable[tuple[int, Event | HistoryError]]) -> list[tuple[int, Event]]:
    events = []
    for number, item in items:
        if isinstance(item, HistoryError):
            raise item
        events.append((number, item))
    return events


def write_history(events: Iterable[Event], stream: IO[str]) -> None:
    for event in events:
        stream.write(event.to_line() + "\n")
