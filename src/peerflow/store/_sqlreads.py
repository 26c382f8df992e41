"""The reads every SQL backend shares: the same queries, only the parameter marker differs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

from peerflow.store._backend import ProgrammeRow

PROGRAMME_COLUMNS = "programme, definition, version, digest, state, next_seq, snapshot"

TABLES = """
CREATE TABLE IF NOT EXISTS definitions (
    digest TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS programmes (
    programme TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    version INTEGER NOT NULL,
    digest TEXT NOT NULL REFERENCES definitions (digest),
    state TEXT NOT NULL,
    next_seq INTEGER NOT NULL,
    snapshot TEXT NOT NULL
);
"""
"""The tables both backends share; each adds its own events table (its position column)."""


class SqlReads:
    """Reads outside a write transaction, over a backend's per-thread connection.

    A backend supplies ``_connection()`` (a context manager giving this thread's connection,
    kept in ``self._local.db``) and its parameter ``marker``.
    """

    marker = "?"
    _local: threading.local

    def _connection(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._connection() as db:
            return list(db.execute(sql, params).fetchall())

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        return self._rows(sql.replace("?", self.marker), params)

    def read_events(self, programme: str, start: int, stop: int | None) -> list[str]:
        rows = self._query(
            "SELECT body FROM events WHERE programme = ? AND seq >= ? AND seq < ? ORDER BY seq",
            (programme, start, stop if stop is not None else 2**62),
        )
        return [str(r[0]) for r in rows]

    def programme(self, programme: str) -> ProgrammeRow | None:
        rows = self._query(
            f"SELECT {PROGRAMME_COLUMNS} FROM programmes WHERE programme = ?", (programme,)
        )
        return ProgrammeRow(*rows[0]) if rows else None

    def programmes(self) -> list[ProgrammeRow]:
        rows = self._query(f"SELECT {PROGRAMME_COLUMNS} FROM programmes ORDER BY programme")
        return [ProgrammeRow(*r) for r in rows]

    def definition_text(self, digest: str) -> str | None:
        rows = self._query("SELECT text FROM definitions WHERE digest = ?", (digest,))
        return str(rows[0][0]) if rows else None

    def all_events(self, after: int) -> Iterator[tuple[int, str]]:
        rows = self._query(
            "SELECT position, body FROM events WHERE position > ? ORDER BY position", (after,)
        )
        yield from ((int(p), str(b)) for p, b in rows)
