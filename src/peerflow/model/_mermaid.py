"""A definition as a Mermaid state diagram: the command line, the programme pages and the
HTTP service draw the same picture from the same function."""

from __future__ import annotations

import re
from collections.abc import Sequence

from peerflow.model._types import ProgrammeType

_MERMAID_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_MERMAID_WORDS = frozenset(
    [
        "state",
        "note",
        "class",
        "classdef",
        "style",
        "linkstyle",
        "direction",
        "end",
        "as",
        "fork",
        "join",
        "choice",
        "left",
        "right",
        "of",
        "over",
        "click",
        "acctitle",
        "accdescr",
        "tb",
        "bt",
        "lr",
        "rl",
        "hide",
        "empty",
        "default",
    ]
)


def _mermaid_label(text: str) -> str:
    """Text inside a Mermaid string: quotes and # as entity codes, no line breaks."""
    flat = " ".join(text.split())
    return flat.replace("#", "#35;").replace('"', "#quot;")


def _mermaid_ids(names: Sequence[str]) -> dict[str, str]:
    """A Mermaid-safe id for each state: the name itself where it is a plain identifier and
    no Mermaid keyword (``state``, ``note``, ``class``, ...), else ``n1``, ``n2``, ..."""
    ids: dict[str, str] = {}
    taken = {n for n in names if _MERMAID_ID.match(n) and n.lower() not in _MERMAID_WORDS}
    for i, name in enumerate(names, start=1):
        if name in taken:
            ids[name] = name
            continue
        made = f"n{i}"
        while made in taken:
            made += "_"
        taken.add(made)
        ids[name] = made
    return ids


def mermaid(d: ProgrammeType) -> str:
    """A Mermaid ``stateDiagram-v2`` of the definition's states and steps.

    Every state gets a safe id and, where its id is not its name or it has a title, a label:
    a quote in a title or a state called ``state`` or ``x y`` cannot break the diagram.
    """
    ids = _mermaid_ids(list(d.states))
    lines = ["stateDiagram-v2"]
    for name, state in d.states.items():
        label = state.title if state.title and state.title != name else name
        if label != ids[name]:
            lines.append(f'    state "{_mermaid_label(label)}" as {ids[name]}')
    lines.append(f"    [*] --> {ids[d.initial]}")
    for t in d.transitions:
        for src in d.sources_of(t):
            lines.append(f"    {ids[src]} --> {ids[t.dest]} : {_mermaid_label(t.event)}")
    for name in d.terminal_states():
        lines.append(f"    {ids[name]} --> [*]")
    return "\n".join(lines)
