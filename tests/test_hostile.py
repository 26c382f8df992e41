"""Hostile input at every way in: each is refused with one line and nothing recorded.

Who may write: a start by a stranger or in a role the starter does not hold, participants
listed at the start past the join rules. Each case runs on the engine, the embedding API, and
the store on every backend (``store`` fixture), and through ``peerflow import``.
"""

from __future__ import annotations

import pickle
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import peerflow
from peerflow import Actor, Event, EventError, Programme, StoreError
from peerflow.cli import main
from peerflow.engine._budget import assess_claim
from peerflow.engine._registry import example_path
from peerflow.replay import replay_files
from peerflow.store import Store

CET = timezone(timedelta(hours=1))
START = datetime(2027, 1, 11, 9, tzinfo=CET)

PROSPECT_CAST = [
    {"id": "anna", "role": "facilitator"},
    {"id": "ghent", "role": "mentor"},
    {"id": "porto", "role": "mentee"},
    {"id": "finance", "role": "finance_coordinator"},
]


def start_event(
    definition: str,
    actor: Actor,
    participants: list[dict[str, str]],
    programme: str = "hostile",
    event_id: str = "hostile-0",
) -> Event:
    return Event(
        programme,
        0,
        event_id,
        START,
        actor,
        "start",
        {"definition": definition, "version": 1, "participants": participants},
    )


# --- 1. who may start a programme -------------------------------------------------------

BAD_STARTS: list[tuple[str, Actor, list[dict[str, str]], str]] = [
    (
        "a stranger, listed nowhere",
        Actor("facilitator", "mallory"),
        PROSPECT_CAST,
        "must be listed in payload.participants",
    ),
    ("an empty actor", Actor("", ""), PROSPECT_CAST, "actor.id must not be empty"),
    (
        "a mentee claiming to be the facilitator",
        Actor("facilitator", "porto"),
        PROSPECT_CAST,
        "must be listed in payload.participants in that role",
    ),
    (
        "a mentee, as a mentee",
        Actor("mentee", "porto"),
        PROSPECT_CAST,
        "role 'mentee' may not start",
    ),
]


@pytest.mark.parametrize(
    ("actor", "participants", "message"),
    [case[1:] for case in BAD_STARTS],
    ids=[case[0] for case in BAD_STARTS],
)
def test_only_a_listed_participant_in_a_starting_role_may_start(
    actor: Actor, participants: list[dict[str, str]], message: str
) -> None:
    prospect = peerflow.definition("prospect-peer-mentoring")
    with pytest.raises(EventError, match=message):
        prospect.start(start_event(prospect.id, actor, participants))
    with pytest.raises(EventError, match=message):
        Programme.start(
            prospect,
            "hostile",
            at=START,
            actor=actor,
            participants=[(p["id"], p["role"]) for p in participants],
        )


def test_the_facilitator_starts_prospect() -> None:
    """The counterpart that must pass: PROSPECT's facilitator, listed as such."""
    prospect = peerflow.definition("prospect-peer-mentoring")
    st = prospect.start(start_event(prospect.id, Actor("facilitator", "anna"), PROSPECT_CAST))
    assert st.state == "preparation"


@pytest.mark.parametrize(
    ("actor", "participants", "message"),
    [case[1:] for case in BAD_STARTS],
    ids=[case[0] for case in BAD_STARTS],
)
def test_the_store_refuses_a_bad_start_and_keeps_nothing(
    store: Store, actor: Actor, participants: list[dict[str, str]], message: str
) -> None:
    prospect = peerflow.definition("prospect-peer-mentoring")
    with pytest.raises(EventError, match=message):
        store.append([start_event(prospect.id, actor, participants)], expected_next_seq=0)
    with pytest.raises(EventError, match=message):
        store.start(
            prospect,
            "hostile",
            at=START,
            actor=actor,
            participants=[(p["id"], p["role"]) for p in participants],
        )
    assert store.programmes() == []
    assert list(store.export()) == []


