"""Replays as an OCEL 2.0 object-centric event log (the JSON format of ocel-standard.org).

XES sees one case per event; a programme's events also concern its participants, the
deliverables they hand in and the claims they make. OCEL 2.0 keeps each of those as an
object of its own, so an analyst can follow a participant across steps or a claim from
filing to payment:

- objects (``/`` and ``%`` inside an id written ``%2F`` and ``%25``, so ids never meet):
  ``programme`` (its state as an attribute that changes over time), ``participant``
  (``PROGRAMME/participant/ID``, with the role it holds), ``deliverable``
  (``PROGRAMME/deliverable/NAME``) and ``claim`` (``PROGRAMME/claim/ID``, with the amounts
  claimed and paid);
- events: one per history event, its type the step (``submit learning_needs``), related to
  its programme (qualifier ``programme``), the acting participant (``actor``), and the
  deliverable submitted, or the claim filed (a payment: the claims paid at its moment);
- attributes: the event's ``seq``, whether the engine applied it, the state before and after
  it, and its deviations (space-separated kinds).

Written with the standard library; times in UTC to the microsecond, as the XES export.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import IO, Any

from peerflow.replay._audit import ProgrammeReplay

EVENT_ATTRIBUTES = (
    ("seq", "integer"),
    ("applied", "boolean"),
    ("state_before", "string"),
    ("state_after", "string"),
    ("deviations", "string"),
)
"""The attributes every event type declares, with their OCEL types."""

OBJECT_TYPES: dict[str, tuple[tuple[str, str], ...]] = {
    "programme": (("definition", "string"), ("state", "string"), ("completed", "boolean")),
    "participant": (("role", "string"),),
    "deliverable": (("name", "string"),),
    "claim": (("claimed", "float"), ("paid", "float")),
}
"""Each object type and its attributes, with their OCEL types."""


def _escaped(part: str) -> str:
    """``/`` and ``%`` in an id written as ``%2F`` and ``%25``: ids may hold any printable
    character, and object ids joined with ``/`` must not meet (a programme named
    ``x/participant/y`` against participant ``y`` of programme ``x``)."""
    return part.replace("%", "%25").replace("/", "%2F") if "/" in part or "%" in part else part


def _id(programme: str, kind: str, name: str) -> str:
    """An object's id: by type, so a claim and a participant of the same name stay apart."""
    return f"{_escaped(programme)}/{kind}/{_escaped(name)}"


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _attributes(pairs: Sequence[tuple[str, object]]) -> list[dict[str, Any]]:
    return [{"name": name, "value": value} for name, value in pairs]


def _programme_objects(p: ProgrammeReplay) -> Iterator[dict[str, Any]]:
    """The programme, its participants, deliverables and claims, as objects."""
    if not p.events:
        return
    start = p.events[0].at
    state_changes = [
        {"name": "state", "time": _time(r.at), "value": r.after}
        for i, r in enumerate(p.events)
        if i == 0 or r.after != p.events[i - 1].after
    ]
    last = p.events[-1].at
    yield {
        "id": _escaped(p.programme),
        "type": "programme",
        "attributes": [
            {"name": "definition", "time": _time(start), "value": p.definition or ""},
            *state_changes,
            {"name": "completed", "time": _time(last), "value": p.completed},
        ],
    }
    final = p.final
    members = final.members() if final is not None else ()
    for person, role in members:
        yield {
            "id": _id(p.programme, "participant", person),
            "type": "participant",
            "attributes": [{"name": "role", "time": _time(start), "value": role}],
            "relationships": [{"objectId": _escaped(p.programme), "qualifier": "member of"}],
        }
    submitted = sorted({r.step[len("submit ") :] for r in p.events if r.type == "submit"})
    for name in submitted:
        yield {
            "id": _id(p.programme, "deliverable", name),
            "type": "deliverable",
            "attributes": [{"name": "name", "time": _time(start), "value": name}],
            "relationships": [{"objectId": _escaped(p.programme), "qualifier": "deliverable of"}],
        }
    for claim in final.claims if final is not None else ():
        attributes = [{"name": "claimed", "time": _time(start), "value": float(claim.claimed)}]
        if claim.paid is not None and claim.paid_at is not None:
            attributes.append(
                {"name": "paid", "time": _time(claim.paid_at), "value": float(claim.paid)}
            )
        yield {
            "id": _id(p.programme, "claim", claim.id),
            "type": "claim",
            "attributes": attributes,
            "relationships": [
                {"objectId": _escaped(p.programme), "qualifier": "claim in"},
                {
                    "objectId": _id(p.programme, "participant", claim.claimant),
                    "qualifier": "claimant",
                },
            ],
        }


def _programme_events(p: ProgrammeReplay, known: set[str]) -> Iterator[dict[str, Any]]:
    """Each history event, related to the objects it concerns (only objects that exist)."""
    final = p.final
    claims_by_seq = {c.seq: c.id for c in final.claims} if final is not None else {}
    paid_at: dict[datetime, list[str]] = {}
    for claim in final.claims if final is not None else ():
        if claim.paid_at is not None:
            paid_at.setdefault(claim.paid_at, []).append(claim.id)
    for record in p.events:
        programme = p.programme
        related = [
            (_escaped(programme), "programme"),
            (_id(programme, "participant", record.actor), "actor"),
        ]
        if record.type == "submit":
            name = record.step[len("submit ") :]
            related.append((_id(programme, "deliverable", name), "submitted"))
        elif record.type == "claim" and record.seq in claims_by_seq:
            related.append((_id(programme, "claim", claims_by_seq[record.seq]), "filed"))
        elif record.type == "pay":
            related += [(_id(programme, "claim", c), "paid") for c in paid_at.get(record.at, ())]
        yield {
            "id": f"{_escaped(p.programme)}#{record.seq}",
            "type": record.step,
            "time": _time(record.at),
            "attributes": _attributes(
                (
                    ("seq", record.seq),
                    ("applied", record.applied),
                    ("state_before", record.before),
                    ("state_after", record.after),
                    ("deviations", " ".join(record.deviations)),
                )
            ),
            "relationships": [
                {"objectId": object_id, "qualifier": qualifier}
                for object_id, qualifier in dict(related).items()
                if object_id in known
            ],
        }


def ocel(programmes: Sequence[ProgrammeReplay]) -> dict[str, Any]:
    """The OCEL 2.0 log of ``programmes`` as plain data (what :func:`write_ocel` writes)."""
    objects = [o for p in programmes for o in _programme_objects(p)]
    known = {o["id"] for o in objects}
    events = [e for p in programmes for e in _programme_events(p, known)]
    event_types = sorted({e["type"] for e in events})
    return {
        "eventTypes": [
            {"name": name, "attributes": [{"name": n, "type": t} for n, t in EVENT_ATTRIBUTES]}
            for name in event_types
        ],
        "objectTypes": [
            {"name": name, "attributes": [{"name": n, "type": t} for n, t in attributes]}
            for name, attributes in OBJECT_TYPES.items()
        ],
        "events": events,
        "objects": objects,
    }


def write_ocel(programmes: Sequence[ProgrammeReplay], stream: IO[str]) -> None:
    """An OCEL 2.0 JSON log: objects for programmes, participants, deliverables, claims."""
    json.dump(ocel(programmes), stream, ensure_ascii=False, indent=1)
    stream.write("\n")
