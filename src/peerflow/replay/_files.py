"""``replay_files``: the replay of JSON Lines files that analysts and the command line call,
in this process (folding while reading, :mod:`peerflow.replay._folding`) or in several
(:mod:`peerflow.replay._parallel`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from peerflow.engine._compiled import CompiledDefinition
from peerflow.replay._audit import Replay, _finished
from peerflow.replay._folding import fold_files, in_reading_order

MAX_JOBS = 64
"""The most processes a replay starts (``peerflow replay -j`` says the same)."""


def replay_files(
    *paths: str | Path,
    definition: CompiledDefinition | None = None,
    progress: Callable[[int, int], None] | None = None,
    jobs: int = 1,
) -> Replay:
    """Audit-replay every programme of ``paths``, folding while reading: the same result as
    :func:`replay` of :func:`read_histories`, in far less memory.

    ``progress(done, total)`` is called as the files are read, in characters of all the
    files (for a progress bar); it ends with ``done == total``. ``jobs`` above 1 reads and
    replays in that many processes, each taking its share of the programmes
    (:mod:`peerflow.replay._parallel`); the result is the same.
    """
    if not 1 <= jobs <= MAX_JOBS:
        raise ValueError(f"jobs must be 1 to {MAX_JOBS} (processes on this machine), got {jobs}")
    if jobs > 1:
        from peerflow.replay._parallel import replay_in_processes  # noqa: PLC0415

        pooled = replay_in_processes(paths, definition, jobs, progress)
        if pooled is not None:
            return pooled  # else a programme's lines reached two workers: replay here
    results, found = fold_files(paths, definition, progress)
    found.problems = in_reading_order(found.problems, paths)
    return _finished(results, found)
