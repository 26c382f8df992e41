"""What is due by when: the deadlines a facilitator is shown, worked out from the steps the
engine evaluates (their windows, who still owes what), the claims awaiting payment and the
programme's overall deadline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from peerflow.engine._guards import Moment, owing, required, step_of
from peerflow.engine._steps import SUBMIT, Deadline
from peerflow.engine._windows import payment_due
from peerflow.model._types import Bound

if TYPE_CHECKING:
    from peerflow.engine._compiled import CompiledDefinition


def _describe(bound: Bound | None) -> str:
    return bound.describe() if bound is not None else ""


def due_from(compiled: CompiledDefinition, m: Moment) -> list[Deadline]:
    """Every deadline at ``m``: each kept once (the earliest), sorted by when it falls."""
    st, at = m.st, m.at
    due: dict[tuple[str, str, bool], Deadline] = {}

    def add(item: Deadline) -> None:
        key = (item.kind, item.name, item.advisory)
        if key not in due or item.due_at < due[key].due_at:
            due[key] = item

    for spec in compiled.tables.specs[st.state]:
        step = step_of(compiled, m, spec, None)
        if step.advised_by is not None and spec.advisory is not None:
            closes = spec.advisory[1]
            assert closes is not None
            add(
                Deadline(
                    spec.kind,
                    spec.name,
                    spec.title,
                    step.advised_by,
                    at >= step.advised_by,
                    spec.roles,
                    "indicative: closes " + closes.text,
                    advisory=True,
                )
            )
        if step.closes_at is None or step.closes_at == m.deadline:
            continue  # bound only by the programme deadline, listed once below
        overdue = at >= step.closes_at
        rule = "closes " + spec.closes.text if spec.closes is not None else ""
        if spec.kind == SUBMIT:
            if step.owed_by:
                add(
                    Deadline(
                        SUBMIT,
                        spec.name,
                        spec.title,
                        step.closes_at,
                        overdue,
                        step.owed_by,
                        rule,
                    )
                )
            continue
        add(Deadline(spec.kind, spec.name, spec.title, step.closes_at, overdue, spec.roles, rule))
        for d in required(st, spec):
            owed_by = owing(compiled, st, m.layout, d)
            if owed_by:
                name = compiled.deliverable_names[d]
                add(
                    Deadline(
                        SUBMIT,
                        name,
                        compiled.type.deliverables[name].title,
                        step.closes_at,
                        overdue,
                        owed_by,
                        f"needed by '{spec.name}'",
                    )
                )
    for claim in st.claims:
        due_at = payment_due(compiled, st, claim) if claim.paid_at is None else None
        if due_at is not None:
            budget = compiled.type.budget
            assert budget is not None and budget.payment is not None
            add(
                Deadline(
                    "payment",
                    claim.id,
                    f"Reimburse {claim.claimant}: {claim.reimbursable} {budget.currency}",
                    due_at,
                    at >= due_at,
                    st.holders(budget.paid_by),
                    "closes " + _describe(budget.payment.closes),
                )
            )
    if m.deadline is not None and not st.terminal:
        add(
            Deadline(
                "programme",
                "deadline",
                "Programme deadline",
                m.deadline,
                at >= m.deadline,
                (),
                _describe(compiled.type.deadline),
            )
        )
    return sorted(due.values(), key=lambda d: (d.due_at, d.kind, d.name))
