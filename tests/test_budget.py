"""Budgets (PM-08, EM-10, SV-10) and structured deliverables (PM-06, PM-11, PM-12)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from support import complete_content

import peerflow
from peerflow import Actor, EventError, Programme, StepBlocked
from peerflow.cli import main
from peerflow.engine._registry import example_path

CEST = timezone(timedelta(hours=2))
FINANCE = Actor("finance_coordinator", "finance-office")
PORTO = Actor("mentee", "porto-mentee")
GHENT = Actor("mentor", "ghent-mentor")


def prospect_until(event_name: str) -> Programme:
    """The PROSPECT example history up to and including the firing of ``event_name``."""
    events = [e for _, e in peerflow.read_history(example_path("prospect-peer-mentoring"))]
    cut = next(i for i, e in enumerate(events) if e.payload.get("event") == event_name)
    return Programme.from_history(events[: cut + 1])


def at(day: int, month: int = 5) -> datetime:
    return datetime(2027, month, day, 10, tzinfo=CEST)


BANK = "PT50 0002 0123 1234 5678 9015 4"  # PROSPECT asks every claim for bank details


def travel(amount: str, **extra: Any) -> dict[str, Any]:
    return {
        "items": [{"item": "travel", "amount": amount, "receipts": ["r.pdf"]}],
        "bank_details": BANK,
        **extra,
    }


@pytest.mark.rule("PM-08")
def test_a_mentee_travel_claim_over_600_is_refused_with_cap_amount_and_excess() -> None:
    p = prospect_until("hold_visit")
    with pytest.raises(StepBlocked) as refused:
        p.record("claim", travel("640.00"), at=at(12), actor=PORTO)
    (blocker,) = refused.value.blockers
    assert blocker.kind == "over_budget"
    assert (blocker.cap, blocker.claimed, blocker.excess) == (  # type: ignore[attr-defined]
        Decimal(600),
        Decimal("640.00"),
        Decimal("40.00"),
    )
    assert "claimed 640.00, cap 600" in blocker.describe()
    assert p.state.claims == ()


@pytest.mark.rule("PM-08")
def test_accepting_the_cap_records_600_reimbursable_and_flags_the_excess() -> None:
    p = prospect_until("hold_visit")
    p.record("claim", travel("640.00", claim="c1", accept_cap=True), at=at(12), actor=PORTO)
    claim = p.state.claim("c1")
    assert claim is not None
    assert claim.reimbursable == Decimal("600.00") and claim.excess == Decimal("40.00")
    # the cap is per participant: a second claim finds nothing left
    with pytest.raises(StepBlocked, match="cap 600"):
        p.record("claim", travel("10.00"), at=at(13), actor=PORTO)


@pytest.mark.rule("PM-08")
def test_the_mentor_host_budget_caps_each_item_and_the_total() -> None:
    p = prospect_until("hold_visit")
    items = [
        {"item": "course_materials", "amount": "25.00", "receipts": ["a"]},
        {"item": "food", "amount": "150.00", "receipts": ["b"]},
        {"item": "transport", "amount": "100.00", "receipts": ["c"]},
    ]
    with pytest.raises(StepBlocked) as refused:
        p.record("claim", {"items": items, "bank_details": BANK}, at=at(12), actor=GHENT)
    assert [b.item for b in refused.value.blockers] == ["course_materials"]  # type: ignore[attr-defined]
    p.record(
        "claim",
        {"claim": "h", "items": items, "accept_cap": True, "bank_details": BANK},
        at=at(12),
        actor=GHENT,
    )
    claim = p.state.claim("h")
    assert claim is not None and claim.reimbursable == Decimal("270.00")


def test_claims_need_receipts_and_amounts_that_are_not_floats() -> None:
    p = prospect_until("hold_visit")
    with pytest.raises(StepBlocked) as refused:
        p.record(
            "claim",
            {"items": [{"item": "travel", "amount": "300"}], "bank_details": BANK},
            at=at(12),
            actor=PORTO,
        )
    assert [b.kind for b in refused.value.blockers] == ["missing_receipts"]
    with pytest.raises(EventError, match="floats lose cents"):
        p.record(
            "claim",
            {
                "items": [{"item": "travel", "amount": 300.5, "receipts": ["r"]}],
                "bank_details": BANK,
            },
            at=at(12),
            actor=PORTO,
        )
    with pytest.raises(EventError, match="not a cost item of role 'mentee'"):
        p.record("claim", {"items": [{"item": "food", "amount": "5"}]}, at=at(12), actor=PORTO)


@pytest.mark.rule("PM-09")
def test_claims_wait_for_the_visit() -> None:
    p = prospect_until("hold_working_together")
    with pytest.raises(peerflow.StepNotAvailable, match="claim"):
        p.record("claim", travel("300.00"), at=datetime(2027, 3, 4, 10, tzinfo=CEST), actor=PORTO)


@pytest.mark.rule("PM-08")
def test_payment_is_due_four_weeks_after_the_invoice_and_only_finance_pays() -> None:
    p = prospect_until("hold_visit")
    p.record(
        "claim", travel("540.00", claim="t", invoice_date="2027-05-14"), at=at(14), actor=PORTO
    )
    due = next(d for d in p.deadlines(at(15)) if d.kind == "payment")
    assert due.name == "t" and due.owed_by == ("finance-office",)
    assert due.due_at == datetime(2027, 6, 12, tzinfo=CEST)  # end of 2027-06-11
    assert not due.overdue
    assert next(d for d in p.deadlines(at(12, 6)) if d.kind == "payment").overdue
    with pytest.raises(StepBlocked, match="role 'mentee' may not"):
        p.record("pay", {"claim": "t"}, at=at(28), actor=PORTO)
    with pytest.raises(StepBlocked, match=r"excess 10\.00"):
        p.record("pay", {"claim": "t", "amount": "550.00"}, at=at(28), actor=FINANCE)
    p.record("pay", {"claim": "t"}, at=at(28), actor=FINANCE)
    claim = p.state.claim("t")
    assert claim is not None and claim.paid == Decimal("540.00")
    assert not [d for d in p.deadlines(at(29)) if d.kind == "payment"]


@pytest.mark.rule("PM-08")
def test_the_programme_page_shows_payment_two_to_four_weeks_after_the_invoice(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """'After 2-4 weeks, the finance coordinator will reimburse the expenses': paying sooner
    is never refused (it harms nobody), so the opening edge is not a check; the page a
    facilitator reads must still say when payment is expected, from two weeks on."""
    assert main(["show", "prospect-peer-mentoring", "--format", "markdown"]) == 0
    page = capsys.readouterr().out
    assert "Payment**: opens 2 weeks after invoice; closes 4 weeks after invoice" in page


@pytest.mark.rule("PM-06")
def test_a_learning_plan_without_a_part_is_refused_naming_it() -> None:
    p = prospect_until("hold_working_together")
    content = complete_content(p.definition, "learning_plan")
    assert content is not None
    del content["evidence_of_success"]
    when = datetime(2027, 3, 10, 10, tzinfo=CEST)
    with pytest.raises(StepBlocked) as refused:
        p.submit("learning_plan", at=when, actor=GHENT, content=content)
    (blocker,) = refused.value.blockers
    assert blocker.kind == "incomplete_content"
    assert blocker.missing == ("evidence_of_success",)  # type: ignore[attr-defined]
    content["evidence_of_success"] = "200 households advised"
    p.submit("learning_plan", at=when, actor=GHENT, content=content)


@pytest.mark.rule("PM-11")
def test_a_transferability_rating_must_be_1_2_or_3() -> None:
    p = prospect_until("hold_moving_forward")
    content = complete_content(p.definition, "transferability_assessment")
    assert content is not None
    content["measures"][0]["transferability"] = 4
    when = datetime(2027, 7, 20, 10, tzinfo=CEST)
    with pytest.raises(
        StepBlocked, match=r"measures\[0\].transferability: 4 is not one of 1, 2, 3"
    ):
        p.submit("transferability_assessment", at=when, actor=PORTO, content=content)
    del content["measures"][0]["governance"]
    content["measures"][0]["transferability"] = 2
    with pytest.raises(StepBlocked, match=r"measures\[0\].governance is missing"):
        p.submit("transferability_assessment", at=when, actor=PORTO, content=content)


RATE_BUDGET = {
    "currency": "EUR",
    "paid_by": ["lead"],
    "receipts_required": False,
    "roles": {
        "lead": {
            "items": {
                "fee": {"per_day": "33.335"},
                "rooms": {"cap": 700},
            }
        }
    },
}


@pytest.mark.parametrize(
    "caller",
    [
        {},
        {"prec": 3},
        {"rounding": "ROUND_DOWN"},
        {"rounding": "ROUND_HALF_EVEN", "prec": 5},
    ],
    ids=["default", "prec 3", "round down", "half even, prec 5"],
)
def test_money_does_not_depend_on_the_caller_s_decimal_context(caller: dict[str, Any]) -> None:
    """33.335 a day x 3 days is 100.005, rounded half up to 100.01 whatever the host
    application set its decimal context to (it gave 100.00 or 100.01 by the caller)."""
    import decimal  # noqa: PLC0415

    from peerflow.engine._budget import assess_claim  # noqa: PLC0415
    from peerflow.model._loading import CONVERTER  # noqa: PLC0415
    from peerflow.model._types import Budget  # noqa: PLC0415

    budget = CONVERTER.structure(RATE_BUDGET, Budget)
    payload = {
        "claim": "c1",
        "items": [
            {"item": "fee", "amount": "120.00", "days": 3},
            {"item": "rooms", "amount": "123.45"},
            {"item": "rooms", "amount": "1.11"},
        ],
    }
    context = decimal.Context(
        **{k: getattr(decimal, v) if k == "rounding" else v for k, v in caller.items()}
    )
    with decimal.localcontext(context):
        claim, blockers = assess_claim(budget, "lead", "lea", payload, (), 1, at(1).date())
        assert [i.reimbursable for i in claim.items] == [
            Decimal("100.01"),
            Decimal("123.45"),
            Decimal("1.11"),
        ]
        assert claim.claimed == Decimal("244.56")
        assert claim.reimbursable == Decimal("224.57")
        assert claim.excess == Decimal("19.99")
    assert [b.kind for b in blockers] == ["over_budget"]


ANNA = Actor("facilitator", "anna-facilitator")


@pytest.mark.rule("PM-08")
def test_the_facilitator_s_travel_and_hotel_are_reimbursed_at_real_cost() -> None:
    """Section 3: the facilitator should "Make travel and hotel arrangements based on financial
    guidelines and provide a record of expenses and receipts for reimbursement purposes to the
    finance coordinator"; the booklet gives the facilitator no cap."""
    p = prospect_until("hold_visit")
    trip = {
        "claim": "anna",
        "items": [
            {"item": "travel", "amount": "1412.30", "receipts": ["train.pdf"]},
            {"item": "hotel", "amount": "238.00", "receipts": ["hotel.pdf"]},
        ],
        "bank_details": "DE89 3704 0044 0532 0130 00",
    }
    p.record("claim", trip, at=at(12), actor=ANNA)
    claim = p.state.claim("anna")
    assert claim is not None and claim.reimbursable == Decimal("1650.30")
    due = next(d for d in p.deadlines(at(13)) if d.kind == "payment" and d.name == "anna")
    assert due.owed_by == ("finance-office",)
    with pytest.raises(StepBlocked) as refused:
        p.record(
            "claim",
            {"items": [{"item": "hotel", "amount": "90.00"}], "bank_details": BANK},
            at=at(12),
            actor=ANNA,
        )
    assert [b.kind for b in refused.value.blockers] == ["missing_receipts"]


@pytest.mark.rule("PM-08")
@pytest.mark.parametrize("details", [None, "", "   ", 12345678])
def test_a_claim_without_bank_details_is_refused(details: object) -> None:
    """Section 4 IV: "The mentor, mentee, and the facilitator should provide all the original
    receipts of the expenses, as well as bank details to the finance coordinator"."""
    p = prospect_until("hold_visit")
    payload = travel("300.00")
    if details is None:
        del payload["bank_details"]
    else:
        payload["bank_details"] = details
    with pytest.raises(peerflow.EventError) as refused:
        p.record("claim", payload, at=at(12), actor=PORTO)
    assert refused.value.reason.startswith("payload.bank_details: a claim must carry")
    assert refused.value.seq == p.state.next_seq  # the claim's own seq
    assert p.state.claims == ()
