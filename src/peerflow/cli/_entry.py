"""The ``peerflow`` entry point: parse first (the grammar loads nothing heavy), then load
only what the chosen command needs, so ``--help`` and a mistyped option answer at once."""

from __future__ import annotations

import sys

_TYPE_CHECKING = False  # True for mypy: the entry point stays bare

if _TYPE_CHECKING:
    from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``peerflow`` with ``argv`` (default: the process's arguments); the exit status."""
    from peerflow.cli._parser import build_parser  # noqa: PLC0415 - only the grammar

    words = sys.argv[1:] if argv is None else list(argv)
    named = next((w for w in words if not w.startswith("-")), "")  # the command, if any
    args = build_parser(named or "-").parse_args(words)  # --help, a typo: this is the end
    from peerflow.cli._main import run  # noqa: PLC0415 - what the command needs

    return run(args)
