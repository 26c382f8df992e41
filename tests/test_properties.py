"""Property-based tests: random event sequences against the strict engine.

For every built-in definition, hypothesis draws sequences of attempts (fire,
submit, schedule, waive) by random participants at random later moments,
biased towards steps that are allowed so runs reach deep states. Invariants:

- the engine accepts an attempt exactly when ``next_steps`` lists it as
  allowed for that actor at that moment, and refuses with the same blockers;
- a refused attempt changes neither the state nor the history;
- the ``transitions`` Machine, triggered with the same context, agrees;
- folding the accepted history again gives the same state.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from support import complete_content

import peerflow
from peerflow import (
    Actor,
    CompiledDefinition,
    EventError,
    Programme,
    StepBlocked,
    StepNotAvailable,
)
from peerflow._engine import MachineContext

START = datetime(2027, 1, 11, 9, tzinfo=timezone(timedelta(hours=1)))
WAIVABLE = ["missing_deliverable", "window_not_open", "window_closed", "date_not_scheduled"]


def cast_for(definition: CompiledDefinition) -> list[Actor]:
    """Two participants for roles that allow several, else as many as the role allows."""
    actors = []
    for name, role in definition.type.roles.items():
        count = max(role.min, min(2, role.max if role.max is not None else 2))
        actors.extend(Actor(name, f"{name}-{i}") for i in range(count))
    return actors


def all_steps(definition: CompiledDefinition) -> list[tuple[str, str]]:
    t = definition.type
    return (
        [("fire", tr.event) for tr in t.transitions]
        + [("submit", name) for name in t.deliverables]
        + [("schedule", name) for name in t.dates]
    )


def machine_agrees(
    p: Programme, kind: str, name: str, at: datetime, actor: Actor, accepted: bool, dest: str
) -> None:
    if kind != "fire":
        return
    machine = p.definition.machine
    before = p.state  # the state the attempt was judged on is passed in by the caller
    event = machine.events.get(name)
    if event is None or before.state not in event.transitions:
        assert not accepted
        return
    ctx = MachineContext(before.state, before, at, actor)
    assert event.trigger(ctx) is accepted
    assert ctx.state == (dest if accepted else before.state)


def attempt(
    p: Programme, kind: str, name: str, at: datetime, actor: Actor, data: st.DataObject
) -> None:
    if kind == "fire":
        p.fire(name, at=at, actor=actor)
    elif kind == "submit":
        content = complete_content(p.definition, name)
        if content is None:
            p.submit(name, at=at, actor=actor)
        else:
            p.submit(name, at=at, actor=actor, content=content)
    elif kind == "schedule":
        days = data.draw(st.integers(7, 30), label="scheduled in days")
        p.schedule(name, (at + timedelta(days=days)).date(), at=at, actor=actor)


@pytest.mark.parametrize("definition_id", sorted(peerflow.builtin_files()))
@given(data=st.data())
def test_strict_engine_accepts_exactly_the_allowed_steps(
    definition_id: str, data: st.DataObject
) -> None:
    definition = peerflow.definition(definition_id)
    cast = cast_for(definition)
    p = Programme.start(
        definition, "prop", at=START, actor=cast[0], participants=[(a.id, a.role) for a in cast]
    )
    steps = all_steps(definition)
    at = START
    # Escapes (cancel, reject: straight to an end, needing nothing) are kept rare.
    t = definition.type
    escapes = {tr.event for tr in t.transitions if t.states[tr.dest].terminal and not tr.requires}
    for _ in range(data.draw(st.integers(30, 150), label="attempts")):
        at = at + timedelta(hours=data.draw(st.integers(0, 24 * 6), label="hours later"))
        # Escapes (cancel from any state) are rare, or no run would get far.
        # (hypothesis draws its simplest value, the first, far more often than 1 in n)
        avoid = (
            set() if data.draw(st.sampled_from([False] * 39 + [True]), label="escape?") else escapes
        )
        progress = [
            (who, s)
            for who in cast
            for s in p.next_steps(at, who)
            if s.allowed and s.name not in avoid
        ]
        openings = [s.opens_at for s in p.next_steps(at) if s.opens_at and s.opens_at > at]
        if openings and (not progress or data.draw(st.integers(0, 3), label="clock?") == 0):
            at = data.draw(st.sampled_from(openings), label="opening") + timedelta(hours=9)
            progress = [
                (who, s)
                for who in cast
                for s in p.next_steps(at, who)
                if s.allowed and s.name not in escapes
            ]
        mode = data.draw(st.integers(0, 9), label="mode")
        if progress and mode <= 6:
            actor, chosen = data.draw(st.sampled_from(progress), label="allowed step")
            kind, name = chosen.kind, chosen.name
            offered = p.next_steps(at, actor)
        elif mode == 7:
            actor = data.draw(st.sampled_from(cast), label="actor")
            offered = p.next_steps(at, actor)
            if not offered:
                continue
            target = data.draw(st.sampled_from(offered), label="step to waive")
            blockers = data.draw(
                st.lists(st.sampled_from(WAIVABLE), min_size=1, max_size=2, unique=True),
                label="waived kinds",
            )
            try:
                p.waive(
                    target.kind, target.name, blockers, reason="property test", at=at, actor=actor
                )
            except StepBlocked as refused:
                assert actor.role not in definition.type.waivable_by
                assert [b.kind for b in refused.blockers] == ["role"]
            continue
        else:
            actor = data.draw(st.sampled_from(cast), label="actor")
            offered = p.next_steps(at, actor)
            kind, name = data.draw(st.sampled_from(steps), label="any step")
            if name in avoid:
                continue
        step = next((s for s in offered if (s.kind, s.name) == (kind, name)), None)
        before_state, before_len = p.state, len(p.history)
        try:
            attempt(p, kind, name, at, actor, data)
        except StepNotAvailable:
            assert step is None, f"{kind} {name} was offered but the engine has no such step"
            accepted = False
        except StepBlocked as refused:
            assert step is not None and not step.allowed
            assert refused.blockers == step.blockers
            accepted = False
        except EventError as exc:  # pragma: no cover - would be a bug in the driver
            raise AssertionError(f"unexpected refusal: {exc}") from exc
        else:
            assert step is not None and step.allowed, f"accepted {kind} {name} with blockers"
            accepted = True
        if not accepted:
            assert p.state is before_state and len(p.history) == before_len
        machine_agrees(
            Programme(before_state, []),
            kind,
            name,
            at,
            actor,
            accepted,
            step.dest or "" if step else "",
        )
        if p.state.terminal:
            break
    event(f"ended in {p.state.state}")
    assert Programme.from_history(p.history).state == p.state
