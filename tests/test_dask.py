"""Replay on a real dask.distributed cluster (a LocalCluster of two worker processes, the same
code a multi-machine cluster runs): Parquet partitions equal to the replay in one process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from distributed import Client, LocalCluster

import peerflow
from peerflow.replay import read_histories, replay, replay_files, replay_many, summarise
from peerflow.replay._parquet import tables
from peerflow.replay.dask import replay_on_dask
from peerflow.synthetic import generate


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as connected,
    ):
        yield connected


@pytest.fixture(scope="module")
def histories(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two files of programmes of every built-in definition, half with a deviation, and
    bad lines: one not JSON, one with a gap in its programme's seq."""
    folder = tmp_path_factory.mktemp("dask")
    files = []
    for part, ids in enumerate(
        (
            ("prospect-peer-mentoring", "mia-tutoring", "sc-site-visit"),
            ("mia-peer-groups", "sc-expert-mission", "sc-expert-review"),
        )
    ):
        lines = []
        for index, definition_id in enumerate(ids):
            lines += generate(
                peerflow.definition(definition_id),
                6,
                seed=part * 10 + index,
                deviation_share=0.5,
            ).lines()
        for bad in (4, 40, 75):
            lines[bad] = "{not json"
        for gap in (90, 60, 25, 9):  # gaps in programmes of either partition
            del lines[gap]
        path = folder / f"part{part}.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        files.append(path)
    return files


def _rows(table: Any) -> list[tuple[Any, ...]]:
    """A table's rows in a fixed order (partitions come in any order)."""
    return sorted(tuple(str(v) for v in row.values()) for row in table.to_pylist())


def test_a_replay_on_the_cluster_writes_the_tables_one_process_would(
    client: Client, histories: list[Path], tmp_path: Path
) -> None:
    output = (tmp_path / "replay").as_uri()  # a URL, as object storage would be given
    done = replay_on_dask(client, [str(tmp_path.parent / "dask*" / "part*.jsonl")], output)
    alone = replay_files(*histories)
    assert done.programmes == len(alone) and len(alone) == 36
    assert done.summary == summarise(alone.programmes)
    assert [str(p) for p in done.problems] == [str(p) for p in alone.bad_lines]
    assert len(done.problems) >= 10 and not done.ok
    expected = tables(alone.programmes)
    for name in ("events", "deviations", "programmes"):
        parts = sorted((tmp_path / "replay" / name).glob("part-*.parquet"))
        assert len(parts) == 2  # one partition a worker thread
        assert _rows(pq.read_table(tmp_path / "replay" / name)) == _rows(expected[name]), name
    with pytest.raises(FileExistsError, match="already holds a 'events' table"):
        replay_on_dask(client, [str(p) for p in histories], output)
    again = replay_on_dask(
        client, [str(p) for p in histories], output, overwrite=True, partitions=1
    )
    assert again.summary == done.summary and len(again.files) == 3
    for name in ("events", "deviations", "programmes"):  # no part of the earlier run is left
        assert _rows(pq.read_table(tmp_path / "replay" / name)) == _rows(expected[name]), name


def test_replay_many_on_the_clusters_executor_is_the_same_replay(
    client: Client, histories: list[Path]
) -> None:
    found = read_histories(*histories)
    alone = replay(found)
    pooled = replay_many(found, executor=client.get_executor(), chunk_size=5)
    as_json = [json.dumps([p.to_dict() for p in r]) for r in (pooled, alone)]
    assert as_json[0] == as_json[1] and len(alone) == 36
