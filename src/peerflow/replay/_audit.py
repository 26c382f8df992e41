"""Audit replay: real histories through the live engine, deviations recorded, never refused.

Live, a step that is not allowed is refused. Replaying what happened, the same engine
(:meth:`CompiledDefinition.audit`) accepts each event wherever the definition has the step at
all and reports the blockers it went through; here they become deviations with the event's
``seq``. An event the definition has no step for is skipped (``impossible``, or
``unknown_event`` for a name the definition does not know) and replay goes on. Results come
sorted by programme id, deviations in ``seq`` order: the same input gives the same output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from datetime import date, datetime, timedelta
from typing import Any, Literal, get_args, overload

import attrs

from peerflow._bulk import no_cyclic_gc
from peerflow._errors import EventError, HistoryError, StepNotAvailable
from peerflow.engine._blockers import Blocker, BlockerKind, WindowClosed, WindowNotOpen
from peerflow.engine._compiled import CompiledDefinition
from peerflow.engine._registry import definition_of
from peerflow.engine._state import ProgrammeState
from peerflow.events._envelope import Event, Row, event_of, row_of
from peerflow.events._history import Histories, histories_of
from peerflow.model._calendar import is_working_day, local_date
from peerflow.replay._fastfold import FastFold

DeviationKind = Literal[
    "late",
    "early",
    "missing_deliverable",
    "wrong_role",
    "waived",
    "over_budget",
    "missing_receipts",
    "incomplete_content",
    "date_not_scheduled",
    "too_few_participants",
    "participant_limit",
    "too_few_occurrences",
    "impossible",
    "unknown_event",
    "invalid",
]
"""What a deviation is: a blocker the event went through (named from the event's side:
late, early, wrong role), or an event the engine could not apply at all."""

DEVIATION_KINDS: tuple[DeviationKind, ...] = get_args(DeviationKind)
"""Every deviation kind, in the order reports list them."""

_FROM_BLOCKER: dict[BlockerKind, DeviationKind] = {
    "window_closed": "late",
    "window_not_open": "early",
    "role": "wrong_role",
    "missing_deliverable": "missing_deliverable",
    "date_not_scheduled": "date_not_scheduled",
    "too_few_participants": "too_few_participants",
    "participant_limit": "participant_limit",
    "incomplete_content": "incomplete_content",
    "over_budget": "over_budget",
    "missing_receipts": "missing_receipts",
    "too_few_occurrences": "too_few_occurrences",
}
"""Each blocker an event went through, as the deviation it records; tests/test_replay.py
fails when a blocker kind has none."""

_NAME_KEYS = {"fire": "event", "submit": "deliverable", "schedule": "date"}


@attrs.frozen
class Deviation:
    """Something that happened other than the definition says, at event ``seq``.

    ``days`` is how late (``late``) or early (``early``) in calendar days, ``working_days``
    the same in working days where the window counts them; ``reason`` is a waiver's reason.
    """

    seq: int
    kind: DeviationKind
    step: str
    detail: str
    days: int | None = None
    working_days: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "step": self.step,
            "detail": self.detail,
            "days": self.days,
            "working_days": self.working_days,
            "reason": self.reason,
        }


@attrs.frozen
class EventRecord:
    """One event as replayed: what it did, by whom, from which state to which, and how."""

    seq: int
    at: datetime
    type: str
    step: str
    actor: str
    role: str
    before: str
    after: str
    applied: bool
    deviations: tuple[str, ...] = ()


class EventRecords(Sequence[EventRecord]):
    """A programme's replayed events; each :class:`EventRecord` is made when first read.

    Replaying ten thousand programmes makes a quarter of a million records that a summary
    or a per-programme export never looks at one by one. Kept as columns: the events, the
    state after each (the state before is the one after the previous event), and, only for
    the events the engine had to judge, whether each was applied and its deviation kinds.
    """

    __slots__ = ("_after", "_judged", "_made", "_rows")

    def __init__(
        self,
        rows: Sequence[Row],
        after: Sequence[str],
        judged: Mapping[int, tuple[bool, tuple[str, ...]]],
    ) -> None:
        self._rows, self._after, self._judged = rows, after, judged
        self._made: tuple[EventRecord, ...] | None = None

    def _all(self) -> tuple[EventRecord, ...]:
        if self._made is None:
            after, judged, conforming = self._after, self._judged, (True, ())
            made = []
            before = ""
            # the rows are the reading's own list: events added since are not this replay's
            for i, (row, state) in enumerate(zip(self._rows, after, strict=False)):
                applied, kinds = judged.get(i, conforming)
                payload: object = row[7]  # or, in a row replay_files slimmed, the step's name
                step = payload if type(payload) is str else _step_name(row[6], row[7])
                record = EventRecord(
                    row[1], row[3], row[6], step, row[5], row[4], before, state, applied, kinds
                )
                made.append(record)
                before = state
            self._made = tuple(made)
        return self._made

    def __len__(self) -> int:
        return len(self._after)

    def stays(self) -> list[tuple[str, datetime, datetime | None]]:
        """:meth:`ProgrammeReplay.durations`, read off the columns without making a record
        per event (a summary of many programmes spent a fifth of its time making them)."""
        stays: list[tuple[str, datetime, datetime | None]] = []
        before = ""
        # an event the engine did not apply left the state as it was: no need to ask
        for row, state in zip(self._rows, self._after, strict=False):
            if row[6] == "start":
                stays.append((state, row[3], None))
            elif before != state and stays:
                entered_state, entered, _ = stays[-1]
                stays[-1] = (entered_state, entered, row[3])
                stays.append((state, row[3], None))
            before = state
        return stays

    @overload
    def __getitem__(self, index: int) -> EventRecord: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[EventRecord, ...]: ...
    def __getitem__(self, index: int | slice) -> EventRecord | tuple[EventRecord, ...]:
        return self._all()[index]

    def __iter__(self) -> Iterator[EventRecord]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EventRecords):
            return self._all() == other._all()
        if isinstance(other, tuple):
            return self._all() == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._all())

    def __repr__(self) -> str:
        return f"EventRecords({list(self._all())!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (EventRecords, (list(self._rows), list(self._after), dict(self._judged)))


@attrs.frozen
class ProgrammeReplay:
    """One programme's replay: where it ended, whether it completed, and each deviation.

    ``final`` is the engine's state (None if the history has no valid start); ``problems``
    are the bad lines that cut its history short.
    """

    programme: str
    definition: str | None
    state: str | None
    completed: bool
    ended: bool
    events: Sequence[EventRecord]
    deviations: tuple[Deviation, ...]
    problems: tuple[HistoryError, ...] = ()
    left_out: int = 0
    final: ProgrammeState | None = attrs.field(default=None, eq=False, repr=False)

    @property
    def conforming(self) -> bool:
        return not self.deviations and not self.problems

    def durations(self) -> list[tuple[str, datetime, datetime | None]]:
        """Each stay in a state: ``(state, entered, left)``; ``left`` is None if still there."""
        if type(self.events) is EventRecords:
            return self.events.stays()
        return _stays(self.events)

    def days_late(self) -> dict[str, int]:
        """The most days late of each late step (``submit report``: 3)."""
        late: dict[str, int] = {}
        for d in self.deviations:
            if d.kind == "late" and d.days is not None:
                late[d.step] = max(late.get(d.step, 0), d.days)
        return late

    def to_dict(self, events: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "programme": self.programme,
            "definition": self.definition,
            "state": self.state,
            "completed": self.completed,
            "ended": self.ended,
            "conforming": self.conforming,
            "deviations": [d.to_dict() for d in self.deviations],
            "durations": [
                {
                    "state": state,
                    "entered": entered.isoformat(),
                    "left": left.isoformat() if left else None,
                    "days": round((left - entered).total_seconds() / 86400, 3) if left else None,
                }
                for state, entered, left in self.durations()
            ],
            "days_late": self.days_late(),
            "problems": [p.to_dict() for p in self.problems],
            "left_out": self.left_out,
        }
        if events:
            out["events"] = [
                {
                    "seq": r.seq,
                    "at": r.at.isoformat(),
                    "type": r.type,
                    "step": r.step,
                    "actor": r.actor,
                    "role": r.role,
                    "before": r.before,
                    "after": r.after,
                    "applied": r.applied,
                    "deviations": list(r.deviations),
                }
                for r in self.events
            ]
        return out


def _stays(records: Iterable[EventRecord]) -> list[tuple[str, datetime, datetime | None]]:
    stays: list[tuple[str, datetime, datetime | None]] = []
    for record in records:
        if record.type == "start":
            stays.append((record.after, record.at, None))
        elif record.applied and record.before != record.after and stays:
            state, entered, _ = stays[-1]
            stays[-1] = (state, entered, record.at)
            stays.append((record.after, record.at, None))
    return stays


def _step_of(event: Event) -> str:
    return _step_name(event.type, event.payload)


def _step_name(kind: str, payload: Mapping[str, Any]) -> str:
    key = _NAME_KEYS.get(kind)
    if key is not None:
        return f"{kind} {payload.get(key)}"
    if kind == "waive":
        target = payload.get("step")
        if isinstance(target, dict):
            return f"waive {target.get('kind')} {target.get('name')}"
    if kind == "join":
        return f"join {payload.get('role')}"
    return kind  # start, claim, pay: the claim's id is in the detail


def _unknown_name(compiled: CompiledDefinition, event: Event) -> bool:
    key = _NAME_KEYS.get(event.type)
    if key is None:
        return False
    name = event.payload.get(key)
    names = {
        "fire": compiled.event_index,
        "submit": compiled.deliverable_index,
        "schedule": compiled.date_index,
    }[event.type]
    return not isinstance(name, str) or name not in names


def _working_days_between(first: date, last: date, country: str, subdivision: str | None) -> int:
    """Working days after ``first`` up to and including ``last``."""
    count, day = 0, first
    while day < last:
        day += timedelta(days=1)
        count += is_working_day(day, country, subdivision)
    return count


def _deviation(
    compiled: CompiledDefinition,
    st: ProgrammeState,
    event: Event,
    blocker: Blocker,
    step: str,
) -> Deviation:
    kind = _FROM_BLOCKER[blocker.kind]
    detail = blocker.describe()
    if isinstance(blocker, WindowClosed):
        last_day = local_date(blocker.closed_at - timedelta(microseconds=1), st.timezone)
        day = local_date(event.at, st.timezone)
        days = (day - last_day).days
        working = None
        bound = blocker.bound  # the engine's own, for this step from this state
        if bound is not None and bound.working_days:
            country = bound.country or st.country or compiled.type.country
            if country is not None:
                working = _working_days_between(last_day, day, country, bound.subdivision)
        return Deviation(event.seq, kind, step, detail, days, working)
    if isinstance(blocker, WindowNotOpen) and blocker.opens_at is not None:
        days = (local_date(blocker.opens_at, st.timezone) - local_date(event.at, st.timezone)).days
        return Deviation(event.seq, kind, step, detail, days)
    return Deviation(event.seq, kind, step, detail)


def replay_programme(
    events: Sequence[Event],
    definition: CompiledDefinition | None = None,
    *,
    until: datetime | None = None,
    problems: Sequence[HistoryError] = (),
    left_out: int = 0,
) -> ProgrammeReplay:
    """Replay one programme's history (in ``seq`` order) as an audit.

    ``until`` stops before the first event after that moment: the programme as it stood then.
    """
    if until is not None:
        _check_aware(until, "until")
        events = [e for e in events if e.at <= until]
    return _replay_rows([row_of(e) for e in events], definition, problems, left_out)


def _replay_rows(
    rows: Sequence[Row],
    definition: CompiledDefinition | None,
    problems: Sequence[HistoryError] = (),
    left_out: int = 0,
) -> ProgrammeReplay:
    run = _Run(definition)
    run.feed(rows)
    return run.result(rows, problems, left_out)


class _Run:
    """One programme's replay in progress, fed its rows in ``seq`` order in one go or several
    (replaying a file while it is read), with the same result either way."""

    __slots__ = (
        "after",
        "compiled",
        "definition",
        "deviations",
        "done",
        "fast",
        "invalid",
        "judged",
    )

    def __init__(self, definition: CompiledDefinition | None) -> None:
        self.definition = definition
        self.done = 0  # rows replayed so far
        self.invalid: Deviation | None = None  # a start the engine refused: nothing replays
        self.compiled: CompiledDefinition | None = None
        self.fast: FastFold | None = None
        self.after: list[str] = []  # the state after each event
        self.judged: dict[int, tuple[bool, tuple[str, ...]]] = {}  # the events the engine judged
        self.deviations: list[Deviation] = []

    def feed(self, rows: Sequence[Row]) -> None:
        """Replay ``rows[self.done:]`` (``rows`` is the programme's whole history so far)."""
        end = len(rows)
        if self.done >= end:
            return
        fast = self.fast
        if fast is None:
            if self.invalid is None and self._start(rows[0]):
                fast = self.fast
            if fast is None:
                self.done = end
                return
            index = 1
        else:
            index = self.done
        compiled, after, judged, deviations = (
            self.compiled,
            self.after,
            self.judged,
            self.deviations,
        )
        assert compiled is not None
        while True:
            index = fast.run(rows, index, after)
            if index >= end:
                break
            event = event_of(rows[index])
            st, applied, found = _audited(compiled, fast.state_now(), event, _step_of(event))
            fast.load(st)
            deviations.extend(found)
            after.append(st.state)
            judged[index] = (applied, tuple(d.kind for d in found))
            index += 1
        self.done = end

    def _start(self, row: Row) -> bool:
        first = event_of(row)
        try:
            compiled = self.definition if self.definition is not None else definition_of(first)
            st = compiled.start(first)
        except (EventError, LookupError) as exc:
            self.invalid = Deviation(first.seq, "invalid", _step_of(first), str(exc))
            return False
        self.compiled, self.fast = compiled, FastFold(compiled, st)
        self.after.append(st.state)
        return True

    def result(
        self, rows: Sequence[Row], problems: Sequence[HistoryError], left_out: int
    ) -> ProgrammeReplay:
        problems = tuple(problems)
        if self.fast is None or self.compiled is None:
            found = () if self.invalid is None else (self.invalid,)
            programme = rows[0][0] if rows else (problems[0].programme if problems else None)
            # nothing after a start that could not be applied replays: count it as left out
            left_out += max(len(rows) - 1, 0)
            return ProgrammeReplay(
                programme or "", None, None, False, False, (), found, problems, left_out
            )
        st, compiled = self.fast.state_now(), self.compiled
        return ProgrammeReplay(
            st.programme,
            compiled.id,
            st.state,
            st.state in compiled.completion_states,
            st.terminal,
            EventRecords(rows, self.after, self.judged),
            tuple(self.deviations),
            problems,
            left_out,
            st,
        )


def _audited(
    compiled: CompiledDefinition, st: ProgrammeState, event: Event, step: str
) -> tuple[ProgrammeState, bool, list[Deviation]]:
    """The engine's verdict on an event the fast path did not take: the state after it,
    whether it was applied, and its deviations."""
    found: list[Deviation] = []
    if _unknown_name(compiled, event):
        found.append(Deviation(event.seq, "unknown_event", step, f"'{compiled.id}' has no {step}"))
        return _skipped(st, event), False, found
    try:
        st, blockers = compiled.audit(st, event)
    except StepNotAvailable as exc:
        found.append(Deviation(event.seq, "impossible", step, exc.reason))
        return _skipped(st, event), False, found
    except EventError as exc:
        found.append(Deviation(event.seq, "invalid", step, exc.reason))
        return _skipped(st, event), False, found
    found.extend(_deviation(compiled, st, event, b, step) for b in blockers)
    if event.type == "waive":
        reason = event.payload.get("reason")
        kinds = ", ".join(str(k) for k in event.payload.get("blockers", []))
        waived = step[len("waive ") :]
        found.append(Deviation(event.seq, "waived", waived, f"waived {kinds}", reason=str(reason)))
    return st, True, found


def _skipped(st: ProgrammeState, event: Event) -> ProgrammeState:
    """The state after an event that could not be applied: unchanged, but one seq on."""
    return attrs.evolve(st, next_seq=st.next_seq + 1, last_at=max(st.last_at, event.at))


_Job = tuple[list[Row], list[HistoryError], int]


def _jobs(found: Histories) -> list[_Job]:
    problems: dict[str | None, list[HistoryError]] = {}
    for problem in found.problems:
        problems.setdefault(problem.programme, []).append(problem)
    return [
        (
            found.rows.get(programme, []),
            problems.get(programme, []),
            found.left_out.get(programme, 0),
        )
        for programme in found.programmes
    ]


def _replay_jobs(jobs: list[_Job], definition: CompiledDefinition | None) -> list[ProgrammeReplay]:
    with no_cyclic_gc():
        return [
            _replay_rows(rows, definition, problems, left_out) for rows, problems, left_out in jobs
        ]


def replay(
    histories: Histories | Iterable[Event],
    definition: CompiledDefinition | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> Replay:
    """Audit-replay every programme; ``definition`` defaults to the one each start names.

    ``progress(done, total)`` is called as programmes are replayed (for a progress bar).
    """
    found = histories if isinstance(histories, Histories) else histories_of(histories)
    jobs = _jobs(found)
    results = []
    with no_cyclic_gc():
        for done, (rows, problems, left_out) in enumerate(jobs, start=1):
            results.append(_replay_rows(rows, definition, problems, left_out))
            if progress is not None and (done % 500 == 0 or done == len(jobs)):
                progress(done, len(jobs))
    return _finished(results, found)


def replay_many(
    histories: Histories | Iterable[Event],
    definition: CompiledDefinition | None = None,
    *,
    executor: Executor | None = None,
    chunk_size: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> Replay:
    """:func:`replay`, with programmes sent in chunks to ``executor`` when one is given.

    Any :class:`concurrent.futures.Executor` will do: a ``ProcessPoolExecutor`` on one
    machine, or a cluster's (Dask's ``client.get_executor()``). Definitions travel as their
    text and are compiled once per worker. The result is the same as :func:`replay`'s.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be 1 or more, got {chunk_size}")
    found = histories if isinstance(histories, Histories) else histories_of(histories)
    if executor is None:
        return replay(found, definition, progress=progress)
    jobs = _jobs(found)
    chunks = [jobs[i : i + chunk_size] for i in range(0, len(jobs), chunk_size)]
    futures = [executor.submit(_replay_jobs, chunk, definition) for chunk in chunks]
    results: list[ProgrammeReplay] = []
    for future in futures:
        results.extend(future.result())
        if progress is not None:
            progress(len(results), len(jobs))
    return _finished(results, found)


def _check_aware(moment: object, name: str) -> None:
    """Events carry their offsets: a moment without one names no instant to compare with."""
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ValueError(
            f"{name} must be a datetime with a UTC offset, got {moment!r} "
            "(e.g. datetime(2027, 3, 1, tzinfo=UTC))"
        )


def _finished(results: list[ProgrammeReplay], found: Histories) -> Replay:
    unattributed = tuple(p for p in found.problems if p.programme is None)
    return Replay(tuple(results), unattributed, tuple(found.problems))


def state_at(
    events: Iterable[Event], when: datetime, definition: CompiledDefinition | None = None
) -> ProgrammeState | None:
    """The programme's state as it stood at ``when`` (None if it had not started)."""
    _check_aware(when, "when")
    return replay_programme(list(events), definition, until=when).final


@attrs.frozen
class Replay:
    """Every programme's replay, sorted by id, and the bad lines no programme could claim.

    ``bad_lines`` is every problem met while reading, in file and line order: those of
    ``problems`` and those each programme's ``problems`` holds.
    """

    programmes: tuple[ProgrammeReplay, ...]
    problems: tuple[HistoryError, ...] = ()
    bad_lines: tuple[HistoryError, ...] = ()

    def __iter__(self) -> Any:
        return iter(self.programmes)

    def __len__(self) -> int:
        return len(self.programmes)

    @property
    def not_started(self) -> tuple[ProgrammeReplay, ...]:
        """Programmes that could not be replayed at all: their start was refused (an unknown
        definition, a malformed start) or their history has no start."""
        return tuple(p for p in self.programmes if p.final is None)

    @property
    def ok(self) -> bool:
        """No bad line and every programme replayed: what a command's exit status 0 says."""
        return not self.bad_lines and not self.not_started
