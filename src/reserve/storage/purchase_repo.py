"""Purchase rows (orders, fills, closures), mapped to the purchase domain's dataclasses.

Every purchase table only grows: an order is never updated, its status is derived from its
approvals and from the closure row that ends it. Fill ids are numbered by the writer, who holds
the writer's lock (the audit head) for the whole unit of work.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from reserve.core.clock import as_utc
from reserve.intake.purchases import (
    Closure,
    Fill,
    FundingSource,
    OrderStatus,
    Proposal,
    RecordedFill,
    RecordedPurchase,
)
from reserve.storage import tables as t


def _purchase(row: Any) -> RecordedPurchase:
    proposal = Proposal(
        order_id=row.order_id,
        source=FundingSource(row.source),
        amount_usd=row.amount_usd,
        asset=row.asset,
        fund=row.fund,
        window_start=row.window_start,
        window_end=row.window_end,
        proposer=row.proposer,
        memo=row.memo,
    )
    return RecordedPurchase(
        proposal, row.request_hash, int(row.quorum), row.policy_sha256, as_utc(row.proposed_at)
    )


def _fill(row: Any) -> RecordedFill:
    fill = Fill(
        venue=row.venue,
        quantity=row.quantity,
        price_usd=row.price_usd,
        fee_usd=row.fee_usd,
        filled_on=row.filled_on,
        ref=row.ref,
        kzt_per_usd=row.kzt_per_usd,
    )
    return RecordedFill(
        row.order_id, fill, int(row.entry_seq), row.recorded_by, as_utc(row.recorded_at)
    )


def _closure(row: Any) -> Closure:
    return Closure(
        row.order_id, OrderStatus(row.status), row.reason, row.closed_by, as_utc(row.closed_at)
    )


class PurchaseStore:
    """Reads and writes of the purchase tables inside the caller's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- orders ---------------------------------------------------------------------------
    def order(self, order_id: str) -> RecordedPurchase | None:
        query = select(t.purchase_orders).where(t.purchase_orders.c.order_id == order_id)
        row = self.conn.execute(query).first()
        return None if row is None else _purchase(row)

    def orders(self) -> list[RecordedPurchase]:
        o = t.purchase_orders.c
        query = select(t.purchase_orders).order_by(o.proposed_at, o.order_id)
        return [_purchase(r) for r in self.conn.execute(query)]

    def add_order(self, recorded: RecordedPurchase) -> None:
        p = recorded.proposal
        self.conn.execute(
            insert(t.purchase_orders).values(
                order_id=p.order_id,
                source=p.source.value,
                amount_usd=p.amount_usd,
                asset=p.asset,
                fund=p.fund,
                window_start=p.window_start,
                window_end=p.window_end,
                memo=p.memo,
                proposer=p.proposer,
                request_hash=recorded.request_hash,
                quorum=recorded.quorum,
                policy_sha256=recorded.policy_sha256,
                proposed_at=recorded.proposed_at,
            )
        )

    # -- fills ----------------------------------------------------------------------------
    def fills(self, order_id: str | None = None) -> list[RecordedFill]:
        f = t.purchase_fills.c
        query = select(t.purchase_fills).order_by(f.id)
        if order_id is not None:
            query = query.where(f.order_id == order_id)
        return [_fill(r) for r in self.conn.execute(query)]

    def fill_at(self, venue: str, ref: str) -> RecordedFill | None:
        """The fill recorded under the venue's trade id, on whichever order."""
        f = t.purchase_fills.c
        query = select(t.purchase_fills).where(f.venue == venue, f.ref == ref)
        row = self.conn.execute(query).first()
        return None if row is None else _fill(row)

    def add_fill(self, recorded: RecordedFill) -> int:
        fill = recorded.fill
        assert fill.kzt_per_usd is not None, "a booked fill carries the rate it was booked at"
        fill_id = self._next_fill_id()
        self.conn.execute(
            insert(t.purchase_fills).values(
                id=fill_id,
                order_id=recorded.order_id,
                venue=fill.venue,
                ref=fill.ref,
                quantity=fill.quantity,
                price_usd=fill.price_usd,
                fee_usd=fill.fee_usd,
                filled_on=fill.filled_on,
                kzt_per_usd=fill.kzt_per_usd,
                entry_seq=recorded.entry_seq,
                recorded_by=recorded.recorded_by,
                recorded_at=recorded.recorded_at,
            )
        )
        return fill_id

    # -- closures -------------------------------------------------------------------------
    def closure(self, order_id: str) -> Closure | None:
        query = select(t.purchase_closures).where(t.purchase_closures.c.order_id == order_id)
        row = self.conn.execute(query).first()
        return None if row is None else _closure(row)

    def closures(self) -> dict[str, Closure]:
        return {
            row.order_id: _closure(row) for row in self.conn.execute(select(t.purchase_closures))
        }

    def add_closure(self, closure: Closure) -> None:
        self.conn.execute(
            insert(t.purchase_closures).values(
                order_id=closure.order_id,
                status=closure.status.value,
                reason=closure.reason,
                closed_by=closure.closed_by,
                closed_at=closure.closed_at,
            )
        )

    def _next_fill_id(self) -> int:
        found = self.conn.execute(select(func.max(t.purchase_fills.c.id))).scalar_one_or_none()
        return int(found or 0) + 1
