"""Mining rows (operations, monthly outputs, sales), mapped to the mining domain's dataclasses.

Every mining table only grows. Ids are numbered by the writer, who holds the writer's lock (the
audit head) for the whole unit of work, so the next id is simply one past the largest. Periods
are ``YYYY-MM`` text, so they compare as text in the order of time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection

from reserve.intake.mining import (
    MiningOperation,
    MiningOutput,
    MiningSale,
    OutputSplit,
    RecordedOutput,
    RecordedSale,
    SaleRule,
)
from reserve.storage import tables as t


def _operation(row: Any) -> MiningOperation:
    return MiningOperation(
        row.code, row.site, row.operator, row.tariff_kzt_per_mwh, row.fund, row.asset
    )


def _output(row: Any) -> RecordedOutput:
    output = MiningOutput(
        operation=row.operation,
        period=row.period,
        amount=row.amount,
        payout_txids=tuple(row.payout_txids.split(";")),
        energy_mwh=row.energy_mwh,
        cost_kzt=row.cost_kzt,
        kzt_per_usd=row.kzt_per_usd,
        fair_value_usd=row.fair_value_usd,
    )
    split = OutputSplit(row.to_sell, row.to_retain, SaleRule(row.rule_from, row.sell_share))
    return RecordedOutput(
        output, split, row.cost_basis, row.cost_usd, row.policy_sha256, int(row.entry_seq)
    )


def _sale(row: Any) -> RecordedSale:
    sale = MiningSale(
        operation=row.operation,
        period=row.period,
        venue=row.venue,
        ref=row.ref,
        quantity=row.quantity,
        price_usd=row.price_usd,
        fee_usd=row.fee_usd,
        sold_on=row.sold_on,
    )
    return RecordedSale(sale, row.cost_usd, row.realised_usd, row.policy_sha256, int(row.entry_seq))


class MiningStore:
    """Reads and writes of the mining tables inside the caller's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- operations -----------------------------------------------------------------------
    def operation(self, code: str) -> MiningOperation | None:
        query = select(t.mining_operations).where(t.mining_operations.c.code == code)
        row = self.conn.execute(query).first()
        return None if row is None else _operation(row)

    def operations(self) -> list[MiningOperation]:
        query = select(t.mining_operations).order_by(t.mining_operations.c.code)
        return [_operation(r) for r in self.conn.execute(query)]

    def add_operation(self, op: MiningOperation, *, by: str, at: datetime) -> None:
        self.conn.execute(
            insert(t.mining_operations).values(
                code=op.code,
                site=op.site,
                operator=op.operator,
                tariff_kzt_per_mwh=op.tariff_kzt_per_mwh,
                fund=op.fund,
                asset=op.asset,
                registered_by=by,
                registered_at=at,
            )
        )

    # -- outputs --------------------------------------------------------------------------
    def output(self, operation: str, period: str) -> RecordedOutput | None:
        found = self.outputs(operation=operation, start=period, end=period)
        return found[0] if found else None

    def outputs(
        self,
        *,
        operation: str | None = None,
        start: str | None = None,
        end: str | None = None,
    ) -> list[RecordedOutput]:
        """Outputs by operation and period, within ``start``..``end`` (periods, inclusive)."""
        o = t.mining_outputs.c
        query = select(t.mining_outputs).order_by(o.operation, o.period)
        if operation is not None:
            query = query.where(o.operation == operation)
        if start is not None:
            query = query.where(o.period >= start)
        if end is not None:
            query = query.where(o.period <= end)
        return [_output(r) for r in self.conn.execute(query)]

    def add_output(self, recorded: RecordedOutput, *, by: str, at: datetime) -> int:
        output, split = recorded.output, recorded.split
        assert output.kzt_per_usd is not None, "an output is stored with the rate it used"
        output_id = self._next_id(t.mining_outputs.c.id)
        self.conn.execute(
            insert(t.mining_outputs).values(
                id=output_id,
                operation=output.operation,
                period=output.period,
                amount=output.amount,
                payout_txids=";".join(output.payout_txids),
                energy_mwh=output.energy_mwh,
                cost_kzt=output.cost_kzt,
                kzt_per_usd=output.kzt_per_usd,
                rule_from=split.rule.effective_from,
                sell_share=split.rule.sell_share,
                to_sell=split.to_sell,
                to_retain=split.to_retain,
                cost_basis=recorded.cost_basis,
                cost_usd=recorded.cost_usd,
                fair_value_usd=output.fair_value_usd,
                policy_sha256=recorded.policy_sha256,
                entry_seq=recorded.entry_seq,
                recorded_by=by,
                recorded_at=at,
            )
        )
        return output_id

    # -- sales ----------------------------------------------------------------------------
    def sale(self, venue: str, ref: str) -> RecordedSale | None:
        s = t.mining_sales.c
        query = select(t.mining_sales).where(s.venue == venue, s.ref == ref)
        row = self.conn.execute(query).first()
        return None if row is None else _sale(row)

    def sales(
        self,
        *,
        operation: str | None = None,
        start: str | None = None,
        end: str | None = None,
    ) -> list[RecordedSale]:
        """Sales of the periods ``start``..``end`` (inclusive), in the order recorded."""
        s = t.mining_sales.c
        query = select(t.mining_sales).order_by(s.id)
        if operation is not None:
            query = query.where(s.operation == operation)
        if start is not None:
            query = query.where(s.period >= start)
        if end is not None:
            query = query.where(s.period <= end)
        return [_sale(r) for r in self.conn.execute(query)]

    def add_sale(self, recorded: RecordedSale, *, by: str, at: datetime) -> int:
        sale = recorded.sale
        sale_id = self._next_id(t.mining_sales.c.id)
        self.conn.execute(
            insert(t.mining_sales).values(
                id=sale_id,
                venue=sale.venue,
                ref=sale.ref,
                operation=sale.operation,
                period=sale.period,
                quantity=sale.quantity,
                price_usd=sale.price_usd,
                fee_usd=sale.fee_usd,
                sold_on=sale.sold_on,
                cost_usd=recorded.cost_usd,
                realised_usd=recorded.realised_usd,
                policy_sha256=recorded.policy_sha256,
                entry_seq=recorded.entry_seq,
                recorded_by=by,
                recorded_at=at,
            )
        )
        return sale_id

    def _next_id(self, column: Any) -> int:
        return int(self.conn.execute(select(func.max(column))).scalar_one_or_none() or 0) + 1
