"""Who may start a programme and whom they may list: every refusal in one line that names the
field, with seq 0, and nothing started (docs/concepts.md, "Starting a programme")."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType

import attrs
import pytest

import peerflow
from peerflow import Actor, Event, EventError, Programme

AT = datetime(2027, 1, 11, 9, tzinfo=UTC)
PROSPECT = [("anna", "facilitator"), ("m", "mentor"), ("e", "mentee"), ("f", "finance_coordinator")]
LISTED = "anna (facilitator), m (mentor), e (mentee), f (finance_coordinator)"


@pytest.mark.parametrize(
    ("definition_id", "actor", "participants", "message"),
    [
        (
            "prospect-peer-mentoring",
            Actor("facilitator", "zed"),
            PROSPECT,
            "actor 'zed' (facilitator) must be listed in payload.participants in that role to "
            f"start the programme (listed: {LISTED})",
        ),
        (
            "prospect-peer-mentoring",
            Actor("facilitator", "m"),
            PROSPECT,
            "actor 'm' (facilitator) must be listed in payload.participants in that role to "
            f"start the programme (listed: {LISTED})",
        ),
        (
            "prospect-peer-mentoring",
            Actor("mentee", "e"),
            PROSPECT,
            "role 'mentee' may not start a 'prospect-peer-mentoring' programme (roles that may: "
            "facilitator)",
        ),
        (
            "mia-peer-groups",
            Actor("coordinator", "c"),
            [("c", "coordinator"), ("p1", "peer")],
            "payload.participants[1]: 'p1' cannot be listed at the start as 'peer': they join "
            "themselves during forming",
        ),
        (
            "sc-site-visit",
            Actor("secretariat", "s"),
            [("s", "secretariat"), ("h", "host"), ("v", "visitor")],
            "payload.participants[2]: 'v' cannot be listed at the start as 'visitor': they are "
            "added by secretariat with a join event during visitor_call",
        ),
        (
            "mia-tutoring",
            Actor("coordinator", "c"),
            [("c", "coordinator"), ("t", "tutor"), ("x", "trainee")],
            "payload.participants[1]: 't' cannot be listed at the start as 'tutor': they are "
            "added by coordinator with a join event during programme_design",
        ),
    ],
)
def test_a_start_that_may_not_be_is_refused_in_one_line(
    definition_id: str, actor: Actor, participants: list[tuple[str, str]], message: str
) -> None:
    with pytest.raises(EventError) as refused:
        Programme.start(
            peerflow.definition(definition_id), "p", at=AT, actor=actor, participants=participants
        )
    assert refused.value.reason == message
    assert refused.value.seq == 0


def start_listing(participants: object, definition_id: str = "prospect-peer-mentoring") -> Event:
    """A start event by anna the facilitator whose payload lists ``participants`` as given."""
    payload = {"definition": definition_id, "version": 1, "participants": participants}
    return Event("p", 0, "p-0", AT, Actor("facilitator", "anna"), "start", payload)


def listed(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"id": pid, "role": role} for pid, role in pairs]


@pytest.mark.parametrize(
    ("participants", "message"),
    [
        (None, "payload.participants must list {id, role} objects"),
        (
            {"id": "anna", "role": "facilitator"},
            "payload.participants must list {id, role} objects",
        ),
        ([*listed(*PROSPECT), "m2"], "payload.participants[4] must be {id, role}"),
        (
            [*listed(*PROSPECT), {"id": 7, "role": "mentee"}],
            "payload.participants[4] must be {id, role}",
        ),
        (
            [*listed(*PROSPECT), {"id": "e2", "role": None}],
            "payload.participants[4] must be {id, role}",
        ),
        ([*listed(*PROSPECT), {"role": "mentee"}], "payload.participants[4] must be {id, role}"),
        ([*listed(*PROSPECT), {"id": "e2"}], "payload.participants[4] must be {id, role}"),
        (
            [*listed(*PROSPECT), {"id": "", "role": "mentee"}],
            "payload.participants[4].id must not be empty",
        ),
        (
            [*listed(*PROSPECT), {"id": "e\n2", "role": "mentee"}],
            "payload.participants[4].id 'e\\n2' holds the unprintable character '\\n'",
        ),
        (
            [*listed(*PROSPECT), {"id": "e2", "role": "mentr"}],
            "payload.participants[4]: unknown role 'mentr' (roles: facilitator, mentor, mentee, "
            "finance_coordinator)",
        ),
        (
            [*listed(*PROSPECT), {"id": "e", "role": "mentee"}],
            "payload.participants[4]: 'e' is listed twice",
        ),
        (
            [*listed(*PROSPECT), {"id": "e", "role": "mentor"}],
            "payload.participants[4]: 'e' is listed twice",
        ),
        (
            listed(("anna", "facilitator"), ("m", "mentor"), ("f", "finance_coordinator")),
            "payload.participants: role 'mentee' needs at least 1, got 0",
        ),
        (
            listed(("anna", "facilitator"), ("e", "mentee"), ("f", "finance_coordinator")),
            "payload.participants: role 'mentor' needs at least 1, got 0",
        ),
        (
            [*listed(*PROSPECT), {"id": "m2", "role": "mentor"}],
            "payload.participants: role 'mentor' allows at most 1, got 2",
        ),
        (
            [*listed(*PROSPECT), {"id": "anna2", "role": "facilitator"}],
            "payload.participants: role 'facilitator' allows at most 1, got 2",
        ),
    ],
)
def test_a_participant_list_that_is_not_one_is_refused_naming_the_entry(
    participants: object, message: str
) -> None:
    """The list is read entry by entry (the first wrong entry is named by its index), then
    each role's count is held against its minimum and maximum (a role's default is exactly
    one: docs/definition-language.md, "Roles")."""
    compiled = peerflow.definition("prospect-peer-mentoring")
    with pytest.raises(EventError) as refused:
        compiled.start(start_listing(participants))
    assert refused.value.reason == message
    assert refused.value.seq == 0


def test_a_mapping_that_is_not_a_dict_is_read_as_an_entry() -> None:
    """Events built in Python may carry any mapping (a frozen one, say) as an entry."""
    compiled = peerflow.definition("prospect-peer-mentoring")
    entries = [MappingProxyType(entry) for entry in listed(*PROSPECT)]
    state = compiled.start(start_listing(entries))
    assert state.members() == tuple(PROSPECT)


def test_the_minimum_of_a_role_that_joins_later_is_not_asked_at_the_start() -> None:
    """MiA peer groups: the peers "join the group" during forming (PP-01); the start lists the
    coordinator alone, and the six peers are asked for only when the group is launched."""
    compiled = peerflow.definition("mia-peer-groups")
    event = attrs.evolve(
        start_listing(listed(("c", "coordinator")), "mia-peer-groups"),
        actor=Actor("coordinator", "c"),
    )
    assert compiled.start(event).members() == (("c", "coordinator"),)


MANY = """\
id: many
version: 1
title: Two roles may start it, two may add guests, in two states
started_by: [lead, host]
roles:
  lead: {min: 0}
  host: {min: 0}
  clerk: {min: 0}
  guest: {min: 0, max: null, joined_by: [lead, host], join_during: [open, running]}
