"""Who may start a programme and whom they may list: every refusal in one line that names the
field, with seq 0, and nothing started (docs/concepts.md, "Starting a programme")."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import peerflow
from peerflow import Actor, EventError, Programme

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
