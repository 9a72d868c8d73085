"""Fixtures shared by every tier: databases on SQLite and PostgreSQL with migrations applied.

PostgreSQL tests skip with a one-line reason when the server is not reachable, except under
``CI=true``, where a missing server is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from reserve.bootstrap import Reserve, bootstrap
from reserve.config import Settings

PG_ADMIN = os.environ.get("RESERVE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"
FIXED_NOW = datetime(2026, 1, 15, 9, 30, tzinfo=UTC)


def _pg_unavailable() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return None
    except psycopg.OperationalError as error:
        return f"PostgreSQL not reachable at {PG_ADMIN}: {str(error).splitlines()[0]}"


def require_postgres() -> None:
    reason = _pg_unavailable()
    if reason is None:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    require_postgres()
    name = f"reserve_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'reserve.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each storage test runs once per engine."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'reserve.db'}"
    else:
        yield request.getfixturevalue("postgres_url")


def make_reserve(url: str) -> Reserve:
    return bootstrap(Settings(database_url=url), clock=lambda: FIXED_NOW)


@pytest.fixture
def reserve(database_url: str) -> Iterator[Reserve]:
    r = make_reserve(database_url)
    yield r
    r.close()


@pytest.fixture
def sqlite_reserve(sqlite_url: str) -> Iterator[Reserve]:
    r = make_reserve(sqlite_url)
    yield r
    r.close()
