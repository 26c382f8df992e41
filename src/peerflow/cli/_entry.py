"""The ``peerflow`` entry point: parse first (the grammar loads nothing heavy), then load
only what the chosen command needs, so ``--help`` and a mistyped option answer at once."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``peerflow`` with ``argv`` (default: the process's arguments); the exit status."""
    from peerflow.cli._parser import build_parser  # noqa: PLC0415 - only the grammar

    args = build_parser().parse_args(argv)  # --help and a mistyped option end here
    from peerflow.cli._main import run  # noqa: PLC0415 - what the command needs

    return run(args)
