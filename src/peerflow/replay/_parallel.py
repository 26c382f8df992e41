"""Replay of files in several processes, each reading and replaying its own programmes.

Each worker (the calling process is the first) reads the files itself, and keeps a line only
if the programme it names falls to that worker (a hash of the id, found in the line's bytes
with no JSON parsing); every other line is skipped where it lies, keeping its number. A
programme's lines therefore all go to one worker, whatever the order of the file: grouped by
programme, or interleaved as the store's export writes them (byte ranges of the file could
not promise that). Each worker returns its programmes' replays, compact (the rows a replay
keeps, not the events), or for a report only its programmes' parts of the text, and the
caller merges them in programme order.

The result is the same as one process's, and is checked to be: the sets of programmes the
workers replayed must not meet. A line that names its programme oddly (an escaped id, a
``"programme"`` key inside the payload before the real one) could send a programme's lines
to two workers; then the caller is told (None) and replays in one process, so the answer
never depends on the split.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import attrs

from peerflow._errors import HistoryError
from peerflow.engine._compiled import CompiledDefinition
from peerflow.replay._audit import ProgrammeReplay, Replay
from peerflow.replay._exports import REPORT_FORMATS, not_replayed_text, programme_block
from peerflow.replay._folding import fold_files, in_reading_order
from peerflow.replay._stats import SummaryParts

_PROGRAMME = re.compile(rb'"programme"\s*:\s*"((?:[^"\\]|\\.)*)"')


class _Share:
    """The lines of one worker's share: those whose programme hashes to ``index``. Called
    with a chunk of lines, it blanks the others (one call a chunk: a call a line cost as much
    as the rest of the reading)."""

    def __init__(self, index: int, workers: int) -> None:
        self.index, self.workers = index, workers

    def __call__(self, chunk: list[bytes]) -> list[bytes]:
        index, workers, search, crc32 = self.index, self.workers, _PROGRAMME.search, zlib.crc32
        kept = []
        for line in chunk:
            # the first '"programme": "' as json.dumps writes it, else any spacing; any rule
            # that depends on the line alone will do (the merge checks the split held)
            start = line.find(b'"programme": "')
            if start >= 0:
                start += 14
                owner = crc32(line[start : line.find(b'"', start)]) % workers
            else:
                found = search(line)
                owner = 0 if found is None else crc32(found.group(1)) % workers
            kept.append(line if owner == index else b"")
        return kept


_T = TypeVar("_T")


def _shares(
    work: Callable[..., _T],
    workers: int,
    progress: Callable[[int, int], None] | None,
    paths: list[str | Path],
    definition: CompiledDefinition | None,
    **options: Any,
) -> list[_T]:
    """``work`` for each share, the first in this process while the others run in a pool
    (one process fewer to start, and its result need not be sent back)."""
    with ProcessPoolExecutor(workers - 1) as pool:
        futures = [
            pool.submit(work, paths, definition, index, workers, **options)
            for index in range(1, workers)
        ]
        parts = [work(paths, definition, 0, workers, **options)]
        if progress is not None:
            progress(1, workers)
        for done, future in enumerate(futures, start=2):
            parts.append(future.result())
            if progress is not None:
                progress(done, workers)
    return parts


_Part = tuple[list[ProgrammeReplay], list[HistoryError]]


def _replay_share(
    paths: Sequence[str | Path], definition: CompiledDefinition | None, index: int, workers: int
) -> _Part:
    results, found = fold_files(paths, definition, keep=_Share(index, workers))
    return results, found.problems


def replay_in_processes(
    paths: Sequence[str | Path],
    definition: CompiledDefinition | None,
    workers: int,
    progress: Callable[[int, int], None] | None = None,
) -> Replay | None:
    """:func:`replay_files` in ``workers`` processes; ``progress`` counts workers done. None
    if the split did not hold (a programme's lines reached two workers)."""
    parts = _shares(_replay_share, workers, progress, list(paths), definition)
    if not split_held([p.programme for p in results] for results, _ in parts):
        return None
    programmes = sorted((p for results, _ in parts for p in results), key=lambda p: p.programme)
    problems = in_reading_order([problem for _, found in parts for problem in found], paths)
    unattributed = tuple(p for p in problems if p.programme is None)
    return Replay(tuple(programmes), unattributed, tuple(problems))


@attrs.frozen
class Report:
    """A replay's report, made by the workers a programme at a time: each programme's block
    of the output (in programme order), the summary, the bad lines, and each programme that
    could not be replayed (as its line for standard error)."""

    blocks: list[str]
    summary: dict[str, Any] | None
    problems: list[HistoryError]
    not_replayed: list[str]

    @property
    def ok(self) -> bool:
        """As :attr:`Replay.ok`: no bad line, every programme replayed."""
        return not self.problems and not self.not_replayed


_ReportPart = tuple[
    list[str],
    list[tuple[str, str]],
    SummaryParts | None,
    list[HistoryError],
    list[tuple[str, str]],
]


def _first(pair: tuple[str, str]) -> str:
    return pair[0]


def _rendered(
    results: list[ProgrammeReplay], problems: list[HistoryError], fmt: str, summary_only: bool
) -> _ReportPart:
    """One share's part of a report: its programmes' blocks, its summary's parts, its bad
    lines and the programmes it could not replay, each keyed by programme for the merge."""
    blocks = (
        []
        if fmt == "text" and summary_only
        else [(p.programme, programme_block(p, fmt, summary_only)) for p in results]
    )
    parts = SummaryParts().take(results) if fmt in ("text", "json") else None
    not_replayed = [(p.programme, not_replayed_text(p)) for p in results if p.final is None]
    return [p.programme for p in results], blocks, parts, problems, not_replayed


def _report_share(
    paths: Sequence[str | Path],
    definition: CompiledDefinition | None,
    index: int,
    workers: int,
    fmt: str,
    summary_only: bool,
) -> _ReportPart:
    results, found = fold_files(paths, definition, keep=_Share(index, workers))
    return _rendered(results, found.problems, fmt, summary_only)


def split_held(names: Iterable[Iterable[str]]) -> bool:
    """Whether no programme was replayed by two workers (each set of ``names`` is one
    worker's programmes): only then is the merged result one process's."""
    seen: set[str] = set()
    for share in names:
        programmes = set(share)
        if not seen.isdisjoint(programmes):
            return False
        seen |= programmes
    return True


def _merged(parts: list[_ReportPart], paths: Sequence[str | Path], fmt: str) -> Report:
    blocks = [block for _, block in sorted((b for part in parts for b in part[1]), key=_first)]
    summary = None
    if fmt in ("text", "json"):
        total = SummaryParts()
        for part in parts:
            assert part[2] is not None
            total.add(part[2])
        summary = total.summary()
    problems = in_reading_order([problem for part in parts for problem in part[3]], paths)
    not_replayed = [line for _, line in sorted((n for part in parts for n in part[4]), key=_first)]
    return Report(blocks, summary, problems, not_replayed)


def report_here(
    paths: Sequence[str | Path],
    definition: CompiledDefinition | None,
    fmt: str,
    summary_only: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """The report of ``fmt`` made in this process, the same way the workers make theirs."""
    results, found = fold_files(paths, definition, progress)
    return _merged([_rendered(results, found.problems, fmt, summary_only)], paths, fmt)


def report_in_processes(
    paths: Sequence[str | Path],
    definition: CompiledDefinition | None,
    workers: int,
    fmt: str,
    summary_only: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Report | None:
    """The report of ``fmt`` (one of :data:`REPORT_FORMATS`) made in ``workers`` processes,
    each rendering its own programmes: only text crosses between processes. None if the
    split did not hold (a programme's lines reached two workers): replay in one process."""
    if fmt not in REPORT_FORMATS:
        raise ValueError(f"a report in processes is one of {REPORT_FORMATS}, not {fmt!r}")
    parts = _shares(
        _report_share,
        workers,
        progress,
        list(paths),
        definition,
        fmt=fmt,
        summary_only=summary_only,
    )
    return _merged(parts, paths, fmt) if split_held(part[0] for part in parts) else None
