"""The payload of each step a caller takes, built in one place for every way in (``Programme``,
``Store``, the command line), so a step means the same whichever of them records it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from peerflow._errors import EventError


def fire_payload(event: str) -> dict[str, Any]:
    return {"event": event}


def submit_payload(
    deliverable: str, ref: str | None = None, content: Any = None, **fields: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {"deliverable": deliverable, **fields}
    if ref is not None:
        payload["ref"] = ref
    if content is not None:
        payload["content"] = content
    return payload


def schedule_payload(date_name: str, value: date | str, seq: int | None = None) -> dict[str, Any]:
    """A date: a ``date`` (a datetime would hide a time of day), or ``"2027-02-01"``."""
    if isinstance(value, datetime) or not isinstance(value, date | str):
        raise EventError(
            f"schedule {date_name}: the value must be a date or an ISO date string, got {value!r}",
            seq=seq,
        )
    return {"date": date_name, "value": value if isinstance(value, str) else value.isoformat()}


def waive_payload(
    kind: str,
    step: str,
    blockers: Sequence[str],
    reason: str,
    participant: str | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "step": {"kind": kind, "name": step},
        "blockers": list(blockers),
        "reason": reason,
    }
    if participant is not None:
        payload["participant"] = participant
    return payload


def join_payload(participant: str, role: str) -> dict[str, Any]:
    return {"participant": participant, "role": role}


def claim_payload(
    items: Sequence[Mapping[str, Any]],
    claim: str | None = None,
    invoice_date: date | str | None = None,
    bank_details: str | None = None,
    accept_cap: bool = False,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"items": [dict(i) for i in items]}
    if claim is not None:
        payload["claim"] = claim
    if invoice_date is not None:
        payload["invoice_date"] = (
            invoice_date if isinstance(invoice_date, str) else invoice_date.isoformat()
        )
    if bank_details is not None:
        payload["bank_details"] = bank_details
    if accept_cap:
        payload["accept_cap"] = True
    return payload


def pay_payload(claim: str, amount: str | int | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"claim": claim}
    if amount is not None:
        payload["amount"] = amount
    return payload
