"""Coverage of the definitions: which transitions, blocker kinds and windows the checks exercise.

Sources: every example history replayed strictly, and every edge of the explorer's space (the
engine's own events). The test fails naming any transition of a built-in definition that no
source takes, and prints the report (see it with ``pytest -rP tests/test_coverage.py``).
"""

from __future__ import annotations

from collections import Counter

import pytest

import peerflow
from peerflow.checking import explore
from peerflow.engine._registry import example_path


@pytest.mark.parametrize("definition_id", sorted(peerflow.builtin_files()))
def test_every_transition_is_taken_and_the_coverage_is_reported(definition_id: str) -> None:
    definition = peerflow.definition(definition_id)
    t = definition.type
    taken: Counter[tuple[str, str]] = Counter()
    blockers: Counter[str] = Counter()
    windows_met: set[str] = set()
    events = [e for _, e in peerflow.read_history(example_path(definition_id))]
    state = definition.start(events[0])
    for event in events[1:]:
        if event.type == "fire":
            taken[state.state, event.payload["event"]] += 1
        state = definition.apply(state, event)
    space = explore(definition, max_nodes=20_000)
    for edge in space.edges:
        if edge.kind == "fire":
            taken[space.states[edge.source].state, edge.step] += 1
    for node, st in enumerate(space.states[:2_000]):
        for step in definition.next_steps(st, space.moments[node]):
            blockers.update(b.kind for b in step.blockers)
            if step.allowed and (step.opens_at or step.closes_at):
                windows_met.add(f"{step.kind} {step.name}")
    every = {(src, tr.event) for tr in t.transitions for src in t.sources_of(tr)}
    print(f"{definition_id}: transitions taken {len(every & set(taken))}/{len(every)}")
    for src, event in sorted(every):
        print(f"  {src} --{event}--> {taken[src, event]} time(s)")
    print(f"  blocker kinds seen: {dict(sorted(blockers.items()))}")
    print(f"  steps allowed inside a window: {', '.join(sorted(windows_met)) or 'none'}")
    never = sorted(every - set(taken))
    assert not never, f"{definition_id}: no test takes " + ", ".join(
        f"'{event}' from '{src}'" for src, event in never
    )
