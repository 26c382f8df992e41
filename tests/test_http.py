"""The HTTP service in process: each answer checked against the same call on the Store.

The oracle is the library: a step refused over HTTP carries the blockers the Store's own
``StepBlocked`` carries for the same step, next steps are what ``Store.next_steps`` gives, the
export is the Store's export. What is HTTP's own (status codes, ETag, If-Match,
Idempotency-Key, Location, scopes, problem details, gzip, hostile bodies) is checked against
RFC 9110 / RFC 9457 and docs/http.md. Runs on every store backend the contract suite runs on.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from litestar.testing import TestClient

import peerflow
from peerflow import Actor, StepBlocked
from peerflow.http import ConfigError, Portal, ServiceConfig, create_app, load_config
from peerflow.replay import replay_files
from peerflow.replay._exports import write_json
from peerflow.store import Store, open_store
from peerflow.synthetic import generate

ALL = "all-portal-token-0123456789abcdefgh"
CITY = "city-portal-token-0123456789abcdefg"
CONFIG = ServiceConfig((Portal("all", ALL), Portal("city", CITY, "city-")))
NOW = datetime(2027, 1, 20, 12, tzinfo=UTC)
CAST = [
    {"id": "anna", "role": "facilitator"},
    {"id": "ghent", "role": "mentor"},
    {"id": "porto", "role": "mentee"},
    {"id": "finance", "role": "finance_coordinator"},
]
START_AT = "2027-01-11T09:00:00+01:00"


def auth(token: str = ALL) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(url: str) -> Iterator[TestClient[Any]]:
    with open_store(url) as store, TestClient(create_app(store, CONFIG, clock=lambda: NOW)) as c:
        yield c


@pytest.fixture
def oracle(tmp_path: Path) -> Iterator[Store]:
    """The same commands on a Store of its own: what the library answers."""
    with open_store(str(tmp_path / "oracle.sqlite3")) as store:
        yield store


def start(client: TestClient[Any], programme: str = "p1", token: str = ALL, **extra: Any) -> Any:
    body = {
        "programme": programme,
        "definition": "prospect-peer-mentoring",
        "by": "anna",
        "participants": CAST,
        "at": START_AT,
        **extra,
    }
    return client.post("/programmes", json=body, headers={**auth(token), **extra.pop("h", {})})


def start_oracle(store: Store, programme: str = "p1") -> None:
    store.start(
        peerflow.definition("prospect-peer-mentoring"),
        programme,
        at=datetime.fromisoformat(START_AT),
        actor=Actor("facilitator", "anna"),
        participants=[(p["id"], p["role"]) for p in CAST],
    )


def events_in(client: TestClient[Any]) -> list[str]:
    return client.get("/export", headers=auth()).text.splitlines()


def is_problem(answer: Any, status: int, kind: str) -> dict[str, Any]:
    """An RFC 9457 problem of ``kind`` with a one-line detail."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["type"] == f"urn:peerflow:problem:{kind}" and body["status"] == status
    assert body["detail"] and "\n" not in body["detail"]
    return body


# --- who may call ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789abcdefgh"},
        {"Authorization": ALL},
        {"Authorization": f"Basic {ALL}"},
    ],
    ids=["none", "wrong", "no-scheme", "basic"],
)
def test_every_resource_needs_a_portals_token(
    client: TestClient[Any], headers: dict[str, str]
) -> None:
    for method, path in [
        ("GET", "/programmes"),
        ("GET", "/definitions"),
        ("POST", "/programmes"),
        ("GET", "/export"),
        ("GET", "/agenda"),
    ]:
        answer = client.request(
            method, path, headers=headers, json={} if method == "POST" else None
        )
        is_problem(answer, 401, "unauthorized")
        assert answer.headers["www-authenticate"] == 'Bearer realm="peerflow"'
    assert client.get("/health").status_code == 200


def test_a_token_in_the_url_is_not_a_token(client: TestClient[Any]) -> None:
    is_problem(client.get(f"/programmes?access_token={ALL}"), 401, "unauthorized")


