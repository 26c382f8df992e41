"""Valid paths from the explorer replay, with the strict engine, to where the explorer says.

Two sources of paths over each built-in definition's explored space:

- every path the explorer found to a terminal state (its breadth-first tree), replayed as a
  history: it must be accepted event by event and end in that very state;
- random walks over the explored graph drawn by hypothesis (any edge, not only tree edges,
  so paths the tree never spells out): renumbered into a history, each must be accepted and
  end in the node the walk reached. Shrinking gives the shortest walk that fails.
"""

from __future__ import annotations

import functools
from collections import defaultdict

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import peerflow
from peerflow import Event, Programme
from peerflow.checking import Edge, Exploration, explore
from peerflow.engine._compiled import MachineContext

BUDGET = 20_000  # nodes: enough for every built-in's plain space (see docs/checking.md)


@functools.cache
def space(definition_id: str) -> tuple[Exploration, dict[int, list[Edge]]]:
    ex = explore(peerflow.definition(definition_id), max_nodes=BUDGET)
    out: dict[int, list[Edge]] = defaultdict(list)
    for edge in ex.edges:
        if edge.target != edge.source:
            out[edge.source].append(edge)
    return ex, out


def key(state: peerflow.ProgrammeState) -> tuple[object, ...]:
    """What makes two states the same node (the version and the last moment do not)."""
    return (state.state, state.submitted, state.marks, state.roles, state.waivers)


@pytest.mark.parametrize("definition_id", sorted(peerflow.builtin_files()))
def test_every_explored_path_to_an_end_replays_to_it(definition_id: str) -> None:
    ex, _ = space(definition_id)
    ends = [node for node, state in enumerate(ex.states) if state.terminal]
    assert len(ex.states) < BUDGET, "raise BUDGET: the space no longer fits"
    t = ex.definition.type
    assert {ex.states[node].state for node in ends} == {
        n for n, s in t.states.items() if s.terminal
    }
    for node in ends:
        history = ex.history_to(node)
        replayed = Programme.from_history(history).state
        assert replayed == ex.states[node], f"path to node {node}: {ex.path_to(node)}"
        assert replayed.terminal


def walk(definition_id: str, choices: list[int]) -> tuple[list[Event], int]:
    """Follow the explored graph from the start, choosing among out-edges by ``choices``."""
    ex, out = space(definition_id)
    assert ex.start_event is not None
    events, node = [ex.start_event], 0
    for choice in choices:
        edges = out.get(node)
        if not edges or ex.states[node].terminal:
            break
        edge = edges[choice % len(edges)]
        if edge.event is not None:
            seq = len(events)
            events.append(attrs.evolve(edge.event, seq=seq, id=f"walk-{seq}"))
        node = edge.target
    return events, node


@pytest.mark.parametrize("definition_id", sorted(peerflow.builtin_files()))
@given(choices=st.lists(st.integers(0, 50), max_size=120))
def test_random_walks_over_the_explored_graph_replay(
    definition_id: str, choices: list[int]
) -> None:
    ex, _ = space(definition_id)
    events, node = walk(definition_id, choices)
    state = Programme.from_history(events).state
    assert key(state) == key(ex.states[node])
    # the lookup table the engine folds with and the transitions Machine it was read from
    # agree on every fire of the walk: same verdict, same destination
    definition = ex.definition
    st = definition.start(events[0])
    for event in events[1:]:
        after = definition.apply(st, event)
        if event.type == "fire":
            name = event.payload["event"]
            ctx = MachineContext(st.state, st, event.at, event.actor)
            assert definition.machine.events[name].trigger(ctx)
            assert ctx.state == after.state
        st = after
