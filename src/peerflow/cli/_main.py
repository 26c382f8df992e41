"""The ``peerflow`` command.

Unlike the engine, the command line may read the clock: ``--at`` defaults to
now, which is what a facilitator at a terminal means.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from peerflow._errors import DefinitionError, EventError, HistoryError, Problem
from peerflow.cli._progress import Progress
from peerflow.cli._render import (
    content_template,
    content_yaml,
    definition_json,
    definition_text,
    print_status,
)
from peerflow.cli._store_commands import known_role, moment, next_in_store
from peerflow.engine._compiled import CompiledDefinition
from peerflow.engine._registry import (
    builtin_files,
    definition,
    definition_of,
    definition_or_file,
    example_path,
)
from peerflow.events._envelope import Event, one_line, read_history
from peerflow.events._history import histories_of
from peerflow.model._loading import read_definition_file
from peerflow.model._mermaid import mermaid
from peerflow.replay._audit import replay_programme
from peerflow.replay._files import replay_files
from peerflow.store._backend import StoreError
from peerflow.store._store import open_store

if TYPE_CHECKING:
    from peerflow.replay._parallel import Report as _Report

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def _err(message: str) -> None:
    print(f"peerflow: {one_line(message)}", file=sys.stderr)


def cmd_definitions(args: argparse.Namespace) -> int:
    rows: list[dict[str, str | int]] = []
    for name in builtin_files():
        d = definition(name).type
        rows.append({"id": name, "version": d.version, "title": d.title})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        width = max((len(str(r["id"])) for r in rows), default=0)
        for r in rows:
            print(f"{r['id']:<{width}}  v{r['version']}  {r['title']}")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    compiled = definition_or_file(args.definition)
    if args.format == "markdown":
        from peerflow.model._pages import programme_page  # noqa: PLC0415 - only pages need it

        print(programme_page(compiled.type, mermaid(compiled.type)), end="")
        return EXIT_OK
    render = {"text": definition_text, "json": definition_json, "mermaid": mermaid}[args.format]
    print(render(compiled.type))
    return EXIT_OK


def cmd_template(args: argparse.Namespace) -> int:
    """An empty content file for a structured deliverable, to fill in and submit."""
    compiled = definition_or_file(args.definition)
    if args.format == "json":
        text = json.dumps(content_template(compiled.type, args.deliverable), indent=2) + "\n"
    else:
        text = content_yaml(compiled.type, args.deliverable)
    if args.output is None:
        print(text, end="")
        return EXIT_OK
    try:
        with open(args.output, "x", encoding="utf-8") as out:  # never over a filled-in file
            out.write(text)
    except FileExistsError:
        raise StoreError(f"{args.output} exists: give another -o, or remove it") from None
    print(f"wrote {args.output}: fill it in, then peerflow submit ... --content @{args.output}")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    failed = 0
    for name in args.files:
        try:
            read_definition_file(name)
        except DefinitionError as exc:
            failed += 1
            for problem in exc.problems:
                print(_relocate(problem, name))
        else:
            if not args.quiet:
                print(f"{name}: ok")
    return EXIT_PROBLEMS if failed else EXIT_OK


def _relocate(problem: Problem, name: str) -> str:
    """Print the path the user typed, not only the file's base name."""
    return str(Problem(name, problem.line, problem.path, problem.message))


def _programme_events(path: str, programme: str | None) -> tuple[str, list[tuple[int, Event]]]:
    events = read_history(path)
    by_programme: dict[str, list[tuple[int, Event]]] = {}
    for line, event in events:
        by_programme.setdefault(event.programme, []).append((line, event))
    if not by_programme:
        raise HistoryError(path, 0, "the file holds no events")
    if programme is None:
        if len(by_programme) > 1:
            raise HistoryError(
                path,
                0,
                "the file holds several programmes; choose one with "
                f"--programme ({', '.join(sorted(by_programme))})",
            )
        programme = next(iter(by_programme))
    if programme not in by_programme:
        raise HistoryError(
            path,
            0,
            f"no programme '{programme}' in the file (found: {', '.join(sorted(by_programme))})",
        )
    return programme, by_programme[programme]


def cmd_next(args: argparse.Namespace) -> int:
    when = moment(args)
    where = Path(args.history)
    if where.exists() and not where.is_file():
        raise HistoryError(args.history, 0, "not a history file (a JSON Lines file is expected)")
    if not where.exists() and not args.history.endswith(".jsonl"):
        return next_in_store(args, when)
    _, numbered = _programme_events(args.history, args.programme)
    first = numbered[0][1]
    compiled = definition_or_file(args.definition) if args.definition else definition_of(first)
    known_role(compiled, args.role)
    zone = first.payload.get("timezone", compiled.type.timezone)
    at = when(zone if isinstance(zone, str) else compiled.type.timezone)
    # The same reading as replay's: a gap or a repeated seq is a bad line, and exits 1.
    found = histories_of(event for _, event in numbered)
    line_of = {event.seq: line for line, event in numbered}
    for problem in found.problems:
        _err(f"{args.history}: {problem.reason}")
    # As it stood at --at, replayed as an audit: real histories deviate, and still have a state.
    audited = replay_programme(found.events.get(first.programme, []), compiled, until=at)
    for deviation in audited.deviations:
        _err(
            f"{args.history}:{line_of.get(deviation.seq, 0)}: seq {deviation.seq}: "
            f"{deviation.kind}: {deviation.step}: {deviation.detail}"
        )
    state = audited.final
    if state is None:
        _err(f"the programme had not started at {at.isoformat()}")
        return EXIT_PROBLEMS
    print_status(state, at, args.role, as_json=args.json, forecast=args.forecast)
    return EXIT_PROBLEMS if found.problems else EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from peerflow.checking import check  # noqa: PLC0415 - only this command needs it

    compiled: CompiledDefinition = definition_or_file(args.definition)
    report = check(compiled, max_nodes=args.max_nodes, max_seconds=args.max_seconds)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.to_text())
    return EXIT_OK if report.passed else EXIT_PROBLEMS


