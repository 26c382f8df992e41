"""``peerflow serve`` as a user starts it: docs/http.md's curl examples and schemathesis run
against it over loopback.

The server runs in its own process on a free loopback port with a fresh store: SQLite, and
PostgreSQL too where ``PEERFLOW_TEST_POSTGRES`` names a server (CI starts one). Each ```sh
block of docs/http.md runs in bash with curl, and what it prints must be the block after it,
so the guide shows what the service answers today, conflicts and retries included. Then
schemathesis generates requests from the OpenAPI document the running server serves.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from conftest import ROOT, _fresh_postgres_schema
from hypothesis import HealthCheck, assume, given, settings
from schemathesis.config import SchemathesisConfig

TOKEN = "docs-example-token-0123456789abcdef"
pytestmark = pytest.mark.skipif(
    shutil.which("curl") is None, reason="curl NOT INSTALLED: docs/http.md's examples NOT RUN"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("PEERFLOW_TEST_POSTGRES") else [])
SIGN_IN: dict[str, str] = {}
"""The link ``peerflow serve --sign-in anna`` printed, by the server's URL."""


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("serve")
    db = (
        str(folder / "s.db")
        if request.param == "sqlite"
        else _fresh_postgres_schema(os.environ["PEERFLOW_TEST_POSTGRES"])
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PEERFLOW_TOKEN": TOKEN}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "peerflow",
            "serve",
            "--db",
            db,
            "--port",
            str(port),
            "--webhooks",
            str(folder / "outbox.sqlite3"),
            "--sign-in",
            "anna",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                out = process.stdout.read() if process.stdout else ""
                pytest.fail(f"peerflow serve did not start: {out}")
            time.sleep(0.1)
        assert process.stdout is not None
        for _ in range(10):  # what serve printed before it started: the web page's link
            line = process.stdout.readline()
            if "/ui/sign-in?" in line:
                SIGN_IN[url] = line.strip()
                break
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_printed_sign_in_link_opens_the_web_page(server: str) -> None:
    link = SIGN_IN[server]
    assert link.startswith(f"{server}/ui/sign-in?portal=default&participant=anna&")
    with httpx.Client(follow_redirects=True, timeout=10) as browser:
        assert browser.get(f"{server}/ui/").status_code == 401
        page = browser.get(link)
        assert page.status_code == 200 and "<h1>Programmes</h1>" in page.text
        assert "Signed in as <strong>anna</strong>" in page.text


def examples() -> list[tuple[str, str]]:
    """(commands, what they print) for each ```sh block of docs/http.md and the block after."""
    text = (ROOT / "docs" / "http.md").read_text(encoding="utf-8")
    return re.findall(r"```sh\n(.*?)```\n```\n(.*?)```", text, re.S)


def test_the_guide_has_its_examples() -> None:
    """The parse above finds them (a changed fence would silently run nothing)."""
    assert len(examples()) >= 7


def test_the_guides_curl_examples_print_what_it_shows(server: str) -> None:
    env = {**os.environ, "PEERFLOW_URL": server, "PEERFLOW_TOKEN": TOKEN}
    for commands, shown in examples():
        done = subprocess.run(
            ["bash", "-c", commands],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == shown.strip(), commands


def test_schemathesis_against_the_running_server(server: str) -> None:
    """A few generated requests per operation over loopback (tests/test_http_contract.py runs
    many more in process): no 500, every answer within the contract the server serves."""
    config = SchemathesisConfig.from_dict(
        {
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "401", "403", "404", "409", "412", "422"]
                }
            }
        }
    )
    schema = schemathesis.openapi.from_url(f"{server}/openapi/openapi.json", config=config)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=5, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def check(case: Any) -> None:
            assume(not any(isinstance(v, list) and len(v) < 2 for v in (case.query or {}).values()))
            case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)

        check()


def test_the_server_refuses_a_wrong_token_and_answers_problem_json(server: str) -> None:
    answer = httpx.get(f"{server}/programmes", headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_serve_without_the_extra_says_which_to_install(tmp_path: Path) -> None:
    """Where litestar is missing, one line names the extra (simulated by hiding it)."""
    hide = tmp_path / "litestar.py"
    hide.write_text("raise ImportError('hidden for the test')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "peerflow", "serve", "--db", str(tmp_path / "s.db")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "peerflow: error: serving needs the server extra: pip install 'peerflow[server]'"
    ]
