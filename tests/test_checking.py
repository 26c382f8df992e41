"""The explorer and model checks: every built-in passes; each broken definition fails its check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import peerflow
from peerflow.checking import check, explore
from peerflow.cli import main

BROKEN = Path(__file__).parent / "definitions"
BUDGET = 20_000  # nodes; every built-in's plain exploration fits (see docs/checking.md)


@pytest.mark.parametrize("definition_id", sorted(peerflow.builtin_files()))
def test_every_built_in_definition_passes_every_check(definition_id: str) -> None:
    report = check(peerflow.definition(definition_id), max_nodes=BUDGET)
    failed = [f"{c.name}: {c.detail}" for c in report.checks if not c.passed]
    assert not failed, failed
    assert report.nodes > 10 and report.edges >= report.nodes - 1
    # At least one path completes ("a cycle", None, where a deliverable can be handed in
    # again saying otherwise: then count the completions reached instead).
    if report.paths_to_completion is None:
        ex = explore(peerflow.definition(definition_id), max_nodes=BUDGET)
        done = ex.definition.type.completion_states()
        assert any(s.state in done for s in ex.states)
    else:
        assert report.paths_to_completion > 0


@pytest.mark.parametrize(
    ("file", "check_name", "last_move"),
    [
        ("check-dead-end.yaml", "no dead end", "fires send_for_review"),
        (
            "check-unreachable-terminal.yaml",
            "every terminal state is reachable",
            "'finish' is blocked: deliverable 'certificate' is missing",
        ),
        ("check-contradictory-windows.yaml", "windows can be met", "fires kick_off"),
        (
            "check-unsubmittable.yaml",
            "every owed deliverable can be submitted",
            "'feedback' is blocked: window closed",
        ),
    ],
)
def test_a_broken_definition_fails_its_check_with_a_counterexample(
    file: str, check_name: str, last_move: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = BROKEN / file
    assert main(["validate", "-q", str(path)]) == 0  # the loader cannot see these
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"[FAILED] {check_name}:" in out
    assert main(["check", str(path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    (failed,) = [c for c in report["checks"] if c["name"] == check_name]
    assert not failed["passed"]
    assert failed["counterexample"], "a failed check shows a path"
    assert last_move in failed["counterexample"][-1]


def test_the_report_says_when_a_bound_cut_the_exploration(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", "prospect-peer-mentoring", "--max-nodes", "50"]) in (0, 1)
    assert "(cut by a bound: --max-nodes 50)" in capsys.readouterr().out
    # a group that may hold workshops without end is cut by the clock, and says so
    report = check(peerflow.definition("mia-peer-groups"), max_nodes=BUDGET)
    assert not report.complete and "the clock stops" in report.bound


def test_the_explorer_steps_with_the_engine_and_counts_paths() -> None:
    tutoring = peerflow.definition("mia-tutoring")
    space = explore(tutoring)
    assert space.complete
    assert {st.state for st in space.states} == set(tutoring.type.states)
    for edge in space.edges:  # every event edge is one engine event later
        source, target = space.states[edge.source], space.states[edge.target]
        if edge.kind == "clock":
            assert target is source and space.moments[edge.target] > space.moments[edge.source]
        elif edge.source != edge.target:
            assert target.next_seq == source.next_seq + 1
    # the path count agrees with a plain enumeration of the same graph
    forward: dict[int, list[int]] = {}
    for edge in space.edges:
        if edge.source != edge.target:
            forward.setdefault(edge.source, []).append(edge.target)

    def paths(node: int) -> int:
        here = space.states[node]
        done = here.terminal and here.state == "completed"
        return int(done) + sum(paths(child) for child in forward.get(node, ()))

    report = check(tutoring)
    assert report.complete and report.paths_to_completion == paths(0) > 0


def test_the_failing_check_shown_in_the_docs_is_what_check_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = (Path(__file__).parents[1] / "docs" / "checking.md").read_text(encoding="utf-8")
    block = text.split("$ peerflow check tests/definitions/check-contradictory-windows.yaml\n")[1]
    shown = [line for line in block.split("$ echo $?")[0].splitlines() if line.strip() != "..."]
    assert len(shown) >= 8
    assert main(["check", str(BROKEN / "check-contradictory-windows.yaml")]) == 1
    printed = capsys.readouterr().out.splitlines()
    missing = [line for line in shown if line not in printed]
    assert not missing, f"docs/checking.md shows lines check no longer prints: {missing}"


def test_a_cut_exploration_says_what_it_could_not_see(capsys: pytest.CaptureFixture[str]) -> None:
    """A bound that cuts the exploration short cannot show a state unreachable: the report
    says so, and a bound below one node is refused."""
    report = check(peerflow.definition("mia-tutoring"), max_nodes=3)
    assert not report.complete
    failed = [c for c in report.checks if not c.passed]
    assert failed and all("raise --max-nodes to know" in c.detail for c in failed)
    full = check(peerflow.definition("mia-tutoring"))
    assert full.complete and not any("raise --max-nodes" in c.detail for c in full.checks)
    with pytest.raises(ValueError, match="max_nodes must be 1 or more"):
        check(peerflow.definition("mia-tutoring"), max_nodes=0)
    with pytest.raises(SystemExit) as exited:
        main(["check", "mia-tutoring", "--max-nodes", "0"])
    assert exited.value.code == 2
    assert "expected a whole number 1 or more, got '0'" in capsys.readouterr().err


OPTIONAL_HELPER = """\
id: optional-helper
version: 1
title: A step only an optional role can take
waivable_by: [lead]
roles:
  lead: {}
  helper: {min: 0, max: 2}
