"""The model checker: every path a definition allows, explored and judged.

Owns the explorer (states reachable from the start with a smallest cast of participants),
the checks ``peerflow check`` runs (completion reachable, no dead ends, every step and
window usable, every deliverable submittable), and helpers the synthetic histories share.

May import: ``peerflow.engine``, ``peerflow.events``, ``peerflow.model``, ``peerflow._errors``,
``peerflow._bulk``.
"""

from peerflow.checking._explorer import (
    Check,
    Edge,
    Exploration,
    Report,
    check,
    complete_content,
    explore,
)

__all__ = ["Check", "Edge", "Exploration", "Report", "check", "complete_content", "explore"]
