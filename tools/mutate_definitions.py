"""Definition mutation testing: does a rule test fail when the rule it proves is changed?

For every rule-tagged element of the built-in definitions (an element with ``rules:``, and
everything under it), derive small changes a careless edit could make: a number one up or one
down, a unit swapped (weeks <-> days, working <-> calendar days), the calendar's country, ``each``
flipped, a role added to or taken from ``by``/``owed_by``/``set_by``/``joined_by``/``paid_by``/
``waivable_by``, a requirement or a content part dropped, a ``one_of`` value dropped or added,
``min``/``max`` moved. Each mutant is run against the tests marked
``@pytest.mark.rule(<a rule of that element>)``; a mutant none of them notices *survives*.

    python tools/mutate_definitions.py                 # every mutant of every built-in
    python tools/mutate_definitions.py --quick         # a fixed sample (what CI runs)
    python tools/mutate_definitions.py sc-site-visit   # one definition
    python tools/mutate_definitions.py --list          # the mutants, without running them

Mutants that do not load (the loader refuses them: they could never ship) are counted apart
as *stillborn*. ``each`` is not flipped where every owing role holds one participant at most:
there one and each are the same. Mutants that change nothing a programme can observe are
listed with the reason in tools/equivalent_mutants.txt and not counted. Exit status 1 when a
definition's kill rate is under ``--target`` (95% by default).

Each mutant runs in a child forked from a parent that has already imported pytest, peerflow
and hypothesis, so a mutant costs its tests, not an interpreter start (POSIX only).
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import hypothesis  # noqa: F401  (imported here, once, not in every child)
import pytest
from rule_marks import tests_by_rule

import peerflow
from peerflow._errors import DefinitionError
from peerflow.engine import _registry
from peerflow.model._loading import _on_the_day

EQUIVALENTS = ROOT / "tools" / "equivalent_mutants.txt"
AMOUNTS = ("days", "weeks", "months", "years", "working_days")
MONEY = ("cap", "per_day", "per_night")
COUNTS = ("min", "max", "max_days", "max_nights")
FLAGS = (
    "min_waivable",
    "max_waivable",
    "receipts_required",
    "bank_details_required",
    "and_or",
    "flat",
)
ROLE_LISTS = ("by", "owed_by", "set_by", "joined_by", "paid_by", "waivable_by")
UNIT_SWAPS = {
    "weeks": "days",
    "days": "weeks",
    "months": "weeks",
    "years": "months",
    "working_days": "days",
}
OTHER_COUNTRY = {"BE": "NL"}
QUICK_SAMPLE = 48


@dataclass
class Mutant:
    definition: str
    where: str
    change: str
    rules: tuple[str, ...]
    data: dict[str, Any] = field(repr=False)

    @property
    def key(self) -> str:
        """How tools/equivalent_mutants.txt names it."""
        return f"{self.definition} {self.where}: {self.change}"


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _set(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A deep copy of ``data`` with ``path`` set to ``value`` (``_DROP`` deletes it)."""
    mutated = copy.deepcopy(data)
    node: Any = mutated
    for step in path[:-1]:
        node = node[step]
    if value is _DROP:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return mutated


_DROP = object()


