"""Replay for analysts: many recorded histories checked against their definitions.

Owns the audit (every event applied or refused, with deviations named), the fast path that
folds events which plainly conform without building each state, replay of JSON Lines files
in one or more processes, statistics of durations, and exports (CSV, XES, data frames).

May import: ``peerflow.engine``, ``peerflow.events``, ``peerflow.model``, ``peerflow._errors``,
``peerflow._bulk``.
"""

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
from peerflow.replay._stats import summarise

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
    "write_programmes_csv",
    "write_xes",
]
