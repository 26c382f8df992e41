"""The command line's grammar: every command, option and help text, and nothing else.

It imports no engine, store or loader, so ``peerflow --help`` (and a mistyped option) answers
at once; each command's module is imported only when that command runs (``func`` names it).
"""

from __future__ import annotations

import argparse

from peerflow import __version__
from peerflow.store._defaults import DEFAULT_STORE

_TYPE_CHECKING = False  # True for mypy; typing, datetime: 3 ms of a 25 ms --help

if _TYPE_CHECKING:
    from datetime import timedelta
    from typing import Any


def duration(text: str) -> timedelta:
    """``--within``: ``14d``, ``2w`` or ``36h``."""
    from peerflow.cli._moments import parse_duration  # noqa: PLC0415 - not for --help

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _at_least_one(text: str) -> int:
    try:
        value = int(text) if len(text) <= 9 else 0  # 5,000 digits never reach int()
    except ValueError:
        value = 0
    if value < 1:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise argparse.ArgumentTypeError(f"expected a whole number 1 or more, got {shown!r}")
    return value


MAX_JOBS = 64
"""The most processes ``-j`` starts: more than a machine's cores only slows a replay down."""


def _jobs(text: str) -> int:
    value = _at_least_one(text)
    if value > MAX_JOBS:
        raise argparse.ArgumentTypeError(f"at most {MAX_JOBS} processes, got {value:,}")
    return value


def _port(text: str) -> int:
    value = int(text) if text.isdecimal() and len(text) <= 5 else -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0 to 65535, got {text[:40]!r}")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {text!r}")
    return value


def _db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--db",
        metavar="URL",
        help=f"store: a SQLite file or postgresql://... (default: $PEERFLOW_DB or {DEFAULT_STORE})",
    )