def test_a_portal_sees_and_writes_only_its_own_programmes(client: TestClient[Any]) -> None:
    assert start(client, "city-1", token=CITY).status_code == 201
    assert start(client, "other-1").status_code == 201
    ids = [p["programme"] for p in client.get("/programmes", headers=auth(CITY)).json()["items"]]
    assert ids == ["city-1"]
    assert len(client.get("/programmes", headers=auth()).json()["items"]) == 2
    # another portal's programme does not exist for this one, whatever is asked of it
    is_problem(client.get("/programmes/other-1", headers=auth(CITY)), 404, "no-such-programme")
    is_problem(
        client.get("/programmes/other-1/events", headers=auth(CITY)), 404, "no-such-programme"
    )
    step = {"step": "cancel", "by": "anna"}
    is_problem(
        client.post("/programmes/other-1/steps", json=step, headers=auth(CITY)),
        404,
        "no-such-programme",
    )
    is_problem(start(client, "other-2", token=CITY), 422, "outside-scope")
    assert {
        json.loads(line)["programme"]
        for line in client.get("/export", headers=auth(CITY)).text.splitlines()
    } == {"city-1"}
    feed = client.get("/events", headers=auth(CITY)).json()["items"]
    assert {item["event"]["programme"] for item in feed} == {"city-1"}
    agenda = client.get("/agenda", params={"within_days": 3000}, headers=auth(CITY)).json()
    assert {item["programme"] for item in agenda["items"]} == {"city-1"}
    assert len(events_in(client)) == 2  # the refused start wrote nothing


def test_a_stranger_cannot_act_and_a_participant_acts_in_their_own_role(
    client: TestClient[Any], oracle: Store
) -> None:
    start(client)
    refused = client.post(
        "/programmes/p1/steps", json={"step": "cancel", "by": "mallory"}, headers=auth()
    )
    is_problem(refused, 422, "not-a-participant")
    # the mentee may not schedule the orientation: the engine's role check, as on every path
    start_oracle(oracle)
    with pytest.raises(StepBlocked) as library:
        oracle.schedule(
            "p1", "orientation_date", "2027-02-01", at=NOW, actor=Actor("mentee", "porto")
        )
    answer = client.post(
        "/programmes/p1/dates",
        json={"date": "orientation_date", "value": "2027-02-01", "by": "porto"},
        headers=auth(),
    )
    body = is_problem(answer, 409, "step-blocked")
    assert body["blockers"] == [b.to_dict() for b in library.value.blockers]
    assert "role" in {b["kind"] for b in body["blockers"]}
    assert len(events_in(client)) == 1


# --- the store's guarantees as HTTP ---------------------------------------------------------


def test_a_start_is_201_with_location_and_etag_and_reads_back(client: TestClient[Any]) -> None:
    answer = start(client)
    assert answer.status_code == 201
    assert answer.headers["location"] == "/programmes/p1"
    assert answer.headers["etag"] == '"1"'
    again = client.get("/programmes/p1", headers=auth())
    assert again.status_code == 200 and again.json() == answer.json()
    assert again.headers["etag"] == '"1"'
    assert answer.json()["participants"] == CAST
    is_problem(start(client), 409, "programme-exists")


def test_a_retried_write_returns_the_first_result_and_writes_nothing(
    client: TestClient[Any],
) -> None:
    start(client)
    key = {"Idempotency-Key": "agreement-ghent"}
    body = {
        "deliverable": "peer_learning_agreement",
        "by": "ghent",
        "at": "2027-01-12T11:00:00+01:00",
    }
    first = client.post("/programmes/p1/submissions", json=body, headers={**auth(), **key})
    retry = client.post(
        "/programmes/p1/submissions",
        json={**body, "at": "2027-01-12T11:05:00+01:00"},
        headers={**auth(), **key},
    )
    assert first.status_code == retry.status_code == 201
    assert first.json() == retry.json() and retry.headers["etag"] == '"2"'
    assert first.headers["location"] == "/programmes/p1/events/1"
    assert len(events_in(client)) == 2
    assert json.loads(events_in(client)[1])["id"] == "agreement-ghent"
    # the same key for something else is a conflict, and writes nothing
    other = {**body, "deliverable": "availability_confirmation"}
    is_problem(
        client.post("/programmes/p1/submissions", json=other, headers={**auth(), **key}),
        409,
        "idempotency-key-reused",
    )
    assert len(events_in(client)) == 2


