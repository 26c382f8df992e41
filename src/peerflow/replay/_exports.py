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
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import IO, Any
from xml.sax.saxutils import quoteattr

from peerflow._errors import HistoryError
from peerflow.events._envelope import one_line
from peerflow.replay._audit import DEVIATION_KINDS, ProgrammeReplay
from peerflow.replay._stats import summarise, summary_text

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
    blocks = (programme_block(p, "json", summary_only) for p in programmes)
    write_json_blocks(summarise(programmes), blocks, problems, stream)


def write_json_blocks(
    summary: dict[str, Any],
    blocks: Iterable[str],
    problems: Sequence[HistoryError],
    stream: IO[str],
) -> None:
    """The JSON report from programmes already rendered (:func:`programme_block`): byte for
    byte what ``json.dump(..., indent=1)`` writes of the whole, one programme at a time."""
    stream.write('{\n "summary": ' + _json_at(summary, 1) + ',\n "programmes": [')
    separator = "\n  "
    for block in blocks:
        stream.write(separator + block)
        separator = ",\n  "
    stream.write("]" if separator == "\n  " else "\n ]")
    problems_json = [p.to_dict() for p in problems]
    stream.write(',\n "problems": ' + _json_at(problems_json, 1) + "\n}\n")


def _json_at(value: object, depth: int) -> str:
    """``value`` as ``json.dump(indent=1)`` writes it ``depth`` levels down (JSON strings
    hold no raw line breaks, so every line break is the layout's)."""
    return json.dumps(value, ensure_ascii=False, indent=1).replace("\n", "\n" + " " * depth)


def programme_block(p: ProgrammeReplay, fmt: str, summary_only: bool = False) -> str:
    """One programme's part of a report in ``fmt`` (text, json, csv or xes), so that reports
    can be made a programme at a time, in separate processes, and joined in programme order."""
    if fmt == "json":
        return _json_at(p.to_dict(events=not summary_only), 2)
    if fmt == "text":
        return text_line(p) + "\n"
    stream = io.StringIO()
    if fmt == "xes":
        _write_trace(p, stream)
    elif summary_only:
        csv.writer(stream, lineterminator="\n").writerow(
            [_csv_cell(value) for value in programme_values(p)]
        )
    else:
        _write_event_rows(csv.writer(stream, lineterminator="\n"), p)
    return stream.getvalue()


REPORT_FORMATS = ("text", "json", "csv", "xes")
"""The reports made a programme at a time (:func:`programme_block`, :func:`write_report`)."""


def write_report(
    fmt: str,
    summary_only: bool,
    blocks: Iterable[str],
    summary: dict[str, Any] | None,
    problems: Sequence[HistoryError],
    stream: IO[str],
) -> None:
    """A whole report in ``fmt`` from its programmes' blocks, in programme order; the
    summary is needed by text and json."""
    if fmt == "json":
        assert summary is not None
        write_json_blocks(summary, blocks, problems, stream)
        return
    if fmt == "csv":
        header = PROGRAMME_COLUMNS if summary_only else EVENT_COLUMNS
        csv.writer(stream, lineterminator="\n").writerow(header)
    elif fmt == "xes":
        stream.write(XES_HEAD)
    if not (fmt == "text" and summary_only):
        stream.writelines(blocks)
    if fmt == "xes":
        stream.write(XES_TAIL)
    elif fmt == "text":
        assert summary is not None
        print(summary_text(summary), file=stream)


def not_replayed_text(p: ProgrammeReplay) -> str:
    """Why a programme could not be replayed at all, for standard error."""
    why = "; ".join(f"seq {d.seq}: {d.detail}" for d in p.deviations) or "it has no start event"
    later = f" ({p.left_out} later event(s) left out)" if p.left_out else ""
    return f"programme '{p.programme}' not replayed: {why}{later}"


def text_line(p: ProgrammeReplay) -> str:
    """A programme's line in the text report: where it ended and its deviations by kind."""
    kinds = Counter(d.kind for d in p.deviations)
    said = ", ".join(f"{k} {n}" for k, n in kinds.items()) or "conforming"
    cut = f"; cut at a bad line ({len(p.problems)})" if p.problems else ""
    return f"{p.programme}: {p.state or 'not started'}; {said}{cut}"


def write_events_csv(programmes: Sequence[ProgrammeReplay], stream: IO[str]) -> None:
    """One row per event, with a 0/1 column per deviation kind."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(EVENT_COLUMNS)
    for p in programmes:
        _write_event_rows(writer, p)


def _write_event_rows(writer: Any, p: ProgrammeReplay) -> None:
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


XES_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
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


XES_TAIL = "</log>\n"


def _attr(kind: str, key: str, value: object) -> str:
    """One attribute; anything unprintable is escaped as text, since XML 1.0 cannot hold
    control characters at all (a history's odd step name once made the log unreadable)."""
    return f"<{kind} key={quoteattr(key)} value={quoteattr(one_line(value))}/>"


def write_xes(programmes: Sequence[ProgrammeReplay], stream: IO[str]) -> None:
    """An XES event log: a trace per programme, an event per history event."""
    stream.write(XES_HEAD)
    for p in programmes:
        _write_trace(p, stream)
    stream.write(XES_TAIL)


def _write_trace(p: ProgrammeReplay, stream: IO[str]) -> None:
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
