"""Rule tests written from the documents, as tables: who does each step, who owes each
deliverable, what each step requires, when each window opens and closes, what each report
contains, how many may take part.

Every expected value in the tables below is a literal taken from the source document (the
quoted words say where); the definitions under test are never read here. What a test takes
from elsewhere is the shipped example history of each programme: its cast, its dates and the
moment each step was taken, which is data, not the rule. Each test cuts the example just before
the step in question and tries it again, as the document's roles allow and forbid it, inside
and outside its window, with and without each requirement.

The marks say which rules each test proves; ``tools/mutate_definitions.py`` runs the tests of a
rule against every small change of the definition elements tagged with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pendulum
import pytest
from rule_marks import marked_tests

import peerflow
from peerflow import Actor, Event, EventError, Programme, StepBlocked
from peerflow.engine._registry import example_path

BXL = ZoneInfo("Europe/Brussels")
PM, TU, PP = "prospect-peer-mentoring", "mia-tutoring", "mia-peer-groups"
ER, EM, SV = "sc-expert-review", "sc-expert-mission", "sc-site-visit"


# --- the example histories: the cast and the moments, never the rules ---------------------


@cache
def example(definition_id: str) -> tuple[Event, ...]:
    return tuple(e for _, e in peerflow.read_history(example_path(definition_id)))


def cast(events: Sequence[Event]) -> dict[str, tuple[str, ...]]:
    """Role -> the participants holding it in these events (listed at the start or joined)."""
    found: dict[str, list[str]] = {}
    for e in events:
        if e.type == "start":
            for p in e.payload["participants"]:
                found.setdefault(p["role"], []).append(p["id"])
        elif e.type == "join":
            found.setdefault(e.payload["role"], []).append(e.payload["participant"])
    return {role: tuple(ids) for role, ids in found.items()}


def _name(e: Event) -> str | None:
    """What an event is about: the step, the deliverable, the date or the claim paid."""
    for key in ("event", "deliverable", "date"):
        if key in e.payload:
            return str(e.payload[key])
    return str(e.payload["claim"]) if e.type == "pay" else None


def cut(definition_id: str, kind: str, name: str, nth: int = 0) -> tuple[list[Event], Event]:
    """The example before the ``nth`` ``kind`` (fire or submit) of ``name``, and that event."""
    events = example(definition_id)
    hits = [i for i, e in enumerate(events) if e.type == kind and _name(e) == name]
    return list(events[: hits[nth]]), events[hits[nth]]


def try_again(
    definition_id: str,
    kind: str,
    name: str,
    *,
    actor: Actor | None = None,
    at: datetime | None = None,
    payload: dict[str, Any] | None = None,
    drop: Sequence[str] = (),
    nth: int = 0,
    prepare: Callable[[Programme, Event], None] | None = None,
) -> EventError | None:
    """Cut the example before a step and take it again, changed; the refusal, or None."""
    before, original = cut(definition_id, kind, name, nth)
    p = Programme.from_history(before[:1])
    for e in before[1:]:  # recorded anew: seq counts without the dropped submissions
        if not (e.type == "submit" and _name(e) in drop):
            p.record(e.type, e.payload, at=e.at, actor=e.actor)
    if prepare is not None:
        prepare(p, original)
    try:
        p.record(
            original.type,
            original.payload if payload is None else payload,
            at=original.at if at is None else at,
            actor=original.actor if actor is None else actor,
        )
    except EventError as refused:
        return refused
    return None


def blocker_kinds(refused: EventError | None) -> list[str]:
    return [b.kind for b in refused.blockers] if isinstance(refused, StepBlocked) else []


# --- who takes each step ------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    rule: str
    definition: str
    kind: str  # fire or submit
    name: str
    roles: frozenset[str]
    words: str
    instead_of: str = ""  # a step the example never takes is tried where this one was
    nth: int = 0  # which time the example takes the step (a second workshop)

    def __str__(self) -> str:
        return f"{self.rule}-{self.kind}-{self.name}" + (f"-{self.nth + 1}" if self.nth else "")


def who(
    rule: str,
    definition: str,
    kind: str,
    name: str,
    roles: str,
    words: str,
    instead_of: str = "",
    nth: int = 0,
) -> Who:
    return Who(rule, definition, kind, name, frozenset(roles.split()), words, instead_of, nth)


STEPS_BY = [
    # PROSPECT: "The facilitator takes part in every step"; the mentor hosts the visit.
    who(
        "PM-13",
        PM,
        "fire",
        "hold_orientation",
        "facilitator",
        "an online webinar led by the facilitator",
    ),
    who(
        "PM-05",
        PM,
        "fire",
        "hold_working_together",
        "facilitator",
        "the facilitator ... sets the date for Working Together",
    ),
    who(
        "PM-07",
        PM,
        "fire",
        "hold_visit",
        "mentor facilitator",
        "the peer mentoring visit, hosted by the mentor; the facilitator attends",
    ),
    who(
        "PM-10",
        PM,
        "fire",
        "hold_moving_forward",
        "facilitator",
        "an online webinar (1-4 h) led by the facilitator",
    ),
    who("PM-10", PM, "fire", "complete", "facilitator", "The facilitator takes part in every step"),
    # MIA tutoring: the coordinator (the supporting structure) organises, the tutor teaches.
    who(
        "TU-02",
        TU,
        "fire",
        "set_goals",
        "coordinator",
        "realistic goals follow from [the needs analysis]",
    ),
    who(
        "TU-03",
        TU,
        "fire",
        "approve_programme",
        "coordinator",
        "the tutor is selected against the planned lectures",
    ),
    who("TU-04", TU, "fire", "start_delivery", "coordinator", "financing secured before delivery"),
    who(
        "TU-05",
        TU,
        "fire",
        "hold_session",
        "tutor",
        "Delivery through online channels, working sessions and study visits",
    ),
    who(
        "TU-05",
        TU,
        "fire",
        "finish_delivery",
        "coordinator",
        "a coordinator (the supporting structure) organises",
    ),
    who(
        "TU-06",
        TU,
        "fire",
        "complete",
        "coordinator",
        "Evaluation of the participants' reactions by questionnaire",
    ),
    # MIA peer groups: the coordinator organises the workshops.
    who("PP-01", PP, "fire", "launch", "coordinator", "Working groups of peers"),
    who("PP-04", PP, "fire", "hold_workshop", "coordinator", "Delivered through several workshops"),
    who("PP-04", PP, "fire", "hold_workshop", "coordinator", "the second workshop too", nth=1),
    who(
        "PP-04",
        PP,
        "fire",
        "evaluate",
        "coordinator",
        "Delivered through several workshops (at least two)",
    ),
    who("PP-05", PP, "fire", "complete", "coordinator", "Evaluation by questionnaire"),
    # Scalable Cities: "the SC Secretariat as facilitator".
    who("SC-03", ER, "fire", "select", "secretariat", "Calls and cut-offs"),
    who("SC-03", ER, "fire", "reject", "secretariat", "Calls and cut-offs", instead_of="select"),
    who(
        "ER-04",
        ER,
        "fire",
        "hold_inception",
        "secretariat",
        "Inception meeting ... minutes written by the secretariat",
    ),
    who(
        "ER-06",
        ER,
        "fire",
        "hold_final_meeting",
        "secretariat",
        "Final meeting (1 day, all parties)",
    ),
    who(
        "ER-07",
        ER,
        "fire",
        "deliver_final_document",
        "expert",
        "the final document goes to secretariat and city",
    ),
    who("ER-08", ER, "fire", "complete", "secretariat", "the SC Secretariat as facilitator"),
    who(
        "ER-09",
        ER,
        "fire",
        "close",
        "secretariat",
        "an impact assessment form one year after completion",
    ),
    who("SC-03", EM, "fire", "select", "secretariat", "Calls and cut-offs"),
    who("SC-03", EM, "fire", "reject", "secretariat", "Calls and cut-offs", instead_of="select"),
    who(
        "EM-03",
        EM,
        "fire",
        "hold_open_questions_meeting",
        "secretariat",
        "an online meeting on open questions (experts, city, secretariat)",
    ),
    who("EM-05", EM, "fire", "hold_field_visit", "secretariat city", "Week 3: the field visit"),
    who("EM-08", EM, "fire", "hold_recap_meeting", "secretariat", "Week 6: online recap meeting"),
    who("EM-09", EM, "fire", "complete", "secretariat", "the secretariat"),
    who("EM-09", EM, "fire", "close", "secretariat", "impact assessment one year after"),
    who(
        "SC-03", SV, "fire", "reject", "secretariat", "Calls and cut-offs", instead_of="select_host"
    ),
    who(
        "SV-02",
        SV,
        "fire",
        "select_host",
        "secretariat",
        "The secretariat opens a call for visitor cities",
    ),
    who(
        "SV-02",
        SV,
        "fire",
        "introduce_visitors",
        "secretariat",
        "then it is introduced to the host",
    ),
    who(
        "SV-03",
        SV,
        "fire",
        "hold_inception",
        "secretariat host",
        "inception meeting (secretariat and host)",
    ),
    who("SV-05", SV, "fire", "hold_preparation_meeting", "secretariat host", "preparation meeting"),
    who(
        "SV-06",
        SV,
        "fire",
        "hold_visit",
        "host secretariat",
        "the visit ... documentation by the host",
    ),
    who(
        "SV-08",
        SV,
        "fire",
        "evaluate_reports",
        "secretariat",
        "first evaluation of the reports by the secretariat",
    ),
    who("SV-09", SV, "fire", "close", "secretariat", "Impact assessment forms ... one year after"),
]

STEPS_BY += [
    who(
        "PM-03",
        PM,
        "schedule",
        "orientation_date",
        "facilitator",
        "a date for the orientation session, set by the facilitator",
    ),
    who(
        "PM-05",
        PM,
        "schedule",
        "working_together_date",
        "facilitator",
        "then sets the date for Working Together",
    ),
    who(
        "PM-06",
        PM,
        "schedule",
        "visit_date",
        "facilitator",
        "the date of the peer mentoring visit, set by the facilitator",
    ),
    who(
        "PM-09",
        PM,
        "schedule",
        "moving_forward_date",
        "facilitator",
        "the facilitator sets the date for Moving Forward",
    ),
    who(
        "PP-04",
        PP,
        "schedule",
        "workshop_date",
        "coordinator",
        "Delivered through several workshops (organised by the coordinator)",
    ),
    who("SC-03", ER, "schedule", "cut_off_date", "secretariat", "Calls and cut-offs"),
    who(
        "ER-04",
        ER,
        "schedule",
        "inception_date",
        "secretariat",
        "Inception meeting ... the SC Secretariat as facilitator",
    ),
    who(
        "ER-04",
        ER,
        "schedule",
        "final_meeting_date",
        "secretariat",
        "timelines and next meetings set",
    ),
    who("SC-03", EM, "schedule", "cut_off_date", "secretariat", "Calls and cut-offs"),
    who(
        "EM-05",
        EM,
        "schedule",
        "field_visit_date",
        "secretariat",
        "the secretariat (facilitator) schedules the field visit",
    ),
    who("SC-03", SV, "schedule", "cut_off_date", "secretariat", "Calls and cut-offs"),
    who(
        "SV-06",
        SV,
        "schedule",
        "visit_date",
        "secretariat",
        "the secretariat (facilitator) schedules the visit",
    ),
    who(
        "PM-08",
        PM,
        "pay",
        "porto-travel",
        "finance_coordinator",
        "the finance coordinator pays 2-4 weeks later",
    ),
    who(
        "EM-10",
        EM,
        "pay",
        "vienna-mission",
        "secretariat",
        "Reimbursement (section 4): by the Secretariat",
    ),
    who(
        "EM-10",
        ER,
        "pay",
        "lund-fee",
        "secretariat",
        "Reimbursement (section 4): by the Secretariat",
    ),
    who(
        "SV-10",
        SV,
        "pay",
        "malaga-visit",
        "secretariat",
        "Reimbursement (section 4): by the Secretariat",
    ),
]

SUBMITTED_BY = [
    who(
        "PM-03",
        PM,
        "submit",
        "peer_learning_agreement",
        "mentor mentee",
        "the peer learning agreement signed by the mentor and every mentee",
    ),
    who(
        "PM-03",
        PM,
        "submit",
        "availability_confirmation",
        "mentor mentee",
        "confirmation of availability from mentor and mentee",
    ),
    who("PM-05", PM, "submit", "learning_needs", "mentee", "the mentee uploads 'Learning Needs'"),
    who(
        "PM-05", PM, "submit", "learning_experiences", "mentor", "the mentor 'Learning Experiences'"
    ),
    who(
        "PM-06",
        PM,
        "submit",
        "learning_plan",
        "mentor",
        "learning plan development (mentor leads with the mentee)",
    ),
    who(
        "PM-07",
        PM,
        "submit",
        "visit_structure",
        "mentor facilitator",
        "Its structure is agreed and finalised at least a week before",
    ),
    who(
        "PM-09",
        PM,
        "submit",
        "dissemination_report",
        "mentor mentee",
        "mentor and mentee ... disseminate the results",
    ),
    who("PM-10", PM, "submit", "evaluation_survey", "mentor mentee", "an online survey from each"),
    who(
        "PM-11",
        PM,
        "submit",
        "transferability_assessment",
        "mentee",
        "the mentee rates its transferability",
    ),
    who(
        "PM-12",
        PM,
        "submit",
        "learning_programme_report",
        "mentor mentee",
        "written jointly by mentor and mentee",
    ),
    who(
        "TU-01",
        TU,
        "submit",
        "organisation_approval",
        "trainee",
        "the trainees' organisation must approve their participation",
    ),
    who(
        "TU-02",
        TU,
        "submit",
        "needs_analysis",
        "trainee",
        "the trainee supplies its current situation and level of knowledge",
    ),
    who(
        "TU-03",
        TU,
        "submit",
        "work_programme",
        "coordinator",
        "a coordinator (the supporting structure) organises",
    ),
    who(
        "TU-07",
        TU,
        "submit",
        "activity_plan",
        "coordinator",
        "A detailed plan of all activities ... made in advance",
    ),
    who(
        "TU-04",
        TU,
        "submit",
        "preparation_plan",
        "coordinator",
        "Preparation: administrative, technical and economic",
    ),
    who("TU-04", TU, "submit", "financing", "coordinator", "financing secured before delivery"),
    who("TU-05", TU, "submit", "session_record", "tutor", "a tutor (more expertise)"),
    who(
        "TU-06",
        TU,
        "submit",
        "questionnaire",
        "trainee",
        "Evaluation of the participants' reactions by questionnaire",
    ),
    who(
        "PP-03",
        PP,
        "submit",
        "work_programme",
        "coordinator",
        "The programme follows the participants' requests",
    ),
    who(
        "PP-06",
        PP,
        "submit",
        "preparation_plan",
        "coordinator",
        "Administrative, economic and technical preparation",
    ),
    who(
        "PP-02",
        PP,
        "submit",
        "materials_studied",
        "peer",
        "Participants study the materials before a workshop",
    ),
    who(
        "PP-04",
        PP,
        "submit",
        "workshop_minutes",
        "coordinator",
        "Delivered through several workshops",
    ),
    who("PP-05", PP, "submit", "questionnaire", "peer", "Evaluation by questionnaire"),
    who("ER-02", ER, "submit", "application", "city", "The city's application states ..."),
    who(
        "SC-01",
        ER,
        "submit",
        "eligibility",
        "city",
        "Eligible cities: Lighthouse and Fellow cities",
    ),
    who(
        "ER-02",
        ER,
        "submit",
        "draft_document",
        "city",
        "the city shares a finished draft and background",
    ),
    who(
        "ER-03",
        ER,
        "submit",
        "contract",
        "city expert secretariat",
        "contract and ToR signed by all parties",
    ),
    who(
        "ER-04",
        ER,
        "submit",
        "inception_minutes",
        "secretariat",
        "minutes written by the secretariat",
    ),
    who(
        "ER-05",
        ER,
        "submit",
        "draft_report",
        "expert",
        "Review (2-3 days) by the expert; the draft report goes to the city",
    ),
    who(
        "ER-06", ER, "submit", "final_meeting_minutes", "secretariat", "minutes by the secretariat"
    ),
    who(
        "ER-06",
        ER,
        "submit",
        "review_evaluation",
        "city expert",
        "evaluation of the review by city and expert",
    ),
    who("ER-08", ER, "submit", "testimonial", "city expert", "Testimonials from city and expert"),
    who(
        "ER-07",
        ER,
        "submit",
        "final_document",
        "expert",
        "the final document goes to secretariat and city",
    ),
    who(
        "ER-09",
        ER,
        "submit",
        "impact_assessment",
        "city",
        "The city fills in an impact assessment form",
    ),
    who(
        "EM-02",
        EM,
        "submit",
        "background_documents",
        "city",
        "the city provides background documents",
    ),
    who(
        "EM-02",
        EM,
        "submit",
        "logistics",
        "city expert",
        "city and experts settle travel and accommodation",
    ),
    who("EM-02", EM, "submit", "document_screening", "expert", "the experts screen the documents"),
    who("EM-03", EM, "submit", "final_agenda", "city expert", "feedback and final agenda"),
    who(
        "EM-03",
        EM,
        "submit",
        "visit_feedback",
        "expert",
        "the expert ... to provide feedback on tentative visits and meetings proposed by the city",
    ),
    who(
        "EM-04",
        EM,
        "submit",
        "contract",
        "city expert secretariat",
        "Contract and ToR signed by all",
    ),
    who(
        "EM-06",
        EM,
        "submit",
        "draft_report",
        "expert",
        "the commitments the expert: the definition records its choice",
    ),
    who(
        "EM-07",
        EM,
        "submit",
        "draft_review",
        "secretariat city",
        "review of the draft by secretariat and city",
    ),
    who("EM-08", EM, "submit", "next_steps", "city", "the city announces next steps"),
    who(
        "EM-08",
        EM,
        "submit",
        "evaluation_form",
        "city expert",
        "evaluation feedback form from experts and city",
    ),
    who("EM-09", EM, "submit", "testimonial", "city expert", "Testimonials from city and experts"),
    who("SC-01", EM, "submit", "application", "city", "support cities that are facing challenges"),
    who("SC-03", EM, "submit", "application", "city", "cities apply at a cut-off of the call"),
    who("SC-01", EM, "submit", "eligibility", "city", "Eligible cities: Lighthouse and Fellow"),
    who(
        "EM-08",
        EM,
        "submit",
        "final_report",
        "expert",
        "Final report (the experts' report: its draft and review come before)",
    ),
    who(
        "EM-09",
        EM,
        "submit",
        "impact_assessment",
        "city",
        "Cities will be asked to fill-in an impact assessment form",
    ),
    who(
        "SC-04",
        EM,
        "submit",
        "impact_assessment",
        "city",
        "an impact evaluation one year later, by the city",
    ),
    who("SV-11", SV, "submit", "application", "host", "The host's application"),
    who("SC-01", SV, "submit", "eligibility", "host", "the host city must be eligible"),
    who(
        "SV-02",
        SV,
        "submit",
        "acceptance",
        "visitor",
        "a selected city confirms availability and accepts",
    ),
    who(
        "SV-04",
        SV,
        "submit",
        "letter_of_commitment",
        "host visitor",
        "a letter of commitment between each city and the secretariat",
    ),
    who(
        "SV-05",
        SV,
        "submit",
        "visit_agenda",
        "host",
        "the host prepares agenda, location and rooms",
    ),
    who(
        "SV-05", SV, "submit", "travel_booking", "visitor", "visitors book travel and accommodation"
    ),
    who("SV-06", SV, "submit", "documentation", "host", "documentation by the host"),
    who("SV-07", SV, "submit", "resume", "host", "the host submits a resume (report)"),
    who(
        "SV-07",
        SV,
        "submit",
        "reflection_report",
        "visitor",
        "each visitor city submits a reflection report",
    ),
    who(
        "SV-07",
        SV,
        "submit",
        "testimonial",
        "host visitor",
        "the host ... and testimonials; each visitor city ... and testimonials",
    ),
    who(
        "SV-09",
        SV,
        "submit",
        "impact_assessment",
        "host visitor",
        "Impact assessment forms from host and visitors",
    ),
]


# Who brings each joining role in (the documents' words are in COUNTS below).
JOINED_BY = {(PP, "peer"): "self", (TU, "tutor"): "coordinator", (ER, "expert"): "secretariat"}
JOINED_BY |= {(EM, "expert"): "secretariat", (SV, "visitor"): "secretariat"}


def newcomers(definition: str, present: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """A participant for each joining role nobody holds yet at this point: role -> id."""
    return {
        role: f"new-{role}" for (d, role) in JOINED_BY if d == definition and role not in present
    }


def bring_in(
    definition: str, role: str, newcomer: str, present: dict[str, tuple[str, ...]]
) -> Callable[[Programme, Event], None]:
    """Join a newcomer where the definition lets one join here; where it cannot, nobody of
    that role can act at this point in any programme, so there is nothing to try."""

    def prepare(p: Programme, original: Event) -> None:
        by = JOINED_BY[(definition, role)]
        actor = Actor(role, newcomer) if by == "self" else Actor(by, present[by][0])
        try:
            p.record("join", {"participant": newcomer, "role": role}, at=original.at, actor=actor)
        except EventError:
            pytest.skip(f"no {role} can join at this point")

    return prepare


def check_who(row: Who) -> None:
    """Each role tries the step: the document's roles succeed, the others not. A role nobody
    holds yet at this point joins first, where it can."""
    name = row.instead_of or row.name
    before, _ = cut(row.definition, row.kind, name, row.nth)
    payload = {"event": row.name} if row.instead_of else None
    present = cast(before)
    tries = [(role, ids[0], None) for role, ids in present.items()]
    tries += [
        (role, who, bring_in(row.definition, role, who, present))
        for role, who in newcomers(row.definition, present).items()
    ]
    for role, person, prepare in tries:
        try:
            refused = try_again(
                row.definition,
                row.kind,
                name,
                actor=Actor(role, person),
                payload=payload,
                prepare=prepare,
                nth=row.nth,
            )
        except pytest.skip.Exception:
            continue
        if role in row.roles:
            assert refused is None, f"{row}: {role} may ({row.words!r}), but: {refused}"
        else:
            assert refused is not None, f"{row}: {role} must not ({row.words!r})"
            if row.kind == "fire":
                assert "role" in blocker_kinds(refused), f"{row}: {refused}"


def rows(table: Sequence[Any], definition: str) -> list[Any]:
    return [r for r in table if r.definition == definition]


@pytest.mark.rule("PM-03", "PM-05", "PM-06", "PM-07", "PM-08", "PM-09", "PM-10", "PM-13")
@pytest.mark.parametrize("row", rows(STEPS_BY, PM), ids=str)
def test_pm_who_takes_each_step(row: Who) -> None:
    check_who(row)


@pytest.mark.rule("TU-02", "TU-03", "TU-04", "TU-05", "TU-06")
@pytest.mark.parametrize("row", rows(STEPS_BY, TU), ids=str)
def test_tu_who_takes_each_step(row: Who) -> None:
    check_who(row)


@pytest.mark.rule("PP-01", "PP-04", "PP-05")
@pytest.mark.parametrize("row", rows(STEPS_BY, PP), ids=str)
def test_pp_who_takes_each_step(row: Who) -> None:
    check_who(row)


@pytest.mark.rule("EM-10", "ER-04", "ER-06", "ER-07", "ER-08", "ER-09", "SC-03")
@pytest.mark.parametrize("row", rows(STEPS_BY, ER), ids=str)
def test_er_who_takes_each_step(row: Who) -> None:
    check_who(row)


@pytest.mark.rule("EM-03", "EM-05", "EM-08", "EM-09", "EM-10", "SC-03")
@pytest.mark.parametrize("row", rows(STEPS_BY, EM), ids=str)
def test_em_who_takes_each_step(row: Who) -> None:
    check_who(row)


@pytest.mark.rule("SC-03", "SV-02", "SV-03", "SV-05", "SV-06", "SV-08", "SV-09", "SV-10")
@pytest.mark.parametrize("row", rows(STEPS_BY, SV), ids=str)
def test_sv_who_takes_each_step(row: Who) -> None:
    check_who(row)


@pytest.mark.rule("PM-03", "PM-05", "PM-06", "PM-07", "PM-09", "PM-10", "PM-11", "PM-12")
@pytest.mark.parametrize("row", rows(SUBMITTED_BY, PM), ids=str)
def test_pm_who_submits_each_deliverable(row: Who) -> None:
    check_who(row)


@pytest.mark.rule("TU-01", "TU-02", "TU-03", "TU-04", "TU-05", "TU-06", "TU-07")
@pytest.mark.parametrize("row", rows(SUBMITTED_BY, TU), ids=str)
def test_tu_who_submits_each_deliverable(row: Who) -> None:
    check_who(row)


@pytest.mark.rule("PP-02", "PP-03", "PP-04", "PP-05", "PP-06")
@pytest.mark.parametrize("row", rows(SUBMITTED_BY, PP), ids=str)
def test_pp_who_submits_each_deliverable(row: Who) -> None:
    check_who(row)


@pytest.mark.rule("ER-02", "ER-03", "ER-04", "ER-05", "ER-06", "ER-07", "ER-08", "ER-09", "SC-01")
@pytest.mark.parametrize("row", rows(SUBMITTED_BY, ER), ids=str)
def test_er_who_submits_each_deliverable(row: Who) -> None:
    check_who(row)


@pytest.mark.rule(
    "EM-02", "EM-03", "EM-04", "EM-06", "EM-07", "EM-08", "EM-09", "SC-01", "SC-03", "SC-04"
)
@pytest.mark.parametrize("row", rows(SUBMITTED_BY, EM), ids=str)
def test_em_who_submits_each_deliverable(row: Who) -> None:
    check_who(row)


@pytest.mark.rule("SV-02", "SV-04", "SV-05", "SV-06", "SV-07", "SV-09", "SV-11", "SC-01")
@pytest.mark.parametrize("row", rows(SUBMITTED_BY, SV), ids=str)
def test_sv_who_submits_each_deliverable(row: Who) -> None:
    check_who(row)


# --- when: every window one day inside and one day outside each edge ------------------------


@dataclass(frozen=True)
class Bound:
    anchor: str
    sign: int  # +1 after, -1 before
    days: int = 0
    weeks: int = 0
    months: int = 0
    years: int = 0

    def day(self, anchor_day: date) -> date:
        moved = pendulum.date(anchor_day.year, anchor_day.month, anchor_day.day)
        amount = {
            "days": self.days,
            "weeks": self.weeks,
            "months": self.months,
            "years": self.years,
        }
        moved = moved.add(**amount) if self.sign > 0 else moved.subtract(**amount)
        return date(moved.year, moved.month, moved.day)


def after(anchor: str, **amount: int) -> Bound:
    return Bound(anchor, +1, **amount)


def before(anchor: str, **amount: int) -> Bound:
    return Bound(anchor, -1, **amount)


@dataclass(frozen=True)
class Window:
    rule: str
    definition: str
    kind: str
    name: str
    opens: Bound | None
    closes: Bound | None
    words: str

    def __str__(self) -> str:
        return f"{self.rule}-{self.kind}-{self.name}"


def on(rule: str, definition: str, kind: str, name: str, anchor: str, words: str) -> Window:
    """A step taken on the day of a date someone set."""
    return Window(rule, definition, kind, name, after(anchor), after(anchor), words)


WINDOWS = [
    on(
        "PM-04",
        PM,
        "fire",
        "hold_orientation",
        "orientation_date",
        "a date for the orientation session, set by the facilitator",
    ),
    Window(
        "PM-05",
        PM,
        "submit",
        "learning_needs",
        None,
        after("hold_orientation", weeks=2),
        "within two weeks after the orientation",
    ),
    Window(
        "PM-05",
        PM,
        "submit",
        "learning_experiences",
        None,
        after("hold_orientation", weeks=2),
        "within two weeks after the orientation",
    ),
    on(
        "PM-06",
        PM,
        "fire",
        "hold_working_together",
        "working_together_date",
        "then sets the date for Working Together",
    ),
    Window(
        "PM-07",
        PM,
        "submit",
        "visit_structure",
        None,
        before("visit_date", weeks=1),
        "finalised at least a week before the visit",
    ),
    Window(
        "PM-07",
        PM,
        "fire",
        "hold_visit",
        after("visit_date"),
        after("visit_date", days=2),
        "2 days plus 1 day of travel (read: the visit's days and a third)",
    ),
    on(
        "PM-10",
        PM,
        "fire",
        "hold_moving_forward",
        "moving_forward_date",
        "the facilitator sets the date for Moving Forward",
    ),
    on(
        "PP-04", PP, "fire", "hold_workshop", "workshop_date", "Delivered through several workshops"
    ),
    Window("SC-03", ER, "submit", "application", None, after("cut_off_date"), "Calls and cut-offs"),
    Window(
        "SC-03", ER, "fire", "select", after("cut_off_date", days=1), None, "Calls and cut-offs"
    ),
    on("ER-04", ER, "fire", "hold_inception", "inception_date", "Inception meeting (1 day)"),
    on(
        "ER-06",
        ER,
        "fire",
        "hold_final_meeting",
        "final_meeting_date",
        "Final meeting (1 day, all parties)",
    ),
    Window(
        "ER-09",
        ER,
        "submit",
        "impact_assessment",
        after("complete", years=1),
        after("complete", years=1, months=1),
        "one year after completion (due within the month)",
    ),
    Window("SC-03", EM, "submit", "application", None, after("cut_off_date"), "Calls and cut-offs"),
    Window(
        "SC-03", EM, "fire", "select", after("cut_off_date", days=1), None, "Calls and cut-offs"
    ),
    Window(
        "EM-02",
        EM,
        "submit",
        "background_documents",
        None,
        before("field_visit_date", weeks=2),
        "Week 1 (2-3 weeks before the field visit)",
    ),
    Window(
        "EM-02",
        EM,
        "submit",
        "logistics",
        None,
        before("field_visit_date", weeks=2),
        "Week 1 (2-3 weeks before the field visit)",
    ),
    Window(
        "EM-02",
        EM,
        "submit",
        "document_screening",
        None,
        before("field_visit_date", weeks=2),
        "Week 1 (2-3 weeks before the field visit)",
    ),
    Window(
        "EM-03",
        EM,
        "fire",
        "hold_open_questions_meeting",
        before("field_visit_date", weeks=2),
        before("field_visit_date", weeks=1),
        "Week 2 (two weeks before the visit) ... Online meeting to discuss open questions",
    ),
    Window(
        "EM-03",
        EM,
        "submit",
        "final_agenda",
        None,
        before("field_visit_date", weeks=1),
        "Week 2 (two weeks before the visit): Providing feedback and adjusting the final agenda",
    ),
    Window(
        "EM-03",
        EM,
        "submit",
        "visit_feedback",
        None,
        before("field_visit_date", weeks=1),
        "Week 2 (two weeks before the visit): Providing feedback",
    ),
    Window(
        "EM-04",
        EM,
        "submit",
        "contract",
        None,
        before("field_visit_date", weeks=1),
        "Week 1 or week 2: Signature of the contract and ToR",
    ),
    Window(
        "EM-05",
        EM,
        "fire",
        "hold_field_visit",
        after("field_visit_date"),
        after("field_visit_date", days=2),
        "Week 3: the field visit, 2-3 days",
    ),
    Window(
        "EM-06",
        EM,
        "submit",
        "draft_report",
        None,
        after("hold_field_visit", weeks=2),
        "Week 4: draft report (week 3 is the visit's)",
    ),
    Window(
        "EM-07",
        EM,
        "submit",
        "draft_review",
        None,
        after("hold_field_visit", weeks=3),
        "Week 5: review of the draft",
    ),
    Window(
        "EM-08",
        EM,
        "fire",
        "hold_recap_meeting",
        None,
        after("hold_field_visit", weeks=4),
        "Week 6: online recap meeting",
    ),
    Window(
        "EM-09",
        EM,
        "submit",
        "impact_assessment",
        after("complete", years=1),
        after("complete", years=1, months=1),
        "impact assessment one year after",
    ),
    Window("SC-03", SV, "submit", "application", None, after("cut_off_date"), "Calls and cut-offs"),
    Window(
        "SC-03",
        SV,
        "fire",
        "select_host",
        after("cut_off_date", days=1),
        None,
        "Calls and cut-offs",
    ),
    Window(
        "SV-03",
        SV,
        "fire",
        "hold_inception",
        before("visit_date", weeks=4),
        before("visit_date", weeks=2),
        "Week 1 (3 weeks before): the week that ends two weeks before the visit",
    ),
    Window(
        "SV-04",
        SV,
        "submit",
        "letter_of_commitment",
        None,
        before("visit_date", weeks=1),
        "Week 1 or 2: a letter of commitment",
    ),
    Window(
        "SV-05",
        SV,
        "fire",
        "hold_preparation_meeting",
        None,
        before("visit_date", weeks=1),
        "Week 2: preparation meeting",
    ),
    Window(
        "SV-06",
        SV,
        "fire",
        "hold_visit",
        after("visit_date"),
        after("visit_date", days=2),
        "the visit, 2-3 days (also called 'three-day visit')",
    ),
    Window(
        "SV-07",
        SV,
        "submit",
        "resume",
        None,
        after("hold_visit", weeks=1),
        "Week 4 (one week after)",
    ),
    Window(
        "SV-07",
        SV,
        "submit",
        "reflection_report",
        None,
        after("hold_visit", weeks=1),
        "Week 4 (one week after)",
    ),
    Window(
        "SV-07",
        SV,
        "submit",
        "testimonial",
        None,
        after("hold_visit", weeks=1),
        "Week 4 (one week after)",
    ),
    Window(
        "SV-08",
        SV,
        "fire",
        "evaluate_reports",
        None,
        after("hold_visit", weeks=2),
        "Week 5 (two weeks after)",
    ),
    Window(
        "SV-09",
        SV,
        "submit",
        "impact_assessment",
        after("evaluate_reports", years=1),
        after("evaluate_reports", years=1, months=1),
        "one year after",
    ),
]


def anchor_day(events: Sequence[Event], anchor: str) -> date:
    """The day an anchor fell on in these events: a date's value, or the day a step was taken."""
    for e in reversed(events):
        if e.type == "schedule" and e.payload["date"] == anchor:
            return date.fromisoformat(e.payload["value"])
        if e.type == "fire" and e.payload["event"] == anchor:
            return e.at.astimezone(BXL).date()
    raise AssertionError(f"{anchor} is not in the example before this step")