def test_if_match_applies_only_to_the_version_it_names(client: TestClient[Any]) -> None:
    start(client)
    body = {"deliverable": "peer_learning_agreement", "by": "ghent"}
    stale = client.post(
        "/programmes/p1/submissions", json=body, headers={**auth(), "If-Match": '"0"'}
    )
    problem = is_problem(stale, 412, "version-mismatch")
    assert stale.headers["etag"] == '"1"' and problem["current_next_seq"] == 1
    assert len(events_in(client)) == 1
    fresh = client.post(
        "/programmes/p1/submissions", json=body, headers={**auth(), "If-Match": '"1"'}
    )
    assert fresh.status_code == 201 and fresh.headers["etag"] == '"2"'
    for bad in ["1", 'W/"2"', '"x"', '"' + "9" * 40 + '"']:
        is_problem(
            client.post(
                "/programmes/p1/submissions", json=body, headers={**auth(), "If-Match": bad}
            ),
            400,
            "invalid-header",
        )
    assert len(events_in(client)) == 2


def test_a_refused_step_carries_the_blockers_the_library_gives(
    client: TestClient[Any], oracle: Store
) -> None:
    start(client)
    start_oracle(oracle)
    at = datetime(2027, 1, 12, 10, tzinfo=UTC)
    with pytest.raises(StepBlocked) as library:
        oracle.fire("p1", "hold_orientation", at=at, actor=Actor("facilitator", "anna"))
    answer = client.post(
        "/programmes/p1/steps",
        headers=auth(),
        json={"step": "hold_orientation", "by": "anna", "at": at.isoformat()},
    )
    body = is_problem(answer, 409, "step-blocked")
    assert body["blockers"] == [b.to_dict() for b in library.value.blockers]
    assert body["waivable_by"] == list(library.value.waivable_by)
    assert len(events_in(client)) == 1
    missing = client.post(
        "/programmes/p1/steps", json={"step": "fly", "by": "anna"}, headers=auth()
    )
    assert is_problem(missing, 409, "step-not-available")["state"] == "preparation"


def test_next_steps_are_the_librarys_for_a_role_a_participant_and_everyone(
    client: TestClient[Any], oracle: Store
) -> None:
    start(client)
    start_oracle(oracle)
    at = "2027-01-12T10:00:00+01:00"
    moment = datetime.fromisoformat(at)
    state = oracle.state("p1")
    for query, actor in [
        ({}, None),
        ({"role": "mentor"}, "mentor"),
        ({"participant": "porto"}, Actor("mentee", "porto")),
    ]:
        answer = client.get("/programmes/p1/next", params={"at": at, **query}, headers=auth())
        assert answer.status_code == 200 and answer.headers["etag"] == '"1"'
        steps = state.definition.next_steps(state, moment, actor, participation=True)
        assert answer.json()["steps"] == [s.to_dict() for s in steps]
        assert answer.json()["deadlines"] == [
            d.to_dict() for d in state.definition.deadlines(state, moment)
        ]
    is_problem(
        client.get("/programmes/p1/next", params={"role": "pilot"}, headers=auth()),
        422,
        "unknown-role",
    )
    is_problem(
        client.get("/programmes/p1/next", params={"participant": "mallory"}, headers=auth()),
        422,
        "not-a-participant",
    )


def test_the_forecast_is_the_librarys_and_refuses_a_moment_before_the_history(
    client: TestClient[Any], oracle: Store
) -> None:
    start(client)
    start_oracle(oracle)
    at = "2027-01-12T10:00:00+01:00"
    state = oracle.state("p1")
    answer = client.get("/programmes/p1/forecast", params={"at": at}, headers=auth())
    assert answer.status_code == 200 and answer.headers["etag"] == '"1"'
    expected = state.definition.forecast(state, datetime.fromisoformat(at)).to_dict()
    assert answer.json() == expected and expected["feasible"] is True
    is_problem(
        client.get(
            "/programmes/p1/forecast", params={"at": "2027-01-01T00:00:00Z"}, headers=auth()
        ),
        422,
        "before-history",
    )
    is_problem(client.get("/programmes/nope/forecast", headers=auth()), 404, "no-such-programme")