def cmd_replay(args: argparse.Namespace) -> int:
    from peerflow.replay import _exports  # noqa: PLC0415 - only this command needs them

    if args.format in ("xes", "ocel", "parquet") and args.summary:
        named = {"xes": "XES", "ocel": "OCEL", "parquet": "Parquet"}[args.format]
        _err(f"--summary has no {named} form: {named} holds events (use --format json or csv)")
        return EXIT_USAGE
    if args.format == "parquet" and args.output in (None, "-"):
        _err("--format parquet writes three files: give a folder with -o FOLDER")
        return EXIT_USAGE
    if args.format == "parquet":
        from peerflow.replay._parquet import _pyarrow  # noqa: PLC0415

        try:
            _pyarrow()  # before the replay, not after it
        except ImportError as exc:
            _err(str(exc))
            return EXIT_USAGE
    compiled = definition_or_file(args.definition) if args.definition else None
    if args.format in _exports.REPORT_FORMATS:
        report = _report(args, compiled)
        for problem in report.problems:
            print(one_line(problem), file=sys.stderr)
        for line in report.not_replayed:
            _err(line)
        with _output(args.output) as out:
            _exports.write_report(
                args.format, args.summary, report.blocks, report.summary, report.problems, out
            )
        return EXIT_OK if report.ok else EXIT_PROBLEMS
    unit = ("workers", 1.0) if args.jobs > 1 else ("MB read", 1e6)  # folded while read
    progress = Progress(sys.stderr, unit[0], scale=unit[1])
    result = replay_files(*args.files, definition=compiled, progress=progress, jobs=args.jobs)
    for problem in result.bad_lines:
        print(one_line(problem), file=sys.stderr)
    for p in result.not_started:
        _err(_exports.not_replayed_text(p))
    if args.format == "parquet":
        from peerflow.replay._parquet import write_parquet  # noqa: PLC0415

        try:
            write_parquet(result.programmes, args.output)
        except OSError as exc:
            _err(f"cannot write Parquet files into {args.output}: {exc.strerror or exc}")
            return EXIT_USAGE
    else:
        from peerflow.replay._ocel import write_ocel  # noqa: PLC0415

        with _output(args.output) as out:
            write_ocel(result.programmes, out)
    return EXIT_OK if result.ok else EXIT_PROBLEMS


def _report(args: argparse.Namespace, compiled: CompiledDefinition | None) -> _Report:
    """The report in text, json, csv or xes: made by the workers with ``-j N`` (only text
    crosses between processes), else here from the replay."""
    from peerflow.replay._parallel import report_here, report_in_processes  # noqa: PLC0415

    if args.jobs > 1:
        progress = Progress(sys.stderr, "workers")
        made = report_in_processes(
            args.files, compiled, args.jobs, args.format, args.summary, progress
        )
        if made is not None:
            return made
    progress = Progress(sys.stderr, "MB read", scale=1e6)  # folded while read
    return report_here(args.files, compiled, args.format, args.summary, progress)


@contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    if path is None or path == "-":
        yield sys.stdout
        return
    with open(path, "w", encoding="utf-8", newline="") as stream:
        yield stream


def cmd_demo(args: argparse.Namespace) -> int:
    from peerflow.cli._demo import run_demo  # noqa: PLC0415 - only the demo needs it

    compiled: CompiledDefinition = definition_or_file(args.definition)
    with tempfile.TemporaryDirectory() as scratch:
        url = args.db or str(Path(scratch) / "demo.sqlite3")
        with open_store(url) as store:
            where = args.db or "a temporary SQLite file (use --db FILE to keep it)"
            print(f"Store: {where}")
            run_demo(compiled, example_path(compiled.id), sys.stdout, store)
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    """Run a parsed command; every error it meets on purpose is one line and exit 1."""
    module, name = args.func.split(":")
    command = getattr(importlib.import_module(f"peerflow.cli.{module}"), name)
    try:
        code: int = command(args)
    except DefinitionError as exc:
        for problem in exc.problems:
            print(one_line(problem), file=sys.stderr)
        return EXIT_PROBLEMS
    except (HistoryError, EventError, StoreError, LookupError, ValueError) as exc:
        _err(str(exc))
        return EXIT_PROBLEMS
    except BrokenPipeError:  # e.g. piped into head
        return EXIT_OK
    except OSError as exc:  # -o into a missing folder or onto a directory, ...
        where = f"{exc.filename}: " if exc.filename else ""
        _err(f"{where}{exc.strerror or exc}")
        return EXIT_PROBLEMS
    return code
