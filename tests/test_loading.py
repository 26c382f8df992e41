"""Definition files: bad ones fail with one line per problem naming file, line and path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import peerflow
from peerflow import DefinitionError
from peerflow.cli import main
from peerflow.model import parse_definition

BROKEN = Path(__file__).parent / "definitions"


def assert_refused(text: str, change: tuple[str, str], expected: str) -> None:
    """``text`` with ``change`` made is refused with a problem starting with ``expected``."""
    changed = text.replace(*change)
    assert changed != text, f"the change {change!r} did not apply"
    with pytest.raises(DefinitionError) as caught:
        parse_definition(changed, "tiny.yaml")
    assert any(str(p).startswith(expected) for p in caught.value.problems), caught.value


def problems_of(name: str) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        peerflow.load_definition(BROKEN / name)
    return [str(p) for p in caught.value.problems]


def test_builtin_definitions_load() -> None:
    files = peerflow.builtin_files()
    assert "prospect-peer-mentoring" in files
    for name in files:
        assert peerflow.definition(name).id == name


def test_misspelt_deliverable_names_file_line_path_and_suggestion() -> None:
    assert problems_of("misspelt-deliverable.yaml") == [
        "misspelt-deliverable.yaml:19: transitions[0].requires[0]: unknown deliverable "
        "'learnig_plan'; did you mean 'learning_plan'?"
    ]


def test_unreachable_state() -> None:
    assert problems_of("unreachable-state.yaml") == [
        "unreachable-state.yaml:8: states.forgotten: state 'forgotten' is unreachable "
        "from the initial state 'open'"
    ]


def test_non_terminal_dead_end() -> None:
    (problem,) = problems_of("dead-end.yaml")
    assert problem.startswith("dead-end.yaml:8: states.stuck: state 'stuck' is not terminal")
    assert "dead end" in problem


def test_yaml_syntax_error_names_its_line() -> None:
    (problem,) = problems_of("syntax-error.yaml")
    assert problem.startswith("syntax-error.yaml:8: YAML syntax error")


def test_anchor_that_may_not_have_happened() -> None:
    (problem,) = problems_of("anchor-not-on-every-path.yaml")
    assert problem.startswith(
        "anchor-not-on-every-path.yaml:25: transitions[2].window.closes: anchor 'review' "
        "may not have happened on every path to state 'reviewed'"
    )


MINIMAL = """\
id: tiny
version: 1
title: Tiny
roles:
  facilitator: {}
states:
  open: {}
  done: {terminal: true}
initial: open
transitions:
  - event: finish
    from: open
    to: done
    by: facilitator
