"""Replay past one machine, on a Dask cluster, with results as Parquet partitions.

    from distributed import Client
    from peerflow.replay.dask import replay_on_dask

    client = Client("tcp://scheduler:8786")          # or LocalCluster() on one machine
    done = replay_on_dask(client, ["s3://bucket/histories/*.jsonl"], "s3://bucket/replay",
                          storage_options={"anon": False})
    print(done.summary["completion_rate"], done.files[:3])

The programmes are split into partitions by a hash of their id, as ``replay -j N`` splits
them between processes (:mod:`peerflow.replay._parallel`): each partition is one task, which
reads the histories itself (any path fsspec opens: local, ``s3://``, ``gs://``, ``abfs://``,
``https://``), keeps the lines of its programmes, replays them where it runs and writes its
programmes' three tables (``events``, ``deviations``, ``programmes``, as
:func:`peerflow.replay.write_parquet` writes them) as ``OUTPUT/TABLE/part-NNNNN.parquet``.
Only the summary's parts and the bad lines travel back to the client, so the client's memory
does not grow with the histories. ``pyarrow.dataset`` / ``pandas.read_parquet(OUTPUT/events)``
/ ``dask.dataframe.read_parquet`` read each table's partitions as one.

Needs ``pip install 'peerflow[dask]'`` (dask.distributed, fsspec, pyarrow); for object storage,
the fsspec back end too (``s3fs``, ``gcsfs``, ``adlfs``). :func:`peerflow.replay.replay_many`
also takes a cluster's executor (``client.get_executor()``) for histories already in memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from peerflow._errors import HistoryError
from peerflow.engine._compiled import CompiledDefinition
from peerflow.replay._folding import fold_files, in_reading_order
from peerflow.replay._parallel import _Share, split_held
from peerflow.replay._parquet import TABLES
from peerflow.replay._stats import SummaryParts

__all__ = ["DaskReplay", "replay_on_dask"]


@attrs.frozen
class DaskReplay:
    """What a replay on a cluster returns: the summary (as :func:`summarise` gives it), every
    bad line in file and line order, how many programmes, and the Parquet files written."""

    summary: dict[str, Any]
    problems: tuple[HistoryError, ...]
    programmes: int
    files: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """No bad line and every programme replayed (as ``Replay.ok``)."""
        return not self.problems and self.summary["final_states"].get("(not started)", 0) == 0


def _needs() -> Any:
    try:
        import fsspec  # noqa: PLC0415 - optional
        import fsspec.implementations.local  # noqa: PLC0415
        from pyarrow import parquet  # noqa: PLC0415, F401 - optional, checked before any task
    except ImportError:
        raise ImportError(
            "replay_on_dask needs dask.distributed, fsspec and pyarrow: "
            "pip install 'peerflow[dask]'"
        ) from None
    return fsspec


_Part = tuple[list[str], SummaryParts, list[HistoryError], list[str]]


def _replay_partition(
    urls: Sequence[str],
    index: int,
    partitions: int,
    definition: CompiledDefinition | None,
    output: str,
    storage_options: Mapping[str, Any],
) -> _Part:
    """One task: read this partition's lines of every file, replay, write its tables."""
    import fsspec  # noqa: PLC0415 - on the worker
    from pyarrow import parquet  # noqa: PLC0415

    from peerflow.replay._parquet import tables  # noqa: PLC0415

    def opener(url: str) -> Any:
        return fsspec.open(url, "rb", **storage_options)

    results, found = fold_files(urls, definition, keep=_Share(index, partitions), opener=opener)
    written = []
    for name, table in tables(results).items():
        url = f"{output.rstrip('/')}/{name}/part-{index:05d}.parquet"
        with fsspec.open(url, "wb", auto_mkdir=True, **storage_options) as stream:
            parquet.write_table(table, stream)
        written.append(url)
    names = [p.programme for p in results]
    return names, SummaryParts().take(results), found.problems, written


def replay_on_dask(
    client: Any,
    paths: Sequence[str],
    output: str,
    *,
    partitions: int | None = None,
    definition: CompiledDefinition | None = None,
    storage_options: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> DaskReplay:
    """Replay the histories at ``paths`` (globs allowed) on ``client``'s cluster, writing
    Parquet partitions under ``output``; ``partitions`` defaults to the cluster's threads.

    The files must be readable from every worker (shared or object storage). Tables already
    under ``output`` are an error unless ``overwrite`` (then only they are removed: parts of
    an earlier run would be read as this one's). A programme
    whose lines name it oddly (an escaped id) could reach two partitions; that is detected,
    and the replay is then done again in one partition, so the result never depends on the
    split.
    """
    fsspec = _needs()
    options = dict(storage_options or {})
    opened = fsspec.open_files(list(paths), "rb", **options)
    local = fsspec.implementations.local.LocalFileSystem
    # local files by their path, as one process names them; others by their full URL
    urls = [f.path if isinstance(f.fs, local) else f.fs.unstrip_protocol(f.path) for f in opened]
    if not urls:
        raise FileNotFoundError(f"no history file matches {list(paths)}")
    if partitions is None:
        partitions = max(1, sum(client.nthreads().values()))
    if partitions < 1:
        raise ValueError(f"partitions must be 1 or more, got {partitions}")
    fs, root = fsspec.core.url_to_fs(output, **options)
    for table in TABLES:
        folder = f"{root.rstrip('/')}/{table}"
        if fs.exists(folder):
            if not overwrite:
                raise FileExistsError(
                    f"{output} already holds a '{table}' table: give a new folder, or "
                    "overwrite=True to replace the tables there"
                )
            fs.rm(folder, recursive=True)
    futures = [
        client.submit(
            _replay_partition, urls, index, partitions, definition, output, options, pure=False
        )
        for index in range(partitions)
    ]
    parts: list[_Part] = client.gather(futures)
    if not split_held(part[0] for part in parts):  # a programme reached two partitions
        return replay_on_dask(
            client,
            urls,
            output,
            partitions=1,
            definition=definition,
            storage_options=options,
            overwrite=True,
        )
    total = SummaryParts()
    for part in parts:
        total.add(part[1])
    problems = in_reading_order([p for part in parts for p in part[2]], urls)
    files = tuple(url for part in parts for url in part[3])
    return DaskReplay(total.summary(), tuple(problems), sum(len(part[0]) for part in parts), files)