def test_a_batch_is_all_or_nothing_and_a_joiner_may_act_after_joining(
    client: TestClient[Any],
) -> None:
    body = {
        "programme": "g1",
        "definition": "mia-peer-groups",
        "by": "coord",
        "participants": [{"id": "coord", "role": "coordinator"}],
        "at": START_AT,
    }
    assert client.post("/programmes", json=body, headers=auth()).status_code == 201
    joins = [
        {
            "type": "join",
            "by": f"peer-{i}",
            "payload": {"participant": f"peer-{i}", "role": "peer"},
            "at": START_AT,
        }
        for i in range(3)
    ]
    broken = [
        *joins,
        {"type": "fire", "by": "peer-0", "payload": {"event": "no_such_step"}, "at": START_AT},
    ]
    refused = client.post("/programmes/g1/batches", json={"events": broken}, headers=auth())
    is_problem(refused, 409, "step-not-available")
    assert len(events_in(client)) == 1
    done = client.post(
        "/programmes/g1/batches",
        json={"events": joins},
        headers={**auth(), "Idempotency-Key": "joins"},
    )
    assert done.status_code == 201 and done.headers["etag"] == '"4"'
    assert [p["id"] for p in done.json()["participants"]] == ["coord", "peer-0", "peer-1", "peer-2"]
    again = client.post(
        "/programmes/g1/batches",
        json={"events": joins},
        headers={**auth(), "Idempotency-Key": "joins"},
    )
    assert again.json() == done.json() and len(events_in(client)) == 4


def test_the_export_and_the_feed_are_the_stores(client: TestClient[Any], url: str) -> None:
    start(client, "p1")
    start(client, "p2")
    with open_store(url) as store:
        lines = [event.to_line() for _, event in store.export()]
        positions = [position for position, _ in store.export()]
    assert events_in(client) == lines
    page = client.get("/events", params={"limit": 1}, headers=auth()).json()
    assert [i["position"] for i in page["items"]] == positions[:1]
    rest = client.get("/events", params={"after": page["next_after"]}, headers=auth()).json()
    assert [i["position"] for i in rest["items"]] == positions[1:] and rest["next_after"] is None
    first = client.get("/programmes", params={"limit": 1}, headers=auth()).json()
    assert [p["programme"] for p in first["items"]] == ["p1"] and first["next_after"] == "p1"
    second = client.get("/programmes", params={"after": "p1"}, headers=auth()).json()
    assert [p["programme"] for p in second["items"]] == ["p2"] and second["next_after"] is None


