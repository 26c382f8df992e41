"""Applying events: the envelope every event must pass, then one handler per event type
(fire, submit, schedule, waive, join, claim, pay), each a pure function from state to state.

Strict use raises on the first refusal and changes nothing; an audit (``found`` given) notes
the blockers a recorded event went through and applies it anyway, so replaying real history
and running live share every line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import attrs

from peerflow._errors import EventError, StepBlocked, StepNotAvailable
from peerflow.engine._blockers import (
    WAIVABLE_KINDS,
    Blocker,
    OverBudget,
    RoleNotAllowed,
)
from peerflow.engine._budget import Claim, amount, assess_claim, claims_open, in_money_context
from peerflow.engine._checks import scheduled_day
from peerflow.engine._content import check_content
from peerflow.engine._guards import Moment, evaluate, join_limit
from peerflow.engine._payloads import (
    _check_starter,
    _participants,
    _require_actor,
    _require_aware,
)
from peerflow.engine._state import ID_SEPARATOR, ProgrammeState, Waiver
from peerflow.engine._steps import FIRE, JOIN, SCHEDULE, STEP_KINDS, SUBMIT
from peerflow.engine._tables import StepSpec
from peerflow.events._envelope import Event, id_problem
from peerflow.model._calendar import known_countries, local_date, zone
from peerflow.model._types import SELF, Budget, Role

if TYPE_CHECKING:
    from peerflow.engine._compiled import CompiledDefinition


def start_state(compiled: CompiledDefinition, event: Event) -> ProgrammeState:
    """The state a ``start`` event creates."""
    if event.type != "start":
        raise EventError(
            f"a programme's first event must be 'start', not '{event.type}'", seq=event.seq
        )
    if event.seq != 0:
        raise EventError(f"'start' must have seq 0, not {event.seq}", seq=event.seq)
    _require_aware(event.at, event.seq)
    _require_actor(event)
    p = event.payload
    t = compiled.type
    if p.get("definition", t.id) != t.id:
        raise EventError(
            f"start names definition {p.get('definition')!r}, not '{t.id}'", seq=event.seq
        )
    if p.get("version", t.version) != t.version:
        raise EventError(
            f"programme started on version {p.get('version')!r} of '{t.id}', "
            f"but version {t.version} is loaded; load the version it started on",
            seq=event.seq,
        )
    members = _participants(p.get("participants"), t, event.seq)
    _check_starter(event.actor, members, t, event.seq)
    tz = p.get("timezone", t.timezone)
    country = p.get("country", t.country)
    try:
        zone(tz)
    except Exception:
        raise EventError(f"payload.timezone: unknown time zone {tz!r}", seq=event.seq) from None
    if country is not None and country not in known_countries():
        raise EventError(
            f"payload.country: no public holiday calendar for {country!r} "
            "(expected an ISO 3166 code such as BE, DE, ES)",
            seq=event.seq,
        )
    return ProgrammeState(
        definition=compiled,
        programme=event.programme,
        state=t.initial,
        next_seq=1,
        started_at=event.at,
        last_at=event.at,
        timezone=tz,
        country=country,
        people=ID_SEPARATOR.join(pid for pid, _ in members),
        roles=bytes(compiled.role_index[role] for _, role in members),
        marks=compiled.no_marks,
    )


def check_envelope(
    compiled: CompiledDefinition, st: ProgrammeState, event: Event, found: list[Blocker] | None
) -> None:
    """Refuse an event that does not continue this programme (its id, seq, time order, actor).

    Only the actor's wrong role is an audit finding; everything else here is malformed history.
    """
    if event.programme != st.programme:
        raise EventError(
            f"event is for programme '{event.programme}', not '{st.programme}'", seq=event.seq
        )
    if event.seq != st.next_seq:
        raise EventError(
            f"expected seq {st.next_seq}, got {event.seq} (seq counts 0, 1, 2, ... without gaps)",
            seq=event.seq,
        )
    _require_aware(event.at, event.seq)
    if event.at < st.last_at:
        raise EventError(
            f"at {event.at.isoformat()} is before the previous event "
            f"({st.last_at.isoformat()}): events must not go back in time",
            seq=event.seq,
        )
    if event.type == "start":
        raise EventError("the programme has already started", seq=event.seq)
    _require_actor(event)
    role = st.role_of(event.actor.id)
    if role is None and event.type == "join" and _joins_self(event):
        return  # a participant joining themselves is not one yet
    if role is None:
        raise EventError(f"actor '{event.actor.id}' is not a participant", seq=event.seq)
    if role != event.actor.role and found is not None:
        found.append(RoleNotAllowed(event.actor.role, (role,)))
    elif role != event.actor.role:
        raise EventError(
            f"actor '{event.actor.id}' takes part as '{role}', not '{event.actor.role}'",
            seq=event.seq,
        )


def _lookup(
    compiled: CompiledDefinition, st: ProgrammeState, kind: str, name: Any, seq: int
) -> StepSpec:
    """The step an event names, or StepNotAvailable listing what the state offers."""
    spec = compiled.tables.by_kind[kind][st.state].get(name) if isinstance(name, str) else None
    if spec is None:
        available = [f"{s.kind} {s.name}" for s in compiled.tables.specs[st.state]]
        raise StepNotAvailable(f"{kind} {name}", st.state, available, seq=seq)
    return spec


def _checked(
    compiled: CompiledDefinition,
    st: ProgrammeState,
    spec: StepSpec,
    event: Event,
    found: list[Blocker] | None,
    extra: Blocker | None = None,
) -> None:
    """Evaluate the step at the event's moment, with ``extra`` (incomplete content) added."""
    blockers, _, _, _ = evaluate(compiled, Moment(compiled, st, event.at), spec, event.actor)
    if extra is not None:
        blockers.append(extra)
    _blocked(compiled, f"{spec.kind} {spec.name}", blockers, event, found)