def moment(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), BXL)


def check_window(row: Window) -> None:
    before_step, _ = cut(row.definition, row.kind, row.name)
    probes: list[tuple[datetime, str | None]] = []
    if row.opens is not None:
        first = row.opens.day(anchor_day(before_step, row.opens.anchor))
        probes += [
            (moment(first, 0, 1), None),
            (moment(first - timedelta(days=1), 23, 59), "window_not_open"),
        ]
    if row.closes is not None:
        last = row.closes.day(anchor_day(before_step, row.closes.anchor))
        probes += [
            (moment(last, 23, 59), None),
            (moment(last + timedelta(days=1), 0, 1), "window_closed"),
        ]
    for at, refusal in probes:
        refused = try_again(row.definition, row.kind, row.name, at=at)
        if refusal is None:
            assert refused is None, f"{row} ({row.words!r}) at {at}: {refused}"
        else:
            assert refusal in blocker_kinds(refused), f"{row} ({row.words!r}) at {at}: {refused}"


@pytest.mark.rule("PM-04", "PM-05", "PM-06", "PM-07", "PM-10")
@pytest.mark.parametrize("row", rows(WINDOWS, PM), ids=str)
def test_pm_when_each_step_may_be_taken(row: Window) -> None:
    check_window(row)


@pytest.mark.rule("PP-04")
@pytest.mark.parametrize("row", rows(WINDOWS, PP), ids=str)
def test_pp_when_each_step_may_be_taken(row: Window) -> None:
    check_window(row)


