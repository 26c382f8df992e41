"""peerflow: peer-learning programmes as declarative state machines.

The public namespace is small; the modules behind it are private.
"""

from peerflow._backend import ConcurrencyError, ProgrammeRow, StoreError
from peerflow._blockers import (
    BLOCKER_KINDS,
    Blocker,
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
from peerflow._budget import Claim, ClaimedItem
from peerflow._engine import CompiledDefinition, compile_text
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
from peerflow._events import Actor, Event, read_history, write_history
from peerflow._exports import to_dataframe
from peerflow._filereplay import replay_files
from peerflow._history import Histories, read_histories
from peerflow._loading import parse_definition
from peerflow._model import ProgrammeType
from peerflow._programme import Programme, deadlines, fold, next_steps
from peerflow._registry import builtin_files, definition, load_definition
from peerflow._replay import (
    DEVIATION_KINDS,
    Deviation,
    EventRecord,
    ProgrammeReplay,
    Replay,
    replay,
    replay_many,
    state_at,
)
from peerflow._snapshot import SnapshotError, dump_state, load_state
from peerflow._state import ProgrammeState, Waiver
from peerflow._steps import Deadline, Step
from peerflow._store import AgendaItem, Store, open_store

__version__ = "0.1.0"

__all__ = [
    "BLOCKER_KINDS",
    "DEVIATION_KINDS",
    "Actor",
    "AgendaItem",
    "Blocker",
    "Claim",
    "ClaimedItem",
    "CompiledDefinition",
    "ConcurrencyError",
    "DateNotScheduled",
    "Deadline",
    "DefinitionError",
    "Deviation",
    "Event",
    "EventError",
    "EventRecord",
    "Histories",
    "HistoryError",
    "IncompleteContent",
    "MissingDeliverable",
    "MissingReceipts",
    "OverBudget",
    "ParticipantLimit",
    "PeerflowError",
    "Problem",
    "Programme",
    "ProgrammeReplay",
    "ProgrammeRow",
    "ProgrammeState",
    "ProgrammeType",
    "Replay",
    "RoleNotAllowed",
    "SnapshotError",
    "Step",
    "StepBlocked",
    "StepNotAvailable",
    "Store",
    "StoreError",
    "TooFewOccurrences",
    "TooFewParticipants",
    "UnknownDefinition",
    "Waiver",
    "WindowClosed",
    "WindowNotOpen",
    "builtin_files",
    "compile_text",
    "deadlines",
    "definition",
    "dump_state",
    "fold",
    "load_definition",
    "load_state",
    "next_steps",
    "open_store",
    "parse_definition",
    "read_histories",
    "read_history",
    "replay",
    "replay_files",
    "replay_many",
    "state_at",
    "to_dataframe",
    "write_history",
]
