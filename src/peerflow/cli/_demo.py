"""``peerflow demo``: walk an example history stage by stage, as a facilitator sees it.

At the start of each stage it prints what is allowed, what is blocked and why,
and what is due; then the events of that stage; once, it shows the strict
engine refusing a step that is not allowed.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TextIO

from peerflow._errors import StepBlocked
from peerflow.cli._render import deadlines_text, steps_text
from peerflow.engine._compiled import CompiledDefinition
from peerflow.engine._state import ProgrammeState
from peerflow.events._envelope import Actor, Event, read_history
from peerflow.store._backend import StoreError
from peerflow.store._store import Store


def _claim_text(event: Event, st: ProgrammeState) -> str:
    claim = st.claim(event.payload.get("claim", f"claim-{event.seq}"))
    if claim is None:
        return "claims"
    items = ", ".join(f"{i.item} {i.claimed}" for i in claim.items)
    text = f"claims {items}; reimbursable {claim.reimbursable}"
    if claim.excess:
        text += f" (excess {claim.excess} over the cap, accepted up to it)"
    return text


def _pay_text(event: Event, st: ProgrammeState) -> str:
    claim = st.claim(event.payload.get("claim", ""))
    return "pays" if claim is None else f"pays claim {claim.id}: {claim.paid}"


def _describe_event(event: Event, st: ProgrammeState) -> str:
    """One line for an event, read against the state it produced."""
    p = event.payload
    what = {
        "join": lambda: (
            f"adds {p.get('participant')} as {p.get('role')}"
            if p.get("participant") != event.actor.id
            else f"joins as {p.get('role')}"
        ),
        "claim": lambda: _claim_text(event, st),
        "pay": lambda: _pay_text(event, st),
        "submit": lambda: f"submits {p.get('deliverable')}",
        "schedule": lambda: f"schedules {p.get('date')} for {p.get('value')}",
        "fire": lambda: f"fires {p.get('event')}",
        "waive": lambda: (
            f"waives {', '.join(p.get('blockers', []))} on {p.get('step', {}).get('name')}"
            + (f" for {p['participant']}" if p.get("participant") else "")
            + f': "{p.get("reason")}"'
        ),
    }.get(event.type, lambda: event.type)()
    return f"  {event.at:%Y-%m-%d %H:%M}  {event.actor.id} ({event.actor.role}) {what}"


def _show_stage(out: TextIO, st: ProgrammeState, event: Event) -> None:
    t = st.definition.type
    moment = event.at + timedelta(minutes=1)
    out.write(
        f"\n== {t.states[st.state].title or st.state} "
        f"(state '{st.state}', as of {moment:%Y-%m-%d %H:%M %z}) ==\n"
    )
    steps = st.definition.next_steps(st, moment)
    if steps:
        out.write("What may happen next:\n")
        out.write("\n".join(steps_text(steps, t)) + "\n")
    due = st.definition.deadlines(st, moment)
    if due:
        out.write("What is due:\n")
        out.write("\n".join(deadlines_text(due, t)) + "\n")


def _show_refusal(out: TextIO, st: ProgrammeState, event: Event) -> None:
    """Let the first other participant try the first facilitator step, and show the refusal."""
    step = next((s for s in st.definition.next_steps(st, event.at) if s.kind == "fire"), None)
    intruder = next(
        ((pid, role) for pid, role in st.members() if role not in (step.roles if step else ())),
        None,
    )
    if step is None or intruder is None:
        return
    attempt = Event(
        st.programme,
        st.next_seq,
        "demo-attempt",
        event.at + timedelta(minutes=1),
        Actor(intruder[1], intruder[0]),
        "fire",
        {"event": step.name},
    )
    try:
        st.definition.apply(st, attempt)
    except StepBlocked as exc:
        out.write(f"Strict engine: {intruder[0]} ({intruder[1]}) tries to fire {step.name} now:\n")
        out.write(f"  refused: {exc.reason}\n")


def run_demo(
    compiled: CompiledDefinition, history: Path, out: TextIO, store: Store
) -> ProgrammeState:
    """Record ``history`` in ``store`` event by event, strictly, printing each stage."""
    events = [event for _, event in read_history(history)]
    if any(row.programme == events[0].programme for row in store.programmes()):
        raise StoreError(
            f"programme '{events[0].programme}' is already in this store; "
            "run the demo on another --db (or none, for a temporary one)"
        )
    t = compiled.type
    out.write(f"peerflow demo: {t.title} ({t.id} v{t.version})\n")
    out.write(
        f"Example history: {history.name}, {len(events)} events, programme {events[0].programme}\n"
    )
    st = store.append([events[0]], expected_next_seq=0, definition=compiled)
    people = ", ".join(f"{pid} ({role})" for pid, role in st.members())
    out.write(f"Participants: {people}\n")
    _show_stage(out, st, events[0])
    _show_refusal(out, st, events[0])
    out.write("What happened:\n")
    for event in events[1:]:
        st = store.append([event], expected_next_seq=st.next_seq)
        out.write(_describe_event(event, st) + "\n")
        if event.type == "fire":
            _show_stage(out, st, event)
            if not st.terminal:
                out.write("What happened:\n")
    if st.claims:
        currency = t.budget.currency if t.budget else ""
        out.write("\nReimbursements:\n")
        for claim in st.claims:
            paid = f"paid {claim.paid} on {claim.paid_at:%Y-%m-%d}" if claim.paid_at else "unpaid"
            out.write(
                f"  {claim.id}: {claim.claimant} claimed {claim.claimed} {currency}, "
                f"reimbursable {claim.reimbursable}, {paid}\n"
            )
    stored = len(store.events(st.programme))
    out.write(
        f"\nFinal state: {st.state}; {stored} events in the store; "
        f"{st.next_seq} events applied strictly, none refused.\n"
    )
    return st