states:
  preparing: {}
  open: {}
  running: {}
  done: {terminal: true}
initial: preparing
transitions:
  - {event: open, from: preparing, to: open, by: lead}
  - {event: run, from: open, to: running, by: lead}
  - {event: finish, from: running, to: done, by: lead}
"""


@pytest.mark.parametrize(
    ("actor", "participants", "message"),
    [
        (
            Actor("lead", "l"),
            [],
            "actor 'l' (lead) must be listed in payload.participants in that role to start the "
            "programme (listed: nobody)",
        ),
        (
            Actor("clerk", "c"),
            [("c", "clerk")],
            "role 'clerk' may not start a 'many' programme (roles that may: lead, host)",
        ),
        (
            Actor("lead", "l"),
            [("l", "lead"), ("g", "guest")],
            "payload.participants[1]: 'g' cannot be listed at the start as 'guest': they are "
            "added by lead, host with a join event during open, running",
        ),
    ],
)
def test_lists_in_refusals_name_every_role_and_state(
    actor: Actor, participants: list[tuple[str, str]], message: str
) -> None:
    compiled = peerflow.compile_text(MANY)
    payload = {"definition": "many", "version": 1, "participants": listed(*participants)}
    with pytest.raises(EventError) as refused:
        compiled.start(Event("p", 0, "p-0", AT, actor, "start", payload))
    assert refused.value.reason == message
