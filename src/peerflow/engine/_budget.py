"""Budgets: what a claim may be reimbursed, worked out in Decimal.

A claim lists cost items with the amount spent, the receipts and, for daily
fees and allowances, the days or nights covered. Each item is limited by its
rate (rate x days or nights) and by what is left of its cap for that
participant; the participant's role cap limits the claim's total. An excess is
refused with the cap, the amount and the excess, unless the claimant accepts
reimbursement up to the cap (``accept_cap``), in which case it is recorded and
flagged. Money is never a float: JSON amounts are strings or whole numbers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from typing import Any, ParamSpec, TypeVar

import attrs

from peerflow._errors import EventError
from peerflow.engine._blockers import Blocker, MissingReceipts, OverBudget
from peerflow.events._envelope import id_problem
from peerflow.model._types import Budget, CostItem, RoleBudget

_CENT = Decimal("0.01")

MONEY = Context(
    prec=34,
    rounding=ROUND_HALF_UP,
    Emin=-999_999,
    Emax=999_999,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)
"""The arithmetic every amount is worked out in, whatever the host application's decimal
context: 34 digits (sums of amounts are exact), and a rate times days is rounded to the cent
half up (33.335 x 3 = 100.005 gives 100.01). A caller with ``prec=3`` or ``ROUND_DOWN``
gets the same reimbursement as everyone else."""

_P = ParamSpec("_P")
_R = TypeVar("_R")


def in_money_context(work: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``work`` in :data:`MONEY`, not in the caller's decimal context."""

    @functools.wraps(work)
    def in_context(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with localcontext(MONEY):
            return work(*args, **kwargs)

    return in_context


@attrs.frozen
class ClaimedItem:
    """One cost item of a claim: what was spent and what is reimbursable."""

    item: str
    claimed: Decimal
    reimbursable: Decimal
    receipts: tuple[str, ...] = ()
    days: int | None = None
    nights: int | None = None

    @property
    @in_money_context
    def excess(self) -> Decimal:
        return self.claimed - self.reimbursable


@attrs.frozen
class Claim:
    """An expense claim as recorded: its items, the invoice date, and payment once made."""

    id: str
    claimant: str
    role: str
    seq: int
    invoice_date: date
    items: tuple[ClaimedItem, ...]
    paid_at: datetime | None = None
    paid: Decimal | None = None

    @property
    @in_money_context
    def claimed(self) -> Decimal:
        return sum((i.claimed for i in self.items), Decimal(0))

    @property
    @in_money_context
    def reimbursable(self) -> Decimal:
        return sum((i.reimbursable for i in self.items), Decimal(0))

    @property
    @in_money_context
    def excess(self) -> Decimal:
        return self.claimed - self.reimbursable


@in_money_context
def claims_open(budget: Budget, state: str) -> bool:
    """Whether the budget takes claims in ``state`` (``claims_during``; any state without)."""
    return not budget.claims_during or state in budget.claims_during


def amount(value: Any, what: str, seq: int | None) -> Decimal:
    """A non-negative amount of money from JSON: a string like "92.50" or a whole number."""
    return _amount(value, what, seq)


# The work is done in undecorated functions called inside MONEY, so that a mutation tool
# that leaves decorated functions alone (mutmut) still reaches it.
def _amount(value: Any, what: str, seq: int | None) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | str):
        hint = (
            ' (write it as a string like "92.50": floats lose cents)'
            if isinstance(value, float)
            else ""
        )
        raise EventError(f'{what} must be an amount like "92.50", got {value!r}{hint}', seq=seq)
    try:
        result = Decimal(value)
    except InvalidOperation:
        raise EventError(f'{what} must be an amount like "92.50", got {value!r}', seq=seq) from None
    try:
        whole_cents = result.is_finite() and result == result.quantize(_CENT)
    except InvalidOperation:  # more digits than the decimal context holds
        raise EventError(f"{what} is too large an amount: {value!r}", seq=seq) from None
    if not whole_cents or result < 0:
        raise EventError(
            f"{what} must be 0 or more with at most 2 decimals, got {value!r}", seq=seq
        )
    return result


