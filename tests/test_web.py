"""The facilitator's web page, in process: who may see it, what it shows, what its forms
record, and what they refuse (a real browser drives it in tests/test_web_browser.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import pytest
from litestar.testing import TestClient
from web_support import CONFIG, FRESH, NOW, seed

import peerflow
from peerflow.engine._registry import example_path
from peerflow.http import create_app
from peerflow.http._signin import Visitor, check, sign_in_query
from peerflow.store import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(str(tmp_path / "web.sqlite3")) as s:
        seed(s)
        yield s


@pytest.fixture
def client(store: Store) -> Iterator[TestClient[Any]]:
    with TestClient(create_app(store, CONFIG, clock=lambda: NOW)) as c:
        yield c


def sign_in(client: TestClient[Any], participant: str = "anna") -> None:
    query = sign_in_query(CONFIG.portals[0], participant, NOW + timedelta(hours=1))
    answer = client.get("/ui/sign-in", params=query, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie


def text(html: str) -> str:
    """What a reader sees, roughly: tags dropped, spaces folded."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def token_of(html: str) -> str:
    found = re.search(r'name="token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def record(client: TestClient[Any], programme: str, **fields: str) -> Any:
    page = client.get(f"/ui/programmes/{programme}")
    form = {"token": token_of(page.text), **fields}
    return client.post(f"/ui/programmes/{programme}/record", data=form, follow_redirects=False)


# --- who may see it ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/ui/", f"/ui/programmes/{FRESH}"])
def test_without_a_sign_in_nothing_is_shown(client: TestClient[Any], path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 401 and "Sign in through your portal" in answer.text
    assert FRESH not in answer.text.replace(path, "")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"signature": "0" * 64}, "not one the service made"),
        ({"participant": "mallory"}, "not one the service made"),
        ({"portal": "another"}, "not one the service made"),
        ({"expires": "1"}, "not one the service made"),
        ({"participant": "bad\x00id"}, "not one the service made"),
    ],
)
def test_a_changed_link_signs_nobody_in(
    client: TestClient[Any], change: dict[str, str], reason: str
) -> None:
    query = {**sign_in_query(CONFIG.portals[0], "anna", NOW + timedelta(hours=1)), **change}
    answer = client.get("/ui/sign-in", params=query, follow_redirects=False)
    assert answer.status_code == 403 and reason in answer.text
    assert "set-cookie" not in answer.headers
    assert client.get("/ui/").status_code == 401


def test_an_expired_or_too_long_link_is_refused(client: TestClient[Any]) -> None:
    portal = CONFIG.portals[0]
    old = sign_in_query(portal, "anna", NOW - timedelta(minutes=1))
    assert "expired" in client.get("/ui/sign-in", params=old).text
    long = sign_in_query(portal, "anna", NOW + timedelta(days=8))
    assert "more than seven days" in client.get("/ui/sign-in", params=long).text


def test_a_forged_cookie_is_no_session(client: TestClient[Any]) -> None:
    client.cookies.set("peerflow_ui", "YW5uYQ==", path="/ui")
    assert client.get("/ui/").status_code == 401


def test_pages_refuse_being_framed_by_others_and_scripts(client: TestClient[Any]) -> None:
    sign_in(client)
    headers = client.get("/ui/").headers
    assert "frame-ancestors 'self'" in headers["content-security-policy"]
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"


def test_the_page_is_not_in_the_api_contract(client: TestClient[Any]) -> None:
    paths = client.get("/openapi/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/ui")]


# --- the list ------------------------------------------------------------------------------


def test_the_list_shows_every_programme_with_its_stage_and_whats_overdue(
    client: TestClient[Any], store: Store
) -> None:
    sign_in(client)
    page = client.get("/ui/")
    assert page.status_code == 200
    seen = text(page.text)
    rows = store.programmes()
    assert f"{len(rows)} programmes" in seen
    for row in rows:
        st = store.state(row.programme)
        stage = st.definition.type.states[st.state].title
        assert f"{row.programme} {st.definition.type.title} {stage}" in seen
    # PROSPECT's example, cut at the orientation: the uploads were due within two weeks (PM-05)
    ghent = store.state("prospect-2027-ghent")
    late = [d for d in ghent.definition.deadlines(ghent, NOW) if d.overdue and not d.advisory]
    assert late and all(d.title in seen for d in late)


