"""Guards: everything that blocks a step at a moment, evaluated in full (not only up to the
first failure) so a refusal can say all of it, and the step as a facilitator is shown it.

The checks themselves are the functions of :mod:`peerflow.engine._checks`, shared with the
replay fast path; this module turns each failed check into a blocker and applies waivers.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from peerflow.engine._blockers import (
    Blocker,
    DateNotScheduled,
    MissingDeliverable,
    ParticipantLimit,
    RoleNotAllowed,
    TooFewOccurrences,
    TooFewParticipants,
    WindowClosed,
    WindowNotOpen,
)
from peerflow.engine._checks import earlier_close, missing_bits, quorum_shortfalls
from peerflow.engine._state import ProgrammeState, Waiver
from peerflow.engine._steps import JOIN, SUBMIT, Step
from peerflow.engine._tables import Layout, StepSpec
from peerflow.engine._windows import advised, anchor_of, deadline_instant, instant
from peerflow.events._envelope import Actor
from peerflow.model._types import Bound, Role

if TYPE_CHECKING:
    from peerflow.engine._compiled import CompiledDefinition


class Moment:
    """One evaluation moment of one programme: anchor days and the deadline, worked out once."""

    __slots__ = ("at", "days", "deadline", "layout", "st")

    def __init__(self, compiled: CompiledDefinition, st: ProgrammeState, at: datetime) -> None:
        self.st = st
        self.at = at
        self.days: dict[tuple[int, int], date | DateNotScheduled | None] = {}
        self.layout = layout(compiled, st)
        self.deadline = deadline_instant(compiled, self)


def layout(compiled: CompiledDefinition, st: ProgrammeState) -> Layout:
    """Who owes what, for the roles of ``st`` (cached: layouts repeat across programmes)."""
    return layout_of(compiled, st.roles)


def layout_of(compiled: CompiledDefinition, roles: bytes) -> Layout:
    """Who owes what, for participants holding ``roles`` (a role index each, in order)."""
    cache = compiled.layout_cache
    found = cache.get(roles)
    if found is None:
        width = len(compiled.deliverable_names)
        owed = tuple(
            sum(1 << (p * width + d) for p, role in enumerate(roles) if role in owing)
            for d, owing in enumerate(compiled.tables.owing_roles)
        )
        found = cache[roles] = Layout(owed)
    return found


def who(
    compiled: CompiledDefinition, st: ProgrammeState, deliverable: int, bits: int
) -> tuple[str, ...]:
    """The participants whose bits for ``deliverable`` are set in ``bits``."""
    width = len(compiled.deliverable_names)
    return tuple(
        pid for p, pid in enumerate(st.participants) if bits >> (p * width + deliverable) & 1
    )


def owing(
    compiled: CompiledDefinition, st: ProgrammeState, m_layout: Layout, deliverable: int
) -> tuple[str, ...]:
    """Who still owes ``deliverable``; empty once it is in."""
    bits = missing_bits(m_layout.owed[deliverable], compiled.tables.each[deliverable], st.submitted)
    return who(compiled, st, deliverable, bits)


def required(st: ProgrammeState, spec: StepSpec) -> tuple[int, ...]:
    """The deliverables a step needs now: its own, and those whose condition holds."""
    if not spec.requires_when:
        return spec.requires
    facts = st.facts
    return spec.requires + tuple(
        d for i, d in spec.requires_when if facts >> i & 1 and d not in spec.requires
    )


def actor_parts(actor: Actor | str | None) -> tuple[str | None, str | None]:
    """(role, participant) of whoever asks: an Actor, a role name alone, or nobody."""
    if actor is None:
        return None, None
    if isinstance(actor, str):
        return actor, None
    return actor.role, actor.id


def join_limit(
    st: ProgrammeState, name: str, role: Role
) -> tuple[ParticipantLimit | None, Waiver | None]:
    """At the role's maximum: the blocker, or the waiver that lifts it for one more join."""
    if role.max is None or st.count(name) < role.max:
        return None, None
    lifting = next((w for w in st.waivers if (w.step_kind, w.step) == (JOIN, name)), None)
    if lifting is not None and role.max_waivable:
        return None, lifting
    return ParticipantLimit(name, role.max, role.max_waivable), None


