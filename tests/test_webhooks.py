"""Webhooks against a real receiver on 127.0.0.1 that fails, times out and recovers.

The outbox's passes are driven by hand with a clock that jumps past each backoff, so the
test is exact and quick: every recorded event reaches the receiver at least once, a
redelivery carries the same ``webhook-id`` and body, every signature is the Standard Webhooks
signature of what was sent, the delivery log shows each failure, reminders go out once per
deadline, and an outbox reopened after a "crash" between passes loses nothing.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from standardwebhooks import Webhook

from peerflow.http import Portal, ServiceConfig, create_app
from peerflow.http._webhooks import Outbox, backoff, http_sender
from peerflow.store import open_store

TOKEN = "webhook-test-token-0123456789abcdef"
OTHER = "webhook-other-token-0123456789abcde"
NOW = datetime(2027, 1, 11, 12, tzinfo=UTC)
CAST = [
    {"id": "anna", "role": "facilitator"},
    {"id": "ghent", "role": "mentor"},
    {"id": "porto", "role": "mentee"},
    {"id": "finance", "role": "finance_coordinator"},
]


class Receiver:
    """Answers by script: a status code, or "hang" (no answer before the sender gives up)."""

    def __init__(self, script: list[int | str]) -> None:
        self.script = script
        self.received: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                step = receiver.script.pop(0) if receiver.script else 200
                if step == "hang":
                    time.sleep(0.6)
                    step = 200  # too late: the sender has given up and will try again
                self.send_response(int(step))
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self) -> list[str]:
        return [headers["webhook-id"] for headers, _ in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver([500, 503, "hang"])
    yield made
    made.server.shutdown()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[TestClient[Any], Outbox]]:
    store = open_store(str(tmp_path / "store.sqlite3"))
    config = ServiceConfig((Portal("all", TOKEN), Portal("other", OTHER, "other-")))
    app = create_app(
        store, config, clock=lambda: NOW, webhooks=tmp_path / "outbox.sqlite3", deliver_every=None
    )
    outbox = app.state.service.outbox
    outbox.send = http_sender(timeout=0.3)
    with TestClient(app) as client:
        yield client, outbox
    store.close()


def start(client: TestClient[Any], programme: str) -> Any:
    """Start a PROSPECT programme of ``programme`` with the cast, through the service."""
    body = {
        "programme": programme,
        "definition": "prospect-peer-mentoring",
        "by": "anna",
        "participants": CAST,
        "at": "2027-01-11T09:00:00+01:00",
    }
    return client.post("/programmes", json=body, headers=auth())


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def passes(outbox: Outbox, count: int, start: datetime = NOW) -> datetime:
    """``count`` passes, each an hour after the last (past any early backoff)."""
    now = start
    sees = {"all": lambda p: True, "other": lambda p: p.startswith("other-")}
    for _ in range(count):
        outbox.run_once(now, lambda portal, programme: sees[portal](programme))
        now += timedelta(hours=1)
    return now


def test_every_event_arrives_signed_despite_failures_and_a_timeout(
    setup: tuple[TestClient[Any], Outbox], receiver: Receiver
) -> None:
    client, outbox = setup
    made = client.post("/webhooks", json={"url": receiver.url, "kinds": ["event"]}, headers=auth())
    assert made.status_code == 201 and made.headers["location"] == f"/webhooks/{made.json()['id']}"
    secret = made.json()["secret"]
    assert secret.startswith("whsec_")
    assert (
        "secret" not in client.get("/webhooks", headers=auth()).json()[0]
        or client.get("/webhooks", headers=auth()).json()[0]["secret"] is None
    )
    assert start(client, "p1").status_code == 201
    for who in ("ghent", "porto"):
        submission = {"deliverable": "peer_learning_agreement", "by": who}
        assert (
            client.post("/programmes/p1/submissions", json=submission, headers=auth()).status_code
            == 201
        )
    events = client.get("/programmes/p1/events", headers=auth()).json()
    passes(outbox, 6)
    delivered = {}
    for headers, raw in receiver.received:
        message = json.loads(raw)
        # the signature is Standard Webhooks' over exactly these bytes, id and timestamp
        stamp = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
        assert headers["webhook-signature"] == Webhook(secret).sign(
            headers["webhook-id"], stamp, raw
        )
        # a redelivery is the same message under the same id
        assert delivered.setdefault(headers["webhook-id"], message) == message
    assert [m["data"]["id"] for m in sorted(delivered.values(), key=lambda m: m["position"])] == [
        e["id"] for e in events
    ]
    assert len(receiver.received) == len(events) + 3  # two errors and one timeout, retried
    failed_first = receiver.ids()[:3]  # the first pass: 500, 503, no answer in time
    assert all(receiver.ids().count(i) == 2 for i in failed_first)  # each sent again, same id
    log = client.get(f"/webhooks/{made.json()['id']}/deliveries", headers=auth()).json()
    failures = [a for a in log if a["status_code"] != 200]
    assert [a["status_code"] for a in failures] == [None, 503, 500]  # newest first
    assert "Timeout" in failures[0]["error"]
    assert {a["status"] for a in log} == {"delivered"}


def test_an_outbox_reopened_between_passes_loses_nothing_and_sends_nothing_twice(
    setup: tuple[TestClient[Any], Outbox], receiver: Receiver, tmp_path: Path
) -> None:
    client, outbox = setup
    receiver.script.clear()
    client.post("/webhooks", json={"url": receiver.url}, headers=auth())
    start(client, "p1")
    later = passes(outbox, 1)
    client.post(
        "/programmes/p1/submissions",
        json={"deliverable": "peer_learning_agreement", "by": "ghent"},
        headers=auth(),
    )
    reopened = Outbox(outbox.path, outbox.store, http_sender(timeout=0.3))  # after a restart
    passes(reopened, 2, later)
    assert len(receiver.received) == len(set(receiver.ids())) == 2


def test_reminders_go_once_per_deadline_and_only_to_the_programmes_portal(
    setup: tuple[TestClient[Any], Outbox], receiver: Receiver
) -> None:
    client, outbox = setup
    receiver.script.clear()
    client.post(
        "/webhooks",
        json={"url": receiver.url, "kinds": ["reminder"], "reminder_days": 60},
        headers=auth(OTHER),
    )
    for programme in ("other-1", "p1"):
        start(client, programme)
    agenda = client.get(
        "/agenda", params={"within_days": 60, "at": NOW.isoformat()}, headers=auth(OTHER)
    ).json()
    passes(outbox, 3)
    sent = [json.loads(raw) for _, raw in receiver.received]
    assert {m["programme"] for m in sent} == {"other-1"}
    assert sorted((m["data"]["name"], m["data"]["due_at"]) for m in sent) == sorted(
        (i["deadline"]["name"], i["deadline"]["due_at"]) for i in agenda["items"]
    )
    assert {m["type"] for m in sent} == {"deadline.due_soon"}


def test_a_subscription_is_checked_and_belongs_to_its_portal(
    setup: tuple[TestClient[Any], Outbox],
) -> None:
    client, _ = setup
    for bad in [
        {"url": "ftp://x/y"},
        {"url": "http://"},
        {"url": "http://x/\n"},
        {"url": "http://x/", "kinds": ["everything"]},
        {"url": "http://x/", "kinds": []},
        {"url": "http://x/", "reminder_days": 1000},
    ]:
        answer = client.post("/webhooks", json=bad, headers=auth())
        assert answer.status_code == 422 and answer.json()["type"].endswith("invalid-webhook"), bad
    made = client.post(
        "/webhooks", json={"url": "https://portal.example/hook"}, headers=auth()
    ).json()
    assert client.get("/webhooks", headers=auth(OTHER)).json() == []
    assert client.get(f"/webhooks/{made['id']}/deliveries", headers=auth(OTHER)).status_code == 404
    assert client.delete(f"/webhooks/{made['id']}", headers=auth(OTHER)).status_code == 404
    assert client.delete(f"/webhooks/{made['id']}", headers=auth()).status_code == 204
    assert client.get("/webhooks", headers=auth()).json() == []


def test_backoff_doubles_up_to_six_hours() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert backoff(40) == timedelta(hours=6)


def test_a_portal_hears_only_of_its_own_programmes(
    setup: tuple[TestClient[Any], Outbox], receiver: Receiver
) -> None:
    client, outbox = setup
    receiver.script.clear()
    client.post("/webhooks", json={"url": receiver.url}, headers=auth(OTHER))
    for programme in ("p1", "other-1", "p2"):
        start(client, programme)
    passes(outbox, 2)
    assert [json.loads(raw)["data"]["programme"] for _, raw in receiver.received] == ["other-1"]


def test_two_workers_on_one_outbox_send_each_message_once(
    setup: tuple[TestClient[Any], Outbox], receiver: Receiver
) -> None:
    """Two `peerflow serve` workers sharing an outbox file make their passes at once."""
    client, outbox = setup
    receiver.script.clear()
    client.post("/webhooks", json={"url": receiver.url}, headers=auth())
    for programme in ("p1", "p2", "p3", "p4"):
        start(client, programme)
    other = Outbox(outbox.path, outbox.store, http_sender(timeout=5))
    outbox.send = http_sender(timeout=5)
    outbox.run_once(NOW, lambda portal, programme: True)  # queued once; sent below
    with outbox._transaction() as db:  # make every message due again, unsent
        db.execute("DELETE FROM attempts")
        db.execute("UPDATE messages SET status = 'pending', attempts = 0, next_at = ''")
    receiver.received.clear()
    later = NOW + timedelta(hours=1)
    workers = [
        threading.Thread(target=o.run_once, args=(later, lambda p, q: True))
        for o in (outbox, other)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(receiver.ids()) == sorted(set(receiver.ids())) and len(receiver.ids()) == 4
