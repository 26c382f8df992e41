"""A quick sample of the definition mutation runner (the full run is in docs/verification.md).

The runner changes one rule-tagged element of a built-in definition at a time and runs the
tests marked with that element's rules; here a fixed sample of its mutants must all be
killed, so a rule test that stops proving its rule fails the suite, not only the full run.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "tools" / "mutate_definitions.py"


def run_runner(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(RUNNER), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_a_fixed_sample_of_definition_mutants_is_all_killed() -> None:
    done = run_runner("--quick", "--target", "100")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "survivors:" not in done.stdout, done.stdout
    killed = [int(n) for n in re.findall(r"killed \((\d+) of", done.stdout)]
    assert sum(killed) >= 20, done.stdout  # the sample really ran mutants


def test_the_runner_reports_a_mutant_no_test_can_kill(tmp_path: Path) -> None:
    """Without its entry in the equivalents file, a mutant no programme can tell apart (the
    mentee's role cap above its only item's cap) survives: the runner lists it and fails.
    So the sample above passing is not a runner that cannot see a survivor."""
    done = run_runner(
        "prospect-peer-mentoring",
        "--match",
        "roles.mentee.cap: cap 600 -> 601",
        "--equivalents",
        str(tmp_path / "none.txt"),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "survivors:\n  prospect-peer-mentoring budget.roles.mentee.cap" in done.stdout
