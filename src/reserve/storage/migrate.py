"""Schema migrations with Alembic, applied by ``reserve init`` and by any command that finds an
older schema. A database written by a newer version is refused rather than guessed at.

Every command checks the schema, so the check is one cheap query against ``HEAD_REVISION``;
Alembic itself (a tenth of a second to import, more to load its scripts) is imported only when
a migration has to run. A test keeps ``HEAD_REVISION`` equal to Alembic's own head.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import Connection

from reserve.core.errors import SchemaMismatch
from reserve.storage.engine import WRITE_OPTION

if TYPE_CHECKING:
    from alembic.config import Config

HEAD_REVISION: Final = "0006_market"
_SCRIPTS = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 0x5E5E_0001


def _config(conn: Connection | None = None) -> Config:
    from alembic.config import Config  # only when migrating (see above)

    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def head_revision() -> str:
    """Alembic's head, read from the migration scripts."""
    from alembic.script import ScriptDirectory  # only when asked

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return _stored_revision(conn)


def _stored_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()


def upgrade(engine: Engine) -> bool:
    """Bring the schema to head; returns whether anything was applied."""
    with engine.connect() as conn:
        if _stored_revision(conn) == HEAD_REVISION:
            return False
    from alembic import command  # only when migrating
    from alembic.script import ScriptDirectory

    known = {s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions()}
    with engine.connect().execution_options(**{WRITE_OPTION: True}) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        current = _stored_revision(conn)
        if current == HEAD_REVISION:
            return False
        if current is not None and current not in known:
            raise SchemaMismatch(
                f"the database is at schema {current}, newer than this version knows "
                f"({HEAD_REVISION})"
            )
        command.upgrade(_config(conn), "head")
        return True
