"""The definition model: what a definition file says, read from YAML and validated.

Owns the types a definition is made of (``ProgrammeType``, roles, states, windows,
deliverables, dates, budget), the YAML reader that keeps line numbers, the loader that
turns a file into a checked ``ProgrammeType`` with every problem named by line, and the
working-day calendars that windows count in.

May import: ``peerflow._errors`` only. It knows nothing of events, programmes or stores.
"""

from peerflow.model._loading import parse_definition
from peerflow.model._types import ProgrammeType

__all__ = ["ProgrammeType", "parse_definition"]
