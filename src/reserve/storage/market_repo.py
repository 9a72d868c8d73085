"""Market and valuation rows: loaded prices, daily fixes and their versions, valuation runs and
their lines, alerts; and the lot holdings a valuation reads from the journal.

Holdings come straight from the postings (``SUM(amount) GROUP BY account, lot``) as of a day,
or as the changes between two days, so a backfill reads each posting once instead of the
whole journal for every day.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, insert, select
from sqlalchemy.engine import Connection

from reserve.core.clock import as_utc
from reserve.storage import tables as t
from reserve.storage.types import exact_sum


@dataclass(frozen=True)
class StoredFix:
    asset: str
    day: date
    version: int
    value: Decimal
    status: str
    used: tuple[str, ...]
    dropped: tuple[tuple[str, str], ...]
    inputs_sha256: str
    method_version: str
    carried_from: date | None
    reason: str | None
    created_at: datetime


@dataclass(frozen=True)
class ValuationLine:
    fund: str | None
    asset: str
    account: str
    provenance: str
    units: int
    cost_usd: Decimal
    cost_kzt: Decimal
    fix: Decimal | None
    fix_status: str
    kzt_per_usd: Decimal | None
    fair_usd: Decimal | None
    fair_kzt: Decimal | None
    carrying_usd: Decimal | None


@dataclass(frozen=True)
class ValuationRun:
    run_id: int
    day: date
    basis: str
    policy_sha256: str
    summary: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class StoredAlert:
    day: date
    kind: str
    subject: str
    detail: str
    value: str
    raised_at: datetime


def _fix(row: Any) -> StoredFix:
    return StoredFix(
        row.asset,
        row.day,
        int(row.version),
        row.value,
        row.status,
        tuple(json.loads(row.used)),
        tuple((a, b) for a, b in json.loads(row.dropped)),
        row.inputs_sha256,
        row.method_version,
        row.carried_from,
        row.reason,
        as_utc(row.created_at),
    )


class MarketStore:
    """Reads and writes of the market and valuation tables inside the caller's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _next_id(self, column: Any) -> int:
        return int(self.conn.execute(select(func.max(column))).scalar_one_or_none() or 0) + 1

    # -- prices -----------------------------------------------------------------------------
    def prices(self, source: str, asset: str) -> dict[date, Decimal]:
        m = t.market_prices.c
        query = select(m.day, m.value).where(m.source == source, m.asset == asset)
        return {r.day: r.value for r in self.conn.execute(query)}

    def add_prices(self, rows: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(rows), 2000):
            self.conn.execute(insert(t.market_prices), list(rows[start : start + 2000]))

    def loaded_sources(self) -> list[tuple[str, str, str, int, date, date]]:
        m = t.market_prices.c
        query = (
            select(m.source, m.asset, m.quote, func.count(), func.min(m.day), func.max(m.day))
            .group_by(m.source, m.asset, m.quote)
            .order_by(m.asset, m.source)
        )
        return [(r[0], r[1], r[2], int(r[3]), r[4], r[5]) for r in self.conn.execute(query)]

    # -- fixes ------------------------------------------------------------------------------
    def fix(self, asset: str, day: date) -> StoredFix | None:
        """The newest version of the asset's fix of ``day``."""
        f = t.daily_fixes.c
        query = (
            select(t.daily_fixes)
            .where(f.asset == asset, f.day == day)
            .order_by(f.version.desc())
            .limit(1)
        )
        row = self.conn.execute(query).first()
        return None if row is None else _fix(row)

    def fix_versions(self, asset: str, day: date) -> list[StoredFix]:
        f = t.daily_fixes.c
        query = select(t.daily_fixes).where(f.asset == asset, f.day == day).order_by(f.version)
        return [_fix(r) for r in self.conn.execute(query)]

    def fixes_between(self, start: date, end: date) -> dict[tuple[str, date], StoredFix]:
        """The newest version of every fix from ``start`` to ``end``."""
        f = t.daily_fixes.c
        query = (
            select(t.daily_fixes)
            .where(f.day >= start, f.day <= end)
            .order_by(f.asset, f.day, f.version)
        )
        return {(r.asset, r.day): _fix(r) for r in self.conn.execute(query)}

    def add_fix(self, fix: StoredFix, *, by: str) -> None:
        self.conn.execute(
            insert(t.daily_fixes).values(
                asset=fix.asset,
                day=fix.day,
                version=fix.version,
                value=fix.value,
                status=fix.status,
                used=json.dumps(list(fix.used)),
                dropped=json.dumps([list(d) for d in fix.dropped]),
                inputs_sha256=fix.inputs_sha256,
                method_version=fix.method_version,
                carried_from=fix.carried_from,
                reason=fix.reason,
                created_by=by,
                created_at=fix.created_at,
            )
        )

    # -- valuation runs ---------------------------------------------------------------------
    def add_run(self, run: ValuationRun, lines: Sequence[ValuationLine], *, by: str) -> int:
        run_id = self._next_id(t.valuation_runs.c.id)
        self.conn.execute(
            insert(t.valuation_runs).values(
                id=run_id,
                day=run.day,
                basis=run.basis,
                policy_sha256=run.policy_sha256,
                summary=json.dumps(run.summary, sort_keys=True),
                created_by=by,
                created_at=run.created_at,
            )
        )
        if lines:
            self.conn.execute(
                insert(t.valuation_lines),
                [{"run_id": run_id, **line.__dict__} for line in lines],
            )
        return run_id

    def runs_between(self, start: date, end: date) -> list[ValuationRun]:
        """The newest run of each day from ``start`` to ``end``."""
        r = t.valuation_runs.c
        newest = (
            select(r.day, func.max(r.id).label("id"))
            .where(r.day >= start, r.day <= end)
            .group_by(r.day)
            .subquery()
        )
        query = select(t.valuation_runs).join(newest, and_(newest.c.id == r.id)).order_by(r.day)
        return [
            ValuationRun(
                int(x.id),
                x.day,
                x.basis,
                x.policy_sha256,
                json.loads(x.summary),
                as_utc(x.created_at),
            )
            for x in self.conn.execute(query)
        ]

    def lines(self, run_id: int) -> list[ValuationLine]:
        v = t.valuation_lines.c
        query = select(t.valuation_lines).where(v.run_id == run_id).order_by(v.account, v.asset)
        return [
            ValuationLine(
                r.fund,
                r.asset,
                r.account,
                r.provenance,
                int(r.units),
                r.cost_usd,
                r.cost_kzt,
                r.fix,
                r.fix_status,
                r.kzt_per_usd,
                r.fair_usd,
                r.fair_kzt,
                r.carrying_usd,
            )
            for r in self.conn.execute(query)
        ]

    # -- alerts -----------------------------------------------------------------------------
    def alerts(self, *, since: date | None = None) -> list[StoredAlert]:
        a = t.alerts.c
        query = select(t.alerts).order_by(a.day, a.kind, a.subject)
        if since is not None:
            query = query.where(a.day >= since)
        return [
            StoredAlert(r.day, r.kind, r.subject, r.detail, r.value, as_utc(r.raised_at))
            for r in self.conn.execute(query)
        ]

    def add_alerts(self, found: Iterable[StoredAlert]) -> int:
        """Store the alerts not stored yet (same day, kind and subject); returns how many."""
        a = t.alerts.c
        added = 0
        for alert in found:
            exists = self.conn.execute(
                select(a.id).where(
                    a.day == alert.day, a.kind == alert.kind, a.subject == alert.subject
                )
            ).first()
            if exists is not None:
                continue
            self.conn.execute(
                insert(t.alerts).values(
                    id=self._next_id(a.id),
                    day=alert.day,
                    kind=alert.kind,
                    subject=alert.subject,
                    detail=alert.detail,
                    value=alert.value,
                    raised_at=alert.raised_at,
                )
            )
            added += 1
        return added

    # -- holdings from the journal ----------------------------------------------------------
    def lot_units(self, *, after: date | None, until: date) -> list[tuple[str, str, str, int]]:
        """(account, asset, lot, units) summed over postings dated in (``after``, ``until``]
        (from the beginning when ``after`` is None), for accounts under ``Assets:``."""
        p, e = t.postings.c, t.entries.c
        query = (
            select(p.account, p.asset, p.lot_id, exact_sum(p.amount).label("units"))
            .join(t.entries, e.seq == p.entry_seq)
            .where(e.date <= until, p.lot_id.is_not(None), p.account.like("Assets:%"))
            .group_by(p.account, p.asset, p.lot_id)
        )
        if after is not None:
            query = query.where(e.date > after)
        return [(r.account, r.asset, r.lot_id, int(r.units)) for r in self.conn.execute(query)]

    def unlotted_units(self, *, after: date | None, until: date) -> list[tuple[str, str, int]]:
        """Changes of assets held without lots (USD cash) over (``after``, ``until``]."""
        p, e = t.postings.c, t.entries.c
        query = (
            select(p.account, p.asset, exact_sum(p.amount).label("units"))
            .join(t.entries, e.seq == p.entry_seq)
            .where(e.date <= until, p.lot_id.is_(None), p.account.like("Assets:%"))
            .group_by(p.account, p.asset)
        )
        if after is not None:
            query = query.where(e.date > after)
        return [(r.account, r.asset, int(r.units)) for r in self.conn.execute(query) if r.units]

    def reserve_flows(self, *, after: date, until: date) -> list[tuple[int, date, str, str, int]]:
        """(entry, day, asset, lot, net units) of lots crossing the reserve's perimeter (accounts
        under ``Assets:Reserve:``) in (``after``, ``until``]: moves inside it net to zero."""
        p, e = t.postings.c, t.entries.c
        query = (
            select(e.seq, e.date, p.asset, p.lot_id, exact_sum(p.amount).label("units"))
            .join(t.entries, e.seq == p.entry_seq)
            .where(
                e.date > after,
                e.date <= until,
                p.lot_id.is_not(None),
                p.account.like("Assets:Reserve:%"),
            )
            .group_by(e.seq, e.date, p.asset, p.lot_id)
            .order_by(e.seq)
        )
        return [
            (int(r.seq), r.date, r.asset, r.lot_id, int(r.units))
            for r in self.conn.execute(query)
            if r.units
        ]

    def reserve_cash_in(self, *, after: date, until: date) -> dict[int, int]:
        """Per entry, the USD (cents) that entered the reserve's cash accounts."""
        p, e = t.postings.c, t.entries.c
        query = (
            select(e.seq, exact_sum(p.amount).label("cents"))
            .join(t.entries, e.seq == p.entry_seq)
            .where(
                e.date > after,
                e.date <= until,
                p.asset == "USD",
                p.account.like("Assets:Reserve:%"),
            )
            .group_by(e.seq)
        )
        return {int(r.seq): int(r.cents) for r in self.conn.execute(query) if r.cents}

    def lot_accounts(self) -> dict[str, str]:
        """Every lot and the account it was opened in."""
        query = select(t.lots.c.lot_id, t.lots.c.account)
        return {r.lot_id: r.account for r in self.conn.execute(query)}

    def lots(self) -> dict[str, tuple[str, int, Decimal, Decimal]]:
        """Every lot: (provenance, units acquired, cost USD, cost KZT)."""
        query = select(
            t.lots.c.lot_id,
            t.lots.c.source_kind,
            t.lots.c.units,
            t.lots.c.cost_usd,
            t.lots.c.cost_kzt,
        )
        return {
            r.lot_id: (r.source_kind, int(r.units), r.cost_usd, r.cost_kzt)
            for r in self.conn.execute(query)
        }
