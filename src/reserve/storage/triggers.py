"""Triggers that make journal and reference tables append-only, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable


def append_only_sql(dialect: str, tables: Iterable[str]) -> list[str]:
    """DDL that refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) on ``tables``."""
    statements: list[str] = []
    if dialect == "postgresql":
        statements.append(
            "CREATE OR REPLACE FUNCTION reserve_refuse_change() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN "
            "RAISE EXCEPTION 'reserve: % on % refused: the table is append-only', "
            "TG_OP, TG_TABLE_NAME; END $$"
        )
        for table in tables:
            statements += [
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION reserve_refuse_change()",
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION reserve_refuse_change()",
            ]
        return statements
    for table in tables:
        for op in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} BEGIN "
                f"SELECT RAISE(ABORT, 'reserve: {op} on {table} refused: the table is "
                "append-only'); END"
            )
    return statements


def drop_append_only_sql(dialect: str, tables: Iterable[str]) -> list[str]:
    """The reverse of ``append_only_sql`` (migrations' downgrade, and tamper tests)."""
    statements: list[str] = []
    for table in tables:
        if dialect == "postgresql":
            statements += [
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
                f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            ]
        else:
            statements += [
                f"DROP TRIGGER IF EXISTS {table}_no_update",
                f"DROP TRIGGER IF EXISTS {table}_no_delete",
            ]
    return statements
