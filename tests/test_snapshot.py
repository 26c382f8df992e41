"""Snapshots: a state as JSON data and back, equal, or refused with the field at fault."""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import pytest

import peerflow
from peerflow import ProgrammeState, SnapshotError
from peerflow.store import dump_state, load_state


def example_state(definition_id: str) -> ProgrammeState:
    path = files("peerflow.examples") / f"{definition_id}.jsonl"
    return peerflow.fold(e for _, e in peerflow.read_history(str(path)))


@pytest.mark.parametrize("definition_id", sorted(peerflow.builtin_files()))
def test_every_example_round_trips_through_json(definition_id: str) -> None:
    state = example_state(definition_id)
    data = json.loads(json.dumps(dump_state(state)))
    back = load_state(data)
    assert back == state
    assert back.definition is state.definition
    assert dump_state(back) == data


def test_a_snapshot_of_format_1_still_loads() -> None:
    """Format 1 called the next seq "version", the word the definition's version also uses;
    format 2 says ``next_seq``. A store's snapshots written before the rename load as they were."""
    state = example_state("prospect-peer-mentoring")
    data = json.loads(json.dumps(dump_state(state)))
    assert data["snapshot"] == 2 and data["next_seq"] == state.next_seq and "version" not in data
    old = {("version" if key == "next_seq" else key): value for key, value in data.items()}
    assert load_state({**old, "snapshot": 1}) == state
    with pytest.raises(SnapshotError, match=r"\$\.next_seq: missing"):
        load_state({**old, "snapshot": 2})


def test_a_snapshot_spells_the_state_out_in_names() -> None:
    state = example_state("prospect-peer-mentoring")
    data = dump_state(state)
    assert data["definition"]["id"] == "prospect-peer-mentoring"
    assert data["participants"] == [{"id": p, "role": r} for p, r in state.members()]
    assert len(data["submitted"]) == len(state.submissions())
    assert set(data["fired"]) <= set(state.definition.event_names)
    assert all(isinstance(c["items"][0]["claimed"], str) for c in data["claims"])


def broken(change: dict[str, Any]) -> dict[str, Any]:
    data = dump_state(example_state("prospect-peer-mentoring"))
    for path, value in change.items():
        target = data
        *parents, last = path.split(".")
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value
    return data


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"state": "nowhere"}, "$.state", "not a state"),
        ({"next_seq": 0}, "$.next_seq", "1 or more"),
        ({"started_at": "2027-01-11T09:00:00"}, "$.started_at", "no UTC offset"),
        ({"participants": []}, "$.participants", "non-empty list"),
        ({"snapshot": 99}, "$.snapshot", "not supported"),
        ({"claims": KeyError}, "$.claims", "missing"),
        ({"extra": 1}, "$.extra", "unknown field"),
        (
            {"fired.no_such_event": "2027-01-11T09:00:00+01:00"},
            "$.fired.no_such_event",
            "not an event",
        ),
        ({"scheduled.orientation_date": "soon"}, "$.scheduled.orientation_date", "a date like"),
        ({"claims.0.items.0.claimed": 12.5}, "$.claims[0].items[0].claimed", 'like "92.50"'),
        ({"definition.digest": "0" * 64}, "$.definition.digest", "another text"),
        ({"definition.id": "mia-tutoring"}, "$.definition", "not 'prospect-peer-mentoring'"),
    ],
)
def test_a_bad_snapshot_is_refused_naming_the_field(
    change: dict[str, Any], field: str, words: str
) -> None:
    data = broken(change)
    with pytest.raises(SnapshotError) as caught:
        load_state(data, peerflow.definition("prospect-peer-mentoring"))
    assert caught.value.field.startswith(field)
    assert words.lower() in str(caught.value).lower()


def minutes_said_changes() -> ProgrammeState:
    """The Valladolid review just after its minutes said changes were discussed."""
    path = files("peerflow.examples") / "sc-expert-review.jsonl"
    events = [e for _, e in peerflow.read_history(str(path))]
    cut = next(
        i for i, e in enumerate(events) if e.payload.get("deliverable") == "final_meeting_minutes"
    )
    return peerflow.fold(events[: cut + 1])


def test_what_the_minutes_said_survives_a_snapshot() -> None:
    state = minutes_said_changes()
    data = json.loads(json.dumps(dump_state(state)))
    assert data["facts"] == [
        {"deliverable": "final_meeting_minutes", "part": "changes_discussed", "equals": "yes"}
    ]
    back = load_state(data)
    assert back == state
    assert back.facts == state.facts != 0


@pytest.mark.parametrize(
    ("facts", "field", "words"),
    [
        ("yes", "$.facts", "expected a list"),
        ([{"deliverable": "final_meeting_minutes"}], "$.facts[0]", "expected {deliverable"),
        (
            [{"deliverable": "final_meeting_minutes", "part": "changes_discussed", "equals": 1}],
            "$.facts[0]",
            "reads this condition",
        ),
    ],
)
def test_a_bad_fact_is_refused_naming_it(facts: object, field: str, words: str) -> None:
    data = dump_state(minutes_said_changes())
    data["facts"] = facts
    with pytest.raises(SnapshotError) as caught:
        load_state(data)
    assert caught.value.field == field
    assert words in str(caught.value)


def test_how_often_a_counted_step_happened_survives_a_snapshot() -> None:
    """The peer group counts its workshops ("at least two"): the count is in the snapshot."""
    path = files("peerflow.examples") / "mia-peer-groups.jsonl"
    events = [e for _, e in peerflow.read_history(str(path))]
    first = next(i for i, e in enumerate(events) if e.payload.get("event") == "hold_workshop")
    state = peerflow.fold(events[: first + 1])
    data = json.loads(json.dumps(dump_state(state)))
    assert data["counts"] == {"hold_workshop": 1}
    assert load_state(data) == state
    data["counts"] = {"hold_workshop": 0}
    with pytest.raises(SnapshotError) as caught:
        load_state(data)
    assert caught.value.field == "$.counts.hold_workshop"
    data["counts"] = {"launch": 1}
    with pytest.raises(SnapshotError, match="counts it"):
        load_state(data)