def _count(value: Any, what: str, seq: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise EventError(f"{what} must be a whole number of 1 or more, got {value!r}", seq=seq)
    return value


def _used(claims: tuple[Claim, ...], claimant: str, item: str | None) -> Decimal:
    """What ``claimant``'s earlier claims already take from an item (or, None, in all)."""
    return sum(
        (
            i.reimbursable
            for c in claims
            if c.claimant == claimant
            for i in c.items
            if item is None or i.item == item
        ),
        Decimal(0),
    )


def _counted(claims: tuple[Claim, ...], claimant: str, item: str, unit: str) -> int:
    """The days (or nights) ``claimant``'s earlier claims already counted for an item."""
    return sum(
        getattr(i, unit) or 0
        for c in claims
        if c.claimant == claimant
        for i in c.items
        if i.item == item
    )


def _limits(
    name: str,
    spec: CostItem,
    entry: Mapping[str, Any],
    left: Decimal | None,
    counted: dict[str, int],
    currency: str,
    seq: int,
) -> tuple[list[tuple[Decimal, str]], int | None, int | None]:
    """Each limit on one item with the words that explain it, and the days and nights it
    covers. ``counted`` is the days and nights already claimed for the item."""
    limits: list[tuple[Decimal, str]] = []
    days = nights = None
    if spec.per_day is not None:
        days = _count(entry.get("days"), f"payload.items: '{name}'.days", seq)
        limits.append((spec.per_day * days, f"{spec.per_day} {currency} per day x {days}"))
        if spec.max_days is not None:
            days_left = max(spec.max_days - counted["days"], 0)
            limits.append(
                (
                    spec.per_day * days_left,
                    f"at most {spec.max_days} days per participant ({days_left} left)",
                )
            )
    if spec.per_night is not None:
        nights = _count(entry.get("nights"), f"payload.items: '{name}'.nights", seq)
        limits.append(
            (spec.per_night * nights, f"{spec.per_night} {currency} per night x {nights}")
        )
        if spec.max_nights is not None:
            nights_left = max(spec.max_nights - counted["nights"], 0)
            limits.append(
                (
                    spec.per_night * nights_left,
                    f"at most {spec.max_nights} nights per participant ({nights_left} left)",
                )
            )
    if left is not None:
        limits.append((left, f"cap {spec.cap} {currency} per participant"))
    return limits, days, nights


@in_money_context
def assess_claim(
    budget: Budget,
    role: str,
    claimant: str,
    payload: Mapping[str, Any],
    claims: tuple[Claim, ...],
    seq: int,
    default_invoice: date,
) -> tuple[Claim, list[Blocker]]:
    """The claim as it would be recorded, and what blocks it (empty: it may be recorded)."""
    return _assess_claim(budget, role, claimant, payload, claims, seq, default_invoice)


def _assess_claim(
    budget: Budget,
    role: str,
    claimant: str,
    payload: Mapping[str, Any],
    claims: tuple[Claim, ...],
    seq: int,
    default_invoice: date,
) -> tuple[Claim, list[Blocker]]:
    role_budget: RoleBudget | None = budget.roles.get(role)
    if role_budget is None:
        raise EventError(
            f"role '{role}' has no budget to claim from (budgets: {', '.join(budget.roles)})",
            seq=seq,
        )
    claim_id = payload.get("claim", f"claim-{seq}")
    problem = id_problem(claim_id)
    if problem is not None:
        raise EventError(f"payload.claim must name the claim: it {problem}", seq=seq)
    if any(c.id == claim_id for c in claims):
        raise EventError(f"payload.claim: claim '{claim_id}' is already recorded", seq=seq)
    invoice = payload.get("invoice_date")
    try:
        invoice_date = default_invoice if invoice is None else date.fromisoformat(invoice)
    except (TypeError, ValueError):
        raise EventError(
            f"payload.invoice_date must be a date like 2027-05-20, got {invoice!r}", seq=seq
        ) from None
    entries = payload.get("items")
    if not isinstance(entries, list) or not entries:
        raise EventError("payload.items must list {item, amount, receipts} objects", seq=seq)
    currency = budget.currency
    blockers: list[Blocker] = []
    used: dict[str, Decimal] = {}
    counted: dict[str, dict[str, int]] = {}
    items: list[ClaimedItem] = []
    no_receipts: list[str] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("item"), str):
            raise EventError(f"payload.items[{i}] must be {{item, amount, receipts}}", seq=seq)
        name = entry["item"]
        spec = role_budget.items.get(name)
        if spec is None:
            raise EventError(
                f"payload.items[{i}]: '{name}' is not a cost item of role '{role}' "
                f"(items: {', '.join(role_budget.items)})",
                seq=seq,
            )
        receipts = entry.get("receipts", [])
        if not isinstance(receipts, list) or not all(isinstance(r, str) for r in receipts):
            raise EventError(f"payload.items[{i}].receipts must list receipt references", seq=seq)
        if budget.receipts_required and not spec.flat and not receipts:
            no_receipts.append(name)
        left = None
        if spec.cap is not None:
            before = used.setdefault(name, _used(claims, claimant, name))
            left = max(spec.cap - before, Decimal(0))
        so_far = counted.setdefault(
            name,
            {
                "days": _counted(claims, claimant, name, "days"),
                "nights": _counted(claims, claimant, name, "nights"),
            },
        )
        limits, days, nights = _limits(name, spec, entry, left, so_far, currency, seq)
        so_far["days"] += days or 0
        so_far["nights"] += nights or 0
        if spec.flat and entry.get("amount") is None:
            # a flat rate is the rate for each day or night, whatever was spent
            claimed = limits[0][0].quantize(_CENT, ROUND_HALF_UP)
        else:
            claimed = _amount(entry.get("amount"), f"payload.items[{i}].amount", seq)
        reimbursable = min([claimed, *(limit for limit, _ in limits)]).quantize(
            _CENT, ROUND_HALF_UP
        )
        if reimbursable < claimed:
            limit, rule = min(limits, key=lambda pair: pair[0])
            blockers.append(OverBudget(name, limit, claimed, claimed - limit, rule))
        if spec.cap is not None:
            used[name] += reimbursable
        items.append(ClaimedItem(name, claimed, reimbursable, tuple(receipts), days, nights))
    if role_budget.cap is not None:
        earlier = _used(claims, claimant, None)
        total = sum((i.reimbursable for i in items), Decimal(0))
        left = max(role_budget.cap - earlier, Decimal(0))
        if total > left:
            blockers.append(
                OverBudget(
                    f"total for role '{role}'",
                    left,
                    total,
                    total - left,
                    f"cap {role_budget.cap} {currency} per participant of role '{role}'",
                )
            )
            items = _trim(items, total - left)
    if budget.bank_details_required:
        details = payload.get("bank_details")
        if not isinstance(details, str) or not details.strip():
            raise EventError(
                "payload.bank_details: a claim must carry the claimant's bank details "
                f"(the programme pays by bank transfer), got {details!r}",
                seq=seq,
            )
    if no_receipts:
        blockers.append(MissingReceipts(tuple(no_receipts)))
    claim = Claim(claim_id, claimant, role, seq, invoice_date, tuple(items))
    return claim, blockers


def _trim(items: list[ClaimedItem], excess: Decimal) -> list[ClaimedItem]:
    """Take ``excess`` off the reimbursable amounts, last items first."""
    trimmed = []
    for item in reversed(items):
        cut = min(excess, item.reimbursable)
        excess -= cut
        trimmed.append(attrs.evolve(item, reimbursable=item.reimbursable - cut))
    return list(reversed(trimmed))
