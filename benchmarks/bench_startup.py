"""Start-up time of the command line, beside a Python that does nothing, in fresh processes.

    python benchmarks/bench_startup.py [--rounds N] [--smoke]

Each round starts, in turns (A, B, A, B, ...), ``python -c pass`` (the baseline: what any
Python program pays before its first line) and each measured command, as a user would
start it. Printed: the best time of each and its ratio to the baseline; target <= 3 for
``peerflow --help`` and ``peerflow next``.
"""

from __future__ import annotations

import argparse
import compileall
import subprocess
import sys
import time
from pathlib import Path

import peerflow

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "src" / "peerflow" / "examples" / "prospect-peer-mentoring.jsonl"
SCRIPT = Path(sys.executable).parent / "peerflow"
CLI = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "peerflow"]
"""The ``peerflow`` a user types (the installed script), else ``python -m peerflow``."""
COMMANDS = {
    "peerflow --help": [*CLI, "--help"],
    "peerflow next FILE --at DATE": [*CLI, "next", str(EXAMPLE), "--at", "2027-03-01"],
    "python -c 'import peerflow'": [sys.executable, "-c", "import peerflow"],
}
BASELINE = [sys.executable, "-c", "pass"]


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, capture_output=True, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="turns of each (default 15)")
    parser.add_argument("--smoke", action="store_true", help="two rounds: proves it runs")
    args = parser.parse_args()
    # as pip install does: without bytecode (PYTHONDONTWRITEBYTECODE, an editable install),
    # every start would compile peerflow's modules again, 60-70 ms a user never pays
    compileall.compile_dir(Path(peerflow.__file__).parent, quiet=1)
    rounds = 2 if args.smoke else args.rounds
    best = {name: float("inf") for name in COMMANDS}
    base = float("inf")
    for _ in range(rounds):
        for name, command in COMMANDS.items():  # interleaved with the baseline
            base = min(base, timed(BASELINE))
            best[name] = min(best[name], timed(command))
    print(f"python -c pass: {base * 1e3:.1f} ms (best of {rounds * len(COMMANDS)})")
    for name, seconds in best.items():
        target = " (target <= 3)" if name.startswith("peerflow") else ""
        print(f"{name}: {seconds * 1e3:.1f} ms; ratio {seconds / base:.2f}{target}")


if __name__ == "__main__":
    main()
