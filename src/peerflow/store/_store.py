"""The programme store: events kept exactly once and in order, strict commands, many workers.

A portal runs many workers; two people act on one programme at once; a request is retried
after a timeout. The store keeps one table of events with a unique key on (programme, seq)
and on the event id, and a global position in commit order. Every write happens in one
transaction that first takes the programme's write lock, then reads the next seq it checks
against, so the check and the write cannot be separated by another writer: the loser of a
race gets :class:`ConcurrencyError` with the current next seq, and a retried event id is
recognised and not applied twice.

A strict command (:meth:`Store.record`) loads the programme's state inside that same
transaction (from the snapshot kept beside the events), applies the engine's strict checks,
and appends. Each programme keeps the exact text of the definition it started on (by digest),
so editing a definition file never silently changes a running programme.

Backends implement :class:`Backend`; :func:`open_store` picks one from a URL.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import attrs

from peerflow.engine._commands import (
    claim_payload,
    fire_payload,
    join_payload,
    pay_payload,
    schedule_payload,
    submit_payload,
    waive_payload,
)
from peerflow.engine._compiled import CompiledDefinition, compile_text
from peerflow.engine._payloads import require_json, start_event
from peerflow.engine._registry import definition_of
from peerflow.engine._state import ProgrammeState
from peerflow.engine._steps import Deadline, Step
from peerflow.events._envelope import Actor, Event, decode_line, event_from_json, id_problem
from peerflow.store._backend import (
    Backend,
    ConcurrencyError,
    EventIdTaken,
    NoSuchProgramme,
    ProgrammeRow,
    StoreError,
    Transaction,
)
from peerflow.store._defaults import DEFAULT_STORE
from peerflow.store._snapshot import dump_state, load_state
from peerflow.store._sqlite import SQLiteBackend


@attrs.frozen
class AgendaItem:
    """One thing due (or overdue) in one programme."""

    programme: str
    deadline: Deadline


class Store:
    """Programmes and their events in a database, written strictly and exactly once."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._definitions: dict[str, CompiledDefinition] = {}

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- writing ---------------------------------------------------------------------

    def start(
        self,
        definition: CompiledDefinition,
        programme: str,
        *,
        at: datetime,
        actor: Actor,
        participants: Iterable[tuple[str, str]],
        timezone: str | None = None,
        country: str | None = None,
        event_id: str | None = None,
    ) -> ProgrammeState:
        """Start a programme; a retried start (same event id) returns its state unchanged."""
        if not definition.source:
            raise StoreError(
                f"{definition!r} was compiled without its text; load it with "
                "peerflow.definition() or compile_text() so the store can keep it"
            )
        event = start_event(
            definition,
            programme,
            at=at,
            actor=actor,
            participants=participants,
            timezone=timezone,
            country=country,
            event_id=event_id,
        )
        return self.append([event], expected_next_seq=0, definition=definition)

    def record(
        self,
        programme: str,
        type: str,
        payload: Mapping[str, Any],
        *,
        at: datetime,
        actor: Actor,
        event_id: str | None = None,
        expected_next_seq: int | None = None,
    ) -> ProgrammeState:
        """Apply one event strictly and keep it, all in one transaction.

        ``expected_next_seq`` (the next seq the caller's decision was based on) turns a race
        into :class:`ConcurrencyError`; without it the event applies to whatever is current.
        A retried ``event_id`` returns the state after that event, unchanged.
        """
        event_id = str(uuid.uuid4()) if event_id is None else event_id
        _check_ids(programme, event_id)
        with self.backend.write(programme) as tx:
            row = self._row(tx, programme)
            done = tx.event_position(event_id)
            if done is not None:
                retry = Event(programme, done[1], event_id, at, actor, type, dict(payload))
                self._same_as_stored(retry, done)
                return self._retried(tx, row, done, event_id)
            if expected_next_seq is not None and expected_next_seq != row.next_seq:
                raise ConcurrencyError(programme, expected_next_seq, row.next_seq)
            state = self._state(row)
            event = Event(programme, row.next_seq, event_id, at, actor, type, dict(payload))
            after = state.definition.apply(state, event)
            tx.save_programme(_row_of(after, row.digest), new=False)
            _insert(tx, [event])
            return after

    def submit(
        self,
        programme: str,
        deliverable: str,
        *,
        at: datetime,
        actor: Actor,
        event_id: str | None = None,
        expected_next_seq: int | None = None,
        ref: str | None = None,
        **fields: Any,
    ) -> ProgrammeState:
        """Hand in a deliverable; ``content={...}`` for one with parts."""
        payload = submit_payload(deliverable, ref, **fields)
        return self.record(
            programme,
            "submit",
            payload,
            at=at,
            actor=actor,
            event_id=event_id,
            expected_next_seq=expected_next_seq,
        )

    def fire(
        self,
        programme: str,
        event: str,
        *,
        at: datetime,
        actor: Actor,
        event_id: str | None = None,
        expected_next_seq: int | None = None,
    ) -> ProgrammeState:
        """Take a step that moves the programme to its next state."""
        return self.record(
            programme,
            "fire",
            fire_payload(event),
            at=at,
            actor=actor,
            event_id=event_id,
            expected_next_seq=expected_next_seq,
        )

    def schedule(
        self,
        programme: str,
        date_name: str,
        value: date | str,
        *,
        at: datetime,
        actor: Actor,
        event_id: str | None = None,
        expected_next_seq: int | None = None,
    ) -> ProgrammeState:
        """Set a date: a ``date``, or ``"2027-02-01"``."""
        return self.record(
            programme,
            "schedule",
            schedule_payload(date_name, value),
            at=at,
            actor=actor,
            event_id=event_id,
            expected_next_seq=expected_next_seq,
        )

    def waive(
        self,
        programme: str,
        kind: str,
        step: str,
        blockers: Sequence[str],
        *,
        reason: str,
        at: datetime,
        actor: Actor,
        participant: str | None = None,
        event_id: str | None = None,
        expected_next_seq: int | None = None,
    ) -> ProgrammeState:
        """Lift blockers of a step of the current state, with the reason on record."""
        payload = waive_payload(kind, step, blockers, reason, participant)
        return self.record(
            programme,
            "waive",
            payload,
            at=at,
            actor=actor,
            event_id=event_id,
            expected_next_seq=expected_next_seq,
        )

    def join(
        self,
        programme: str,
        participant: str,
        role: str,
        *,
        at: datetime,
        actor: Actor,
        event_id: str | None = None,
        expected_next_seq: int | None = None,
    ) -> ProgrammeState:
        """Add ``participant`` in ``role``; ``actor`` is the participant or one who adds them."""
        return self.record(
            programme,
            "join",
            join_payload(participant, role),
            at=at,
            actor=actor,
            event_id=event_id,
            expected_next_seq=expected_next_seq,
        )

    def claim(
        self,
        programme: str,
        items: Sequence[Mapping[str, Any]],
        *,
        at: datetime,
        actor: Actor,
        claim: str | None = None,
        invoice_date: date | str | None = None,
        bank_details: str | None = None,
        accept_cap: bool = False,
        event_id: str | None = None,
        expected_next_seq: int | None = None,
    ) -> ProgrammeState:
        """Claim costs (see :meth:`peerflow.Programme.claim` for the items)."""
        payload = claim_payload(items, claim, invoice_date, bank_details, accept_cap)
        return self.record(
            programme,
            "claim",
            payload,
            at=at,
            actor=actor,
            event_id=event_id,
            expected_next_seq=expected_next_seq,
        )

    def pay(
        self,
        programme: str,
        claim: str,
        *,
        at: datetime,
        actor: Actor,
        amount: str | int | None = None,
        event_id: str | None = None,
        expected_next_seq: int | None = None,
    ) -> ProgrammeState:
        """Reimburse a claim; ``amount`` defaults to what it may be reimbursed."""
        return self.record(
            programme,
            "pay",
            pay_payload(claim, amount),
            at=at,
            actor=actor,
            event_id=event_id,
            expected_next_seq=expected_next_seq,
        )

    def append(
        self,
        events: Sequence[Event],
        *,
        expected_next_seq: int,
        definition: CompiledDefinition | None = None,
    ) -> ProgrammeState:
        """Append a batch of one programme's events, all or nothing, checked strictly.

        ``expected_next_seq`` is the programme's next seq before the batch (0 for a new one).
        A batch whose event ids are all stored already, at the same places, is a retry and
        changes nothing.
        """
        if not events:
            raise StoreError("nothing to append: the batch is empty")
        programme = events[0].programme
        if any(e.programme != programme for e in events):
            raise StoreError("a batch holds the events of one programme")
        for event in events:
            _check_ids(programme, event.id)
        with self.backend.write(programme) as tx:
            known = [tx.event_position(e.id) for e in events]
            for event, place in zip(events, known, strict=True):
                if place is not None:
                    self._same_as_stored(event, place)
            if all(k is not None for k in known):
                return self._state(self._row(tx, programme))
            if any(k is not None for k in known):
                first = next(e for e, k in zip(events, known, strict=True) if k is not None)
                raise EventIdTaken(
                    first.id,
                    f"event id '{first.id}' is already stored, but the batch holds new events "
                    "too: a retry repeats the whole batch",
                )
            row = tx.programme(programme)
            current = 0 if row is None else row.next_seq
            if current != expected_next_seq:
                raise ConcurrencyError(programme, expected_next_seq, current)
            if row is None:
                if events[0].type != "start":
                    raise NoSuchProgramme(programme, ": start it first")
                compiled = definition or definition_of(events[0])
                state = compiled.start(events[0])
                rest = events[1:]
                tx.save_definition(compiled.digest, compiled.id, compiled.version, compiled.source)
                digest = compiled.digest
            else:
                state, rest, digest = self._state(row), events, row.digest
            for event in rest:
                state = state.definition.apply(state, event)
            tx.save_programme(_row_of(state, digest), new=row is None)
            _insert(tx, events)
            return state

    # --- reading -----------------------------------------------------------------------

    def state(self, programme: str) -> ProgrammeState:
        _check_ids(programme)
        row = self.backend.programme(programme)
        if row is None:
            raise NoSuchProgramme(programme)
        return self._state(row)

    def events(self, programme: str, start: int = 0, stop: int | None = None) -> list[Event]:
        """The programme's events with ``start <= seq < stop``, in order."""
        _check_ids(programme)
        return [
            event_from_json(decode_line(b))
            for b in self.backend.read_events(programme, start, stop)
        ]

    def programmes(
        self, *, definition: str | None = None, state: str | None = None
    ) -> list[ProgrammeRow]:
        return [
            row
            for row in self.backend.programmes()
            if (definition is None or row.definition == definition)
            and (state is None or row.state == state)
        ]

    def next_steps(
        self,
        programme: str,
        at: datetime,
        actor: Actor | str | None = None,
        *,
        participation: bool = False,
    ) -> list[Step]:
        """What may happen next (see :meth:`CompiledDefinition.next_steps`)."""
        st = self.state(programme)
        return st.definition.next_steps(st, at, actor, participation=participation)

    def agenda(
        self,
        at: datetime | Callable[[str], datetime],
        within: timedelta,
        *,
        role: str | None = None,
    ) -> list[AgendaItem]:
        """What is overdue, and what falls due before ``at + within``, across live programmes.

        ``at`` may be a function of a programme's time zone, for a moment meant locally: "the
        end of 15 February" is a different instant in Brussels and in Lisbon. ``role`` keeps
        what waits for that role; a role no programme's definition has is an error listing
        the roles there are (a typo would otherwise show an empty agenda).
        """
        items = []
        roles: set[str] = set()
        for row in self.backend.programmes():
            st = self._state(row)
            roles.update(st.definition.role_names)
            if st.terminal:
                continue
            here = at if isinstance(at, datetime) else at(st.timezone)
            horizon = here + within
            for deadline in st.definition.deadlines(st, here):
                if deadline.due_at > horizon:
                    continue
                if role is not None and not _concerns(st, deadline, role):
                    continue
                items.append(AgendaItem(row.programme, deadline))
        if role is not None and roles and role not in roles:
            raise StoreError(
                f"no programme in the store has a role '{role}' (roles: {', '.join(sorted(roles))})"
            )
        items.sort(key=lambda i: (i.deadline.due_at, i.programme, i.deadline.name))
        return items

    def export(self, after: int = 0) -> Iterator[tuple[int, Event]]:
        """Every event in commit order (global position), from ``after`` on."""
        for position, body in self.backend.all_events(after):
            yield position, event_from_json(decode_line(body))

    # --- helpers -----------------------------------------------------------------------

    def _row(self, tx: Transaction, programme: str) -> ProgrammeRow:
        row = tx.programme(programme)
        if row is None:
            raise NoSuchProgramme(programme, ": start it first")
        return row

    def _same_as_stored(self, event: Event, place: tuple[str, int]) -> None:
        """A retry repeats what was written; an event id reused for anything else is an error.

        The moment may differ (a client retrying after a timeout may stamp it anew); the
        programme, place, type, actor and payload may not.
        """
        programme, seq = place
        bodies = self.backend.read_events(programme, seq, seq + 1)
        stored = event_from_json(decode_line(bodies[0])) if bodies else None
        differs = [
            name
            for name, mine, theirs in (
                ("programme", event.programme, programme),
                ("seq", event.seq, seq),
                ("type", event.type, stored and stored.type),
                ("actor", event.actor, stored and stored.actor),
                ("payload", _as_json(event.payload), stored and stored.payload),
            )
            if mine != theirs
        ]
        if differs:
            raise EventIdTaken(
                event.id,
                f"event id '{event.id}' is already stored (programme '{programme}', seq {seq}) "
                f"with a different {', '.join(differs)}: an event id names one event; "
                "use a new id for a new event",
            )

    def _retried(
        self, tx: Transaction, row: ProgrammeRow, done: tuple[str, int], event_id: str
    ) -> ProgrammeState:
        if done[0] != row.programme:
            raise EventIdTaken(
                event_id, f"event id '{event_id}' is already stored for another programme"
            )
        if done[1] == row.next_seq - 1:
            return self._state(row)
        events = self.events(row.programme, 0, done[1] + 1)
        definition = self._definition(row)
        return definition.fold(events)

    def _definition(self, row: ProgrammeRow) -> CompiledDefinition:
        known = self._definitions.get(row.digest)
        if known is not None:  # a digest names one text forever: no need to ask again
            return known
        text = self.backend.definition_text(row.digest)
        if text is None:
            raise StoreError(f"the definition text of programme '{row.programme}' is missing")
        compiled = compile_text(text, f"{row.definition} (stored)")
        self._definitions[row.digest] = compiled
        return compiled

    def _state(self, row: ProgrammeRow) -> ProgrammeState:
        return load_state(json.loads(row.snapshot), self._definition(row))


