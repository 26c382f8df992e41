"""The command line's store commands: new, submit, fire, schedule, waive, join, claim, pay,
agenda, import, export.

Each works on ``--db URL`` (default: ``peerflow.sqlite3`` in the current directory; or the
``PEERFLOW_DB`` environment variable), acts as the participant named by ``--by`` (their role is
looked up in the programme), at ``--at`` (default: now; the command line may read the clock,
the engine never does).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from peerflow.cli._moments import Resolve, parse_moment, shown
from peerflow.cli._progress import Progress
from peerflow.cli._render import (
    last_day,
    owed_text,
    owes_each,
    paint,
    print_status,
    status_text,
    terminal_width,
    use_colour,
    wrapped,
)
from peerflow.engine._commands import (
    claim_payload,
    fire_payload,
    join_payload,
    pay_payload,
    schedule_payload,
    submit_payload,
    waive_payload,
)
from peerflow.engine._compiled import CompiledDefinition
from peerflow.engine._registry import definition_or_file
from peerflow.engine._state import ProgrammeState
from peerflow.engine._steps import status_dict
from peerflow.events._envelope import Actor, decode_line, one_line
from peerflow.events._history import read_histories
from peerflow.model._calendar import local_date
from peerflow.model._source import read_yaml
from peerflow.store._backend import StoreError
from peerflow.store._defaults import DEFAULT_STORE
from peerflow.store._store import Store, open_store

EXIT_OK, EXIT_PROBLEMS = 0, 1


def store_of(args: argparse.Namespace, *, create: bool = True) -> Store:
    """The store the command works on; a command that only reads never creates one."""
    return open_store(args.db or os.environ.get("PEERFLOW_DB") or DEFAULT_STORE, create=create)


def moment(args: argparse.Namespace) -> Resolve:
    """``--at`` as typed, to be resolved in the programme's zone (default: now)."""
    now = datetime.now(UTC)
    return parse_moment(args.at, "--at", now) if args.at else lambda _zone: now


def actor_in(state: ProgrammeState, who: str) -> Actor:
    role = state.role_of(who)
    if role is None:
        people = ", ".join(f"{pid} ({r})" for pid, r in state.members())
        raise StoreError(
            f"'{who}' is not a participant of '{state.programme}' (participants: {people})"
        )
    return Actor(role, who)


def _report(state: ProgrammeState, at: datetime, as_json: bool) -> None:
    steps = state.definition.next_steps(state, at, participation=True)
    due = state.definition.deadlines(state, at)
    if as_json:
        print(json.dumps(status_dict(state, at, steps, due), indent=2, ensure_ascii=False))
    else:
        print(
            status_text(state, at, steps, due, use_colour(sys.stdout), terminal_width(sys.stdout))
        )


def cmd_new(args: argparse.Namespace) -> int:
    compiled = definition_or_file(args.definition)
    participants: list[tuple[str, str]] = []
    for text in args.participant:
        pid, _, role = text.partition(":")
        if not pid or not role:
            raise StoreError(f"--participant expects ID:ROLE, got {text!r}")
        participants.append((pid, role))
    roles = dict(participants)
    if args.by not in roles:
        raise StoreError(f"--by {args.by!r} must be one of the participants ({', '.join(roles)})")
    at = moment(args)(args.timezone or compiled.type.timezone)
    with store_of(args) as store:
        state = store.start(
            compiled,
            args.programme,
            at=at,
            actor=Actor(roles[args.by], args.by),
            participants=participants,
            timezone=args.timezone,
            country=args.country,
            event_id=args.event_id,
        )
    _report(state, at, args.json)
    return EXIT_OK


def _record(
    args: argparse.Namespace,
    kind: str,
    payload: dict[str, Any],
    actor: Actor | None = None,
    warn: Callable[[ProgrammeState], None] | None = None,
) -> int:
    """Record one event strictly; ``warn`` may point out what is allowed but likely a slip."""
    when = moment(args)
    with store_of(args, create=False) as store:
        current = store.state(args.programme)
        at = when(current.timezone)
        state = store.record(
            args.programme,
            kind,
            payload,
            at=at,
            actor=actor or actor_in(current, args.by),
            event_id=args.event_id,
            expected_next_seq=args.expect_next_seq,
        )
    if warn is not None:
        warn(state)
    _report(state, at, args.json)
    return EXIT_OK