states:
  open: {}
  checked: {}
  done: {terminal: true}
initial: open
transitions:
  - {event: go, from: open, to: checked, by: lead}
  - {event: approve, from: checked, to: done, by: helper}
"""


def test_a_deadlock_that_needs_an_empty_optional_role_is_found() -> None:
    """With every role filled the helper approves; with nobody as helper, 'checked' is a
    dead end. The checker tries both casts and shows the one that deadlocks."""
    report = check(peerflow.compile_text(OPTIONAL_HELPER, "helper.yaml"), max_nodes=BUDGET)
    (dead,) = [c for c in report.checks if c.name == "no dead end"]
    assert not dead.passed
    assert "nobody as helper" in dead.detail and "'checked'" in dead.detail
    assert dead.counterexample[0] == "cast: lead-1 (lead); nobody as helper"
    assert "fires go" in dead.counterexample[-1]


LATE_JOINER = """\
id: late-joiner
version: 1
title: A step only a role that has not joined yet may take
waivable_by: [secretariat]
roles:
  secretariat: {}
  visitor: {min: 1, max: 2, joined_by: [secretariat], join_during: [call]}
states:
  open: {}
  call: {}
  done: {terminal: true}
  cancelled: {terminal: true}
initial: open
transitions:
  - {event: visit_early, from: open, to: call, by: visitor}
  - {event: open_call, from: open, to: call, by: secretariat}
  - {event: finish, from: call, to: done, by: visitor}
  - {event: cancel, from: "*", to: cancelled, by: secretariat}
"""


def test_a_step_only_a_not_yet_joined_role_may_take_is_found() -> None:
    report = check(peerflow.compile_text(LATE_JOINER, "joiner.yaml"), max_nodes=BUDGET)
    (every,) = [c for c in report.checks if c.name == "every step can be taken"]
    assert not every.passed
    assert "'visit_early' from 'open' is never allowed" in every.detail
    finish = [c for c in report.checks if c.name == "no dead end"]
    assert finish[0].passed  # visitors join in 'call' and finish


def test_windows_that_contradict_are_found_even_where_exploration_never_went() -> None:
    path = BROKEN / "check-contradictory-windows.yaml"
    report = check(peerflow.load_definition(path), max_nodes=1)
    (windows,) = [c for c in report.checks if c.name == "windows can be met"]
    assert not windows.passed
    assert "step follow_up closes (1 week after kick_off) before it opens" in windows.detail


def test_a_deliverable_owed_by_nobody_is_refused() -> None:
    text = OPTIONAL_HELPER.replace(
        "states:", "deliverables:\n  note: {title: Note, owed_by: []}\nstates:"
    )
    with pytest.raises(peerflow.DefinitionError, match=r"owed_by: say which roles owe"):
        peerflow.compile_text(text, "nobody.yaml")
