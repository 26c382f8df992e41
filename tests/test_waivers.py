"""Waivers of a role's maximum (max_waivable): every malformed one refused in one line that
names the field, with the event's seq, and nothing recorded (docs/definition-language.md,
"Roles"; docs/concepts.md, "Waivers")."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

import peerflow
from peerflow import Actor, EventError, Programme
from peerflow.engine._registry import example_path

COORDINATOR = Actor("coordinator", "province-barcelona")
JOIN_PEER = {"kind": "join", "name": "peer"}


def forming() -> tuple[Programme, Any]:
    """The peer group while peers are still joining."""
    history = [e for _, e in peerflow.read_history(example_path("mia-peer-groups"))]
    return Programme.from_history(history[:9]), history[8].at


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {"step": {"kind": "join", "name": None}, "blockers": ["participant_limit"]},
            "payload.step: None is not a role participants join (roles that can: peer)",
        ),
        (
            {"step": {"kind": "join", "name": "nobody"}, "blockers": ["participant_limit"]},
            "payload.step: 'nobody' is not a role participants join (roles that can: peer)",
        ),
        (
            {"step": {"kind": "join", "name": "coordinator"}, "blockers": ["participant_limit"]},
            "payload.step: 'coordinator' is not a role participants join (roles that can: peer)",
        ),
        (
            {"step": JOIN_PEER, "blockers": ["participant_limit", "missing_deliverable"]},
            "payload.blockers: a join's only waivable blocker is participant_limit",
        ),
        (
            {"step": JOIN_PEER, "blockers": ["participant_limit"], "reason": "  "},
            "payload.reason must say why the blocker is waived",
        ),
        (
            {"step": JOIN_PEER, "blockers": ["participant_limit"], "reason": None},
            "payload.reason must say why the blocker is waived",
        ),
        (
            {"step": {"kind": "fire", "name": "launch"}, "blockers": ["participant_limit"]},
            "payload.blockers: participant_limit is waived for a join: step {kind: join, "
            "name: ROLE}",
        ),
        (
            {"step": {"kind": "join", "name": ["peer"]}, "blockers": ["participant_limit"]},
            "payload.step: ['peer'] is not a role participants join (roles that can: peer)",
        ),
        (
            {"step": {"kind": "hop", "name": "peer"}, "blockers": ["participant_limit"]},
            "payload.step must be {kind: fire|submit|schedule|join, name: ...}",
        ),
    ],
)
def test_a_malformed_join_waiver_is_refused_naming_its_field(
    payload: dict[str, Any], message: str
) -> None:
    p, moment = forming()
    before = p.state
    payload = {"reason": "asked to", **payload}
    with pytest.raises(EventError) as refused:
        p.record("waive", payload, at=moment, actor=COORDINATOR)
    assert refused.value.reason == message
    assert refused.value.seq == before.next_seq
    assert p.state == before


def test_a_join_waiver_is_kept_until_used_and_ends_with_the_state() -> None:
    """One waiver, one join past the maximum; a state change ends an unused waiver."""
    p, moment = forming()
    p.record(
        "waive",
        {"step": JOIN_PEER, "blockers": ["participant_limit"], "reason": "r"},
        at=moment,
        actor=COORDINATOR,
    )
    (waiver,) = p.state.waivers
    assert (waiver.step_kind, waiver.step, waiver.blocker, waiver.reason, waiver.seq) == (
        "join",
        "peer",
        "participant_limit",
        "r",
        9,  # the waive event's seq
    )
    p.record(
        "join",
        {"participant": "peer-eighth", "role": "peer"},
        at=moment,
        actor=Actor("peer", "peer-eighth"),
    )
    assert p.state.waivers == (waiver,)  # the limit was not reached: the waiver is still there


def test_where_no_role_joins_later_the_refusal_says_none() -> None:
    history = [e for _, e in peerflow.read_history(example_path("prospect-peer-mentoring"))]
    p = Programme.from_history(history[:2])
    payload = {"step": {"kind": "join", "name": "mentee"}, "blockers": ["participant_limit"]}
    with pytest.raises(EventError) as refused:
        p.record("waive", {**payload, "reason": "r"}, at=history[1].at, actor=history[0].actor)
    assert refused.value.reason == (
        "payload.step: 'mentee' is not a role participants join (roles that can: none)"
    )


def test_a_hard_maximum_s_waiver_is_refused_with_its_seq() -> None:
    history = [e for _, e in peerflow.read_history(example_path("mia-tutoring"))]
    p = Programme.from_history(history[:1])
    payload = {"step": {"kind": "join", "name": "tutor"}, "blockers": ["participant_limit"]}
    with pytest.raises(EventError) as refused:
        p.record("waive", {**payload, "reason": "r"}, at=history[0].at, actor=history[0].actor)
    assert refused.value.reason == (
        "payload.blockers: the maximum of role tutor cannot be waived "
        "('mia-tutoring' does not say max_waivable: true)"
    )
    assert refused.value.seq == 1


def test_a_waiver_by_a_role_that_may_not_waive_is_refused_naming_the_role() -> None:
    p, moment = forming()
    peer = Actor("peer", "peer-genova")
    payload = {"step": {"kind": "fire", "name": "launch"}, "blockers": ["missing_deliverable"]}
    with pytest.raises(peerflow.StepBlocked) as refused:
        p.record("waive", {**payload, "reason": "r"}, at=moment, actor=peer)
    assert str(refused.value) == (
        f"event seq {p.state.next_seq}: 'waive' is blocked: role 'peer' may not do this "
        "(allowed: coordinator)."
    )


def test_a_replay_records_a_waiver_by_the_wrong_role_as_a_deviation() -> None:
    history = [e for _, e in peerflow.read_history(example_path("mia-peer-groups"))][:9]
    payload = {"step": {"kind": "fire", "name": "launch"}, "blockers": ["missing_deliverable"]}
    wrong = attrs.evolve(
        history[-1],
        seq=9,
        id="wrong-waiver",
        actor=Actor("peer", "peer-genova"),
        type="waive",
        payload={**payload, "reason": "r"},
    )
    (result,) = peerflow.replay.replay([*history, wrong])
    assert (result.deviations[0].seq, result.deviations[0].kind) == (9, "wrong_role")


def test_blockers_given_as_text_are_refused_as_not_a_list() -> None:
    p, moment = forming()
    payload = {"step": {"kind": "fire", "name": "launch"}, "blockers": "missing_deliverable"}
    with pytest.raises(EventError) as refused:
        p.record("waive", {**payload, "reason": "r"}, at=moment, actor=COORDINATOR)
    assert refused.value.reason == "payload.blockers must list the blocker kinds to waive"


WAIVABLE_LIST = (
    "date_not_scheduled, missing_deliverable, participant_limit, too_few_occurrences, "
    "too_few_participants, window_closed, window_not_open"
)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"blockers": None}, "payload.blockers must list the blocker kinds to waive"),
        ({"blockers": []}, "payload.blockers must list the blocker kinds to waive"),
        (
            {"blockers": ["role"]},
            f"payload.blockers: 'role' cannot be waived (waivable: {WAIVABLE_LIST})",
        ),
        ({"blockers": [3]}, f"payload.blockers: 3 cannot be waived (waivable: {WAIVABLE_LIST})"),
        ({"reason": None}, "payload.reason must say why the blocker is waived"),
        ({"reason": "  "}, "payload.reason must say why the blocker is waived"),
        ({"reason": 5}, "payload.reason must say why the blocker is waived"),
        ({"participant": "nobody"}, "payload.participant 'nobody' is not a participant"),
        ({"participant": 7}, "payload.participant 7 is not a participant"),
        (
            {"step": {"kind": "fire", "name": "nothing"}},
            "'fire nothing' is not a step from state 'needs_analysis' (steps from here: fire "
            "set_goals, fire cancel, submit organisation_approval, submit needs_analysis)",
        ),
        ({"step": "cancel"}, "payload.step must be {kind: fire|submit|schedule|join, name: ...}"),
    ],
)
def test_a_malformed_waiver_is_refused_naming_its_field(
    change: dict[str, Any], message: str
) -> None:
    history = [e for _, e in peerflow.read_history(example_path("mia-tutoring"))]
    p = Programme.from_history(history[:1])
    before = p.state
    payload = {
        "step": {"kind": "fire", "name": "cancel"},
        "blockers": ["missing_deliverable"],
        "reason": "r",
        **change,
    }
    with pytest.raises(EventError) as refused:
        p.record("waive", payload, at=history[0].at, actor=history[0].actor)
    assert refused.value.reason == message
    assert refused.value.seq == 1
    assert p.state == before


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"participant": None}, "it must be a string, got NoneType"),
        ({"participant": 5}, "it must be a string, got int"),
        ({"participant": ""}, "it must not be empty"),
        ({"participant": "a\x00b"}, "it 'a\\x00b' holds the unprintable character '\\x00'"),
        ({"participant": "x" * 300}, "it is 300 characters long (at most 200)"),
    ],
)
def test_a_join_with_a_bad_id_is_refused_naming_the_field(
    payload: dict[str, Any], message: str
) -> None:
    """Joins are how participants come in: a newcomer's id is checked like every id."""
    p, moment = forming()
    before = p.state
    with pytest.raises(EventError) as refused:
        p.record("join", {"role": "peer", **payload}, at=moment, actor=COORDINATOR)
    assert (
        refused.value.reason
        == "payload.participant must be the joining participant's id: " + message
    )
    assert refused.value.seq == before.next_seq
    assert p.state == before


