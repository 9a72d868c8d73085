"""Engines for SQLite (embedded, the default) and PostgreSQL (production and tests).

SQLite: WAL with ``synchronous=FULL`` so a committed entry survives a power cut; foreign keys
on; a page cache large enough that an append's index lookups stay in memory as the file grows;
the exact-sum aggregate registered; and write transactions opened with ``BEGIN IMMEDIATE``, so
two writers can never read the same chain head. PostgreSQL serialises writers with a row lock
on the chain head instead (see ``repository.LedgerStore.lock_head``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry

from reserve.storage.types import SqliteExactSum

WRITE_OPTION = "reserve_write"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return create_engine(url, pool_pre_ping=True)


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's begin event below opens transactions
        dbapi_conn.create_aggregate("reserve_exact_sum", 1, SqliteExactSum)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA cache_size=-16384")  # 16 MiB: index pages stay in memory
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
