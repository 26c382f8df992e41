"""The store: programmes kept in a database, each event appended strictly and in order.

Owns the backend interface, the SQLite backend (the embedded default) and the PostgreSQL one,
state snapshots, and the ``Store`` that checks each command with the engine before it writes.

May import: ``peerflow.engine``, ``peerflow.events``, ``peerflow.model``, ``peerflow._errors``,
``peerflow._bulk``.
"""

from peerflow.store._backend import Backend, ProgrammeRow, Transaction
from peerflow.store._snapshot import dump_state, load_state
from peerflow.store._store import DEFAULT_STORE, AgendaItem, Store, open_store

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
