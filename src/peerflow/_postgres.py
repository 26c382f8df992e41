"""The PostgreSQL backend (psycopg 3): the same schema and behaviour as SQLite, many hosts.

A write transaction first takes a transaction-scoped advisory lock on the programme, so the
version it reads is the version it writes after (two writers of one programme queue; writers
of different programmes do not). Just before inserting it locks the events table in EXCLUSIVE
mode (readers go on): inserts then commit one at a time, so global positions follow commit
order, which a reader tailing the table by position relies on. The unique keys on
(programme, seq) and on the event id stay as the last line of defence.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

try:
    import psycopg
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "the PostgreSQL store needs psycopg 3: pip install 'peerflow[postgres]'"
    ) from exc

from peerflow._events import Event
from peerflow._store import ConcurrencyError, ProgrammeRow, StoreError

SCHEMA = """
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
CREATE TABLE IF NOT EXISTS events (
    position BIGSERIAL PRIMARY KEY,
    programme TEXT NOT NULL REFERENCES programmes (programme),
    seq INTEGER NOT NULL,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    UNIQUE (programme, seq)
);
"""

_PROGRAMME_COLUMNS = "programme, definition, version, digest, state, next_seq, snapshot"


class PostgresTransaction:
    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self.cur = cursor

    def programme(self, programme: str) -> ProgrammeRow | None:
        self.cur.execute(
            f"SELECT {_PROGRAMME_COLUMNS} FROM programmes WHERE programme = %s", (programme,)
        )
        row = self.cur.fetchone()
        return None if row is None else ProgrammeRow(*row)

    def event_position(self, event_id: str) -> tuple[str, int] | None:
        self.cur.execute("SELECT programme, seq FROM events WHERE id = %s", (event_id,))
        row = self.cur.fetchone()
        return None if row is None else (row[0], row[1])

    def insert_events(self, events: Sequence[Event]) -> None:
        self.cur.execute("LOCK TABLE events IN EXCLUSIVE MODE")
        self.cur.executemany(
            "INSERT INTO events (programme, seq, id, body) VALUES (%s, %s, %s, %s)",
            [(e.programme, e.seq, e.id, e.to_line()) for e in events],
        )

    def save_programme(self, row: ProgrammeRow, new: bool) -> None:
        values = (row.definition, row.version, row.digest, row.state, row.next_seq, row.snapshot)
        if new:
            self.cur.execute(
                f"INSERT INTO programmes ({_PROGRAMME_COLUMNS}) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (row.programme, *values),
            )
        else:
            self.cur.execute(
                "UPDATE programmes SET definition = %s, version = %s, digest = %s, state = %s, "
                "next_seq = %s, snapshot = %s WHERE programme = %s",
                (*values, row.programme),
            )

    def save_definition(self, digest: str, definition_id: str, version: int, text: str) -> None:
        self.cur.execute(
            "INSERT INTO definitions (digest, id, version, text) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (digest) DO NOTHING",
            (digest, definition_id, version, text),
        )


class PostgresBackend:
    """A store in a PostgreSQL database; each thread gets its own connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()
        with self._connection() as db, db.transaction():
            # one schema creator at a time: CREATE TABLE IF NOT EXISTS is not safe to race
            db.execute("SELECT pg_advisory_xact_lock(7041977)")
            db.execute(SCHEMA)

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        db: psycopg.Connection[Any] | None = getattr(self._local, "db", None)
        if db is None or db.closed:
            try:
                db = psycopg.connect(self.url, autocommit=True)
            except psycopg.Error as exc:
                raise StoreError(f"cannot connect to the PostgreSQL store: {exc}") from None
            self._local.db = db
        yield db

    @contextmanager
    def write(self, programme: str) -> Iterator[PostgresTransaction]:
        with self._connection() as db:
            try:
                with db.transaction(), db.cursor() as cur:
                    cur.execute(
                        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (programme,)
                    )
                    yield PostgresTransaction(cur)
            except psycopg.errors.UniqueViolation:  # the last line of defence
                row = self.programme(programme)
                raise ConcurrencyError(programme, None, row.next_seq if row else 0) from None

    def read_events(self, programme: str, start: int, stop: int | None) -> list[str]:
        with self._connection() as db:
            rows = db.execute(
                "SELECT body FROM events WHERE programme = %s AND seq >= %s AND seq < %s "
                "ORDER BY seq",
                (programme, start, stop if stop is not None else 2**62),
            ).fetchall()
        return [r[0] for r in rows]

    def programme(self, programme: str) -> ProgrammeRow | None:
        with self._connection() as db, db.cursor() as cur:
            return PostgresTransaction(cur).programme(programme)

    def programmes(self) -> list[ProgrammeRow]:
        with self._connection() as db:
            rows = db.execute(
                f"SELECT {_PROGRAMME_COLUMNS} FROM programmes ORDER BY programme"
            ).fetchall()
        return [ProgrammeRow(*r) for r in rows]

    def definition_text(self, digest: str) -> str | None:
        with self._connection() as db:
            row = db.execute("SELECT text FROM definitions WHERE digest = %s", (digest,)).fetchone()
        return None if row is None else str(row[0])

    def all_events(self, after: int) -> Iterator[tuple[int, str]]:
        with self._connection() as db:
            rows = db.execute(
                "SELECT position, body FROM events WHERE position > %s ORDER BY position", (after,)
            ).fetchall()
        yield from ((int(p), str(b)) for p, b in rows)

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