def _show(path: tuple[Any, ...]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


def _many_per_role(data: dict[str, Any], roles: list[str]) -> bool:
    """Whether any of these roles may have more than one participant (``each`` matters)."""
    declared = data.get("roles", {})
    return any(declared.get(r, {}).get("max", 1) != 1 for r in roles)


def expanded(node: Any) -> Any:
    """The definition with each window written ``{day_of: X}`` spelled out as the loader reads
    it (opens and closes on X's day), so its bounds are mutated like any other window's."""
    if isinstance(node, list):
        return [expanded(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = _on_the_day(node)  # the loader's own reading of day_of (built-ins are valid)
    return {key: expanded(value) for key, value in node.items()}


def mutants_of(definition_id: str, data: dict[str, Any]) -> Iterator[Mutant]:
    """Every mutant of one definition's rule-tagged elements."""
    data = expanded(data)
    roles = list(data.get("roles", {}))
    states = [s for s, spec in data.get("states", {}).items() if not (spec or {}).get("terminal")]
    working_day_rules: set[str] = set()

    def walk(node: Any, path: tuple[Any, ...], rules: tuple[str, ...]) -> Iterator[Mutant]:
        if isinstance(node, list):
            for i, item in enumerate(node):
                yield from walk(item, (*path, i), rules)
            return
        if not isinstance(node, dict):
            return
        rules = tuple(node.get("rules", ())) or rules
        if path == ("deadline",):
            rules = tuple(data.get("deadline_rules", ())) or rules
        if rules:
            yield from mutate_mapping(node, path, rules)
            if "working_days" in node:
                working_day_rules.update(rules)
        for key, value in node.items():
            if key not in ("rules", "deadline_rules"):
                yield from walk(value, (*path, key), rules)

    def make(path: tuple[Any, ...], value: Any, change: str, rules: tuple[str, ...]) -> Mutant:
        return Mutant(definition_id, _show(path), change, rules, _set(data, path, value))

    def mutate_mapping(
        node: dict[str, Any], path: tuple[Any, ...], rules: tuple[str, ...]
    ) -> Iterator[Mutant]:
        for key, value in node.items():
            here = (*path, key)
            if key in (*AMOUNTS, *MONEY, *COUNTS) and isinstance(value, int | float):
                yield make(here, value + 1, f"{key} {value} -> {value + 1}", rules)
                if value - 1 >= 0:
                    yield make(here, value - 1, f"{key} {value} -> {value - 1}", rules)
            if key in UNIT_SWAPS and isinstance(value, int):
                swapped = UNIT_SWAPS[key]
                bound = {k: v for k, v in node.items() if k != key}
                if swapped not in bound:
                    bound[swapped] = value
                    yield make(path, bound, f"{key}: {value} -> {swapped}: {value}", rules)
            if (
                key == "each"
                and isinstance(value, bool)
                and _many_per_role(data, _as_list(node.get("owed_by", [])))
            ):
                yield make(here, not value, f"each {value} -> {not value}", rules)
            if key in FLAGS and isinstance(value, bool):
                yield make(here, not value, f"{key} {value} -> {not value}", rules)
            if key in ROLE_LISTS:
                members = _as_list(value)
                for member in members:
                    rest = [m for m in members if m != member]
                    yield make(here, rest, f"{key} without {member}", rules)
                for role in roles:
                    if role not in members:
                        yield make(here, [*members, role], f"{key} with {role}", rules)
            if key == "requires":
                for member in _as_list(value):
                    rest = [m for m in _as_list(value) if m != member]
                    yield make(here, rest, f"requires without {member}", rules)
            if key == "min_times" and isinstance(value, dict):
                for event, times in value.items():
                    for other in (times + 1, times - 1):
                        if other >= 1:
                            yield make(
                                (*here, event),
                                other,
                                f"min_times {event} {times} -> {other}",
                                rules,
                            )
            if key == "renewed_by":
                yield make(here, _DROP, f"not renewed by {value}", rules)
            if key == "claims_during":
                # the documents say when claims may start, not when they end: a state is added
                for state in states:
                    if state not in _as_list(value):
                        yield make(
                            here, [*_as_list(value), state], f"claims_during with {state}", rules
                        )
            if key == "requires_when" and isinstance(value, list):
                for i, conditional in enumerate(value):
                    rest = [c for c in value if c is not conditional]
                    name = conditional.get("deliverable")
                    yield make(here, rest, f"requires_when without {name}", rules)
                    when = conditional.get("when", {})
                    read = data.get("deliverables", {}).get(when.get("deliverable"), {})
                    part = read.get("content", {}).get(when.get("part"), {})
                    for other in part.get("one_of", []):
                        if other != when.get("equals"):
                            changed = {**when, "equals": other}
                            yield make(
                                (*here, i, "when"), changed, f"{name} when equals {other!r}", rules
                            )
            if key in ("content", "list_of") and isinstance(value, dict) and len(value) > 1:
                for part in value:
                    yield make((*here, part), _DROP, f"{key} without {part}", rules)
            if key == "one_of" and isinstance(value, list):
                for member in value:
                    rest = [m for m in value if m != member]
                    yield make(here, rest, f"one_of without {member!r}", rules)
                extra = max(value) + 1 if all(isinstance(v, int) for v in value) else "other"
                yield make(here, [*value, extra], f"one_of with {extra!r}", rules)
        if (
            "owed_by" in node
            and "each" not in node
            and _many_per_role(data, _as_list(node["owed_by"]))
        ):
            yield make((*path, "each"), True, "each (default false) -> true", rules)

    yield from walk(data, (), ())
    country = data.get("country")
    if country in OTHER_COUNTRY and working_day_rules:
        other = OTHER_COUNTRY[country]
        yield make(
            ("country",), other, f"country {country} -> {other}", tuple(sorted(working_day_rules))
        )


def load_equivalents(path: Path = EQUIVALENTS) -> dict[str, str]:
    """``definition where: change`` -> why it cannot be observed."""
    found = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                key, _, why = line.partition(" -- ")
                found[key.strip()] = why.strip()
    return found


def _child(directory: Path, tests: list[str]) -> int:
    """Run the tests against the definitions in ``directory`` (in a forked child)."""
    _registry.builtin_dir = lambda: directory  # type: ignore[assignment]
    _registry._builtin_files.cache_clear()
    _registry._builtins.clear()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    args = [
        "-x",
        "-q",
        "--assert=plain",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        "--rootdir",
        str(ROOT),
    ]
    return int(pytest.main([*args, *(str(ROOT / "tests" / t) for t in tests)]))


def start(directory: Path, tests: list[str]) -> int:
    """Fork a child that runs ``tests``; its pid (exit status 0: every test passed)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = _child(directory, tests)
        finally:
            os._exit(code)
    return pid


def run(directory: Path, tests: list[str]) -> int:
    """Run ``tests`` in a child and wait for its exit status."""
    _, status = os.waitpid(start(directory, tests), 0)
    return os.waitstatus_to_exitcode(status)


def write_definitions(directory: Path, texts: dict[str, str]) -> None:
    for name, text in texts.items():
        (directory / f"{name}.yaml").write_text(text, encoding="utf-8")


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("definitions", nargs="*", help="built-in ids (default: all)")
    parser.add_argument(
        "--quick", action="store_true", help=f"a fixed sample of {QUICK_SAMPLE} mutants"
    )
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="mutants at once")
    parser.add_argument("--target", type=float, default=95.0, help="least kill rate, percent")
    parser.add_argument(
        "--equivalents",
        type=Path,
        default=EQUIVALENTS,
        help="the file of equivalent mutants with reasons (default: %(default)s)",
    )
    parser.add_argument(
        "--match", metavar="TEXT", help="only mutants whose description contains TEXT"
    )
    options = parser.parse_args(argv)

    files = peerflow.builtin_files()
    chosen = options.definitions or list(files)
    unknown = [d for d in chosen if d not in files]
    if unknown:
        parser.error(f"no built-in definition {', '.join(unknown)} (built-in: {', '.join(files)})")
    originals = {
        name: yaml.safe_load(path.read_text(encoding="utf-8")) for name, path in files.items()
    }
    texts = {name: dump(data) for name, data in originals.items()}
    index = tests_by_rule()
    equivalents = load_equivalents(options.equivalents)

    mutants = [m for name in chosen for m in mutants_of(name, originals[name])]
    if options.match:
        mutants = [m for m in mutants if options.match in m.key]
    if options.quick:
        mutants = random.Random(14).sample(mutants, min(QUICK_SAMPLE, len(mutants)))
    if options.list:
        for m in mutants:
            print(f"{m.key}  [{', '.join(m.rules)}]")
        return 0

    with tempfile.TemporaryDirectory(prefix="peerflow-mutants-") as tmp:
        directory = Path(tmp)
        write_definitions(directory, texts)
        every_test = sorted({t for m in mutants for r in m.rules for t in index.get(r, [])})
        if run(directory, every_test) != 0:
            print(
                "the rule tests fail on the unmutated definitions: fix them first", file=sys.stderr
            )
            return 2
        tally: dict[str, dict[str, int]] = {
            n: {"killed": 0, "survived": 0, "stillborn": 0, "equivalent": 0} for n in chosen
        }
        survivors: list[str] = []
        started = time.monotonic()
        slots = [directory / f"slot{i}" for i in range(max(1, options.jobs))]
        for slot in slots:
            slot.mkdir()
            write_definitions(slot, texts)
        free = list(slots)
        running: dict[int, tuple[Mutant, Path]] = {}

        def settle(pid: int, status: int) -> None:
            mutant, slot = running.pop(pid)
            write_definitions(slot, {mutant.definition: texts[mutant.definition]})
            free.append(slot)
            killed = os.waitstatus_to_exitcode(status) != 0
            tally[mutant.definition]["killed" if killed else "survived"] += 1
            if not killed:
                survivors.append(f"{mutant.key}  [{', '.join(mutant.rules)}]")

        for mutant in mutants:
            counts = tally[mutant.definition]
            if mutant.key in equivalents:
                counts["equivalent"] += 1
                continue
            text = dump(mutant.data)
            try:
                peerflow.compile_text(text, f"{mutant.definition}.yaml")
            except DefinitionError:
                counts["stillborn"] += 1
                continue
            tests = sorted({t for r in mutant.rules for t in index.get(r, [])})
            if not tests:
                counts["survived"] += 1
                survivors.append(f"{mutant.key}  [{', '.join(mutant.rules)}]  (no test marked)")
                continue
            while not free:
                settle(*os.wait())
            slot = free.pop()
            write_definitions(slot, {mutant.definition: text})
            running[start(slot, tests)] = (mutant, slot)
        while running:
            settle(*os.wait())
    print(f"{len(mutants)} mutants in {time.monotonic() - started:.0f} s")
    failing = False
    for name, counts in tally.items():
        counted = counts["killed"] + counts["survived"]
        if not sum(counts.values()):
            print(f"{name}: no mutant in this sample")
            continue
        rate = 100.0 * counts["killed"] / counted if counted else 100.0
        failing |= rate < options.target
        print(
            f"{name}: {rate:.1f}% killed ({counts['killed']} of {counted}; "
            f"{counts['stillborn']} stillborn, {counts['equivalent']} equivalent)"
        )
    if survivors:
        print("survivors:")
        for line in survivors:
            print(f"  {line}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
