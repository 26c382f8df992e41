"""Property-based tests: a hypothesis state machine drives every built-in definition.

Each run starts a programme with a random-sized cast and then, in an order hypothesis
chooses, lets the clock pass (by hours, or to the next window boundary), takes steps the
engine lists as allowed, attempts any step by any participant, waives blockers, lets people
join, claims expenses, pays claims, and sends malformed events. After every rule:

- a refused event changed neither the state nor the history;
- an accepted fire/submit/schedule had been listed as allowed, with no blockers left;
- replaying the accepted history gives the same state;
- the state survives a snapshot (``dump_state``/``load_state``, cattrs) as an equal value;
- ``next_steps`` lists as allowed exactly the steps the engine accepts at that moment,
  refuses the others with the blockers it listed, and every step it does not list is
  refused as not available;
- a reference interpreter of the definition language (``tests/oracle.py``, written from
  docs/definition-language.md and docs/concepts.md without the engine's evaluation) gives the
  same verdict on every step tried and listed (not available, refused by the same kinds of
  blocker, or allowed), reads every accepted event the same way, and holds the same state,
  participants and owed deliverables;
- replaying the history through the file replay's fast path ends in the live state;
- the ``transitions`` Machine, triggered with the same context, agrees on each fire (its guard
  is the engine's own evaluation: this checks the wiring, the reference checks the rules).

Hypothesis shrinks a failure to a short rule sequence; its database lives in
``.hypothesis/`` (ignored by git). ``pytest --hypothesis-profile=deep`` runs more examples.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from oracle import Reference
from support import complete_content

import peerflow
from peerflow import (
    Actor,
    CompiledDefinition,
    Event,
    EventError,
    Programme,
    ProgrammeState,
    Step,
    StepBlocked,
    StepNotAvailable,
)
from peerflow.checking import Exploration, explore
from peerflow.checking._explorer import split_cast
from peerflow.engine._blockers import WAIVABLE_KINDS
from peerflow.engine._compiled import MachineContext

START = datetime(2027, 1, 11, 9, tzinfo=timezone(timedelta(hours=1)))
AGREED: Counter[tuple[str, str]] = Counter()
"""(definition, verdict) -> how many times engine and reference agreed on it (for
tools/oracle_agreement.py, which prints them for docs/verification.md)."""
WAIVABLE = sorted(WAIVABLE_KINDS)
STEP_KINDS = ("fire", "submit", "schedule")


def all_steps(definition: CompiledDefinition) -> list[tuple[str, str]]:
    t = definition.type
    return (
        [("fire", name) for name in definition.event_names]
        + [("submit", name) for name in t.deliverables]
        + [("schedule", name) for name in t.dates]
    )


def step_event(
    st_: ProgrammeState, at: datetime, actor: Actor, kind: str, name: str, choice: int = 0
) -> Event:
    """The event that takes step ``kind name`` now (a schedule sets a date two weeks on);
    ``choice`` picks the value of each ``one_of`` part (the minutes' "changes discussed?")."""
    payload: dict[str, Any]
    if kind == "fire":
        payload = {"event": name}
    elif kind == "submit":
        payload = {"deliverable": name}
        content = complete_content(st_.definition, name)
        if content is not None:
            for part_name, part in st_.definition.type.deliverables[name].content.items():
                if part.one_of is not None:
                    content[part_name] = part.one_of[choice % len(part.one_of)]
            payload["content"] = content
    else:
        payload = {"date": name, "value": (at + timedelta(days=14)).date().isoformat()}
    return Event(st_.programme, st_.next_seq, f"e{st_.next_seq}", at, actor, kind, payload)


@functools.cache
def exploration(definition_id: str) -> Exploration:
    """A bounded exploration of the definition: runs may start at any node it reached."""
    return explore(peerflow.definition(definition_id), max_nodes=2000)


class ProgrammeRun(RuleBasedStateMachine):
    """One programme of ``definition``, driven by hypothesis; subclassed per definition."""

    definition: ClassVar[CompiledDefinition]

    def __init__(self) -> None:
        super().__init__()
        self.cast: list[Actor] = []
        self.at = START
        self.accepted = 0
        self.refused = 0

    # --- set-up -------------------------------------------------------------------

    @initialize(data=st.data())
    def start(self, data: st.DataObject) -> None:
        t = self.definition.type
        explored = exploration(self.definition.id)
        if data.draw(st.booleans(), label="start somewhere the explorer reached?"):
            node = data.draw(st.integers(0, len(explored.states) - 1), label="explored node")
            self.programme = Programme.from_history(explored.history_to(node))
            self.cast = [a for a in explored.cast if self.state.role_of(a.id) == a.role]
            self.at = explored.moments[node]
        else:
            for name, role in t.roles.items():
                upper = role.max if role.max is not None else role.min + 2
                count = data.draw(st.integers(role.min, max(role.min, min(upper, role.min + 2))))
                self.cast.extend(Actor(name, f"{name}-{i}") for i in range(count))
            # those of roles that join later join by the join rule below
            starter, listed, _ = split_cast(self.definition, tuple(self.cast))
            self.cast = list(listed)
            self.programme = Programme.start(
                self.definition,
                "prop",
                at=START,
                actor=starter,
                participants=[(a.id, a.role) for a in self.cast],
            )
        # The reference interpreter reads the same history in its own way.
        self.reference = Reference.from_history(t, self.programme.history)
        # Escapes (cancel, reject: an end that needs nothing) are kept rare, or no run gets far.
        self.escapes = {
            tr.event for tr in t.transitions if t.states[tr.dest].terminal and not tr.requires
        }

    @property
    def state(self) -> ProgrammeState:
        return self.programme.state

    def try_event(self, make: Any) -> bool:
        """Record the event ``make()`` builds; if refused, check that nothing changed."""
        before, length = self.programme.state, len(self.programme.history)
        try:
            make()
        except EventError:
            assert self.programme.state is before, "a refused event changed the state"
            assert len(self.programme.history) == length, "a refused event was recorded"
            self.refused += 1
            return False
        assert self.programme.state.next_seq == before.next_seq + 1
        self.accepted += 1
        return True

    # --- the clock ----------------------------------------------------------------

    @rule(hours=st.integers(0, 24 * 10))
    def clock_passes(self, hours: int) -> None:
        self.at += timedelta(hours=hours)

    @rule(data=st.data())
    def clock_to_a_boundary(self, data: st.DataObject) -> None:
        boundaries = sorted(
            {
                m
                for s in self.programme.next_steps(self.at)
                for m in (s.opens_at, s.closes_at)
                if m is not None and m > self.at
            }
        )
        if boundaries:
            moment = data.draw(st.sampled_from(boundaries[:3]), label="boundary")
            self.at = moment + timedelta(minutes=data.draw(st.sampled_from([0, -1, 1])))
            self.at = max(self.at, self.state.last_at)

    # --- steps --------------------------------------------------------------------

    @precondition(lambda self: not self.state.terminal)
    @rule(data=st.data())
    def take_allowed_steps(self, data: st.DataObject) -> None:
        """A run of allowed steps, letting the clock reach the next opening when none is."""
        for _ in range(data.draw(st.integers(1, 8), label="steps in a row")):
            if self.state.terminal:
                return
            escape = data.draw(st.sampled_from([False] * 19 + [True]), label="escape?")
            progress = self.allowed(escape)
            if not progress:
                openings = [
                    s.opens_at
                    for s in self.programme.next_steps(self.at)
                    if s.opens_at is not None and s.opens_at > self.at
                ]
                if not openings:
                    return
                self.at = min(openings)
                progress = self.allowed(escape)
                if not progress:
                    return
            actor, step = data.draw(st.sampled_from(progress), label="allowed step")
            choice = data.draw(st.integers(0, 3), label="content choice")
            ok = self.attempt(actor, step.kind, step.name, step, choice)
            assert ok, f"{step.kind} {step.name} was listed as allowed for {actor} but refused"

    def allowed(self, escape: bool) -> list[tuple[Actor, Step]]:
        return [
            (who, s)
            for who in self.cast
            for s in self.programme.next_steps(self.at, who)
            if s.allowed and (escape or s.name not in self.escapes)
        ]

    @rule(data=st.data())
    def attempt_any_step(self, data: st.DataObject) -> None:
        actor = data.draw(st.sampled_from(self.cast), label="actor")
        kind, name = data.draw(st.sampled_from(all_steps(self.definition)), label="step")
        offered = self.programme.next_steps(self.at, actor)
        step = next((s for s in offered if (s.kind, s.name) == (kind, name)), None)
        choice = data.draw(st.integers(0, 3), label="content choice")
        self.attempt(actor, kind, name, step, choice)

    def attempt(
        self, actor: Actor, kind: str, name: str, step: Step | None, choice: int = 0
    ) -> bool:
        before = self.state
        refusal: list[EventError] = []
        expected = self.reference.verdict(kind, name, actor.id, actor.role, self.at)

        def record() -> None:
            try:
                self.programme.record(
                    kind,
                    step_event(before, self.at, actor, kind, name, choice).payload,
                    at=self.at,
                    actor=actor,
                )
            except EventError as exc:
                refusal.append(exc)
                raise

        accepted = self.try_event(record)
        if accepted:
            assert step is not None and step.allowed and not step.blockers, (
                f"accepted {kind} {name} that next_steps did not list as allowed"
            )
        elif isinstance(refusal[0], StepNotAvailable):
            assert step is None, f"{kind} {name} was listed but is not available"
        elif isinstance(refusal[0], StepBlocked):
            assert step is not None and not step.allowed
            assert refusal[0].blockers == step.blockers
        if kind == "fire":
            self.machine_agrees(before, name, actor, accepted)
        self.reference_agrees(expected, refusal[0] if refusal else None, f"{kind} {name}", actor)
        if accepted:
            payload = self.programme.history[-1].payload
            assert self.reference.take(kind, payload, actor.id, self.at)
        return accepted

    def reference_agrees(
        self, expected: frozenset[str] | None, refusal: EventError | None, step: str, who: Actor
    ) -> None:
        """The engine's verdict is the reference interpreter's: not available, refused by
        the same kinds of blocker, or allowed."""
        if expected is None:
            assert isinstance(refusal, StepNotAvailable), f"{step} for {who}: {refusal!r}"
        elif expected:
            assert isinstance(refusal, StepBlocked), f"{step} for {who}: expected {expected}"
            assert {b.kind for b in refusal.blockers} == expected, f"{step} for {who}"
        else:
            assert refusal is None, f"{step} for {who}: the reference allows it, {refusal}"
        verdict = "not available" if expected is None else "refused" if expected else "allowed"
        AGREED[self.definition.id, verdict] += 1

    def machine_agrees(self, before: ProgrammeState, name: str, actor: Actor, ok: bool) -> None:
        transition = self.definition.machine.events.get(name)
        if transition is None or before.state not in transition.transitions:
            assert not ok
            return
        ctx = MachineContext(before.state, before, self.at, actor)
        assert transition.trigger(ctx) is ok
        assert ctx.state == (self.state.state if ok else before.state)

    @rule(data=st.data())
    def waive(self, data: st.DataObject) -> None:
        actor = data.draw(st.sampled_from(self.cast), label="actor")
        offered = self.programme.next_steps(self.at, actor)
        if not offered:
            return
        target = data.draw(st.sampled_from(offered), label="step to waive")
        kinds = data.draw(
            st.lists(st.sampled_from(WAIVABLE), min_size=1, max_size=2, unique=True),
            label="waived kinds",
        )
        waived = self.try_event(
            lambda: self.programme.waive(
                target.kind, target.name, kinds, reason="property test", at=self.at, actor=actor
            )
        )
        if waived:
            assert actor.role in self.definition.type.waivable_by
        payload = {"step": {"kind": target.kind, "name": target.name}, "blockers": kinds}
        assert self.reference.take("waive", payload, actor.id, self.at) is waived

    @rule(data=st.data())
    def waive_a_join_limit(self, data: st.DataObject) -> None:
        """One more join past a role's maximum, where the role says max_waivable."""
        actor = data.draw(st.sampled_from(self.cast), label="actor")
        role = data.draw(st.sampled_from(sorted(self.definition.type.roles)), label="role")
        kinds = data.draw(
            st.sampled_from([["participant_limit"], ["missing_deliverable"]]), label="kinds"
        )
        payload = {"step": {"kind": "join", "name": role}, "blockers": kinds, "reason": "pt"}
        waived = self.try_event(
            lambda: self.programme.record("waive", payload, at=self.at, actor=actor)
        )
        assert self.reference.take("waive", payload, actor.id, self.at) is waived

    # --- joining, claims, payments --------------------------------------------------

    @rule(data=st.data())
    def join(self, data: st.DataObject) -> None:
        role = data.draw(st.sampled_from(sorted(self.definition.type.roles)), label="role")
        ids = [f"new-{i}" for i in range(1, 10)]
        newcomer = Actor(role, data.draw(st.sampled_from([*ids, self.cast[0].id])))
        by_self = data.draw(st.booleans(), label="joins themselves?")
        actor = newcomer if by_self else data.draw(st.sampled_from(self.cast), label="actor")
        payload = {"participant": newcomer.id, "role": role}
        joined = self.try_event(
            lambda: self.programme.record("join", payload, at=self.at, actor=actor)
        )
        if joined:
            assert self.definition.type.roles[role].joins_later
            self.cast.append(newcomer)
        if actor.id in self.reference.people and self.reference.people[actor.id] != actor.role:
            assert not joined  # acting in a role one does not hold
        else:
            assert self.reference.take("join", payload, actor.id, self.at) is joined

    @precondition(lambda self: self.definition.type.budget is not None)
    @rule(data=st.data())
    def claim(self, data: st.DataObject) -> None:
        budget = self.definition.type.budget
        assert budget is not None
        actor = data.draw(st.sampled_from(self.cast), label="claimant")
        role_budget = budget.roles.get(actor.role)
        names = sorted(role_budget.items) if role_budget else ["nothing"]
        items = [
            {
                "item": data.draw(st.sampled_from(names), label="item"),
                "amount": data.draw(st.sampled_from(["0", "40.50", "180", "2500.00", 75])),
                "receipts": data.draw(st.sampled_from([[], ["r-1"]]), label="receipts"),
                "days": 2,
                "nights": 1,
            }
            for _ in range(data.draw(st.integers(1, 2), label="items"))
        ]
        payload = {
            "claim": data.draw(st.sampled_from(["c-1", "c-2", "c-3"]), label="claim id"),
            "items": items,
            "accept_cap": data.draw(st.booleans(), label="accept cap?"),
        }
        self.try_event(lambda: self.programme.record("claim", payload, at=self.at, actor=actor))

    @precondition(lambda self: self.definition.type.budget is not None)
    @rule(data=st.data())
    def pay(self, data: st.DataObject) -> None:
        actor = data.draw(st.sampled_from(self.cast), label="payer")
        claim = data.draw(st.sampled_from(["c-1", "c-2", "nope"]), label="claim")
        payload: dict[str, Any] = {"claim": claim}
        if data.draw(st.booleans(), label="partial?"):
            payload["amount"] = "10.00"
        if self.try_event(lambda: self.programme.record("pay", payload, at=self.at, actor=actor)):
            budget = self.definition.type.budget
            assert budget is not None and actor.role in budget.paid_by

    # --- malformed events ------------------------------------------------------------

    @rule(data=st.data())
    def malformed_event(self, data: st.DataObject) -> None:
        st_ = self.state
        actor = self.cast[0]
        good = step_event(st_, self.at, actor, "fire", self.definition.event_names[0])
        broken = data.draw(
            st.sampled_from(
                [
                    attrs.evolve(good, seq=st_.next_seq + 1),
                    attrs.evolve(good, seq=max(st_.next_seq - 1, 0)),
                    attrs.evolve(good, at=st_.last_at - timedelta(seconds=1)),
                    attrs.evolve(good, at=self.at.replace(tzinfo=None)),
                    attrs.evolve(good, programme="another"),
                    attrs.evolve(good, actor=Actor(actor.role, "stranger")),
                    attrs.evolve(good, actor=Actor("no-such-role", actor.id)),
                    attrs.evolve(good, type="start"),
                    attrs.evolve(good, payload={"event": 42}),
                    attrs.evolve(good, type="submit", payload={"deliverable": "no-such"}),
                    attrs.evolve(good, type="schedule", payload={"date": "x", "value": "soon"}),
                ]
            ),
            label="malformed",
        )
        before = self.state
        with pytest.raises(EventError):
            self.definition.apply(before, broken)
        assert self.state is before

    # --- invariants ----------------------------------------------------------------

    @invariant()
    def replay_gives_the_same_state(self) -> None:
        assert Programme.from_history(self.programme.history).state == self.state

    @invariant()
    def snapshot_round_trips(self) -> None:
        data = json.loads(json.dumps(peerflow.store.dump_state(self.state)))
        back = peerflow.store.load_state(data)
        assert back == self.state
        assert peerflow.store.dump_state(back) == data

    @invariant()
    def the_fast_path_ends_where_the_programme_is(self) -> None:
        (result,) = peerflow.replay.replay(self.programme.history)
        assert result.final == self.state

    @invariant()
    def the_reference_holds_the_same_programme(self) -> None:
        ref, st_ = self.reference, self.state
        assert ref.state == st_.state
        assert ref.people == dict(st_.members())
        for name in self.definition.type.deliverables:
            assert ref.owing(name) == list(self.definition.missing(st_, name)), name

    @invariant()
    def next_steps_allow_exactly_what_the_engine_accepts(self) -> None:
        st_ = self.state
        for actor in self.cast:
            offered = {(s.kind, s.name): s for s in self.programme.next_steps(self.at, actor)}
            for kind, name in all_steps(self.definition):
                step = offered.get((kind, name))
                expected = self.reference.verdict(kind, name, actor.id, actor.role, self.at)
                refusal: EventError | None = None
                try:
                    self.definition.apply(st_, step_event(st_, self.at, actor, kind, name))
                except StepNotAvailable as absent:
                    refusal = absent
                    assert step is None, f"{kind} {name} listed but not available"
                except StepBlocked as refused:
                    refusal = refused
                    assert step is not None and not step.allowed, f"{kind} {name} for {actor}"
                    assert refused.blockers == step.blockers
                else:
                    assert step is not None and step.allowed, f"{kind} {name} accepted, unlisted"
                self.reference_agrees(expected, refusal, f"{kind} {name}", actor)

    def teardown(self) -> None:
        event(f"ended in {self.state.state}")
        event(f"{'some' if self.accepted > 1 else 'no'} events accepted beyond the start")


@pytest.mark.parametrize("definition_id", sorted(peerflow.builtin_files()))
def test_engine_state_machine(definition_id: str) -> None:
    machine = type(
        f"Run_{definition_id.replace('-', '_')}",
        (ProgrammeRun,),
        {"definition": peerflow.definition(definition_id)},
    )
    run_state_machine_as_test(machine, settings=settings(settings.default, stateful_step_count=60))