def test_the_list_filters(client: TestClient[Any], store: Store) -> None:
    sign_in(client)

    def listed(**query: str) -> set[str]:
        page = client.get("/ui/", params=query).text
        return set(re.findall(r'<th scope="row"><a href="/ui/programmes/([^"]+)"', page))

    everything = {r.programme for r in store.programmes()}
    assert listed() == everything
    assert listed(definition="prospect-peer-mentoring") == {FRESH, "prospect-2027-ghent"}
    assert listed(state="preparation") == {
        r.programme for r in store.programmes() if r.state == "preparation"
    }
    assert listed(q="sc-") == {p for p in everything if "sc-" in p}
    assert listed(mine="1") == {FRESH}  # anna takes part in the fresh programme only
    overdue = listed(overdue="1")
    assert "prospect-2027-ghent" in overdue and FRESH not in overdue
    # the filters offer what the programmes use, no more
    page = client.get("/ui/").text
    offered = re.search(r'<select id="f-state" name="state">(.*?)</select>', page, re.S)
    assert offered is not None
    values = set(re.findall(r'<option value="([^"]*)"', offered.group(1))) - {""}
    assert values == {r.state for r in store.programmes()}


# --- one programme -------------------------------------------------------------------------


def test_the_programme_page_shows_the_engines_answers(
    client: TestClient[Any], store: Store
) -> None:
    sign_in(client)
    page = client.get("/ui/programmes/prospect-2027-ghent")
    assert page.status_code == 200
    seen = text(page.text)
    st = store.state("prospect-2027-ghent")
    d = st.definition
    for step in d.next_steps(st, NOW):
        assert step.title in seen
        for blocker in step.blockers:
            assert blocker.describe() in seen
    forecast = d.forecast(st, NOW)
    assert not forecast.feasible and forecast.breaking is not None
    assert f"Cannot finish in time without a waiver: {forecast.breaking.title}" in seen
    # the diagram marks the current state, in words as well as in colour
    assert 'class="state current"' in page.text
    assert f"now: {d.type.states[st.state].title}" in page.text
    # the timeline lists every event, newest first
    times = re.findall(r'<time datetime="([^"]+)"', page.text)
    assert len(times) == st.next_seq and times == sorted(times, reverse=True)
    # anna is not a participant here: she reads, and is told she cannot act
    assert "take no part in this programme" in seen and 'action="/ui/programmes' not in page.text


def test_a_form_records_the_event_as_the_signed_in_participant(
    client: TestClient[Any], store: Store
) -> None:
    sign_in(client)
    answer = record(
        client, FRESH, seq="1", kind="schedule", name="orientation_date", value="2027-03-01"
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/ui/programmes/{FRESH}?done=1#notice"
    event = store.events(FRESH)[1]
    assert (event.type, event.actor.id, event.actor.role) == ("schedule", "anna", "facilitator")
    assert event.payload == {"date": "orientation_date", "value": "2027-03-01"}
    assert event.at == NOW
    page = client.get(urlsplit(answer.headers["location"]).path + "?done=1")
    assert "Recorded as event 1." in text(page.text)
    assert "set Date of the orientation session to 2027-03-01" in text(page.text)


def test_a_refused_form_shows_the_blockers_and_records_nothing(
    client: TestClient[Any], store: Store
) -> None:
    sign_in(client)
    before = store.state(FRESH)
    answer = record(client, FRESH, seq="1", kind="fire", name="hold_orientation")
    assert answer.status_code == 409
    seen = text(answer.text)
    assert "That step is not allowed now" in seen and "Nothing was recorded." in seen
    step = next(
        s for s in before.definition.next_steps(before, NOW) if s.name == "hold_orientation"
    )
    for blocker in step.blockers:
        assert blocker.describe() in seen
    assert store.state(FRESH) == before


def test_a_stale_page_is_refused_and_shown_as_it_stands(
    client: TestClient[Any], store: Store
) -> None:
    sign_in(client)
    page = client.get(f"/ui/programmes/{FRESH}")
    record(client, FRESH, seq="1", kind="schedule", name="orientation_date", value="2027-03-01")
    stale = {"token": token_of(page.text), "seq": "1", "kind": "schedule"}
    stale |= {"name": "orientation_date", "value": "2027-03-08"}
    answer = client.post(f"/ui/programmes/{FRESH}/record", data=stale)
    assert answer.status_code == 412 and "changed while the page was open" in answer.text
    assert [e.seq for e in store.events(FRESH)] == [0, 1]


def test_a_stranger_reads_but_cannot_act(client: TestClient[Any], store: Store) -> None:
    sign_in(client, "mallory")
    before = store.state(FRESH)
    page = client.get(f"/ui/programmes/{FRESH}").text
    assert "take no part" in page and 'name="token"' not in page  # no form to fill
    query = sign_in_query(CONFIG.portals[0], "mallory", NOW + timedelta(hours=1))
    visitor = check(CONFIG, *query.values(), NOW)
    assert isinstance(visitor, Visitor)
    form = {"token": visitor.form_token, "seq": "1", "kind": "fire", "name": "cancel"}
    answer = client.post(f"/ui/programmes/{FRESH}/record", data=form)
    assert answer.status_code == 422 and "not a participant" in answer.text
    assert store.state(FRESH) == before


def test_a_waiver_from_the_form_lifts_the_blocker(client: TestClient[Any], store: Store) -> None:
    sign_in(client)
    answer = record(
        client,
        FRESH,
        seq="1",
        kind="waive",
        name="hold_orientation",
        step_kind="fire",
        blockers="date_not_scheduled",
        reason="held online",
    )
    assert answer.status_code == 303
    event = store.events(FRESH)[1]
    assert event.type == "waive" and event.payload["reason"] == "held online"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"kind": "schedule", "name": "orientation_date", "value": "not a date"}, "not a date"),
        ({"kind": "schedule", "name": "orientation_date", "value": ""}, "'value' is empty"),
        ({"kind": "explode", "name": "x"}, "no such kind of step"),
        ({"kind": "submit", "name": "learning_plan", "content": "{"}, "not JSON"),
        ({"kind": "claim", "name": "claim", "item": "travel", "amount": "1e9"}, "not an amount"),
        ({"kind": "fire", "name": "\x00\x1b[2J"}, "refused"),
        ({"kind": "fire", "name": "x" * 5000}, "refused"),
    ],
)
def test_odd_form_input_is_one_message_and_records_nothing(
    client: TestClient[Any], store: Store, fields: dict[str, str], expected: str
) -> None:
    sign_in(client)
    before = store.state(FRESH)
    answer = record(client, FRESH, seq="1", **fields)
    assert answer.status_code in (409, 422), answer.text[:300]
    assert expected in text(answer.text)
    assert store.state(FRESH) == before


