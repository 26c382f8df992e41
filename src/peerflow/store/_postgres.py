"""The PostgreSQL backend (psycopg 3): the same schema and behaviour as SQLite, many hosts.

A write transaction reads the programme's row ``FOR UPDATE`` (a programme not created yet
is guarded by an advisory lock on its name), so the version it reads is the version it writes
after: two writers of one programme queue, writers of different programmes do not. Its writes
go out with ``COMMIT`` in one pipeline, starting with a lock on the events table in EXCLUSIVE
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

from peerflow.events._envelope import Event
from peerflow.store._backend import ConcurrencyError, ProgrammeRow, StoreError
from peerflow.store._sqlreads import PROGRAMME_COLUMNS, TABLES, SqlReads

SCHEMA = (
    TABLES
    + """
CREATE TABLE IF NOT EXISTS events (
    position BIGSERIAL PRIMARY KEY,
    programme TEXT NOT NULL REFERENCES programmes (programme),
    seq INTEGER NOT NULL,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    UNIQUE (programme, seq)
);
"""
)


class PostgresTransaction:
    """One write transaction, in as few round trips as the work allows.

    ``BEGIN`` goes out with the first read; the writes are queued and go out with ``COMMIT``
    in one pipeline. The programme's row is read ``FOR UPDATE``: that row lock serialises two
    writers of one programme; a programme not created yet is guarded by an advisory lock on
    its name.
    """

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self.db = connection
        self.begun = False
        self.writes: list[tuple[str, Any, bool]] = []

    def _one(self, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        cur = self.db.cursor()
        if self.begun:
            return cur.execute(sql, params).fetchone()
        with self.db.pipeline():
            self.db.execute("BEGIN")
            cur.execute(sql, params)
        self.begun = True
        return cur.fetchone()

    def programme(self, programme: str) -> ProgrammeRow | None:
        query = f"SELECT {PROGRAMME_COLUMNS} FROM programmes WHERE programme = %s FOR UPDATE"
        row = self._one(query, (programme,))
        if row is None:  # not there yet: queue behind any other creator of it, then look again
            self._one("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (programme,))
            row = self._one(query, (programme,))
        return None if row is None else ProgrammeRow(*row)

    def event_position(self, event_id: str) -> tuple[str, int] | None:
        row = self._one("SELECT programme, seq FROM events WHERE id = %s", (event_id,))
        return None if row is None else (row[0], row[1])

    def insert_events(self, events: Sequence[Event]) -> None:
        self.writes.append(("LOCK TABLE events IN EXCLUSIVE MODE", None, False))
        rows = [(e.programme, e.seq, e.id, e.to_line()) for e in events]
        sql = "INSERT INTO events (programme, seq, id, body) VALUES (%s, %s, %s, %s)"
        self.writes.append((sql, rows, True))

    def save_programme(self, row: ProgrammeRow, new: bool) -> None:
        values = row.stored_after_programme()
        if new:
            sql = (
                f"INSERT INTO programmes ({PROGRAMME_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
            )
            self.writes.append((sql, (row.programme, *values), False))
        else:
            sql = (
                "UPDATE programmes SET definition = %s, version = %s, digest = %s, state = %s, "
                "next_seq = %s, snapshot = %s WHERE programme = %s"
            )
            self.writes.append((sql, (*values, row.programme), False))

    def save_definition(self, digest: str, definition_id: str, version: int, text: str) -> None:
        sql = (
            "INSERT INTO definitions (digest, id, version, text) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (digest) DO NOTHING"
        )
        self.writes.append((sql, (digest, definition_id, version, text), False))

    def commit(self) -> None:
        """The queued writes and ``COMMIT``, in one round trip."""
        cur = self.db.cursor()
        with self.db.pipeline():
            if not self.begun:
                self.db.execute("BEGIN")
            for sql, params, many in self.writes:
                if many:
                    cur.executemany(sql, params)
                else:
                    cur.execute(sql, params)
            self.db.execute("COMMIT")

    def rollback(self) -> None:
        if self.db.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            self.db.execute("ROLLBACK")


class PostgresBackend(SqlReads):
    """A store in a PostgreSQL database; each thread gets its own connection."""

    marker = "%s"

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
            tx = PostgresTransaction(db)
            try:
                yield tx
                tx.commit()
            except psycopg.errors.UniqueViolation:  # the last line of defence
                tx.rollback()
                row = self.programme(programme)
                raise ConcurrencyError(programme, None, row.next_seq if row else 0) from None
            except BaseException:
                tx.rollback()
                raise