@pytest.mark.rule("SC-03", "ER-04", "ER-06", "ER-09")
@pytest.mark.parametrize("row", rows(WINDOWS, ER), ids=str)
def test_er_when_each_step_may_be_taken(row: Window) -> None:
    check_window(row)


@pytest.mark.rule("SC-03", "EM-02", "EM-03", "EM-04", "EM-05", "EM-06", "EM-07", "EM-08", "EM-09")
@pytest.mark.parametrize("row", rows(WINDOWS, EM), ids=str)
def test_em_when_each_step_may_be_taken(row: Window) -> None:
    check_window(row)


@pytest.mark.rule("SC-03", "SV-03", "SV-04", "SV-05", "SV-06", "SV-07", "SV-08", "SV-09")
@pytest.mark.parametrize("row", rows(WINDOWS, SV), ids=str)
def test_sv_when_each_step_may_be_taken(row: Window) -> None:
    check_window(row)


# --- what each report contains -------------------------------------------------------------


@dataclass(frozen=True)
class Parts:
    rule: str
    definition: str
    deliverable: str
    parts: tuple[str, ...]
    entries: dict[str, tuple[str, ...]]  # a part that lists entries -> each entry's fields
    words: str

    def __str__(self) -> str:
        return f"{self.rule}-{self.definition}-{self.deliverable}"


