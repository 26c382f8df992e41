"""A quick sample of each benchmark: the scripts run end to end on tiny inputs and print every
ratio they promise, so a change that breaks a benchmark fails here, not in the next
measuring session. Nothing is asserted about time (the figures of a smoke run mean nothing);
the measurements themselves are separate commands (docs/benchmarks.md)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

SMOKE = {
    "bench_engine.py": (["--smoke"], 5),  # load, compile, next_steps, memory (two baselines)
    "bench_replay.py": (["--smoke"], 9),  # end-to-end (3), memory, fold (2), scaling, cold (2)
    "bench_store.py": (["--commands", "6"], 1),  # SQLite strict commands vs raw inserts
    "bench_startup.py": (["--smoke"], 3),  # --help, next, import peerflow vs python -c pass
    "bench_http.py": (["--calls", "20", "--clients", "4"], 2),  # next steps, append vs Store
}


@pytest.mark.parametrize("script", sorted(SMOKE))
def test_each_benchmark_runs_and_prints_its_ratios(script: str) -> None:
    arguments, least = SMOKE[script]
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *arguments],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    ratios = re.findall(r"ratio \d+\.\d+|\d+\.\d+x", done.stdout)
    assert len(ratios) >= least, done.stdout
