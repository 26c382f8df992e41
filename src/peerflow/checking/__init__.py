"""The model checker: every path a definition allows, explored and judged.

Owns the explorer (states reachable from the start with a smallest cast of participants),
the checks ``peerflow check`` runs (completion reachable, no dead ends, every step and
window usable, every deliverable submittable), and helpers the synthetic histories share.

May import: ``peerflow.engine``, ``peerflow.events``, ``peerflow.model``, ``peerflow._errors``,
``peerflow._bulk``, ``peerflow._lazy``.
"""

from peerflow._lazy import lazy_names as _lazy_names

_TYPE_CHECKING = False  # True for mypy (always_true in pyproject.toml): typing costs 4 ms

if _TYPE_CHECKING:
    from peerflow.checking._explorer import (
        Check,
        Edge,
        Exploration,
        Report,
        check,
        explore,
    )
    from peerflow.engine._content import complete_content

_NAMES = {
    "Check": "peerflow.checking._explorer",
    "Edge": "peerflow.checking._explorer",
    "Exploration": "peerflow.checking._explorer",
    "Report": "peerflow.checking._explorer",
    "check": "peerflow.checking._explorer",
    "complete_content": "peerflow.engine._content",
    "explore": "peerflow.checking._explorer",
}

__all__ = ["Check", "Edge", "Exploration", "Report", "check", "complete_content", "explore"]

__getattr__, __dir__ = _lazy_names(__name__, _NAMES, __all__)