def _fire_event(
    compiled: CompiledDefinition, st: ProgrammeState, event: Event, found: list[Blocker] | None
) -> ProgrammeState:
    spec = _lookup(compiled, st, FIRE, event.payload.get("event"), event.seq)
    _checked(compiled, st, spec, event, found)
    assert spec.dest is not None
    i = spec.index
    marks = (*st.marks[:i], event.at, *st.marks[i + 1 :])
    for d in compiled.tables.renewed_dates.get(i, ()):  # to be set again for the next occurrence
        at = len(compiled.event_names) + d
        marks = (*marks[:at], None, *marks[at + 1 :])
    counts, submitted = st.counts, st.submitted
    position = compiled.tables.counted_at.get(i)
    if position is not None:
        counts = counts or (0,) * len(compiled.counted_events)
        counted = min(counts[position] + 1, compiled.tables.count_caps[position])
        counts = (*counts[:position], counted, *counts[position + 1 :])
    renewed = compiled.tables.renewed_by.get(i)
    if renewed:  # owed anew after this step: its earlier submissions no longer count
        width = len(compiled.deliverable_names)
        for p in range(len(st.roles)):
            for d in renewed:
                submitted &= ~(1 << (p * width + d))
    # Waivers were granted for steps of the state being left: they end with it.
    return advanced(
        st,
        event.at,
        state=spec.dest,
        marks=marks,
        waivers=(),
        submitted=submitted,
        counts=counts,
    )


def _submit_event(
    compiled: CompiledDefinition, st: ProgrammeState, event: Event, found: list[Blocker] | None
) -> ProgrammeState:
    spec = _lookup(compiled, st, SUBMIT, event.payload.get("deliverable"), event.seq)
    parts = compiled.tables.content_parts.get(spec.name)
    content = check_content(spec.name, parts, event.payload.get("content")) if parts else None
    _checked(compiled, st, spec, event, found, content)
    waivers = st.waivers
    if waivers:
        waivers = tuple(
            w
            for w in waivers
            if not (
                w.step_kind == SUBMIT and w.step == spec.name and w.participant == event.actor.id
            )
        )
    index = st.index_of(event.actor.id)
    assert index is not None  # the envelope check made sure
    bit = index * len(compiled.deliverable_names) + spec.index
    facts = st.facts
    given = event.payload.get("content")
    for i, part, equals in compiled.tables.watched.get(spec.name, ()):
        value = given.get(part) if isinstance(given, Mapping) else None
        # the latest submission decides; 1 is not True and "1" is not 1
        if type(value) is type(equals) and value == equals:
            facts |= 1 << i
        else:
            facts &= ~(1 << i)
    return advanced(st, event.at, submitted=st.submitted | (1 << bit), waivers=waivers, facts=facts)


