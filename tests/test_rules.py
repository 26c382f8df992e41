"""Rule-by-rule tests for the MIA and Scalable Cities definitions (ids in seed-rules.md).

Each test starts from the definition's own example history, cut where the rule applies,
and shows the rule holding: the step refused with the blocker that names it, and allowed
once the rule is met. docs/traceability.md points at these tests.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import attrs
import pytest

import peerflow
from peerflow import Actor, Event, EventError, Programme, StepBlocked, StepNotAvailable
from peerflow.engine._registry import example_path

BXL = ZoneInfo("Europe/Brussels")


def local(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BXL)


def events_of(definition_id: str) -> list[Event]:
    return [e for _, e in peerflow.read_history(example_path(definition_id))]


def until(definition_id: str, predicate: str) -> tuple[Programme, list[Event]]:
    """The example cut just before the first event matching ``predicate`` (type:name)."""
    events = events_of(definition_id)
    kind, _, name = predicate.partition(":")
    index = next(
        i
        for i, e in enumerate(events)
        if e.type == kind
        and name in (e.payload.get("event"), e.payload.get("deliverable"), e.payload.get("role"))
    )
    return Programme.from_history(events[:index]), events[index:]


def kinds(refused: pytest.ExceptionInfo[StepBlocked]) -> list[str]:
    return [b.kind for b in refused.value.blockers]


# --- MIA tutoring --------------------------------------------------------------------

TU_COORD = Actor("coordinator", "zagreb-energy-agency")


@pytest.mark.rule("TU-01", "TU-02")
def test_tu01_tu02_goals_wait_for_every_trainees_approval_and_needs_analysis() -> None:
    p, rest = until("mia-tutoring", "submit:organisation_approval")
    with pytest.raises(StepBlocked) as refused:
        p.fire("set_goals", at=rest[0].at, actor=TU_COORD)
    missing = {b.deliverable: b.owed_by for b in refused.value.blockers}  # type: ignore[attr-defined]
    assert missing == {
        "organisation_approval": ("trainee-sisak", "trainee-karlovac"),
        "needs_analysis": ("trainee-sisak", "trainee-karlovac"),
    }


@pytest.mark.rule("TU-02")
def test_tu02_the_needs_analysis_covers_the_target_group_s_capacities_and_needs() -> None:
    """TU-02: "it is necessary to analyse the capacities and needs of the target group in
    order to determine the realistic goals of the training"; the trainee supplies its current
    situation and level of knowledge."""
    p, rest = until("mia-tutoring", "submit:needs_analysis")
    submit = rest[0]
    situation_and_knowledge = {"current_situation": "SEAP adopted", "knowledge_level": "Basic"}
    with pytest.raises(StepBlocked, match=r"missing part\(s\): target_group_needs\.$"):
        p.submit(
            "needs_analysis", at=submit.at, actor=submit.actor, content=situation_and_knowledge
        )
    needs = "Two energy officers; no monitoring capacity"
    p.submit(
        "needs_analysis",
        at=submit.at,
        actor=submit.actor,
        content={**situation_and_knowledge, "target_group_needs": needs},
    )
    assert p.state.has_submitted("needs_analysis", submit.actor.id)


@pytest.mark.rule("TU-03")
def test_tu03_the_tutor_is_selected_against_the_work_programme() -> None:
    p, rest = until("mia-tutoring", "submit:organisation_approval")
    with pytest.raises(StepNotAvailable):  # no tutor before the programme is designed
        p.record("join", {"participant": "t", "role": "tutor"}, at=rest[0].at, actor=TU_COORD)
    p, rest = until("mia-tutoring", "join:tutor")
    with pytest.raises(StepBlocked) as refused:
        p.fire("approve_programme", at=rest[0].at, actor=TU_COORD)
    assert kinds(refused) == ["too_few_participants"]


@pytest.mark.rule("TU-03", "TU-07")
def test_tu03_tu07_the_work_programme_lists_lectures_and_the_plan_its_risks() -> None:
    p, rest = until("mia-tutoring", "submit:work_programme")
    with pytest.raises(StepBlocked, match=r"lectures\[0\].hours is missing"):
        p.submit(
            "work_programme",
            at=rest[0].at,
            actor=TU_COORD,
            content={"goals": "g", "lectures": [{"topic": "x"}], "total_time": "1 h"},
        )
    with pytest.raises(StepBlocked, match="missing part"):
        p.submit("activity_plan", at=rest[0].at, actor=TU_COORD, content={"activities": "a"})


@pytest.mark.rule("TU-04")
def test_tu04_delivery_needs_the_preparation_and_secured_financing() -> None:
    p, rest = until("mia-tutoring", "submit:financing")
    with pytest.raises(StepBlocked) as refused:
        p.fire("start_delivery", at=rest[0].at, actor=TU_COORD)
    assert [b.deliverable for b in refused.value.blockers] == ["financing"]  # type: ignore[attr-defined]


@pytest.mark.rule("TU-05", "TU-06")
def test_tu05_tu06_sessions_then_questionnaires_from_every_trainee() -> None:
    p, rest = until("mia-tutoring", "fire:hold_session")
    with pytest.raises(StepNotAvailable):  # delivery needs at least one session
        p.fire("finish_delivery", at=rest[0].at, actor=TU_COORD)
    p, rest = until("mia-tutoring", "submit:questionnaire")
    with pytest.raises(StepBlocked) as refused:
        p.fire("complete", at=rest[0].at, actor=TU_COORD)
    assert refused.value.blockers[0].owed_by == ("trainee-sisak", "trainee-karlovac")  # type: ignore[attr-defined]


# --- MIA peer groups -----------------------------------------------------------------

PP_COORD = Actor("coordinator", "province-barcelona")


@pytest.mark.rule("PP-01")
def test_pp01_peers_join_of_their_own_accord_only() -> None:
    p, rest = until("mia-peer-groups", "join:peer")
    with pytest.raises(StepBlocked) as refused:
        p.record("join", {"participant": "drafted", "role": "peer"}, at=rest[0].at, actor=PP_COORD)
    assert kinds(refused) == ["role"]
    p.record(
        "join",
        {"participant": "volunteer", "role": "peer"},
        at=rest[0].at,
        actor=Actor("peer", "volunteer"),
    )
    assert p.state.role_of("volunteer") == "peer"


@pytest.mark.rule("PP-01")
def test_pp01_a_group_needs_six_peers_unless_the_coordinator_waives_it() -> None:
    events = events_of("mia-peer-groups")
    joins = [i for i, e in enumerate(events) if e.type == "join"]
    kept = [e for i, e in enumerate(events) if i not in joins[5:]]  # only five peers join
    launch = next(i for i, e in enumerate(kept) if e.payload.get("event") == "launch")

    p = Programme.from_history([attrs.evolve(e, seq=i) for i, e in enumerate(kept[:launch])])
    at = kept[launch].at
    with pytest.raises(StepBlocked, match="needs at least 6 participant"):
        p.fire("launch", at=at, actor=PP_COORD)
    p.waive(
        "fire",
        "launch",
        ["too_few_participants"],
        reason="Five peers agreed",
        at=at,
        actor=PP_COORD,
    )
    p.fire("launch", at=at, actor=PP_COORD)
    assert p.state.state == "ready"


@pytest.mark.rule("PP-02")
def test_pp02_every_peer_studies_the_materials_before_each_workshop() -> None:
    """ "Participants study the materials before a workshop": before the first and again before
    the second, each of the seven peers."""
    p, rest = until("mia-peer-groups", "submit:materials_studied")
    workshop = next(e for e in rest if e.payload.get("event") == "hold_workshop")
    with pytest.raises(StepBlocked) as refused:
        p.fire("hold_workshop", at=workshop.at, actor=PP_COORD)
    assert kinds(refused) == ["missing_deliverable"]
    events = events_of("mia-peer-groups")
    first, second = [i for i, e in enumerate(events) if e.payload.get("event") == "hold_workshop"]
    kept = [  # the second workshop's reading left out
        e
        for i, e in enumerate(events[:second])
        if i < first or e.payload.get("deliverable") != "materials_studied"
    ]
    p = Programme.from_history(kept[:1])
    for e in kept[1:]:
        p.record(e.type, e.payload, at=e.at, actor=e.actor)
    with pytest.raises(StepBlocked) as refused:
        p.fire("hold_workshop", at=events[second].at, actor=PP_COORD)
    (missing,) = refused.value.blockers
    assert missing.deliverable == "materials_studied"  # type: ignore[attr-defined]
    assert len(missing.owed_by) == 7  # type: ignore[attr-defined]


@pytest.mark.rule("PP-04")
def test_pp04_at_least_two_workshops_are_counted_before_the_evaluation() -> None:
    """ "Delivered through several workshops (at least two)": after one workshop (and its
    minutes) the evaluation is refused, counting 1 of 2; after the second it is allowed; a
    third workshop is a workshop like the others."""
    events = events_of("mia-peer-groups")
    first_minutes = next(e for e in events if e.payload.get("deliverable") == "workshop_minutes")
    p = Programme.from_history(events[: events.index(first_minutes) + 1])
    with pytest.raises(StepBlocked) as refused:
        p.fire("evaluate", at=first_minutes.at, actor=PP_COORD)
    (few,) = refused.value.blockers
    assert (few.kind, few.event, few.min, few.count) == (  # type: ignore[attr-defined]
        "too_few_occurrences",
        "hold_workshop",
        2,
        1,
    )
    evaluate = next(i for i, e in enumerate(events) if e.payload.get("event") == "evaluate")
    p = Programme.from_history(events[:evaluate])
    # a third workshop: its date, everyone's reading and the second one's minutes are in
    at = events[evaluate].at
    p.schedule("workshop_date", at.date(), at=at, actor=PP_COORD)
    for peer in p.state.holders(("peer",)):
        p.submit("materials_studied", at=at, actor=Actor("peer", peer))
    p.fire("hold_workshop", at=at, actor=PP_COORD)
    p.submit("workshop_minutes", at=at, actor=PP_COORD)
    p.fire("evaluate", at=at, actor=PP_COORD)
    assert p.state.state == "evaluation"


@pytest.mark.rule("PP-03")
def test_pp03_the_work_programme_gives_each_partners_weaknesses_and_opportunities() -> None:
    """PP-03: "an insight into each partner weakness and opportunities for all group
    participants. For example, an implementation of SWOT analysis ...": the weaknesses and the
    opportunities of each partner are required; a full SWOT is the document's example, not a
    requirement."""
    p, rest = until("mia-peer-groups", "submit:work_programme")
    content = dict(rest[0].payload["content"])
    for missing in ("weaknesses", "opportunities"):
        insight = {"partner": "peer-genova", "weaknesses": "w", "opportunities": "o"}
        del insight[missing]
        with pytest.raises(StepBlocked, match=rf"partner_insight\[0\].{missing} is missing"):
            p.submit(
                "work_programme",
                at=rest[0].at,
                actor=PP_COORD,
                content={**content, "partner_insight": [insight]},
            )
    weaknesses_and_opportunities = [
        {"partner": "peer-genova", "weaknesses": "Few financial experts", "opportunities": "ESCOs"}
    ]
    p.submit(
        "work_programme",
        at=rest[0].at,
        actor=PP_COORD,
        content={**content, "partner_insight": weaknesses_and_opportunities},
    )
    assert p.state.has_submitted("work_programme", PP_COORD.id)


# --- Scalable Cities: the programme around the activities ---------------------------

SECRETARIAT = Actor("secretariat", "sc-secretariat")


@pytest.mark.parametrize(
    "definition_id", ["sc-expert-review", "sc-expert-mission", "sc-site-visit"]
)
@pytest.mark.rule("SC-03")
def test_sc03_applications_close_at_the_cut_off_and_selection_follows_it(
    definition_id: str,
) -> None:
    p, rest = until(definition_id, "submit:application")
    application = rest[0]
    cut_off = p.state.scheduled_date("cut_off_date")
    assert cut_off is not None
    late = datetime.combine(cut_off + timedelta(days=1), datetime.min.time(), BXL) + timedelta(
        hours=10
    )
    with pytest.raises(StepBlocked) as refused:
        p.submit(
            "application", at=late, actor=application.actor, content=application.payload["content"]
        )
    assert kinds(refused) == ["window_closed"]
    select = next(e for e in rest if e.type == "fire")
    p, rest = until(definition_id, f"fire:{select.payload['event']}")
    on_cut_off = datetime.combine(cut_off, datetime.min.time(), BXL) + timedelta(hours=10)
    if on_cut_off >= p.state.last_at:
        with pytest.raises(StepBlocked) as refused:
            p.fire(select.payload["event"], at=on_cut_off, actor=SECRETARIAT)
        assert kinds(refused) == ["window_not_open"]


@pytest.mark.parametrize(
    "definition_id", ["sc-expert-review", "sc-expert-mission", "sc-site-visit"]
)
@pytest.mark.rule("SC-01")
def test_sc01_only_lighthouse_and_fellow_cities_are_eligible(definition_id: str) -> None:
    p, rest = until(definition_id, "submit:eligibility")
    content = dict(rest[0].payload["content"], city_status="observer")
    with pytest.raises(StepBlocked, match="'observer' is not one of lighthouse, fellow"):
        p.submit("eligibility", at=rest[0].at, actor=rest[0].actor, content=content)


@pytest.mark.parametrize(
    "definition_id", ["sc-expert-review", "sc-expert-mission", "sc-site-visit"]
)
@pytest.mark.rule("EM-09", "ER-09", "SC-04", "SV-09")
def test_sc04_the_impact_assessment_comes_one_year_after(definition_id: str) -> None:
    p, rest = until(definition_id, "submit:impact_assessment")
    early = rest[0].at - timedelta(days=30)
    early = max(early, p.state.last_at)
    with pytest.raises(StepBlocked) as refused:
        p.submit("impact_assessment", at=early, actor=rest[0].actor)
    assert kinds(refused) == ["window_not_open"]
    assert refused.value.blockers[0].opens_at.year == rest[0].at.year  # type: ignore[attr-defined]


# --- Expert review --------------------------------------------------------------------


@pytest.mark.rule("ER-03")
def test_er03_the_inception_waits_for_every_partys_contract() -> None:
    p, rest = until("sc-expert-review", "submit:contract")
    inception = next(e for e in rest if e.payload.get("event") == "hold_inception")
    p.schedule("inception_date", inception.at.date(), at=rest[0].at, actor=SECRETARIAT)
    with pytest.raises(StepBlocked) as refused:
        p.fire("hold_inception", at=inception.at, actor=SECRETARIAT)
    (missing,) = refused.value.blockers
    assert missing.owed_by == ("sc-secretariat", "valladolid", "expert-lund")  # type: ignore[attr-defined]


REPORT_PARTS = ("general_assessment", "improvements", "recommendations", "sources")


@pytest.mark.rule("ER-05")
@pytest.mark.parametrize("only", REPORT_PARTS)
def test_er05_the_draft_report_carries_one_or_more_of_its_parts(only: str) -> None:
    """ER-05: "It is expected that the feedback includes a general assessment, potential
    improvements, recommendations, and/or additional sources of information or inspiration":
    any one of the four is a report; none is not."""
    p, rest = until("sc-expert-review", "submit:draft_report")
    submit = rest[0]
    with pytest.raises(StepBlocked, match=r"missing part.*one or more of general_assessment"):
        p.submit("draft_report", at=submit.at, actor=submit.actor, content={})
    p.submit("draft_report", at=submit.at, actor=submit.actor, content={only: "Some words"})
    assert p.state.has_submitted("draft_report", submit.actor.id)


@pytest.mark.rule("EM-06")
@pytest.mark.parametrize("only", REPORT_PARTS)
def test_em06_the_mission_report_documents_the_mission_and_one_or_more_findings(only: str) -> None:
    """EM-06: "a report which includes a documentation of the mission, a general assessment,
    potential improvements, recommendations, and/or additional sources of information or
    inspiration": the documentation, then any one of the other four."""
    p, rest = until("sc-expert-mission", "submit:draft_report")
    submit = rest[0]
    with pytest.raises(StepBlocked, match=r"missing part\(s\): documentation\.$"):
        p.submit("draft_report", at=submit.at, actor=submit.actor, content={only: "x"})
    with pytest.raises(StepBlocked, match=r"missing part\(s\): one or more of general"):
        p.submit("draft_report", at=submit.at, actor=submit.actor, content={"documentation": "x"})
    p.submit(
        "draft_report",
        at=submit.at,
        actor=submit.actor,
        content={"documentation": "Two days in Kalamata", only: "One finding"},
    )
    assert p.state.has_submitted("draft_report", submit.actor.id)


