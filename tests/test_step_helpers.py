"""Every step has a method on `Programme` and on `Store`, and the method says exactly what the
shipped histories say: each example is rebuilt through the methods alone (one call per event,
arguments read off the recorded payload) and must come out event for event as recorded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import peerflow
from peerflow import Event, Programme
from peerflow.engine._registry import example_path
from peerflow.store import Store, open_store

EXAMPLES = sorted(peerflow.builtin_files())


def _arguments(event: Event) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """The method, positional and keyword arguments that record ``event``'s payload."""
    p = dict(event.payload)
    if event.type == "fire":
        return "fire", (p.pop("event"),), p
    if event.type == "submit":
        return "submit", (p.pop("deliverable"),), p
    if event.type == "schedule":
        return "schedule", (p.pop("date"), p.pop("value")), p
    if event.type == "waive":
        step = p.pop("step")
        return "waive", (step["kind"], step["name"], p.pop("blockers")), p
    if event.type == "join":
        return "join", (p.pop("participant"), p.pop("role")), p
    if event.type == "claim":
        return "claim", (p.pop("items"),), p
    if event.type == "pay":
        return "pay", (p.pop("claim"),), p
    raise AssertionError(f"no method for {event.type}")


def _history(definition_id: str) -> list[Event]:
    return [e for _, e in peerflow.read_history(example_path(definition_id))]


@pytest.mark.parametrize("definition_id", EXAMPLES)
def test_a_programme_rebuilt_through_its_methods_is_the_recorded_history(
    definition_id: str,
) -> None:
    history = _history(definition_id)
    rebuilt = Programme.from_history(history[:1])
    types = set()
    for event in history[1:]:
        name, args, kwargs = _arguments(event)
        types.add(name)
        method: Callable[..., Event] = getattr(rebuilt, name)
        made = method(*args, at=event.at, actor=event.actor, **kwargs)
        assert made.payload == event.payload, (name, made.payload, event.payload)
    assert rebuilt.state == peerflow.fold(history)
    assert types  # every example takes steps beyond its start


def test_the_examples_use_every_kind_of_step() -> None:
    """So the two rebuilds above cover every method."""
    kinds = {e.type for d in EXAMPLES for e in _history(d)}
    assert kinds == {"start", "fire", "submit", "schedule", "waive", "join", "claim", "pay"}


@pytest.mark.parametrize("definition_id", EXAMPLES)
def test_a_store_rebuilt_through_its_methods_holds_the_recorded_history(
    definition_id: str, tmp_path: Path
) -> None:
    history = _history(definition_id)
    store: Store = open_store(str(tmp_path / "store.sqlite3"))
    with store:
        store.append(history[:1], expected_next_seq=0)
        programme = history[0].programme
        for event in history[1:]:
            name, args, kwargs = _arguments(event)
            getattr(store, name)(
                programme,
                *args,
                at=event.at,
                actor=event.actor,
                event_id=event.id,
                expected_next_seq=event.seq,
                **kwargs,
            )
        assert store.events(programme) == history
