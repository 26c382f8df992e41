"""Replays in the formats analysts' tools read: JSON, CSV (events or programmes) and XES.

XES (IEEE 1849) is written directly with the standard library: one trace per programme
(``concept:name`` = programme id), one event per history event with ``concept:name`` (the
step), ``time:timestamp`` in UTC, ``org:resource``, ``org:role`` and
``lifecycle:transition``. Attributes without a value are left out, never written as NaN.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import IO, Any
from xml.sax.saxutils import quoteattr

from peerflow._errors import HistoryError
from peerflow.events._envelope import one_line
from peerflow.replay._audit import DEVIATION_KINDS, ProgrammeReplay
from peerflow.replay._stats import summarise

EVENT_COLUMNS = (
    "programme",
    "seq",
    "type",
    "step",
    "actor",
    "role",
    "at",
    "at_utc",
    "state_before",
    "state_after",
    "applied",
    "deviations",
    *DEVIATION_KINDS,
)

PROGRAMME_COLUMNS = (
    "programme",
    "definition",
    "state",
    "completed",
    "ended",
    "conforming",
    "events",
    "started_at",
    "last_at",
    "days",
    "deviations",
    *DEVIATION_KINDS,
    "days_late_total",
    "days_late_max",
    "bad_lines",
)


def _utc(moment: datetime) -> str:
    """The instant in UTC to the microsecond, as ``at`` keeps it (milliseconds lost order
    between events in the same millisecond)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def write_json(
    programmes: Sequence[ProgrammeReplay],
    problems: Sequence[HistoryError],
    stream: IO[str],
    *,
    summary_only: bool = False,
) -> None:
    """Every programme (with its events unless ``summary_only``), the summary and bad lines."""
    out: dict[str, Any] = {
        "summary": summarise(programmes),
        "programmes": [p.to_dict(events=not summary_only) for p in programmes],
    }
    out["problems"] = [p.to_dict() for p in problems]
    json.dump(out, stream, ensure_ascii=False, indent=1)
    stream.write("\n")


def write_events_csv(programmes: Sequence[ProgrammeReplay], stream: IO[str]) -> None:
    """One row per event, with a 0/1 column per deviation kind."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(EVENT_COLUMNS)
    for p in programmes:
        for r in p.events:
            kinds = set(r.deviations)
            writer.writerow(
                (
                    p.programme,
                    r.seq,
                    r.type,
                    r.step,
                    r.actor,
                    r.role,
                    r.at.isoformat(),
                    _utc(r.at),
                    r.before,
                    r.after,
                    int(r.applied),
                    " ".join(r.deviations),
                    *(int(k in kinds) for k in DEVIATION_KINDS),
                )
            )


def programme_values(p: ProgrammeReplay) -> tuple[Any, ...]:
    """One programme's row of :data:`PROGRAMME_COLUMNS`, typed (bools, datetimes, None):
    the CSV and the Parquet export write the same values."""
    counts = {k: 0 for k in DEVIATION_KINDS}
    for d in p.deviations:
        counts[d.kind] += 1
    late = [d.days for d in p.deviations if d.kind == "late" and d.days is not None]
    first = p.events[0].at if p.events else None
    last = p.events[-1].at if p.events else None
    return (
        p.programme,
        p.definition,
        p.state,
        p.completed,
        p.ended,
        p.conforming,
        len(p.events),
        first,
        last,
        round((last - first).total_seconds() / 86400, 3) if first and last else None,
        len(p.deviations),
        *counts.values(),
        sum(late),
        max(late, default=0),
        len(p.problems),
    )


def _csv_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def write_programmes_csv(programmes: Sequence[ProgrammeReplay], stream: IO[str]) -> None:
    """One row per programme: where it ended, counts of each deviation kind, lateness."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(PROGRAMME_COLUMNS)
    for p in programmes:
        writer.writerow([_csv_cell(value) for value in programme_values(p)])


_XES_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1849-2016" xes.features="nested-attributes" xmlns="http://www.xes-standard.org/">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>
  <extension name="Organizational" prefix="org" uri="http://www.xes-standard.org/org.xesext"/>
  <extension name="Lifecycle" prefix="lifecycle" uri="http://www.xes-standard.org/lifecycle.xesext"/>
  <global scope="trace">
    <string key="concept:name" value="__INVALID__"/>
  </global>
  <global scope="event">
    <string key="concept:name" value="__INVALID__"/>
    <date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/>
    <string key="org:resource" value="__INVALID__"/>
    <string key="org:role" value="__INVALID__"/>
    <string key="lifecycle:transition" value="complete"/>
  </global>
  <classifier name="Activity" keys="concept:name"/>
  <classifier name="ActivityAndRole" keys="concept:name org:role"/>
  <string key="concept:name" value="peerflow replay"/>
"""


def _attr(kind: str, key: str, value: object) -> str:
    """One attribute; anything unprintable is escaped as text, since XML 1.0 cannot hold
    control characters at all (a history's odd step name once made the log unreadable)."""
    return f"<{kind} key={quoteattr(key)} value={quoteattr(one_line(value))}/>"


def write_xes(programmes: Sequence[ProgrammeReplay], stream: IO[str]) -> None:
    """An XES event log: a trace per programme, an event per history event."""
    stream.write(_XES_HEAD)
    for p in programmes:
        stream.write("  <trace>\n")
        stream.write(f"    {_attr('string', 'concept:name', p.programme)}\n")
        if p.definition:
            stream.write(f"    {_attr('string', 'definition', p.definition)}\n")
        if p.state:
            stream.write(f"    {_attr('string', 'final_state', p.state)}\n")
        stream.write(f"    {_attr('boolean', 'completed', str(p.completed).lower())}\n")
        stream.write(f"    {_attr('int', 'deviations', len(p.deviations))}\n")
        for r in p.events:
            stream.write("    <event>\n")
            for kind, key, value in (
                ("string", "concept:name", r.step),
                ("date", "time:timestamp", _utc(r.at)),
                ("string", "org:resource", r.actor),
                ("string", "org:role", r.role),
                ("string", "lifecycle:transition", "complete"),
                ("int", "seq", r.seq),
                ("string", "event_type", r.type),
                ("boolean", "applied", str(r.applied).lower()),
            ):
                stream.write(f"      {_attr(kind, key, value)}\n")
            if r.deviations:
                stream.write(f"      {_attr('string', 'deviations', ' '.join(r.deviations))}\n")
            stream.write("    </event>\n")
        stream.write("  </trace>\n")
    stream.write("</log>\n")


def to_dataframe(programmes: Sequence[ProgrammeReplay], per: str = "event") -> Any:
    """The CSV rows as a pandas DataFrame (``per="event"`` or ``"programme"``).

    pandas is optional (``pip install 'peerflow[pandas]'``); the rows are the CSV's, so a
    notebook and a spreadsheet see the same columns.
    """
    try:
        import pandas  # noqa: PLC0415 - optional, only this helper needs it
    except ImportError:
        raise ImportError(
            "to_dataframe needs pandas: pip install 'peerflow[pandas]' (or write CSV with "
            "`peerflow replay --format csv` and read that)"
        ) from None
    if per not in ("event", "programme"):
        raise ValueError(f"per must be 'event' or 'programme', not {per!r}")
    stream = io.StringIO()
    (write_events_csv if per == "event" else write_programmes_csv)(programmes, stream)
    stream.seek(0)
    return pandas.read_csv(stream, keep_default_na=False, dtype={"programme": str})
