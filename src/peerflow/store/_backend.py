"""What a store backend is: the rows it keeps, the transaction it offers, the errors it raises.

The store (``_store``) and every backend (``_sqlite``, ``_postgres``) import this module and
nothing of each other's, so a backend never reaches up into the store's commands.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

import attrs

from peerflow._errors import PeerflowError
from peerflow.events._envelope import Event


class StoreError(PeerflowError):
    """The store cannot do what was asked (an unknown programme, an event id reused, ...)."""


class NoSuchProgramme(StoreError, LookupError):
    """The store holds no programme of that id (``programme``)."""

    def __init__(self, programme: str, hint: str = "") -> None:
        self.programme = programme
        super().__init__(f"no programme '{programme}' in the store{hint}")


class EventIdTaken(StoreError):
    """An event id already names another event: a retry must repeat the same event (or the
    same whole batch), and a new event needs a new id. ``event_id`` is the id."""

    def __init__(self, event_id: str, message: str) -> None:
        self.event_id = event_id
        super().__init__(message)


class ConcurrencyError(StoreError):
    """Another writer appended first: ``current`` is the programme's next seq now (``expected``
    the one the caller read); re-read and retry."""

    def __init__(self, programme: str, expected: int | None, current: int) -> None:
        self.programme = programme
        self.expected = expected
        self.current = current
        if expected == 0:  # the caller meant to create it
            message = (
                f"programme '{programme}' already exists (next seq {current}): "
                "choose another id, or add to it with its next seq"
            )
        else:
            was = f", not {expected}" if expected is not None else ""
            message = (
                f"programme '{programme}' is at next seq {current}{was}: "
                "another writer got there first; re-read its state and try again"
            )
        super().__init__(message)


@attrs.frozen
class ProgrammeRow:
    """What the store keeps beside a programme's events: its definition and latest state."""

    programme: str
    definition: str
    definition_version: int
    digest: str
    state: str
    next_seq: int
    snapshot: str

    def stored_after_programme(self) -> tuple[str, int, str, str, int, str]:
        """The columns after ``programme``, in ``PROGRAMME_COLUMNS`` order, for a backend's
        INSERT or UPDATE."""
        return (
            self.definition,
            self.definition_version,
            self.digest,
            self.state,
            self.next_seq,
            self.snapshot,
        )


class Transaction(Protocol):
    """One write transaction of a backend, holding the programme's write lock."""

    def programme(self, programme: str) -> ProgrammeRow | None: ...

    def event_position(self, event_id: str) -> tuple[str, int] | None: ...

    def insert_events(self, events: Sequence[Event]) -> None: ...

    def save_programme(self, row: ProgrammeRow, new: bool) -> None: ...

    def save_definition(self, digest: str, definition_id: str, version: int, text: str) -> None: ...


class Backend(Protocol):
    """A database the store runs on (SQLite, PostgreSQL)."""

    def write(self, programme: str) -> AbstractContextManager[Transaction]: ...

    def read_events(self, programme: str, start: int, stop: int | None) -> list[str]: ...

    def programme(self, programme: str) -> ProgrammeRow | None: ...

    def programmes(self) -> list[ProgrammeRow]: ...

    def definition_text(self, digest: str) -> str | None: ...

    def all_events(self, after: int) -> Iterator[tuple[int, str]]: ...

    def close(self) -> None: ...
