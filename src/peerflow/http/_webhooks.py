"""Webhooks: each recorded event and each deadline reminder, pushed to the portals that ask.

A portal subscribes a URL (``POST /webhooks``) and receives, signed per Standard Webhooks
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature``; the secret is shown once, at
subscription), a message for every event of its programmes and, if it asks, reminders of
deadlines due within N days and of deadlines passed.

The outbox is a small SQLite database of the service's own (``--webhooks FILE``). One pass
(:meth:`Outbox.run_once`) does three things, each in its own transaction:

1. takes every event after the subscription's cursor in the store's global order (commit
   order), writes one message per event and moves the cursor, in the same transaction: an
   event is queued exactly once, and a crash between two passes loses nothing;
2. works out the reminders at the service's clock (the engine takes time as an input; the
   service is where "now" is read) and queues each (programme, deadline, moment, kind) once;
3. sends what is due, each message taken first with a lease (several workers may share one
   outbox: each message goes out from one of them): a 2xx answer delivers it; anything else
   (an error, a timeout, no answer) is tried again after an exponential backoff, with the
   same ``webhook-id``, up to :data:`MAX_ATTEMPTS`; every attempt is logged
   (``GET /webhooks/{id}/deliveries``).

Delivery is at least once: a receiver that answered too slowly may see a message twice, with
the same ``webhook-id``, by which it recognises it.
"""

from __future__ import annotations

import base64
import json
import secrets
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs

from peerflow._ics import deadline_uid
from peerflow.store._store import Store

MAX_ATTEMPTS = 10
"""After this many failed attempts a message is given up (and stays in the log as failed)."""
FIRST_RETRY = timedelta(seconds=5)
LONGEST_WAIT = timedelta(hours=6)
TIMEOUT_SECONDS = 10.0
LEASE = timedelta(seconds=60)
"""How long a pass holds a message it is sending (longer than a send can take)."""
KINDS = ("event", "reminder")

SCHEMA = """
CREATE TABLE IF NOT EXISTS subscriptions (
    id TEXT PRIMARY KEY,
    portal TEXT NOT NULL,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    kinds TEXT NOT NULL,
    reminder_days INTEGER NOT NULL,
    cursor INTEGER NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    subscription TEXT NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created TEXT NOT NULL,
    next_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending'
);
CREATE INDEX IF NOT EXISTS messages_due ON messages (status, next_at);
CREATE TABLE IF NOT EXISTS attempts (
    message TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    at TEXT NOT NULL,
    status_code INTEGER,
    error TEXT
);
"""


@attrs.frozen
class Subscription:
    id: str
    portal: str
    url: str
    kinds: tuple[str, ...]
    reminder_days: int
    created: datetime


@attrs.frozen
class Attempt:
    message: str
    kind: str
    at: datetime
    status_code: int | None
    error: str | None
    status: str
    """The message's status now: pending (to be tried again), delivered or failed."""


Send = Callable[[str, dict[str, str], bytes], int]
"""POST ``body`` with ``headers`` to ``url``; the status code (raises on no answer)."""


