"""The HTTP service's overhead: each call over HTTP beside the same call on the in-process Store.

    python benchmarks/bench_http.py [--calls N] [--postgres URL]

``peerflow serve`` runs in a fresh process on a free loopback port, as a user starts it, over
a SQLite store (or PostgreSQL); the benchmark's own process opens the same store and makes
the same calls in process, the baseline a Python portal would pick instead. In turns
(in-process, HTTP, in-process, HTTP, ...), for:

1. next steps (``GET /programmes/{id}/next`` vs ``Store.next_steps``);
2. a strict append (``POST /programmes/{id}/dates``, schedule a date again, vs
   ``Store.schedule``), which commits with synchronous=FULL each time;

each printed as p50 and p99 latency with one client, and the ratio of the medians (target:
HTTP at most 3x the in-process call). Beside them, the floor: ``GET /health`` over the same
connection (no token, no store, no engine: the HTTP stack alone, client included), so the
reader sees how much of a ratio is HTTP itself. Then 32 concurrent clients (httpx, one connection
each) on the same calls: throughput, p50, p99 and the number of errors (target: none).
Nothing here asserts: it prints.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

import peerflow
from peerflow import Actor
from peerflow.store import Store, open_store

TOKEN = "benchmark-token-0123456789abcdefghij"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
AT = datetime(2027, 1, 12, 10, tzinfo=UTC)
CAST = [
    ("anna", "facilitator"),
    ("ghent", "mentor"),
    ("porto", "mentee"),
    ("finance", "finance_coordinator"),
]
ANNA = Actor("facilitator", "anna")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def serve(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PEERFLOW_TOKEN": TOKEN}
    process = subprocess.Popen(
        [sys.executable, "-m", "peerflow", "serve", "--db", url, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("peerflow serve did not start")


def timed(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def quantile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def one_client(store: Store, base: str, calls: int) -> None:
    """In turns, one call of each at a time."""
    at = AT.isoformat()
    with httpx.Client(base_url=base, headers=HEADERS) as client:
        cases = {
            "next steps": (
                lambda: store.next_steps("p0", AT, "mentor"),
                lambda: client.get("/programmes/p0/next", params={"at": at, "role": "mentor"}),
            ),
            "strict append": (
                lambda: store.schedule("p0", "orientation_date", "2027-02-01", at=AT, actor=ANNA),
                lambda: client.post(
                    "/programmes/p0/dates",
                    json={
                        "date": "orientation_date",
                        "value": "2027-02-01",
                        "by": "anna",
                        "at": at,
                    },
                ),
            ),
        }
        for _ in range(50):
            client.get("/health")
        floor = [timed(lambda: client.get("/health")) for _ in range(calls)]
        print(
            f"\nthe floor: GET /health p50 {statistics.median(floor) * 1e3:.3f} ms, "
            f"p99 {quantile(floor, 0.99) * 1e3:.3f} ms (HTTP alone, client and server)"
        )
        for name, (local, remote) in cases.items():
            for _ in range(20):  # warm both up
                local()
                remote()
            here: list[float] = []
            there: list[float] = []
            for _ in range(calls):
                here.append(timed(local))
                there.append(timed(remote))
            ratio = statistics.median(there) / statistics.median(here)
            print(f"\n{name}, one client ({calls} calls each, in turns)")
            print(
                f"   in process  p50 {statistics.median(here) * 1e3:7.3f} ms"
                f"   p99 {quantile(here, 0.99) * 1e3:7.3f} ms"
            )
            print(
                f"   over HTTP   p50 {statistics.median(there) * 1e3:7.3f} ms"
                f"   p99 {quantile(there, 0.99) * 1e3:7.3f} ms"
            )
            print(
                f"   HTTP is {ratio:.2f}x the in-process call (target <= 3); beyond the floor it"
                f" adds {(statistics.median(there) - statistics.median(floor)) * 1e3:.3f} ms"
            )


async def many_clients(base: str, clients: int, calls: int) -> None:
    at = AT.isoformat()

    async def run(kind: str) -> tuple[list[float], int, float]:
        latencies: list[float] = []
        errors = 0

        async def worker(index: int) -> None:
            nonlocal errors
            async with httpx.AsyncClient(base_url=base, headers=HEADERS, timeout=60) as client:
                for _ in range(calls):
                    started = time.perf_counter()
                    if kind == "next steps":
                        answer = await client.get(
                            f"/programmes/p{index}/next", params={"at": at, "role": "mentor"}
                        )
                    else:
                        answer = await client.post(
                            f"/programmes/p{index}/dates",
                            json={
                                "date": "orientation_date",
                                "value": "2027-02-01",
                                "by": "anna",
                                "at": at,
                            },
                        )
                    latencies.append(time.perf_counter() - started)
                    if answer.status_code >= 300:
                        errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(clients)))
        return latencies, errors, time.perf_counter() - started

    for kind in ("next steps", "strict append"):
        latencies, errors, elapsed = await run(kind)
        print(f"\n{kind}, {clients} concurrent clients ({calls} calls each)")
        print(
            f"   {len(latencies) / elapsed:,.0f} calls/s,"
            f" p50 {statistics.median(latencies) * 1e3:.2f} ms,"
            f" p99 {quantile(latencies, 0.99) * 1e3:.2f} ms, errors {errors} (target: none)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL instead of SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = args.postgres or str(Path(folder) / "store.sqlite3")
        with open_store(url) as store:
            prospect = peerflow.definition("prospect-peer-mentoring")
            for i in range(args.clients):
                store.start(
                    prospect,
                    f"p{i}",
                    at=datetime(2027, 1, 11, 8, tzinfo=UTC),
                    actor=ANNA,
                    participants=CAST,
                )
            port = free_port()
            process = serve(url, port)
            try:
                base = f"http://127.0.0.1:{port}"
                print(
                    f"peerflow serve on {base},"
                    f" store {'PostgreSQL' if args.postgres else 'SQLite'};"
                    f" {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
                )
                one_client(store, base, args.calls)
                asyncio.run(many_clients(base, args.clients, max(args.calls // 8, 10)))
            finally:
                process.terminate()
                process.wait(timeout=10)


if __name__ == "__main__":
    main()