def evaluate(
    compiled: CompiledDefinition, m: Moment, spec: StepSpec, actor: Actor | str | None
) -> tuple[list[Blocker], list[Blocker], datetime | None, datetime | None]:
    """Every blocker of a step (waived ones apart) and its window's instants."""
    st, at = m.st, m.at
    tables = compiled.tables
    role, participant = actor_parts(actor)
    blockers: list[Blocker] = []
    if role is not None and role not in spec.roleset:
        blockers.append(RoleNotAllowed(role, spec.roles))
    if spec.quorum:
        for role_name, least, count in quorum_shortfalls(st.roles, spec.quorum):
            waivable = role_name not in tables.strict_minimums
            blockers.append(TooFewParticipants(role_name, least, count, waivable))
    for d in required(st, spec):
        bits = missing_bits(m.layout.owed[d], tables.each[d], st.submitted)
        if bits:
            blockers.append(
                MissingDeliverable(
                    compiled.deliverable_names[d], who(compiled, st, d, bits), tables.each[d]
                )
            )
    for position, event_name, least in spec.min_times:
        happened = st.counts[position] if st.counts else 0
        if happened < least:
            blockers.append(TooFewOccurrences(event_name, least, happened))
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    closes_rule = ""
    closes_bound: Bound | None = None
    ref = spec.opens
    if ref is not None:
        day = anchor_of(compiled, m, ref)
        if isinstance(day, date):
            opens_at = instant(compiled, ref, day, st, closing=False)
            if at < opens_at:
                blockers.append(WindowNotOpen(opens_at, "opens " + ref.text))
        elif day is None:
            blockers.append(WindowNotOpen(None, ref.text))
        else:
            blockers.append(day)
    ref = spec.closes
    if ref is not None:
        day = anchor_of(compiled, m, ref)
        if isinstance(day, date):
            closes_at = instant(compiled, ref, day, st, closing=True)
            closes_rule = "closes " + ref.text
            closes_bound = ref.bound
        elif day is not None and day not in blockers:
            blockers.append(day)
    by_deadline = False
    if spec.deadline and m.deadline is not None:
        closes_at, by_deadline = earlier_close(closes_at, m.deadline)
    if by_deadline:
        closes_rule = "programme deadline: " + tables.deadline.text  # type: ignore[union-attr]
        closes_bound = compiled.type.deadline
    if closes_at is not None and at >= closes_at:
        blockers.append(WindowClosed(closes_at, closes_rule, closes_bound))
    waived: list[Blocker] = []
    if st.waivers and blockers:
        for blocker in list(blockers):
            if blocker.can_be_waived() and is_waived(st, spec, blocker.kind, participant):
                blockers.remove(blocker)
                waived.append(blocker)
    return blockers, waived, opens_at, closes_at


def is_waived(st: ProgrammeState, spec: StepSpec, kind: str, participant: str | None) -> bool:
    """A waiver lifts this blocker of this step; without a participant (an overview) any
    waiver of the step counts."""
    return any(
        w.step_kind == spec.kind
        and w.step == spec.name
        and w.blocker == kind
        and (w.participant is None or participant is None or w.participant == participant)
        for w in st.waivers
    )


def step_of(
    compiled: CompiledDefinition, m: Moment, spec: StepSpec, actor: Actor | str | None
) -> Step:
    """The step as it stands at ``m``: allowed or blocked, its window, who still owes it."""
    blockers, waived, opens_at, closes_at = evaluate(compiled, m, spec, actor)
    owed_by: tuple[str, ...] = ()
    if spec.kind == SUBMIT:
        owed_by = owing(compiled, m.st, m.layout, spec.index)
    advised_from, advised_by = advised(compiled, m, spec)
    return Step(
        kind=spec.kind,
        name=spec.name,
        title=spec.title,
        allowed=not blockers,
        blockers=tuple(blockers),
        roles=spec.roles,
        dest=spec.dest,
        owed_by=owed_by,
        waived=tuple(waived),
        opens_at=opens_at,
        closes_at=closes_at,
        advised_from=advised_from,
        advised_by=advised_by,
    )
