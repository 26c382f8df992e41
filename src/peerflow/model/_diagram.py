"""A definition's states as an SVG picture, drawn on the server with the current state marked.

The facilitator's page shows where a programme stands without a script or a diagram tool in
the browser: states in rows by how many steps from the start they first are, an arrow for
each transition between them, and the ends a programme may be stopped in (a cancellation,
a rejection) set apart on the right with "from any state" instead of an arrow from each.
The picture carries a title and a text description for screen readers, and never relies on
colour alone: the current state is also bold and outlined twice.
"""

from __future__ import annotations

from collections import deque
from html import escape

from peerflow.model._types import ProgrammeType

BOX_W, BOX_H = 168, 44
GAP_X, GAP_Y = 24, 40
MARGIN = 12
LINE = 21
"""Characters of a state's title on one line of its box."""


def _layers(t: ProgrammeType) -> tuple[list[list[str]], list[str]]:
    """The states in rows by their first distance from the initial state, and the escapes
    (ends reached from every live state: drawn apart)."""
    completion = t.completion_states()
    live = set(t.live_states())
    escapes = [
        s
        for s in t.states
        if t.states[s].terminal
        and s not in completion
        and all(s in {tr.dest for tr in t.transitions if x in t.sources_of(tr)} for x in live)
    ]
    depth = {t.initial: 0}
    queue = deque([t.initial])
    while queue:
        state = queue.popleft()
        for tr in t.transitions:
            if state in t.sources_of(tr) and tr.dest not in depth and tr.dest not in escapes:
                depth[tr.dest] = depth[state] + 1
                queue.append(tr.dest)
    rows: list[list[str]] = []
    for state in t.states:  # the definition's order within a row
        if state in depth:
            while len(rows) <= depth[state]:
                rows.append([])
            rows[depth[state]].append(state)
    return rows, escapes


def _label(title: str) -> list[str]:
    """A title broken into at most two lines of a box."""
    words, lines, line = title.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > LINE:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    if len(lines) > 2:
        lines = [lines[0], (lines[1] + "…")[:LINE]]
    return lines


def state_diagram(t: ProgrammeType, current: str | None = None) -> str:
    """The definition's states as inline SVG; ``current`` is marked."""
    rows, escapes = _layers(t)
    columns = max((len(r) for r in rows), default=1)
    side = 1 if escapes else 0
    width = MARGIN * 2 + (columns + side) * (BOX_W + GAP_X)
    height = MARGIN * 2 + max(len(rows), len(escapes) + 1) * (BOX_H + GAP_Y)
    where: dict[str, tuple[int, int]] = {}
    for y, row in enumerate(rows):
        offset = (columns - len(row)) * (BOX_W + GAP_X) // 2
        for x, state in enumerate(row):
            where[state] = (MARGIN + offset + x * (BOX_W + GAP_X), MARGIN + y * (BOX_H + GAP_Y))
    for y, state in enumerate(escapes, start=1):
        where[state] = (MARGIN + columns * (BOX_W + GAP_X), MARGIN + y * (BOX_H + GAP_Y))
    now = t.states[current].title or current if current in t.states else None
    summary = " then ".join(", ".join(t.states[s].title or s for s in row) for row in rows) + (
        f"; may end {' or '.join(escapes)} from any state" if escapes else ""
    )
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="diagram" viewBox="0 0 {width} {height}"'
        f' width="{width}" role="img" aria-labelledby="diagram-title diagram-desc">',
        f'<title id="diagram-title">States of {escape(t.title or t.id)}'
        + (f", now: {escape(now)}" if now else "")
        + "</title>",
        f'<desc id="diagram-desc">{escape(summary)}</desc>',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7"'
        ' markerHeight="7" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z"'
        ' class="arrowhead"/></marker></defs>',
    ]
    drawn: set[tuple[str, str]] = set()
    for tr in t.transitions:
        for source in t.sources_of(tr):
            pair = (source, tr.dest)
            if tr.dest in escapes or pair in drawn or source not in where or source == tr.dest:
                continue
            drawn.add(pair)
            (x1, y1), (x2, y2) = where[source], where[tr.dest]
            if y2 > y1:
                start, end = (x1 + BOX_W // 2, y1 + BOX_H), (x2 + BOX_W // 2, y2)
                out.append(
                    f'<line x1="{start[0]}" y1="{start[1]}" x2="{end[0]}" y2="{end[1]}"'
                    ' class="edge" marker-end="url(#arrow)"/>'
                )
            else:  # back or sideways: around the left of the boxes
                out.append(
                    f'<path d="M{x1} {y1 + BOX_H // 2} C{x1 - 40} {y1 + BOX_H // 2},'
                    f' {x2 - 40} {y2 + BOX_H // 2}, {x2} {y2 + BOX_H // 2}"'
                    ' class="edge back" fill="none" marker-end="url(#arrow)"/>'
                )
    if escapes:
        x, _ = where[escapes[0]]
        out.append(
            f'<text x="{x + BOX_W // 2}" y="{MARGIN + BOX_H // 2 + 5}" class="note"'
            ' text-anchor="middle">from any state:</text>'
        )
    for state, (x, y) in where.items():
        here = state == current
        cls = "state current" if here else "state"
        if t.states[state].terminal:
            cls += " end"
        out.append(f'<g class="{cls}">')
        out.append(f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8"/>')
        if here:
            out.append(
                f'<rect x="{x - 4}" y="{y - 4}" width="{BOX_W + 8}" height="{BOX_H + 8}"'
                ' rx="11" class="outline"/>'
            )
        lines = _label(t.states[state].title or state)
        top = y + BOX_H // 2 + 5 - (len(lines) - 1) * 8
        for i, line in enumerate(lines):
            out.append(
                f'<text x="{x + BOX_W // 2}" y="{top + i * 16}" text-anchor="middle">'
                f"{escape(line)}</text>"
            )
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