def _common(p: argparse.ArgumentParser, *, acting: bool = True, by_required: bool = True) -> None:
    _db_option(p)
    p.add_argument(
        "--at",
        metavar="WHEN",
        help="a date (the end of that day in the programme's zone), a date and time "
        "(2027-02-15T10:00, +01:00 optional), or now, today, +14d, --at=-2w (default: now)",
    )
    if acting:
        p.add_argument("--by", required=by_required, metavar="ID", help="the participant acting")
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
    p.add_argument("definition", metavar="ID|FILE", help="a built-in id or a definition file")
    p.add_argument("programme", metavar="PROGRAMME", help="an id for the new programme")
    p.add_argument(
        "--participant",
        "-p",
        action="append",
        required=True,
        metavar="ID:ROLE",
        help="a participant and the role they take (repeat for each)",
    )
    p.add_argument("--timezone", metavar="ZONE", help="the programme's time zone")
    p.add_argument("--country", metavar="CC", help="holiday calendar for working days")
    _common(p)
    p.set_defaults(func="_store_commands:cmd_new")

    p = sub.add_parser("submit", help="record a deliverable (strictly)")
    p.add_argument("programme", metavar="PROGRAMME", help="the programme's id in the store")
    p.add_argument("deliverable", metavar="DELIVERABLE", help="what is handed in")
    p.add_argument("--ref", metavar="REF", help="a reference or URL to the document")
    p.add_argument(
        "--content",
        metavar="JSON|@FILE",
        help="structured content: inline JSON, or @FILE.json / @FILE.yaml",
    )
    _common(p)
    p.set_defaults(func="_store_commands:cmd_submit")

    p = sub.add_parser("fire", help="take a step (strictly)")
    p.add_argument("programme", metavar="PROGRAMME", help="the programme's id in the store")
    p.add_argument("event", metavar="EVENT", help="the step to take (see peerflow next)")
    _common(p)
    p.set_defaults(func="_store_commands:cmd_fire")

    p = sub.add_parser("schedule", help="set a date (strictly)")
    p.add_argument("programme", metavar="PROGRAMME", help="the programme's id in the store")
    p.add_argument("date", metavar="DATE-NAME", help="which date (see peerflow show)")
    p.add_argument("value", metavar="YYYY-MM-DD", help="the day it is set to")
    _common(p)
    p.set_defaults(func="_store_commands:cmd_schedule")

    p = sub.add_parser(
        "waive",
        help="lift blockers of a step, with the reason on record (by whoever the definition lets)",
    )
    p.add_argument("programme", metavar="PROGRAMME", help="the programme's id in the store")
    p.add_argument("kind", choices=["fire", "submit", "schedule", "join"], help="the step's kind")
    p.add_argument("step", metavar="STEP", help="the step's name (for a join: the role)")
    p.add_argument(
        "--blocker",
        action="append",
        required=True,
        metavar="KIND",
        help="a blocker kind to lift (repeat), as refusals name them: window_closed, "
        "window_not_open, missing_deliverable, ...; an unwaivable one is refused with the list",
    )
    p.add_argument("--reason", required=True, help="why: kept with the waiver")
    p.add_argument(
        "--for", dest="participant", metavar="ID", help="only for this participant's step"
    )
    _common(p)
    p.set_defaults(func="_store_commands:cmd_waive")

    p = sub.add_parser(
        "join",
        help="add a participant in a role that joins after the start",
    )
    p.add_argument("programme", metavar="PROGRAMME", help="the programme's id in the store")
    p.add_argument("participant", metavar="PARTICIPANT", help="the id of who joins")
    p.add_argument("role", metavar="ROLE", help="the role they join in")
    _common(p, by_required=False)
    p.set_defaults(func="_store_commands:cmd_join")

    p = sub.add_parser(
        "claim",
        help="claim costs against the programme's budget",
    )
    p.add_argument("programme", metavar="PROGRAMME", help="the programme's id in the store")
    p.add_argument("--item", action="append", metavar="NAME[:AMOUNT]", help="a cost item (repeat)")
    p.add_argument("--receipt", action="append", metavar="ITEM:REF", help="a receipt (repeat)")
    p.add_argument("--days", action="append", metavar="ITEM:N", help="days of a per-day item")
    p.add_argument("--nights", action="append", metavar="ITEM:N", help="nights of an item")
    p.add_argument("--items", metavar="JSON|@FILE", help="all items as JSON, or a JSON/YAML file")
    p.add_argument("--claim", metavar="ID", help="the claim's id (default: claim-SEQ)")
    p.add_argument("--invoice-date", metavar="YYYY-MM-DD", help="default: the day of --at")
    p.add_argument("--bank-details", metavar="TEXT", help="where the budget requires them")
    p.add_argument("--accept-cap", action="store_true", help="take a claim over its cap at the cap")
    _common(p)
    p.set_defaults(func="_store_commands:cmd_claim")

    p = sub.add_parser("pay", help="reimburse a claim")
    p.add_argument("programme", metavar="PROGRAMME", help="the programme's id in the store")
    p.add_argument("claim", metavar="CLAIM", help="the claim's id")
    p.add_argument("--amount", metavar="AMOUNT", help="default: what the claim may be paid")
    _common(p)
    p.set_defaults(func="_store_commands:cmd_pay")

    p = sub.add_parser("agenda", help="what is due and overdue across the store's programmes")
    p.add_argument(
        "--within",
        type=duration,
        default="14d",  # argparse reads a text default through ``type``
        metavar="14d|2w|36h",
        help="how far ahead to look (default: 14d)",
    )
    p.add_argument("--as", dest="role", metavar="ROLE", help="only what waits for this role")
    _common(p, acting=False)
    p.set_defaults(func="_store_commands:cmd_agenda")

    p = sub.add_parser("import", help="load JSON Lines histories into the store (strictly)")
    p.add_argument("files", nargs="+", metavar="FILE.jsonl", help="JSON Lines histories")
    p.add_argument(
        "--definition",
        action="append",
        metavar="FILE",
        help="a definition of your own that programmes started on (repeat); matched by the "
        "id and version their start event names",
    )
    _db_option(p)
    p.set_defaults(func="_store_commands:cmd_import")

    p = sub.add_parser("calendar", help="write a programme's dates and deadlines as iCalendar")
    p.add_argument("programme", nargs="?", metavar="PROGRAMME", help="the programme's id")
    p.add_argument(
        "--participant", metavar="ID", help="instead: this participant's across the store"
    )
    p.add_argument("-o", "--output", metavar="FILE.ics", help="write here, not to standard output")
    p.add_argument("--at", metavar="WHEN", help="as the feed stands at this moment (default: now)")
    _db_option(p)
    p.set_defaults(func="_store_commands:cmd_calendar")

    p = sub.add_parser("export", help="write the store's events as JSON Lines, in commit order")
    p.add_argument("--programme", metavar="ID", help="only this programme")
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    p.add_argument(
        "--definitions",
        metavar="DIR",
        help="also write each definition the programmes run on to DIR (ID-vVERSION.yaml)",
    )
    _db_option(p)
    p.set_defaults(func="_store_commands:cmd_export")


