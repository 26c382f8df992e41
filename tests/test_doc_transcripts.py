"""The command-line transcripts in the docs are what the command prints today.

A transcript is a fenced block whose lines starting with ``$ peerflow`` are commands; the
lines after one are its output, where ``...`` stands for lines left out (the others must
appear in that order); ``$ echo $?`` checks the exit status. Each runs in a fresh folder
holding what the docs say the reader has (the repository's tests/, a synthetic file).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

import peerflow
from peerflow.synthetic import generate

DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]


def _transcripts() -> list[tuple[str, str]]:
    found = []
    for path in DOCS:
        for block in re.findall(r"```[a-z]*\n(.*?)```", path.read_text(encoding="utf-8"), re.S):
            if block.startswith("$ peerflow"):
                found.append((path.name, block))
    return found


def _steps(block: str) -> list[tuple[list[str], list[str]]]:
    """(command, expected output lines) pairs."""
    steps: list[tuple[list[str], list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((shlex.split(line[2:]), []))
        else:
            steps[-1][1].append(line)
    return steps


def _shown_in_order(expected: list[str], actual: list[str]) -> bool:
    """Equal, or, where the docs leave lines out (``...``, indented or not), each line shown
    appears in order."""
    kept = [line for line in expected if line.strip() != "..."]
    if len(kept) == len(expected):
        return expected == actual
    rest = iter(actual)
    return all(any(line == seen for seen in rest) for line in kept)


@pytest.fixture
def reader_folder(tmp_path: Path) -> Path:
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    made = generate(peerflow.definition("sc-expert-review"), 20, seed=1, deviation_share=0.5)
    (tmp_path / "expert-reviews.jsonl").write_text("\n".join(made.lines()) + "\n")
    return tmp_path


def test_the_docs_have_transcripts() -> None:
    assert {name for name, _ in _transcripts()} >= {"checking.md", "replay.md"}


@pytest.mark.parametrize(("doc", "block"), _transcripts(), ids=lambda v: str(v)[:30])
def test_a_transcript_prints_what_the_docs_show(doc: str, block: str, reader_folder: Path) -> None:
    status = 0
    for command, expected in _steps(block):
        if command == ["echo", "$?"]:
            assert expected == [str(status)], doc
            continue
        assert command[0] == "peerflow", doc
        done = subprocess.run(
            [sys.executable, "-m", "peerflow", *command[1:]],
            cwd=reader_folder,
            capture_output=True,
            text=True,
            check=False,
        )
        status = done.returncode
        actual = done.stdout.splitlines()
        assert _shown_in_order(expected, actual), f"{doc}: {' '.join(command)}\n{done.stdout}"