def _schedule_event(
    compiled: CompiledDefinition, st: ProgrammeState, event: Event, found: list[Blocker] | None
) -> ProgrammeState:
    spec = _lookup(compiled, st, SCHEDULE, event.payload.get("date"), event.seq)
    try:
        day = scheduled_day(event.payload.get("value"))
    except ValueError as exc:
        raise EventError(str(exc), seq=event.seq) from None
    _checked(compiled, st, spec, event, found)
    i = spec.index
    i += len(compiled.event_names)
    return advanced(st, event.at, marks=(*st.marks[:i], day, *st.marks[i + 1 :]))


def _waive_event(
    compiled: CompiledDefinition, st: ProgrammeState, event: Event, found: list[Blocker] | None
) -> ProgrammeState:
    p = event.payload
    if event.actor.role not in compiled.type.waivable_by:
        _blocked(
            compiled,
            "waive",
            [RoleNotAllowed(event.actor.role, compiled.type.waivable_by)],
            event,
            found,
        )
    target = p.get("step")
    if not isinstance(target, dict) or target.get("kind") not in (*STEP_KINDS, JOIN):
        raise EventError(
            "payload.step must be {kind: fire|submit|schedule|join, name: ...}", seq=event.seq
        )
    kinds = p.get("blockers")
    if not isinstance(kinds, list) or not kinds:
        raise EventError("payload.blockers must list the blocker kinds to waive", seq=event.seq)
    if target["kind"] == JOIN:
        return _waive_join(compiled, st, event, target.get("name"), kinds)
    spec = _lookup(compiled, st, target["kind"], target.get("name"), event.seq)
    if "participant_limit" in kinds:
        raise EventError(
            "payload.blockers: participant_limit is waived for a join: "
            "step {kind: join, name: ROLE}",
            seq=event.seq,
        )
    for kind in kinds:
        if not isinstance(kind, str) or kind not in WAIVABLE_KINDS:
            raise EventError(
                f"payload.blockers: {kind!r} cannot be waived "
                f"(waivable: {', '.join(sorted(WAIVABLE_KINDS))})",
                seq=event.seq,
            )
    strict = [role for _, role, _ in spec.quorum if role in compiled.tables.strict_minimums]
    if "too_few_participants" in kinds and strict and len(strict) == len(spec.quorum):
        raise EventError(
            f"payload.blockers: the minimum of role {', '.join(strict)} cannot be waived "
            f"('{compiled.id}' says min_waivable: false)",
            seq=event.seq,
        )
    reason = p.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise EventError("payload.reason must say why the blocker is waived", seq=event.seq)
    participant = p.get("participant")
    if participant is not None and (
        not isinstance(participant, str) or st.role_of(participant) is None
    ):
        raise EventError(f"payload.participant {participant!r} is not a participant", seq=event.seq)
    new = tuple(
        Waiver(spec.kind, spec.name, kind, reason, event.seq, participant) for kind in kinds
    )
    return advanced(st, event.at, waivers=st.waivers + new)


def _joining_role(compiled: CompiledDefinition, name: Any) -> Role | None:
    """The role ``name`` if its participants join after the start, else None."""
    role = compiled.type.roles.get(name) if isinstance(name, str) else None
    return role if role is not None and role.joins_later else None


def _joinable(compiled: CompiledDefinition) -> str:
    """The roles whose participants join after the start, for a refusal's hint."""
    return ", ".join(n for n, r in compiled.type.roles.items() if r.joins_later) or "none"