def test_a_waiver_keeps_its_reason_and_participant() -> None:
    history = [e for _, e in peerflow.read_history(example_path("prospect-peer-mentoring"))]
    waive = next(e for e in history if e.type == "waive")
    p = Programme.from_history(history[: waive.seq + 1])
    (waiver,) = p.state.waivers
    assert (waiver.reason, waiver.participant, waiver.seq) == (
        waive.payload["reason"],
        waive.payload.get("participant"),
        waive.seq,
    )


@pytest.mark.parametrize(
    ("role", "who", "message"),
    [
        (
            "boss",
            "peer",
            "payload.role: participants of role 'boss' cannot join after the start "
            "(roles that can: peer)",
        ),
        (
            "coordinator",
            "peer",
            "payload.role: participants of role 'coordinator' cannot join "
            "after the start (roles that can: peer)",
        ),
        ("peer", "peer-genova", "'peer-genova' already takes part as 'peer'"),
    ],
)
def test_a_join_that_cannot_be_is_refused_in_one_line(role: str, who: str, message: str) -> None:
    p, moment = forming()
    pid = "newcomer" if who == "peer" else who
    with pytest.raises(EventError) as refused:
        p.record("join", {"participant": pid, "role": role}, at=moment, actor=Actor("peer", pid))
    assert refused.value.reason == message
    assert refused.value.seq == p.state.next_seq