"""


def test_minimal_definition_parses() -> None:
    definition = parse_definition(MINIMAL, "tiny.yaml")
    assert definition.transitions[0].source == ("open",)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("    by: facilitator\n", "    by: facilitator\n    bogus: 1\n"),
            "tiny.yaml:11: transitions[0]: unknown field(s) (bogus)",
        ),
        (
            ("version: 1", "version: one"),
            "tiny.yaml:2: version: expected a whole number, got str 'one'",
        ),
        (
            ("  - event: finish\n", "  - title: no event\n"),
            "tiny.yaml:11: transitions[0].event: required field 'event' is missing",
        ),
        (
            ("    to: done\n", "    to: done\n    window: {closes: {after: finish, months: -1}}\n"),
            "tiny.yaml:14: transitions[0].window.closes.months: months must be 0 or more",
        ),
        (
            (
                "    to: done\n",
                "    to: done\n    window: {closes: {after: finish, working_days: 5}}\n",
            ),
            "tiny.yaml:14: transitions[0].window.closes: working_days need a country",
        ),
        (
            ("title: Tiny\n", "title: Tiny\ncountry: XX\n"),
            "tiny.yaml:4: country: unknown country 'XX'",
        ),
        (
            ("title: Tiny\n", "title: Tiny\ntimezone: Mars/Olympus\n"),
            "tiny.yaml:4: timezone: unknown time zone 'Mars/Olympus'",
        ),
        (
            ("  done: {terminal: true}\n", "  done: {terminal: true}\n  open: {}\n"),
            "tiny.yaml:9: states.open: duplicate key 'open'",
        ),
        (
            ("    by: facilitator\n", "    by: facilitator\n    min_times: {finsh: 2}\n"),
            "tiny.yaml:15: transitions[0].min_times.finsh: unknown event 'finsh'; did you mean "
            "'finish'?",
        ),
        (
            ("    by: facilitator\n", "    by: facilitator\n    min_times: {finish: 0}\n"),
            "tiny.yaml:15: transitions[0].min_times.finish: min_times counts from 1, got 0",
        ),
        (
            ("initial: open", "initial: opn"),
            "tiny.yaml:9: initial: unknown state 'opn'; did you mean 'open'?",
        ),
    ],
)
def test_each_problem_is_one_clear_line(change: tuple[str, str], expected: str) -> None:
    assert_refused(MINIMAL, change, expected)


def test_validate_command_prints_one_line_each_and_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    files = sorted(str(p) for p in BROKEN.glob("*.yaml"))
    assert main(["validate", *files]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(files)
    for line, file in zip(out, files, strict=True):
        assert line.startswith(file + ":")
        assert "Traceback" not in line


def test_validate_in_a_subprocess_prints_no_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "peerflow.cli", "validate", str(BROKEN / "syntax-error.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "syntax-error.yaml:8:" in result.stdout


def test_validate_accepts_builtins(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(p) for p in peerflow.builtin_files().values()]
    assert main(["validate", *files]) == 0
    assert capsys.readouterr().out.count(": ok") == len(files)


def _with_country(code: str) -> str:
    text = peerflow.builtin_files()["sc-expert-review"].read_text()
    lines = [line for line in text.splitlines() if not line.startswith("country:")]
    at = next(i for i, line in enumerate(lines) if line.startswith("timezone:"))
    return "\n".join([*lines[: at + 1], f"country: {code}", *lines[at + 1 :]]) + "\n"


def test_country_no_is_norway_not_false() -> None:
    """YAML 1.1 reads NO, ON, YES, OFF as booleans; definitions read YAML 1.2 (true/false)."""
    assert peerflow.model.parse_definition(_with_country("NO"), "er.yaml").country == "NO"
    with pytest.raises(peerflow.DefinitionError, match="unknown country 'ON'"):
        peerflow.model.parse_definition(_with_country("ON"), "er.yaml")


@pytest.mark.parametrize("word", ["yes", "no", "on", "off", "y", "n", "Yes", "OFF"])
def test_only_true_and_false_are_booleans(word: str) -> None:
    text = MINIMAL.replace("terminal: true", f"terminal: {word}")
    with pytest.raises(peerflow.DefinitionError, match=f"expected true or false, got str '{word}'"):
        parse_definition(text, "tiny.yaml")


def test_numbers_read_as_yaml_1_2() -> None:
    from peerflow.model._source import read_yaml  # noqa: PLC0415

    data, _, problems = read_yaml("a: 010\nb: 1:30\nc: 2027-02-01\nd: 92.50\ne: 450\nf: 0x1F\n")
    assert not problems
    assert data == {"a": "010", "b": "1:30", "c": "2027-02-01", "d": 92.5, "e": 450, "f": "0x1F"}


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("cap: 150", "cap: lots", "expected an amount like 450 or '92.50', got 'lots'"),
        ("each: true", "each: maybe", "expected true or false, got str 'maybe'"),
        ("min: 1", "min: one", "expected a whole number, got str 'one'"),
    ],
)
def test_a_bad_value_is_named_at_its_own_line_in_the_language_s_words(
    old: str, new: str, message: str
) -> None:
    text = peerflow.builtin_files()["prospect-peer-mentoring"].read_text()
    assert old in text
    line = text[: text.index(old)].count("\n") + 1
    with pytest.raises(peerflow.DefinitionError) as refused:
        parse_definition(text.replace(old, new, 1), "p.yaml")
    (problem,) = refused.value.problems
    assert (problem.line, problem.message) == (line, message)
    assert "decimal" not in str(problem) and "tuple[" not in str(problem)


CONDITIONAL = """\
id: tiny
version: 1
title: Tiny
roles:
  facilitator: {}
  expert: {}
