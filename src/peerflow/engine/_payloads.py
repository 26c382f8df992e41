"""What an event's payload must hold before the engine looks at it: JSON values only, an
aware time, a real actor, a well-formed list of participants and a starter the definition
allows. Shared by the engine, ``Programme`` and the store, so each refuses the same input with
the same words."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from peerflow._errors import EventError
from peerflow.events._envelope import Actor, Event, check_year, id_problem, nesting_problem
from peerflow.model._types import SELF, ProgrammeType

if TYPE_CHECKING:
    from peerflow.engine._compiled import CompiledDefinition


def _require_aware(at: datetime, seq: int | None = None) -> None:
    if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
        raise EventError(f"time {at!r} must be a datetime with a UTC offset", seq=seq)
    try:
        check_year(at, "at")
    except ValueError as exc:
        raise EventError(str(exc), seq=seq) from None


def participants_payload(participants: Any) -> list[dict[str, Any]]:
    """A start payload's participants from ``(id, role)`` pairs or ``{id, role}`` objects."""
    if isinstance(participants, Mapping | str):
        raise EventError(
            "participants must be a list of (id, role) pairs or {id, role} objects, "
            f"not {type(participants).__name__}",
            seq=0,
        )
    people = []
    for i, p in enumerate(participants):
        if isinstance(p, Mapping):
            people.append(dict(p))
        elif isinstance(p, tuple | list) and len(p) == 2:
            people.append({"id": p[0], "role": p[1]})
        else:
            raise EventError(
                f"participants[{i}] must be an (id, role) pair or an {{id, role}} object, "
                f"got {p!r}",
                seq=0,
            )
    return people


def start_event(
    definition: CompiledDefinition,
    programme: str,
    *,
    at: datetime,
    actor: Actor,
    participants: Any,
    timezone: str | None = None,
    country: str | None = None,
    event_id: str | None = None,
) -> Event:
    """The ``start`` event that the embedding API and the store both record."""
    payload: dict[str, Any] = {
        "definition": definition.id,
        "version": definition.version,
        "participants": participants_payload(participants),
    }
    if timezone is not None:
        payload["timezone"] = timezone
    if country is not None:
        payload["country"] = country
    event_id = str(uuid.uuid4()) if event_id is None else event_id
    return Event(programme, 0, event_id, at, actor, "start", payload)


def require_json(payload: Any, seq: int) -> None:
    """Events are kept as JSON: a payload that is not JSON is refused before it is recorded,
    not found out when the history is written."""
    problem = nesting_problem(payload)
    if problem is not None:
        raise EventError(f"the payload is {problem}", seq=seq)
    try:
        json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise EventError(
            f"the payload must be JSON (text, numbers, lists, objects): {exc}", seq=seq
        ) from None


def _require_actor(event: Event) -> None:
    """The actor is an :class:`Actor`, the event's ids keep the one id rule, and its payload
    is not nested past the limit (deep input would exhaust the stack where it is written)."""
    if type(event.actor) is not Actor:
        raise EventError(
            f"actor must be a peerflow.Actor(role, id), got {event.actor!r}", seq=event.seq
        )
    for field, value in (
        ("programme", event.programme),
        ("id", event.id),
        ("actor.id", event.actor.id),
        ("actor.role", event.actor.role),
    ):
        problem = id_problem(value)
        if problem is not None:
            raise EventError(f"{field} {problem}", seq=event.seq)
    problem = nesting_problem(event.payload)
    if problem is not None:
        raise EventError(f"the payload is {problem}", seq=event.seq)


def _check_starter(
    actor: Actor, members: tuple[tuple[str, str], ...], t: ProgrammeType, seq: int
) -> None:
    """Who may start a programme, and whom they may list in it.

    The starter must be one of the start's participants, in a role that may start it. A role
    whose participants join later may be listed at the start only by a role that may add them
    then (``joined_by``) in the initial state (``join_during``): a start is not a way around
    the join rules, and participants who join themselves are never listed by someone else.
    """
    listed = dict(members)
    if listed.get(actor.id) != actor.role:
        people = ", ".join(f"{pid} ({role})" for pid, role in members)
        raise EventError(
            f"actor '{actor.id}' ({actor.role}) must be listed in payload.participants in that "
            f"role to start the programme (listed: {people or 'nobody'})",
            seq=seq,
        )
    starters = t.starters()
    if actor.role not in starters:
        raise EventError(
            f"role '{actor.role}' may not start a '{t.id}' programme "
            f"(roles that may: {', '.join(starters)})",
            seq=seq,
        )
    for i, (pid, role_name) in enumerate(members):
        role = t.roles[role_name]
        if not role.joins_later:
            continue
        during = role.join_during or t.live_states()
        if actor.role not in role.joined_by or t.initial not in during:
            how = (
                "they join themselves"
                if SELF in role.joined_by
                else f"they are added by {', '.join(role.joined_by)} with a join event"
            )
            raise EventError(
                f"payload.participants[{i}]: '{pid}' cannot be listed at the start as "
                f"'{role_name}': {how} during {', '.join(during)}",
                seq=seq,
            )


def _participants(value: Any, t: ProgrammeType, seq: int) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        raise EventError("payload.participants must list {id, role} objects", seq=seq)
    seen: dict[str, str] = {}
    for i, item in enumerate(value):
        if (
            not (type(item) is dict or isinstance(item, Mapping))
            or type(item.get("id")) is not str
            or type(item.get("role")) is not str
        ):
            raise EventError(f"payload.participants[{i}] must be {{id, role}}", seq=seq)
        pid, role = item["id"], item["role"]
        problem = id_problem(pid)
        if problem is not None:
            raise EventError(f"payload.participants[{i}].id {problem}", seq=seq)
        if role not in t.roles:
            raise EventError(
                f"payload.participants[{i}]: unknown role '{role}' (roles: {', '.join(t.roles)})",
                seq=seq,
            )
        if pid in seen:
            raise EventError(f"payload.participants[{i}]: '{pid}' is listed twice", seq=seq)
        seen[pid] = role
    counts: dict[str, int] = {}
    for role in seen.values():
        counts[role] = counts.get(role, 0) + 1
    for name, role_def in t.roles.items():
        count = counts.get(name, 0)
        if count < role_def.min and not role_def.joins_later:
            raise EventError(
                f"payload.participants: role '{name}' needs at least {role_def.min}, got {count}",
                seq=seq,
            )
        if role_def.max is not None and count > role_def.max:
            raise EventError(
                f"payload.participants: role '{name}' allows at most {role_def.max}, got {count}",
                seq=seq,
            )
    return tuple(seen.items())