def _waive_join(
    compiled: CompiledDefinition, st: ProgrammeState, event: Event, role_name: Any, kinds: list[Any]
) -> ProgrammeState:
    """A waiver of a role's maximum, for one more join while the programme stays put."""
    role = _joining_role(compiled, role_name)
    if role is None:
        raise EventError(
            f"payload.step: {role_name!r} is not a role participants join "
            f"(roles that can: {_joinable(compiled)})",
            seq=event.seq,
        )
    if kinds != ["participant_limit"]:
        raise EventError(
            "payload.blockers: a join's only waivable blocker is participant_limit",
            seq=event.seq,
        )
    if not role.max_waivable:
        raise EventError(
            f"payload.blockers: the maximum of role {role_name} cannot be waived "
            f"('{compiled.id}' does not say max_waivable: true)",
            seq=event.seq,
        )
    reason = event.payload.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise EventError("payload.reason must say why the blocker is waived", seq=event.seq)
    waiver = Waiver(JOIN, role_name, "participant_limit", reason, event.seq)
    return advanced(st, event.at, waivers=(*st.waivers, waiver))


def _join_event(
    compiled: CompiledDefinition, st: ProgrammeState, event: Event, found: list[Blocker] | None
) -> ProgrammeState:
    p = event.payload
    pid, role_name = p.get("participant"), p.get("role")
    problem = id_problem(pid)
    if problem is not None or not isinstance(pid, str):
        raise EventError(
            f"payload.participant must be the joining participant's id: it {problem}",
            seq=event.seq,
        )
    role = _joining_role(compiled, role_name)
    if role is None:
        raise EventError(
            f"payload.role: participants of role {role_name!r} cannot join after the start "
            f"(roles that can: {_joinable(compiled)})",
            seq=event.seq,
        )
    during = role.join_during or compiled.type.live_states()
    if st.state not in during:
        raise StepNotAvailable(
            f"join as {role_name}",
            st.state,
            [f"join during {', '.join(during)}"],
            seq=event.seq,
        )
    if st.index_of(pid) is not None:
        raise EventError(f"'{pid}' already takes part as '{st.role_of(pid)}'", seq=event.seq)
    blockers: list[Blocker] = []
    if _joins_self(event):
        if SELF not in role.joined_by:
            blockers.append(RoleNotAllowed(event.actor.role, role.joined_by))
    elif event.actor.role not in role.joined_by:
        blockers.append(RoleNotAllowed(event.actor.role, role.joined_by))
    assert role_name is not None
    waivers = st.waivers
    limit, lifting = join_limit(st, role_name, role)
    if lifting is not None:
        waivers = tuple(w for w in waivers if w is not lifting)  # one join each
    elif limit is not None:
        blockers.append(limit)
    _blocked(compiled, f"join {pid} as {role_name}", blockers, event, found)
    people = pid if not st.people else st.people + ID_SEPARATOR + pid
    roles = st.roles + bytes((compiled.role_index[role_name],))
    return advanced(st, event.at, people=people, roles=roles, waivers=waivers)


def _budget_or_refuse(compiled: CompiledDefinition, event: Event) -> Budget:
    budget = compiled.type.budget
    if budget is None:
        raise EventError(f"'{compiled.id}' has no budget: nothing to claim or pay", seq=event.seq)
    return budget


def _claim_event(
    compiled: CompiledDefinition, st: ProgrammeState, event: Event, found: list[Blocker] | None
) -> ProgrammeState:
    budget = _budget_or_refuse(compiled, event)
    if not claims_open(budget, st.state):
        raise StepNotAvailable(
            "claim",
            st.state,
            [f"claim during {', '.join(budget.claims_during)}"],
            seq=event.seq,
        )
    claim, blockers = assess_claim(
        budget,
        event.actor.role,
        event.actor.id,
        event.payload,
        st.claims,
        event.seq,
        local_date(event.at, st.timezone),
    )
    accept_cap = event.payload.get("accept_cap", False)
    if accept_cap is not True and accept_cap is not False:
        raise EventError("payload.accept_cap must be true or false", seq=event.seq)
    if accept_cap:
        blockers = [b for b in blockers if not isinstance(b, OverBudget)]
    _blocked(compiled, f"claim {claim.id}", blockers, event, found)
    return advanced(st, event.at, claims=(*st.claims, claim))


