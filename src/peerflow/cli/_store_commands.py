"""The command line's store commands: new, submit, fire, schedule, agenda, import, export.

Each works on ``--db URL`` (default: ``peerflow.sqlite3`` in the current directory; or the
``PEERFLOW_DB`` environment variable), acts as the participant named by ``--by`` (their role is
looked up in the programme), at ``--at`` (default: now; the command line may read the clock,
the engine never does).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from peerflow.cli._render import status_json, status_text
from peerflow.engine._registry import definition_or_file
from peerflow.engine._state import ProgrammeState
from peerflow.events._envelope import Actor, decode_line, one_line, parse_timestamp
from peerflow.events._history import read_histories
from peerflow.store._backend import StoreError
from peerflow.store._store import DEFAULT_STORE, Store, open_store

EXIT_OK, EXIT_PROBLEMS = 0, 1

_DURATION = re.compile(r"^(\d+)([dwh])$")


_LONGEST = timedelta(days=100 * 366)


def duration(text: str) -> timedelta:
    """``14d``, ``2w`` or ``36h``, for ``--within``: at most a hundred years."""
    found = _DURATION.match(text.strip())
    if found is None:
        raise argparse.ArgumentTypeError(f"expected a duration like 14d, 2w or 36h, got {text!r}")
    amount, unit = int(found.group(1)), found.group(2)
    hours = amount * {"d": 24, "w": 24 * 7, "h": 1}[unit]
    if hours > _LONGEST.days * 24:
        raise argparse.ArgumentTypeError(f"{text!r} is too far ahead: at most 100 years")
    return timedelta(hours=hours)


def store_of(args: argparse.Namespace, *, create: bool = True) -> Store:
    """The store the command works on; a command that only reads never creates one."""
    return open_store(args.db or os.environ.get("PEERFLOW_DB") or DEFAULT_STORE, create=create)


def moment(args: argparse.Namespace) -> datetime:
    return parse_timestamp(args.at, "--at") if args.at else datetime.now(UTC).astimezone()


def actor_in(state: ProgrammeState, who: str) -> Actor:
    role = state.role_of(who)
    if role is None:
        people = ", ".join(f"{pid} ({r})" for pid, r in state.members())
        raise StoreError(
            f"'{who}' is not a participant of '{state.programme}' (participants: {people})"
        )
    return Actor(role, who)


def _report(state: ProgrammeState, at: datetime, as_json: bool) -> None:
    steps = state.definition.next_steps(state, at)
    due = state.definition.deadlines(state, at)
    if as_json:
        print(json.dumps(status_json(state, at, steps, due), indent=2, ensure_ascii=False))
    else:
        print(status_text(state, at, steps, due))


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
    at = moment(args)
    with store_of(args) as store:
        state = store.start(
            compiled,
            args.programme,
            at=at,
            actor=Actor(roles[args.by], args.by),
            participants=participants,
            timezone=args.timezone,
            country=args.country,
        )
    _report(state, at, args.json)
    return EXIT_OK


def _record(args: argparse.Namespace, kind: str, payload: dict[str, Any]) -> int:
    at = moment(args)
    with store_of(args) as store:
        current = store.state(args.programme)
        state = store.record(
            args.programme,
            kind,
            payload,
            at=at,
            actor=actor_in(current, args.by),
            event_id=args.event_id,
            expected_next_seq=args.expect_next_seq,
        )
    _report(state, at, args.json)
    return EXIT_OK


def cmd_submit(args: argparse.Namespace) -> int:
    payload: dict[str, Any] = {"deliverable": args.deliverable}
    if args.ref:
        payload["ref"] = args.ref
    if args.content:
        try:
            payload["content"] = decode_line(args.content)
        except json.JSONDecodeError as exc:
            raise StoreError(f"--content is not JSON: {exc.msg} (column {exc.colno})") from None
        except ValueError as exc:  # a key twice, NaN, nested too deeply
            raise StoreError(f"--content: {exc}") from None
    return _record(args, "submit", payload)


def cmd_fire(args: argparse.Namespace) -> int:
    return _record(args, "fire", {"event": args.event})


def cmd_schedule(args: argparse.Namespace) -> int:
    return _record(args, "schedule", {"date": args.date, "value": args.value})


def cmd_agenda(args: argparse.Namespace) -> int:
    at = moment(args)
    with store_of(args, create=False) as store:
        items = store.agenda(at, args.within, role=args.role)
    if args.json:
        print(
            json.dumps(
                [{"programme": i.programme, **i.deadline.to_dict()} for i in items],
                indent=2,
                ensure_ascii=False,
            )
        )
        return EXIT_OK
    horizon = at + args.within
    print(f"Agenda at {at.isoformat()}, due by {horizon.isoformat()}: {len(items)} item(s)")
    for item in items:
        d = item.deadline
        flag = (
            ("PAST ADV" if d.overdue else "advised")
            if d.advisory
            else ("OVERDUE" if d.overdue else "due")
        )
        waiting = f"; waiting for {', '.join(d.owed_by)}" if d.owed_by else ""
        print(f"  {d.due_at:%Y-%m-%d %H:%M}  {flag:<7}  {item.programme}: {d.title}{waiting}")
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    histories = read_histories(*args.files)
    for problem in histories.problems:
        print(one_line(problem), file=sys.stderr)
    imported = refused = 0
    with store_of(args) as store:
        for programme in histories.programmes:
            events = histories.events.get(programme, [])
            if not events or programme in histories.cut:
                refused += 1
                continue
            try:
                store.append(events, expected_next_seq=0)
            except (StoreError, ValueError) as exc:
                refused += 1
                print(one_line(f"peerflow: {programme}: not imported: {exc}"), file=sys.stderr)
            else:
                imported += 1
    print(f"imported {imported} programme(s); {refused} not imported")
    return EXIT_PROBLEMS if refused or histories.problems else EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    with store_of(args, create=False) as store:
        if args.programme is not None:
            store.state(args.programme)  # an unknown programme is an error, not empty output
        out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
        try:
            for _, event in store.export():
                if args.programme is None or event.programme == args.programme:
                    out.write(event.to_line() + "\n")
        finally:
            if out is not sys.stdout:
                out.close()
    return EXIT_OK


def _db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        metavar="URL",
        help=f"store: a SQLite file or postgresql://... (default: $PEERFLOW_DB or {DEFAULT_STORE})",
    )


def _common(p: argparse.ArgumentParser, *, acting: bool = True) -> None:
    _db_option(p)
    p.add_argument("--at", metavar="ISO-DATETIME", help="when, with offset (default: now)")
    if acting:
        p.add_argument("--by", required=True, metavar="ID", help="the participant acting")
        p.add_argument("--event-id", metavar="ID", help="an id that makes a retry a no-op")
        p.add_argument(
            "--expect-next-seq",
            "--expect-version",  # its first name, kept for scripts that use it
            dest="expect_next_seq",
            type=int,
            metavar="N",
            help="refuse (exit 1) unless the programme's next seq is still N (see its --json)",
        )
    p.add_argument("--json", action="store_true", help="print JSON")


def add_store_commands(sub: Any) -> None:
    p = sub.add_parser("new", help="start a programme in the store")
    p.add_argument("definition", metavar="ID|FILE")
    p.add_argument("programme", metavar="PROGRAMME")
    p.add_argument(
        "--participant", "-p", action="append", required=True, metavar="ID:ROLE", help="repeat"
    )
    p.add_argument("--timezone", metavar="ZONE", help="the programme's time zone")
    p.add_argument("--country", metavar="CC", help="holiday calendar for working days")
    _common(p)
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("submit", help="record a deliverable (strictly)")
    p.add_argument("programme", metavar="PROGRAMME")
    p.add_argument("deliverable", metavar="DELIVERABLE")
    p.add_argument("--ref", metavar="REF", help="a reference or URL to the document")
    p.add_argument("--content", metavar="JSON", help="structured content, as JSON")
    _common(p)
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("fire", help="take a step (strictly)")
    p.add_argument("programme", metavar="PROGRAMME")
    p.add_argument("event", metavar="EVENT")
    _common(p)
    p.set_defaults(func=cmd_fire)

    p = sub.add_parser("schedule", help="set a date (strictly)")
    p.add_argument("programme", metavar="PROGRAMME")
    p.add_argument("date", metavar="DATE-NAME")
    p.add_argument("value", metavar="YYYY-MM-DD")
    _common(p)
    p.set_defaults(func=cmd_schedule)

    p = sub.add_parser("agenda", help="what is due and overdue across the store's programmes")
    p.add_argument("--within", type=duration, default=timedelta(days=14), metavar="14d|2w|36h")
    p.add_argument("--as", dest="role", metavar="ROLE", help="only what waits for this role")
    _common(p, acting=False)
    p.set_defaults(func=cmd_agenda)

    p = sub.add_parser("import", help="load JSON Lines histories into the store (strictly)")
    p.add_argument("files", nargs="+", metavar="FILE.jsonl")
    _db_option(p)
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("export", help="write the store's events as JSON Lines, in commit order")
    p.add_argument("--programme", metavar="ID", help="only this programme")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    _db_option(p)
    p.set_defaults(func=cmd_export)


def next_in_store(args: argparse.Namespace, at: datetime) -> int:
    """``peerflow next PROGRAMME``: the programme as the store has it."""
    with store_of(args, create=False) as store:
        state = store.state(args.history)
    steps = state.definition.next_steps(state, at, args.role)
    due = state.definition.deadlines(state, at)
    if args.json:
        print(json.dumps(status_json(state, at, steps, due), indent=2, ensure_ascii=False))
    else:
        print(status_text(state, at, steps, due))
    return EXIT_OK