def test_a_form_from_elsewhere_or_too_big_is_refused(client: TestClient[Any], store: Store) -> None:
    sign_in(client)
    before = store.state(FRESH)
    url = f"/ui/programmes/{FRESH}/record"
    form = {"seq": "1", "kind": "fire", "name": "cancel"}
    assert client.post(url, data={**form, "token": "0" * 64}).status_code == 403
    assert client.post(url, data=form).status_code == 403
    big = client.post(url, content=b"a=" + b"x" * 30_000, headers={"content-type": "text/plain"})
    assert big.status_code == 413
    odd = client.post(url, content=b"\xff\xfe", headers={"content-type": "text/plain"})
    assert odd.status_code == 400
    page = client.get(f"/ui/programmes/{FRESH}").text
    twice = f"token={token_of(page)}&seq=1&kind=fire&kind=schedule&name=cancel"
    answer = client.post(
        url, content=twice, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert answer.status_code == 422 and "given more than once" in answer.text
    assert store.state(FRESH) == before


def test_another_portals_programme_is_no_such_programme(store: Store) -> None:
    from peerflow.http import Portal, ServiceConfig  # noqa: PLC0415

    scoped = ServiceConfig((Portal("lisbon", "l" * 30, programmes="lisbon-"),))
    with TestClient(create_app(store, scoped, clock=lambda: NOW)) as c:
        query = sign_in_query(scoped.portals[0], "anna", NOW + timedelta(hours=1))
        c.get("/ui/sign-in", params=query)
        assert c.get("/ui/programmes/prospect-2027-ghent").status_code == 404
        listed = re.findall(r'<th scope="row"><a href="/ui/programmes/([^"]+)"', c.get("/ui/").text)
        assert listed == [FRESH]


def test_the_diagram_draws_every_state_once(client: TestClient[Any]) -> None:
    from peerflow.model._diagram import state_diagram  # noqa: PLC0415

    for name in sorted(peerflow.builtin_files()):
        t = peerflow.definition(name).type
        svg = state_diagram(t, t.initial)
        assert svg.count('<g class="state') == len(t.states), name
        assert svg.count('class="state current') == 1, name


def _luminance(colour: str) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def test_every_text_colour_has_aa_contrast_on_its_backgrounds() -> None:
    """WCAG AA (4.5:1) for each text colour of the stylesheet on each background it is used
    on: white, the soft grey of headers and filters, and the pale red of late rows."""
    css = (Path(peerflow.__file__).parent / "http" / "templates" / "peerflow.css").read_text()
    colours = dict(re.findall(r"--([a-z]+): (#[0-9a-f]{6})", css))
    backgrounds = ["#ffffff", colours["soft"], colours["late"]]
    pairs = [
        (colours[name], bg)
        for name in ("ink", "muted", "link", "bad", "good", "act")
        for bg in backgrounds
    ]
    pairs.append(("#ffffff", colours["act"]))  # a button's label
    for text_colour, background in pairs:
        light, dark = sorted((_luminance(text_colour), _luminance(background)), reverse=True)
        assert (light + 0.05) / (dark + 0.05) >= 4.5, (text_colour, background)


def test_a_submission_and_a_join_from_their_forms(client: TestClient[Any], store: Store) -> None:
    # the mentor hands in the agreement with a reference
    sign_in(client, "lisbon")
    page = client.get(f"/ui/programmes/{FRESH}").text
    assert "Hand in: Signed peer learning agreement" in page
    answer = record(
        client, FRESH, seq="1", kind="submit", name="peer_learning_agreement", ref="dms://a/1"
    )
    assert answer.status_code == 303
    event = store.events(FRESH)[1]
    assert (event.type, event.actor.id) == ("submit", "lisbon")
    assert event.payload == {"deliverable": "peer_learning_agreement", "ref": "dms://a/1"}
    # a coordinator adds the tutor of a tutoring programme (a role that joins later): the
    # MAYORS in ACTION example, up to its programme design, before the tutor joined
    events = [e for _, e in peerflow.read_history(example_path("mia-tutoring"))]
    d = peerflow.definition("mia-tutoring")
    st = d.start(events[0])
    kept = [events[0]]
    for e in events[1:]:
        if st.state == "programme_design":
            break
        st = d.apply(st, e)
        kept.append(e)
    assert st.state == "programme_design" and st.count("tutor") == 0
    kept = [attrs.evolve(e, programme="mia-tu-2027-oslo", id=f"o-{e.seq}") for e in kept]
    store.append(kept, expected_next_seq=0)
    coordinator = next(pid for pid, role in st.members() if role == "coordinator")
    sign_in(client, coordinator)
    page = client.get("/ui/programmes/mia-tu-2027-oslo").text
    assert "Add the tutor" in page
    answer = record(
        client,
        "mia-tu-2027-oslo",
        seq=str(st.next_seq),
        kind="join",
        name="tutor",
        participant="ines",
    )
    assert answer.status_code == 303
    assert store.state("mia-tu-2027-oslo").role_of("ines") == "tutor"


def test_a_claim_from_its_form(client: TestClient[Any], store: Store) -> None:
    """PROSPECT's example after the visit (meeting up): the mentee claims travel costs."""
    events = [e for _, e in peerflow.read_history(example_path("prospect-peer-mentoring"))]
    kept = [attrs.evolve(e, programme="claims-2027", id=f"c-{e.seq}") for e in events[:19]]
    store.append(kept, expected_next_seq=0)
    assert store.state("claims-2027").state == "meeting_up"
    sign_in(client, "porto-mentee")
    page = client.get("/ui/programmes/claims-2027").text
    assert '<option value="travel">Travel and accommodation</option>' in page
    answer = record(
        client,
        "claims-2027",
        seq="19",
        kind="claim",
        name="claim",
        item="travel",
        amount="412.50",
        receipts="r-1, r-2",
        invoice_date="2027-05-12",
        bank_details="PT50 0002 0123 1234 5678 9015 4",
    )
    assert answer.status_code == 303, text(answer.text)[-400:]
    claim = store.events("claims-2027")[19]
    assert claim.type == "claim" and claim.actor.id == "porto-mentee"
    assert claim.payload["items"] == [
        {"item": "travel", "amount": "412.50", "receipts": ["r-1", "r-2"]}
    ]


def test_a_long_history_lists_its_newest_events_and_says_how_many_are_left_out(
    client: TestClient[Any], store: Store
) -> None:
    from peerflow.http._web import TIMELINE  # noqa: PLC0415

    for i in range(TIMELINE + 5):  # the mentor hands the agreement in again and again
        store.submit(
            FRESH,
            "peer_learning_agreement",
            at=NOW - timedelta(hours=20) + timedelta(minutes=i),
            actor=peerflow.Actor("mentor", "lisbon"),
        )
    sign_in(client)
    page = client.get(f"/ui/programmes/{FRESH}").text
    times = re.findall(r'<time datetime="([^"]+)"', page)
    assert len(times) == TIMELINE
    assert times[0] == store.events(FRESH)[-1].at.isoformat()  # newest first
    assert "6 earlier events not listed here" in text(page)


def test_a_reloaded_page_does_not_search_again_until_the_programme_changes(
    client: TestClient[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from peerflow.engine._compiled import CompiledDefinition  # noqa: PLC0415

    searched: list[str] = []
    original = CompiledDefinition.forecast

    def counted(self: CompiledDefinition, st: Any, at: Any, **options: Any) -> Any:
        searched.append(st.programme)
        return original(self, st, at, **options)

    monkeypatch.setattr(CompiledDefinition, "forecast", counted)
    sign_in(client)
    first = client.get(f"/ui/programmes/{FRESH}").text
    again = client.get(f"/ui/programmes/{FRESH}").text
    assert searched == [FRESH] and first == again
    record(client, FRESH, seq="1", kind="schedule", name="orientation_date", value="2027-03-01")
    client.get(f"/ui/programmes/{FRESH}")
    assert searched == [FRESH, FRESH]  # a new event, a new forecast
