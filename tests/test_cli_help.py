"""Every option and argument of every command says what it is for (no empty help lines,
no bare "repeat"), and `peerflow --help` loads no engine, store or loader."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from peerflow.cli._parser import build_parser


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


@pytest.mark.parametrize("command", sorted(_commands()))
def test_every_option_has_a_help_line(command: str) -> None:
    bare = [
        "/".join(action.option_strings) or action.dest
        for action in _commands()[command]._actions
        if not isinstance(action, argparse._HelpAction)
        and (not action.help or len(action.help.split()) < 2)
    ]
    assert bare == []


def test_help_loads_nothing_heavy() -> None:
    """The grammar answers --help without the engine, the store or the YAML loader."""
    probe = (
        "import sys\n"
        "from peerflow.cli._entry import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('peerflow.engine._compiled', 'peerflow.store._store', "
        "'peerflow.model._loading', 'yaml', 'cattrs', 'pendulum', 'holidays') "
        "if m in sys.modules]\n"
        "print(heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip().endswith("[]"), done.stdout[-500:]


@pytest.mark.parametrize("command", sorted(_commands()))
def test_every_command_shows_examples_that_parse(command: str) -> None:
    """Each example under --help is a command line the grammar accepts, for that command."""
    import shlex  # noqa: PLC0415

    from peerflow.cli._parser import EXAMPLES  # noqa: PLC0415

    assert EXAMPLES[command]
    for example in EXAMPLES[command]:
        words = shlex.split(example)
        assert words[:2] == ["peerflow", command]
        args = build_parser().parse_args(words[1:])
        assert args.command == command
    assert "examples:" in (_commands()[command].epilog or "")
