"""peerflow: peer-learning programmes as declarative state machines.

The top level is what a portal embedding one programme needs: a definition (by id, from a
file or from text), a ``Programme`` that records events strictly, the state, next steps and
deadlines, every blocker and every error. Analysts and stores have their own namespaces:

- ``peerflow.replay``: many histories checked against their definitions, statistics, exports;
- ``peerflow.store``: programmes kept in SQLite or PostgreSQL;
- ``peerflow.checking``: the model checker behind ``peerflow check``;
- ``peerflow.model``: a definition as plain data, read without compiling it.

Every error peerflow raises on purpose derives from ``PeerflowError``. The modules behind
these names are private; docs/architecture.md draws the layers.
"""

from peerflow._errors import (
    DefinitionError,
    EventError,
    HistoryError,
    PeerflowError,
    Problem,
    StepBlocked,
    StepNotAvailable,
    UnknownDefinition,
)
from peerflow._programme import Programme, fold
from peerflow.engine._blockers import (
    BLOCKER_KINDS,
    Blocker,
    BlockerKind,
    DateNotScheduled,
    IncompleteContent,
    MissingDeliverable,
    MissingReceipts,
    OverBudget,
    ParticipantLimit,
    RoleNotAllowed,
    TooFewOccurrences,
    TooFewParticipants,
    WindowClosed,
    WindowNotOpen,
)
from peerflow.engine._budget import Claim, ClaimedItem
from peerflow.engine._compiled import CompiledDefinition, compile_text
from peerflow.engine._registry import builtin_files, definition, load_definition
from peerflow.engine._state import ProgrammeState, Waiver
from peerflow.engine._steps import Deadline, DeadlineKind, ParticipationKind, Step, StepKind
from peerflow.events._envelope import Actor, Event, read_history, write_history
from peerflow.store._backend import ConcurrencyError, StoreError
from peerflow.store._snapshot import SnapshotError

__version__ = "0.1.0"

_NAMESPACES = frozenset({"checking", "model", "replay", "store"})


def __getattr__(name: str) -> object:
    """``peerflow.replay`` and the other namespaces load on first use, not with every import."""
    if name in _NAMESPACES:
        import importlib  # noqa: PLC0415 - only when a namespace is first used

        return importlib.import_module(f"peerflow.{name}")
    raise AttributeError(f"module 'peerflow' has no attribute {name!r}")


__all__ = [
    "BLOCKER_KINDS",
    "Actor",
    "Blocker",
    "BlockerKind",
    "Claim",
    "ClaimedItem",
    "CompiledDefinition",
    "ConcurrencyError",
    "DateNotScheduled",
    "Deadline",
    "DeadlineKind",
    "DefinitionError",
    "Event",
    "EventError",
    "HistoryError",
    "IncompleteContent",
    "MissingDeliverable",
    "MissingReceipts",
    "OverBudget",
    "ParticipantLimit",
    "ParticipationKind",
    "PeerflowError",
    "Problem",
    "Programme",
    "ProgrammeState",
    "RoleNotAllowed",
    "SnapshotError",
    "Step",
    "StepBlocked",
    "StepKind",
    "StepNotAvailable",
    "StoreError",
    "TooFewOccurrences",
    "TooFewParticipants",
    "UnknownDefinition",
    "Waiver",
    "WindowClosed",
    "WindowNotOpen",
    "__version__",
    "builtin_files",
    "compile_text",
    "definition",
    "fold",
    "load_definition",
    "read_history",
    "write_history",
]
