"""Calendar feeds, parsed back with icalendar: what a calendar client would read.

The dates are the ones the store holds and the deadlines the engine's (``Store`` and
``CompiledDefinition.deadlines`` are the oracle); what is checked here is the feed: RFC 5545
shapes, time zones, stable UIDs and SEQUENCE when a date moves, who sees what.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from litestar.testing import TestClient

import peerflow
from peerflow import Actor
from peerflow._ics import deadline_uid
from peerflow.cli import main
from peerflow.http import Portal, ServiceConfig, create_app
from peerflow.store import Store, open_store

TOKEN = "calendar-test-token-0123456789abcdef"
CITY = "calendar-city-token-0123456789abcdef"
NOW = datetime(2027, 1, 20, 12, tzinfo=UTC)
ANNA = Actor("facilitator", "anna")
CAST = [
    ("anna", "facilitator"),
    ("ghent", "mentor"),
    ("porto", "mentee"),
    ("finance", "finance_coordinator"),
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(str(tmp_path / "store.sqlite3")) as opened:
        prospect = peerflow.definition("prospect-peer-mentoring")
        for programme in ("city-ghent", "other"):
            cast = (
                CAST
                if programme == "city-ghent"
                else [(p.replace("porto", "lyon"), r) for p, r in CAST]
            )
            opened.start(
                prospect,
                programme,
                at=datetime(2027, 1, 11, 8, tzinfo=UTC),
                actor=ANNA,
                participants=cast,
            )
        yield opened


@pytest.fixture
def client(store: Store) -> Iterator[TestClient[Any]]:
    config = ServiceConfig((Portal("all", TOKEN), Portal("city", CITY, "city-")))
    with TestClient(create_app(store, config, clock=lambda: NOW)) as c:
        yield c


def feed(client: TestClient[Any], path: str, token: str = TOKEN) -> dict[str, Any]:
    answer = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(answer.content)
    assert calendar["version"] == "2.0" and calendar["prodid"]
    return {str(e["uid"]): e for e in calendar.walk("VEVENT")}


def test_a_programmes_dates_and_deadlines_read_back(client: TestClient[Any], store: Store) -> None:
    store.schedule("city-ghent", "orientation_date", "2027-02-01", at=NOW, actor=ANNA)
    entries = feed(client, "/programmes/city-ghent/calendar.ics")
    orientation = entries["city-ghent.date.orientation_date@peerflow"]
    assert orientation.decoded("dtstart") == date(2027, 2, 1)  # an all-day entry
    st = store.state("city-ghent")
    deadlines = st.definition.deadlines(st, NOW)
    assert deadlines  # the programme is waiting for things
    for deadline in deadlines:
        entry = entries[deadline_uid("city-ghent", deadline.kind, deadline.name, deadline.advisory)]
        start = entry.decoded("dtstart")
        assert start == deadline.due_at and start.tzinfo.key == "Europe/Brussels"
        assert str(entry["transp"]) == "TRANSPARENT"
        for who in deadline.owed_by:
            assert who in str(entry["description"])
    assert set(entries) == {"city-ghent.date.orientation_date@peerflow"} | {
        deadline_uid("city-ghent", d.kind, d.name, d.advisory) for d in deadlines
    }
    assert len(entries) == len(deadlines) + 1  # no two entries share a UID
    zones = icalendar.Calendar.from_ical(
        client.get(
            "/programmes/city-ghent/calendar.ics", headers={"Authorization": f"Bearer {TOKEN}"}
        ).content
    ).walk("VTIMEZONE")
    assert [str(z["tzid"]) for z in zones] == ["Europe/Brussels"]


def test_a_moved_date_keeps_its_uid_and_raises_its_sequence(
    client: TestClient[Any], store: Store
) -> None:
    store.schedule("city-ghent", "orientation_date", "2027-02-01", at=NOW, actor=ANNA)
    before = feed(client, "/programmes/city-ghent/calendar.ics")
    store.schedule("city-ghent", "orientation_date", "2027-02-08", at=NOW, actor=ANNA)
    after = feed(client, "/programmes/city-ghent/calendar.ics")
    uid = "city-ghent.date.orientation_date@peerflow"
    assert before[uid].decoded("dtstart") == date(2027, 2, 1) and int(before[uid]["sequence"]) == 0
    assert after[uid].decoded("dtstart") == date(2027, 2, 8) and int(after[uid]["sequence"]) == 1
    assert set(before) == set(after)  # the same entries, updated in place
    moved = [u for u in after if after[u].decoded("dtstart") != before[u].decoded("dtstart")]
    assert all(int(after[u]["sequence"]) == int(before[u]["sequence"]) + 1 for u in moved)
    # the same date set again to the same day is no move
    store.schedule("city-ghent", "orientation_date", "2027-02-08", at=NOW, actor=ANNA)
    assert int(feed(client, "/programmes/city-ghent/calendar.ics")[uid]["sequence"]) == 1


def test_a_step_done_leaves_the_feed(client: TestClient[Any], store: Store) -> None:
    store.schedule("city-ghent", "orientation_date", "2027-02-01", at=NOW, actor=ANNA)
    uid = "city-ghent.submit.peer_learning_agreement@peerflow"
    assert uid in feed(client, "/programmes/city-ghent/calendar.ics")
    for who, role in (("ghent", "mentor"), ("porto", "mentee")):
        store.submit("city-ghent", "peer_learning_agreement", at=NOW, actor=Actor(role, who))
    assert uid not in feed(client, "/programmes/city-ghent/calendar.ics")


def test_a_participants_feed_holds_what_waits_for_them_in_their_programmes(
    client: TestClient[Any], store: Store
) -> None:
    store.schedule("city-ghent", "orientation_date", "2027-02-01", at=NOW, actor=ANNA)
    entries = feed(client, "/participants/porto/calendar.ics")
    assert all(uid.startswith("city-ghent.") for uid in entries)  # not the programme without them
    assert "city-ghent.date.orientation_date@peerflow" in entries
    assert "city-ghent.submit.peer_learning_agreement@peerflow" in entries  # owed by porto
    assert "city-ghent.fire.hold_orientation@peerflow" not in entries  # the facilitator's
    anna = feed(client, "/participants/anna/calendar.ics")
    assert {u.split(".")[0] for u in anna} == {"city-ghent", "other"}
    assert {u.split(".")[0] for u in feed(client, "/participants/anna/calendar.ics", CITY)} == {
        "city-ghent"
    }
    missing = client.get(
        "/participants/nobody/calendar.ics", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert missing.status_code == 404 and missing.json()["type"].endswith("no-such-participant")
    other = client.get(
        "/programmes/other/calendar.ics", headers={"Authorization": f"Bearer {CITY}"}
    )
    assert other.status_code == 404


def test_peerflow_calendar_writes_the_feed_the_service_serves(
    client: TestClient[Any], store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store.schedule("city-ghent", "orientation_date", "2027-02-01", at=NOW, actor=ANNA)
    db = store.backend.path  # type: ignore[attr-defined]
    out = tmp_path / "ghent.ics"
    assert (
        main(["calendar", "city-ghent", "--db", db, "--at", NOW.isoformat(), "-o", str(out)]) == 0
    )
    served = client.get(
        "/programmes/city-ghent/calendar.ics", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert out.read_bytes() == served.content
    assert main(["calendar", "--participant", "nobody", "--db", db]) == 1
    assert (
        capsys.readouterr().err.strip().endswith("'nobody' takes part in no programme of the store")
    )
    assert main(["calendar", "--db", db]) == 1
    zone = ZoneInfo("Europe/Brussels")
    assert zone.key == "Europe/Brussels"


def test_an_ended_programme_keeps_its_dates_and_owes_nothing(
    client: TestClient[Any], store: Store
) -> None:
    store.schedule("city-ghent", "orientation_date", "2027-02-01", at=NOW, actor=ANNA)
    store.fire("city-ghent", "cancel", at=NOW, actor=ANNA)
    assert store.state("city-ghent").terminal
    assert set(feed(client, "/programmes/city-ghent/calendar.ics")) == {
        "city-ghent.date.orientation_date@peerflow"
    }