def test_a_definition_is_served_as_json_diagram_and_page_as_the_command_line_shows_it(
    client: TestClient[Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from peerflow.cli import main  # noqa: PLC0415

    for fmt, path in [("json", ""), ("mermaid", "/diagram"), ("markdown", "/page")]:
        main(["show", "sc-site-visit", "--format", fmt])
        shown = capsys.readouterr().out
        answer = client.get(f"/definitions/sc-site-visit{path}", headers=auth())
        assert answer.status_code == 200
        if fmt == "json":
            assert answer.json() == json.loads(shown)
        else:
            assert answer.text.strip() == shown.strip()
    is_problem(client.get("/definitions/nope/page", headers=auth()), 404, "unknown-definition")


def test_big_answers_are_gzipped_when_asked(client: TestClient[Any]) -> None:
    answer = client.get(
        "/definitions/prospect-peer-mentoring", headers={**auth(), "Accept-Encoding": "gzip"}
    )
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.json()["id"] == "prospect-peer-mentoring"  # decoded by the client
    plain = client.get(
        "/definitions/prospect-peer-mentoring", headers={**auth(), "Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers and plain.json() == answer.json()


def test_a_replayed_upload_is_the_report_peerflow_replay_writes(
    client: TestClient[Any], tmp_path: Path
) -> None:
    from peerflow.synthetic import generate  # noqa: PLC0415

    path = tmp_path / "upload.jsonl"
    prospect = peerflow.definition("prospect-peer-mentoring")
    lines = generate(prospect, 5, seed=3, deviation_share=0.5).lines()
    path.write_text("\n".join([*lines, "not json"]) + "\n")  # a bad line is reported too
    answer = client.post("/replay", content=path.read_bytes(), headers=auth())
    result = replay_files(path)
    expected = io.StringIO()
    write_json(list(result), result.problems, expected)
    report = json.loads(expected.getvalue().replace(str(path), "upload.jsonl"))
    assert answer.status_code == 200 and answer.json() == report
    assert report["problems"][0]["file"] == "upload.jsonl"  # not the service's temporary path
    assert len(events_in(client)) == 0  # a replay keeps nothing


# --- hostile input --------------------------------------------------------------------------

BAD_BODIES = {
    "a key twice": (
        b'{"step": "cancel", "step": "hold_orientation", "by": "anna"}',
        400,
        "invalid-json",
    ),
    "NaN": (b'{"step": "cancel", "by": "anna", "x": NaN}', 400, "invalid-json"),
    "deep": (
        b'{"step": "cancel", "by": "anna", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        400,
        "invalid-json",
    ),
    "not UTF-8": (b'{"step": "\xff\xfe", "by": "anna"}', 400, "invalid-json"),
    "not JSON": (b"step=cancel", 400, "invalid-json"),
    "too large": (
        b'{"step": "cancel", "by": "anna", "x": "' + b"a" * 1_100_000 + b'"}',
        413,
        "too-large",
    ),
    "a missing field": (b'{"by": "anna"}', 400, "invalid-request"),
    "a wrong type": (b'{"step": 7, "by": "anna"}', 400, "invalid-request"),
    "an id with a newline": (b'{"step": "cancel", "by": "an\\nna"}', 422, "invalid-id"),
    "a moment without offset": (
        b'{"step": "cancel", "by": "anna", "at": "2027-01-12T10:00:00"}',
        422,
        "invalid-moment",
    ),
}


@pytest.mark.parametrize("name", BAD_BODIES)
def test_a_hostile_body_is_one_problem_and_changes_nothing(
    client: TestClient[Any], name: str
) -> None:
    start(client)
    body, status, kind = BAD_BODIES[name]
    answer = client.post(
        "/programmes/p1/steps", content=body, headers={**auth(), "Content-Type": "application/json"}
    )
    is_problem(answer, status, kind)
    assert len(events_in(client)) == 1


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/programmes?stat=live", "unknown-query-parameter"),
        ("/programmes/p1/next?at=2027-01-12T10:00:00", "invalid-moment"),
        ("/programmes/p1/next?at=0001-01-12T10:00:00Z", "invalid-request"),
        ("/events?after=-1", "invalid-request"),
        ("/events?limit=100000", "invalid-request"),
    ],
)
def test_a_bad_query_is_one_problem(client: TestClient[Any], path: str, kind: str) -> None:
    start(client)
    answer = client.get(path, headers=auth())
    assert answer.status_code == 400 and is_problem(answer, 400, kind)


def test_odd_ids_in_paths_are_no_such_programme(client: TestClient[Any]) -> None:
    for odd in ["%00", "a%0Ab", "x" * 201, "%F0%9F%98%80%ED%A0%80"]:
        is_problem(client.get(f"/programmes/{odd}", headers=auth()), 404, "no-such-programme")
    is_problem(
        client.post("/programmes/%00/steps", json={"step": "x", "by": "anna"}, headers=auth()),
        404,
        "no-such-programme",
    )


def test_options_lists_every_method_of_the_path(client: TestClient[Any]) -> None:
    """Litestar lists only the first handler's methods; the service answers for the path."""
    answer = client.options("/programmes", headers=auth())
    assert answer.status_code == 204 and answer.headers["allow"] == "GET, OPTIONS, POST"
    assert client.options("/health").headers["allow"] == "GET, OPTIONS"


# --- configuration --------------------------------------------------------------------------


def test_portals_are_read_from_toml_with_tokens_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "portals.toml"
    path.write_text(
        '[[portal]]\nname = "city"\ntoken_env = "CITY"\nprogrammes = "city-"\n'
        '[[portal]]\nname = "all"\ntoken = "' + ALL + '"\n'
    )
    config = load_config(path, {"CITY": CITY})
    assert config.portal_for(CITY) == Portal("city", CITY, "city-")
    assert config.portal_for(ALL) == Portal("all", ALL, "")
    assert config.portal_for("x" * 40) is None
    assert CITY not in repr(config)  # a token never shows in logs


@pytest.mark.parametrize(
    ("text", "env", "said"),
    [
        ("", {}, "no [[portal]] table"),
        ("[[portal]]\nname = 'a'\ntoken_env = 'MISSING'\n", {}, "'MISSING' is not set"),
        ("[[portal]]\nname = 'a'\ntoken = 'short'\n", {}, "at least 24 printable characters"),
        ("[[portal]]\nname = 'a'\ntoken = 'x'\ntoken_env = 'X'\n", {}, "exactly one of"),
        ("[[portal]]\nname = 'a'\ntokn = 'x'\n", {}, "unknown key(s) ['tokn']"),
        (
            f"[[portal]]\nname = 'a'\ntoken = '{ALL}'\n[[portal]]\nname = 'b'\ntoken = '{ALL}'\n",
            {},
            "share a token",
        ),
        (
            f"[[portal]]\nname = 'a'\ntoken = '{ALL}'\n[[portal]]\nname = 'a'\ntoken = '{CITY}'\n",
            {},
            "more than once",
        ),
        ("[[portal]\n", {}, "not TOML"),
        ('[[portal]]\nname = "a\\nb"\ntoken = "x"\n', {}, "portal[0].name"),
    ],
)
def test_a_bad_configuration_is_one_line_naming_the_file(
    tmp_path: Path, text: str, env: dict[str, str], said: str
) -> None:
    path = tmp_path / "portals.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env)
    message = str(caught.value)
    assert message.startswith(str(path)) and said in message and "\n" not in message


# --- the contract ---------------------------------------------------------------------------


def test_the_committed_openapi_document_is_the_codes(client: TestClient[Any]) -> None:
    """docs/openapi.json is generated from the code (``peerflow serve --openapi >
    docs/openapi.json``); this fails when they drift."""
    served = client.get("/openapi/openapi.json").json()
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert committed == served


def test_the_openapi_document_says_what_docs_http_promises(client: TestClient[Any]) -> None:
    document = client.get("/openapi/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
    }
    write = document["paths"]["/programmes/{programme_id}/submissions"]["post"]
    assert {p["name"] for p in write["parameters"] if p["in"] == "header"} == {
        "If-Match",
        "Idempotency-Key",
    }
    assert {"201", "400", "401", "404", "409", "412", "413", "422"} <= set(write["responses"])
    assert set(write["responses"]["201"]["headers"]) == {"ETag", "Location"}
    problem = write["responses"]["409"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/ProblemOut"}


def test_docs_http_lists_every_problem_type_the_service_makes() -> None:
    """The table of problem types in docs/http.md and the types the code makes are one set."""
    source = "".join(p.read_text() for p in (ROOT / "src" / "peerflow" / "http").glob("*.py"))
    made = set(re.findall(r'(?:problem_response|_Refusal)\(\s*\d+,\s*"([a-z-]+)"', source))
    made |= set(re.findall(r'\d{3}: "([a-z-]+)"', source))  # the framework's own refusals
    table = (ROOT / "docs" / "http.md").read_text().split("## Errors")[1].split("\n## ")[0]
    listed = {
        name
        for row in table.splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`([a-z-]+)`", row.split("|")[1])
    }
    assert made == listed


def test_a_replay_leaves_nothing_behind_and_a_large_upload_is_413(
    client: TestClient[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile  # noqa: PLC0415

    from peerflow.http import _app  # noqa: PLC0415

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    lines = generate(peerflow.definition("sc-site-visit"), 3, seed=1).lines()
    upload = ("\n".join(lines) + "\n").encode()
    answer = client.post("/replay", content=upload, headers=auth())
    assert answer.status_code == 200 and answer.json()["summary"]["programmes"] == 3
    monkeypatch.setattr(_app, "MAX_UPLOAD", len(upload) - 1)
    is_problem(client.post("/replay", content=upload, headers=auth()), 413, "too-large")
    assert list(scratch.iterdir()) == []  # the upload and the report are gone, both times