def test_a_join_after_its_stage_is_not_a_step() -> None:
    history = [e for _, e in peerflow.read_history(example_path("mia-peer-groups"))]
    launch = next(i for i, e in enumerate(history) if e.payload.get("event") == "launch")
    p = Programme.from_history(history[: launch + 1])
    with pytest.raises(peerflow.StepNotAvailable) as refused:
        p.record(
            "join",
            {"participant": "late", "role": "peer"},
            at=history[launch].at,
            actor=Actor("peer", "late"),
        )
    assert refused.value.reason == (
        "'join as peer' is not a step from state 'ready' (steps from here: join during forming)"
    )
    assert refused.value.seq == launch + 1


def test_where_no_role_joins_the_join_refusal_says_none() -> None:
    history = [e for _, e in peerflow.read_history(example_path("prospect-peer-mentoring"))]
    p = Programme.from_history(history[:2])
    with pytest.raises(EventError) as refused:
        p.record(
            "join", {"participant": "x", "role": "mentee"}, at=history[1].at, actor=history[0].actor
        )
    assert refused.value.reason == (
        "payload.role: participants of role 'mentee' cannot join after the start "
        "(roles that can: none)"
    )


TWO_JOINING = """\
id: two-joining
version: 1
title: Two roles join later, both indispensable
waivable_by: [lead]
roles:
  lead: {}
  analyst:
    {min: 1, max: 1, joined_by: [lead], join_during: [forming, planning], min_waivable: false}
  reviewer:
    {min: 1, max: 1, joined_by: [lead], join_during: [forming, planning], min_waivable: false}
states:
  forming: {}
  planning: {}
  working: {}
  done: {terminal: true}
initial: forming
transitions:
  - {event: plan, from: forming, to: planning, by: lead}
  - {event: work, from: planning, to: working, by: lead}
  - {event: finish, from: working, to: done, by: lead}
"""


def two_joining() -> tuple[Programme, Any]:
    compiled = peerflow.compile_text(TWO_JOINING)
    at = datetime(2027, 3, 1, 9, tzinfo=UTC)
    lead = Actor("lead", "l")
    p = Programme.start(compiled, "p", at=at, actor=lead, participants=[("l", "lead")])
    return p, at


