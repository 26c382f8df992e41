"""Reading many programmes' histories at once, reporting bad lines instead of stopping.

Analysts hold files with thousands of programmes in any order of programmes (each in
``seq`` order), written by tools that sometimes fail. A bad line (not JSON, an unknown event
type, a missing field, a timestamp without offset, a gap or a duplicate in ``seq``) is
reported with its file and line; the programme it belongs to keeps the events before it and
is marked as cut there, and every other programme is read as usual. Nothing is dropped
without a report.

Events are kept as plain tuples (:data:`peerflow.events._envelope.Row`) and made into
:class:`Event` objects only when :attr:`Histories.events` is asked for: replay reads the
tuples, and building an object per event would cost more than reading the line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from itertools import islice
from pathlib import Path
from typing import IO, Any

import attrs

from peerflow._bulk import no_cyclic_gc
from peerflow._errors import HistoryError
from peerflow.events._envelope import (
    JSON_BLANK,
    Event,
    Row,
    bad_envelope,
    decode_line,
    event_from_json,
    event_of,
    not_json,
    quick_row,
    row_of,
)


@attrs.define
class Histories:
    """Programmes' events by programme id, and every problem met while reading them.

    ``cut`` holds, for each programme whose history breaks off, the first problem that broke
    it; its events after that line are left out (and counted in ``left_out``). Every
    non-blank line is accounted for once: a row, a problem, or left out.
    """

    problems: list[HistoryError] = attrs.field(factory=list)
    cut: dict[str, HistoryError] = attrs.field(factory=dict)
    left_out: dict[str, int] = attrs.field(factory=dict)
    rows: dict[str, list[Row]] = attrs.field(factory=dict)
    """Each programme's events as tuples, in ``seq`` order (what replay reads)."""
    _open: dict[str, list[Row]] = attrs.field(factory=dict, init=False, repr=False)
    _events: dict[str, list[Event]] | None = attrs.field(default=None, init=False, repr=False)
    _touched: list[list[Row]] | None = attrs.field(default=None, init=False, repr=False)

    @property
    def events(self) -> dict[str, list[Event]]:
        """Each programme's events as :class:`Event` objects (made on first use)."""
        if self._events is None:
            self._events = {p: [event_of(r) for r in rows] for p, rows in self.rows.items()}
        return self._events

    @property
    def programmes(self) -> list[str]:
        """Programme ids in sorted order: the order every result is reported in."""
        return sorted(self.rows)

    def add_lines(self, lines: Iterable[str], file: str, first_line: int = 1) -> None:
        """Read ``lines`` (numbered from ``first_line`` in ``file``)."""
        self._events = None
        loads, quick, still_open = decode_line, quick_row, self._open
        grew = _ignore if self._touched is None else self._touched.append
        last: list[Row] | None = None
        for number, line in enumerate(lines, start=first_line):
            if not line:
                continue  # blank, or another reader's line (replay in several processes)
            try:
                data = loads(line)
            except ValueError as exc:
                if line.strip(JSON_BLANK):
                    self.add_problem(not_json(exc, file, number, line))
                continue
            row = quick(data)
            if row is not None:
                known = still_open.get(row[0])
                if known is not None and row[1] == len(known):
                    known.append(row)  # the common case: the next event of a programme
                    if known is not last:
                        grew(known)
                        last = known
                    continue
                self._add_row(row, file, number)
            else:
                self._add_checked(data, file, number)

    def take_touched(self) -> list[list[Row]]:
        """The programmes' row lists that grew since last asked (a list may come twice);
        the first call starts keeping track."""
        touched, self._touched = self._touched or [], []
        return touched

    def add_problem(self, problem: HistoryError) -> None:
        """A bad line found before its text could be read (not UTF-8): its programme is cut."""
        self.problems.append(problem)
        if problem.programme is not None:
            self._cut(problem.programme, problem)

    def _add_checked(self, data: Any, file: str, line: int) -> None:
        try:
            event = event_from_json(data)
        except ValueError as exc:
            problem = bad_envelope(exc, data, file, line)
            self.problems.append(problem)
            if problem.programme is not None:
                self._cut(problem.programme, problem)
            return
        self._add_row(row_of(event), file, line)

    def add(self, event: Event, file: str = "<events>", line: int = 0) -> None:
        """One event, checked against the programme's ``seq`` order so far."""
        self._events = None
        self._add_row(row_of(event), file, line)

    def _add_row(self, row: Row, file: str, line: int) -> None:
        programme, seq = row[0], row[1]
        known = self._open.get(programme)
        if known is None:
            if programme in self.cut:
                self.left_out[programme] = self.left_out.get(programme, 0) + 1
                return
            known = self.rows[programme] = self._open[programme] = []
        expected = len(known)
        if seq == expected:
            known.append(row)
            if self._touched is not None:
                self._touched.append(known)
            return
        if seq < expected:
            same = known[seq][2] == row[2]
            message = f"programme '{programme}': seq {seq} again" + (
                " (the same event id: a repeated write)" if same else " (a duplicate)"
            )
        else:
            message = f"programme '{programme}': expected seq {expected}, got {seq} (a gap)"
        problem = HistoryError(file, line, message, programme)
        self.problems.append(problem)  # reported: not counted again in left_out
        self._cut(programme, problem)

    def _cut(self, programme: str, problem: HistoryError) -> None:
        self.cut.setdefault(programme, problem)
        self.rows.setdefault(programme, [])
        self._open.pop(programme, None)