def test_import_refuses_a_start_by_a_stranger(tmp_path: Path, capsys: Any) -> None:
    history = tmp_path / "h.jsonl"
    bad = start_event("prospect-peer-mentoring", Actor("facilitator", "mallory"), PROSPECT_CAST)
    history.write_text(bad.to_line() + "\n")
    db = tmp_path / "s.sqlite3"
    assert main(["import", str(history), "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert "hostile: not imported" in err and "must be listed" in err
    with peerflow.store.open_store(str(db)) as store:
        assert store.programmes() == []


def test_started_by_names_the_roles_that_may_start(tmp_path: Path) -> None:
    text = (
        peerflow.builtin_files()["prospect-peer-mentoring"]
        .read_text()
        .replace("waivable_by: [facilitator]", "waivable_by: [facilitator]\nstarted_by: [mentor]")
    )
    own = peerflow.compile_text(text, "own.yaml")
    with pytest.raises(EventError, match="role 'facilitator' may not start"):
        own.start(start_event(own.id, Actor("facilitator", "anna"), PROSPECT_CAST))
    assert own.start(start_event(own.id, Actor("mentor", "ghent"), PROSPECT_CAST)).next_seq == 1
    bad = text.replace("started_by: [mentor]", "started_by: [mentr]")
    with pytest.raises(peerflow.DefinitionError, match=r"started_by\[0\]: unknown role 'mentr'"):
        peerflow.compile_text(bad, "own.yaml")


# --- 2. the start's participant list keeps the join rules -------------------------------

PEER_GROUP = [{"id": "barcelona", "role": "coordinator"}]
SITE_VISIT = [{"id": "sec", "role": "secretariat"}, {"id": "eindhoven", "role": "host"}]
TUTORING = [
    {"id": "agency", "role": "coordinator"},
    {"id": "sisak", "role": "trainee"},
]

LISTED_PAST_THE_JOIN_RULES: list[tuple[str, str, Actor, list[dict[str, str]]]] = [
    (
        "six peers listed by the coordinator (peers join themselves)",
        "mia-peer-groups",
        Actor("coordinator", "barcelona"),
        PEER_GROUP + [{"id": f"peer-{i}", "role": "peer"} for i in range(6)],
    ),
    (
        "visitor cities listed by the secretariat before their call",
        "sc-site-visit",
        Actor("secretariat", "sec"),
        [*SITE_VISIT, {"id": "graz", "role": "visitor"}],
    ),
    (
        "a tutor listed before the programme design stage",
        "mia-tutoring",
        Actor("coordinator", "agency"),
        [*TUTORING, {"id": "tutor", "role": "tutor"}],
    ),
]


@pytest.mark.parametrize(
    ("definition_id", "actor", "participants"),
    [case[1:] for case in LISTED_PAST_THE_JOIN_RULES],
    ids=[case[0] for case in LISTED_PAST_THE_JOIN_RULES],
)
def test_a_start_may_not_list_who_must_join(
    definition_id: str, actor: Actor, participants: list[dict[str, str]]
) -> None:
    compiled = peerflow.definition(definition_id)
    with pytest.raises(EventError, match="cannot be listed at the start"):
        compiled.start(start_event(definition_id, actor, participants))
    without = [p for p in participants if not compiled.type.roles[p["role"]].joins_later]
    assert compiled.start(start_event(definition_id, actor, without)).next_seq == 1


def test_a_start_that_lists_joiners_is_refused_by_the_store(store: Store) -> None:
    _, definition_id, actor, participants = LISTED_PAST_THE_JOIN_RULES[0]
    with pytest.raises(EventError, match="cannot be listed at the start"):
        store.append([start_event(definition_id, actor, participants)], expected_next_seq=0)
    assert store.programmes() == []


ALLOWED_AT_THE_START = """
id: listed-helpers
version: 1
title: Helpers a lead may add from the first day
initial: open
waivable_by: [lead]
roles:
  lead: {}
  helper: {min: 0, max: 2, joined_by: [lead], join_during: [open]}
states:
  open: {}
  done: {terminal: true}
transitions:
  - {event: finish, from: open, to: done, by: lead}
"""


def test_a_start_may_list_whom_the_starter_may_add_in_the_initial_state() -> None:
    compiled = peerflow.compile_text(ALLOWED_AT_THE_START, "helpers.yaml")
    lead = Actor("lead", "lea")
    people = [{"id": "lea", "role": "lead"}, {"id": "hal", "role": "helper"}]
    assert compiled.start(start_event(compiled.id, lead, people)).count("helper") == 1


# --- 3. one id rule everywhere ------------------------------------------------------------

ODD_IDS = {
    "unit separator": "anna\x1fghent",
    "NUL": "anna\x00",
    "newline": "anna\nghent: conforming",
    "ANSI escape": "\x1b[2Jghent",
    "lone surrogate": "ghent\ud800",
    "right-to-left override": "ghent\u202e",
    "too long": "g" * 201,
    "empty": "",
}


def _prospect_start(programme: str = "p", actor_id: str = "anna", **ids: str) -> Event:
    cast = [dict(p) for p in PROSPECT_CAST]
    cast[0]["id"] = actor_id
    cast[1]["id"] = ids.get("mentor", "ghent")
    return Event(
        programme,
        0,
        ids.get("event", "e0"),
        START,
        Actor("facilitator", actor_id),
        "start",
        {"definition": "prospect-peer-mentoring", "version": 1, "participants": cast},
    )


@pytest.mark.parametrize("odd", ODD_IDS.values(), ids=ODD_IDS.keys())
@pytest.mark.parametrize("where", ["programme", "actor", "mentor", "event"])
def test_the_engine_refuses_odd_ids(odd: str, where: str) -> None:
    prospect = peerflow.definition("prospect-peer-mentoring")
    if where == "programme":
        event = _prospect_start(programme=odd)
    elif where == "actor":
        event = _prospect_start(actor_id=odd)
    else:
        event = _prospect_start(**{where: odd})
    with pytest.raises(EventError) as refused:
        prospect.start(event)
    assert "\n" not in str(refused.value).replace(repr(odd), "")


def test_a_packed_separator_no_longer_passes_as_another_participant() -> None:
    """``anna\\x1fghent`` once matched the participant ``anna`` in the packed state."""
    prospect = peerflow.definition("prospect-peer-mentoring")
    st = prospect.start(_prospect_start())
    forged = Event(
        "p", 1, "e1", START, Actor("facilitator", "anna\x1fghent"), "fire", {"event": "cancel"}
    )
    with pytest.raises(EventError, match=r"actor.id .*unprintable character '\\x1f'"):
        prospect.apply(st, forged)
    with pytest.raises(EventError, match="unprintable"):
        prospect.audit(st, forged)


@pytest.mark.parametrize("odd", ODD_IDS.values(), ids=ODD_IDS.keys())
def test_the_store_refuses_odd_ids_before_the_database_sees_them(store: Store, odd: str) -> None:
    prospect = peerflow.definition("prospect-peer-mentoring")
    with pytest.raises((EventError, StoreError)):
        store.append([_prospect_start(programme=odd)], expected_next_seq=0)
    with pytest.raises((EventError, StoreError)):
        store.append([_prospect_start(mentor=odd)], expected_next_seq=0)
    with pytest.raises(StoreError, match="event id"):
        store.append([_prospect_start(event=odd)], expected_next_seq=0)
    assert store.programmes() == []
    store.start(
        prospect,
        "p",
        at=START,
        actor=Actor("facilitator", "anna"),
        participants=[(p["id"], p["role"]) for p in PROSPECT_CAST],
    )
    with pytest.raises(StoreError, match="programme"):
        store.state(odd)
    with pytest.raises(StoreError, match="event id"):
        store.fire("p", "cancel", at=START, actor=Actor("facilitator", "anna"), event_id=odd)
    with pytest.raises(EventError, match=r"actor\.id"):
        store.fire("p", "cancel", at=START, actor=Actor("facilitator", odd))
    assert store.state("p").next_seq == 1
    assert [e.seq for e in store.events("p")] == [0]


@pytest.mark.parametrize("odd", ODD_IDS.values(), ids=ODD_IDS.keys())
@pytest.mark.parametrize("field", ["programme", "id", "actor.id"])
def test_a_history_line_with_an_odd_id_is_a_bad_line(tmp_path: Path, odd: str, field: str) -> None:
    good = _prospect_start().to_json()
    if field == "actor.id":
        good["actor"]["id"] = odd
    else:
        good[field] = odd
    path = tmp_path / "odd.jsonl"
    import json  # noqa: PLC0415

    path.write_text(json.dumps(good) + "\n" + _prospect_start("q").to_line() + "\n")
    found = peerflow.replay.read_histories(path)
    assert [p.line for p in found.problems] == [1]
    assert f"'{field}'" in found.problems[0].reason
    assert found.rows["q"], "the next programme still reads"


def test_a_claim_id_and_a_joiner_keep_the_id_rule() -> None:
    site_visit = peerflow.definition("sc-site-visit")
    st = site_visit.start(
        start_event(site_visit.id, Actor("secretariat", "sec"), SITE_VISIT, programme="sv")
    )
    join = Event(
        "sv",
        1,
        "j",
        START,
        Actor("secretariat", "sec"),
        "join",
        {"participant": "graz\nsec (secretariat)", "role": "visitor"},
    )
    with pytest.raises(EventError, match=r"payload\.participant must be"):
        site_visit.apply(st, join)
    budget = site_visit.type.budget
    assert budget is not None
    payload = {"claim": "c\x1b[31m", "items": [{"item": "meeting_rooms", "amount": "1"}]}
    with pytest.raises(EventError, match=r"payload\.claim must name the claim"):
        assess_claim(budget, "host", "eindhoven", payload, (), 1, START.date())


@pytest.mark.parametrize("odd", ["p\x1b[2J", "p\nfake: conforming", "p\x00"])
def test_the_command_line_refuses_an_odd_id_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], odd: str
) -> None:
    db = str(tmp_path / "s.sqlite3")
    argv = ["new", "prospect-peer-mentoring", odd, "--db", db, "--by", "anna"]
    for p in PROSPECT_CAST:
        argv += ["-p", f"{p['id']}:{p['role']}"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.rstrip("\n").isprintable()
    assert "\x00" not in err and err.startswith("peerflow: ")


# --- 5. definition() takes ids, never paths -----------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "/etc/passwd",
        str(Path(__file__).resolve().parents[1] / "definitions" / "sc-site-visit.yaml"),
        "sc-site-visit.yaml",
        ".",
        "",
    ],
)
def test_definition_takes_ids_not_paths(name: str) -> None:
    with pytest.raises(peerflow.UnknownDefinition, match="no built-in definition") as refused:
        peerflow.definition(name)
    assert refused.value.name == name


