"""Definitions, steps and deadlines as text, JSON and Mermaid, for people and tools."""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TextIO

from peerflow.cli._moments import shown
from peerflow.engine._state import ProgrammeState
from peerflow.engine._steps import Deadline, Step, status_dict
from peerflow.model._loading import CONVERTER
from peerflow.model._pages import window_text
from peerflow.model._types import Bound, Part, ProgrammeType


def definition_json(definition: ProgrammeType) -> str:
    """The definition as JSON, in the same shape as its YAML (``from``/``to`` included)."""
    return json.dumps(CONVERTER.unstructure(definition), indent=2, ensure_ascii=False)


def _bound_text(bound: Bound | None) -> str:
    return bound.describe() if bound is not None else "none"


def definition_text(d: ProgrammeType) -> str:
    """A readable summary: roles, states, deliverables, dates and steps."""
    lines = [f"{d.title} ({d.id}, version {d.version})"]
    if d.source:
        lines.append(f"Source: {d.source}")
    lines.append(f"Time zone: {d.timezone}" + (f"; holidays of {d.country}" if d.country else ""))
    lines.append(f"Deadline: {_bound_text(d.deadline)}")
    lines.append("")
    lines.append("Roles:")
    for name, role in d.roles.items():
        count = f"{role.min}..{role.max if role.max is not None else 'n'}"
        lines.append(f"  {name} ({count}): {role.title}")
    lines.append("")
    lines.append("States:")
    for name, state in d.states.items():
        marks = " [initial]" if name == d.initial else ""
        marks += " [terminal]" if state.terminal else ""
        lines.append(f"  {name}{marks}: {state.title}")
    lines.append("")
    lines.append("Deliverables:")
    for name, deliverable in d.deliverables.items():
        each = (
            "each of "
            if deliverable.each
            else "any one of "
            if len(deliverable.owed_by) > 1
            else ""
        )
        lines.append(
            f"  {name}: {deliverable.title} (owed by {each}{', '.join(deliverable.owed_by)})"
        )
        if deliverable.during:
            lines.append(f"      during {', '.join(deliverable.during)}")
        if deliverable.window is not None:
            lines.append(f"      window: {window_text(deliverable.window)}")
        for part, spec in deliverable.content.items():
            lines.append(f"      part {part}: {_part_text(spec)}")
        if deliverable.content:
            lines.append(f"      (peerflow template {d.id} {name} writes a file to fill in)")
    if d.dates:
        lines.append("")
        lines.append("Dates:")
        for name, sd in d.dates.items():
            lines.append(f"  {name}: {sd.title} (set by {', '.join(sd.set_by)})")
    lines.append("")
    lines.append("Steps:")
    for t in d.transitions:
        lines.append(f"  {t.event}: {', '.join(t.source)} -> {t.dest} (by {', '.join(t.by)})")
        if t.requires:
            lines.append(f"      requires {', '.join(t.requires)}")
        for c in t.requires_when:
            lines.append(f"      requires {c.deliverable} if {c.when.describe()}")
        for event, times in t.min_times.items():
            lines.append(f"      requires {event} to have happened at least {times} times")
        if t.window is not None:
            lines.append(f"      window: {window_text(t.window)}")
        if t.advisory is not None:
            lines.append(f"      indicative (never refused): {window_text(t.advisory)}")
        if not t.deadline_applies:
            lines.append("      not bound by the programme deadline")
    lines.append("")
    lines.append(
        "Waivers: "
        + (
            f"{' or '.join(d.waivable_by)} may lift a blocker with a reason (peerflow waive)"
            if d.waivable_by
            else "none (no role may waive)"
        )
    )
    lines.extend(_budget_lines(d))
    return "\n".join(lines)


def _part_text(part: Part) -> str:
    text = part.title or ""
    if part.one_of is not None:
        text += f" (one of: {', '.join(str(v) for v in part.one_of)})"
    if part.list_of is not None:
        text += f" (a list; each entry with {', '.join(part.list_of)})"
    if part.and_or:
        text += " (one of the and/or alternatives)"
    return text