EXAMPLES = {
    "serve": [
        "peerflow serve",
        "peerflow serve --db postgresql://peerflow@db/peerflow --port 8080",
        "peerflow serve --config portals.toml --host 0.0.0.0",
        "peerflow serve --openapi",
        "peerflow serve --sign-in anna",
    ],
    "definitions": ["peerflow definitions", "peerflow definitions --json"],
    "show": [
        "peerflow show prospect-peer-mentoring",
        "peerflow show my-programme.yaml --format mermaid",
    ],
    "template": [
        "peerflow template prospect-peer-mentoring learning_plan -o learning_plan.yaml",
    ],
    "validate": ["peerflow validate definitions/*.yaml"],
    "next": [
        "peerflow next ghent-2027",
        "peerflow next ghent-2027 --at 2027-02-15 --as mentee",
        "peerflow next history.jsonl --at today --json",
        "peerflow next ghent-2027 --forecast",
    ],
    "check": ["peerflow check my-programme.yaml --max-seconds 60"],
    "replay": [
        "peerflow replay histories/*.jsonl --summary",
        "peerflow replay histories.jsonl --format csv -o events.csv",
        "peerflow replay histories.jsonl --format parquet -o tables/",
        "peerflow replay histories.jsonl --format ocel -o log.jsonocel",
    ],
    "new": [
        "peerflow new prospect-peer-mentoring ghent-2027 -p anna:facilitator -p lena:mentor "
        "-p rui:mentee -p fin:finance_coordinator --by anna",
    ],
    "submit": [
        "peerflow submit ghent-2027 peer_learning_agreement --ref agreements/lena.pdf --by lena",
        "peerflow submit ghent-2027 learning_plan --content @learning_plan.yaml --by lena",
    ],
    "fire": ["peerflow fire ghent-2027 hold_orientation --by anna --expect-next-seq 7"],
    "schedule": ["peerflow schedule ghent-2027 orientation_date 2027-02-01 --by anna"],
    "waive": [
        "peerflow waive ghent-2027 submit learning_needs --blocker window_closed "
        "--reason 'ill; agreed to 17 Feb' --for rui --by anna",
    ],
    "join": [
        "peerflow join mia-pp-2016 peer-genova peer",
        "peerflow join mia-tu-2016 tutor-genova tutor --by zagreb-agency",
    ],
    "claim": [
        "peerflow claim ghent-2027 --item travel:540.00 --receipt travel:flight.pdf "
        "--bank-details 'PT50 0002 0123' --by rui",
        "peerflow claim ghent-2027 --items @claim.yaml --by lena",
    ],
    "pay": ["peerflow pay ghent-2027 rui-travel --by fin"],
    "agenda": ["peerflow agenda --within 2w --as facilitator", "peerflow agenda --at 2027-04-01"],
    "import": ["peerflow import events.jsonl --definition defs/my-programme-v1.yaml"],
    "export": ["peerflow export -o events.jsonl --definitions defs/"],
    "calendar": [
        "peerflow calendar ghent-2027 -o ghent-2027.ics",
        "peerflow calendar --participant porto -o porto.ics",
    ],
    "demo": ["peerflow demo", "peerflow demo --definition sc-site-visit --db demo.sqlite3"],
}
"""Shown under each command's --help (and each parsed by tests/test_cli_help.py)."""