@pytest.mark.rule("ER-07")
def test_er07_the_final_document_is_due_within_5_working_days_of_the_final_meeting() -> None:
    p, _ = until("sc-expert-review", "submit:final_document")
    expert = Actor("expert", "expert-lund")
    # final meeting Monday 2022-11-28: five working days later is Monday 2022-12-05
    with pytest.raises(StepBlocked) as refused:
        p.submit("final_document", at=local("2022-12-06 09:00"), actor=expert)
    assert kinds(refused) == ["window_closed"]
    p.submit("final_document", at=local("2022-12-05 17:00"), actor=expert)


def _after_the_final_meeting(changes_discussed: str) -> Programme:
    """The Valladolid review on the day of its final meeting (Monday 28 November 2022), the
    evaluations and testimonials in, the minutes saying whether changes were discussed."""
    p, _ = until("sc-expert-review", "submit:final_meeting_minutes")
    minutes = {
        "results": "Draft presented",
        "next_steps": "City revises",
        "changes_discussed": changes_discussed,
    }
    p.submit(
        "final_meeting_minutes", at=local("2022-11-28 15:00"), actor=SECRETARIAT, content=minutes
    )
    for party in (Actor("city", "valladolid"), Actor("expert", "expert-lund")):
        p.submit("review_evaluation", at=local("2022-11-29 10:00"), actor=party)
    for party in (Actor("city", "valladolid"), Actor("expert", "expert-lund")):
        p.submit("testimonial", at=local("2022-11-30 10:00"), actor=party)
    return p


