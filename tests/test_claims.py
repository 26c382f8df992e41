"""Claims: every malformed claim refused in one line that names the field, and the arithmetic
of caps and rates across items and claims (docs/definition-language.md, "Budgets").

The expected messages are the event format's words (docs/event-format.md); the amounts come
from the documents' caps (a PROSPECT mentee's 600, a site-visit host's 700, an expert's
EUR 450 a day and 100 a night).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from test_rule_tables import EM, PM, SV, claim_point

from peerflow import Actor, EventError, Programme, StepBlocked
from peerflow.engine._blockers import OverBudget
from peerflow.engine._budget import assess_claim
from peerflow.model._types import Budget, CostItem, RoleBudget

BANK = "BE68 5390 0754 7034"  # PROSPECT asks every claim for bank details


def attempt(definition: str, role: str, payload: dict[str, Any]) -> tuple[Programme, Any]:
    """Record ``payload`` as a claim by the first claimant of ``role`` in the example."""
    p, template = claim_point(definition, role)
    try:
        p.record("claim", payload, at=template.at, actor=template.actor)
    except EventError as refused:
        return p, refused
    return p, None


def travel(amount: Any, **entry: Any) -> dict[str, Any]:
    return {"item": "travel", "amount": amount, "receipts": ["r.pdf"], **entry}


AMOUNT = 'payload.items[0].amount must be an amount like "92.50", got '
BAD_CLAIMS = [
    (
        {"bank_details": BANK, "items": [travel(12.5)]},
        AMOUNT + '12.5 (write it as a string like "92.50": floats lose cents)',
    ),
    ({"bank_details": BANK, "items": [travel(True)]}, AMOUNT + "True"),
    ({"bank_details": BANK, "items": [travel("abc")]}, AMOUNT + "'abc'"),
    (
        {"bank_details": BANK, "items": [travel("1e40")]},
        "payload.items[0].amount is too large an amount: '1e40'",
    ),
    (
        {"bank_details": BANK, "items": [travel("12.345")]},
        "payload.items[0].amount must be 0 or more with at most 2 decimals, got '12.345'",
    ),
    (
        {"bank_details": BANK, "items": [travel("-1")]},
        "payload.items[0].amount must be 0 or more with at most 2 decimals, got '-1'",
    ),
    (
        {"bank_details": BANK, "items": [travel("Infinity")]},
        "payload.items[0].amount must be 0 or more with at most 2 decimals, got 'Infinity'",
    ),
    (
        {"bank_details": BANK, "items": [travel("10"), travel("10", receipts="r.pdf")]},
        "payload.items[1].receipts must list receipt references",
    ),
    (
        {"bank_details": BANK, "items": [travel("10", receipts=[1])]},
        "payload.items[0].receipts must list receipt references",
    ),
    ({"items": []}, "payload.items must list {item, amount, receipts} objects"),
    ({}, "payload.items must list {item, amount, receipts} objects"),
    ({"items": ["travel"]}, "payload.items[0] must be {item, amount, receipts}"),
    ({"items": [{"item": 3, "amount": "1"}]}, "payload.items[0] must be {item, amount, receipts}"),
    (
        {"items": [{"item": "hotel", "amount": "1"}]},
        "payload.items[0]: 'hotel' is not a cost item of role 'mentee' (items: travel)",
    ),
    (
        {"bank_details": BANK, "items": [travel("1")], "invoice_date": "2027-13-01"},
        "payload.invoice_date must be a date like 2027-05-20, got '2027-13-01'",
    ),
    (
        {"bank_details": BANK, "items": [travel("1")], "invoice_date": 20270501},
        "payload.invoice_date must be a date like 2027-05-20, got 20270501",
    ),
]


@pytest.mark.parametrize("payload, message", BAD_CLAIMS, ids=lambda v: str(v)[:40])
def test_a_malformed_claim_is_refused_in_one_line_naming_its_field(
    payload: dict[str, Any], message: str
) -> None:
    p, refused = attempt(PM, "mentee", payload)
    assert isinstance(refused, EventError) and not isinstance(refused, StepBlocked)
    assert refused.reason == message
    assert refused.seq == p.state.next_seq  # the line of the history it would have been


def test_an_unknown_item_is_told_the_role_s_items() -> None:
    _, refused = attempt(PM, "mentor", {"items": [{"item": "hotel", "amount": "1"}]})
    assert refused.reason == (
        "payload.items[0]: 'hotel' is not a cost item of role 'mentor' "
        "(items: course_materials, food, transport)"
    )


def test_a_claim_names_itself_once() -> None:
    p, template = claim_point(PM, "mentee")
    with pytest.raises(EventError) as bad:
        p.record(
            "claim",
            {"bank_details": BANK, "claim": "a\x1bb", "items": [travel("1")]},
            at=template.at,
            actor=template.actor,
        )
    assert bad.value.reason.startswith("payload.claim must name the claim: it ")
    assert bad.value.seq == p.state.next_seq
    p.record(
        "claim",
        {"bank_details": BANK, "claim": "c1", "items": [travel("100")]},
        at=template.at,
        actor=template.actor,
    )
    with pytest.raises(EventError) as again:
        p.record(
            "claim",
            {"bank_details": BANK, "claim": "c1", "items": [travel("1")]},
            at=template.at,
            actor=template.actor,
        )
    assert again.value.reason == "payload.claim: claim 'c1' is already recorded"
    assert again.value.seq == p.state.next_seq


def test_a_role_without_a_budget_is_told_which_roles_have_one() -> None:
    p, template = claim_point(PM, "mentee")
    finance = Actor("finance_coordinator", "finance-office")
    with pytest.raises(EventError) as refused:
        p.record(
            "claim", {"bank_details": BANK, "items": [travel("1")]}, at=template.at, actor=finance
        )
    assert refused.value.reason == (
        "role 'finance_coordinator' has no budget to claim from "
        "(budgets: mentee, mentor, facilitator)"
    )
    assert refused.value.seq == p.state.next_seq


@pytest.mark.parametrize(
    "entry, message",
    [
        ({}, "payload.items: 'fee'.days must be a whole number of 1 or more, got None"),
        ({"days": 0}, "payload.items: 'fee'.days must be a whole number of 1 or more, got 0"),
        ({"days": True}, "payload.items: 'fee'.days must be a whole number of 1 or more, got True"),
        ({"days": 1.5}, "payload.items: 'fee'.days must be a whole number of 1 or more, got 1.5"),
        ({"days": "2"}, "payload.items: 'fee'.days must be a whole number of 1 or more, got '2'"),
    ],
)
def test_a_daily_rate_needs_a_whole_number_of_days(entry: dict[str, Any], message: str) -> None:
    payload = {"items": [{"item": "fee", "amount": "450", "receipts": ["f.pdf"], **entry}]}
    p, refused = attempt(EM, "expert", payload)
    assert isinstance(refused, EventError) and refused.reason == message
    assert refused.seq == p.state.next_seq


def test_a_nightly_rate_needs_a_whole_number_of_nights() -> None:
    payload = {"items": [{"item": "accommodation", "amount": "100", "receipts": ["h.pdf"]}]}
    p, refused = attempt(EM, "expert", payload)
    assert refused.reason == (
        "payload.items: 'accommodation'.nights must be a whole number of 1 or more, got None"
    )
    assert refused.seq == p.state.next_seq


def test_a_recorded_claim_keeps_what_was_claimed() -> None:
    """One day, one night, receipts and the invoice date are kept as given; the claim names
    its claimant, role and the seq of its event."""
    p, template = claim_point(EM, "expert")
    payload = {
        "claim": "trip",
        "invoice_date": "2023-05-20",
        "items": [
            {"item": "fee", "amount": "450", "receipts": ["f.pdf"], "days": 1},
            {"item": "accommodation", "amount": "100", "receipts": ["h.pdf"], "nights": 1},
            {"item": "travel", "amount": "80", "receipts": ["t.pdf", "t2.pdf"]},
        ],
    }
    seq = p.state.next_seq
    p.record("claim", payload, at=template.at, actor=template.actor)
    claim = p.state.claim("trip")
    assert claim is not None
    assert (claim.claimant, claim.role, claim.seq) == (template.actor.id, "expert", seq)
    assert claim.invoice_date == date(2023, 5, 20)
    fee, night, fare = claim.items
    assert (fee.days, fee.nights, fee.receipts) == (1, None, ("f.pdf",))
    assert (night.days, night.nights, night.receipts) == (None, 1, ("h.pdf",))
    assert (fare.days, fare.nights, fare.receipts) == (None, None, ("t.pdf", "t2.pdf"))
    assert claim.reimbursable == Decimal("630")


def test_the_invoice_date_defaults_to_the_claim_s_day() -> None:
    p, template = claim_point(PM, "mentee")
    p.record(
        "claim",
        {"bank_details": BANK, "claim": "c", "items": [travel("10")]},
        at=template.at,
        actor=template.actor,
    )
    claim = p.state.claim("c")
    assert claim is not None and claim.invoice_date == template.at.date()


def test_an_item_s_cap_counts_only_earlier_claims_of_that_item() -> None:
    """The mentor's food (150) and course materials (20) are capped apart: 150 of food does
    not use up the course materials."""
    p, template = claim_point(PM, "mentor")
    at, actor = template.at, template.actor
    food = {"item": "food", "amount": "150", "receipts": ["f.pdf"]}
    books = {"item": "course_materials", "amount": "20", "receipts": ["b.pdf"]}
    p.record("claim", {"bank_details": BANK, "claim": "a", "items": [food]}, at=at, actor=actor)
    p.record("claim", {"bank_details": BANK, "claim": "b", "items": [books]}, at=at, actor=actor)


def test_two_lines_of_one_item_in_one_claim_share_its_cap() -> None:
    """A mentee's travel: 100 claimed before, then 300 and 300 in one claim: 200 is left for
    the second line, which is over by 100."""
    p, template = claim_point(PM, "mentee")
    at, actor = template.at, template.actor
    p.record(
        "claim", {"bank_details": BANK, "claim": "a", "items": [travel("100")]}, at=at, actor=actor
    )
    with pytest.raises(StepBlocked) as refused:
        p.record(
            "claim",
            {"bank_details": BANK, "items": [travel("300"), travel("300")]},
            at=at,
            actor=actor,
        )
    (over,) = refused.value.blockers
    assert isinstance(over, OverBudget)
    assert (over.cap, over.claimed, over.excess) == (Decimal(200), Decimal(300), Decimal(100))


def test_a_host_s_cap_holds_over_all_its_claims() -> None:
    """A site-visit host may be reimbursed 700 in all: after 400 of meeting rooms, 400 of
    catering is over by 100; after the 700, even 0.50 is over."""
    p, template = claim_point(SV, "host")
    at, actor = template.at, template.actor

    def line(name: str, value: str) -> dict[str, Any]:
        return {"item": name, "amount": value, "receipts": [f"{name}.pdf"]}

    p.record(
        "claim",
        {"bank_details": BANK, "claim": "a", "items": [line("meeting_rooms", "400")]},
        at=at,
        actor=actor,
    )
    with pytest.raises(StepBlocked) as refused:
        p.record("claim", {"items": [line("catering", "400")]}, at=at, actor=actor)
    (over,) = refused.value.blockers
    assert isinstance(over, OverBudget)
    assert over.item == "total for role 'host'"
    assert (over.cap, over.claimed, over.excess) == (Decimal(300), Decimal(400), Decimal(100))
    assert over.rule == "cap 700 EUR per participant of role 'host'"
    p.record(
        "claim",
        {"bank_details": BANK, "claim": "b", "items": [line("catering", "300")]},
        at=at,
        actor=actor,
    )
    with pytest.raises(StepBlocked):
        p.record("claim", {"items": [line("local_transport", "0.50")]}, at=at, actor=actor)


def test_accepting_the_host_s_cap_trims_the_last_lines_first() -> None:
    """300 already reimbursed, 400 left: 300 + 200 + 100 claimed with accept_cap keeps the
    first line whole, trims the second to 100 and the third to nothing."""
    p, template = claim_point(SV, "host")
    at, actor = template.at, template.actor

    def line(name: str, value: str) -> dict[str, Any]:
        return {"item": name, "amount": value, "receipts": [f"{name}.pdf"]}

    p.record(
        "claim",
        {"bank_details": BANK, "claim": "a", "items": [line("meeting_rooms", "300")]},
        at=at,
        actor=actor,
    )
    items = [line("meeting_rooms", "300"), line("catering", "200"), line("local_transport", "100")]
    p.record(
        "claim",
        {"bank_details": BANK, "claim": "b", "items": items, "accept_cap": True},
        at=at,
        actor=actor,
    )
    claim = p.state.claim("b")
    assert claim is not None
    assert [i.reimbursable for i in claim.items] == [Decimal(300), Decimal(100), Decimal(0)]
    assert claim.excess == Decimal(200)


@pytest.mark.parametrize(
    "cap, reported, rule",
    [("100", "60", "30 EUR per day x 2"), ("50", "50", "cap 50 EUR per participant")],
)
def test_the_smallest_of_an_item_s_limits_is_the_one_reported(
    cap: str, reported: str, rule: str
) -> None:
    """An item with a cap and a daily rate (the language allows both): 100 claimed for two
    days at 30 is over the rate's 60, or a cap of 50 if that is smaller; the refusal names the
    limit that binds."""
    item = CostItem(cap=Decimal(cap), per_day=Decimal(30))
    budget = Budget(roles={"expert": RoleBudget(items={"fee": item})}, paid_by=("secretariat",))
    payload = {"items": [{"item": "fee", "amount": "100", "receipts": ["f.pdf"], "days": 2}]}
    claim, blockers = assess_claim(budget, "expert", "ann", payload, (), 3, date(2027, 1, 4))
    (over,) = blockers
    assert isinstance(over, OverBudget)
    limit = Decimal(reported)
    assert (over.cap, over.excess, over.rule) == (limit, Decimal(100) - limit, rule)
    assert claim.items[0].reimbursable == limit
