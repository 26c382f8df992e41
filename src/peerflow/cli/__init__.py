"""The command line: ``peerflow`` and its subcommands, the roof of the house.

Owns argument parsing, the text and Markdown renderings of definitions, steps and agendas,
the store commands and the demo. Every rule it applies comes from the layers below.

May import: anything in peerflow.
"""

from peerflow.cli._entry import main

__all__ = ["main"]
