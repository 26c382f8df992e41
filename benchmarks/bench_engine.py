"""Engine benchmarks, each printed beside a baseline measured in the same run.

    python benchmarks/bench_engine.py [--definition ID] [--quick | --smoke]

1. compiling a definition (check + Machine + tables) vs a bare transitions Machine;
2. ``next_steps`` with full blockers on a programme with 50 events vs transitions'
   ``get_triggers`` + ``may_<trigger>`` on a model bound to a Machine of the same
   definition (its conditions run the same guard, as yes/no);
3. memory per programme state vs a model bound with ``add_model``.

Targets: ratio 2 <= 1.0; ratio 3 <= 0.10. Nothing here asserts: it prints.
"""

from __future__ import annotations

import argparse
import gc
import json
import timeit
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import attrs
import yaml
from transitions import Machine

import peerflow
from peerflow import CompiledDefinition, Event, ProgrammeState
from peerflow.engine._registry import example_path
from peerflow.events._envelope import event_from_json
from peerflow.model._loading import parse_definition


def best_of(func: Callable[[], Any], number: int, repeat: int = 5) -> float:
    """Seconds per call, best of ``repeat`` runs (the least disturbed)."""
    return min(timeit.repeat(func, number=number, repeat=repeat)) / number


def bare_machine(
    compiled: CompiledDefinition, conditions: bool, auto_transitions: bool = False
) -> Machine:
    t = compiled.type
    return Machine(
        model=None,
        states=list(t.states),
        transitions=[
            {
                "trigger": tr.event,
                "source": list(t.sources_of(tr)),
                "dest": tr.dest,
                **({"conditions": [compiled._machine_guard]} if conditions else {}),
            }
            for tr in t.transitions
        ],
        initial=t.initial,
        auto_transitions=auto_transitions,
        send_event=True,
    )


