"""What the web page's tests share: a store of programmes at several stages, a fixed clock, and
the service running on loopback in a thread (for a real browser).

The programmes are the built-in example histories cut part way (so they stand at different
stages, some with something overdue) and a fresh PROSPECT programme to act in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import uvicorn

import peerflow
from peerflow import Actor
from peerflow.engine._registry import builtin_files, example_path
from peerflow.events._envelope import read_history
from peerflow.http import ServiceConfig, create_app
from peerflow.http._signin import sign_in_link
from peerflow.store import Store, open_store

CET = timezone(timedelta(hours=1))
NOW = datetime(2027, 2, 16, 12, tzinfo=CET)
"""The service's clock in every web test: the day after PROSPECT's two weeks (PM-05) end."""
TOKEN = "web-portal-token-0123456789abcdef"
CONFIG = ServiceConfig.single(TOKEN, name="city-network")
FRESH = "lisbon-2027"
"""A PROSPECT programme started the day before NOW, to act in."""
PEOPLE = [
    ("anna", "facilitator"),
    ("lisbon", "mentor"),
    ("riga", "mentee"),
    ("fin", "finance_coordinator"),
]


def seed(store: Store) -> None:
    """Every built-in's example, cut part way, and the fresh programme."""
    for name in sorted(builtin_files()):
        events = [event for _, event in read_history(example_path(name))]
        if name == "prospect-peer-mentoring":
            kept = [e for e in events if e.at <= datetime(2027, 2, 1, 12, tzinfo=CET)]
        else:
            kept = events[: max(2, len(events) // 2)]
        store.append(kept, expected_next_seq=0)
    store.start(
        peerflow.definition("prospect-peer-mentoring"),
        FRESH,
        at=NOW - timedelta(days=1),
        actor=Actor("facilitator", "anna"),
        participants=PEOPLE,
    )


def link(base: str, participant: str = "anna") -> str:
    return sign_in_link(base, CONFIG.portals[0], participant, NOW + timedelta(hours=8))


@contextmanager
def live_service(db: Path) -> Iterator[tuple[str, Store]]:
    """The service over a seeded store at ``db``, on a free loopback port, in a thread."""
    with open_store(str(db)) as store:
        seed(store)
        app = create_app(store, CONFIG, clock=lambda: NOW)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the service did not start")
            time.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}", store
        finally:
            server.should_exit = True
            thread.join(10)
