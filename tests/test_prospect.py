"""PROSPECT peer mentoring: the rules the booklet sets, checked on the engine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import CEST, CET, FACILITATOR, MENTEE_A, MENTEE_B, MENTOR, cet
from support import complete_content

import peerflow
from peerflow import (
    Actor,
    CompiledDefinition,
    DateNotScheduled,
    EventError,
    MissingDeliverable,
    Programme,
    RoleNotAllowed,
    StepBlocked,
    StepNotAvailable,
    WindowClosed,
    WindowNotOpen,
    fold,
    read_history,
)
from peerflow.engine._registry import example_path

PLAN = complete_content(peerflow.definition("prospect-peer-mentoring"), "learning_plan")


def kinds(exc: StepBlocked) -> list[str]:
    return [b.kind for b in exc.blockers]


def step(p: Programme, kind: str, name: str, at: datetime, actor: object = None) -> object:
    return next(s for s in p.next_steps(at, actor) if (s.kind, s.name) == (kind, name))


# --- PM-03 / PM-04: the orientation needs every signature and its date --------------------


@pytest.mark.rule("PM-03", "PM-04")
def test_orientation_blocked_until_mentor_and_every_mentee_signed(
    new_programme: Callable[[], Programme],
) -> None:
    p = new_programme()
    p.schedule("orientation_date", date(2027, 2, 1), at=cet(1, 11, 11), actor=FACILITATOR)
    for who in (MENTOR, MENTEE_A, MENTEE_B):
        p.submit("availability_confirmation", at=cet(1, 12), actor=who)
    p.submit("peer_learning_agreement", at=cet(1, 12), actor=MENTOR)
    p.submit("peer_learning_agreement", at=cet(1, 13), actor=MENTEE_A)

    with pytest.raises(StepBlocked) as refused:
        p.fire("hold_orientation", at=cet(2, 1), actor=FACILITATOR)
    (blocker,) = refused.value.blockers
    assert isinstance(blocker, MissingDeliverable)
    assert blocker.deliverable == "peer_learning_agreement"
    assert blocker.owed_by == ("mentee-b",)
    assert p.state.state == "preparation"

    p.submit("peer_learning_agreement", at=cet(1, 14), actor=MENTEE_B)
    p.fire("hold_orientation", at=cet(2, 1), actor=FACILITATOR)
    assert p.state.state == "getting_started"


@pytest.mark.rule("PM-04")
def test_orientation_waits_for_its_date(new_programme: Callable[[], Programme]) -> None:
    p = new_programme()
    for who in (MENTOR, MENTEE_A, MENTEE_B):
        p.submit("peer_learning_agreement", at=cet(1, 12), actor=who)
        p.submit("availability_confirmation", at=cet(1, 12), actor=who)
    with pytest.raises(StepBlocked) as refused:
        p.fire("hold_orientation", at=cet(1, 20), actor=FACILITATOR)
    assert refused.value.blockers == (DateNotScheduled("orientation_date", ("facilitator",)),)

    p.schedule("orientation_date", date(2027, 2, 1), at=cet(1, 20), actor=FACILITATOR)
    with pytest.raises(StepBlocked) as early:
        p.fire("hold_orientation", at=cet(1, 31, 23), actor=FACILITATOR)
    assert isinstance(early.value.blockers[0], WindowNotOpen)
    assert early.value.blockers[0].opens_at == datetime(2027, 2, 1, tzinfo=cet(1, 1).tzinfo)


@pytest.mark.rule("PM-13")
def test_mentee_cannot_fire_a_facilitator_step(oriented: Programme) -> None:
    with pytest.raises(StepBlocked) as refused:
        oriented.fire("hold_working_together", at=cet(2, 3), actor=MENTEE_A)
    role = refused.value.blockers[0]
    assert isinstance(role, RoleNotAllowed)
    assert (role.role, role.allowed) == ("mentee", ("facilitator",))
    # The refusal lists every blocker, not only the first.
    assert "missing_deliverable" in kinds(refused.value)
    assert oriented.state.state == "getting_started"


def test_role_cannot_be_waived(oriented: Programme) -> None:
    with pytest.raises(EventError, match="'role' cannot be waived"):
        oriented.waive(
            "fire",
            "hold_working_together",
            ["role"],
            reason="please",
            at=cet(2, 3),
            actor=FACILITATOR,
        )


@pytest.mark.rule("PM-13")
def test_only_the_facilitator_may_waive(oriented: Programme) -> None:
    with pytest.raises(StepBlocked) as refused:
        oriented.waive(
            "submit", "learning_needs", ["window_closed"], reason="late", at=cet(2, 3), actor=MENTOR
        )
    assert kinds(refused.value) == ["role"]


def test_actor_must_be_the_participant_it_claims(oriented: Programme) -> None:
    with pytest.raises(EventError, match="takes part as 'mentee', not 'facilitator'"):
        oriented.fire("cancel", at=cet(2, 3), actor=Actor("facilitator", "mentee-a"))
    with pytest.raises(EventError, match="not a participant"):
        oriented.fire("cancel", at=cet(2, 3), actor=Actor("facilitator", "stranger"))


# --- PM-05: the templates within two weeks after the orientation -------------------------


@pytest.mark.parametrize(
    ("deliverable", "actor"), [("learning_needs", MENTEE_A), ("learning_experiences", MENTOR)]
)
@pytest.mark.rule("PM-05")
def test_templates_close_two_weeks_after_orientation(
    oriented: Programme, deliverable: str, actor: object
) -> None:
    # Orientation Monday 1 February: open through Monday 15 February.
    last_moment = datetime(2027, 2, 15, 23, 59, tzinfo=cet(1, 1).tzinfo)
    assert step(oriented, "submit", deliverable, last_moment, actor).allowed  # type: ignore[attr-defined]
    with pytest.raises(StepBlocked) as refused:
        oriented.submit(deliverable, at=cet(2, 16, 0), actor=actor)  # type: ignore[arg-type]
    (blocker,) = refused.value.blockers
    assert isinstance(blocker, WindowClosed)
    assert blocker.closed_at == datetime(2027, 2, 16, tzinfo=cet(1, 1).tzinfo)


@pytest.mark.rule("PM-05")
def test_late_template_allowed_when_waived_and_waiver_recorded(oriented: Programme) -> None:
    oriented.waive(
        "submit",
        "learning_needs",
        ["window_closed"],
        reason="illness",
        participant="mentee-b",
        at=cet(2, 16),
        actor=FACILITATOR,
    )
    # Only the participant the waiver names is covered.
    with pytest.raises(StepBlocked):
        oriented.submit("learning_needs", at=cet(2, 17), actor=MENTEE_A)
    waived_step = step(oriented, "submit", "learning_needs", cet(2, 17), MENTEE_B)
    assert waived_step.allowed and [b.kind for b in waived_step.waived] == ["window_closed"]  # type: ignore[attr-defined]
    oriented.submit("learning_needs", at=cet(2, 17), actor=MENTEE_B)
    assert oriented.state.has_submitted("learning_needs", "mentee-b")
    assert [e.type for e in oriented.history[-2:]] == ["waive", "submit"]
    assert oriented.history[-2].payload["reason"] == "illness"
    # The waiver was used up by the submission it covered.
    assert oriented.state.waivers == ()


@pytest.mark.rule("PM-05")
def test_templates_cannot_be_uploaded_before_the_orientation(
    new_programme: Callable[[], Programme],
) -> None:
    p = new_programme()
    with pytest.raises(StepNotAvailable, match="not a step from state 'preparation'"):
        p.submit("learning_needs", at=cet(1, 12), actor=MENTEE_A)


# --- PM-07: the visit structure final at least a week before the visit -------------------


def working_together(oriented: Programme) -> Programme:
    for who in (MENTEE_A, MENTEE_B):
        oriented.submit("learning_needs", at=cet(2, 8), actor=who)
    oriented.submit("learning_experiences", at=cet(2, 8), actor=MENTOR)
    oriented.schedule("working_together_date", date(2027, 3, 3), at=cet(2, 9), actor=FACILITATOR)
    oriented.fire("hold_working_together", at=cet(3, 3), actor=FACILITATOR)
    oriented.submit("learning_plan", at=cet(3, 10), actor=MENTOR, content=PLAN)
    return oriented


@pytest.mark.rule("PM-07")
def test_visit_structure_must_be_final_a_week_before_the_visit(oriented: Programme) -> None:
    p = working_together(oriented)
    with pytest.raises(StepBlocked) as unscheduled:
        p.submit("visit_structure", at=cet(3, 11), actor=MENTOR)
    assert kinds(unscheduled.value) == ["date_not_scheduled"]

    p.schedule("visit_date", date(2027, 5, 10), at=cet(3, 12), actor=FACILITATOR)
    # Visit Monday 10 May: the structure may come up to Monday 3 May, not on the 4th.
    assert step(p, "submit", "visit_structure", datetime(2027, 5, 3, 23, tzinfo=CEST)).allowed  # type: ignore[attr-defined]
    with pytest.raises(StepBlocked) as late:
        p.submit("visit_structure", at=datetime(2027, 5, 4, 8, tzinfo=CEST), actor=MENTOR)
    (blocker,) = late.value.blockers
    assert isinstance(blocker, WindowClosed)
    assert blocker.closed_at == datetime(2027, 5, 4, tzinfo=CEST)

    # Rescheduling the visit moves the bound with it.
    p.schedule(
        "visit_date", date(2027, 5, 20), at=datetime(2027, 5, 4, 9, tzinfo=CEST), actor=FACILITATOR
    )
    p.submit("visit_structure", at=datetime(2027, 5, 4, 10, tzinfo=CEST), actor=MENTOR)
    with pytest.raises(StepBlocked) as early:
        p.fire("hold_visit", at=datetime(2027, 5, 19, 9, tzinfo=CEST), actor=MENTOR)
    assert kinds(early.value) == ["window_not_open"]
    p.fire("hold_visit", at=datetime(2027, 5, 20, 9, tzinfo=CEST), actor=MENTOR)
    assert p.state.state == "meeting_up"


# --- PM-02: nothing after nine months without a waiver -----------------------------------


@pytest.mark.rule("PM-02")
def test_no_step_after_nine_months_without_a_waiver(oriented: Programme) -> None:
    """PM-02: "four (4) main steps that need to be completed within a maximum period of nine
    (9) months", on the indicative timeline "Month 1" (the orientation) to "Month 7-9"; the
    preparatory step comes "1 - 4 weeks before". Started Monday 11 January 2027, oriented on
    Monday 1 February: the nine months end with 1 November (not 11 October, nine months from
    the preparatory step)."""
    p = working_together(oriented)
    within = datetime(2027, 10, 20, 9, tzinfo=CEST)  # past nine months from the start
    assert step(p, "submit", "learning_plan", within).allowed  # type: ignore[attr-defined]
    after = datetime(2027, 11, 2, 9, tzinfo=CET)
    with pytest.raises(StepBlocked) as refused:
        p.submit("learning_plan", at=after, actor=MENTOR, content=PLAN)
    (blocker,) = refused.value.blockers
    assert isinstance(blocker, WindowClosed)
    assert blocker.closed_at == datetime(2027, 11, 2, tzinfo=CET)
    assert "programme deadline" in blocker.rule
    assert step(p, "submit", "learning_plan", after - timedelta(hours=10)).allowed  # type: ignore[attr-defined]

    # A cancellation is not bound by the deadline; every other step is.
    blocked = {s.name for s in p.next_steps(after) if not s.allowed}
    assert {"learning_plan", "visit_structure", "hold_visit"} <= blocked
    assert "cancel" not in blocked

    p.waive(
        "submit",
        "learning_plan",
        ["window_closed"],
        reason="agreed extension",
        at=after,
        actor=FACILITATOR,
    )
    p.submit("learning_plan", at=after, actor=MENTOR, content=PLAN)


def test_deadlines_list_due_and_overdue(oriented: Programme) -> None:
    due = oriented.deadlines(cet(2, 10))
    by_name = {(d.kind, d.name): d for d in due}
    needs = by_name["submit", "learning_needs"]
    assert needs.due_at == datetime(2027, 2, 16, tzinfo=cet(1, 1).tzinfo)
    assert not needs.overdue and needs.owed_by == ("mentee-a", "mentee-b")
    # nine months from Month 1, the orientation on 1 February: the end of 1 November
    assert by_name["programme", "deadline"].due_at == datetime(2027, 11, 2, tzinfo=CET)

    oriented.submit("learning_needs", at=cet(2, 11), actor=MENTEE_A)
    late = {(d.kind, d.name): d for d in oriented.deadlines(cet(2, 20))}
    assert late["submit", "learning_needs"].overdue
    assert late["submit", "learning_needs"].owed_by == ("mentee-b",)


# --- the engine's own guarantees ---------------------------------------------------------


def test_refused_event_changes_nothing(oriented: Programme) -> None:
    before_state, before_history = oriented.state, list(oriented.history)
    with pytest.raises(StepBlocked):
        oriented.fire("hold_working_together", at=cet(2, 3), actor=FACILITATOR)
    assert oriented.state is before_state
    assert oriented.history == before_history


def test_events_may_not_go_back_in_time(oriented: Programme) -> None:
    with pytest.raises(EventError, match="must not go back in time"):
        oriented.submit("learning_needs", at=cet(1, 30), actor=MENTEE_A)


def test_naive_time_is_refused(prospect: CompiledDefinition, oriented: Programme) -> None:
    with pytest.raises(EventError, match="UTC offset"):
        oriented.next_steps(datetime(2027, 2, 3))


@pytest.mark.rule("PM-01")
def test_start_enforces_role_cardinality(prospect: CompiledDefinition) -> None:
    with pytest.raises(EventError, match="role 'mentor' allows at most 1, got 2"):
        Programme.start(
            prospect,
            "p",
            at=cet(1, 1),
            actor=FACILITATOR,
            participants=[
                ("fac", "facilitator"),
                ("m1", "mentor"),
                ("m2", "mentor"),
                ("e", "mentee"),
                ("f", "finance_coordinator"),
            ],
        )
    with pytest.raises(EventError, match="role 'mentee' needs at least 1, got 0"):
        Programme.start(
            prospect,
            "p",
            at=cet(1, 1),
            actor=FACILITATOR,
            participants=[("fac", "facilitator"), ("m1", "mentor"), ("f", "finance_coordinator")],
        )


def test_fold_of_history_equals_live_state(oriented: Programme) -> None:
    p = working_together(oriented)
    assert Programme.from_history(p.history).state == p.state


@pytest.mark.rule("PM-09", "PM-10")
def test_example_history_completes(prospect: CompiledDefinition) -> None:
    events = [e for _, e in read_history(example_path(prospect.id))]
    state = fold(events)
    assert state.state == "completed"
    assert state.next_seq == len(events)


def test_the_embedding_api_names_bad_arguments(
    prospect: CompiledDefinition, new_programme: Callable[[], Programme]
) -> None:
    """Mistakes a developer makes in Python are refused with what was expected, before
    anything is recorded, not with an AttributeError from deep inside."""
    cast = [(a.id, a.role) for a in (FACILITATOR, MENTOR, MENTEE_A, MENTEE_B)]
    with pytest.raises(EventError, match=r"actor must be a peerflow.Actor\(role, id\)"):
        Programme.start(
            prospect, "p", at=cet(1, 11), actor=("facilitator", "fac"), participants=cast
        )  # type: ignore[arg-type]
    with pytest.raises(EventError, match="participants must be a list of"):
        Programme.start(
            prospect, "p", at=cet(1, 11), actor=FACILITATOR, participants={"fac": "facilitator"}
        )  # type: ignore[arg-type]
    with pytest.raises(EventError, match=r"participants\[1\] must be an \(id, role\) pair"):
        Programme.start(
            prospect, "p", at=cet(1, 11), actor=FACILITATOR, participants=[cast[0], "mentor"]
        )  # type: ignore[list-item]
    p = new_programme()
    with pytest.raises(EventError, match="must be a date or an ISO date string"):
        p.schedule("orientation_date", cet(2, 1), at=cet(1, 11, 11), actor=FACILITATOR)
    with pytest.raises(EventError, match=r"actor must be a peerflow.Actor\(role, id\)"):
        p.fire("cancel", at=cet(1, 11, 11), actor="fac")  # type: ignore[arg-type]
    with pytest.raises(EventError, match="the payload must be JSON"):
        p.submit("peer_learning_agreement", at=cet(1, 12), actor=MENTOR, signed=date(2027, 1, 12))
    with pytest.raises(EventError, match="the payload must be JSON"):
        p.submit("peer_learning_agreement", at=cet(1, 12), actor=MENTOR, score=float("nan"))
    assert len(p.history) == 1  # nothing recorded
    p.schedule("orientation_date", "2027-02-01", at=cet(1, 11, 11), actor=FACILITATOR)
    assert p.state.scheduled_date("orientation_date") == date(2027, 2, 1)


# --- PM-02: the indicative months, shown and never enforced --------------------------------


def _brussels(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=ZoneInfo("Europe/Brussels"))


def _before(event_name: str) -> Programme:
    events = [e for _, e in peerflow.read_history(example_path("prospect-peer-mentoring"))]
    cut = next(i for i, e in enumerate(events) if e.payload.get("event") == event_name)
    return Programme.from_history(events[:cut])


@pytest.mark.rule("PM-02", "PM-04", "PM-06", "PM-07", "PM-10")
@pytest.mark.parametrize(
    ("event_name", "first_day", "last_day", "words"),
    [
        # started Monday 11 January 2027: "1 - 4 weeks before" the orientation
        ("hold_orientation", "2027-01-18", "2027-02-08", "Indicative Timeline: 1 - 4 weeks before"),
        # the orientation on 1 February 2027 is Month 1
        ("hold_working_together", "2027-03-01", "2027-05-01", "on Months 2 - 3"),
        ("hold_visit", "2027-05-01", "2027-08-01", "on Months 4-6"),
        ("hold_moving_forward", "2027-08-01", "2027-11-01", "on Months 7-9"),
    ],
)
def test_each_stage_is_advised_in_its_indicative_months(
    event_name: str, first_day: str, last_day: str, words: str
) -> None:
    """'These activities should take place on Months 2 - 3 of the peer mentoring programme'
    and the like: next steps and deadlines show the months; the step's own window decides."""
    p = _before(event_name)
    at = p.state.last_at
    (step,) = [s for s in p.next_steps(at) if s.name == event_name]
    assert step.advised_from == _brussels(first_day), words
    assert step.advised_by == _brussels(last_day) + timedelta(days=1), words
    (advice,) = [d for d in p.deadlines(at) if d.advisory]
    assert (advice.name, advice.due_at) == (event_name, step.advised_by)
    assert not advice.overdue
    late = [d for d in p.deadlines(step.advised_by) if d.advisory]
    assert late[0].overdue


@pytest.mark.rule("PM-02")
def test_a_visit_after_its_indicative_months_is_not_refused() -> None:
    """'should take place on Months 4-6': advice. A visit on 16 August 2027, after Month 6
    (which ends with 1 August for an orientation on 1 February), is recorded."""
    events = [e for _, e in peerflow.read_history(example_path("prospect-peer-mentoring"))]
    p = Programme.from_history(events[:16])  # the learning plan is in
    facilitator = Actor("facilitator", "anna-facilitator")
    p.schedule("visit_date", "2027-08-16", at=_brussels("2027-03-17T14:00"), actor=facilitator)
    p.submit("visit_structure", at=_brussels("2027-04-28T10:00"), actor=facilitator)
    p.fire("hold_visit", at=_brussels("2027-08-16T09:00"), actor=Actor("mentor", "ghent-mentor"))
    assert p.state.state == "meeting_up"