def test_lists_of_roles_and_states_are_told_in_full() -> None:
    """Messages that list roles or states name each of them, comma-separated."""
    p, at = two_joining()
    lead = Actor("lead", "l")
    waiver = {"step": {"kind": "join", "name": "lead"}, "blockers": ["participant_limit"]}
    with pytest.raises(EventError) as refused:
        p.record("waive", {**waiver, "reason": "r"}, at=at, actor=lead)
    assert refused.value.reason.endswith("(roles that can: analyst, reviewer)")
    with pytest.raises(EventError) as refused:
        p.record("join", {"participant": "x", "role": "lead"}, at=at, actor=lead)
    assert refused.value.reason.endswith("(roles that can: analyst, reviewer)")
    p.fire("plan", at=at, actor=lead)
    strict = {"step": {"kind": "fire", "name": "work"}, "blockers": ["too_few_participants"]}
    with pytest.raises(EventError) as refused:
        p.record("waive", {**strict, "reason": "r"}, at=at, actor=lead)
    assert refused.value.reason == (
        "payload.blockers: the minimum of role analyst, reviewer cannot be waived "
        "('two-joining' says min_waivable: false)"
    )
    assert refused.value.seq == p.state.next_seq
    p.record("join", {"participant": "a", "role": "analyst"}, at=at, actor=lead)
    p.record("join", {"participant": "r", "role": "reviewer"}, at=at, actor=lead)
    p.fire("work", at=at, actor=lead)
    with pytest.raises(peerflow.StepNotAvailable) as refused_join:
        p.record("join", {"participant": "z", "role": "analyst"}, at=at, actor=lead)
    assert refused_join.value.reason.endswith("(steps from here: join during forming, planning)")


NO_WAIVERS = """\
id: no-waivers
version: 1
title: A definition that names no role to waive
roles:
  facilitator: {}
states:
  open: {}
  done: {terminal: true}
initial: open
transitions:
  - {event: finish, from: open, to: done, by: facilitator}
"""


def test_a_waiver_where_the_definition_lets_no_role_waive_says_so() -> None:
    """Without ``waivable_by`` nobody may waive; the refusal says that, not "(allowed: )"."""
    compiled = peerflow.compile_text(NO_WAIVERS)
    facilitator = Actor("facilitator", "f")
    at = datetime(2027, 3, 1, 12, tzinfo=UTC)
    start = peerflow.Event(
        "p",
        0,
        "p-0",
        at,
        facilitator,
        "start",
        {
            "definition": "no-waivers",
            "version": 1,
            "participants": [{"id": "f", "role": "facilitator"}],
        },
    )
    waive = attrs.evolve(
        start,
        seq=1,
        id="p-1",
        type="waive",
        payload={
            "step": {"kind": "fire", "name": "finish"},
            "blockers": ["missing_deliverable"],
            "reason": "r",
        },
    )
    with pytest.raises(peerflow.StepBlocked) as refused:
        compiled.apply(compiled.start(start), waive)
    assert str(refused.value) == (
        "event seq 1: 'waive' is blocked: role 'facilitator' may not do this "
        "(the definition lets no role do it)."
    )


@pytest.mark.parametrize(
    ("definition_id", "who"),
    [
        # PROSPECT: the facilitator agrees extensions; MiA: the coordinator; Scalable Cities:
        # the secretariat runs the programme (docs/sources; waivable_by in each definition)
        ("prospect-peer-mentoring", "facilitator"),
        ("mia-peer-groups", "coordinator"),
        ("sc-site-visit", "secretariat"),
    ],
)
def test_a_refusal_names_the_role_that_may_waive_its_blockers(definition_id: str, who: str) -> None:
    """A blocked step's message tells who can lift it, and how."""
    history = [e for _, e in peerflow.read_history(example_path(definition_id))]
    p = Programme.from_history(history[:1])
    step = next(s for s in p.next_steps(history[0].at) if s.kind == "fire" and not s.allowed)
    with pytest.raises(peerflow.StepBlocked) as refused:
        p.fire(step.name, at=history[0].at, actor=history[0].actor)
    assert any(b.can_be_waived() for b in refused.value.blockers)
    assert f"A {who} may waive a blocker with a reason (peerflow waive)." in str(refused.value)
    assert refused.value.waivable_by == (who,)
