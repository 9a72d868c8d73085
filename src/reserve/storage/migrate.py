"""Schema migrations with Alembic, applied by ``reserve init`` and by any command that finds an
older schema. A database written by a newer version is refused rather than guessed at."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from reserve.core.errors import SchemaMismatch
from reserve.storage.engine import WRITE_OPTION

_SCRIPTS = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 0x5E5E_0001


def _config(conn: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> bool:
    """Bring the schema to head; returns whether anything was applied."""
    head = head_revision()
    known = {s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions()}
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        current = MigrationContext.configure(conn).get_current_revision()
        if current == head:
            return False
        if current is not None and current not in known:
            raise SchemaMismatch(
                f"the database is at schema {current}, newer than this version knows ({head})"
            )
        command.upgrade(_config(conn), "head")
        return True
