"""The SQLite backend: one file, no server, safe for many processes on one machine.

WAL mode lets readers go on while one writer writes; ``BEGIN IMMEDIATE`` takes the write lock
before the transaction reads anything, so the version a write checks is the version it writes
after; ``synchronous=FULL`` makes a commit durable before it returns; a busy timeout makes a
second writer wait its turn instead of failing at once.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from peerflow.events._envelope import Event
from peerflow.store._backend import ProgrammeRow, StoreError
from peerflow.store._sqlreads import PROGRAMME_COLUMNS, TABLES, SqlReads

SCHEMA = (
    TABLES
    + """
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    programme TEXT NOT NULL REFERENCES programmes (programme),
    seq INTEGER NOT NULL,
    id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    UNIQUE (programme, seq)
);
"""
)


class SQLiteTransaction:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.db = connection

    def programme(self, programme: str) -> ProgrammeRow | None:
        row = self.db.execute(
            f"SELECT {PROGRAMME_COLUMNS} FROM programmes WHERE programme = ?", (programme,)
        ).fetchone()
        return None if row is None else ProgrammeRow(*row)

    def event_position(self, event_id: str) -> tuple[str, int] | None:
        row = self.db.execute(
            "SELECT programme, seq FROM events WHERE id = ?", (event_id,)
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def insert_events(self, events: Sequence[Event]) -> None:
        self.db.executemany(
            "INSERT INTO events (programme, seq, id, body) VALUES (?, ?, ?, ?)",
            [(e.programme, e.seq, e.id, e.to_line()) for e in events],
        )

    def save_programme(self, row: ProgrammeRow, new: bool) -> None:
        values = row.stored_after_programme()
        if new:
            self.db.execute(
                f"INSERT INTO programmes ({PROGRAMME_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (row.programme, *values),
            )
        else:
            self.db.execute(
                "UPDATE programmes SET definition = ?, version = ?, digest = ?, state = ?, "
                "next_seq = ?, snapshot = ? WHERE programme = ?",
                (*values, row.programme),
            )

    def save_definition(self, digest: str, definition_id: str, version: int, text: str) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO definitions (digest, id, version, text) VALUES (?, ?, ?, ?)",
            (digest, definition_id, version, text),
        )


class SQLiteBackend(SqlReads):
    """A store in one SQLite file; each thread gets its own connection."""

    def __init__(
        self, path: str | Path, busy_timeout_ms: int = 30_000, *, create: bool = True
    ) -> None:
        """``create=False`` opens an existing store only: a read never leaves an empty store
        behind where a path was mistyped."""
        self.path = str(path)
        self.busy_timeout_ms = busy_timeout_ms
        self.create = create
        if not create and not Path(self.path).is_file():
            raise StoreError(
                f"no store at {self.path}: give the store with --db (or $PEERFLOW_DB), "
                "or create one with 'peerflow new' or 'peerflow import'"
            )
        self._local = threading.local()
        with self._connection() as db:  # create the schema once, up front
            try:
                db.executescript(SCHEMA)
            except sqlite3.Error as exc:  # a read-only file, ...
                self.close()
                raise StoreError(f"cannot use {self.path} as a SQLite store: {exc}") from None

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            target = self.path if self.create else f"{Path(self.path).resolve().as_uri()}?mode=rw"
            try:
                db = sqlite3.connect(
                    target,
                    isolation_level=None,
                    timeout=self.busy_timeout_ms / 1000,
                    uri=not self.create,
                )
                db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = FULL")
                db.execute("PRAGMA foreign_keys = ON")
            except sqlite3.Error as exc:  # "file is not a database", a directory, ...
                raise StoreError(f"cannot use {self.path} as a SQLite store: {exc}") from None
            self._local.db = db
        yield db

    @contextmanager
    def write(self, programme: str) -> Iterator[SQLiteTransaction]:
        """A write transaction: the database's write lock is taken before anything is read."""
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield SQLiteTransaction(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            try:
                db.execute("COMMIT")
            except sqlite3.Error:
                db.execute("ROLLBACK")
                raise
