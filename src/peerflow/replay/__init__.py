"""Replay for analysts: many recorded histories checked against their definitions.

Owns the audit (every event applied or refused, with deviations named), the fast path that
folds events which plainly conform without building each state, replay of JSON Lines files
in one or more processes, statistics of durations, and exports (CSV, XES, OCEL 2.0, Parquet,
data frames).

May import: ``peerflow.engine``, ``peerflow.events``, ``peerflow.model``, ``peerflow._errors``,
``peerflow._bulk``, ``peerflow._lazy``.
"""

from peerflow._lazy import lazy_names as _lazy_names

_TYPE_CHECKING = False  # True for mypy (always_true in pyproject.toml): typing costs 4 ms

if _TYPE_CHECKING:
    from peerflow.engine._registry import example_path
    from peerflow.events._history import Histories, read_histories
    from peerflow.replay._audit import (
        DEVIATION_KINDS,
        Deviation,
        DeviationKind,
        EventRecord,
        ProgrammeReplay,
        Replay,
        replay,
        replay_many,
        state_at,
    )
    from peerflow.replay._exports import (
        to_dataframe,
        write_events_csv,
        write_programmes_csv,
        write_xes,
    )
    from peerflow.replay._files import replay_files
    from peerflow.replay._ocel import write_ocel
    from peerflow.replay._parquet import write_parquet
    from peerflow.replay._stats import summarise

_NAMES = {
    "DEVIATION_KINDS": "peerflow.replay._audit",
    "Deviation": "peerflow.replay._audit",
    "DeviationKind": "peerflow.replay._audit",
    "EventRecord": "peerflow.replay._audit",
    "Histories": "peerflow.events._history",
    "ProgrammeReplay": "peerflow.replay._audit",
    "Replay": "peerflow.replay._audit",
    "example_path": "peerflow.engine._registry",
    "read_histories": "peerflow.events._history",
    "replay": "peerflow.replay._audit",
    "replay_files": "peerflow.replay._files",
    "replay_many": "peerflow.replay._audit",
    "state_at": "peerflow.replay._audit",
    "summarise": "peerflow.replay._stats",
    "to_dataframe": "peerflow.replay._exports",
    "write_events_csv": "peerflow.replay._exports",
    "write_programmes_csv": "peerflow.replay._exports",
    "write_ocel": "peerflow.replay._ocel",
    "write_parquet": "peerflow.replay._parquet",
    "write_xes": "peerflow.replay._exports",
}

__all__ = [
    "DEVIATION_KINDS",
    "Deviation",
    "DeviationKind",
    "EventRecord",
    "Histories",
    "ProgrammeReplay",
    "Replay",
    "example_path",
    "read_histories",
    "replay",
    "replay_files",
    "replay_many",
    "state_at",
    "summarise",
    "to_dataframe",
    "write_events_csv",
    "write_ocel",
    "write_parquet",
    "write_programmes_csv",
    "write_xes",
]

__getattr__, __dir__ = _lazy_names(__name__, _NAMES, __all__)