def history_of_50(compiled: CompiledDefinition) -> list[Event]:
    """The example up to Working Together, then learning-plan revisions up to 50 events."""
    events = [e for _, e in peerflow.read_history(example_path(compiled.id))]
    cut = next(i for i, e in enumerate(events) if e.payload.get("event") == "hold_working_together")
    history = events[: cut + 1]
    plan = next(e for e in events if e.payload.get("deliverable") == "learning_plan")
    while len(history) < 50:
        last = history[-1]
        history.append(
            attrs.evolve(
                plan, seq=len(history), id=f"rev-{len(history)}", at=last.at + timedelta(hours=1)
            )
        )
    return history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--definition", default="prospect-peer-mentoring")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument(
        "--smoke", action="store_true", help="one repetition each: proves it runs, not its speed"
    )
    args = parser.parse_args()
    scale = 10_000 if args.smoke else 10 if args.quick else 1
    compiled = peerflow.definition(args.definition)
    text = peerflow.builtin_files()[compiled.id].read_text()

    # 1. loading and compiling, each against the bare library doing its part
    ours = best_of(lambda: parse_definition(text, "bench.yaml"), number=max(1, 50 // scale))
    # a user's fastest safe YAML read: libyaml's loader where PyYAML has it (its wheels do)
    fastest = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    base = best_of(lambda: yaml.load(text, Loader=fastest), number=max(1, 50 // scale))
    print(
        f"load {compiled.id} (YAML with lines + cattrs + meaning checks): {ours * 1e3:.2f} ms; "
        f"yaml.load with {fastest.__name__} alone: {base * 1e3:.2f} ms; ratio {ours / base:.2f}"
    )
    ours = best_of(lambda: CompiledDefinition(compiled.type), number=max(1, 200 // scale))
    base = best_of(lambda: bare_machine(compiled, conditions=False), number=max(1, 200 // scale))
    print(
        f"compile {compiled.id} (Machine + step tables): {ours * 1e3:.3f} ms; "
        f"bare transitions Machine: {base * 1e3:.3f} ms; ratio {ours / base:.2f}"
    )

    # 2. next_steps vs get_triggers + may_
    history = history_of_50(compiled)
    state = compiled.fold(history)
    at = history[-1].at + timedelta(days=1)
    machine = bare_machine(compiled, conditions=True)
    model = BoundModel(state.state, state, at, None)
    machine.add_model(model)
    model.state = state.state  # add_model put it in the initial state

    def transitions_check() -> list[bool]:
        return [getattr(model, f"may_{name}")() for name in machine.get_triggers(model.state)]

    steps = compiled.next_steps(state, at)
    fire_steps = [s.name for s in steps if s.kind == "fire"]
    assert sorted(machine.get_triggers(model.state)) == sorted(fire_steps)
    assert transitions_check() == [s.allowed for s in steps if s.kind == "fire"]
    number = max(1 if args.smoke else 100, 20000 // scale)
    ours = best_of(lambda: compiled.next_steps(state, at), number)
    base = best_of(transitions_check, number)
    print(
        f"next_steps on {len(history)} events ({len(steps)} steps: {len(fire_steps)} fire, "
        f"{len(steps) - len(fire_steps)} submit/schedule, all with blockers): "
        f"{ours * 1e6:.1f} us; get_triggers + may_ ({len(fire_steps)} fire steps, yes/no): "
        f"{base * 1e6:.1f} us; ratio {ours / base:.2f} (target <= 1.0)"
    )
    bare = bare_machine(compiled, conditions=False)  # transitions checking nothing
    plain = BoundModel(state.state, state, at, None)
    bare.add_model(plain)
    plain.state = state.state

    def bare_check() -> list[bool]:
        return [getattr(plain, f"may_{name}")() for name in bare.get_triggers(plain.state)]

    base_bare = best_of(bare_check, number)
    print(
        f"  beside bare transitions (same Machine, no guard: every fire allowed, nothing "
        f"explained): {base_bare * 1e6:.1f} us; ratio {ours / base_bare:.2f}"
    )

    # 3. memory per programme state vs an add_model-bound model
    count = max(2 if args.smoke else 200, 2000 // scale)
    lines = [e.to_line() for e in history]
    per_state = retained_per_item(count, lambda i: fold_from_json(compiled, lines, i))
    lean = bare_machine(compiled, conditions=True)
    per_lean = retained_per_item(count, lambda i: bind(lean, state, at))
    default = bare_machine(compiled, conditions=True, auto_transitions=True)
    per_default = retained_per_item(count, lambda i: bind(default, state, at))
    print(
        f"memory per programme state ({len(history)} events parsed from JSON and folded, "
        f"participant ids its own): {per_state / 1024:.2f} KB"
    )
    print(
        f"  per add_model-bound model, transitions' defaults: {per_default / 1024:.2f} KB; "
        f"ratio {per_state / per_default:.3f} (target <= 0.10)"
    )
    print(
        f"  per add_model-bound model, auto_transitions=False: {per_lean / 1024:.2f} KB; "
        f"ratio {per_state / per_lean:.3f}"
    )

    # and what folding costs, for the record
    fold_time = best_of(lambda: compiled.fold(history), max(1 if args.smoke else 10, 500 // scale))
    print(
        f"fold of {len(history)} events: {fold_time * 1e3:.3f} ms "
        f"({len(history) / fold_time:,.0f} events/s)"
    )
    trivial = bare_machine(compiled, conditions=False)
    fires = [e.payload["event"] for e in history if e.type == "fire"]

    def bare_fold() -> None:
        model = BoundModel(compiled.type.initial, state, at, None)
        trivial.add_model(model)
        for name in fires:
            trivial.events[name].trigger(model)
        trivial.remove_model(model)

    base_fold = best_of(bare_fold, max(1 if args.smoke else 10, 500 // scale))
    print(
        f"  beside bare transitions firing its {len(fires)} fires (no guard, no other event, "
        f"nothing recorded): {base_fold * 1e3:.3f} ms; ratio {fold_time / base_fold:.2f}"
    )


def fold_from_json(compiled: CompiledDefinition, lines: list[str], i: int) -> ProgrammeState:
    """A programme of its own (its id, its people) read from JSON, as a portal would load it."""
    renamed = (
        line.replace('"prospect-2027-ghent', f'"p{i}-prospect-2027-ghent')
        .replace('-mentee"', f'-mentee-{i}"')
        .replace('-mentor"', f'-mentor-{i}"')
        .replace('-facilitator"', f'-facilitator-{i}"')
        for line in lines
    )
    return compiled.fold(event_from_json(json.loads(line)) for line in renamed)


class BoundModel:
    """A plain model for ``add_model`` (which sets trigger methods on it), read by the guard."""

    def __init__(self, state: str, programme: ProgrammeState, at: Any, actor: Any) -> None:
        self.state = state
        self.programme = programme
        self.at = at
        self.actor = actor


def bind(machine: Machine, state: ProgrammeState, at: Any) -> BoundModel:
    model = BoundModel(state.state, state, at, None)
    machine.add_model(model)
    return model


def retained_per_item(count: int, make: Callable[[int], Any]) -> float:
    """Bytes still allocated per item once ``count`` items are made and kept."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = [make(i) for i in range(count)]
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(kept) == count
    return (after - before) / count


if __name__ == "__main__":
    main()