def _as_json(payload: Mapping[str, Any]) -> Any:
    """The payload as it reads back from the store (tuples become lists, and so on)."""
    try:
        return json.loads(json.dumps(dict(payload), allow_nan=False))
    except (TypeError, ValueError):
        return payload  # not JSON: differs from anything stored


def _check_ids(programme: str, event_id: str | None = None) -> None:
    """Ids are checked before the database sees them (PostgreSQL refuses NUL with an error
    of its own; a control character would be stored and forge lines in reports)."""
    for field, value in (("programme", programme), ("event id", event_id)):
        if value is None:
            continue
        problem = id_problem(value)
        if problem is not None:
            raise StoreError(f"{field} {problem}")


def _concerns(st: ProgrammeState, deadline: Deadline, role: str) -> bool:
    """Whether a deadline waits for ``role`` (directly, or through one of its participants)."""
    holders = set(st.holders((role,)))
    return role in deadline.owed_by or bool(holders & set(deadline.owed_by))


def _row_of(state: ProgrammeState, digest: str) -> ProgrammeRow:
    return ProgrammeRow(
        programme=state.programme,
        definition=state.definition.id,
        definition_version=state.definition.version,
        digest=digest,
        state=state.state,
        next_seq=state.next_seq,
        snapshot=json.dumps(dump_state(state), ensure_ascii=False),
    )


