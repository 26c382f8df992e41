"""Figures across many replayed programmes: completion, deviations, lateness, time in states.

Analysts compare programmes by these; every figure is computed from the replay alone, in a
fixed order, so the same histories give the same summary.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from peerflow.replay._audit import DEVIATION_KINDS, ProgrammeReplay

LATENESS_BUCKETS = ((1, 1), (2, 3), (4, 7), (8, 14), (15, 30), (31, None))
"""Days-late ranges of the lateness histogram (``None``: no upper limit)."""


def _quantile(values: Sequence[float], q: float) -> float:
    """The nearest-rank quantile of sorted ``values``."""
    index = max(0, min(len(values) - 1, round(q * (len(values) - 1))))
    return values[index]


def _distribution(values: Iterable[float]) -> dict[str, Any]:
    ordered = sorted(values)
    if not ordered:
        return {"count": 0}
    return {
        "count": len(ordered),
        "min": ordered[0],
        "median": _quantile(ordered, 0.5),
        "p90": _quantile(ordered, 0.9),
        "max": ordered[-1],
        "mean": round(sum(ordered) / len(ordered), 3),
    }


@attrs.define
class SummaryParts:
    """What the summary is made of, gathered programme by programme: parts from several
    processes add up (:meth:`add`) to the parts of all their programmes."""

    counts: Counter[str] = attrs.field(factory=Counter)
    ends: Counter[str] = attrs.field(factory=Counter)
    by_kind: Counter[str] = attrs.field(factory=Counter)
    by_step: defaultdict[str, Counter[str]] = attrs.field(factory=lambda: defaultdict(Counter))
    late_days: list[int] = attrs.field(factory=list)
    in_state: defaultdict[str, list[float]] = attrs.field(factory=lambda: defaultdict(list))

    def take(self, programmes: Iterable[ProgrammeReplay]) -> SummaryParts:
        counts, by_kind, by_step, late_days = (
            self.counts,
            self.by_kind,
            self.by_step,
            self.late_days,
        )
        for p in programmes:
            counts["programmes"] += 1
            counts["events"] += len(p.events)
            counts["completed"] += p.completed
            counts["ended"] += p.ended
            counts["conforming"] += p.conforming
            counts["with_problems"] += bool(p.problems)
            self.ends[p.state or "(not started)"] += 1
            for d in p.deviations:
                by_kind[d.kind] += 1
                by_step[d.step][d.kind] += 1
                if d.kind == "late" and d.days is not None:
                    late_days.append(d.days)
            for state, entered, left in p.durations():
                if left is not None:
                    self.in_state[state].append(round((left - entered).total_seconds() / 86400, 3))
        return self

    def add(self, other: SummaryParts) -> SummaryParts:
        self.counts.update(other.counts)
        self.ends.update(other.ends)
        self.by_kind.update(other.by_kind)
        for step, kinds in other.by_step.items():
            self.by_step[step].update(kinds)
        self.late_days.extend(other.late_days)
        for state, days in other.in_state.items():
            self.in_state[state].extend(days)
        return self

    def summary(self) -> dict[str, Any]:
        """The figures, as :func:`summarise` gives them."""
        counts, by_kind, late_days = self.counts, self.by_kind, self.late_days
        count, completed = counts["programmes"], counts["completed"]
        histogram = {}
        for low, high in LATENESS_BUCKETS:
            label = f"{low}" if low == high else (f"{low}-{high}" if high else f"{low}+")
            histogram[label] = sum(1 for d in late_days if d >= low and (high is None or d <= high))
        return {
            "programmes": count,
            "events": counts["events"],
            "completed": completed,
            "completion_rate": round(completed / count, 4) if count else None,
            "ended": counts["ended"],
            "conforming": counts["conforming"],
            "with_problems": counts["with_problems"],
            "final_states": dict(sorted(self.ends.items())),
            "deviations_by_kind": {k: by_kind[k] for k in DEVIATION_KINDS if by_kind[k]},
            "deviations_by_step": {
                step: {k: kinds[k] for k in DEVIATION_KINDS if kinds[k]}
                for step, kinds in sorted(self.by_step.items())
            },
            "days_late": _distribution(late_days),
            "days_late_histogram": histogram,
            "days_in_state": {
                state: _distribution(v) for state, v in sorted(self.in_state.items())
            },
        }


def summarise(programmes: Sequence[ProgrammeReplay]) -> dict[str, Any]:
    """Completion rate, deviations by kind and by step, lateness and time spent in each state."""
    return SummaryParts().take(programmes).summary()


def summary_text(summary: dict[str, Any]) -> str:
    """The summary as a few lines for a terminal."""
    rate = summary["completion_rate"]
    lines = [
        f"{summary['programmes']:,} programmes, {summary['events']:,} events; "
        f"completed {summary['completed']:,}"
        + (f" ({rate:.1%})" if rate is not None else "")
        + f", conforming {summary['conforming']:,}, with bad lines {summary['with_problems']:,}",
        "final states: "
        + ", ".join(f"{state} {n:,}" for state, n in summary["final_states"].items()),
    ]
    kinds = summary["deviations_by_kind"]
    lines.append(
        "deviations: " + (", ".join(f"{k} {n:,}" for k, n in kinds.items()) if kinds else "none")
    )
    late = summary["days_late"]
    if late["count"]:
        lines.append(
            f"days late: median {late['median']}, p90 {late['p90']}, max {late['max']} "
            f"(over {late['count']:,} late steps)"
        )
    steps = sorted(
        summary["deviations_by_step"].items(), key=lambda item: (-sum(item[1].values()), item[0])
    )[:5]
    if steps:
        lines.append("most deviating steps:")
        lines.extend(
            f"  {step}: " + ", ".join(f"{k} {n:,}" for k, n in kinds_.items())
            for step, kinds_ in steps
        )
    return "\n".join(lines)
