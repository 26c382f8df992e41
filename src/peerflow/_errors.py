"""Exceptions with structured fields; their messages are for people."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:  # errors are the ground floor: they import nothing of peerflow at run time
    from peerflow.engine._blockers import Blocker


class PeerflowError(Exception):
    """Base of every error peerflow raises on purpose."""


@attrs.frozen
class Problem:
    """One problem in a file: where it is and what is wrong."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class DefinitionError(PeerflowError, ValueError):
    """A definition file is malformed or means something impossible.

    ``problems`` holds every problem found, not only the first; ``str()`` gives
    one line each, ``file:line: path: message``.
    """

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.problems,))


class UnknownDefinition(PeerflowError, LookupError):
    """No definition answers to ``name`` (at ``version``, when one is asked for).

    A ``LookupError`` as well, so code that caught the lookup's error before still does.
    """

    def __init__(self, message: str, name: object, version: int | None = None) -> None:
        self.name = name
        self.version = version
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.name, self.version))


class EventError(PeerflowError, ValueError):
    """An event cannot be applied: it is malformed or does not fit the programme.

    Nothing is recorded; the programme's state is unchanged.
    """

    def __init__(self, message: str, *, seq: int | None = None) -> None:
        self.seq = seq
        self.reason = message
        super().__init__(_with_seq(message, seq))

    def __reduce__(self) -> tuple[Any, ...]:
        # an exception pickles its message as its only argument: ours take their parts
        return (_rebuilt, (type(self), self.__dict__))


class StepNotAvailable(EventError):
    """The definition has no such step from the programme's current state."""

    def __init__(
        self, step: str, state: str, available: Sequence[str], *, seq: int | None = None
    ) -> None:
        self.step = step
        self.state = state
        self.available = tuple(available)
        options = ", ".join(self.available) or "none"
        super().__init__(
            f"'{step}' is not a step from state '{state}' (steps from here: {options})", seq=seq
        )


class StepBlocked(EventError):
    """The step exists but is not allowed now; ``blockers`` say why."""

    def __init__(
        self,
        step: str,
        blockers: Sequence[Blocker],
        *,
        seq: int | None = None,
        waivable_by: Sequence[str] = (),
    ) -> None:
        self.step = step
        self.blockers = tuple(blockers)
        self.waivable_by = tuple(waivable_by)
        """The roles that may waive this definition's blockers (``waivable_by``)."""
        reasons = "; ".join(b.describe() for b in self.blockers)
        hint = (
            f" A {' or '.join(self.waivable_by)} may waive a blocker with a reason "
            "(peerflow waive)."
            if self.waivable_by and any(b.can_be_waived() for b in self.blockers)
            else ""
        )
        super().__init__(f"'{step}' is blocked: {reasons}.{hint}", seq=seq)


class HistoryError(PeerflowError, ValueError):
    """A history file has a bad line; ``file`` and ``line`` say where.

    ``programme`` names the programme the line belongs to, when the line says.
    """

    def __init__(self, file: str, line: int, message: str, programme: str | None = None) -> None:
        self.file = file
        self.line = line
        self.reason = message
        self.programme = programme
        super().__init__(f"{file}:{line}: {message}")

    def __reduce__(self) -> tuple[Any, ...]:
        """Sent between processes (``replay_many``) with its parts, not only its text."""
        return (type(self), (self.file, self.line, self.reason, self.programme))

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "programme": self.programme,
            "message": self.reason,
        }


def _rebuilt(kind: type[EventError], fields: dict[str, Any]) -> EventError:
    """An unpickled :class:`EventError` (or subclass) with the fields it was sent with."""
    error = kind.__new__(kind)
    error.__dict__.update(fields)
    Exception.__init__(error, _with_seq(error.reason, error.seq))
    return error


def _with_seq(message: str, seq: int | None) -> str:
    return message if seq is None else f"event seq {seq}: {message}"
