"""What the reserve held at the end of each day, kept up to date from one day to the next.

A day's valuation needs, per account, asset and provenance, the units held and their cost
basis. Reading the whole journal for every day of a two-year backfill would read every posting
730 times; the book instead applies each day's changes (one query per day for that day's
postings) to the holdings of the day before, adjusting each touched lot's share of its cost.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from reserve.valuation.marks import Holding, exact_arithmetic

Key = tuple[str, str, str]  # account, asset, provenance


@dataclass
class _Group:
    units: int = 0
    cost_usd: Decimal = Decimal(0)
    cost_kzt: Decimal = Decimal(0)


@dataclass
class HoldingsBook:
    lots: dict[str, tuple[str, int, Decimal, Decimal]]  # lot -> provenance, units, USD, KZT
    funds: dict[str, str | None]  # account -> fund
    held: dict[tuple[str, str], int] = field(default_factory=dict)  # (account, lot) -> units
    groups: dict[Key, _Group] = field(default_factory=dict)
    cash: dict[tuple[str, str], int] = field(default_factory=dict)  # (account, asset) -> units

    def _share(self, lot: str, units: int) -> tuple[Decimal, Decimal]:
        _kind, acquired, usd, kzt = self.lots[lot]
        if acquired == 0 or units == 0:
            return Decimal(0), Decimal(0)
        # a pro-rata share is a division: rounded once, at 40 digits, like every cost share
        with decimal.localcontext(prec=40):
            return usd * units / acquired, kzt * units / acquired

    def apply(self, changes: Iterable[tuple[str, str, str, int]]) -> None:
        """Add (account, asset, lot, units) changes to the holdings."""
        for account, asset, lot, delta in changes:
            if delta == 0:
                continue
            before = self.held.get((account, lot), 0)
            after = before + delta
            old_usd, old_kzt = self._share(lot, before)
            new_usd, new_kzt = self._share(lot, after)
            with exact_arithmetic():
                group = self.groups.setdefault((account, asset, self.lots[lot][0]), _Group())
                group.units += delta
                group.cost_usd += new_usd - old_usd
                group.cost_kzt += new_kzt - old_kzt
                if after:
                    self.held[(account, lot)] = after
                else:
                    self.held.pop((account, lot), None)

    def apply_cash(self, changes: Iterable[tuple[str, str, int]]) -> None:
        for account, asset, delta in changes:
            self.cash[(account, asset)] = self.cash.get((account, asset), 0) + delta

    def holdings(self) -> list[Holding]:
        return [
            Holding(
                self.funds.get(account), asset, account, provenance, g.units, g.cost_usd, g.cost_kzt
            )
            for (account, asset, provenance), g in sorted(self.groups.items())
            if g.units != 0
        ]