@pytest.mark.rule("ER-07")
def test_er07_changes_discussed_the_review_waits_for_the_final_document() -> None:
    """ "If changes were discussed ... the final document is sent to the Secretariat and the
    City": while the minutes say so and no final document has arrived, no completion."""
    p = _after_the_final_meeting("yes")
    with pytest.raises(StepBlocked) as refused:
        p.fire("complete", at=local("2022-12-01 10:00"), actor=SECRETARIAT)
    assert [(b.kind, b.deliverable) for b in refused.value.blockers] == [  # type: ignore[attr-defined]
        ("missing_deliverable", "final_document")
    ]
    assert "final_document" in {
        s.name for s in p.next_steps(local("2022-12-01 10:00")) if s.kind == "submit"
    }
    p.submit("final_document", at=local("2022-12-02 10:00"), actor=Actor("expert", "expert-lund"))
    p.fire("complete", at=local("2022-12-02 11:00"), actor=SECRETARIAT)
    assert p.state.state == "awaiting_impact"


@pytest.mark.rule("ER-07")
def test_er07_no_changes_discussed_the_review_completes_without_a_final_document() -> None:
    """ "If changes were discussed": where the minutes say they were not, nothing more is owed;
    and the latest minutes decide (a corrected "no" lifts an earlier "yes")."""
    p = _after_the_final_meeting("no")
    p.fire("complete", at=local("2022-12-01 10:00"), actor=SECRETARIAT)
    assert p.state.state == "awaiting_impact"
    p = _after_the_final_meeting("yes")
    corrected = {"results": "Draft presented", "next_steps": "None", "changes_discussed": "no"}
    p.submit(
        "final_meeting_minutes", at=local("2022-11-30 12:00"), actor=SECRETARIAT, content=corrected
    )
    p.fire("complete", at=local("2022-12-01 10:00"), actor=SECRETARIAT)
    assert p.state.state == "awaiting_impact"