def _budget_lines(d: ProgrammeType) -> list[str]:
    budget = d.budget
    if budget is None:
        return []
    lines = ["", f"Budget ({budget.currency}; paid by {', '.join(budget.paid_by)}):"]
    for role, rb in budget.roles.items():
        cap = f", at most {rb.cap} in all" if rb.cap is not None else ""
        lines.append(f"  {role}{cap}:")
        for item, cost in rb.items.items():
            limits = []
            if cost.cap is not None:
                limits.append(f"cap {cost.cap}")
            if cost.per_day is not None:
                limits.append(f"{cost.per_day} a day")
            if cost.per_night is not None:
                limits.append(f"{cost.per_night} a night")
            if cost.max_days is not None:
                limits.append(f"at most {cost.max_days} days")
            if cost.max_nights is not None:
                limits.append(f"at most {cost.max_nights} nights")
            if cost.flat:
                limits.append("flat allowance")
            if cost.at_cost:
                limits.append("at cost")
            shown_limits = f" ({'; '.join(limits)})" if limits else ""
            lines.append(f"    {item}: {cost.title or item}{shown_limits}")
    needs = [
        "receipts" if budget.receipts_required else "",
        "bank details" if budget.bank_details_required else "",
    ]
    if any(needs):
        lines.append(f"  claims need {' and '.join(n for n in needs if n)}")
    if budget.claims_during:
        lines.append(f"  claims during {', '.join(budget.claims_during)}")
    if budget.payment is not None:
        lines.append(f"  payment: {window_text(budget.payment)}")
    return lines


def content_yaml(d: ProgrammeType, deliverable: str) -> str:
    """The template as YAML to fill in, each part under a comment saying what it takes."""
    template = content_template(d, deliverable)
    found = d.deliverables[deliverable]
    lines = [
        f"# {found.title} ({d.id}): fill in each part, then",
        f"# peerflow submit PROGRAMME {deliverable} --content @{deliverable}.yaml --by ID",
    ]
    for name, part in found.content.items():
        lines.append(f"# {_part_text(part).strip() or name}")
        if part.list_of is not None:
            lines.append(f"{name}:")
            for i, field in enumerate(part.list_of):
                lines.append(f'  {"- " if i == 0 else "  "}{field}: ""')
        else:
            lines.append(f'{name}: ""')
        assert name in template
    return "\n".join(lines) + "\n"


def content_template(d: ProgrammeType, deliverable: str) -> dict[str, Any]:
    """An empty content object for ``deliverable``: each part with a hint of what it takes."""
    found = d.deliverables.get(deliverable)
    if found is None:
        raise ValueError(
            f"'{deliverable}' is not a deliverable of '{d.id}' "
            f"(deliverables: {', '.join(d.deliverables)})"
        )
    if not found.content:
        with_parts = [n for n, x in d.deliverables.items() if x.content]
        raise ValueError(
            f"'{deliverable}' has no parts to fill in: submit it with --ref "
            f"(deliverables with parts: {', '.join(with_parts) or 'none'})"
        )
    template: dict[str, Any] = {}
    for name, part in found.content.items():
        if part.list_of is not None:
            template[name] = [{field: "" for field in part.list_of}]
        else:
            template[name] = ""
    return template


def last_day(closes_at: datetime) -> str:
    """The last day a window that closes at ``closes_at`` is open (windows are whole days)."""
    return (closes_at - timedelta(seconds=1)).strftime("%Y-%m-%d")


