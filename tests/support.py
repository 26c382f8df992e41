"""Helpers shared by tests: well-formed content for structured deliverables."""

from __future__ import annotations

from typing import Any

from peerflow import CompiledDefinition


def complete_content(definition: CompiledDefinition, deliverable: str) -> dict[str, Any] | None:
    """Content carrying every part the deliverable declares (None if it declares none)."""
    parts = definition.type.deliverables[deliverable].content
    if not parts:
        return None
    content: dict[str, Any] = {}
    for name, part in parts.items():
        if part.one_of is not None:
            content[name] = part.one_of[-1]
        elif part.list_of is not None:
            content[name] = [
                {
                    field: field_def.one_of[0] if field_def.one_of else f"{field} text"
                    for field, field_def in part.list_of.items()
                }
            ]
        else:
            content[name] = f"{name} text"
    return content