@pytest.mark.rule("ER-06", "ER-08")
def test_er06_er08_completion_needs_minutes_evaluations_and_testimonials() -> None:
    p, rest = until("sc-expert-review", "submit:final_meeting_minutes")
    complete = next(e for e in rest if e.payload.get("event") == "complete")
    with pytest.raises(StepBlocked) as refused:
        p.fire("complete", at=complete.at, actor=SECRETARIAT)
    assert [b.deliverable for b in refused.value.blockers] == [  # type: ignore[attr-defined]
        "final_meeting_minutes",
        "review_evaluation",
        "testimonial",
    ]


# --- Expert mission ---------------------------------------------------------------------


@pytest.mark.rule("EM-02")
def test_em02_background_documents_are_due_two_weeks_before_the_field_visit() -> None:
    p, rest = until("sc-expert-mission", "submit:background_documents")
    # field visit Monday 2023-05-15: the window closes at the end of 2023-05-01
    with pytest.raises(StepBlocked) as refused:
        p.submit("background_documents", at=local("2023-05-02 09:00"), actor=rest[0].actor)
    assert kinds(refused) == ["window_closed"]


@pytest.mark.rule("EM-04")
def test_em04_no_field_visit_without_every_contract() -> None:
    events = events_of("sc-expert-mission")

    kept = [
        e
        for e in events
        if not (e.payload.get("deliverable") == "contract" and e.actor.id == "expert-tampere")
    ]
    visit = next(i for i, e in enumerate(kept) if e.payload.get("event") == "hold_field_visit")
    p = Programme.from_history([attrs.evolve(e, seq=i) for i, e in enumerate(kept[:visit])])
    with pytest.raises(StepBlocked) as refused:
        p.fire("hold_field_visit", at=kept[visit].at, actor=SECRETARIAT)
    assert refused.value.blockers[0].owed_by == ("expert-tampere",)  # type: ignore[attr-defined]


