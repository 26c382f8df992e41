"""Shared fixtures: the PROSPECT definition, its cast, and a clock in Brussels time."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import peerflow
from peerflow import Actor, CompiledDefinition, Programme
from peerflow.store import Store, open_store

ROOT = Path(__file__).resolve().parents[1]

# pytest --definition-coverage: what the suite exercised of each built-in (see the module)
pytest_plugins = ["definition_coverage"]

# Property tests: a budget that keeps the suite quick ("peerflow", the default), and a
# deeper one for a long run: pytest --hypothesis-profile=deep
settings.register_profile(
    "peerflow", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "deep", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# Code mutation runs the selected tests once per mutant: fewer examples, no database.
settings.register_profile(
    "mutation",
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("peerflow")
CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))

FACILITATOR = Actor("facilitator", "fac")
MENTOR = Actor("mentor", "mentor")
MENTEE_A = Actor("mentee", "mentee-a")
MENTEE_B = Actor("mentee", "mentee-b")
FINANCE = Actor("finance_coordinator", "finance")
CAST = (FACILITATOR, MENTOR, MENTEE_A, MENTEE_B, FINANCE)


def cet(month: int, day: int, hour: int = 10, year: int = 2027) -> datetime:
    """A winter-time moment in Brussels (tests that cross DST say so)."""
    return datetime(year, month, day, hour, tzinfo=CET)


@pytest.fixture(scope="session")
def prospect() -> CompiledDefinition:
    return peerflow.definition("prospect-peer-mentoring")


@pytest.fixture
def new_programme(prospect: CompiledDefinition) -> Callable[[], Programme]:
    def make() -> Programme:
        return Programme.start(
            prospect,
            "p1",
            at=cet(1, 11, 9),
            actor=FACILITATOR,
            participants=[(a.id, a.role) for a in CAST],
        )

    return make


@pytest.fixture
def oriented(new_programme: Callable[[], Programme]) -> Programme:
    """A programme whose orientation was held on Monday 2027-02-01."""
    p = new_programme()
    p.schedule("orientation_date", date(2027, 2, 1), at=cet(1, 11, 11), actor=FACILITATOR)
    for hour, who in enumerate((MENTOR, MENTEE_A, MENTEE_B), start=10):
        p.submit("peer_learning_agreement", at=cet(1, 12, hour), actor=who)
        p.submit("availability_confirmation", at=cet(1, 12, hour), actor=who)
    p.fire("hold_orientation", at=cet(2, 1, 10), actor=FACILITATOR)
    return p


# --- the store's backends: every store test runs on each -------------------------------

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("PEERFLOW_TEST_POSTGRES") else [])


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
    else:
        yield _fresh_postgres_schema(os.environ["PEERFLOW_TEST_POSTGRES"])


def _fresh_postgres_schema(url: str) -> str:
    """A new, empty schema for one test, named in the URL's search_path."""
    import psycopg  # noqa: PLC0415 - only with a server

    schema = f"contract_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    with open_store(url) as opened:
        yield opened


def pytest_report_header() -> str:
    """Say up front which store backends the contract suite runs on."""
    url = os.environ.get("PEERFLOW_TEST_POSTGRES")
    if url:
        return f"store contract backends: sqlite, postgresql ({url})"
    return "store contract backends: sqlite only (set PEERFLOW_TEST_POSTGRES for postgresql)"


@pytest.fixture(autouse=True)
def _no_answers_from_before_a_mutation() -> None:
    """Under mutmut (which sets MUTANT_UNDER_TEST) each mutant's tests are forked from a
    process that already ran them: window instants and compiled definitions cached there
    would answer for the mutated calendar code, and its mutants would survive untested."""
    if os.environ.get("MUTANT_UNDER_TEST"):
        from peerflow.engine import _compiled, _registry  # noqa: PLC0415 - only under mutmut
        from peerflow.model import _calendar  # noqa: PLC0415

        _registry._builtins.clear()
        _compiled._cache.clear()
        _calendar.opening_instant.cache_clear()
        _calendar.closing_instant.cache_clear()