def _insert(tx: Transaction, events: Sequence[Event]) -> None:
    """Write the events; one whose payload is not JSON is found here, where it is
    serialised, and refused (leaving the transaction rolls everything back)."""
    try:
        tx.insert_events(events)
    except (TypeError, ValueError):
        for event in events:
            require_json(event.payload, event.seq)
        raise


def open_store(url: str | None = None, *, create: bool = True) -> Store:
    """A store from a URL: ``sqlite:///path/to/file`` or a plain path (SQLite), or
    ``postgresql://user@host/db`` (PostgreSQL, with the ``postgres`` extra).

    ``create=False`` opens a SQLite store only if its file exists (for reads: a mistyped
    path is an error, not a new empty store)."""
    url = url or DEFAULT_STORE
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from peerflow.store._postgres import PostgresBackend  # noqa: PLC0415 - an optional extra
        except ImportError:
            raise StoreError(
                "a PostgreSQL store needs the postgres extra: pip install 'peerflow[postgres]'"
            ) from None

        return Store(PostgresBackend(url))

    scheme = url.partition("://")[0] if "://" in url else None
    if scheme is not None and scheme != "sqlite":
        raise StoreError(
            f"no store for {scheme}:// URLs: use a file path, sqlite:///path or "
            "postgresql://user@host/db"
        )
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
    return Store(SQLiteBackend(path, create=create))