def read_histories(*paths: str | Path) -> Histories:
    """Every programme of every file; bad lines are collected in ``problems``, not raised."""
    found = Histories()
    for path in paths:
        read_file(found, path, _ignore)
    return found


def read_file(
    found: Histories,
    path: str | Path,
    read_some: Callable[[list[str]], Any],
    keep: Callable[[list[bytes]], list[bytes]] | None = None,
    opener: Callable[[str], AbstractContextManager[IO[bytes]]] | None = None,
) -> None:
    """Add one file's lines to ``found`` a chunk at a time, calling ``read_some`` with each
    chunk once it is added; a file that cannot be read at all is a problem of its own.
    ``keep`` (given each chunk of lines) blanks the lines another process reads: they keep
    their numbers but are read as blank. ``opener`` opens ``path`` for reading bytes where
    it is not a local file (``fsspec.open`` for object storage).

    Lines are decoded one by one: a line that is not UTF-8 is a bad line of its own (tied to
    its programme where the rest of it names one), and every other line is read. A byte order
    mark at the start (as some Windows tools write) is skipped, not taken for a bad line."""
    name = str(path)
    try:
        with (
            Path(path).open("rb") if opener is None else opener(name) as stream,
            no_cyclic_gc(),
        ):
            number = 1
            while chunk := list(islice(stream, _CHUNK)):
                if number == 1 and chunk[0].startswith(_BOM):
                    chunk[0] = chunk[0][len(_BOM) :]
                if keep is not None:
                    chunk = keep(chunk)
                lines = decode_lines(chunk, name, number, found.add_problem)
                found.add_lines(lines, name, number)
                number += len(chunk)
                read_some(lines)
    except OSError as exc:
        found.problems.append(HistoryError(name, 0, f"cannot read: {exc.strerror}"))


_BOM = "\ufeff".encode()


def decode_lines(
    chunk: list[bytes], file: str, first_line: int, report: Callable[[HistoryError], None]
) -> list[str]:
    """``chunk``'s lines as text; a line that is not UTF-8 is reported and left blank, so the
    lines after it keep their numbers."""
    try:
        return [line.decode() for line in chunk]
    except UnicodeDecodeError:
        pass
    lines = []
    for number, raw in enumerate(chunk, start=first_line):
        try:
            lines.append(raw.decode())
        except UnicodeDecodeError as exc:
            lines.append("")
            report(not_utf8(exc, raw, file, number))
    return lines


def not_utf8(exc: UnicodeDecodeError, raw: bytes, file: str, line: int) -> HistoryError:
    """A line that is not UTF-8, tied to its programme if the rest of the line names one."""
    try:
        data = json.loads(raw.decode(errors="replace"))
    except (ValueError, RecursionError):
        data = None
    named = data.get("programme") if isinstance(data, dict) else None
    programme = named if isinstance(named, str) and named and named.isprintable() else None
    return HistoryError(
        file, line, f"not UTF-8 text: {exc.reason} at byte {exc.start + 1}", programme
    )


def _ignore(_: object) -> None:
    pass


_CHUNK = 4096
"""Lines read at a time: what a file replay folds while the lines are still in the cache."""


def histories_of(events: Iterable[Event]) -> Histories:
    """Events already in memory, grouped and checked like a file's."""
    found = Histories()
    for event in events:
        found.add(event)
    return found