MAX_INPUT_FILE = 1_000_000
"""The largest ``@FILE`` read for ``--content`` or ``--items`` (bytes): a form, not a dataset."""


def structured(text: str, option: str) -> Any:
    """``--content``/``--items``: inline JSON, or ``@FILE`` with JSON or YAML (.yaml, .yml)."""
    if not text.startswith("@"):
        try:
            return decode_line(text)
        except json.JSONDecodeError as exc:
            raise StoreError(
                f"{option} is not JSON: {exc.msg} (column {exc.colno}); "
                f"or give @FILE.json or @FILE.yaml"
            ) from None
        except ValueError as exc:  # a key twice, NaN, nested too deeply
            raise StoreError(f"{option}: {exc}") from None
    path = Path(text[1:])
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_INPUT_FILE + 1)
    except OSError as exc:
        raise StoreError(f"{option}: cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_INPUT_FILE:
        raise StoreError(f"{option}: {path} is over {MAX_INPUT_FILE:,} bytes")
    try:
        data = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StoreError(f"{option}: {path} is not UTF-8 text (byte {exc.start})") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        value, _, problems = read_yaml(data)
        if problems:
            raise StoreError(f"{option}: {path}:{problems[0].line}: {problems[0].message}")
        try:
            decode_line(json.dumps(value))  # the same limits and types as an event's payload
        except (TypeError, ValueError) as exc:
            raise StoreError(f"{option}: {path}: {exc}") from None
        return value
    try:
        return decode_line(data)
    except json.JSONDecodeError as exc:
        raise StoreError(f"{option}: {path}:{exc.lineno}: not JSON: {exc.msg}") from None
    except ValueError as exc:
        raise StoreError(f"{option}: {path}: {exc}") from None


def cmd_submit(args: argparse.Namespace) -> int:
    content = structured(args.content, "--content") if args.content else None
    return _record(args, "submit", submit_payload(args.deliverable, args.ref, content))


def cmd_waive(args: argparse.Namespace) -> int:
    payload = waive_payload(args.kind, args.step, args.blocker, args.reason, args.participant)
    return _record(args, "waive", payload)


def cmd_join(args: argparse.Namespace) -> int:
    """A participant joins; acting as themselves unless ``--by`` names who adds them."""
    payload = join_payload(args.participant, args.role)
    by = args.by or args.participant
    if by == args.participant:
        return _record(args, "join", payload, Actor(args.role, args.participant))
    return _record(args, "join", payload)


def _items(args: argparse.Namespace) -> list[dict[str, Any]]:
    """``--item NAME[:AMOUNT]`` with ``--receipt``, ``--days``, ``--nights`` NAME:VALUE, or
    all of it as ``--items JSON|@FILE``."""
    if args.items is not None:
        if args.item:
            raise StoreError("give the items either with --item or with --items, not both")
        items = structured(args.items, "--items")
        if not isinstance(items, list):
            raise StoreError("--items must be a list of {item, amount, receipts} objects")
        return items
    if not args.item:
        raise StoreError("say what is claimed: --item NAME:AMOUNT (repeat), or --items @FILE")
    found: dict[str, dict[str, Any]] = {}
    for text in args.item:
        name, _, amount = text.partition(":")
        if not name:
            raise StoreError(f"--item expects NAME or NAME:AMOUNT, got {text!r}")
        found[name] = {"item": name} | ({"amount": amount} if amount else {})
    for option, key in (("receipt", "receipts"), ("days", "days"), ("nights", "nights")):
        for text in getattr(args, option) or ():
            name, _, value = text.partition(":")
            if name not in found or not value:
                raise StoreError(
                    f"--{option} expects ITEM:VALUE for an item given with --item "
                    f"({', '.join(found)}), got {text!r}"
                )
            if key == "receipts":
                found[name].setdefault("receipts", []).append(value)
            elif value.isdigit():
                found[name][key] = int(value)
            else:
                raise StoreError(f"--{option} {text!r}: expected a whole number of {key}")
    return list(found.values())


def cmd_claim(args: argparse.Namespace) -> int:
    payload = claim_payload(
        _items(args), args.claim, args.invoice_date, args.bank_details, args.accept_cap
    )
    return _record(args, "claim", payload)


def cmd_pay(args: argparse.Namespace) -> int:
    return _record(args, "pay", pay_payload(args.claim, args.amount))


def cmd_fire(args: argparse.Namespace) -> int:
    return _record(args, "fire", fire_payload(args.event))


def cmd_schedule(args: argparse.Namespace) -> int:
    def in_the_past(state: ProgrammeState) -> None:
        day, today = state.scheduled_date(args.date), local_date(state.last_at, state.timezone)
        if day is not None and day < today:
            print(
                f"peerflow: warning: {args.date} is set to {day.isoformat()}, in the past "
                f"(it is {today.isoformat()} in {state.timezone}); recorded all the same",
                file=sys.stderr,
            )

    return _record(args, "schedule", schedule_payload(args.date, args.value), warn=in_the_past)


def cmd_agenda(args: argparse.Namespace) -> int:
    resolve = moment(args)  # a date is the end of that day in each programme's own zone
    with store_of(args, create=False) as store:
        items = store.agenda(resolve, args.within, role=args.role)
        types = {item.programme: store.state(item.programme).definition.type for item in items}
    if args.json:
        print(
            json.dumps(
                [{"programme": i.programme, **i.deadline.to_dict()} for i in items],
                indent=2,
                ensure_ascii=False,
            )
        )
        return EXIT_OK
    print(f"Agenda at {_typed_moment(args, resolve)}, {_span(args.within)} ahead: ", end="")
    print(f"{len(items)} item(s)")
    rows = []
    for item in items:
        d = item.deadline
        flag = (
            ("PAST ADV" if d.overdue else "advised")
            if d.advisory
            else ("OVERDUE" if d.overdue else "due")
        )
        owing = d.kind == "submit" and owes_each(types[item.programme], d.name)
        waiting = owed_text(d.owed_by, owing) if d.owed_by else ""
        rows.append((last_day(d.due_at), flag, item.programme, d.title, waiting))
    if rows:
        rows.insert(0, ("DUE BY", "STATUS", "PROGRAMME", "WHAT", "WAITING FOR"))
    colour = use_colour(sys.stdout)
    lines = [_aligned(row, rows, colour) for row in rows]
    for line in wrapped(lines, terminal_width(sys.stdout)):
        print(line)
    return EXIT_OK


def _aligned(row: tuple[str, ...], rows: Sequence[tuple[str, ...]], colour: bool) -> str:
    """One row of a table whose columns are as wide as their widest cell (the last is free)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(row) - 1)]
    cells = [
        paint(cell, colour) + " " * (width - len(cell))
        for cell, width in zip(row, widths, strict=False)
    ]
    return "  " + "  ".join([*cells, row[-1]]).rstrip()


def _typed_moment(args: argparse.Namespace, resolve: Resolve) -> str:
    """The moment as meant: one instant, or a local one in each programme's own zone."""
    if resolve("UTC") == resolve("Etc/GMT-14"):  # the same instant everywhere
        return shown(resolve(None), None)
    local = resolve("UTC").replace(tzinfo=None)
    when = f"end of {local:%Y-%m-%d}" if local.time() == time.max else f"{local:%Y-%m-%d %H:%M}"
    return f"{when} in each programme's zone"


def _span(within: timedelta) -> str:
    days, seconds = within.days, within.seconds
    if seconds == 0 and days % 7 == 0:
        return f"{days // 7} week(s)"
    return f"{days} day(s)" if seconds == 0 else f"{days * 24 + seconds // 3600} hour(s)"


def _given_definitions(files: list[str] | None) -> dict[tuple[str, int], CompiledDefinition]:
    """``--definition FILE`` (repeatable): own definitions, by the id and version they declare."""
    given: dict[tuple[str, int], CompiledDefinition] = {}
    for name in files or ():
        compiled = definition_or_file(name)
        given[compiled.id, compiled.version] = compiled
    return given


def cmd_import(args: argparse.Namespace) -> int:
    given = _given_definitions(args.definition)
    histories = read_histories(*args.files)
    for problem in histories.problems:
        print(one_line(problem), file=sys.stderr)
    imported = refused = 0
    progress = Progress(sys.stderr, "programmes")
    with store_of(args) as store:
        for done, programme in enumerate(histories.programmes):
            progress(done, len(histories.programmes))
            events = histories.events.get(programme, [])
            if not events or programme in histories.cut:
                refused += 1
                continue
            named, version = events[0].payload.get("definition"), events[0].payload.get("version")
            definition = (
                given.get((named, version))
                if isinstance(named, str) and isinstance(version, int)
                else None
            )  # an odd start is refused by the engine, with its field named
            try:
                store.append(events, expected_next_seq=0, definition=definition)
            except (StoreError, ValueError) as exc:
                refused += 1
                print(one_line(f"peerflow: {programme}: not imported: {exc}"), file=sys.stderr)
            else:
                imported += 1
    progress(len(histories.programmes), len(histories.programmes))
    print(f"imported {imported} programme(s); {refused} not imported")
    return EXIT_PROBLEMS if refused or histories.problems else EXIT_OK


def _write_definitions(store: Store, folder: str, programme: str | None) -> None:
    """Each definition the exported programmes run on, as ``ID-vVERSION.yaml``, so programmes
    on a definition of one's own can be imported elsewhere (``import --definition``)."""
    where = Path(folder)
    if where.exists() and not where.is_dir():
        raise StoreError(f"--definitions {folder}: not a folder (give a folder to write into)")
    where.mkdir(parents=True, exist_ok=True)
    written: set[str] = set()
    for row in store.programmes():
        if (programme is not None and row.programme != programme) or row.digest in written:
            continue  # one state loaded per definition, not per programme
        written.add(row.digest)
        compiled = store.state(row.programme).definition
        path = where / f"{compiled.id}-v{compiled.version}.yaml"
        if path.exists() and path.read_text(encoding="utf-8") != compiled.source:
            raise StoreError(f"{path} exists with other text: give an empty --definitions folder")
        path.write_text(compiled.source, encoding="utf-8")
        print(f"wrote {path}", file=sys.stderr)


def cmd_export(args: argparse.Namespace) -> int:
    with store_of(args, create=False) as store:
        if args.programme is not None:
            store.state(args.programme)  # an unknown programme is an error, not empty output
        if args.definitions is not None:
            _write_definitions(store, args.definitions, args.programme)
        out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
        try:
            for _, event in store.export():
                if args.programme is None or event.programme == args.programme:
                    out.write(event.to_line() + "\n")
        finally:
            if out is not sys.stdout:
                out.close()
    return EXIT_OK


def known_role(compiled: CompiledDefinition, role: str | None) -> None:
    """``--as ROLE`` names a role of the definition; a typo is an error listing them."""
    if role is not None and role not in compiled.role_index:
        raise StoreError(
            f"--as {role!r} is not a role of '{compiled.id}' "
            f"(roles: {', '.join(compiled.role_names)})"
        )


def next_in_store(args: argparse.Namespace, when: Resolve) -> int:
    """``peerflow next PROGRAMME``: the programme as the store has it."""
    with store_of(args, create=False) as store:
        state = store.state(args.history)
    known_role(state.definition, args.role)
    at = when(state.timezone)
    print_status(state, at, args.role, as_json=args.json, forecast=args.forecast)
    return EXIT_OK


def cmd_calendar(args: argparse.Namespace) -> int:
    """A programme's (or a participant's) dates and deadlines as an .ics file."""
    try:
        import icalendar  # noqa: F401, PLC0415 - an optional extra
    except ImportError:
        raise StoreError(
            "calendars need the calendar extra: pip install 'peerflow[calendar]'"
        ) from None
    from peerflow._ics import ics, participant_items, programme_items  # noqa: PLC0415

    if (args.programme is None) == (args.participant is None):
        raise StoreError("give a PROGRAMME or --participant ID (one of them)")
    resolve = moment(args)
    with store_of(args, create=False) as store:
        if args.programme is not None:
            state = store.state(args.programme)
            at = resolve(state.timezone)
            items = programme_items(store.events(args.programme), at)
            name = args.programme
        else:
            at = resolve("UTC")
            name = args.participant
            found = participant_items(
                (store.state(r.programme) for r in store.programmes()),
                store.events,
                args.participant,
                at,
            )
            if found is None:
                raise StoreError(f"'{args.participant}' takes part in no programme of the store")
            items = found
    data = ics(name, items, at)
    if args.output:
        Path(args.output).write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    return EXIT_OK