def test_an_unknown_definition_is_a_peerflow_error_and_a_lookup_error() -> None:
    """``except PeerflowError`` catches everything peerflow raises on purpose; code written
    for the lookup's ``LookupError`` keeps working; the error survives pickling (workers)."""
    with pytest.raises(peerflow.PeerflowError) as refused:
        peerflow.definition("sc-site-visit", 99)
    error = refused.value
    assert isinstance(error, LookupError)
    assert str(error) == "definition 'sc-site-visit' is at version 1, not 99"
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.name, copy.version) == (
        peerflow.UnknownDefinition,
        str(error),
        "sc-site-visit",
        99,
    )


def test_own_files_load_with_load_definition() -> None:
    path = Path(__file__).resolve().parents[1] / "definitions" / "sc-site-visit.yaml"
    assert peerflow.load_definition(path).id == "sc-site-visit"


# --- 6. one byte that is not UTF-8 spoils one line, not a chunk ---------------------------


def _synthetic_file(tmp_path: Path, count: int = 120) -> tuple[Path, list[bytes]]:
    from peerflow.synthetic import generate  # noqa: PLC0415

    lines = [
        line.encode()
        for line in generate(
            peerflow.definition("sc-expert-review"), count, seed=3, deviation_share=0
        ).lines()
    ]
    return tmp_path / "h.jsonl", lines


