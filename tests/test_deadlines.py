"""What is due, by when, and what is late: `deadlines()` in full at chosen moments.

The expected lists are worked out by hand from the documents' windows for the example's
dates (docs/concepts.md: a window closes at the first instant after its last day, in the
programme's time zone), not read from the definitions: every field of every item is checked,
so a deadline that moves, changes owner, loses its rule or its place in the order fails here
(the titles checked are the definitions' own words for the steps).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

import peerflow
from peerflow import Actor, Programme
from peerflow.engine._registry import example_path

BXL = ZoneInfo("Europe/Brussels")


def cut(definition_id: str, events: int) -> Programme:
    history = [e for _, e in peerflow.read_history(example_path(definition_id))]
    return Programme.from_history(history[:events])


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BXL)


def listed(p: Programme, moment: str) -> list[tuple[object, ...]]:
    return [
        (d.kind, d.name, d.due_at, d.overdue, d.owed_by, d.rule, d.advisory)
        for d in p.deadlines(at(moment))
    ]


def titles(p: Programme, moment: str) -> list[str]:
    return [d.title for d in p.deadlines(at(moment))]


def test_after_the_orientation_both_templates_are_due_in_two_weeks() -> None:
    """PM-05: the mentees' Learning Needs and the mentor's Learning Experiences within two
    weeks of the orientation (Monday 1 February 2027: through 15 February), each listed with
    who still owes it; Working Together is advised in Months 2-3 (through 1 May)."""
    p = cut("prospect-peer-mentoring", 9)
    two_weeks = ("closes 2 weeks after hold_orientation", False)
    assert listed(p, "2027-02-10T12:00") == [
        ("submit", "learning_experiences", at("2027-02-16"), False, ("ghent-mentor",), *two_weeks),
        (
            "submit",
            "learning_needs",
            at("2027-02-16"),
            False,
            ("porto-mentee", "split-mentee"),
            *two_weeks,
        ),
        (
            "fire",
            "hold_working_together",
            at("2027-05-02"),
            False,
            ("facilitator",),
            "indicative: closes 3 months after hold_orientation",
            True,
        ),
        NINE_MONTHS,
    ]
    assert titles(p, "2027-02-10T12:00") == [
        "Learning Experiences (template)",
        "Learning Needs (template)",
        "Hold Working Together (learning plan development, online peer learning)",
        "Programme deadline",
    ]


NINE_MONTHS = (
    "programme",
    "deadline",
    at("2027-11-02"),
    False,
    (),
    "9 months after hold_orientation",
    False,
)
"""PM-02: nine months from the orientation of Monday 1 February 2027: through 1 November."""


def test_before_the_visit_the_structure_the_visit_and_the_advice_are_due() -> None:
    """PM-07 for a visit on Monday 10 May 2027: the structure 'a week before' (through 3 May),
    the visit within its two days (through 12 May); Months 4-6 end with 1 August."""
    p = cut("prospect-peer-mentoring", 17)
    structure = (
        "submit",
        "visit_structure",
        at("2027-05-04"),
        False,
        ("anna-facilitator", "ghent-mentor"),
        "closes 1 week before visit_date",
        False,
    )
    visit = ("fire", "hold_visit", at("2027-05-13"), False, ("mentor", "facilitator"))
    assert listed(p, "2027-04-20T12:00") == [
        structure,
        (*visit, "closes 2 days after visit_date", False),
        (
            "fire",
            "hold_visit",
            at("2027-08-02"),
            False,
            ("mentor", "facilitator"),
            "indicative: closes 6 months after hold_orientation",
            True,
        ),
        NINE_MONTHS,
    ]
    late = listed(p, "2027-05-04T00:00")  # the first instant after the structure's last day
    assert late[0] == (*structure[:3], True, *structure[4:])
    assert [item[3] for item in late[1:]] == [False, False, False]


def test_after_the_visit_a_payment_is_due_four_weeks_after_the_invoice() -> None:
    """PM-08: the finance coordinator pays 2-4 weeks after the invoice of 14 May 2027."""
    p = cut("prospect-peer-mentoring", 20)
    assert listed(p, "2027-06-11T23:00") == [
        (
            "payment",
            "porto-travel",
            at("2027-06-12"),
            False,
            ("finance-office",),
            "closes 4 weeks after invoice",
            False,
        ),
        (
            "fire",
            "hold_moving_forward",
            at("2027-11-02"),
            False,
            ("facilitator",),
            "indicative: closes 9 months after hold_orientation",
            True,
        ),
        NINE_MONTHS,
    ]
    paid_late = listed(p, "2027-06-12T00:00")
    assert paid_late[0][3] is True
    assert titles(p, "2027-06-12T00:00")[0] == "Reimburse porto-mentee: 540.00 EUR"
    assert listed(p, "2027-11-02T00:00")[-1][3] is True  # past the nine months at their end


def test_the_final_document_is_needed_five_belgian_working_days_after_the_meeting() -> None:
    """ER-07: the final meeting on Monday 28 November 2022; five working days end with Monday
    5 December. The step and the document it needs are both due then, and late after."""
    p = cut("sc-expert-review", 17)
    assert listed(p, "2022-12-06T12:00") == [
        (
            "fire",
            "deliver_final_document",
            at("2022-12-06"),
            True,
            ("expert",),
            "closes 5 working days after hold_final_meeting",
            False,
        ),
        (
            "submit",
            "final_document",
            at("2022-12-06"),
            True,
            ("expert-lund",),
            "needed by 'deliver_final_document'",
            False,
        ),
    ]
    assert [item[3] for item in listed(p, "2022-12-05T23:59")] == [False, False]
    assert titles(p, "2022-12-05T23:59") == [
        "Deliver the finalised document (changes were discussed)",
        "Finalised review document",
    ]


def test_a_submitted_deliverable_is_no_longer_due() -> None:
    p = cut("sc-expert-review", 17)
    p.submit("final_document", at=at("2022-12-02T10:00"), actor=Actor("expert", "expert-lund"))
    assert [item[:2] for item in listed(p, "2022-12-02T11:00")] == [
        ("fire", "deliver_final_document")
    ]


@pytest.mark.parametrize("definition_id", sorted(peerflow.builtin_files()))
def test_a_closed_programme_owes_nothing(definition_id: str) -> None:
    history = [e for _, e in peerflow.read_history(example_path(definition_id))]
    p = Programme.from_history(history)
    assert p.state.terminal
    assert [d for d in p.deadlines(history[-1].at) if d.kind != "payment"] == []


def test_a_blocked_visit_says_when_its_window_opens_and_closes() -> None:
    """PM-07 for a visit on 10 May 2027: before that day the window is not open ('opens on
    visit_date', at the first instant of the 10th); after the two days it is closed ('closes 2
    days after visit_date', at the first instant of the 13th). Every field a portal shows."""
    p = cut("prospect-peer-mentoring", 17)
    missing = {
        "kind": "missing_deliverable",
        "deliverable": "visit_structure",
        "owed_by": ["anna-facilitator", "ghent-mentor"],
        "each": False,  # one structure, agreed by mentor and facilitator: either hands it in
        "message": "deliverable 'visit_structure' is missing (still owed by one of "
        "anna-facilitator, ghent-mentor)",
    }

    def blockers(moment: str) -> list[dict[str, object]]:
        (visit,) = [s for s in p.next_steps(at(moment)) if s.name == "hold_visit"]
        return [b.to_dict() for b in visit.blockers]

    assert blockers("2027-05-09T12:00") == [
        missing,
        {
            "kind": "window_not_open",
            "opens_at": "2027-05-10T00:00:00+02:00",
            "rule": "opens on visit_date",
            "message": "window not open yet: opens 2027-05-10T00:00:00+02:00 (opens on visit_date)",
        },
    ]
    assert blockers("2027-05-13T12:00") == [
        missing,
        {
            "kind": "window_closed",
            "closed_at": "2027-05-13T00:00:00+02:00",
            "rule": "closes 2 days after visit_date",
            "message": "window closed at 2027-05-13T00:00:00+02:00 (closes 2 days after "
            "visit_date)",
        },
    ]


def test_an_overview_by_role_counts_a_participant_s_waiver() -> None:
    """Asked for a role rather than a participant (an overview), a waiver granted to one
    participant of it lifts the blocker: the mentee's late template is shown as allowed."""
    history = [e for _, e in peerflow.read_history(example_path("prospect-peer-mentoring"))]
    waive = next(i for i, e in enumerate(history) if e.type == "waive")
    p = Programme.from_history(history[: waive + 1])
    (template,) = [
        s for s in p.next_steps(history[waive].at, "mentee") if s.name == "learning_needs"
    ]
    assert template.allowed
    assert [b.kind for b in template.waived] == ["window_closed"]


CONDITIONAL = """\
id: conditional
version: 1
title: A step that needs a second document while the first says so
roles:
  lead: {}
states:
  open: {}
  done: {terminal: true}
initial: open
timezone: Europe/Brussels
transitions:
  - event: finish
    from: open
    to: done
    by: lead
    requires: [minutes]
    requires_when:
      - deliverable: revision
        when: {deliverable: minutes, part: changes, equals: "yes"}
    window:
      closes: {after: start, days: 10}
deliverables:
  minutes:
    title: Minutes
    owed_by: [lead]
    content:
      changes: {title: "Were changes discussed?", one_of: ["yes", "no"]}
  revision:
    title: Revised document
    owed_by: [lead]
"""


@pytest.mark.parametrize(("changes", "needs_revision"), [("yes", True), ("no", False)])
def test_a_document_needed_only_while_the_minutes_say_so_is_due_only_then(
    changes: str, needs_revision: bool
) -> None:
    """A conditional requirement (ER-06's "if changes were discussed") is listed as due by the
    step's window exactly while its condition holds, owed by who owes it."""
    compiled = peerflow.compile_text(CONDITIONAL)
    lead = Actor("lead", "lena")
    p = Programme.start(
        compiled, "c", at=at("2027-03-01T09:00"), actor=lead, participants=[("lena", "lead")]
    )
    p.submit("minutes", at=at("2027-03-02T09:00"), actor=lead, content={"changes": changes})
    # 10 days after Monday 1 March: through Thursday 11 March, closed from the 12th
    revision = ("submit", "revision", at("2027-03-12"), False, ("lena",), "needed by 'finish'")
    found = [item[:6] for item in listed(p, "2027-03-05T12:00")]
    assert found[0][:2] == ("fire", "finish")
    assert (revision in found) == needs_revision
