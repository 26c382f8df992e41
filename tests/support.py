"""Helpers shared by tests: well-formed content for structured deliverables."""

from __future__ import annotations

from peerflow.checking import complete_content

__all__ = ["complete_content"]