class _Unused:
    """Stands in for a command's parser when another command was named: its options are
    never read, so they are not built (``peerflow --help`` lists commands, not options)."""

    def add_argument(self, *_: Any, **__: Any) -> None:
        return None

    def set_defaults(self, **_: Any) -> None:
        return None


class _Commands:
    """The sub-parsers, built in full only for the command named (``only``; all if None)."""

    def __init__(self, sub: Any, only: str | None) -> None:
        self.sub = sub
        self.only = only

    def add_parser(self, name: str, **options: Any) -> Any:
        if self.only is None or name == self.only:
            return self.sub.add_parser(name, **options)
        self.sub.add_parser(name, help=options.get("help"))
        return _Unused()

    @property
    def choices(self) -> dict[str, argparse.ArgumentParser]:
        return dict(self.sub.choices)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole grammar; with ``only``, the options of that command alone (the others keep
    their name and help line; a word that is no command builds none), which is all a
    command line naming it needs."""
    parser = argparse.ArgumentParser(
        prog="peerflow",
        description="Run peer-learning programmes as declarative state machines.",
    )
    parser.add_argument("--version", action="version", version=f"peerflow {__version__}")
    sub = _Commands(
        parser.add_subparsers(dest="command", metavar="COMMAND", required=True),
        only,
    )

    p = sub.add_parser("definitions", help="list the built-in programme types")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func="_main:cmd_definitions")

    p = sub.add_parser("show", help="show a definition (built-in id or file)")
    p.add_argument("definition", metavar="ID|FILE", help="a built-in id or a definition file")
    p.add_argument(
        "--format",
        choices=("text", "json", "mermaid", "markdown"),
        default="text",
        help="text (default), json, a mermaid state diagram, or the markdown programme page",
    )
    p.set_defaults(func="_main:cmd_show")

    p = sub.add_parser(
        "template",
        help="write an empty content file for a deliverable with parts, to fill in",
    )
    p.add_argument("definition", metavar="ID|FILE", help="the programme type")
    p.add_argument("deliverable", metavar="DELIVERABLE", help="a deliverable with parts")
    p.add_argument("--format", choices=("yaml", "json"), default="yaml", help="default: yaml")
    p.add_argument(
        "-o", "--output", metavar="FILE", help="write here (never over an existing file)"
    )
    p.set_defaults(func="_main:cmd_template")

    p = sub.add_parser("validate", help="check definition files; exit 1 on problems")
    p.add_argument("files", nargs="+", metavar="FILE", help="definition files (YAML)")
    p.add_argument("-q", "--quiet", action="store_true", help="print problems only")
    p.set_defaults(func="_main:cmd_validate")

    p = sub.add_parser("next", help="what may happen next in a programme, and what is due")
    p.add_argument(
        "history", metavar="HISTORY.jsonl|PROGRAMME", help="a history file, or a programme in --db"
    )
    p.add_argument("--programme", metavar="ID", help="which programme, if the file holds several")
    p.add_argument(
        "--db",
        metavar="URL",
        help="the store, for a PROGRAMME (default: $PEERFLOW_DB or peerflow.sqlite3)",
    )
    p.add_argument(
        "--at",
        metavar="DATE|DATETIME",
        help="the moment to ask about: a date (the end of that day in the programme's zone), "
        "a date and time, or now, today, tomorrow, +14d, --at=-2w (default: now)",
    )
    p.add_argument("--as", dest="role", metavar="ROLE", help="check the steps for this role")
    p.add_argument(
        "--definition",
        metavar="ID|FILE",
        help="definition to use (default: the one the start event names)",
    )
    p.add_argument(
        "--forecast",
        action="store_true",
        help="add when each remaining step can still happen and whether the programme can "
        "finish in time (a search over its windows; see docs/forecast.md)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func="_main:cmd_next")

    p = sub.add_parser("check", help="explore every path of a definition and run the model checks")
    p.add_argument("definition", metavar="ID|FILE", help="a built-in id or a definition file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--max-nodes",
        type=_at_least_one,
        default=50_000,
        metavar="N",
        help="stop exploring after N nodes (default 50000); the report says if it did",
    )
    p.add_argument(
        "--max-seconds",
        type=_positive_seconds,
        default=20.0,
        metavar="S",
        help="stop exploring after S seconds (default 20); the report says if it did",
    )
    p.set_defaults(func="_main:cmd_check")

    p = sub.add_parser(
        "replay",
        help="audit-replay histories: deviations, completion, exports",
        description="Replay JSON Lines histories (any number of programmes per file) as an\n"
        "audit: every deviation by kind and seq; bad lines are reported on standard error\n"
        "and the other programmes replay. Exits 1 if any line was bad.",
    )
    p.add_argument("files", nargs="+", metavar="FILE.jsonl", help="JSON Lines histories")
    p.add_argument(
        "--format",
        choices=("text", "json", "csv", "xes", "ocel", "parquet"),
        default="text",
        help="text (default), json, csv (a row per event), xes (IEEE 1849 event log), ocel "
        "(OCEL 2.0 JSON: participants, deliverables, claims as objects) or parquet (-o FOLDER: "
        "events, deviations, programmes; needs peerflow[parquet])",
    )
    p.add_argument(
        "--summary",
        action="store_true",
        help="figures across programmes only (csv: a row per programme)",
    )
    p.add_argument(
        "--definition",
        metavar="ID|FILE",
        help="definition to use (default: the one each start event names)",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write here instead of standard output (parquet: a folder, required)",
    )
    p.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        default=1,
        metavar="N",
        help="replay in N processes (default 1)",
    )
    p.set_defaults(func="_main:cmd_replay")

    add_store_commands(sub)

    p = sub.add_parser(
        "serve", help="serve the store over HTTP for portals (needs peerflow[server])"
    )
    _db_option(p)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="port to listen on (default: 8000)")
    p.add_argument(
        "--config",
        metavar="FILE",
        help="TOML file of portals and their tokens (default: $PEERFLOW_TOKEN for one portal, "
        "else a token made for this run and printed once)",
    )
    p.add_argument(
        "--webhooks",
        metavar="FILE",
        help="the webhook outbox, a SQLite file (default: beside a SQLite store, "
        "STORE.webhooks; with PostgreSQL: peerflow-webhooks.sqlite3 here)",
    )
    p.add_argument(
        "--openapi", action="store_true", help="print the OpenAPI document and exit (no server)"
    )
    p.add_argument(
        "--sign-in",
        metavar="PARTICIPANT",
        help="print a link that opens the web page (/ui/) as PARTICIPANT for 12 hours, "
        "vouched for by the first portal (portals make their own: docs/web.md)",
    )
    p.set_defaults(func="_serve:cmd_serve")

    p = sub.add_parser("demo", help="walk an example programme, stage by stage")
    p.add_argument(
        "--definition",
        default="prospect-peer-mentoring",
        metavar="ID",
        help="which built-in programme to walk (default: prospect-peer-mentoring)",
    )
    p.add_argument("--db", metavar="URL", help="record it in this store (default: a temporary one)")
    p.set_defaults(func="_main:cmd_demo")
    for name, command in sub.choices.items():
        if sub.only is not None and name != sub.only:
            continue
        command.epilog = "examples:\n" + "\n".join(f"  {e}" for e in EXAMPLES[name])
        command.formatter_class = argparse.RawDescriptionHelpFormatter  # keeps them as lines
    return parser