def parts(
    rule: str, definition: str, deliverable: str, names: str, words: str, **entries: str
) -> Parts:
    return Parts(
        rule,
        definition,
        deliverable,
        tuple(names.split()),
        {k: tuple(v.split()) for k, v in entries.items()},
        words,
    )


CONTENTS = [
    parts(
        "PM-06",
        PM,
        "learning_plan",
        "learning_objectives action_steps mentor_support time_frame resources_needed evidence_of_success",
        "six elements (learning objectives, action steps, mentor support, time frame, resources needed, evidence of success)",
    ),
    parts(
        "PM-11",
        PM,
        "transferability_assessment",
        "measures",
        "for each measure, the implementation period and time frame for results, technical conditions, governance, legislative/regulatory framework and additional success factors; the mentee rates its transferability",
        measures="measure implementation_period technical_conditions governance legislative_framework success_factors transferability",
    ),
    parts(
        "PM-12",
        PM,
        "learning_programme_report",
        "objectives activities outcomes transferability_results dissemination_results",
        "objectives, activities, outcomes, results of the transferability assessment, results of dissemination",
    ),
    parts(
        "TU-02",
        TU,
        "needs_analysis",
        "current_situation knowledge_level target_group_needs",
        "the capacities and needs of the target group; the trainee supplies its current situation and level of knowledge",
    ),
    parts(
        "TU-03",
        TU,
        "work_programme",
        "goals lectures total_time",
        "topics, lectures, time per lecture and in all; realistic goals follow",
        lectures="topic hours",
    ),
    parts(
        "TU-07",
        TU,
        "activity_plan",
        "activities risks",
        "A detailed plan of all activities, with their risks",
    ),
    parts(
        "TU-04",
        TU,
        "preparation_plan",
        "administrative technical cost_structure",
        "administrative ..., technical ... and economic (a cost structure ...)",
        cost_structure="cost amount",
    ),
    parts(
        "TU-05",
        TU,
        "session_record",
        "channel topic",
        "online channels, working sessions and study visits",
    ),
    parts(
        "PP-03",
        PP,
        "work_programme",
        "requests contexts partner_insight practical_tasks",
        "the participants' requests, the background context, an insight into each partner weakness and opportunities, practical tasks",
        partner_insight="partner weaknesses opportunities",
    ),
    parts(
        "PP-06",
        PP,
        "preparation_plan",
        "administrative technical economic",
        "Administrative, economic and technical preparation",
    ),
    parts(
        "ER-02",
        ER,
        "application",
        "document_length expected_feedback expertise_required review_time",
        "the document's estimated length, the feedback expected, the expertise required and the time of the review",
    ),
    parts(
        "SC-01",
        ER,
        "eligibility",
        "city_status scc_project inhabitants",
        "Lighthouse and Fellow cities of ongoing or ended SCC-Lighthouse projects; priority to cities of 50,000-500,000 inhabitants",
    ),
    parts(
        "ER-07",
        ER,
        "final_meeting_minutes",
        "results next_steps changes_discussed",
        "results presented, next steps, minutes; If changes were discussed",
    ),
    parts(
        "SC-01",
        EM,
        "eligibility",
        "city_status scc_project inhabitants",
        "Lighthouse and Fellow cities of SCC-Lighthouse projects; priority to cities of 50,000-500,000 inhabitants",
    ),
    parts(
        "EM-03",
        EM,
        "application",
        "project tentative_meetings expected_feedback execution_time",
        "its project, tentative meetings and visits, the feedback expected and an estimated time of execution",
    ),
    parts(
        "SC-01",
        SV,
        "eligibility",
        "city_status scc_project",
        "Lighthouse and Fellow cities of ongoing or ended SCC-Lighthouse projects",
    ),
    parts(
        "SV-11",
        SV,
        "application",
        "project innovativeness tentative_agenda expected_time",
        "the project and its innovativeness, a tentative agenda, the expected time",
    ),
    parts(
        "SV-05",
        SV,
        "visit_agenda",
        "agenda location rooms",
        "the host prepares agenda, location and rooms",
    ),
    parts(
        "SV-07",
        SV,
        "resume",
        "agenda activities experience impacts",
        "describing the agenda and the activities ... highlighting the experience and achieved impacts",
    ),
    parts(
        "SV-07",
        SV,
        "reflection_report",
        "challenges key_learnings potential_impacts needs",
        "challenges, key learnings, potential impacts, needs",
    ),
]


def incomplete(row: Parts, content: dict[str, Any], part: str) -> None:
    refused = try_again(
        row.definition,
        "submit",
        row.deliverable,
        payload={"deliverable": row.deliverable, "content": content},
    )
    assert "incomplete_content" in blocker_kinds(refused), (
        f"{row} without {part} ({row.words!r}): {refused}"
    )
    assert part.rsplit(".", maxsplit=1)[-1] in str(refused), (
        f"{row}: the refusal does not name {part}: {refused}"
    )


def check_parts(row: Parts) -> None:
    """Each part the document names is required: without it the report is refused, naming it."""
    _, first = cut(row.definition, "submit", row.deliverable)
    content = dict(first.payload["content"])
    for part in row.parts:
        incomplete(row, {k: v for k, v in content.items() if k != part}, part)
    for part, fields in row.entries.items():
        for field in fields:
            entry = {k: v for k, v in content[part][0].items() if k != field}
            incomplete(row, {**content, part: [entry]}, f"{part}.{field}")
    assert try_again(row.definition, "submit", row.deliverable) is None


@pytest.mark.rule("PM-06", "PM-11", "PM-12")
@pytest.mark.parametrize("row", rows(CONTENTS, PM), ids=str)
def test_pm_what_each_report_contains(row: Parts) -> None:
    check_parts(row)


@pytest.mark.rule("TU-02", "TU-03", "TU-04", "TU-05", "TU-07")
@pytest.mark.parametrize("row", rows(CONTENTS, TU), ids=str)
def test_tu_what_each_report_contains(row: Parts) -> None:
    check_parts(row)


