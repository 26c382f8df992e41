"""Every built-in definition: its example walks to the end, and each kind of rule refuses.

The refusals are built from each definition's own example history, so a definition added
later gets the same checks: a missing deliverable, a wrong role, a closed window, a
participant limit, a budget cap and a structured deliverable missing a part, wherever the
definition has that kind of rule.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import attrs
import pytest

import peerflow
from peerflow import Actor, CompiledDefinition, Event, EventError, Programme, StepBlocked
from peerflow.cli import main
from peerflow.engine._registry import example_path

IDS = sorted(peerflow.builtin_files())
EXPECTED_IDS = {
    "prospect-peer-mentoring",
    "mia-tutoring",
    "mia-peer-groups",
    "sc-expert-review",
    "sc-expert-mission",
    "sc-site-visit",
}


def example(definition_id: str) -> list[Event]:
    return [e for _, e in peerflow.read_history(example_path(definition_id))]


def before(events: list[Event], index: int) -> Programme:
    return Programme.from_history(events[:index])


def test_the_built_in_definitions_are_the_documents_programme_types(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert set(IDS) == EXPECTED_IDS
    assert main(["definitions"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines()}
    assert listed == EXPECTED_IDS
    assert main(["validate", *map(str, peerflow.builtin_files().values())]) == 0


@pytest.mark.parametrize("definition_id", IDS)
def test_the_example_history_walks_to_a_successful_end(definition_id: str) -> None:
    events = example(definition_id)
    state = peerflow.fold(events)
    t = state.definition.type
    assert state.terminal
    assert state.state not in ("cancelled", "rejected")
    assert events[-1].type == "fire"
    # every claim of the example is paid
    assert all(c.paid_at is not None for c in state.claims)
    assert t.budget is not None or not state.claims


@pytest.mark.parametrize("definition_id", IDS)
def test_demo_walks_every_definition(
    definition_id: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--definition", definition_id]) == 0
    out = capsys.readouterr().out
    assert f"{len(example(definition_id))} events applied strictly, none refused." in out


def _first_fire_with_requirements(definition: CompiledDefinition, events: list[Event]) -> int:
    by_event = {tr.event: tr for tr in definition.type.transitions}
    return next(
        i
        for i, e in enumerate(events)
        if e.type == "fire" and by_event[e.payload["event"]].requires
    )


@pytest.mark.parametrize("definition_id", IDS)
def test_a_step_without_its_deliverable_is_refused(definition_id: str) -> None:
    definition = peerflow.definition(definition_id)
    events = example(definition_id)
    index = _first_fire_with_requirements(definition, events)
    fire = events[index]
    transition = next(t for t in definition.type.transitions if t.event == fire.payload["event"])
    dropped = transition.requires[0]
    kept = [e for e in events[:index] if e.payload.get("deliverable") != dropped]
    p = Programme.from_history([attrs.evolve(e, seq=i) for i, e in enumerate(kept)])
    with pytest.raises(StepBlocked) as refused:
        p.fire(fire.payload["event"], at=fire.at, actor=fire.actor)
    missing = [b for b in refused.value.blockers if b.kind == "missing_deliverable"]
    assert [b.deliverable for b in missing] == [dropped]  # type: ignore[attr-defined]
    assert p.state.next_seq == len(kept)


@pytest.mark.parametrize("definition_id", IDS)
def test_a_step_by_the_wrong_role_is_refused(definition_id: str) -> None:
    definition = peerflow.definition(definition_id)
    events = example(definition_id)
    index = next(i for i, e in enumerate(events) if e.type == "fire")
    fire = events[index]
    p = before(events, index)
    transition = next(t for t in definition.type.transitions if t.event == fire.payload["event"])
    outsider = next((pid, role) for pid, role in p.state.members() if role not in transition.by)
    with pytest.raises(StepBlocked) as refused:
        p.fire(fire.payload["event"], at=fire.at, actor=Actor(outsider[1], outsider[0]))
    assert "role" in [b.kind for b in refused.value.blockers]


@pytest.mark.parametrize("definition_id", IDS)
def test_a_step_after_its_window_is_refused(definition_id: str) -> None:
    definition = peerflow.definition(definition_id)
    events = example(definition_id)
    closing = [
        (i, e)
        for i, e in enumerate(events)
        if e.type in ("fire", "submit")
        for step in before(events, i).next_steps(e.at, e.actor)
        if step.name == e.payload.get("event", e.payload.get("deliverable"))
        and step.closes_at is not None
    ]
    if not closing:
        assert definition_id == "mia-tutoring"  # the tutoring guideline sets no time limits
        return
    for index, event in closing:
        p = before(events, index)
        step = next(
            s
            for s in p.next_steps(event.at, event.actor)
            if s.name == event.payload.get("event", event.payload.get("deliverable"))
        )
        assert step.closes_at is not None
        if step.waived or step.closes_at < p.state.last_at:
            continue  # a waiver let this one through late on purpose
        late = attrs.evolve(event, seq=p.state.next_seq, at=step.closes_at + timedelta(hours=1))
        with pytest.raises(StepBlocked) as refused:
            definition.apply(p.state, late)
        assert "window_closed" in [b.kind for b in refused.value.blockers]


@pytest.mark.parametrize("definition_id", IDS)
def test_a_participant_past_the_limit_is_refused(definition_id: str) -> None:
    definition = peerflow.definition(definition_id)
    events = example(definition_id)
    joins = [i for i, e in enumerate(events) if e.type == "join"]
    t = definition.type
    if not joins:  # no role joins later: the limit is checked at the start
        role = next(name for name, r in t.roles.items() if r.max is not None)
        start = events[0]
        extra = [{"id": f"extra-{i}", "role": role} for i in range(t.roles[role].max or 0)]
        payload = dict(start.payload, participants=[*start.payload["participants"], *extra])
        with pytest.raises(EventError, match=f"role '{role}' allows at most"):
            definition.start(attrs.evolve(start, payload=payload))
        return
    last = events[joins[-1]]
    role = last.payload["role"]
    p = before(events, joins[-1] + 1)
    room = (t.roles[role].max or 0) - p.state.count(role)
    for i in range(room):
        joiner = f"joiner-{i}"
        actor = last.actor if last.actor.id != last.payload["participant"] else Actor(role, joiner)
        p.record("join", {"participant": joiner, "role": role}, at=last.at, actor=actor)
    actor = last.actor if last.actor.id != last.payload["participant"] else Actor(role, "too-many")
    with pytest.raises(StepBlocked) as refused:
        p.record("join", {"participant": "too-many", "role": role}, at=last.at, actor=actor)
    assert [b.kind for b in refused.value.blockers] == ["participant_limit"]
    assert p.state.count(role) == t.roles[role].max


@pytest.mark.parametrize("definition_id", IDS)
def test_a_claim_over_a_cap_is_refused(definition_id: str) -> None:
    definition = peerflow.definition(definition_id)
    budget = definition.type.budget
    if budget is None:
        assert definition_id.startswith("mia-")  # the MIA guidelines set no amounts
        return
    events = example(definition_id)
    p = Programme.from_history(events)
    for role, role_budget in budget.roles.items():
        holder = p.state.holders((role,))[0]
        name, item = next(iter(role_budget.items.items()))
        if item.at_cost:
            continue  # no limit to go over
        entry: dict[str, Any] = {"item": name, "receipts": ["r.pdf"]}
        if item.per_day is not None:
            entry.update(days=1, amount=str(item.per_day + 1))
        elif item.per_night is not None:
            entry.update(nights=1, amount=str(item.per_night + 1))
        else:
            assert item.cap is not None
            entry["amount"] = str(item.cap + 1)
        with pytest.raises(StepBlocked) as refused:
            p.record(
                "claim",
                {"items": [entry], "bank_details": "BE68 5390 0754 7034"},
                at=events[-1].at,
                actor=Actor(role, holder),
            )
        assert "over_budget" in [b.kind for b in refused.value.blockers]


@pytest.mark.parametrize("definition_id", IDS)
def test_a_structured_deliverable_missing_a_part_is_refused(definition_id: str) -> None:
    definition = peerflow.definition(definition_id)
    events = example(definition_id)
    structured = {n for n, d in definition.type.deliverables.items() if d.content}
    submissions = [i for i, e in enumerate(events) if e.payload.get("deliverable") in structured]
    assert submissions, "every built-in definition has a structured deliverable"
    for index in submissions:
        event = events[index]
        p = before(events, index)
        parts = definition.type.deliverables[event.payload["deliverable"]].content
        alternatives = [n for n, part in parts.items() if part.and_or]
        # each required part, and all the and_or alternatives at once
        drops = [[n] for n in event.payload["content"] if n not in alternatives]
        drops += [alternatives] if alternatives else []
        for dropped in drops:
            content = {k: v for k, v in event.payload["content"].items() if k not in dropped}
            with pytest.raises(StepBlocked) as refused:
                p.submit(
                    event.payload["deliverable"], at=event.at, actor=event.actor, content=content
                )
            (blocker,) = refused.value.blockers
            assert blocker.kind == "incomplete_content"
            said = dropped[0] if len(dropped) == 1 else "one or more of " + ", ".join(dropped)
            assert blocker.missing == (said,)  # type: ignore[attr-defined]


def test_a_visitor_city_is_reimbursed_three_nights_four_days_and_travel_up_to_500() -> None:
    events = example("sc-site-visit")
    visit = next(i for i, e in enumerate(events) if e.payload.get("event") == "hold_visit")
    p = before(events, visit + 1)
    visitor = Actor("visitor", "tartu")
    items = [
        {"item": "travel", "amount": "560.00", "receipts": ["t"]},
        {"item": "accommodation", "amount": "330.00", "nights": 3, "receipts": ["a"]},
        {"item": "meals", "amount": "400.00", "days": 4, "receipts": ["m"]},
    ]
    at = events[visit].at + timedelta(days=3)
    with pytest.raises(StepBlocked) as refused:
        p.record("claim", {"items": items}, at=at, actor=visitor)
    assert [(b.item, b.cap, b.excess) for b in refused.value.blockers] == [  # type: ignore[attr-defined]
        ("travel", Decimal(500), Decimal(60)),
        ("accommodation", Decimal(300), Decimal(30)),
        ("meals", Decimal(368), Decimal(32)),
    ]
    p.record("claim", {"claim": "tartu", "items": items, "accept_cap": True}, at=at, actor=visitor)
    claim = p.state.claim("tartu")
    assert claim is not None
    assert claim.reimbursable == Decimal(3 * 100 + 4 * 92 + 500)


def test_an_expert_on_a_mission_is_paid_the_daily_rate_for_three_days() -> None:
    events = example("sc-expert-mission")
    visit = next(i for i, e in enumerate(events) if e.payload.get("event") == "hold_field_visit")
    p = before(events, visit + 1)
    expert = Actor("expert", "expert-vienna")
    fee = {"item": "fee", "amount": "1350.00", "days": 3, "receipts": ["timesheet"]}
    p.record("claim", {"claim": "fee", "items": [fee]}, at=events[visit].at, actor=expert)
    claim = p.state.claim("fee")
    assert claim is not None and claim.reimbursable == 3 * Decimal(450)
    with pytest.raises(StepBlocked, match=r"450 EUR per day x 3"):
        p.record(
            "claim", {"items": [dict(fee, amount="1400.00")]}, at=events[visit].at, actor=expert
        )


SECTION_ORDER = [
    "id",
    "version",
    "title",
    "source",
    "description",
    "timezone",
    "country",
    "deadline",
    "deadline_rules",
    "waivable_by",
    "started_by",
    "roles",
    "states",
    "initial",
    "transitions",
    "deliverables",
    "dates",
    "budget",
]
"""docs/definition-language.md, "Layout of a file": who takes part, where the programme goes
and how it moves, then what it needs (deliverables, dates, money)."""


@pytest.mark.parametrize("definition_id", IDS)
def test_every_built_in_file_has_its_sections_in_one_order(definition_id: str) -> None:
    """A facilitator reading two definitions beside their guidelines finds things in the
    same place in both."""
    text = peerflow.builtin_files()[definition_id].read_text(encoding="utf-8")
    keys = [line.split(":", 1)[0] for line in text.splitlines() if line[:1].isalpha()]
    assert [k for k in keys if k not in SECTION_ORDER] == []
    assert keys == sorted(keys, key=SECTION_ORDER.index)