@pytest.mark.rule("EM-06", "EM-07")
def test_em06_em07_the_recap_waits_for_the_experts_draft_and_its_review() -> None:
    p, rest = until("sc-expert-mission", "submit:draft_report")
    recap = next(e for e in rest if e.payload.get("event") == "hold_recap_meeting")
    with pytest.raises(StepBlocked) as refused:
        p.fire("hold_recap_meeting", at=recap.at, actor=SECRETARIAT)
    assert [b.deliverable for b in refused.value.blockers] == ["draft_report", "draft_review"]  # type: ignore[attr-defined]
    with pytest.raises(StepBlocked, match="role 'secretariat' may not"):
        p.submit(
            "draft_report", at=rest[0].at, actor=SECRETARIAT, content=rest[0].payload["content"]
        )


# --- Site visit ---------------------------------------------------------------------------


@pytest.mark.rule("SV-02")
def test_sv02_visitors_are_introduced_once_each_has_accepted() -> None:
    p, rest = until("sc-site-visit", "submit:acceptance")
    introduce = next(e for e in rest if e.payload.get("event") == "introduce_visitors")
    with pytest.raises(StepBlocked) as refused:
        p.fire("introduce_visitors", at=introduce.at, actor=SECRETARIAT)
    assert refused.value.blockers[0].owed_by == ("malaga", "tartu", "espoo")  # type: ignore[attr-defined]
    with pytest.raises(StepBlocked, match="role 'host' may not"):
        p.record(
            "join",
            {"participant": "porto", "role": "visitor"},
            at=introduce.at,
            actor=Actor("host", "eindhoven"),
        )