@in_money_context
def _pay_event(
    compiled: CompiledDefinition, st: ProgrammeState, event: Event, found: list[Blocker] | None
) -> ProgrammeState:
    budget = _budget_or_refuse(compiled, event)
    if event.actor.role not in budget.paid_by:
        _blocked(compiled, "pay", [RoleNotAllowed(event.actor.role, budget.paid_by)], event, found)
    claim_id = event.payload.get("claim")
    claim = st.claim(claim_id) if isinstance(claim_id, str) else None
    if claim is None:
        raise EventError(f"payload.claim: no claim {claim_id!r} is recorded", seq=event.seq)
    if claim.paid_at is not None:
        raise EventError(f"claim '{claim.id}' is already paid", seq=event.seq)
    value = event.payload.get("amount")
    paid = claim.reimbursable if value is None else amount(value, "payload.amount", event.seq)
    if paid > claim.reimbursable:
        excess = OverBudget(
            f"payment of claim '{claim.id}'",
            claim.reimbursable,
            paid,
            paid - claim.reimbursable,
            "what the claim may be reimbursed",
        )
        _blocked(compiled, f"pay {claim.id}", [excess], event, found)
    done = attrs.evolve(claim, paid_at=event.at, paid=paid)
    claims = tuple(done if c is claim else c for c in st.claims)
    return advanced(st, event.at, claims=claims)


def _blocked(
    compiled: CompiledDefinition,
    step: str,
    blockers: list[Blocker],
    event: Event,
    found: list[Blocker] | None,
) -> None:
    """Strict: refuse a blocked step. Auditing (``found`` given): note the blockers, go on."""
    if not blockers:
        return
    if found is None:
        raise StepBlocked(step, blockers, seq=event.seq, waivable_by=compiled.type.waivable_by)
    found.extend(blockers)


def _joins_self(event: Event) -> bool:
    return event.payload.get("participant") == event.actor.id


def advanced(
    st: ProgrammeState,
    at: datetime,
    *,
    state: str | None = None,
    submitted: int | None = None,
    marks: tuple[date | None, ...] | None = None,
    waivers: tuple[Waiver, ...] | None = None,
    people: str | None = None,
    roles: bytes | None = None,
    claims: tuple[Claim, ...] | None = None,
    facts: int | None = None,
    counts: tuple[int, ...] | None = None,
) -> ProgrammeState:
    """The state one event later (a direct constructor call: ``attrs.evolve`` is slower)."""
    return ProgrammeState(
        st.definition,
        st.programme,
        st.state if state is None else state,
        st.next_seq + 1,
        st.started_at,
        at,
        st.timezone,
        st.country,
        st.people if people is None else people,
        st.roles if roles is None else roles,
        st.submitted if submitted is None else submitted,
        st.marks if marks is None else marks,
        st.waivers if waivers is None else waivers,
        st.claims if claims is None else claims,
        st.facts if facts is None else facts,
        st.counts if counts is None else counts,
    )


Handler = Callable[
    ["CompiledDefinition", ProgrammeState, Event, "list[Blocker] | None"], ProgrammeState
]

HANDLERS: Mapping[str, Handler] = {
    "fire": _fire_event,
    "submit": _submit_event,
    "schedule": _schedule_event,
    "waive": _waive_event,
    "join": _join_event,
    "claim": _claim_event,
    "pay": _pay_event,
}


def apply_event(
    compiled: CompiledDefinition,
    st: ProgrammeState,
    event: Event,
    found: list[Blocker] | None,
) -> ProgrammeState:
    """The state after ``event``: strict when ``found`` is None, else an audit into it."""
    check_envelope(compiled, st, event, found)
    handler = HANDLERS.get(event.type)
    if handler is None:
        raise EventError(f"event type '{event.type}' cannot be applied here", seq=event.seq)
    return handler(compiled, st, event, found)