@pytest.mark.rule("PP-03", "PP-06")
@pytest.mark.parametrize("row", rows(CONTENTS, PP), ids=str)
def test_pp_what_each_report_contains(row: Parts) -> None:
    check_parts(row)


@pytest.mark.rule("ER-02", "ER-07", "SC-01")
@pytest.mark.parametrize("row", rows(CONTENTS, ER), ids=str)
def test_er_what_each_report_contains(row: Parts) -> None:
    check_parts(row)


@pytest.mark.rule("EM-03", "SC-01")
@pytest.mark.parametrize("row", rows(CONTENTS, EM), ids=str)
def test_em_what_each_report_contains(row: Parts) -> None:
    check_parts(row)


@pytest.mark.rule("SC-01", "SV-05", "SV-07", "SV-11")
@pytest.mark.parametrize("row", rows(CONTENTS, SV), ids=str)
def test_sv_what_each_report_contains(row: Parts) -> None:
    check_parts(row)


@dataclass(frozen=True)
class Choice:
    rule: str
    definition: str
    deliverable: str
    path: tuple[str | int, ...]
    allowed: tuple[Any, ...]
    words: str

    def __str__(self) -> str:
        return f"{self.rule}-{self.definition}-{self.path[-1]}"


CHOICES = [
    Choice(
        "SC-01",
        ER,
        "eligibility",
        ("city_status",),
        ("lighthouse", "fellow"),
        "Lighthouse and Fellow cities",
    ),
    Choice(
        "SC-01",
        EM,
        "eligibility",
        ("city_status",),
        ("lighthouse", "fellow"),
        "Lighthouse and Fellow cities",
    ),
    Choice(
        "SC-01",
        SV,
        "eligibility",
        ("city_status",),
        ("lighthouse", "fellow"),
        "Lighthouse and Fellow cities",
    ),
    Choice(
        "PM-11",
        PM,
        "transferability_assessment",
        ("measures", 0, "transferability"),
        (1, 2, 3),
        "1 (low), 2 (moderate) or 3 (high)",
    ),
    Choice(
        "TU-05",
        TU,
        "session_record",
        ("channel",),
        ("online", "working_session", "study_visit"),
        "online channels, working sessions and study visits",
    ),
    Choice(
        "ER-07",
        ER,
        "final_meeting_minutes",
        ("changes_discussed",),
        ("yes", "no"),
        "If changes were discussed",
    ),
]
OUTSIDE = ("other", "", 0, 4, "Lighthouse ")


