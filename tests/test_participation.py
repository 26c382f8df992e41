"""Joins, claims and payments are offered beside a state's steps, judged as the handlers
judge them. Expected values come from the guidelines: MAYORS in ACTION PP-01 (6-8 peers,
who join themselves while the group forms) and PROSPECT PM-08 (mentees, mentor and
facilitator claim; the finance coordinator pays 2-4 weeks after the invoice)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

import peerflow
from peerflow import Actor, Programme, Step
from peerflow.engine._registry import example_path

BXL = ZoneInfo("Europe/Brussels")


def _history(definition_id: str) -> list[peerflow.Event]:
    return [e for _, e in peerflow.read_history(example_path(definition_id))]


def _offered(p: Programme, at: datetime, actor: Actor | str | None = None) -> dict[str, Step]:
    return {
        f"{s.kind} {s.name}": s
        for s in p.next_steps(at, actor, participation=True)
        if s.kind in ("join", "claim", "pay")
    }


def test_peers_join_themselves_while_the_group_forms_up_to_eight() -> None:
    """PP-01: 6-8 peers; joining is free, only a participant can join itself."""
    history = _history("mia-peer-groups")
    joins = [e for e in history if e.type == "join"]
    p = Programme.from_history(history[: 1 + len(joins)])  # the start and every join
    at = joins[-1].at
    (join,) = [s for s in p.next_steps(at, participation=True) if s.kind == "join"]
    assert (join.name, join.roles) == ("peer", ("peer",))
    assert p.state.count("peer") == 7 and join.allowed  # the eighth may still join
    assert not p.next_steps(at, "coordinator", participation=True)[-1].allowed
    p.join("peer-eight", "peer", at=at, actor=Actor("peer", "peer-eight"))
    (join,) = [s for s in p.next_steps(at, participation=True) if s.kind == "join"]
    assert not join.allowed
    (limit,) = join.blockers
    assert limit.kind == "participant_limit" and limit.can_be_waived()  # "optimal", not a rule
    assert (limit.role, limit.max) == ("peer", 8)  # type: ignore[attr-defined]


def test_no_join_once_the_group_has_formed() -> None:
    history = _history("mia-peer-groups")
    formed = next(i for i, e in enumerate(history) if e.type == "fire")
    p = Programme.from_history(history[: formed + 1])
    assert p.state.state != "forming"
    assert [
        s for s in p.next_steps(history[formed].at, participation=True) if s.kind == "join"
    ] == []


def test_claims_are_offered_to_claimants_and_payments_to_the_finance_coordinator() -> None:
    """PM-08: the finance coordinator pays 2-4 weeks after the invoice (14 May 2027: by the
    end of 11 June)."""
    history = _history("prospect-peer-mentoring")
    first_claim = next(i for i, e in enumerate(history) if e.type == "claim")
    p = Programme.from_history(history[: first_claim + 1])
    at = history[first_claim].at
    offered = _offered(p, at)
    assert set(offered) == {"claim claim", "pay porto-travel"}
    pay = offered["pay porto-travel"]
    assert pay.roles == ("finance_coordinator",)
    assert pay.closes_at == datetime(2027, 6, 12, tzinfo=BXL)
    assert pay.title == "Reimburse porto-mentee: 540.00 EUR"
    claim = offered["claim claim"]
    assert set(claim.roles) >= {"mentee", "mentor", "facilitator"}
    as_mentee = _offered(p, at, "mentee")
    assert as_mentee["claim claim"].allowed
    assert not as_mentee["pay porto-travel"].allowed
    assert _offered(p, at, "finance_coordinator")["pay porto-travel"].allowed


def test_a_paid_claim_is_no_longer_offered_for_payment() -> None:
    history = _history("prospect-peer-mentoring")
    p = Programme.from_history(history)
    assert [k for k in _offered(p, history[-1].at) if k.startswith("pay")] == []


@pytest.mark.parametrize("definition_id", sorted(peerflow.builtin_files()))
def test_participation_only_adds_steps_after_the_state_s_own(definition_id: str) -> None:
    """Without participation the state's own steps are unchanged (the model checker and
    replay see no new kinds)."""
    history = _history(definition_id)
    p = Programme.from_history(history[:2])
    plain = p.next_steps(history[1].at)
    assert all(s.kind in ("fire", "submit", "schedule") for s in plain)
    assert p.next_steps(history[1].at, participation=True)[: len(plain)] == plain
