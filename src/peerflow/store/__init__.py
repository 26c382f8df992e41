"""The store: programmes kept in a database, each event appended strictly and in order.

Owns the backend interface, the SQLite backend (the embedded default) and the PostgreSQL one,
state snapshots, and the ``Store`` that checks each command with the engine before it writes.

May import: ``peerflow.engine``, ``peerflow.events``, ``peerflow.model``, ``peerflow._errors``,
``peerflow._bulk``, ``peerflow._lazy``.
"""

from peerflow._lazy import lazy_names as _lazy_names

_TYPE_CHECKING = False  # True for mypy (always_true in pyproject.toml): typing costs 4 ms

if _TYPE_CHECKING:
    from peerflow.store._backend import Backend, ProgrammeRow, Transaction
    from peerflow.store._defaults import DEFAULT_STORE
    from peerflow.store._snapshot import dump_state, load_state
    from peerflow.store._store import AgendaItem, Store, open_store

_NAMES = {
    "AgendaItem": "peerflow.store._store",
    "Backend": "peerflow.store._backend",
    "DEFAULT_STORE": "peerflow.store._defaults",
    "ProgrammeRow": "peerflow.store._backend",
    "Store": "peerflow.store._store",
    "Transaction": "peerflow.store._backend",
    "dump_state": "peerflow.store._snapshot",
    "load_state": "peerflow.store._snapshot",
    "open_store": "peerflow.store._store",
}

__all__ = [
    "DEFAULT_STORE",
    "AgendaItem",
    "Backend",
    "ProgrammeRow",
    "Store",
    "Transaction",
    "dump_state",
    "load_state",
    "open_store",
]

__getattr__, __dir__ = _lazy_names(__name__, _NAMES, __all__)