def test_a_line_that_is_not_utf8_is_one_bad_line(tmp_path: Path) -> None:
    path, lines = _synthetic_file(tmp_path)
    bad = len(lines) // 2
    victim = lines[bad].split(b'"programme": "')[1].split(b'"')[0].decode()
    spoilt = list(lines)
    spoilt[bad] = spoilt[bad].replace(b'"payload": {', b'"payload": {"note": "\xff", ', 1)
    path.write_bytes(b"\n".join(spoilt) + b"\n")
    clean = tmp_path / "clean.jsonl"
    clean.write_bytes(b"\n".join(lines) + b"\n")

    found = peerflow.replay.read_histories(path)
    expected = peerflow.replay.read_histories(clean)
    assert [(p.line, p.programme) for p in found.problems] == [(bad + 1, victim)]
    assert "not UTF-8" in found.problems[0].reason
    assert found.cut.keys() == {victim}
    for programme in expected.programmes:
        if programme != victim:
            assert found.rows[programme] == expected.rows[programme]
    kept = len(found.rows[victim]) + found.left_out.get(victim, 0) + 1
    assert kept == len(expected.rows[victim]), "every line of the cut programme is counted"

    result = peerflow.replay.replay_files(path)
    (cut,) = [p for p in result.programmes if p.problems]
    assert cut.programme == victim and not cut.conforming
    assert len(result.programmes) == len(expected.programmes)
    with pytest.raises(peerflow.HistoryError, match=rf":{bad + 1}: not UTF-8"):
        peerflow.read_history(path)