def with_value(content: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    if len(path) == 1:
        return {**content, str(path[0]): value}
    head, index, *rest = path
    entries = [dict(e) for e in content[str(head)]]
    entries[int(index)] = with_value(entries[int(index)], tuple(rest), value)
    return {**content, str(head): entries}


def check_choice(row: Choice) -> None:
    """Each value the document names is accepted; any other is refused."""
    _, first = cut(row.definition, "submit", row.deliverable)
    content = first.payload["content"]
    for value in (*row.allowed, *(v for v in OUTSIDE if v not in row.allowed)):
        payload = {"deliverable": row.deliverable, "content": with_value(content, row.path, value)}
        refused = try_again(row.definition, "submit", row.deliverable, payload=payload)
        if value in row.allowed:
            assert refused is None, f"{row}: {value!r} ({row.words!r}): {refused}"
        else:
            assert "incomplete_content" in blocker_kinds(refused), f"{row}: {value!r} accepted"


@pytest.mark.rule("SC-01", "PM-11", "TU-05", "ER-07")
@pytest.mark.parametrize("row", CHOICES, ids=str)
def test_each_listed_value_and_no_other(row: Choice) -> None:
    check_choice(row)


# --- how many take part, and who brings them in -------------------------------------------


@dataclass(frozen=True)
class Count:
    rule: str
    definition: str
    role: str
    least: int
    most: int
    joined_by: str  # "self" or the role that brings them in
    leaving: str  # the step that needs the least number
    words: str

    def __str__(self) -> str:
        return f"{self.rule}-{self.role}"


COUNTS = [
    Count(
        "PP-01",
        PP,
        "peer",
        6,
        8,
        "self",
        "launch",
        "6-8 experts ... joining is free, not forced (only a participant can join itself)",
    ),
    Count(
        "TU-01",
        TU,
        "tutor",
        1,
        1,
        "coordinator",
        "approve_programme",
        "a tutor ...; no tutoring happens without a tutor",
    ),
    Count(
        "ER-01",
        ER,
        "expert",
        1,
        1,
        "secretariat",
        "hold_inception",
        "one city ..., one expert, the SC Secretariat as facilitator",
    ),
    Count(
        "EM-01",
        EM,
        "expert",
        1,
        2,
        "secretariat",
        "hold_open_questions_meeting",
        "one city, up to two experts, the secretariat",
    ),
    Count(
        "SV-01",
        SV,
        "visitor",
        1,
        5,
        "secretariat",
        "introduce_visitors",
        "one host city, up to five visitor cities",
    ),
]


def joiner(row: Count, newcomer: str, people: dict[str, tuple[str, ...]]) -> Actor:
    if row.joined_by == "self":
        return Actor(row.role, newcomer)
    return Actor(row.joined_by, people[row.joined_by][0])


def check_most(row: Count) -> None:
    """Up to the most the document allows join; one more is refused (no waiver lifts it)."""
    events = example(row.definition)
    last_join = max(
        i for i, e in enumerate(events) if e.type == "join" and e.payload["role"] == row.role
    )
    at = events[last_join].at
    p = Programme.from_history(events[: last_join + 1])
    people = cast(events[: last_join + 1])
    for n in range(len(people[row.role]), row.most):
        newcomer = f"newcomer-{n}"
        p.record(
            "join",
            {"participant": newcomer, "role": row.role},
            at=at,
            actor=joiner(row, newcomer, people),
        )
    one_too_many = {"participant": "one-too-many", "role": row.role}
    with pytest.raises(StepBlocked) as refused:
        p.record("join", one_too_many, at=at, actor=joiner(row, "one-too-many", people))
    assert blocker_kinds(refused.value) == ["participant_limit"], f"{row} ({row.words!r})"


def check_least(row: Count) -> None:
    """With one fewer than the least, the step that starts the work is blocked for it."""
    before_step, step = cut(row.definition, "fire", row.leaving)
    joined = {
        e.payload["participant"]
        for e in before_step
        if e.type == "join" and e.payload["role"] == row.role
    }
    kept = [
        e
        for e in before_step
        if not (e.type == "join" and e.payload["role"] == row.role) and e.actor.id not in joined
    ]
    p = Programme.from_history(kept[:1])
    for e in kept[1:]:
        p.record(e.type, e.payload, at=e.at, actor=e.actor)
    people = cast(kept)
    for n in range(row.least + 1):
        refused = None
        try:
            p.record("fire", step.payload, at=step.at, actor=step.actor)
        except EventError as error:
            refused = error
        too_few = "too_few_participants" in blocker_kinds(refused)
        assert too_few == (n < row.least), f"{row} with {n} ({row.words!r}): {refused}"
        if n == row.least:
            break
        newcomer = f"newcomer-{n}"
        p.record(
            "join",
            {"participant": newcomer, "role": row.role},
            at=step.at,
            actor=joiner(row, newcomer, people),
        )


def check_joined_by(row: Count) -> None:
    """Only the document's party brings a participant in: nobody else may."""
    events = example(row.definition)
    first_join = min(
        i for i, e in enumerate(events) if e.type == "join" and e.payload["role"] == row.role
    )
    people = cast(events[:first_join])
    p = Programme.from_history(events[:first_join])
    at = events[first_join].at
    join = {"participant": "newcomer", "role": row.role}
    for role, ids in people.items():
        if role != row.joined_by:
            with pytest.raises(EventError):
                p.record("join", join, at=at, actor=Actor(role, ids[0]))
    if row.joined_by != "self":
        with pytest.raises(EventError):
            p.record("join", join, at=at, actor=Actor(row.role, "newcomer"))
    p.record("join", join, at=at, actor=joiner(row, "newcomer", people))
    # Once in, a participant brings nobody else in (a peer joins itself only).
    with pytest.raises(EventError):
        p.record(
            "join",
            {"participant": "second", "role": row.role},
            at=at,
            actor=Actor(row.role, "newcomer"),
        )


@pytest.mark.rule("PP-01", "TU-01", "ER-01", "EM-01", "SV-01")
@pytest.mark.parametrize("row", COUNTS, ids=str)
def test_how_many_take_part(row: Count) -> None:
    check_most(row)
    check_least(row)


@pytest.mark.rule("PP-01", "TU-01", "ER-01", "EM-01", "SV-01", "SC-02")
@pytest.mark.parametrize("row", COUNTS, ids=str)
def test_who_brings_participants_in(row: Count) -> None:
    """SC-02 "SCC-project or external experts": the Secretariat brings either kind in, the
    engine does not tell them apart; the others as their rows say."""
    check_joined_by(row)


def final_meeting_on(day: str) -> Programme:
    """The expert review's example, its final meeting moved to ``day`` and held there."""
    before_step, step = cut(ER, "fire", "hold_final_meeting")
    p = Programme.from_history(before_step[:1])
    for e in before_step[1:]:
        moved = e.type == "schedule" and e.payload["date"] == "final_meeting_date"
        p.record(
            e.type, {**e.payload, "value": day} if moved else e.payload, at=e.at, actor=e.actor
        )
    p.record("fire", step.payload, at=moment(date.fromisoformat(day), 10, 0), actor=step.actor)
    return p


@pytest.mark.rule("ER-07")
@pytest.mark.parametrize(
    "kind, name", [("submit", "final_document"), ("fire", "deliver_final_document")]
)
def test_er07_five_belgian_working_days_after_the_final_meeting(kind: str, name: str) -> None:
    """ER-07: "within no more than 5 working days" after the final meeting; the document names
    no calendar, the reading taken is the Secretariat's, Belgium's. After a meeting on Tuesday
    20 December 2022 the five are 21, 22, 23, 26 (a working day in Belgium, a holiday in the
    Netherlands) and 27 December."""
    expert = Actor("expert", cast(example(ER))["expert"][0])
    for at, in_time in (
        (moment(date(2022, 12, 27), 23, 59), True),
        (moment(date(2022, 12, 28), 0, 1), False),
    ):
        p = final_meeting_on("2022-12-20")
        if kind == "fire":
            p.submit(
                "final_document", at=moment(date(2022, 12, 21), 9, 0), actor=expert, ref="final.pdf"
            )
        try:
            p.record(
                kind,
                {"event": name} if kind == "fire" else {"deliverable": name, "ref": "f.pdf"},
                at=at,
                actor=expert,
            )
            refused = None
        except EventError as error:
            refused = error
        if in_time:
            assert refused is None, f"{name} on the fifth working day: {refused}"
        else:
            assert "window_closed" in blocker_kinds(refused), f"{name} on the sixth: {refused}"


@dataclass(frozen=True)
class Listed:
    rule: str
    definition: str
    role: str
    least: int
    words: str

    def __str__(self) -> str:
        return f"{self.rule}-{self.role}"


LISTED = [
    Listed("PM-01", PM, "mentee", 1, "one or more mentees ('mentee(s)')"),
    Listed("TU-01", TU, "trainee", 1, "a tutor ... and one or more trainees"),
]


@pytest.mark.rule("PM-01", "TU-01")
@pytest.mark.parametrize("row", LISTED, ids=str)
def test_a_programme_starts_with_the_least_its_document_names(row: Listed) -> None:
    """Roles listed when the programme starts: one fewer than the least is refused."""
    start = example(row.definition)[0]
    others = [x for x in start.payload["participants"] if x["role"] != row.role]
    ours = [x for x in start.payload["participants"] if x["role"] == row.role]
    assert len(ours) >= row.least
    for n in range(row.least + 1):
        payload = {**start.payload, "participants": others + ours[:n]}
        event = Event(start.programme, 0, start.id, start.at, start.actor, "start", payload)
        if n < row.least:
            with pytest.raises(EventError):
                Programme.from_history([event])
        else:
            assert Programme.from_history([event]).state.next_seq == 1


# --- what is reimbursed ---------------------------------------------------------------------


@dataclass(frozen=True)
class Limit:
    rule: str
    definition: str
    role: str
    item: str
    amount: str  # the most one claim of the item may be reimbursed
    unit: str  # "" for a cap; "days" or "nights" for a rate (two of them are claimed)
    words: str

    def __str__(self) -> str:
        return f"{self.rule}-{self.definition}-{self.role}-{self.item}"


LIMITS = [
    Limit(
        "PM-08",
        PM,
        "mentee",
        "travel",
        "600.00",
        "",
        "The mentee at most EUR 600 for travel and accommodation",
    ),
    Limit("PM-08", PM, "mentor", "course_materials", "20.00", "", "course materials 20"),
    Limit("PM-08", PM, "mentor", "food", "150.00", "", "food and refreshments 150"),
    Limit("PM-08", PM, "mentor", "transport", "100.00", "", "transport 100"),
    Limit(
        "EM-10",
        EM,
        "city",
        "meeting_rooms",
        "500.00",
        "",
        "host city up to EUR 500 (meeting rooms, catering, local transport)",
    ),
    Limit("EM-10", EM, "city", "catering", "500.00", "", "host city up to EUR 500"),
    Limit("EM-10", EM, "city", "local_transport", "500.00", "", "host city up to EUR 500"),
    Limit("EM-10", EM, "expert", "fee", "450.00", "days", "a daily rate of EUR 450"),
    Limit(
        "EM-10",
        EM,
        "expert",
        "accommodation",
        "100.00",
        "nights",
        "EUR 100 a night for accommodation",
    ),
    Limit(
        "EM-10",
        EM,
        "expert",
        "meals",
        "92.00",
        "days",
        "EUR 92 a day for meals and local transport",
    ),
    Limit("EM-10", EM, "expert", "travel", "500.00", "", "travel up to EUR 500"),
    Limit(
        "EM-10",
        ER,
        "expert",
        "fee",
        "450.00",
        "days",
        "for all expert activities: ... a daily rate of EUR 450",
    ),
    Limit("SV-10", SV, "host", "meeting_rooms", "700.00", "", "host up to EUR 700"),
    Limit("SV-10", SV, "host", "catering", "700.00", "", "host up to EUR 700"),
    Limit("SV-10", SV, "host", "local_transport", "700.00", "", "host up to EUR 700"),
    Limit("SV-10", SV, "visitor", "travel", "500.00", "", "each visitor city travel up to EUR 500"),
    Limit("SV-10", SV, "visitor", "accommodation", "100.00", "nights", "EUR 100 a night"),
    Limit("SV-10", SV, "visitor", "meals", "92.00", "days", "EUR 92 a day"),
]
ROLE_CAPS = [
    ("PM-08", PM, "mentor", "270.00", "the mentor, as host, at most EUR 270"),
    ("EM-10", EM, "city", "500.00", "host city up to EUR 500"),
    ("SV-10", SV, "host", "700.00", "host up to EUR 700"),
]


def claim_point(definition: str, role: str) -> tuple[Programme, Event]:
    """The example just before the first claim of someone holding ``role``."""
    events = example(definition)
    index = next(i for i, e in enumerate(events) if e.type == "claim" and e.actor.role == role)
    return Programme.from_history(events[:index]), events[index]


def claim(
    p: Programme, template: Event, name: str, items: list[dict[str, Any]]
) -> EventError | None:
    kept = {k: v for k, v in template.payload.items() if k not in ("items", "accept_cap")}
    try:
        p.record(
            "claim", {**kept, "claim": name, "items": items}, at=template.at, actor=template.actor
        )
    except EventError as refused:
        return refused
    return None


def item(name: str, amount: Decimal, unit: str) -> dict[str, Any]:
    line: dict[str, Any] = {"item": name, "amount": str(amount), "receipts": [f"{name}.pdf"]}
    if unit:
        line[unit] = 2
    return line


def check_limit(row: Limit) -> None:
    """A claim at the limit is reimbursed; a cent over is refused; over two claims alike."""
    limit = Decimal(row.amount) * (2 if row.unit else 1)
    cent = Decimal("0.01")
    p, template = claim_point(row.definition, row.role)
    refused = claim(p, template, "over", [item(row.item, limit + cent, row.unit)])
    assert "over_budget" in blocker_kinds(refused), f"{row} ({row.words!r}): {refused}"
    assert claim(p, template, "at", [item(row.item, limit, row.unit)]) is None, row.words
    if not row.unit:  # a cap holds over all the participant's claims
        refused = claim(p, template, "more", [item(row.item, cent, row.unit)])
        assert "over_budget" in blocker_kinds(refused), f"{row}: a second claim past the cap"


@pytest.mark.rule("PM-08")
@pytest.mark.parametrize("row", rows(LIMITS, PM), ids=str)
def test_pm_what_each_claim_may_reach(row: Limit) -> None:
    check_limit(row)


@pytest.mark.rule("EM-10")
@pytest.mark.parametrize("row", [r for r in LIMITS if r.rule == "EM-10"], ids=str)
def test_em_what_each_claim_may_reach(row: Limit) -> None:
    check_limit(row)


@pytest.mark.rule("SV-10")
@pytest.mark.parametrize("row", rows(LIMITS, SV), ids=str)
def test_sv_what_each_claim_may_reach(row: Limit) -> None:
    check_limit(row)


@pytest.mark.rule("PM-08", "EM-10", "SV-10")
@pytest.mark.parametrize("rule, definition, role, cap, words", ROLE_CAPS, ids=str)
def test_a_hosts_claims_together_stay_under_its_cap(
    rule: str, definition: str, role: str, cap: str, words: str
) -> None:
    """Every item at its own limit, as far as the host's cap allows: at the cap is reimbursed, a
    cent over is refused (where the items' own limits let a claim pass the cap at all)."""
    p, template = claim_point(definition, role)
    limits = {
        r.item: Decimal(r.amount) for r in LIMITS if r.definition == definition and r.role == role
    }
    left, items = Decimal(cap), []
    for name, limit in limits.items():
        amount = min(limit, left)
        left -= amount
        items.append(item(name, amount, ""))
    assert left == 0, f"{words}: the items' limits add up to less than the cap"
    if sum(limits.values()) > Decimal(cap):
        over = [
            *items[:-1],
            {**items[-1], "amount": str(Decimal(items[-1]["amount"]) + Decimal("0.01"))},
        ]
        assert "over_budget" in blocker_kinds(claim(p, template, "over", over)), words
    assert claim(p, template, "at", items) is None, words


@pytest.mark.rule("PM-08", "EM-10", "SV-10")
@pytest.mark.parametrize(
    "rule, definition, role, needed",
    [
        ("PM-08", PM, "mentee", True),
        ("EM-10", EM, "expert", True),
        ("SV-10", SV, "visitor", True),
        ("EM-10", ER, "expert", False),
    ],
    ids=str,
)
def test_claims_carry_receipts_where_the_document_asks(
    rule: str, definition: str, role: str, needed: bool
) -> None:
    """PM-08 "with original receipts"; SC section 4 asks receipts of travel and hosting; the
    expert review's fee is paid by the day, without receipts."""
    p, template = claim_point(definition, role)
    line = next(r for r in LIMITS if r.definition == definition and r.role == role)
    bare = {k: v for k, v in item(line.item, Decimal("1.00"), line.unit).items() if k != "receipts"}
    refused = claim(p, template, "bare", [bare])
    assert ("missing_receipts" in blocker_kinds(refused)) == needed, refused


# --- flat-rate allowances and the activity's days ----------------------------------------
# SC section 4: "The rules are based on the rules on the reimbursement of expenses incurred
# by people from outside the Commission invited to attend meetings in an expert capacity
# (2007)", under which the "Daily allowance" (accommodation per night, meals per day) is a
# flat rate for each night and day of the activity, paid without receipts.


@dataclass(frozen=True)
class Allowance:
    rule: str
    definition: str
    role: str
    item: str
    unit: str  # "days" or "nights"
    rate: str  # the document's figure
    most: int  # the activity's days (or nights), travel days included
    words: str

    def __str__(self) -> str:
        return f"{self.rule}-{self.definition}-{self.role}-{self.item}"


ALLOWANCES = [
    Allowance("SV-10", SV, "visitor", "accommodation", "nights", "100.00", 4, "EUR 100 per night"),
    Allowance("SV-10", SV, "visitor", "meals", "days", "92.00", 5, "Meals/local transport: EUR 92"),
    Allowance("EM-10", EM, "expert", "accommodation", "nights", "100.00", 4, "EUR 100 per night"),
    Allowance("EM-10", EM, "expert", "meals", "days", "92.00", 5, "Meals/local transport: EUR 92"),
]
"""The visit is "2-3 days" ("Three-day visit"; the field visit "2-3days") with a travel
day each way: 5 days and 4 nights at most."""

FEE_DAYS = [
    # the review: "1 day" inception, "2 - 3 Days" review, "1 day" final meeting
    ("EM-10", ER, "expert", 5, "Daily rate: EUR 450; 1 day + 2 - 3 Days + 1 day"),
    # the mission: week 1 "1 day", week 2 "1 day", week 3 "2-3days", week 4 "2 days",
    # week 6 "1 day"
    ("EM-10", EM, "expert", 8, "Daily rate: EUR 450; 1 + 1 + 2-3 + 2 + 1 days"),
]


def units(name: str, unit: str, count: int, amount: Decimal | None) -> dict[str, Any]:
    line: dict[str, Any] = {"item": name, unit: count, "receipts": [f"{name}.pdf"]}
    if amount is not None:
        line["amount"] = str(amount)
    return line


@pytest.mark.rule("SV-10", "EM-10")
@pytest.mark.parametrize("row", ALLOWANCES, ids=str)
def test_an_allowance_is_a_flat_rate_without_receipts(row: Allowance) -> None:
    """A claim of two nights (or days) with no amount and no receipt is paid the rate twice."""
    p, template = claim_point(row.definition, row.role)
    bare = {"item": row.item, row.unit: 2}
    assert claim(p, template, "flat", [bare]) is None, row.words
    (item_,) = p.state.claim("flat").items  # type: ignore[union-attr]
    assert item_.reimbursable == Decimal(row.rate) * 2, row.words


@pytest.mark.rule("SV-10", "EM-10")
@pytest.mark.parametrize("row", ALLOWANCES, ids=str)
def test_an_allowance_covers_the_activity_s_days_and_no_more(row: Allowance) -> None:
    """One night (or day) past the activity is refused; the bound holds over several claims."""
    rate = Decimal(row.rate)
    p, template = claim_point(row.definition, row.role)
    over = claim(p, template, "over", [units(row.item, row.unit, row.most + 1, None)])
    assert "over_budget" in blocker_kinds(over), f"{row}: {row.most + 1} {row.unit}"
    two_lines = [units(row.item, row.unit, row.most - 1, None), units(row.item, row.unit, 2, None)]
    assert "over_budget" in blocker_kinds(claim(p, template, "lines", two_lines)), row.words
    assert claim(p, template, "some", [units(row.item, row.unit, row.most - 1, None)]) is None
    ones = [units(row.item, row.unit, 1, None), units(row.item, row.unit, 1, None)]
    assert "over_budget" in blocker_kinds(claim(p, template, "ones", ones)), row.words
    more = claim(p, template, "more", [units(row.item, row.unit, 2, rate * 2)])
    assert "over_budget" in blocker_kinds(more), f"{row}: {row.most + 1} over two claims"
    assert claim(p, template, "last", [units(row.item, row.unit, 1, rate)]) is None, row.words
    past = claim(p, template, "past", [units(row.item, row.unit, 1, rate)])
    assert "over_budget" in blocker_kinds(past), f"{row}: none left after {row.most}"


@pytest.mark.rule("EM-10")
@pytest.mark.parametrize("rule, definition, role, most, words", FEE_DAYS, ids=str)
def test_a_fee_is_paid_for_the_activity_s_days_and_no_more(
    rule: str, definition: str, role: str, most: int, words: str
) -> None:
    """The daily rate of EUR 450 for at most the activity's days, over all claims."""
    rate = Decimal("450.00")
    p, template = claim_point(definition, role)
    over = claim(p, template, "over", [units("fee", "days", most + 1, rate * (most + 1))])
    assert "over_budget" in blocker_kinds(over), f"{words}: {most + 1} days"
    assert claim(p, template, "at", [units("fee", "days", most, rate * most)]) is None, words
    more = claim(p, template, "more", [units("fee", "days", 1, rate)])
    assert "over_budget" in blocker_kinds(more), f"{words}: a day past them in a second claim"


@pytest.mark.rule("SV-10", "EM-10")
@pytest.mark.parametrize(
    "rule, definition, role, name, unit, needed",
    [
        ("SV-10", SV, "visitor", "travel", "", True),
        ("SV-10", SV, "visitor", "accommodation", "nights", False),
        ("SV-10", SV, "visitor", "meals", "days", False),
        ("EM-10", EM, "expert", "travel", "", True),
        ("EM-10", EM, "expert", "accommodation", "nights", False),
        ("EM-10", EM, "expert", "meals", "days", False),
    ],
    ids=str,
)
def test_travel_needs_receipts_and_allowances_do_not(
    rule: str, definition: str, role: str, name: str, unit: str, needed: bool
) -> None:
    """ "Travel expenses: up to EUR 500" are costs shown by receipts; the "Daily allowance"
    is a flat rate."""
    p, template = claim_point(definition, role)
    bare = {k: v for k, v in item(name, Decimal("1.00"), unit).items() if k != "receipts"}
    refused = claim(p, template, "bare", [bare])
    assert ("missing_receipts" in blocker_kinds(refused)) == needed, refused


CLAIMS_NOT_YET = [
    # "Start of contract: Signature of the contract and ToR": no expert day before it
    ("EM-10", ER, "expert", "fee", "applied", "Start of contract"),
    ("EM-10", ER, "expert", "fee", "selected", "Start of contract"),
    ("EM-10", EM, "expert", "travel", "applied", "Contract and ToR signed by all"),
    ("EM-10", EM, "city", "meeting_rooms", "applied", "Contract and ToR signed by all"),
    ("EM-10", EM, "expert", "travel", "selected", "Contract and ToR signed by all"),
    # "reimburse costs incurred by host cities" for hosting the experts: at the field visit
    ("EM-10", EM, "city", "catering", "ready", "costs incurred by host cities"),
    # "submit the costs for reimbursement upon completion of the site visit"
    *(
        ("SV-10", SV, role, item_name, state, "upon completion of the site visit")
        for state in ("visitor_call", "preparing", "incepted", "prepared")
        for role, item_name in (("host", "catering"), ("visitor", "travel"))
    ),
    ("SV-10", SV, "host", "catering", "applied", "upon completion of the site visit"),
    # "After the visit: invoices with receipts go to the finance coordinator"
    *(
        ("PM-09", PM, "mentee", "travel", state, "After the visit: invoices with receipts")
        for state in ("preparation", "getting_started", "working_together")
    ),
]


@pytest.mark.rule("EM-10", "SV-10", "PM-09")
@pytest.mark.parametrize("rule, definition, role, name, state, words", CLAIMS_NOT_YET, ids=str)
def test_no_claim_before_the_document_allows_one(
    rule: str, definition: str, role: str, name: str, state: str, words: str
) -> None:
    """In each stage before the contract (or the visit), a claim is not a step at all."""
    events = example(definition)
    claimant = next(e.actor for e in events if e.type == "claim" and e.actor.role == role)
    cut = next(
        k
        for k in range(1, len(events) + 1)
        if Programme.from_history(events[:k]).state.state == state
    )
    p = Programme.from_history(events[:cut])
    if p.state.index_of(claimant.id) is None:  # one who joins later joins as early as allowed
        joining = next(
            e for e in events if e.type == "join" and e.payload["participant"] == claimant.id
        )
        p.record("join", joining.payload, at=p.state.last_at, actor=joining.actor)
    line: dict[str, Any] = {"item": name, "amount": "10.00", "receipts": ["r.pdf"]}
    if name == "fee":
        line["days"] = 1
    with pytest.raises(EventError, match="claim") as refused:
        p.record("claim", {"claim": "early", "items": [line]}, at=p.state.last_at, actor=claimant)
    assert "not a step" in str(refused.value), words


def test_the_marks_name_every_rule_of_their_rows() -> None:
    """A function's rule mark is what the mutation runner selects by: it must cover its rows."""
    marks = marked_tests()
    tables = {
        "who_takes_each_step": STEPS_BY,
        "who_submits_each_deliverable": SUBMITTED_BY,
        "what_each_step_requires": REQUIRES,
        "one_from_each_or_one_for_all": OWED,
        "when_each_step_may_be_taken": WINDOWS,
        "what_each_report_contains": CONTENTS,
    }
    prefixes = {"pm": PM, "tu": TU, "pp": PP, "er": ER, "em": EM, "sv": SV}
    for aspect, table in tables.items():
        for prefix, definition in prefixes.items():
            test = f"test_rule_tables.py::test_{prefix}_{aspect}"
            if not rows(table, definition):
                continue
            assert set(marks[test]) == {r.rule for r in rows(table, definition)}, test


# --- what each step requires ----------------------------------------------------------------


@dataclass(frozen=True)
class Needs:
    rule: str
    definition: str
    event: str
    deliverables: tuple[str, ...]
    words: str
    nth: int = 0

    def __str__(self) -> str:
        return f"{self.rule}-{self.event}" + (f"-{self.nth + 1}" if self.nth else "")


def needs(
    rule: str, definition: str, event: str, deliverables: str, words: str, nth: int = 0
) -> Needs:
    return Needs(rule, definition, event, tuple(deliverables.split()), words, nth)


REQUIRES = [
    needs(
        "PM-04",
        PM,
        "hold_orientation",
        "peer_learning_agreement availability_confirmation",
        "It needs the signed agreement and the set date",
    ),
    needs(
        "PM-06",
        PM,
        "hold_working_together",
        "learning_needs learning_experiences",
        "It needs both templates",
    ),
    needs(
        "PM-07",
        PM,
        "hold_visit",
        "learning_plan visit_structure",
        "Its structure is agreed and finalised at least a week before the visit",
    ),
    needs(
        "PM-09",
        PM,
        "hold_moving_forward",
        "dissemination_report",
        "disseminate the results to their organisations",
    ),
    needs(
        "PM-10",
        PM,
        "complete",
        "evaluation_survey transferability_assessment learning_programme_report",
        "evaluation and feedback ..., the transferability session ..., and the learning programme report",
    ),
    needs(
        "TU-02",
        TU,
        "set_goals",
        "organisation_approval needs_analysis",
        "Needs analysis first ... realistic goals follow from it",
    ),
    needs(
        "TU-03",
        TU,
        "approve_programme",
        "work_programme activity_plan",
        "A detailed plan of all activities ... made in advance",
    ),
    needs(
        "TU-04",
        TU,
        "start_delivery",
        "preparation_plan financing",
        "financing secured before delivery",
    ),
    needs(
        "TU-05",
        TU,
        "hold_session",
        "session_record",
        "Delivery through online channels, working sessions and study visits",
    ),
    needs(
        "TU-06",
        TU,
        "complete",
        "questionnaire",
        "Evaluation of the participants' reactions by questionnaire",
    ),
    needs(
        "PP-06",
        PP,
        "launch",
        "work_programme preparation_plan",
        "Administrative, economic and technical preparation as for tutoring",
    ),
    needs(
        "PP-02",
        PP,
        "hold_workshop",
        "materials_studied",
        "Participants study the materials before a workshop",
    ),
    needs(
        "PP-04", PP, "hold_workshop", "workshop_minutes", "several workshops (at least two)", nth=1
    ),
    needs("PP-05", PP, "complete", "questionnaire", "Evaluation by questionnaire"),
    needs("SC-03", ER, "select", "application eligibility", "Calls and cut-offs"),
    needs(
        "ER-03",
        ER,
        "hold_inception",
        "contract draft_document",
        "Start: contract and ToR signed by all parties; the expert has the document before it",
    ),
    needs(
        "ER-05",
        ER,
        "hold_final_meeting",
        "inception_minutes draft_report",
        "the draft report goes to the city",
    ),
    needs(
        "ER-07",
        ER,
        "deliver_final_document",
        "final_document",
        "the final document goes to secretariat and city",
    ),
    needs(
        "ER-08",
        ER,
        "complete",
        "final_meeting_minutes review_evaluation testimonial",
        "minutes by the secretariat, evaluation of the review by city and expert; Testimonials",
    ),
    needs(
        "ER-09",
        ER,
        "close",
        "impact_assessment",
        "an impact assessment form one year after completion",
    ),
    needs("SC-03", EM, "select", "application eligibility", "Calls and cut-offs"),
    needs(
        "EM-03",
        EM,
        "hold_open_questions_meeting",
        "background_documents logistics document_screening visit_feedback final_agenda",
        "Week 1 ... Week 2: feedback and final agenda",
    ),
    needs(
        "EM-04",
        EM,
        "hold_field_visit",
        "contract",
        "Contract and ToR signed by all in week 1 or 2, before the field visit",
    ),
    needs(
        "EM-07",
        EM,
        "hold_recap_meeting",
        "draft_report draft_review",
        "Week 4: draft report ... Week 5: review of the draft",
    ),
    needs(
        "EM-08",
        EM,
        "complete",
        "next_steps final_report evaluation_form testimonial",
        "next steps; final report; evaluation feedback form; Testimonials",
    ),
    needs("EM-09", EM, "close", "impact_assessment", "impact assessment one year after"),
    needs("SC-03", SV, "select_host", "application eligibility", "Calls and cut-offs"),
    needs(
        "SV-02",
        SV,
        "introduce_visitors",
        "acceptance",
        "a selected city confirms availability and accepts; then it is introduced",
    ),
    needs(
        "SV-05",
        SV,
        "hold_preparation_meeting",
        "letter_of_commitment visit_agenda",
        "Week 1 or 2: a letter of commitment ... the host prepares agenda, location and rooms",
    ),
    needs("SV-05", SV, "hold_visit", "travel_booking", "visitors book travel and accommodation"),
    needs(
        "SV-08",
        SV,
        "evaluate_reports",
        "documentation resume reflection_report testimonial",
        "first evaluation of the reports",
    ),
    needs(
        "SV-09",
        SV,
        "close",
        "impact_assessment",
        "Impact assessment forms from host and visitors one year after",
    ),
]


def check_needs(row: Needs) -> None:
    """Without any one of its requirements the step is refused, naming what is missing."""
    for deliverable in row.deliverables:
        refused = try_again(row.definition, "fire", row.event, drop=[deliverable], nth=row.nth)
        assert isinstance(refused, StepBlocked), f"{row} without {deliverable}: {refused}"
        missing = [b.deliverable for b in refused.blockers if b.kind == "missing_deliverable"]  # type: ignore[attr-defined]
        assert deliverable in missing, f"{row} without {deliverable}: {refused}"
    assert try_again(row.definition, "fire", row.event, nth=row.nth) is None


@pytest.mark.rule("PM-04", "PM-06", "PM-07", "PM-09", "PM-10")
@pytest.mark.parametrize("row", rows(REQUIRES, PM), ids=str)
def test_pm_what_each_step_requires(row: Needs) -> None:
    check_needs(row)


@pytest.mark.rule("TU-02", "TU-03", "TU-04", "TU-05", "TU-06")
@pytest.mark.parametrize("row", rows(REQUIRES, TU), ids=str)
def test_tu_what_each_step_requires(row: Needs) -> None:
    check_needs(row)


@pytest.mark.rule("PP-02", "PP-04", "PP-05", "PP-06")
@pytest.mark.parametrize("row", rows(REQUIRES, PP), ids=str)
def test_pp_what_each_step_requires(row: Needs) -> None:
    check_needs(row)


@pytest.mark.rule("SC-03", "ER-03", "ER-05", "ER-07", "ER-08", "ER-09")
@pytest.mark.parametrize("row", rows(REQUIRES, ER), ids=str)
def test_er_what_each_step_requires(row: Needs) -> None:
    check_needs(row)


@pytest.mark.rule("SC-03", "EM-03", "EM-04", "EM-07", "EM-08", "EM-09")
@pytest.mark.parametrize("row", rows(REQUIRES, EM), ids=str)
def test_em_what_each_step_requires(row: Needs) -> None:
    check_needs(row)


@pytest.mark.rule("SC-03", "SV-02", "SV-05", "SV-08", "SV-09")
@pytest.mark.parametrize("row", rows(REQUIRES, SV), ids=str)
def test_sv_what_each_step_requires(row: Needs) -> None:
    check_needs(row)


# --- one from each, or one for all ---------------------------------------------------------


@dataclass(frozen=True)
class Owed:
    rule: str
    definition: str
    deliverable: str
    roles: frozenset[str]
    each: bool
    words: str

    def __str__(self) -> str:
        return f"{self.rule}-{self.deliverable}"


def from_each(rule: str, definition: str, deliverable: str, roles: str, words: str) -> Owed:
    return Owed(rule, definition, deliverable, frozenset(roles.split()), True, words)


def one_for_all(rule: str, definition: str, deliverable: str, roles: str, words: str) -> Owed:
    return Owed(rule, definition, deliverable, frozenset(roles.split()), False, words)


OWED = [
    from_each(
        "PM-03",
        PM,
        "peer_learning_agreement",
        "mentor mentee",
        "signed by the mentor and every mentee",
    ),
    from_each(
        "PM-03",
        PM,
        "availability_confirmation",
        "mentor mentee",
        "confirmation of availability from mentor and mentee",
    ),
    from_each("PM-05", PM, "learning_needs", "mentee", "the mentee uploads 'Learning Needs'"),
    from_each(
        "PM-09",
        PM,
        "dissemination_report",
        "mentor mentee",
        "mentor and mentee ... disseminate the results to their organisations",
    ),
    from_each("PM-10", PM, "evaluation_survey", "mentor mentee", "an online survey from each"),
    from_each(
        "PM-11", PM, "transferability_assessment", "mentee", "the mentee rates its transferability"
    ),
    one_for_all(
        "PM-12",
        PM,
        "learning_programme_report",
        "mentor mentee",
        "written jointly by mentor and mentee",
    ),
    one_for_all(
        "PM-07",
        PM,
        "visit_structure",
        "mentor facilitator",
        "Its structure is agreed and finalised",
    ),
    from_each(
        "TU-01",
        TU,
        "organisation_approval",
        "trainee",
        "the trainees' organisation must approve their participation",
    ),
    from_each(
        "TU-02", TU, "needs_analysis", "trainee", "the trainee supplies its current situation"
    ),
    from_each(
        "TU-06", TU, "questionnaire", "trainee", "the participants' reactions by questionnaire"
    ),
    from_each("PP-02", PP, "materials_studied", "peer", "Participants study the materials"),
    from_each("PP-05", PP, "questionnaire", "peer", "Evaluation by questionnaire"),
    from_each("ER-03", ER, "contract", "city expert secretariat", "signed by all parties"),
    from_each(
        "ER-06",
        ER,
        "review_evaluation",
        "city expert",
        "evaluation of the review by city and expert",
    ),
    from_each("ER-08", ER, "testimonial", "city expert", "Testimonials from city and expert"),
    from_each("EM-02", EM, "document_screening", "expert", "the experts screen the documents"),
    one_for_all(
        "EM-02", EM, "logistics", "city expert", "city and experts settle travel and accommodation"
    ),
    one_for_all("EM-03", EM, "final_agenda", "city expert", "feedback and final agenda"),
    from_each(
        "EM-03",
        EM,
        "visit_feedback",
        "expert",
        "The expert will be expected ... to provide feedback on tentative visits and meetings",
    ),
    from_each("EM-04", EM, "contract", "city expert secretariat", "Contract and ToR signed by all"),
    one_for_all("EM-06", EM, "draft_report", "expert", "Week 4: draft report"),
    from_each(
        "EM-07",
        EM,
        "draft_review",
        "secretariat city",
        "review of the draft by secretariat and city",
    ),
    from_each(
        "EM-08",
        EM,
        "evaluation_form",
        "city expert",
        "evaluation feedback form from experts and city",
    ),
    from_each("EM-09", EM, "testimonial", "city expert", "Testimonials from city and experts"),
    from_each(
        "SV-02", SV, "acceptance", "visitor", "a selected city confirms availability and accepts"
    ),
    from_each(
        "SV-04",
        SV,
        "letter_of_commitment",
        "host visitor",
        "a letter of commitment between each city and the secretariat",
    ),
    from_each("SV-05", SV, "travel_booking", "visitor", "visitors book travel and accommodation"),
    from_each(
        "SV-07", SV, "reflection_report", "visitor", "each visitor city submits a reflection report"
    ),
    from_each(
        "SV-07",
        SV,
        "testimonial",
        "host visitor",
        "the host ... testimonials; each visitor city ... testimonials",
    ),
    from_each(
        "SV-09",
        SV,
        "impact_assessment",
        "host visitor",
        "Impact assessment forms from host and visitors",
    ),
]


def check_owed(row: Owed) -> None:
    """After one submission: the others still owe theirs (each), or nobody does (joint)."""
    before, first = cut(row.definition, "submit", row.deliverable)
    p = Programme.from_history(before)
    p.record("submit", first.payload, at=first.at, actor=first.actor)
    people = cast(before)
    owing = {who for role in row.roles for who in people.get(role, ())}
    expected = sorted(owing - {first.actor.id}) if row.each else []
    steps = [s for s in p.next_steps(first.at) if s.kind == "submit" and s.name == row.deliverable]
    still = sorted(steps[0].owed_by) if steps else []
    assert still == expected, f"{row} ({row.words!r}): still owed by {still}"


@pytest.mark.rule("PM-03", "PM-05", "PM-07", "PM-09", "PM-10", "PM-11", "PM-12")
@pytest.mark.parametrize("row", rows(OWED, PM), ids=str)
def test_pm_one_from_each_or_one_for_all(row: Owed) -> None:
    check_owed(row)


@pytest.mark.rule("TU-01", "TU-02", "TU-06")
@pytest.mark.parametrize("row", rows(OWED, TU), ids=str)
def test_tu_one_from_each_or_one_for_all(row: Owed) -> None:
    check_owed(row)


@pytest.mark.rule("PP-02", "PP-05")
@pytest.mark.parametrize("row", rows(OWED, PP), ids=str)
def test_pp_one_from_each_or_one_for_all(row: Owed) -> None:
    check_owed(row)


@pytest.mark.rule("ER-03", "ER-06", "ER-08")
@pytest.mark.parametrize("row", rows(OWED, ER), ids=str)
def test_er_one_from_each_or_one_for_all(row: Owed) -> None:
    check_owed(row)


@pytest.mark.rule("EM-02", "EM-03", "EM-04", "EM-06", "EM-07", "EM-08", "EM-09")
@pytest.mark.parametrize("row", rows(OWED, EM), ids=str)
def test_em_one_from_each_or_one_for_all(row: Owed) -> None:
    check_owed(row)


@pytest.mark.rule("SV-02", "SV-04", "SV-05", "SV-07", "SV-09")
@pytest.mark.parametrize("row", rows(OWED, SV), ids=str)
def test_sv_one_from_each_or_one_for_all(row: Owed) -> None:
    check_owed(row)