@pytest.mark.rule("SV-07")
def test_sv07_each_visitor_city_owes_a_reflection_report_within_a_week() -> None:
    p, rest = until("sc-site-visit", "submit:reflection_report")
    evaluate = next(e for e in rest if e.payload.get("event") == "evaluate_reports")
    with pytest.raises(StepBlocked) as refused:
        p.fire("evaluate_reports", at=evaluate.at, actor=SECRETARIAT)
    owed = {b.deliverable: b.owed_by for b in refused.value.blockers}  # type: ignore[attr-defined]
    assert owed["reflection_report"] == ("malaga", "tartu", "espoo")
    # the visit started Tuesday 2023-06-13: reports are due by the end of 2023-06-20
    report = rest[0]
    with pytest.raises(StepBlocked) as refused:
        p.submit(
            "reflection_report",
            at=local("2023-06-21 09:00"),
            actor=report.actor,
            content=report.payload["content"],
        )
    assert kinds(refused) == ["window_closed"]
    content = {k: v for k, v in report.payload["content"].items() if k != "needs"}
    with pytest.raises(StepBlocked, match=r"missing part.*needs"):
        p.submit("reflection_report", at=report.at, actor=report.actor, content=content)


# --- minimums no waiver lifts ----------------------------------------------------------------

NOT_WITHOUT = [
    # TU-01: "Tutoring is a partnership between two participants; generally, the Tutor has
    # greater expertise than the Trainee": there is no tutoring without a tutor.
    ("mia-tutoring", "tutor", Actor("coordinator", "zagreb-energy-agency")),
    # EM-01: cities "will receive individualised technical and/or strategic advice from an
    # experienced expert": there is no mission without an expert.
    ("sc-expert-mission", "expert", Actor("secretariat", "sc-secretariat")),
    # SV-01: "an on-the-field visit and direct exchange between one Host City and up to five
    # Visitor Cities": there is no site visit without a visitor city.
    ("sc-site-visit", "visitor", Actor("secretariat", "sc-secretariat")),
]


