"""The ``peerflow`` command: listing, showing, next steps, the demo, and bad input."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from peerflow.cli import main
from peerflow.engine._registry import example_path

EXAMPLE = str(example_path("prospect-peer-mentoring"))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_definitions_lists_ids_and_titles(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "definitions", "--json")
    assert code == 0
    assert {
        "id": "prospect-peer-mentoring",
        "version": 1,
        "title": "PROSPECT peer mentoring",
    } in json.loads(out)


@pytest.mark.parametrize("fmt", ["text", "json", "mermaid"])
def test_show_formats(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    code, out, _ = run(capsys, "show", "prospect-peer-mentoring", "--format", fmt)
    assert code == 0
    if fmt == "json":
        data = json.loads(out)
        assert data["id"] == "prospect-peer-mentoring"
        assert data["transitions"][0]["from"] == ["preparation"]
    elif fmt == "mermaid":
        assert out.startswith("stateDiagram-v2")
        assert "preparation --> getting_started : hold_orientation" in out
    else:
        assert "hold_orientation: preparation -> getting_started (by facilitator)" in out


def test_next_as_it_stood_at_a_date(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "next", EXAMPLE, "--at", "2027-02-16T12:00:00+01:00", "--json")
    assert code == 0
    status = json.loads(out)
    assert status["state"] == "getting_started"
    assert status["next_seq"] == 12  # the waiver at 09:00 that day is in, the late upload is not
    needs = next(s for s in status["steps"] if s["name"] == "learning_needs")
    assert needs["owed_by"] == ["split-mentee"]
    assert needs["allowed"] and [b["kind"] for b in needs["waived"]] == ["window_closed"]
    overdue = [d["name"] for d in status["deadlines"] if d["overdue"]]
    assert overdue == ["learning_needs"]


def test_next_as_a_role(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "next", EXAMPLE, "--at", "2027-03-04T09:00:00+01:00", "--as", "mentee"
    )
    assert code == 0
    assert "state: working_together" in out
    assert "role 'mentee' may not do this (allowed: mentor, facilitator)" in out


def test_a_time_without_offset_is_meant_in_the_programme_s_zone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The PROSPECT example runs in Europe/Brussels: 09:00 there is 08:00 UTC in March."""
    _, local, _ = run(capsys, "next", EXAMPLE, "--at", "2027-03-04T09:00")
    _, explicit, _ = run(capsys, "next", EXAMPLE, "--at", "2027-03-04T08:00:00+00:00")
    assert "at 2027-03-04 09:00 CET" in local.splitlines()[0]
    assert local == explicit


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("2027-02-15", "at 2027-02-15 23:59 CET"),  # a date: the end of that day, in Brussels
        ("2027-07-15", "at 2027-07-15 23:59 CEST"),  # summer time
        ("2027-02-15T23:30:00+00:00", "at 2027-02-16 00:30 CET"),  # shown in the zone
    ],
)
def test_a_moment_is_read_and_shown_in_the_programme_s_zone(
    typed: str, meant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "next", EXAMPLE, "--at", typed)
    assert code == 0 and meant in out.splitlines()[0]


@pytest.mark.parametrize("typed", ["2027-02-30", "soon", "+14x", "0202-01-01", "+99999w"])
def test_a_moment_that_is_not_one_is_refused_in_one_line(
    typed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "next", EXAMPLE, "--at", typed)
    assert code == 1 and err.count("\n") == 1 and "--at" in err, err


def test_a_huge_duration_is_refused_naming_what_is_expected() -> None:
    from peerflow.cli._moments import parse_duration  # noqa: PLC0415

    with pytest.raises(ValueError, match="is too far ahead: at most 100 years"):
        parse_duration("9" * 5000 + "d")


@pytest.mark.parametrize("typed", ["9" * 5000, "+" + "9" * 5000 + "d", "\x1b[2J" * 2000])
def test_a_huge_moment_is_refused_without_being_echoed_whole(
    typed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "next", EXAMPLE, f"--at={typed}")
    assert code == 1 and err.count("\n") == 1 and len(err) < 400, err[:500]
    assert "--at" in err
    assert "\x1b" not in err  # a control character is shown escaped, never sent to the terminal


def test_next_reports_a_bad_history_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = Path(EXAMPLE).read_text().splitlines()
    lines[3] = lines[3].replace('"at": "2027-01-13T11:00:00+01:00"', '"at": "2027-01-13T11:00:00"')
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    code, _, err = run(capsys, "next", str(bad))
    assert code == 1
    assert f"{bad}:4: 'at' has no UTC offset" in err


def test_next_names_each_deviation_with_its_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lines = Path(EXAMPLE).read_text().splitlines()
    # Drop the waiver (seq 11): the late upload after it is then a deviation.
    assert '"type": "waive"' in lines[11]
    del lines[11]
    bad = tmp_path / "no-waiver.jsonl"
    bad.write_text(
        "\n".join(
            line.replace(f'"seq": {n + 1}', f'"seq": {n}') if n >= 11 else line
            for n, line in enumerate(lines)
        )
        + "\n"
    )
    code, out, err = run(capsys, "next", str(bad), "--at", "2027-12-01T00:00:00+01:00")
    assert code == 0  # the history is what happened: shown as it stands, deviations named
    assert f"{bad}:12: seq 11: late: submit learning_needs: window closed" in err
    assert "completed" in out


