"""The unit of work: one use case, one transaction, rolled back unless the use case commits."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.engine import Connection, RootTransaction

from reserve.storage.custody_repo import CustodyStore
from reserve.storage.engine import WRITE_OPTION
from reserve.storage.governance_repo import GovernanceStore
from reserve.storage.intake_repo import IntakeStore
from reserve.storage.market_repo import MarketStore
from reserve.storage.mining_repo import MiningStore
from reserve.storage.purchase_repo import PurchaseStore
from reserve.storage.repository import LedgerStore


class UnitOfWork:
    """``with UnitOfWork(engine, write=True) as uow: ...; uow.commit()``.

    A writing unit takes the writer's lock (SQLite ``BEGIN IMMEDIATE``; on PostgreSQL the audit
    head row, taken by every write use case before it checks who acts, and the chain head row when
    the ledger posts). A reading unit sees one consistent snapshot.
    """

    def __init__(self, engine: Engine, *, write: bool) -> None:
        self._engine = engine
        self._write = write
        self._committed = False
        self._conn: Connection | None = None
        self._tx: RootTransaction | None = None

    def __enter__(self) -> UnitOfWork:
        conn = self._engine.connect()
        if self._write:
            conn = conn.execution_options(**{WRITE_OPTION: True})
        elif conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        self._conn = conn
        self._tx = conn.begin()
        self.ledger = LedgerStore(conn)
        self.governance = GovernanceStore(conn)
        self.intake = IntakeStore(conn)
        self.mining = MiningStore(conn)
        self.purchases = PurchaseStore(conn)
        self.custody = CustodyStore(conn)
        self.market = MarketStore(conn)
        return self

    def commit(self) -> None:
        assert self._tx is not None
        self._tx.commit()
        self._committed = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._conn is not None
        assert self._tx is not None
        try:
            if not self._committed and self._tx.is_active:
                self._tx.rollback()
        finally:
            self._conn.close()