def test_replay_and_import_exit_1_on_a_line_that_is_not_utf8(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, lines = _synthetic_file(tmp_path, 20)
    lines[5] = lines[5] + b"\xc3"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert main(["replay", str(path), "--summary"]) == 1
    assert f"{path}:6: not UTF-8 text" in capsys.readouterr().err
    db = str(tmp_path / "s.sqlite3")
    assert main(["import", str(path), "--db", db]) == 1
    out = capsys.readouterr().out
    assert "imported 19 programme(s); 1 not imported" in out


# --- 7. an invalid start loses nothing silently --------------------------------------------

BAD_START_PAYLOADS = {
    "unknown definition": {"definition": "no-such-programme", "version": 1},
    "definition of the wrong type": {"definition": ["prospect-peer-mentoring"], "version": 1},
    "missing definition": {"definition": None},
    "participants of the wrong type": {"participants": "anna"},
    "version of the wrong type": {"version": "one"},
}


@pytest.mark.parametrize("change", BAD_START_PAYLOADS.values(), ids=BAD_START_PAYLOADS.keys())
def test_a_programme_whose_start_is_invalid_is_reported_and_its_lines_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: dict[str, Any]
) -> None:
    import json  # noqa: PLC0415

    lines = example_path("prospect-peer-mentoring").read_text().splitlines()
    start = json.loads(lines[0])
    start["payload"].update(change)
    start["payload"] = {k: v for k, v in start["payload"].items() if v is not None}
    broken = [json.dumps(start), *lines[1:]]
    other = [line.replace("prospect-2027-ghent", "other") for line in lines]
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join(broken + other) + "\n")

    result = peerflow.replay.replay_files(path)
    (bad,) = result.not_started
    assert bad.programme == "prospect-2027-ghent"
    assert bad.left_out == len(lines) - 1, "every later line is accounted for"
    assert not result.ok
    assert (
        peerflow.replay.replay(peerflow.replay.read_histories(path)).not_started[0].left_out
        == len(lines) - 1
    )

    assert main(["replay", str(path), "--summary"]) == 1
    err = capsys.readouterr().err
    assert "programme 'prospect-2027-ghent' not replayed" in err
    assert f"({len(lines) - 1} later event(s) left out)" in err
    assert main(["import", str(path), "--db", str(tmp_path / "s.sqlite3")]) == 1


def test_next_exits_1_on_a_gap_as_replay_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:

    lines = example_path("prospect-peer-mentoring").read_text().splitlines()
    path = tmp_path / "gap.jsonl"
    path.write_text("\n".join(lines[:5] + lines[6:]) + "\n")
    assert main(["replay", str(path), "--summary"]) == 1
    assert main(["next", str(path), "--at", "2027-12-01T00:00+01:00"]) == 1
    assert "expected seq 5, got 6 (a gap)" in capsys.readouterr().err


# --- 8. one reading of a line everywhere ----------------------------------------------------

AMBIGUOUS_LINES = {
    "v true": ('"v": 1', '"v": true', "format version True"),
    "v 1.0": ('"v": 1', '"v": 1.0', "format version 1.0"),
    "a key twice": ('"seq": 0,', '"seq": 0, "seq": 0,', "the key 'seq' appears twice"),
    "a payload key twice": (
        '"payload": {',
        '"payload": {"definition": "x", ',
        "the key 'definition' appears twice",
    ),
    "NaN": ('"payload": {', '"payload": {"amount": NaN, ', "NaN is not a number"),
    "Infinity": ('"seq": 0', '"seq": Infinity', "Infinity is not a number"),
}


