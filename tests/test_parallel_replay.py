"""Replay in several processes (``replay -j N``, ``replay_files(jobs=N)``): the same result and
the same bytes as one process, whatever the order of the file and whatever its bad lines."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

import peerflow
from peerflow.cli import main
from peerflow.replay import replay_files
from peerflow.replay._audit import _stays
from peerflow.replay._exports import write_json
from peerflow.replay._parallel import _Share, report_in_processes
from peerflow.replay._stats import summarise
from peerflow.synthetic import generate


def _events() -> list[peerflow.Event]:
    events: list[peerflow.Event] = []
    for index, definition_id in enumerate(sorted(peerflow.builtin_files())):
        events += generate(
            peerflow.definition(definition_id), 8, seed=index, deviation_share=0.5
        ).events
    return events


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same histories grouped by programme, and interleaved in time order (as the
    store's export writes them), each with bad lines: not JSON, not UTF-8, a gap, a line
    naming no programme, and one whose payload names a programme before the real key."""
    folder = tmp_path_factory.mktemp("parallel")
    events = _events()
    grouped = [e.to_line().encode() for e in events]
    interleaved = [e.to_line().encode() for e in sorted(events, key=lambda e: (e.at, e.id))]
    found = {}
    for name, given in (("grouped", grouped), ("interleaved", interleaved)):
        lines = list(given)
        lines[5] = b"{not json"
        lines[9] = lines[9].replace(b'"programme": "', b'"programme": "\xff', 1)
        lines[14] = b'{"v": 1, "seq": 3}'
        del lines[20]  # a gap in that line's programme
        path = folder / f"{name}.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        found[name] = path
    misled = json.loads(grouped[30])
    real = _Share(0, 2)([misled["programme"].join(['"programme": "', '"']).encode()])
    other = next(  # a name that falls to the other worker than the real id does
        name
        for name in (f"somebody-{n}" for n in range(100))
        if _Share(0, 2)([f'"programme": "{name}"'.encode()]) != real
    )
    rest = {key: value for key, value in misled.items() if key != "payload"}
    odd = {"payload": {**misled["payload"], "programme": other}, **rest}  # read first
    lines = list(grouped)
    lines[30] = json.dumps(odd).encode()
    path = folder / "misled.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    found["misled"] = path
    return found


def test_a_split_that_does_not_hold_is_seen(files: dict[str, Path]) -> None:
    """The misled line sends one programme's lines to both workers: the report says so
    (None), and the command then replays in one process (the tests below)."""
    assert report_in_processes([files["misled"]], None, 2, "text", True) is None
    assert report_in_processes([files["interleaved"]], None, 2, "text", True) is not None


def test_a_programmes_lines_all_fall_to_one_worker() -> None:
    shares = [_Share(index, 3) for index in range(3)]
    for line in (
        b'{"v": 1, "programme": "ghent-2027", "seq": 0}',
        b'{"v": 1, "programme":"ghent-2027", "seq": 0}',  # other spacing
        b'{"v": 1, "programme": "a\\"b", "seq": 0}',  # an escaped quote
    ):
        assert sum(share([line]) == [line] for share in shares) == 1
        assert sum(share([line]) == [b""] for share in shares) == 2
    assert [share([b"{not json"]) for share in shares] == [[b"{not json"], [b""], [b""]]


@pytest.mark.parametrize("layout", ["grouped", "interleaved", "misled"])
def test_replay_files_in_processes_is_the_same_replay(layout: str, files: dict[str, Path]) -> None:
    alone = replay_files(files[layout])
    pooled = replay_files(files[layout], jobs=2)
    # problems are exceptions, equal only to themselves: compared as what they say
    as_json = [json.dumps([p.to_dict() for p in r]) for r in (pooled, alone)]
    assert as_json[0] == as_json[1]
    assert [p.events for p in pooled] == [p.events for p in alone]
    assert [str(p) for p in pooled.bad_lines] == [str(p) for p in alone.bad_lines]
    assert [str(p) for p in pooled.problems] == [str(p) for p in alone.problems]
    assert len(alone) > 40
    assert len(alone.bad_lines) >= 4 or layout == "misled"
    assert [p.final for p in pooled] == [p.final for p in alone]


@pytest.mark.parametrize("layout", ["grouped", "interleaved", "misled"])
@pytest.mark.parametrize(
    "options",
    [
        ["--summary"],
        [],
        ["--format", "json"],
        ["--format", "json", "--summary"],
        ["--format", "csv"],
        ["--format", "csv", "--summary"],
        ["--format", "xes"],
        ["--format", "ocel"],  # from the whole replay, sent back by the workers
    ],
)
def test_the_replay_command_writes_the_same_bytes_with_two_workers(
    layout: str,
    options: list[str],
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    said = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out{jobs}"
        code = main(["replay", str(files[layout]), *options, "-j", jobs, "-o", str(out)])
        said.append((code, out.read_bytes(), capsys.readouterr().err))
    assert said[0][0] == said[1][0] == (0 if layout == "misled" else 1)  # the bad lines
    assert said[0][1] == said[1][1] and said[0][1]
    assert said[0][2] == said[1][2]


def test_stays_read_off_the_columns_are_the_durations_of_the_records(
    files: dict[str, Path],
) -> None:
    result = replay_files(files["interleaved"])
    assert sum(len(p.durations()) for p in result) > 50
    for p in result:
        assert p.durations() == _stays(list(p.events))


@pytest.mark.parametrize("summary_only", [False, True])
@pytest.mark.parametrize("layout", ["grouped", "none"])
def test_the_json_report_made_a_programme_at_a_time_is_what_json_dump_writes(
    layout: str, summary_only: bool, files: dict[str, Path]
) -> None:
    """The blocks are joined by hand (so that workers can render them): byte for byte the
    standard library's rendering of the whole, with and without programmes."""
    result = replay_files(files["grouped"]) if layout == "grouped" else replay_files()
    stream = io.StringIO()
    write_json(result.programmes, result.bad_lines, stream, summary_only=summary_only)
    whole = {
        "summary": summarise(result.programmes),
        "programmes": [p.to_dict(events=not summary_only) for p in result.programmes],
        "problems": [p.to_dict() for p in result.bad_lines],
    }
    assert stream.getvalue() == json.dumps(whole, ensure_ascii=False, indent=1) + "\n"
