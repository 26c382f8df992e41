"""The store contract: every backend passes the same tests.

Backends: a SQLite file always; PostgreSQL when ``PEERFLOW_TEST_POSTGRES`` names a server
(``.ci/run`` starts one and sets it; in CI its absence is a failure, not a skip).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import BACKENDS

import peerflow
from peerflow import Actor, ConcurrencyError, Event, EventIdTaken, NoSuchProgramme, StoreError
from peerflow.engine._registry import example_path
from peerflow.store import Store, open_store

CET = timezone(timedelta(hours=1))
START = datetime(2027, 1, 11, 9, tzinfo=CET)
FACILITATOR = Actor("facilitator", "anna-facilitator")
MENTOR = Actor("mentor", "ghent-mentor")


def test_postgresql_is_tested_in_ci() -> None:
    """CI must run the PostgreSQL half of the contract; elsewhere, say loudly it did not."""
    if os.environ.get("CI") == "true":
        assert "postgresql" in BACKENDS, "CI must set PEERFLOW_TEST_POSTGRES (see .ci/run)"
    elif "postgresql" not in BACKENDS:
        pytest.skip(
            "PostgreSQL contract NOT RUN: set PEERFLOW_TEST_POSTGRES=postgresql://... to run it"
        )


def example() -> list[Event]:
    return [e for _, e in peerflow.read_history(example_path("prospect-peer-mentoring"))]


def start(store: Store, programme: str = "p1") -> None:
    first = example()[0]
    store.append([_renamed(first, programme)], expected_next_seq=0)


def _renamed(event: Event, programme: str, seq: int | None = None) -> Event:
    return Event(
        programme,
        event.seq if seq is None else seq,
        f"{programme}-{event.seq if seq is None else seq}-{event.id}",
        event.at,
        event.actor,
        event.type,
        dict(event.payload),
    )


def reschedule(programme: str, seq: int, day: int, event_id: str | None = None) -> Event:
    """A facilitator (re)setting the orientation date: allowed again and again."""
    return Event(
        programme,
        seq,
        event_id or f"{programme}-{seq}",
        START + timedelta(hours=2),
        FACILITATOR,
        "schedule",
        {"date": "orientation_date", "value": f"2027-02-{1 + day % 27:02d}"},
    )


# --- the basics -----------------------------------------------------------------------


def test_append_and_read_back(store: Store) -> None:
    events = example()
    state = store.append(events, expected_next_seq=0)
    assert store.events(events[0].programme) == events
    assert store.state(events[0].programme) == state == peerflow.fold(events)
    assert state.state == "completed"


def test_strict_commands_record_and_refuse(store: Store) -> None:
    start(store)
    state = store.record(
        "p1",
        "schedule",
        {"date": "orientation_date", "value": "2027-02-01"},
        at=START,
        actor=FACILITATOR,
    )
    assert state.next_seq == 2
    with pytest.raises(peerflow.StepBlocked):
        store.fire("p1", "hold_orientation", at=START, actor=FACILITATOR)
    assert len(store.events("p1")) == 2  # the refused command left nothing behind


def test_commands_refuse_what_cannot_be_kept(store: Store) -> None:
    """A payload that is not JSON, or participants that are not (id, role) pairs, are
    refused with what was expected, and nothing is stored."""
    start(store)
    with pytest.raises(peerflow.EventError, match="the payload must be JSON"):
        store.submit("p1", "peer_learning_agreement", at=START, actor=MENTOR, signed=START)
    assert store.state("p1").next_seq == 1 and len(store.events("p1")) == 1
    payload = {"deliverable": "peer_learning_agreement", "on": START}
    signed = Event("p1", 1, "e1", START, MENTOR, "submit", payload)
    with pytest.raises(peerflow.EventError, match="the payload must be JSON"):
        store.append([signed], expected_next_seq=1)
    assert store.state("p1").next_seq == 1 and len(store.events("p1")) == 1
    prospect = peerflow.definition("prospect-peer-mentoring")
    with pytest.raises(peerflow.EventError, match="participants must be a list of"):
        store.start(
            prospect, "p2", at=START, actor=FACILITATOR, participants={"anna": "facilitator"}
        )  # type: ignore[arg-type]
    assert [row.programme for row in store.programmes()] == ["p1"]


def test_a_duplicate_seq_is_refused(store: Store) -> None:
    start(store)
    store.append([reschedule("p1", 1, 1, "a")], expected_next_seq=1)
    with pytest.raises(ConcurrencyError) as refused:
        store.append([reschedule("p1", 1, 2, "b")], expected_next_seq=1)
    assert refused.value.current == 2 and refused.value.expected == 1
    assert [e.id for e in store.events("p1")][1:] == ["a"]


def test_a_batch_is_all_or_nothing(store: Store) -> None:
    start(store)
    good = [reschedule("p1", 1, 1), reschedule("p1", 2, 2)]
    bad = Event(
        "p1",
        3,
        "p1-3",
        START + timedelta(hours=3),
        FACILITATOR,
        "fire",
        {"event": "hold_orientation"},
    )
    with pytest.raises(peerflow.StepBlocked):
        store.append([*good, bad], expected_next_seq=1)
    assert len(store.events("p1")) == 1
    store.append(good, expected_next_seq=1)
    assert len(store.events("p1")) == 3


def test_reading_a_range(store: Store) -> None:
    events = example()
    store.append(events, expected_next_seq=0)
    assert [e.seq for e in store.events(events[0].programme, 2, 5)] == [2, 3, 4]
    last = len(events) - 1
    assert [e.seq for e in store.events(events[0].programme, last - 1)] == [last - 1, last]


def test_a_retried_event_id_is_a_no_op(store: Store) -> None:
    start(store)
    payload = {"date": "orientation_date", "value": "2027-02-01"}
    first = store.record("p1", "schedule", payload, at=START, actor=FACILITATOR, event_id="x")
    again = store.record("p1", "schedule", payload, at=START, actor=FACILITATOR, event_id="x")
    assert first == again and len(store.events("p1")) == 2
    batch = [reschedule("p1", 2, 3, "y"), reschedule("p1", 3, 4, "z")]
    store.append(batch, expected_next_seq=2)
    store.append(batch, expected_next_seq=2)  # the same batch again: recognised
    assert len(store.events("p1")) == 4
    with pytest.raises(EventIdTaken, match="already stored"):
        store.append([reschedule("p1", 4, 5, "y")], expected_next_seq=4)


REUSED_WITH_ANOTHER = {
    "type": ("fire", {"event": "cancel"}),
    "payload": ("schedule", {"date": "orientation_date", "value": "2027-03-01"}),
    "actor": ("schedule", {"date": "orientation_date", "value": "2027-02-01"}),
}


@pytest.mark.parametrize("what", REUSED_WITH_ANOTHER)
def test_an_event_id_reused_for_another_event_is_refused(store: Store, what: str) -> None:
    """Same id and same content is a retry; same id and other content is an error that names
    the id, and nothing is written (it used to return success silently)."""
    start(store)
    payload = {"date": "orientation_date", "value": "2027-02-01"}
    store.record("p1", "schedule", payload, at=START, actor=FACILITATOR, event_id="x")
    kind, other = REUSED_WITH_ANOTHER[what]
    actor = MENTOR if what == "actor" else FACILITATOR
    with pytest.raises(EventIdTaken, match=rf"event id 'x' is already stored .*different {what}"):
        store.record("p1", kind, other, at=START, actor=actor, event_id="x")
    changed = Event("p1", 1, "x", START, actor, kind, other)
    with pytest.raises(EventIdTaken, match=rf"event id 'x' is already stored .*different {what}"):
        store.append([changed], expected_next_seq=1)
    assert [e.id for e in store.events("p1")][1:] == ["x"]
    assert store.events("p1")[1].payload == payload


def test_an_event_id_reused_at_another_seq_is_refused(store: Store) -> None:
    start(store)
    store.append([reschedule("p1", 1, 3, "y")], expected_next_seq=1)
    moved = reschedule("p1", 2, 3, "y")
    with pytest.raises(EventIdTaken, match=r"event id 'y' is already stored .*different seq"):
        store.append([moved], expected_next_seq=2)
    assert len(store.events("p1")) == 2


def test_an_unknown_programme_is_a_lookup_error_naming_it(store: Store) -> None:
    """Callers (the HTTP service's 404) tell "no such programme" from other refusals by type."""
    for read in (
        store.state,
        lambda p: store.record(p, "fire", {"event": "x"}, at=START, actor=FACILITATOR),
    ):
        with pytest.raises(NoSuchProgramme, match="no programme 'ghost' in the store") as caught:
            read("ghost")
        assert caught.value.programme == "ghost" and isinstance(caught.value, LookupError)
    with pytest.raises(NoSuchProgramme):
        store.append([reschedule("ghost", 0, 1, "g")], expected_next_seq=0)
    assert store.programmes() == []


def test_a_programme_keeps_the_definition_text_it_started_on(store: Store) -> None:
    start(store)
    (row,) = store.programmes()
    assert row.digest == peerflow.definition("prospect-peer-mentoring").digest
    assert store.state("p1").definition.digest == row.digest


def test_the_global_position_follows_commit_order(store: Store) -> None:
    start(store, "p1")
    start(store, "p2")
    store.append([reschedule("p1", 1, 1)], expected_next_seq=1)
    order = [(e.programme, e.seq) for _, e in store.export()]
    assert order == [("p1", 0), ("p2", 0), ("p1", 1)]
    positions = [p for p, _ in store.export()]
    assert positions == sorted(positions)


# --- races ----------------------------------------------------------------------------


ROUNDS = 15


def test_two_threads_racing_get_one_winner_each_round(url: str) -> None:
    with open_store(url) as store:
        start(store)
    barrier = threading.Barrier(2, timeout=60)  # a broken store fails the test, not hangs it
    errors: list[BaseException] = []
    wins: Counter[int] = Counter()
    losses: Counter[int] = Counter()

    def racer(name: str) -> None:
        with open_store(url) as mine:
            for round_ in range(ROUNDS):
                barrier.wait()
                version = 1 + round_
                try:
                    mine.append(
                        [reschedule("p1", version, round_, f"{name}-{round_}")],
                        expected_next_seq=version,
                    )
                    wins[round_] += 1
                except ConcurrencyError:
                    losses[round_] += 1
                except Exception as exc:  # anything else is a failure of the store
                    errors.append(exc)
                    barrier.abort()
                    return
                barrier.wait()

    threads = [threading.Thread(target=racer, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert all(wins[r] == 1 and losses[r] == 1 for r in range(ROUNDS))
    with open_store(url) as store:
        assert len(store.events("p1")) == 1 + ROUNDS


def _process_racer(url: str, name: str, barrier: object, results: object) -> None:
    with open_store(url) as mine:
        for round_ in range(ROUNDS):
            barrier.wait()  # type: ignore[attr-defined]
            version = 1 + round_
            try:
                mine.append(
                    [reschedule("p1", version, round_, f"{name}-{round_}")],
                    expected_next_seq=version,
                )
                results.put((round_, "win"))  # type: ignore[attr-defined]
            except ConcurrencyError:
                results.put((round_, "lose"))  # type: ignore[attr-defined]
            barrier.wait()  # type: ignore[attr-defined]


def test_two_processes_racing_get_one_winner_each_round(url: str) -> None:
    with open_store(url) as store:
        start(store)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2, timeout=60), context.Queue()
    workers = [
        context.Process(target=_process_racer, args=(url, n, barrier, results)) for n in ("a", "b")
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    outcomes: Counter[tuple[int, str]] = Counter(results.get(timeout=10) for _ in range(2 * ROUNDS))
    assert all(outcomes[r, "win"] == 1 and outcomes[r, "lose"] == 1 for r in range(ROUNDS))


def _appender(url: str, writer: int, programmes: int, per_programme: int) -> None:
    with open_store(url) as mine:
        for n in range(per_programme):
            for p in range(programmes):
                programme = f"many-{p}"
                event_id = f"w{writer}-p{p}-n{n}"
                while True:  # re-read and retry, as a portal does
                    version = mine.state(programme).next_seq
                    try:
                        mine.append(
                            [reschedule(programme, version, n, event_id)], expected_next_seq=version
                        )
                        break
                    except ConcurrencyError:
                        continue


def test_many_processes_lose_nothing_and_duplicate_nothing(url: str) -> None:
    writers, programmes, per_programme = 4, 6, 8
    with open_store(url) as store:
        for p in range(programmes):
            start(store, f"many-{p}")
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_appender, args=(url, w, programmes, per_programme))
        for w in range(writers)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(300)
        assert w.exitcode == 0
    with open_store(url) as store:
        ids: Counter[str] = Counter()
        for p in range(programmes):
            events = store.events(f"many-{p}")
            assert [e.seq for e in events] == list(range(1 + writers * per_programme))
            ids.update(e.id for e in events[1:])
        expected = {
            f"w{w}-p{p}-n{n}"
            for w in range(writers)
            for p in range(programmes)
            for n in range(per_programme)
        }
        assert set(ids) == expected and set(ids.values()) == {1}


def _killed_mid_batch(url: str, ready: object) -> None:
    """Write a 500-event batch, and stall after the rows are sent but before COMMIT."""

    def stall() -> None:
        ready.set()  # type: ignore[attr-defined]
        time.sleep(60)  # killed here, inside the transaction: rows written, not committed

    if url.startswith("sqlite"):
        from peerflow.store._sqlite import SQLiteTransaction  # noqa: PLC0415 - patched in this child

        original = SQLiteTransaction.insert_events

        def insert_then_stall(self: SQLiteTransaction, events: Sequence[Event]) -> None:
            original(self, events)
            stall()

        SQLiteTransaction.insert_events = insert_then_stall  # type: ignore[method-assign]
    else:
        from peerflow.store._postgres import PostgresTransaction  # noqa: PLC0415 - patched here

        def write_then_stall(self: PostgresTransaction) -> None:
            if not self.begun:
                self.db.execute("BEGIN")
            cur = self.db.cursor()
            for sql, params, many in self.writes:  # what commit() sends, without COMMIT
                (cur.executemany if many else cur.execute)(sql, params)
            stall()

        PostgresTransaction.commit = write_then_stall  # type: ignore[method-assign]
    with open_store(url) as mine:
        batch = [reschedule("p1", 1 + n, n) for n in range(500)]
        mine.append(batch, expected_next_seq=1)


def test_a_writer_killed_mid_batch_leaves_no_partial_batch(url: str) -> None:
    with open_store(url) as store:
        start(store)
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    child = context.Process(target=_killed_mid_batch, args=(url, ready))
    child.start()
    assert ready.wait(60), "the writer never got inside its transaction"
    os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]
    child.join(30)
    assert child.exitcode == -signal.SIGKILL
    with open_store(url) as store:
        assert len(store.events("p1")) == 1
        store.append([reschedule("p1", 1, 1)], expected_next_seq=1)  # and the store still works
        assert len(store.events("p1")) == 2


@pytest.mark.parametrize("url", ["mysql://db/peerflow", "redis://localhost"])
def test_an_unknown_store_url_is_named(url: str) -> None:
    with pytest.raises(StoreError, match=r"no store for \w+:// URLs: use a file path"):
        open_store(url)


def test_a_plain_path_and_a_sqlite_url_open_the_same_file(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "a.sqlite3")) as plain:
        assert plain.programmes() == []
    with open_store(f"sqlite:///{tmp_path / 'a.sqlite3'}") as by_url:
        assert by_url.programmes() == []
    assert (tmp_path / "a.sqlite3").exists()