@pytest.mark.parametrize(
    ("definition_id", "role", "facilitator"), NOT_WITHOUT, ids=[r for _, r, _ in NOT_WITHOUT]
)
@pytest.mark.rule("EM-01", "SV-01", "TU-01")
def test_a_programme_cannot_be_waived_past_its_one_indispensable_role(
    definition_id: str, role: str, facilitator: Actor
) -> None:
    p, rest = until(definition_id, f"join:{role}")
    at = rest[0].at
    step = next(
        s
        for s in p.next_steps(at)
        if any(b.kind == "too_few_participants" and b.role == role for b in s.blockers)  # type: ignore[attr-defined]
    )
    (short,) = [b for b in step.blockers if b.kind == "too_few_participants"]
    assert (short.min, short.count, short.can_be_waived()) == (1, 0, False)  # type: ignore[attr-defined]
    with pytest.raises(peerflow.EventError, match=f"the minimum of role {role} cannot be waived"):
        p.waive("fire", step.name, ["too_few_participants"], reason="try", at=at, actor=facilitator)


@pytest.mark.rule("PP-01")
def test_the_peer_group_s_optimal_size_stays_waivable() -> None:
    """PP-01: "6-8 experts is the optimal size": a recommendation, so a facilitator may waive it."""
    p, rest = until("mia-peer-groups", "join:peer")
    at = rest[0].at
    step = next(
        s for s in p.next_steps(at) if any(b.kind == "too_few_participants" for b in s.blockers)
    )
    coordinator = Actor("coordinator", "province-barcelona")
    p.waive(
        "fire",
        step.name,
        ["too_few_participants"],
        reason="five is enough",
        at=at,
        actor=coordinator,
    )
    (after,) = [s for s in p.next_steps(at) if s.name == step.name]
    assert "too_few_participants" not in [b.kind for b in after.blockers]