@pytest.mark.parametrize(
    ("old", "new", "message"), AMBIGUOUS_LINES.values(), ids=AMBIGUOUS_LINES.keys()
)
def test_an_ambiguous_line_is_a_bad_line_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, message: str
) -> None:

    lines = example_path("prospect-peer-mentoring").read_text().splitlines()
    assert old in lines[0]
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join([lines[0].replace(old, new, 1), *lines[1:]]) + "\n")
    found = peerflow.replay.read_histories(path)
    assert [(p.line, message in p.reason) for p in found.problems] == [(1, True)]
    with pytest.raises(peerflow.HistoryError, match=message):
        peerflow.read_history(path)
    assert main(["replay", str(path)]) == 1
    assert main(["next", str(path)]) == 1
    assert main(["import", str(path), "--db", str(tmp_path / "s.sqlite3")]) == 1
    assert message in capsys.readouterr().err


# --- 9. bounded on hostile input ------------------------------------------------------------

ALIAS_BOMB = """id: bomb
version: 1
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""

HOSTILE_DEFINITIONS = {
    "alias bomb": (ALIAS_BOMB, 3, "anchors and aliases"),
    "recursive alias": ("id: x\na: &a [*a]\n", 2, "anchors and aliases"),
    "NUL byte": ("id: x\ntitle: a\x00b\n", 2, r"the character '\x00' is not allowed"),
    "2,000 levels": ("id: x\na: " + "[" * 2000 + "]" * 2000 + "\n", 2, "nest"),
    "200 block levels": (
        "id: x\n" + "".join(" " * i + f"k{i}:\n" for i in range(200)),
        34,
        "nested deeper than 32",
    ),
    "300 KB": ("id: x\ntitle: " + "a" * 300_000 + "\n", 1, "at most 262,144"),
}


@pytest.mark.parametrize(
    ("text", "line", "message"), HOSTILE_DEFINITIONS.values(), ids=HOSTILE_DEFINITIONS.keys()
)
def test_hostile_yaml_is_refused_in_one_line_without_building_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    line: int,
    message: str,
) -> None:
    import tracemalloc  # noqa: PLC0415

    tracemalloc.start()
    with pytest.raises(peerflow.DefinitionError) as refused:
        peerflow.model.parse_definition(text, "hostile.yaml")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    (problem,) = refused.value.problems
    assert problem.line == line
    assert message.replace("\\", "") in problem.message or message in problem.message
    assert peak < 50 * len(text) + 10_000_000, f"peak {peak:,} bytes for {len(text):,}"
    path = tmp_path / "hostile.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(f"{path}:{line}: ")


def _chain(states: int) -> str:
    lines = [
        "id: chain",
        "version: 1",
        "title: A long chain",
        "initial: s0",
        "waivable_by: [a]",
        "roles:",
        "  a: {}",
        "states:",
    ]
    lines += [f"  s{i}: {{}}" for i in range(states)] + [f"  s{states}: {{terminal: true}}"]
    lines.append("transitions:")
    lines.append("  - {event: e0, from: s0, to: s1, by: a}")
    lines += [
        f"  - {{event: e{i}, from: s{i}, to: s{i + 1}, by: a,"
        f" window: {{closes: {{after: e{i - 1}, days: 3}}}}}}"
        for i in range(1, states)
    ]
    return "\n".join(lines) + "\n"


def test_checking_a_definition_takes_memory_linear_in_its_size() -> None:
    """A table of every state's must-have-fired events grew as states x events (400 MB for
    a chain of 4,000 states): doubling the chain must about double the peak, not quadruple."""
    import tracemalloc  # noqa: PLC0415

    peaks = []
    for states in (400, 800):
        text = _chain(states)
        tracemalloc.start()
        peerflow.model.parse_definition(text, "chain.yaml")
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 2.6 * peaks[0], peaks


DEEP_JSON = "[" * 1000 + "]" * 1000


@pytest.mark.parametrize("depth", [40, 900, 100_000])
def test_a_deeply_nested_line_is_one_bad_line(tmp_path: Path, depth: int) -> None:

    lines = example_path("prospect-peer-mentoring").read_text().splitlines()
    deep = lines[3].replace('"payload": {', '"payload": {"x": ' + "[" * depth + "]" * depth + ", ")
    path = tmp_path / "deep.jsonl"
    path.write_text("\n".join([*lines[:3], deep, *lines[4:]]) + "\n")
    result = peerflow.replay.replay_files(path)
    assert [(p.line, p.reason) for p in result.bad_lines] == [(4, "nested deeper than 32 levels")]
    assert main(["replay", str(path), "-j", "2", "--summary"]) == 1


@pytest.mark.parametrize("wrap", ["dict", "list", "tuple", "mapping"])
def test_nesting_is_refused_one_level_past_the_limit_and_not_before(wrap: str) -> None:
    """32 levels (the payload itself is the first) pass; 33 are refused, whatever holds them."""
    from types import MappingProxyType  # noqa: PLC0415

    from peerflow.events._envelope import MAX_NESTING, nesting_problem  # noqa: PLC0415

    def nest(levels: int) -> Any:
        value: Any = "leaf"
        for _ in range(levels):
            value = {
                "dict": lambda v: {"k": v},
                "list": lambda v: [1, v],
                "tuple": lambda v: (v,),
                "mapping": lambda v: MappingProxyType({"k": v}),
            }[wrap](value)
        return value

    assert MAX_NESTING == 32  # the number the refusals below name
    assert nesting_problem(nest(32)) is None
    assert nesting_problem(nest(33)) == "nested deeper than 32 levels"
    assert nesting_problem({"a": 1, "b": [nest(30)]}) is None  # 2 + 30 levels
    assert nesting_problem({"a": 1, "b": [nest(31)]}) == "nested deeper than 32 levels"


def test_a_deeply_nested_payload_is_refused_live(store: Store) -> None:
    prospect = peerflow.definition("prospect-peer-mentoring")
    facilitator = Actor("facilitator", "anna")
    store.start(
        prospect,
        "p",
        at=START,
        actor=facilitator,
        participants=[(p["id"], p["role"]) for p in PROSPECT_CAST],
    )
    deep: Any = []
    for _ in range(5000):
        deep = [deep]
    payload = {"deliverable": "peer_learning_agreement", "x": deep}
    mentor = Actor("mentor", "ghent")
    with pytest.raises(EventError, match="nested deeper than 32 levels"):
        store.record("p", "submit", payload, at=START, actor=mentor)
    programme = Programme.from_history(store.events("p"))
    with pytest.raises(EventError, match="nested deeper than 32 levels"):
        programme.record("submit", payload, at=START, actor=mentor)
    assert store.state("p").next_seq == 1 and len(programme.history) == 1


# --- 10. the model checker has a time budget -------------------------------------------------


def _many_deliverables(count: int = 40) -> str:
    lines = [
        "id: many",
        "version: 1",
        "title: Forty independent deliverables",
        "initial: open",
        "waivable_by: [lead]",
        "roles:",
        "  lead: {}",
        "  member: {min: 2, max: 2}",
        "deliverables:",
    ]
    lines += [f"  d{i}: {{title: D{i}, owed_by: member, each: true}}" for i in range(count)]
    lines += [
        "states:",
        "  open: {}",
        "  done: {terminal: true}",
        "transitions:",
        f"  - {{event: finish, from: open, to: done, by: lead, requires: "
        f"[{', '.join(f'd{i}' for i in range(count))}]}}",
    ]
    return "\n".join(lines) + "\n"


def test_check_stops_at_its_time_budget_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from peerflow.checking import check  # noqa: PLC0415

    text = _many_deliverables()
    assert len(text) < 3000
    compiled = peerflow.compile_text(text, "many.yaml")
    report = check(compiled, max_seconds=1.0)
    assert not report.complete
    assert report.bound.startswith("--max-seconds 1 (")
    path = tmp_path / "many.yaml"
    path.write_text(text)
    main(["check", str(path), "--max-seconds", "1"])
    out = capsys.readouterr().out
    assert "cut by a bound: --max-seconds 1" in out
    with pytest.raises(ValueError, match="max_seconds must be more than 0"):
        check(compiled, max_seconds=0)
    with pytest.raises(SystemExit):
        main(["check", str(path), "--max-seconds", "nan"])


# --- 11, 12. one line instead of a traceback; a read never creates a store ------------------


def _example() -> str:

    return str(example_path("prospect-peer-mentoring"))


def _one_error_line(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.count("\n") == 1 and err.startswith("peerflow: "), err
    return err


def test_output_to_a_missing_folder_or_a_directory_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "no" / "such" / "out.csv")
    assert "No such file or directory" in _one_error_line(
        capsys, "replay", _example(), "-o", missing
    )
    assert "Is a directory" in _one_error_line(capsys, "replay", _example(), "-o", str(tmp_path))
    db = str(tmp_path / "s.sqlite3")
    assert main(["import", _example(), "--db", db]) == 0
    capsys.readouterr()
    assert "No such file" in _one_error_line(capsys, "export", "--db", db, "-o", missing)


def test_a_file_that_is_not_a_database_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_db = tmp_path / "notes.txt"
    not_db.write_text("hello, this is not a database\n" * 100)
    for argv in (["agenda"], ["next", "p"], ["export"], ["import", _example()]):
        err = _one_error_line(capsys, *argv, "--db", str(not_db))
        assert f"cannot use {not_db} as a SQLite store: file is not a database" in err
    assert not_db.read_text().startswith("hello")


def test_a_read_never_creates_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nowhere = tmp_path / "typo.sqlite3"
    for argv in (["agenda"], ["next", "p"], ["export"], ["export", "-o", str(tmp_path / "o")]):
        assert f"no store at {nowhere}" in _one_error_line(capsys, *argv, "--db", str(nowhere))
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(StoreError, match="no store at"):
        peerflow.store.open_store(str(nowhere), create=False)
    assert "not a history file" in _one_error_line(capsys, "next", "/dev/null")


def test_export_of_an_unknown_programme_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "s.sqlite3")
    assert main(["import", _example(), "--db", db]) == 0
    capsys.readouterr()
    assert "no programme 'nope'" in _one_error_line(
        capsys, "export", "--db", db, "--programme", "nope"
    )


@pytest.mark.parametrize("within", ["999999999999d", "5300w", "900000h"])
def test_a_huge_within_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], within: str
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["agenda", "--within", within, "--db", str(tmp_path / "s.sqlite3")])
    assert stopped.value.code == 2
    assert "at most 100 years" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("jobs", "said"),
    [
        ("100000", "at most 64 processes, got 100,000"),
        ("0", "expected a whole number 1 or more"),
        ("9" * 5000, "expected a whole number 1 or more, got '9999"),
    ],
)
def test_a_huge_or_odd_number_of_processes_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], jobs: str, said: str
) -> None:
    """-j 100000 once meant 100,000 processes started before the first line was read."""
    with pytest.raises(SystemExit) as stopped:
        main(["replay", str(example_path("mia-tutoring")), "-j", jobs])
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and said in err and len(err) < 500
    with pytest.raises(ValueError, match="jobs must be 1 to 64"):
        replay_files(example_path("mia-tutoring"), jobs=int(jobs[:6]) or 0)


def test_postgresql_without_the_extra_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys  # noqa: PLC0415

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "peerflow.store._postgres", raising=False)
    err = _one_error_line(capsys, "agenda", "--db", "postgresql://localhost/x")
    assert "pip install 'peerflow[postgres]'" in err


def test_deeply_nested_content_on_the_command_line_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "s.sqlite3")
    assert main(["import", _example(), "--db", db]) == 0
    capsys.readouterr()
    deep = "[" * 5000 + "]" * 5000
    err = _one_error_line(
        capsys,
        "submit",
        "prospect-2027-ghent",
        "learning_plan",
        "--by",
        "ghent-mentor",
        "--content",
        deep,
        "--db",
        db,
    )
    assert "nested deeper than 32 levels" in err


def test_xes_of_odd_step_names_is_well_formed_xml(tmp_path: Path) -> None:
    import json  # noqa: PLC0415
    from xml.etree import ElementTree  # noqa: PLC0415

    lines = Path(_example()).read_text().splitlines()
    odd = json.loads(lines[1])
    odd["type"] = "fire"
    odd["payload"] = {"event": "no\x01such\x1b[2J\nstep"}
    path = tmp_path / "odd.jsonl"
    path.write_text("\n".join([lines[0], json.dumps(odd)]) + "\n")
    out = tmp_path / "log.xes"
    assert main(["replay", str(path), "--format", "xes", "-o", str(out)]) == 0
    root = ElementTree.parse(out).getroot()
    names = [
        a.get("value")
        for a in root.iter("{http://www.xes-standard.org/}string")
        if a.get("key") == "concept:name"
    ]
    assert "fire no\\x01such\\x1b[2J\\nstep" in names
