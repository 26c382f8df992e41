"""A quick sample of the code mutation run (the full run and its figures: docs/verification.md).

mutmut mutates the calendar's ``bound_day`` and ``local_date`` in a copy of the project, and
the calendar tests must kill every mutant but the one listed as equivalent there (a bound's
sign is never 0). A calendar test that stops guarding what it guards fails the suite here,
not only in the long run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT = {"peerflow.model._calendar.x_bound_day__mutmut_36"}  # sign >= 0: the sign is +1 or -1

mutmut = pytest.importorskip(
    "mutmut", reason="mutmut NOT INSTALLED: pip install -e '.[test]' installs it"
)

CONFIG = """
[tool.mutmut]
source_paths = ["src/peerflow/model/_calendar.py"]
also_copy = ["src/peerflow", "definitions"]
pytest_add_cli_args = ["-p", "no:cacheprovider", "--hypothesis-profile=mutation"]
pytest_add_cli_args_test_selection = ["tests/test_calendar.py"]
"""


def project_copy(where: Path) -> Path:
    """The project's source, definitions and the calendar tests, with a small mutmut config."""
    shutil.copytree(ROOT / "src", where / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "definitions", where / "definitions")
    (where / "tests").mkdir()
    for name in ("conftest.py", "support.py", "definition_coverage.py", "test_calendar.py"):
        shutil.copy2(ROOT / "tests" / name, where / "tests" / name)
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    text = re.sub(r"\n\[tool\.mutmut\]\n.*?(?=\n\[)", "\n", text, flags=re.S)
    (where / "pyproject.toml").write_text(text + CONFIG, encoding="utf-8")
    return where


def test_the_calendar_tests_kill_every_mutant_of_bound_day_and_local_date(
    tmp_path: Path,
) -> None:
    project = project_copy(tmp_path)
    command = [sys.executable, "-m", "mutmut"]
    ran = subprocess.run(
        [
            *command,
            "run",
            "--max-children",
            "2",
            "peerflow.model._calendar.x_bound_day*",
            "peerflow.model._calendar.x_local_date*",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    listed = subprocess.run(
        [*command, "results", "--all", "true"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    verdicts = dict(re.findall(r"^\s*(\S+): (\w+)", listed, flags=re.M))
    sampled = {k: v for k, v in verdicts.items() if "x_bound_day" in k or "x_local_date" in k}
    assert len(sampled) >= 30, listed  # the sample really ran
    survivors = {k for k, v in sampled.items() if v != "killed"} - EQUIVALENT
    assert not survivors, f"calendar mutants no test kills: {sorted(survivors)}"