def http_sender(timeout: float = TIMEOUT_SECONDS) -> Send:
    """POST with httpx, giving up on an answer after ``timeout`` seconds (a retry then)."""
    import httpx  # noqa: PLC0415 - the server extra

    def send(url: str, headers: dict[str, str], body: bytes) -> int:
        answer = httpx.post(url, content=body, headers=headers, timeout=timeout)
        return answer.status_code

    return send


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s, ... at most 6 hours."""
    return min(FIRST_RETRY * (1 << min(max(attempts - 1, 0), 20)), LONGEST_WAIT)


class Outbox:
    """Subscriptions, queued messages and the delivery log, in one SQLite file."""

    def __init__(self, path: str | Path, store: Store, send: Send | None = None) -> None:
        self.path, self.store = str(path), store
        self.send = send if send is not None else http_sender()
        self._local = threading.local()
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA foreign_keys = ON")
            self._local.db = db
        yield db

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # --- subscriptions ------------------------------------------------------------------------

    def subscribe(
        self, portal: str, url: str, kinds: tuple[str, ...], reminder_days: int, now: datetime
    ) -> tuple[Subscription, str]:
        """A new subscription from the store's current end (earlier events are not sent)
        and its secret, shown only now."""
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        cursor = max((position for position, _ in self.store.export(0)), default=0)
        sub = Subscription(f"sub_{uuid.uuid4().hex}", portal, url, kinds, reminder_days, now)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO subscriptions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    sub.id,
                    portal,
                    url,
                    secret,
                    ",".join(kinds),
                    reminder_days,
                    cursor,
                    now.isoformat(),
                ),
            )
        return sub, secret

    def subscriptions(self, portal: str | None = None) -> list[Subscription]:
        with self._db() as db:
            rows = db.execute(
                "SELECT id, portal, url, kinds, reminder_days, created FROM subscriptions"
                + (" WHERE portal = ?" if portal is not None else "")
                + " ORDER BY created, id",
                (portal,) if portal is not None else (),
            ).fetchall()
        return [
            Subscription(
                r[0], r[1], r[2], tuple(r[3].split(",")), r[4], datetime.fromisoformat(r[5])
            )
            for r in rows
        ]

    def unsubscribe(self, portal: str, subscription: str) -> bool:
        with self._transaction() as db:
            done = db.execute(
                "DELETE FROM subscriptions WHERE id = ? AND portal = ?", (subscription, portal)
            )
            return done.rowcount > 0

    def log(self, subscription: str, limit: int = 100) -> list[Attempt]:
        """The latest attempts, newest first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT a.message, m.kind, a.at, a.status_code, a.error, m.status"
                " FROM attempts a JOIN messages m ON m.id = a.message"
                " WHERE m.subscription = ? ORDER BY a.rowid DESC LIMIT ?",
                (subscription, limit),
            ).fetchall()
        return [Attempt(r[0], r[1], datetime.fromisoformat(r[2]), r[3], r[4], r[5]) for r in rows]

    # --- one pass -------------------------------------------------------------------------------

    def run_once(self, now: datetime, sees: Callable[[str, str], bool]) -> int:
        """Queue new events and reminders, then send what is due; the number of attempts.
        ``sees(portal, programme)`` is the portals' scope."""
        for sub in self.subscriptions():
            if "event" in sub.kinds:
                self._queue_events(sub, now, sees)
            if "reminder" in sub.kinds:
                self._queue_reminders(sub, now, sees)
        return self._send_due(now)

    def _queue_events(
        self, sub: Subscription, now: datetime, sees: Callable[[str, str], bool]
    ) -> None:
        with self._transaction() as db:
            row = db.execute("SELECT cursor FROM subscriptions WHERE id = ?", (sub.id,)).fetchone()
            if row is None:
                return
            cursor = row[0]
            for position, event in self.store.export(cursor):
                cursor = position
                if not sees(sub.portal, event.programme):
                    continue
                body = {"type": "event.recorded", "position": position, "data": event.to_json()}
                self._queue(db, f"msg_{sub.id[4:]}_{position}", sub.id, "event", body, now)
            db.execute("UPDATE subscriptions SET cursor = ? WHERE id = ?", (cursor, sub.id))

    def _queue_reminders(
        self, sub: Subscription, now: datetime, sees: Callable[[str, str], bool]
    ) -> None:
        horizon = now + timedelta(days=sub.reminder_days)
        with self._transaction() as db:
            for item in self.store.agenda(now, horizon - now):
                if not sees(sub.portal, item.programme):
                    continue
                d = item.deadline
                kind = "deadline.overdue" if d.overdue else "deadline.due_soon"
                uid = deadline_uid(item.programme, d.kind, d.name, d.advisory)
                key = f"{sub.id}|{uid}|{d.due_at.isoformat()}|{kind}"
                message = "msg_" + uuid.uuid5(uuid.NAMESPACE_URL, key).hex
                body = {"type": kind, "programme": item.programme, "data": d.to_dict()}
                self._queue(db, message, sub.id, "reminder", body, now)

    @staticmethod
    def _queue(
        db: sqlite3.Connection, message: str, sub: str, kind: str, body: Any, now: datetime
    ) -> None:
        """Once per message id: queuing it again changes nothing."""
        db.execute(
            "INSERT OR IGNORE INTO messages (id, subscription, kind, body, created, next_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                message,
                sub,
                kind,
                json.dumps(body, ensure_ascii=False, sort_keys=True),
                now.isoformat(),
                _utc(now),
            ),
        )

    def _send_due(self, now: datetime) -> int:
        from standardwebhooks import Webhook  # noqa: PLC0415 - the server extra

        with self._db() as db:
            due = db.execute(
                "SELECT m.id, m.body, m.attempts, s.url, s.secret FROM messages m"
                " JOIN subscriptions s ON s.id = m.subscription"
                " WHERE m.status = 'pending' AND m.next_at <= ? ORDER BY m.created, m.id",
                (_utc(now),),
            ).fetchall()
        sent = 0
        for message, body, attempts, url, secret in due:
            if not self._claim(message, now):
                continue  # another worker on this outbox is sending it
            sent += 1
            data = body.encode("utf-8")
            headers = {
                "content-type": "application/json",
                "webhook-id": message,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": Webhook(secret).sign(message, now, data),
            }
            code: int | None = None
            error: str | None = None
            try:
                code = self.send(url, headers, data)
            except Exception as exc:
                error = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            tries = attempts + 1
            if code is not None and 200 <= code < 300:
                status, next_at = "delivered", now
            elif tries >= MAX_ATTEMPTS:
                status, next_at = "failed", now
            else:
                status, next_at = "pending", now + backoff(tries)
            with self._transaction() as tx:
                tx.execute(
                    "UPDATE messages SET attempts = ?, status = ?, next_at = ? WHERE id = ?",
                    (tries, status, _utc(next_at), message),
                )
                tx.execute(
                    "INSERT INTO attempts VALUES (?, ?, ?, ?)",
                    (message, now.isoformat(), code, error),
                )
        return sent

    def _claim(self, message: str, now: datetime) -> bool:
        """Take a due message for this pass: its next try moves a lease ahead, so another
        worker's pass leaves it alone, and if this one dies while sending, the message is due
        again when the lease ends (at least once, still)."""
        with self._transaction() as tx:
            taken = tx.execute(
                "UPDATE messages SET next_at = ? WHERE id = ? AND status = 'pending'"
                " AND next_at <= ?",
                (_utc(now + LEASE), message, _utc(now)),
            )
            return taken.rowcount == 1


def _utc(moment: datetime) -> str:
    """Moments compared as text are compared in one zone."""
    return moment.astimezone(UTC).isoformat()