_COLOURS = {"allowed": "32", "blocked": "31", "OVERDUE": "1;31", "due": "33"}
"""ANSI colours for the words a facilitator scans for: green, red, bold red, yellow."""


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never where ``NO_COLOR`` is set (no-color.org)."""
    return stream.isatty() and not os.environ.get("NO_COLOR")


def paint(word: str, colour: bool) -> str:
    code = _COLOURS.get(word)
    return f"\x1b[{code}m{word}\x1b[0m" if colour and code else word


def owed_text(names: Sequence[str], each: bool) -> str:
    """Who still owes a deliverable: each of them (one copy each) or any one of them."""
    if len(names) == 1:
        return names[0]
    return f"{'each of' if each else 'one of'} {', '.join(names)}"


def owes_each(definition: ProgrammeType, deliverable: str) -> bool:
    found = definition.deliverables.get(deliverable)
    return found is not None and found.each


def steps_text(
    steps: Sequence[Step], definition: ProgrammeType, indent: str = "  ", colour: bool = False
) -> list[str]:
    """Allowed steps first, then blocked ones with every blocker on its own line."""
    lines = []
    for step in sorted(steps, key=lambda s: not s.allowed):
        target = f" -> {step.dest}" if step.dest else ""
        who = f"by {', '.join(step.roles)}"
        if step.kind == "submit" and step.owed_by:
            who += f"; still owed by {owed_text(step.owed_by, owes_each(definition, step.name))}"
        if step.kind == "pay" and step.closes_at is not None:
            who += f"; pay by end of {last_day(step.closes_at)}"
        mark = "allowed" if step.allowed else "blocked"
        shown_mark = paint(mark, colour)
        lines.append(f"{indent}[{shown_mark}] {step.kind} {step.name}{target} ({who})")
        for blocker in step.blockers:
            lines.append(f"{indent}    - {blocker.describe()}")
        for blocker in step.waived:
            lines.append(f"{indent}    - waived: {blocker.describe()}")
        if step.advised_by is not None:
            since = "" if step.advised_from is None else f"from {step.advised_from:%Y-%m-%d} "
            lines.append(
                f"{indent}    - indicative: {since}to end of {last_day(step.advised_by)} "
                "(advice, never refused)"
            )
    return lines


def deadlines_text(
    deadlines: Sequence[Deadline],
    definition: ProgrammeType,
    indent: str = "  ",
    colour: bool = False,
) -> list[str]:
    lines = []
    for item in deadlines:
        if item.advisory:  # the end of an indicative window: advice, nothing is refused
            status = "past the advice" if item.overdue else "advised"
        else:
            status = "OVERDUE" if item.overdue else "due"
        owed = ""
        if item.owed_by and item.kind == "submit":
            owed = f" (waiting for {owed_text(item.owed_by, owes_each(definition, item.name))})"
        elif item.owed_by:
            owed = f" (waiting for {', '.join(item.owed_by)})"
        lines.append(
            f"{indent}{paint(status, colour)} by end of {last_day(item.due_at)}: "
            f"{item.kind} {item.name}{owed}"
        )
    return lines


def terminal_width(stream: TextIO) -> int | None:
    """Where to wrap: the terminal's width, at most 100 columns; None into a file or pipe
    (a line per item there, for grep)."""
    if not stream.isatty():
        return None
    return min(100, shutil.get_terminal_size((100, 24)).columns)


def wrapped(lines: list[str], width: int | None) -> list[str]:
    if width is None:
        return lines
    out = []
    for line in lines:
        indent = " " * (len(line) - len(line.lstrip()) + 4)
        out.extend(
            textwrap.wrap(
                line,
                width,
                subsequent_indent=indent,
                break_long_words=False,
                break_on_hyphens=False,
            )
            or [line]
        )
    return out


def status_text(
    st: ProgrammeState,
    at: datetime,
    steps: Sequence[Step],
    deadlines: Sequence[Deadline],
    colour: bool = False,
    width: int | None = None,
) -> str:
    """Where the programme stands; ``width`` wraps long lines (on a terminal)."""
    t = st.definition.type
    lines = [
        f"{st.programme} ({t.id} v{t.version}) at {shown(at, st.timezone)}",
        f"state: {st.state} ({t.states[st.state].title or st.state})"
        + (" [terminal]" if st.terminal else "")
        + f"; next seq {st.next_seq} (for --expect-next-seq)",
    ]
    if steps:
        lines.append("next steps:")
        lines.extend(steps_text(steps, t, colour=colour))
    if deadlines:
        lines.append("deadlines:")
        lines.extend(deadlines_text(deadlines, t, colour=colour))
    return "\n".join(wrapped(lines, width))


def print_status(
    st: ProgrammeState, at: datetime, role: str | None, *, as_json: bool, forecast: bool
) -> None:
    """``peerflow next``'s answer, from a history file or a store alike; ``forecast`` adds
    when each remaining step can still happen and whether the programme can finish in time."""
    d = st.definition
    steps = d.next_steps(st, at, role, participation=True)
    due = d.deadlines(st, at)
    ahead = d.forecast(st, at) if forecast else None
    if as_json:
        answer = status_dict(st, at, steps, due)
        if ahead is not None:
            answer["forecast"] = ahead.to_dict()
        print(json.dumps(answer, indent=2, ensure_ascii=False))
        return
    text = status_text(st, at, steps, due, use_colour(sys.stdout), terminal_width(sys.stdout))
    if ahead is not None:
        text += "\nforecast:\n" + textwrap.indent(ahead.to_text(), "  ")
    print(text)
