"""Intake rows (cases, seized assets, legal orders and their executions), read and written on
one connection, mapped to the intake domain's dataclasses.

Every intake table only grows. Ids are numbered by the writer, who holds the writer's lock
(the audit head) for the whole unit of work, so the next id is simply one past the largest.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from reserve.core.clock import as_utc
from reserve.intake.cases import SeizedAsset, SeizureCase
from reserve.intake.legal import LegalOrder, LegalState, RecordedOrder
from reserve.storage import tables as t


def _case(row: Any) -> SeizureCase:
    return SeizureCase(row.number, row.agency, row.court, row.description, row.opened_on)


def _seizure(row: Any) -> SeizedAsset:
    return SeizedAsset(
        case=row.case_number,
        chain=row.chain,
        asset=row.asset,
        amount=row.amount,
        txid=row.txid,
        vout=row.vout,
        source_address=row.source_address,
        destination_address=row.destination_address,
        seized_at=as_utc(row.seized_at),
    )


def _order(row: Any) -> RecordedOrder:
    order = LegalOrder(
        case=row.case_number,
        asset=row.asset,
        amount=row.amount,
        from_state=LegalState(row.from_state),
        to_state=LegalState(row.to_state),
        reference=row.reference,
        issued_on=row.issued_on,
        document_sha256=row.document_sha256,
        proposer=row.proposer,
        approvers=frozenset(),
        recipients=tuple(r for r in row.recipients.split("\n") if r),
    )
    executed = None if row.executed_at is None else as_utc(row.executed_at)
    seq = None if row.entry_seq is None else int(row.entry_seq)
    return RecordedOrder(
        int(row.id), order, row.request_hash, as_utc(row.proposed_at), executed, seq
    )


class IntakeStore:
    """Reads and writes of the intake tables inside the caller's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- cases ----------------------------------------------------------------------------
    def case(self, number: str) -> SeizureCase | None:
        row = self.conn.execute(select(t.cases).where(t.cases.c.number == number)).first()
        return None if row is None else _case(row)

    def cases(self) -> list[SeizureCase]:
        return [_case(r) for r in self.conn.execute(select(t.cases).order_by(t.cases.c.number))]

    def add_case(self, case: SeizureCase, *, opened_by: str) -> None:
        self.conn.execute(
            insert(t.cases).values(
                number=case.number,
                agency=case.agency,
                court=case.court,
                description=case.description,
                opened_on=case.opened_on,
                opened_by=opened_by,
            )
        )

    # -- seized assets --------------------------------------------------------------------
    def seizure_at(self, outpoint: str) -> tuple[SeizedAsset, int] | None:
        """The seizure recorded for ``outpoint`` and its ledger entry, if any."""
        query = select(t.seized_assets).where(t.seized_assets.c.outpoint == outpoint)
        row = self.conn.execute(query).first()
        return None if row is None else (_seizure(row), int(row.entry_seq))

    def seizures(self, case: str | None = None) -> list[SeizedAsset]:
        s = t.seized_assets.c
        query = select(t.seized_assets).order_by(s.id)
        if case is not None:
            query = query.where(s.case_number == case)
        return [_seizure(r) for r in self.conn.execute(query)]

    def add_seizure(self, asset: SeizedAsset, *, entry_seq: int) -> int:
        seizure_id = self._next_id(t.seized_assets.c.id)
        self.conn.execute(
            insert(t.seized_assets).values(
                id=seizure_id,
                case_number=asset.case,
                chain=asset.chain,
                asset=asset.asset,
                amount=asset.amount,
                txid=asset.txid,
                vout=asset.vout,
                outpoint=asset.outpoint,
                source_address=asset.source_address,
                destination_address=asset.destination_address,
                seized_at=asset.seized_at,
                entry_seq=entry_seq,
            )
        )
        return seizure_id

    # -- legal orders ---------------------------------------------------------------------
    def orders(
        self, *, case: str | None = None, ids: Iterable[int] | None = None
    ) -> list[RecordedOrder]:
        o, x = t.legal_orders.c, t.legal_order_executions.c
        query = (
            select(t.legal_orders, x.executed_at, x.entry_seq)
            .outerjoin(t.legal_order_executions, x.order_id == o.id)
            .order_by(o.id)
        )
        if case is not None:
            query = query.where(o.case_number == case)
        if ids is not None:
            query = query.where(o.id.in_(sorted(set(ids))))
        return [_order(r) for r in self.conn.execute(query)]

    def order(self, order_id: int) -> RecordedOrder | None:
        found = self.orders(ids=[order_id])
        return found[0] if found else None

    def add_order(self, order: LegalOrder, *, request_hash: str, proposed_at: datetime) -> int:
        order_id = self._next_id(t.legal_orders.c.id)
        self.conn.execute(
            insert(t.legal_orders).values(
                id=order_id,
                case_number=order.case,
                asset=order.asset,
                amount=order.amount,
                from_state=order.from_state.value,
                to_state=order.to_state.value,
                reference=order.reference,
                issued_on=order.issued_on,
                document_sha256=order.document_sha256,
                proposer=order.proposer,
                recipients="\n".join(order.recipients),
                request_hash=request_hash,
                proposed_at=proposed_at,
            )
        )
        return order_id

    def add_execution(self, order_id: int, *, at: datetime, entry_seq: int | None) -> None:
        self.conn.execute(
            insert(t.legal_order_executions).values(
                order_id=order_id, executed_at=at, entry_seq=entry_seq
            )
        )

    def _next_id(self, column: Any) -> int:
        return int(self.conn.execute(select(func.max(column))).scalar_one_or_none() or 0) + 1
