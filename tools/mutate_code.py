"""Code mutation of the rule-carrying code with mutmut, one scope at a time.

mutmut mutates whole files; the engine's files also hold plumbing (event envelopes, the
Machine, JSON). A scope names the files, the functions that carry the documents' rules (the
budget, windows and calendars, roles and joins, the fast path's checks) and the tests that
prove them. The run happens in a copy of the project (so the checkout's `mutants/` and
`pyproject.toml` stay as they are), then prints the kill rate of the scope and its survivors
with the change each made. mutmut numbers mutants by position, so an equivalent mutant is
listed in ``tools/equivalent_code_mutants.txt`` by its function and its change
(``function | removed => added | why``) and is then not counted.

    python tools/mutate_code.py money       # _budget.py and _calendar.py, every function
    python tools/mutate_code.py engine      # windows, roles, joins, waivers, the fast path
    python tools/mutate_code.py engine --only _join_event   # one function, for a quick look

Exit status 1 when a scope is under ``--target`` percent (default 90).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENTS = Path(__file__).with_name("equivalent_code_mutants.txt")
SEP = "ǁ"  # mutmut's separator between a class and its method in a mutant's name


@dataclass(frozen=True)
class Scope:
    files: tuple[str, ...]
    functions: tuple[str, ...]  # "module.function" or "module.Class.method"; "module.*": all
    tests: tuple[str, ...]


TESTS = (
    "tests/test_budget.py",
    "tests/test_claims.py",
    "tests/test_calendar.py",
    "tests/test_rule_tables.py",
    "tests/test_rules.py",
    "tests/test_prospect.py",
)

SCOPES = {
    "money": Scope(
        ("src/peerflow/engine/_budget.py", "src/peerflow/model/_calendar.py"),
        ("peerflow.engine._budget.*", "peerflow.model._calendar.*"),
        TESTS,
    ),
    "engine": Scope(
        (
            "src/peerflow/engine/_guards.py",
            "src/peerflow/engine/_windows.py",
            "src/peerflow/engine/_handlers.py",
            "src/peerflow/engine/_checks.py",
            "src/peerflow/engine/_payloads.py",
            "src/peerflow/engine/_deadlines.py",
            "src/peerflow/replay/_fastfold.py",
        ),
        tuple(
            f"peerflow.engine._guards.{name}"
            for name in ("required", "owing", "evaluate", "actor_parts", "join_limit")
        )
        + tuple(
            f"peerflow.engine._windows.{name}"
            for name in ("anchor_of", "instant", "deadline_instant", "advised", "payment_due")
        )
        + tuple(
            f"peerflow.engine._handlers.{name}"
            for name in (
                "_fire_event",
                "_submit_event",
                "_waive_event",
                "_waive_join",
                "_join_event",
                "_joins_self",
            )
        )
        + tuple(f"peerflow.engine._payloads.{name}" for name in ("_check_starter", "_participants"))
        + ("peerflow.engine._deadlines.due_from",)
        + tuple(
            f"peerflow.engine._checks.{name}"
            for name in (
                "anchor_day",
                "missing_bits",
                "quorum_shortfalls",
                "scheduled_day",
                "earlier_close",
            )
        )
        + tuple(
            f"peerflow.replay._fastfold.FastFold.{name}"
            for name in ("_day", "_window_instants", "_owed_all_in", "run")
        ),
        (
            *TESTS,
            "tests/test_replay.py",
            "tests/test_definitions.py",
            "tests/test_snapshot.py",
            "tests/test_deadlines.py",
            "tests/test_waivers.py",
            "tests/test_fast_path.py",
            "tests/test_start.py",
        ),
    ),
}


def pattern(function: str) -> str:
    """The mutmut name pattern of a function's mutants."""
    parts = function.split(".")
    if parts[-1] == "*":
        return ".".join(parts[:-1]) + ".*"
    if parts[-2][:1].isupper():  # a method
        module = ".".join(parts[:-2])
        return f"{module}.x{SEP}{parts[-2]}{SEP}{parts[-1]}__mutmut_*"
    return f"{'.'.join(parts[:-1])}.x_{parts[-1]}__mutmut_*"


def config(scope: Scope) -> str:
    listed = ", ".join(f'"{t}"' for t in scope.tests)
    files = ", ".join(f'"{f}"' for f in scope.files)
    return (
        "\n[tool.mutmut]\n"
        f"source_paths = [{files}]\n"
        'also_copy = ["src/peerflow", "definitions", "docs"]\n'
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "--hypothesis-profile=mutation"]\n'
        f"pytest_add_cli_args_test_selection = [{listed}]\n"
    )


