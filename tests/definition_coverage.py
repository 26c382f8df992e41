"""``pytest --definition-coverage``: what the whole suite exercised of each built-in definition.

Every event any test applies goes through ``CompiledDefinition.apply``; with the option on,
a wrapper tallies per definition the transitions taken (from which state), the blocker kinds
refusals carried, and the windowed steps taken inside their window or refused for it. The
report is printed at the end of the run. ``tests/test_coverage.py`` is the test that fails
when a transition is never taken; this report shows the rest.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import pytest

import peerflow
from peerflow import CompiledDefinition, Event, ProgrammeState, StepBlocked

_WINDOW_KINDS = {"window_not_open", "window_closed"}


class Tally:
    def __init__(self) -> None:
        self.taken: defaultdict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
        self.blockers: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.in_window: defaultdict[str, set[str]] = defaultdict(set)
        self.refused_for_window: defaultdict[str, set[str]] = defaultdict(set)
        self.events = 0

    def record(
        self, definition: CompiledDefinition, st: ProgrammeState, event: Event, error: Any
    ) -> None:
        self.events += 1
        name = _step_name(event)
        if isinstance(error, StepBlocked):
            kinds = {b.kind for b in error.blockers}
            self.blockers[definition.id].update(kinds)
            if kinds & _WINDOW_KINDS and name:
                self.refused_for_window[definition.id].add(name)
            return
        if error is not None:
            return
        if event.type == "fire":
            self.taken[definition.id][st.state, name] += 1
        if name and name in _windowed(definition):
            self.in_window[definition.id].add(name)

    def lines(self) -> list[str]:
        out = [f"events applied by the tests: {self.events:,}"]
        for definition_id in sorted(peerflow.builtin_files()):
            d = peerflow.definition(definition_id)
            t = d.type
            every = {(src, tr.event) for tr in t.transitions for src in t.sources_of(tr)}
            taken = self.taken[definition_id]
            never = sorted(every - set(taken))
            windowed = _windowed(d)
            out.append(
                f"{definition_id}: transitions {len(every) - len(never)}/{len(every)}, "
                f"windowed steps taken in their window "
                f"{len(self.in_window[definition_id] & windowed)}/{len(windowed)}, "
                f"refused for their window {len(self.refused_for_window[definition_id])}"
            )
            kinds = self.blockers[definition_id]
            out.append(
                "  blocker kinds refused: "
                + ", ".join(f"{k} {kinds[k]}" for k in peerflow.BLOCKER_KINDS if kinds[k])
            )
            unseen = [k for k in peerflow.BLOCKER_KINDS if not kinds[k]]
            if unseen:
                out.append(f"  blocker kinds never seen: {', '.join(unseen)}")
            if never:
                out.append(
                    "  never taken: " + ", ".join(f"{event} from {src}" for src, event in never)
                )
        return out


def _step_name(event: Event) -> str:
    key = {"fire": "event", "submit": "deliverable", "schedule": "date"}.get(event.type)
    value = event.payload.get(key) if key else None
    return value if isinstance(value, str) else ""


def _windowed(definition: CompiledDefinition) -> set[str]:
    t = definition.type
    return {tr.event for tr in t.transitions if tr.window is not None} | {
        name for name, d in t.deliverables.items() if d.window is not None
    }


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--definition-coverage",
        action="store_true",
        help="report which transitions, blocker kinds and windows of the built-ins the tests hit",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("--definition-coverage"):
        return
    tally = Tally()
    config.stash[_KEY] = tally
    original = CompiledDefinition.apply

    def apply(self: CompiledDefinition, st: ProgrammeState, event: Event) -> ProgrammeState:
        try:
            result = original(self, st, event)
        except Exception as exc:
            tally.record(self, st, event, exc)
            raise
        tally.record(self, st, event, None)
        return result

    CompiledDefinition.apply = apply  # type: ignore[method-assign]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    tally = config.stash.get(_KEY, None)
    if tally is None:
        return
    terminalreporter.section("definition coverage")
    for line in tally.lines():
        terminalreporter.write_line(line)


_KEY = pytest.StashKey[Tally]()