def test_demo_walks_to_completion(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "demo")
    assert code == 0
    for stage in (
        "Preparatory steps",
        "Getting Started",
        "Working Together",
        "Meeting Up",
        "Moving Forward",
        "Completed",
    ):
        assert f"== {stage} (" in out
    assert "refused:" in out and "[blocked]" in out and "due by end of" in out
    events = len(example_path("prospect-peer-mentoring").read_text().splitlines())
    assert out.rstrip().endswith(f"{events} events applied strictly, none refused.")
    assert "split-travel: split-mentee claimed 640.00 EUR, reimbursable 600.00, paid" in out


def test_unknown_definition_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "show", "nope")
    assert code == 1
    assert "no built-in definition 'nope'" in err


def test_replay_and_import_show_progress_on_a_terminal_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """On a terminal, replay draws its bar in MB read and import in programmes, each ended
    once; into a file or a pipe, neither writes a thing (tests/test_progress.py: the bar)."""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for stream, shown in ((Terminal(), True), (io.StringIO(), False)):
        monkeypatch.setattr(sys, "stderr", stream)
        monkeypatch.setattr(sys, "stdout", io.StringIO())
        assert main(["replay", EXAMPLE]) == 0
        db = f"--db={tmp_path / f'{shown}.sqlite3'}"
        assert main(["import", EXAMPLE, db]) == 0
        drawn = stream.getvalue()
        if shown:
            assert drawn.count("MB read") >= 1 and drawn.count("programmes/s, done in") == 1
            assert drawn.count("\n") == 2  # each bar ended once
        else:
            assert drawn == ""


def test_a_deadline_on_the_day_asked_about_is_due_not_overdue(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """PM-05: Learning Needs within two weeks of the orientation (1 February 2027), so through
    15 February in Brussels. Asked "on 15 February", it is due, not late; on the 16th, late."""
    _, on_the_day, _ = run(capsys, "next", EXAMPLE, "--at", "2027-02-15")
    _, day_after, _ = run(capsys, "next", EXAMPLE, "--at", "2027-02-16")
    assert "due by end of 2027-02-15: submit learning_needs" in on_the_day
    assert "OVERDUE by end of 2027-02-15: submit learning_needs" in day_after


def test_who_still_owes_says_each_of_them_or_one_of_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """PM-03: the peer learning agreement is signed by the mentor and every mentee (each owes
    one); PM-10: the learning programme report is one document (any one of them settles it)."""
    _, before, _ = run(capsys, "next", EXAMPLE, "--at", "2027-01-12")
    assert (
        "submit peer_learning_agreement (by mentor, mentee; still owed by each of ghent-mentor, "
        "porto-mentee, split-mentee)" in before
    )
    assert "(waiting for each of ghent-mentor, porto-mentee, split-mentee)" in before
    _, late, _ = run(capsys, "next", EXAMPLE, "--at", "2027-07-20")
    assert "learning_programme_report (by mentor, mentee; still owed by one of " in late


def test_show_tells_the_parts_the_budget_and_who_may_waive(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """PM-07's six parts of the Learning Plan, PM-08's caps (mentee 600, mentor 270: materials
    20, food 150, transport 100) and payer, and the facilitator who agrees exceptions."""
    code, out, _ = run(capsys, "show", "prospect-peer-mentoring")
    assert code == 0
    for part in ("learning_objectives", "action_steps", "mentor_support", "time_frame",
                 "resources_needed", "evidence_of_success"):  # fmt: skip
        assert f"      part {part}: " in out
    assert "Waivers: facilitator may lift a blocker with a reason (peerflow waive)" in out
    assert "Budget (EUR; paid by finance_coordinator):" in out
    assert "  mentee, at most 600 in all:" in out and "  mentor, at most 270 in all:" in out
    assert "(cap 20)" in out and "(cap 150)" in out and "(cap 100)" in out
    assert "visit_structure: Final structure of the peer mentoring visit (owed by any one of" in out
    _, sc, _ = run(capsys, "show", "sc-site-visit")
    assert "Waivers: secretariat may lift" in sc


@pytest.mark.parametrize(("tty", "no_color", "coloured"), [(True, "", True), (True, "1", False),
                                                           (False, "", False)])  # fmt: skip
def test_colour_on_a_terminal_only_and_never_with_no_color(
    tty: bool, no_color: str, coloured: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Stream(io.StringIO):
        def isatty(self) -> bool:
            return tty

    out = Stream()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setenv("NO_COLOR", no_color)
    assert main(["next", EXAMPLE, "--at", "2027-02-16"]) == 0
    text = out.getvalue()
    assert ("\x1b[1;31mOVERDUE\x1b[0m by end of 2027-02-15" in text) == coloured
    assert ("\x1b[" in text) == coloured
    assert ("[\x1b[32mallowed\x1b[0m]" in text) == coloured


def test_on_a_terminal_long_lines_wrap_at_100_columns_and_not_into_a_pipe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Stream(io.StringIO):
        def __init__(self, tty: bool) -> None:
            super().__init__()
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    monkeypatch.setenv("NO_COLOR", "1")
    shown = {}
    for tty in (True, False):
        out = Stream(tty)
        monkeypatch.setattr(sys, "stdout", out)
        assert main(["next", EXAMPLE, "--at", "2027-01-12"]) == 0
        shown[tty] = out.getvalue()
    assert max(len(line) for line in shown[True].splitlines()) <= 100
    assert max(len(line) for line in shown[False].splitlines()) > 100  # a line per item
    assert shown[True].split() == shown[False].split()  # the same words, only wrapped
