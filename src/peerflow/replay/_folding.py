"""Replay straight from JSON Lines files, folding each chunk of lines as it is read.

:func:`replay` of :func:`read_histories` keeps every event's payload until the replay is
done: about a kilobyte an event, gigabytes for a few million events. Here each chunk of
lines is folded while it is fresh, and the rows are then kept slim: the payload gives way
to the step's name, which is all a replay's records read (a third of the memory). The
result is the same as ``replay(read_histories(...))`` (a test compares them on broken and
interleaved files).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO, cast

from peerflow._bulk import no_cyclic_gc
from peerflow._errors import HistoryError
from peerflow.engine._compiled import CompiledDefinition
from peerflow.events._envelope import Row
from peerflow.events._history import Histories, read_file
from peerflow.replay._audit import (
    _NAME_KEYS,
    ProgrammeReplay,
    _jobs,
    _Run,
    _step_name,
)


class _Slimmer:
    """Rows whose payload has given way to the step's name, once the replay has read them.

    A slim row holds only strings, numbers and a timestamp: besides being small, it is a
    tuple the cyclic collector stops tracking the first time it sees it, so a replay kept
    in a long session costs later collections nothing.
    """

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.steps: dict[tuple[str, str], str] = {}

    def slim(self, rows: list[Row], start: int) -> None:
        names, steps = self.names, self.steps  # role and type names, step names: a handful
        people: dict[str, str] = {}  # participants: only this programme's
        programme = rows[0][0]
        for i in range(start, len(rows)):
            _, seq, event_id, at, role, who, kind, payload = rows[i]
            key = _NAME_KEYS.get(kind)
            name = payload.get(key) if key is not None else None
            if type(name) is str:
                step = steps.get((kind, name))
                if step is None:
                    step = steps[(kind, name)] = _step_name(kind, payload)
            else:
                step = _step_name(kind, payload)
            role = names.setdefault(role, role)
            who = people.setdefault(who, who)
            slim = (programme, seq, event_id, at, role, who, names.setdefault(kind, kind), step)
            rows[i] = cast(Row, slim)  # EventRecords reads a str payload as the step's name


def fold_files(
    paths: Sequence[str | Path],
    definition: CompiledDefinition | None,
    progress: Callable[[int, int], None] | None = None,
    keep: Callable[[list[bytes]], list[bytes]] | None = None,
    opener: Callable[[str], AbstractContextManager[IO[bytes]]] | None = None,
) -> tuple[list[ProgrammeReplay], Histories]:
    """Each programme's replay, and what was read; ``keep`` picks the lines to read,
    ``opener`` opens files that are not local (see :func:`read_file`)."""
    found = Histories()
    found.take_touched()  # from now on
    runs: dict[str, _Run] = {}
    slimmer = _Slimmer()
    total = sum(_size(path) for path in paths)
    read = 0

    def fold_fresh(lines: list[str]) -> None:
        nonlocal read
        for rows in found.take_touched():
            programme = rows[0][0]
            run = runs.get(programme)
            if run is None:
                run = runs[programme] = _Run(definition)
            slim_from = run.done
            run.feed(rows)
            slimmer.slim(rows, slim_from)
        if progress is not None:
            read += sum(map(len, lines))
            progress(min(read, total), total)

    with no_cyclic_gc():
        for path in paths:
            read_file(found, path, fold_fresh, keep, opener)
        results = []
        for rows, problems, left_out in _jobs(found):
            run = runs.pop(rows[0][0], None) if rows else None
            results.append((run or _Run(definition)).result(rows, problems, left_out))
        # freed before the collector resumes, so that it walks only what is returned
        runs.clear()
        found._open.clear()
    if progress is not None:
        progress(total, total)
    return results, found


def _size(path: str | Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0  # read_file reports it


def in_reading_order(
    problems: Sequence[HistoryError], paths: Sequence[str | Path]
) -> list[HistoryError]:
    """Bad lines in file order (as given), then line order, however they were met (a line
    that is not UTF-8 is found before the lines of its chunk are parsed)."""
    order = {str(path): index for index, path in enumerate(paths)}
    return sorted(problems, key=lambda p: (order.get(p.file, len(order)), p.line))
