"""Replays as Parquet tables, with pm4py's column names, for pandas, DuckDB, Spark and pm4py.

Three tables, one file each in a folder: ``events`` (every history event with the state
after it and its deviation kinds), ``deviations`` (one row per deviation, with days late or
early) and ``programmes`` (the programmes CSV's columns, typed). Columns that pm4py knows
take its names: ``case:concept:name`` (the programme), ``concept:name`` (the step),
``time:timestamp`` (UTC, microseconds), ``org:resource``, ``org:role``,
``lifecycle:transition``; ``pm4py.read_parquet``/``pandas.read_parquet`` read them as an
event log with no renaming.

pyarrow is an optional extra (``pip install 'peerflow[parquet]'``); nothing else in peerflow
needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

from peerflow.replay._audit import ProgrammeReplay
from peerflow.replay._exports import PROGRAMME_COLUMNS, programme_values

CASE, ACTIVITY, TIMESTAMP = "case:concept:name", "concept:name", "time:timestamp"
TABLES = ("events", "deviations", "programmes")


def _pyarrow() -> Any:
    try:
        import pyarrow  # noqa: PLC0415 - optional, only this export needs it
    except ImportError:
        raise ImportError(
            "the Parquet export needs pyarrow: pip install 'peerflow[parquet]' (or write CSV "
            "with `peerflow replay --format csv` and convert that)"
        ) from None
    return pyarrow


def tables(programmes: Sequence[ProgrammeReplay]) -> dict[str, Any]:
    """The three tables as ``pyarrow.Table`` objects, by name (see the module's text)."""
    pa = _pyarrow()
    events: dict[str, list[Any]] = {
        name: []
        for name in (
            CASE,
            ACTIVITY,
            TIMESTAMP,
            "org:resource",
            "org:role",
            "lifecycle:transition",
            "seq",
            "event_type",
            "state_before",
            "state_after",
            "applied",
            "deviations",
            "case:definition",
        )
    }
    columns = list(events.values())
    for p in programmes:
        for r in p.events:
            for column, value in zip(
                columns,
                (
                    p.programme,
                    r.step,
                    r.at.astimezone(UTC),
                    r.actor,
                    r.role,
                    "complete",
                    r.seq,
                    r.type,
                    r.before,
                    r.after,
                    r.applied,
                    list(r.deviations),
                    p.definition,
                ),
                strict=True,
            ):
                column.append(value)
    utc = pa.timestamp("us", tz="UTC")
    text = pa.string()
    event_schema = pa.schema(
        [
            (name, utc if name == TIMESTAMP else kind)
            for name, kind in zip(
                events,
                (
                    text,
                    text,
                    utc,
                    text,
                    text,
                    text,
                    pa.int64(),
                    text,
                    text,
                    text,
                    pa.bool_(),
                    pa.list_(text),
                    text,
                ),
                strict=True,
            )
        ]
    )
    deviations: dict[str, list[Any]] = {
        name: []
        for name in (CASE, "seq", "kind", ACTIVITY, "detail", "days", "working_days", "reason")
    }
    rows = list(deviations.values())
    for p in programmes:
        for d in p.deviations:
            for column, value in zip(
                rows,
                (p.programme, d.seq, d.kind, d.step, d.detail, d.days, d.working_days, d.reason),
                strict=True,
            ):
                column.append(value)
    deviation_schema = pa.schema(
        [
            (CASE, text),
            ("seq", pa.int64()),
            ("kind", text),
            (ACTIVITY, text),
            ("detail", text),
            ("days", pa.int64()),
            ("working_days", pa.int64()),
            ("reason", text),
        ]
    )
    values = [programme_values(p) for p in programmes]
    names = [CASE if name == "programme" else name for name in PROGRAMME_COLUMNS]
    kinds = {
        "definition": text,
        "state": text,
        "completed": pa.bool_(),
        "ended": pa.bool_(),
        "conforming": pa.bool_(),
        "started_at": utc,
        "last_at": utc,
        "days": pa.float64(),
    }
    programme_schema = pa.schema(
        [(name, kinds.get(name, text if name == CASE else pa.int64())) for name in names]
    )
    by_column = [list(column) for column in zip(*values, strict=True)] or [[] for _ in names]
    return {
        "events": pa.table(events, schema=event_schema),
        "deviations": pa.table(deviations, schema=deviation_schema),
        "programmes": pa.Table.from_arrays(
            [pa.array(c, type=t) for c, t in zip(by_column, programme_schema.types, strict=True)],
            schema=programme_schema,
        ),
    }


def write_parquet(programmes: Sequence[ProgrammeReplay], folder: str | Path) -> list[Path]:
    """``events.parquet``, ``deviations.parquet`` and ``programmes.parquet`` in ``folder``
    (made if missing); returns the paths written."""
    from pyarrow import parquet  # noqa: PLC0415 - optional

    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in tables(programmes).items():
        path = target / f"{name}.parquet"
        parquet.write_table(table, path)
        written.append(path)
    return written