states:
  open: {}
  done: {terminal: true}
initial: open
deliverables:
  minutes:
    title: Minutes
    owed_by: [facilitator]
    content:
      changes: {one_of: ["yes", "no"]}
  document:
    title: Document
    owed_by: [expert]
transitions:
  - event: finish
    from: open
    to: done
    by: facilitator
    requires_when:
      - deliverable: document
        when: {deliverable: minutes, part: changes, equals: "yes"}
"""


def test_a_conditional_requirement_reads_one_value_of_a_joint_deliverable() -> None:
    definition = parse_definition(CONDITIONAL, "tiny.yaml")
    (conditional,) = definition.transitions[0].requires_when
    assert (conditional.deliverable, conditional.when.describe()) == (
        "document",
        "minutes.changes is yes",
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("      - deliverable: document", "      - deliverable: documnet"),
            "tiny.yaml:26: transitions[0].requires_when[0].deliverable: unknown deliverable "
            "'documnet'; did you mean 'document'?",
        ),
        (
            ("part: changes,", "part: change,"),
            "tiny.yaml:27: transitions[0].requires_when[0].when.part: deliverable 'minutes' has "
            "no content part 'change' (its parts: changes)",
        ),
        (
            ('equals: "yes"', 'equals: "maybe"'),
            "tiny.yaml:27: transitions[0].requires_when[0].when.equals: 'maybe' is not a value "
            "'changes' can take (it allows yes, no)",
        ),
        (
            ("    owed_by: [facilitator]\n", "    owed_by: [facilitator]\n    each: true\n"),
            "tiny.yaml:28: transitions[0].requires_when[0].when.deliverable: deliverable "
            "'minutes' is owed by each participant",
        ),
        (
            ('changes: {one_of: ["yes", "no"]}', "changes: {title: Changes}"),
            "tiny.yaml:27: transitions[0].requires_when[0].when.part: part 'changes' of 'minutes' "
            "has no one_of list",
        ),
        (
            ('equals: "yes"', "equals: [1]"),
            "tiny.yaml:27: transitions[0].requires_when[0].when.equals: expected a number or a "
            "name",
        ),
    ],
)
def test_a_bad_conditional_requirement_is_one_clear_line(
    change: tuple[str, str], expected: str
) -> None:
    assert_refused(CONDITIONAL, change, expected)


BUDGETED = (
    MINIMAL
    + """\
budget:
  paid_by: [facilitator]
  roles:
    facilitator:
      items:
        meals: {per_day: 92, flat: true, max_days: 5}
