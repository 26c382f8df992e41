"""Steps that are not a state's own: joining a role, claiming costs, paying a claim.

They are offered beside the state's steps (``next_steps(..., participation=True)``) so a
facilitator sees who may still join, that costs can be claimed, and which claims wait for
payment, each with what blocks it, judged by the same rules the event handlers apply.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from peerflow.engine._blockers import Blocker, RoleNotAllowed
from peerflow.engine._budget import claims_open
from peerflow.engine._guards import actor_parts, join_limit
from peerflow.engine._state import ProgrammeState
from peerflow.engine._steps import Step
from peerflow.engine._windows import payment_due
from peerflow.events._envelope import Actor
from peerflow.model._types import SELF

if TYPE_CHECKING:
    from peerflow.engine._compiled import CompiledDefinition


def participation_steps(
    compiled: CompiledDefinition, st: ProgrammeState, at: datetime, actor: Actor | str | None
) -> list[Step]:
    """Joins open in this state, a claim where the budget takes one now, each unpaid claim."""
    t = compiled.type
    role, _ = actor_parts(actor)
    steps: list[Step] = []
    live = t.live_states()
    for name, r in t.roles.items():
        if not r.joins_later or st.state not in (r.join_during or live):
            continue
        # a role joined by SELF is joined by a newcomer acting in that very role
        roles = tuple(dict.fromkeys(name if who == SELF else who for who in r.joined_by))
        blockers: list[Blocker] = []
        if role is not None and role not in roles:
            blockers.append(RoleNotAllowed(role, roles))
        limit, _ = join_limit(st, name, r)
        if limit is not None:
            blockers.append(limit)
        steps.append(
            Step(
                kind="join",
                name=name,
                title=f"Join as {r.title or name}",
                allowed=not blockers,
                blockers=tuple(blockers),
                roles=roles,
            )
        )
    budget = t.budget
    if budget is None:
        return steps
    if claims_open(budget, st.state):
        roles = tuple(budget.roles)
        blockers = [RoleNotAllowed(role, roles)] if role is not None and role not in roles else []
        steps.append(
            Step(
                kind="claim",
                name="claim",
                title=f"Claim costs ({budget.currency})",
                allowed=not blockers,
                blockers=tuple(blockers),
                roles=roles,
            )
        )
    for claim in st.claims:
        if claim.paid_at is not None:
            continue
        payers = budget.paid_by
        blockers = [RoleNotAllowed(role, payers)] if role is not None and role not in payers else []
        steps.append(
            Step(
                kind="pay",
                name=claim.id,
                title=f"Reimburse {claim.claimant}: {claim.reimbursable} {budget.currency}",
                allowed=not blockers,
                blockers=tuple(blockers),
                roles=payers,
                closes_at=payment_due(compiled, st, claim),
            )
        )
    return steps


def join_moves(
    definition: CompiledDefinition, st: ProgrammeState, later: tuple[Actor, ...]
) -> list[tuple[Actor, Actor]]:
    """``(acting, joining)`` for each role's next participant still to join, where the
    definition lets them join now: themselves, or added by a participant of ``joined_by``."""
    t = definition.type
    moves: list[tuple[Actor, Actor]] = []
    roles_seen: set[str] = set()
    for newcomer in later:
        if newcomer.role in roles_seen or st.index_of(newcomer.id) is not None:
            continue
        roles_seen.add(newcomer.role)  # participants of one role are interchangeable
        role = t.roles[newcomer.role]
        if st.state not in (role.join_during or t.live_states()):
            continue
        if role.max is not None and st.count(newcomer.role) >= role.max:
            continue
        if SELF in role.joined_by:
            moves.append((newcomer, newcomer))
            continue
        holders = st.holders(role.joined_by)
        if holders:
            moves.append((Actor(st.role_of(holders[0]) or "", holders[0]), newcomer))
    return moves