def project_copy(where: Path, scope: Scope) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "mutants", ".venv", ".git", "*.sqlite3")
    for name in ("src", "definitions", "docs", "tests", "tools"):
        shutil.copytree(ROOT / name, where / name, ignore=ignore)
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    text = re.sub(r"\n\[tool\.mutmut\]\n.*?(?=\n\[)", "\n", text, flags=re.S)
    (where / "pyproject.toml").write_text(text + config(scope), encoding="utf-8")


def equivalents() -> dict[tuple[str, str], str]:
    """(function, change) -> why the mutant cannot be told apart from the original."""
    found = {}
    for line in EQUIVALENTS.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            function, change, reason = (part.strip() for part in line.split(" | ", 2))
            found[function, change] = reason
    return found


def function_of(mutant: str) -> str:
    """``peerflow.engine._budget.x__used__mutmut_4`` -> ``peerflow.engine._budget._used``."""
    module, _, mangled = mutant.rpartition("__mutmut_")[0].rpartition(".")
    if mangled.startswith("x" + SEP):
        return f"{module}.{'.'.join(mangled[2:].split(SEP))}"
    return f"{module}.{mangled.removeprefix('x_')}"


def change_of(diff: str) -> str:
    """The lines a mutant removed and added, each side on one line: ``a => b``."""
    lines = [line for line in diff.splitlines() if not line.startswith(("---", "+++"))]
    removed = " ".join(line[1:].strip() for line in lines if line.startswith("-"))
    added = " ".join(line[1:].strip() for line in lines if line.startswith("+"))
    return f"{removed} => {added}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scope", choices=sorted(SCOPES))
    parser.add_argument("--only", metavar="TEXT", help="only functions whose name contains TEXT")
    parser.add_argument("--jobs", type=int, default=2, help="mutants at once")
    parser.add_argument("--target", type=float, default=90.0, help="least kill rate, percent")
    parser.add_argument("--keep", action="store_true", help="keep the copy and print where")
    args = parser.parse_args(argv)
    scope = SCOPES[args.scope]
    functions = [f for f in scope.functions if args.only is None or args.only in f]
    if not functions:
        parser.error(f"no function of scope {args.scope} contains {args.only!r}")
    copy = Path(tempfile.mkdtemp(prefix="peerflow-mutmut-"))
    began = time.monotonic()
    try:
        project_copy(copy, scope)
        command = [sys.executable, "-m", "mutmut"]
        subprocess.run(
            [*command, "run", "--max-children", str(args.jobs), *map(pattern, functions)],
            cwd=copy,
            check=False,
            stdout=subprocess.DEVNULL,
        )
        listed = subprocess.run(
            [*command, "results", "--all", "true"],
            cwd=copy,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        wanted = [re.compile(re.escape(pattern(f)).replace(r"\*", ".*") + "$") for f in functions]
        changes = {  # only the scope's survivors: `mutmut show` takes a moment each
            name: change_of(
                subprocess.run(
                    [*command, "show", name], cwd=copy, capture_output=True, text=True, check=True
                ).stdout
            )
            for name, verdict in re.findall(r"^\s*(\S+): (\S+)", listed, flags=re.M)
            if verdict != "killed" and any(w.match(name) for w in wanted)
        }
    finally:
        if args.keep:
            print(f"the copy: {copy}")
        else:
            shutil.rmtree(copy, ignore_errors=True)
    verdicts = {
        name: verdict
        for name, verdict in re.findall(r"^\s*(\S+): (\S+)", listed, flags=re.M)
        if any(w.match(name) for w in wanted)
    }
    known = equivalents()
    equivalent = {
        n for n, v in verdicts.items() if v != "killed" and (function_of(n), changes[n]) in known
    }
    counted = {n: v for n, v in verdicts.items() if n not in equivalent}
    killed = sum(v == "killed" for v in counted.values())
    rate = 100.0 * killed / len(counted) if counted else 0.0
    print(
        f"{args.scope}: {rate:.1f}% killed ({killed} of {len(counted)}; "
        f"{len(equivalent)} equivalent) in {time.monotonic() - began:.0f} s"
    )
    survivors = sorted(n for n, v in counted.items() if v != "killed")
    if survivors:
        print("survivors (function | change: verdict):")
        for name in survivors:
            print(f"  {function_of(name)} | {changes[name]}: {counted[name]}")
    return 0 if counted and rate >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