@pytest.mark.rule("PP-01")
def test_pp01_a_ninth_peer_joins_only_by_the_coordinator_s_waiver_like_a_fifth_group() -> None:
    """ "Working groups of peers (6-8 experts is the optimal size)": a recommendation, so both
    bounds are treated alike. The ninth peer is refused, waivably; the coordinator's waiver
    lets one more join (not two), and no peer can waive it."""
    p, rest = until("mia-peer-groups", "submit:work_programme")
    at = rest[0].at

    def join(pid: str) -> None:
        p.record("join", {"participant": pid, "role": "peer"}, at=at, actor=Actor("peer", pid))

    join("peer-eighth")
    assert p.state.count("peer") == 8

    with pytest.raises(StepBlocked) as refused:
        join("peer-ninth")
    (full,) = refused.value.blockers
    assert (full.kind, full.max, full.waivable) == ("participant_limit", 8, True)  # type: ignore[attr-defined]
    waiver = {"step": {"kind": "join", "name": "peer"}, "blockers": ["participant_limit"]}
    with pytest.raises(StepBlocked):  # a peer is not the coordinator
        p.record("waive", {**waiver, "reason": "x"}, at=at, actor=Actor("peer", "peer-genova"))
    p.record("waive", {**waiver, "reason": "a ninth expert asked to join"}, at=at, actor=PP_COORD)
    join("peer-ninth")
    assert p.state.count("peer") == 9
    with pytest.raises(StepBlocked):
        join("peer-tenth")


def test_a_hard_maximum_cannot_be_waived() -> None:
    """TU-01: "a tutor" (one): the tutoring's tutor maximum is not a recommendation."""
    p = Programme.from_history(events_of("mia-tutoring")[:1])
    waiver = {"step": {"kind": "join", "name": "tutor"}, "blockers": ["participant_limit"]}
    with pytest.raises(EventError, match="cannot be waived"):
        p.record("waive", {**waiver, "reason": "two tutors"}, at=p.state.last_at, actor=TU_COORD)


@pytest.mark.rule("PP-04")
def test_pp04_each_workshop_has_its_own_date_and_its_own_minutes() -> None:
    """ "Delivered through several workshops (at least two), which may be linked with study
    tours": each workshop is one occurrence with its date and its minutes (where its study tours
    are recorded); the first's date and minutes do not serve the second."""
    events = events_of("mia-peer-groups")
    first, second = [i for i, e in enumerate(events) if e.payload.get("event") == "hold_workshop"]
    p = Programme.from_history(events[: first + 1])
    assert p.state.scheduled_date("workshop_date") is None  # to be set for the next one
    with pytest.raises(StepBlocked) as refused:
        p.fire("hold_workshop", at=events[first].at, actor=PP_COORD)
    assert "date_not_scheduled" in kinds(refused)
    assert "missing_deliverable" in kinds(refused)  # this workshop's minutes, the reading
    evaluate = next(i for i, e in enumerate(events) if e.payload.get("event") == "evaluate")
    without = [
        e for e in events[second:evaluate] if e.payload.get("deliverable") == "workshop_minutes"
    ]
    assert without, "the example records the second workshop's minutes"
    p = Programme.from_history(events[: second + 1])
    with pytest.raises(StepBlocked) as refused:
        p.fire("evaluate", at=events[evaluate].at, actor=PP_COORD)
    assert [(b.kind, b.deliverable) for b in refused.value.blockers] == [  # type: ignore[attr-defined]
        ("missing_deliverable", "workshop_minutes")
    ]
