"""Fuzzing what the command line reads: definition files and history files.

Hypothesis damages real files (the built-in definitions, the shipped example histories) with
odd bytes, control characters, bytes that are not UTF-8, cut and doubled lines, deep nesting,
YAML aliases and odd values, then runs ``validate``, ``replay``, ``next`` and ``import`` on
them. Each must end with exit status 0, 1 or 2, no traceback, each complaint naming the file
and line, and every line of a history either read or reported.
"""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import peerflow
from peerflow.cli import main
from peerflow.engine._registry import example_path

ODD_TEXT = [
    "\x00",
    "\x1b[2J",
    "\x1f",
    "\n",
    "\r",
    "\t",
    "\ud800",
    "\u202e",
    '"',
    "'",
    "#",
    "&a",
    "*a",
    "[" * 300,
    "{" * 300,
    "- ",
    ": ",
    "NaN",
    "1e999",
    "-1",
    "0.5",
    "yes",
    "~",
    "!!python/object:os.system",
]
ODD_BYTES = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\x00", b"\x80\x80"]


@st.composite
def damaged(draw: st.DrawFn, original: bytes) -> bytes:
    """``original`` with a few damages: odd text or bytes put in, lines cut, doubled or lost."""
    lines = original.split(b"\n")
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        what = draw(st.sampled_from(["insert", "bytes", "cut", "double", "drop", "swap"]))
        line = lines[i]
        at = draw(st.integers(0, len(line)))
        if what == "insert":
            text = draw(st.sampled_from(ODD_TEXT)).encode("utf-8", "surrogatepass")
            lines[i] = line[:at] + text + line[at:]
        elif what == "bytes":
            lines[i] = line[:at] + draw(st.sampled_from(ODD_BYTES)) + line[at:]
        elif what == "cut":
            lines[i] = line[:at]
        elif what == "double":
            lines.insert(i, line)
        elif what == "drop" and len(lines) > 1:
            del lines[i]
        elif what == "swap" and len(lines) > 1:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as stop:  # argparse's usage errors
            code = int(stop.code or 0)
    return code, out.getvalue(), err.getvalue()


FUZZ = settings(
    # 40 a file at the quick budget; a quarter of the profile's with --hypothesis-profile=deep
    max_examples=max(40, settings.default.max_examples // 4),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

DEFINITIONS = sorted(peerflow.builtin_files().items())
HISTORIES = sorted(peerflow.builtin_files())


@pytest.mark.parametrize(("name", "path"), DEFINITIONS, ids=[n for n, _ in DEFINITIONS])
def test_validate_never_raises_and_names_file_and_line(
    tmp_path: Path, name: str, path: Path
) -> None:
    @FUZZ
    @given(data=damaged(path.read_bytes()))
    def check(data: bytes) -> None:
        target = tmp_path / f"{name}.yaml"
        target.write_bytes(data)
        code, out, err = run("validate", "-q", str(target))
        assert code in (0, 1), err
        assert "Traceback" not in out + err
        for line in out.splitlines():
            assert re.match(rf"^{re.escape(str(target))}:\d+: ", line), line
        if code == 0:
            assert not out
        else:
            assert out
        try:
            peerflow.model.parse_definition(data.decode("utf-8", "replace"), "fuzzed.yaml")
        except peerflow.DefinitionError as refused:
            assert all(p.file == "fuzzed.yaml" and p.line >= 0 for p in refused.problems)

    check()


def _accounted(path: Path) -> None:
    """Every non-blank line is a row read, a problem reported, or counted as left out."""
    found = peerflow.replay.read_histories(path)
    lines = [raw for raw in path.read_bytes().removeprefix(b"\xef\xbb\xbf").split(b"\n")]
    non_blank = sum(1 for raw in lines if raw.strip())
    rows = sum(len(r) for r in found.rows.values())
    reported = sum(1 for p in found.problems if p.line > 0)
    assert rows + reported + sum(found.left_out.values()) == non_blank, (
        rows,
        reported,
        found.left_out,
        non_blank,
    )


@pytest.mark.parametrize("name", HISTORIES)
def test_history_commands_never_raise_and_account_for_every_line(tmp_path: Path, name: str) -> None:
    original = example_path(name).read_bytes()

    @FUZZ
    @given(data=damaged(original))
    def check(data: bytes) -> None:
        target = tmp_path / "fuzzed.jsonl"
        target.write_bytes(data)
        _accounted(target)
        db = tmp_path / "store.sqlite3"
        db.unlink(missing_ok=True)
        for argv in (
            ("replay", str(target), "--format", "json"),
            ("next", str(target), "--at", "2030-01-01T00:00:00+00:00"),
            ("import", str(target), "--db", str(db)),
        ):
            code, out, err = run(*argv)
            assert code in (0, 1, 2), (argv, code, err)
            assert "Traceback" not in out + err
            for line in err.splitlines():
                assert line.isprintable(), line
            if argv[0] == "replay":
                report = json.loads(out)
                said = {(p["file"], p["line"]) for p in report["problems"]}
                assert all(file == str(target) for file, _ in said)
                assert code == (
                    1 if said or any(p["state"] is None for p in report["programmes"]) else 0
                )

    check()
