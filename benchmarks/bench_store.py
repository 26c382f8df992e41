"""Store benchmarks, each printed beside a raw insert measured in the same run, same database.

    python benchmarks/bench_store.py [--commands N] [--postgres URL]

For SQLite (a temporary file, WAL, synchronous=FULL) and, given a URL (or
``PEERFLOW_TEST_POSTGRES``), PostgreSQL:

1. strict commands per second: ``Store.record`` (load the programme's state from its
   snapshot, check the step with the engine, append the event, update the snapshot, commit),
   beside a raw single-event insert committed on its own with the same durability settings;
   target: a strict command costs at most twice a raw insert;
2. loading and replaying one programme of 50 events (read its events, fold them).

Nothing here asserts: it prints.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import peerflow
from peerflow import Actor
from peerflow.engine._registry import example_path
from peerflow.store import Store, open_store

CET = timezone(timedelta(hours=1))
FACILITATOR = Actor("facilitator", "anna-facilitator")


def per_call(func: Callable[[int], None], count: int) -> float:
    start = time.perf_counter()
    for i in range(count):
        func(i)
    return (time.perf_counter() - start) / count


def start_programme(store: Store, programme: str) -> None:
    first = next(e for _, e in peerflow.read_history(example_path("prospect-peer-mentoring")))
    store.append(
        [
            peerflow.Event(
                programme, 0, f"{programme}-0", first.at, first.actor, "start", dict(first.payload)
            )
        ],
        expected_next_seq=0,
    )


def strict_command(store: Store, programme: str) -> Callable[[int], None]:
    def command(i: int) -> None:
        store.record(
            programme,
            "schedule",
            {"date": "orientation_date", "value": f"2027-02-{1 + i % 27:02d}"},
            at=datetime(2027, 1, 11, 10, tzinfo=CET) + timedelta(seconds=i),
            actor=FACILITATOR,
        )

    return command


def body(i: int) -> str:
    return json.dumps(
        {"programme": "raw", "seq": i, "payload": {"value": f"2027-02-{1 + i % 27:02d}"}}
    )


def raw_sqlite(path: str) -> Callable[[int], None]:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute(
        "CREATE TABLE raw (position INTEGER PRIMARY KEY AUTOINCREMENT, programme TEXT, "
        "seq INTEGER, id TEXT UNIQUE, body TEXT, UNIQUE (programme, seq))"
    )

    def insert(i: int) -> None:
        db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO raw (programme, seq, id, body) VALUES (?, ?, ?, ?)",
            ("raw", i, str(uuid.uuid4()), body(i)),
        )
        db.execute("COMMIT")

    return insert


def raw_postgres(url: str) -> Callable[[int], None]:
    import psycopg  # noqa: PLC0415 - only with a server

    db = psycopg.connect(url, autocommit=True)
    table = f"raw_{uuid.uuid4().hex[:8]}"
    db.execute(
        f"CREATE TABLE {table} (position BIGSERIAL PRIMARY KEY, programme TEXT, seq INTEGER, "
        "id TEXT UNIQUE, body TEXT, UNIQUE (programme, seq))"
    )

    def insert(i: int) -> None:
        with db.transaction():
            db.execute(
                f"INSERT INTO {table} (programme, seq, id, body) VALUES (%s, %s, %s, %s)",
                ("raw", i, str(uuid.uuid4()), body(i)),
            )

    return insert


def fresh_postgres(url: str) -> str:
    import psycopg  # noqa: PLC0415 - only with a server

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


ROUNDS = 10
"""Raw inserts and strict commands alternate in this many blocks (A, B, A, B, ...): a disk
that slows down mid-run then slows both alike (run one after the other, the ratio once swung
from 0.55 to 11.8 between runs)."""


def interleaved(
    raw: Callable[[int], None], command: Callable[[int], None], count: int
) -> tuple[float, float, list[float]]:
    """Median per-call time of each, and the ratio of each round (strict / raw)."""
    per = max(1, count // ROUNDS)
    raw_times, strict_times = [], []
    offset = 1
    for _ in range(ROUNDS):
        base = offset
        raw_times.append(per_call(lambda i, base=base: raw(base + i), per))
        strict_times.append(per_call(lambda i, base=base: command(base + i), per))
        offset += per
    ratios = [s / r for s, r in zip(strict_times, raw_times, strict=True)]
    return statistics.median(raw_times), statistics.median(strict_times), ratios


def bench(name: str, url: str, raw: Callable[[int], None], count: int) -> None:
    with open_store(url) as store:
        start_programme(store, "bench")
        command = strict_command(store, "bench")
        command(0), raw(0)  # warm up: connections, caches, compiled definition
        raw_time, strict_time, ratios = interleaved(raw, command, count)
        print(f"\n{name}")
        print(f"  raw single-event insert   {raw_time * 1e3:8.3f} ms  ({1 / raw_time:,.0f}/s)")
        print(
            f"  strict command            {strict_time * 1e3:8.3f} ms  ({1 / strict_time:,.0f}/s)"
        )
        print(
            f"  ratio {strict_time / raw_time:.2f} (target <= 2; medians of {ROUNDS} "
            f"interleaved rounds, each round {min(ratios):.2f} to {max(ratios):.2f})"
        )
        start_programme(store, "fifty")
        fifty = strict_command(store, "fifty")
        for i in range(49):
            fifty(i)
        assert len(store.events("fifty")) == 50

        def load_and_replay(_: int) -> None:
            peerflow.fold(store.events("fifty"))

        replay_time = per_call(load_and_replay, 200)
        print(f"  load and replay one programme of 50 events: {replay_time * 1e3:.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument(
        "--postgres", metavar="URL", default=os.environ.get("PEERFLOW_TEST_POSTGRES")
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench(
            "SQLite (WAL, synchronous=FULL)",
            str(Path(tmp) / "store.sqlite3"),
            raw_sqlite(str(Path(tmp) / "raw.sqlite3")),
            args.commands,
        )
    if args.postgres:
        bench(
            "PostgreSQL", fresh_postgres(args.postgres), raw_postgres(args.postgres), args.commands
        )
    else:
        print("\nPostgreSQL: not measured (give --postgres URL or set PEERFLOW_TEST_POSTGRES)")


if __name__ == "__main__":
    main()
