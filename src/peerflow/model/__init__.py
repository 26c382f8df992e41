"""The definition model: what a definition file says, read from YAML and validated.

Owns the types a definition is made of (``ProgrammeType``, roles, states, windows,
deliverables, dates, budget), the YAML reader that keeps line numbers, the loader that
turns a file into a checked ``ProgrammeType`` with every problem named by line, and the
working-day calendars that windows count in, and the Mermaid diagram drawn from a definition.

May import: ``peerflow._errors`` and ``peerflow._lazy`` only. It knows nothing of events,
programmes or stores.
"""

from peerflow._lazy import lazy_names as _lazy_names

_TYPE_CHECKING = False  # True for mypy (always_true in pyproject.toml): typing costs 4 ms

if _TYPE_CHECKING:
    from peerflow.model._loading import parse_definition
    from peerflow.model._types import ProgrammeType

_NAMES = {
    "ProgrammeType": "peerflow.model._types",
    "parse_definition": "peerflow.model._loading",
}

__all__ = ["ProgrammeType", "parse_definition"]

__getattr__, __dir__ = _lazy_names(__name__, _NAMES, __all__)
