"""Reading many programmes' histories at once, reporting bad lines instead of stopping.

Analysts hold files with thousands of programmes in any order of programmes (each in
``seq`` order), written by tools that sometimes fail. A bad line (not JSON, an unknown event
type, a missing field, a timestamp without offset, a gap or a duplicate in ``seq``) is
reported with its file and line; the programme it belongs to keeps the events before it and
is marked as cut there, and every other programme is read as usual. Nothing is dropped
without a report.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import attrs

from peerflow._bulk import no_cyclic_gc
from peerflow._errors import HistoryError
from peerflow._events import Event, iter_lines


@attrs.define
class Histories:
    """Programmes' events by programme id, and every problem met while reading them.

    ``cut`` holds, for each programme whose history breaks off, the first problem that broke
    it; its events after that line are left out (and counted in the problem's message).
    """

    events: dict[str, list[Event]] = attrs.field(factory=dict)
    problems: list[HistoryError] = attrs.field(factory=list)
    cut: dict[str, HistoryError] = attrs.field(factory=dict)
    left_out: dict[str, int] = attrs.field(factory=dict)

    @property
    def programmes(self) -> list[str]:
        """Programme ids in sorted order: the order every result is reported in."""
        return sorted(self.events.keys() | self.cut.keys())

    def add_lines(self, lines: Iterable[str], file: str) -> None:
        for number, item in iter_lines(lines, file):
            if isinstance(item, HistoryError):
                self.problems.append(item)
                if item.programme is not None:
                    self._cut(item.programme, item)
            else:
                self.add(item, file, number)

    def add(self, event: Event, file: str = "<events>", line: int = 0) -> None:
        """One event, checked against the programme's ``seq`` order so far."""
        programme = event.programme
        if programme in self.cut:
            self.left_out[programme] = self.left_out.get(programme, 0) + 1
            return
        known = self.events.setdefault(programme, [])
        expected = len(known)
        if event.seq == expected:
            known.append(event)
            return
        if event.seq < expected:
            same = known[event.seq].id == event.id
            message = f"programme '{programme}': seq {event.seq} again" + (
                " (the same event id: a repeated write)" if same else " (a duplicate)"
            )
        else:
            message = f"programme '{programme}': expected seq {expected}, got {event.seq} (a gap)"
        problem = HistoryError(file, line, message, programme)
        self.problems.append(problem)
        self._cut(programme, problem)
        self.left_out[programme] = self.left_out.get(programme, 0) + 1

    def _cut(self, programme: str, problem: HistoryError) -> None:
        self.cut.setdefault(programme, problem)
        self.events.setdefault(programme, [])


def read_histories(*paths: str | Path) -> Histories:
    """Every programme of every file; bad lines are collected in ``problems``, not raised."""
    found = Histories()
    for path in paths:
        try:
            with Path(path).open(encoding="utf-8") as stream, no_cyclic_gc():
                found.add_lines(stream, str(path))
        except OSError as exc:
            found.problems.append(HistoryError(str(path), 0, f"cannot read: {exc.strerror}"))
        except UnicodeDecodeError as exc:
            found.problems.append(HistoryError(str(path), 0, f"not UTF-8 text: {exc.reason}"))
    return found


def histories_of(events: Iterable[Event]) -> Histories:
    """Events already in memory, grouped and checked like a file's."""
    found = Histories()
    for event in events:
        found.add(event)
    return found