"""
)


def test_a_flat_rate_with_the_activity_s_days_loads() -> None:
    item = parse_definition(BUDGETED, "tiny.yaml").budget.roles["facilitator"].items["meals"]  # type: ignore[union-attr]
    assert (item.flat, item.max_days, item.max_nights) == (True, 5, None)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("{per_day: 92, flat: true, max_days: 5}", "{cap: 92, flat: true}"),
            "tiny.yaml:20: budget.roles.facilitator.items.meals.flat: a flat rate is paid "
            "per_day or per_night: give one",
        ),
        (
            ("{per_day: 92, flat: true, max_days: 5}", "{per_night: 92, max_days: 5}"),
            "tiny.yaml:20: budget.roles.facilitator.items.meals.max_days: max_days bounds an "
            "item paid per_day: give per_day",
        ),
        (
            ("max_days: 5", "max_days: 0"),
            "tiny.yaml:20: budget.roles.facilitator.items.meals.max_days: max_days must be 1 "
            "or more",
        ),
        (
            ("{per_day: 92, flat: true, max_days: 5}", "{per_day: 92, at_cost: true}"),
            "tiny.yaml:20: budget.roles.facilitator.items.meals.at_cost: at_cost means no "
            "limit: drop it, or drop the cap and rates",
        ),
        (
            ("{per_day: 92, flat: true, max_days: 5}", "{title: Meals}"),
            "tiny.yaml:20: budget.roles.facilitator.items.meals: an item needs a cap, per_day "
            "or per_night (or at_cost: true where the document gives no limit)",
        ),
        (
            ("flat: true", "flat: yes"),
            "tiny.yaml:20: budget.roles.facilitator.items.meals.flat: expected true or false",
        ),
    ],
)
def test_a_bad_allowance_is_one_clear_line(change: tuple[str, str], expected: str) -> None:
    assert_refused(BUDGETED, change, expected)


def test_a_window_on_the_day_of_an_anchor_is_the_window_spelled_out() -> None:
    """``window: {day_of: X}`` reads as opening and closing on X's day (PP-04's "on the day
    of the workshop", PM-04's orientation), the same definition as the long form."""
    short = MINIMAL.replace("    to: done\n", "    to: done\n    window: {day_of: start}\n")
    long = MINIMAL.replace(
        "    to: done\n",
        "    to: done\n    window: {opens: {after: start}, closes: {after: start}}\n",
    )
    assert short != long
    assert parse_definition(short, "tiny.yaml") == parse_definition(long, "tiny.yaml")


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        (
            "{day_of: strat}",
            "tiny.yaml:14: transitions[0].window.day_of: unknown anchor 'strat'; did you mean "
            "'start'?",
        ),
        (
            "{day_of: start, closes: {after: start, days: 1}}",
            "tiny.yaml:14: transitions[0].window: 'day_of: X' already opens and closes the window",
        ),
        ("{day_of: [start]}", "tiny.yaml:14: transitions[0].window: 'day_of' names the day's"),
    ],
)
def test_a_bad_day_of_window_is_one_clear_line(window: str, expected: str) -> None:
    changed = MINIMAL.replace("    to: done\n", f"    to: done\n    window: {window}\n")
    with pytest.raises(DefinitionError) as caught:
        parse_definition(changed, "tiny.yaml")
    said = [str(p) for p in caught.value.problems]
    assert len(said) == 1 and said[0].startswith(expected), said


def test_a_deadline_carries_its_rules_as_a_window_does() -> None:
    inside = MINIMAL.replace(
        "title: Tiny\n", "title: Tiny\ndeadline: {after: start, months: 9, rules: [PM-02]}\n"
    )
    beside = MINIMAL.replace(
        "title: Tiny\n",
        "title: Tiny\ndeadline: {after: start, months: 9}\ndeadline_rules: [PM-02]\n",
    )
    read = parse_definition(inside, "tiny.yaml")
    assert read == parse_definition(beside, "tiny.yaml")
    assert read.deadline_rules == ("PM-02",) and read.deadline is not None
    assert_refused(
        inside,
        ("title: Tiny\n", "title: Tiny\ndeadline_rules: [PM-02]\n"),
        "tiny.yaml:4: deadline_rules: the deadline's rules are written once: inside 'deadline'",
    )


def test_definitions_are_read_with_libyaml_when_pyyaml_has_it() -> None:
    """The pure-Python parser is ten times slower: it once cost ~90 ms of every command's
    start (``yaml.CParser`` is not exported, and the lookup fell back silently)."""
    import yaml  # noqa: PLC0415

    from peerflow.model import _source  # noqa: PLC0415

    if not yaml.__with_libyaml__:  # pragma: no cover - PyYAML's wheels carry libyaml
        pytest.skip("this PyYAML was built without libyaml")
    from yaml import _yaml  # noqa: PLC0415

    assert issubclass(_source._Loader, _yaml.CParser)
