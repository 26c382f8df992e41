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

_TYPE_CHECKING = False  # True for mypy (always_true in pyproject.toml): typing costs 4 ms

if _TYPE_CHECKING:
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
    from peerflow.engine._forecast import Breaking, Forecast, PlannedStep, StepForecast, forecast
    from peerflow.engine._registry import builtin_files, definition, load_definition
    from peerflow.engine._state import ProgrammeState, Waiver
    from peerflow.engine._steps import Deadline, DeadlineKind, ParticipationKind, Step, StepKind
    from peerflow.events._envelope import Actor, Event, read_history, write_history
    from peerflow.http._config import ConfigError
    from peerflow.store._backend import ConcurrencyError, EventIdTaken, NoSuchProgramme, StoreError
    from peerflow.store._snapshot import SnapshotError

__version__ = "0.1.0"

_NAMESPACES = frozenset({"checking", "model", "replay", "store"})

_LAZY = {
    "Actor": "peerflow.events._envelope",
    "BLOCKER_KINDS": "peerflow.engine._blockers",
    "Blocker": "peerflow.engine._blockers",
    "Breaking": "peerflow.engine._forecast",
    "BlockerKind": "peerflow.engine._blockers",
    "Claim": "peerflow.engine._budget",
    "ClaimedItem": "peerflow.engine._budget",
    "CompiledDefinition": "peerflow.engine._compiled",
    "ConcurrencyError": "peerflow.store._backend",
    "ConfigError": "peerflow.http._config",
    "DateNotScheduled": "peerflow.engine._blockers",
    "Deadline": "peerflow.engine._steps",
    "DeadlineKind": "peerflow.engine._steps",
    "EventIdTaken": "peerflow.store._backend",
    "Forecast": "peerflow.engine._forecast",
    "NoSuchProgramme": "peerflow.store._backend",
    "DefinitionError": "peerflow._errors",
    "Event": "peerflow.events._envelope",
    "EventError": "peerflow._errors",
    "HistoryError": "peerflow._errors",
    "IncompleteContent": "peerflow.engine._blockers",
    "MissingDeliverable": "peerflow.engine._blockers",
    "MissingReceipts": "peerflow.engine._blockers",
    "OverBudget": "peerflow.engine._blockers",
    "ParticipantLimit": "peerflow.engine._blockers",
    "ParticipationKind": "peerflow.engine._steps",
    "PlannedStep": "peerflow.engine._forecast",
    "PeerflowError": "peerflow._errors",
    "Problem": "peerflow._errors",
    "Programme": "peerflow._programme",
    "ProgrammeState": "peerflow.engine._state",
    "RoleNotAllowed": "peerflow.engine._blockers",
    "SnapshotError": "peerflow.store._snapshot",
    "Step": "peerflow.engine._steps",
    "StepBlocked": "peerflow._errors",
    "StepForecast": "peerflow.engine._forecast",
    "StepKind": "peerflow.engine._steps",
    "StepNotAvailable": "peerflow._errors",
    "StoreError": "peerflow.store._backend",
    "TooFewOccurrences": "peerflow.engine._blockers",
    "TooFewParticipants": "peerflow.engine._blockers",
    "UnknownDefinition": "peerflow._errors",
    "Waiver": "peerflow.engine._state",
    "WindowClosed": "peerflow.engine._blockers",
    "WindowNotOpen": "peerflow.engine._blockers",
    "builtin_files": "peerflow.engine._registry",
    "compile_text": "peerflow.engine._compiled",
    "definition": "peerflow.engine._registry",
    "fold": "peerflow._programme",
    "forecast": "peerflow.engine._forecast",
    "load_definition": "peerflow.engine._registry",
    "read_history": "peerflow.events._envelope",
    "write_history": "peerflow.events._envelope",
}
"""Where each public name lives: imported on first use, so ``import peerflow`` (and the
command line's start) costs nothing until a name is used."""


def __getattr__(name: str) -> object:
    """Every public name and namespace loads on first use, not with every import."""
    import importlib  # noqa: PLC0415 - only when a name is first used

    if name in _NAMESPACES:
        return importlib.import_module(f"peerflow.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'peerflow' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next use is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_NAMESPACES})


__all__ = [
    "BLOCKER_KINDS",
    "Actor",
    "Blocker",
    "BlockerKind",
    "Breaking",
    "Claim",
    "ClaimedItem",
    "CompiledDefinition",
    "ConcurrencyError",
    "ConfigError",
    "DateNotScheduled",
    "Deadline",
    "DeadlineKind",
    "DefinitionError",
    "Event",
    "EventError",
    "EventIdTaken",
    "Forecast",
    "HistoryError",
    "IncompleteContent",
    "MissingDeliverable",
    "MissingReceipts",
    "NoSuchProgramme",
    "OverBudget",
    "ParticipantLimit",
    "ParticipationKind",
    "PeerflowError",
    "PlannedStep",
    "Problem",
    "Programme",
    "ProgrammeState",
    "RoleNotAllowed",
    "SnapshotError",
    "Step",
    "StepBlocked",
    "StepForecast",
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
    "forecast",
    "load_definition",
    "read_history",
    "write_history",
]
