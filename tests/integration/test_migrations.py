"""Schema migrations: applied by init and by any command; a newer schema is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from reserve.cli.app import run
from reserve.core.errors import SchemaMismatch
from reserve.storage.engine import make_engine
from reserve.storage.migrate import HEAD_REVISION, current_revision, head_revision, upgrade


def test_the_known_head_is_alembics_head() -> None:
    assert head_revision() == HEAD_REVISION


def test_a_command_on_an_empty_database_applies_the_migrations(database_url: str) -> None:
    engine = make_engine(database_url)
    assert current_revision(engine) is None
    assert run(["--db", database_url, "ledger", "assets", "--json"]) == 0
    assert current_revision(engine) == head_revision()
    assert {"entries", "postings", "lots", "balances", "lot_balances"} <= set(
        inspect(engine).get_table_names()
    )
    assert upgrade(engine) is False  # already at head: nothing to do
    engine.dispose()


def test_init_is_idempotent(sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--db", sqlite_url, "init"]) == 0
    assert run(["--db", sqlite_url, "init"]) == 0
    assert f"schema {head_revision()}" in capsys.readouterr().out


def test_a_schema_newer_than_the_code_is_refused(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(SchemaMismatch, match="newer than this version knows"):
        upgrade(engine)
    assert run(["--db", sqlite_url, "ledger", "verify"]) == 1
    assert "newer than this version knows" in capsys.readouterr().err
    engine.dispose()


def test_the_migrations_build_exactly_the_declared_schema(database_url: str) -> None:
    """Tables, columns, keys and indexes from Alembic match ``storage/tables.py``."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from reserve.storage.tables import metadata

    engine = make_engine(database_url)
    upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == []
