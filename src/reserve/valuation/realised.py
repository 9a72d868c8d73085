"""Realised results: what disposals earned or lost against the cost of the lots they relieved.

A disposal's cost is the cost basis of the units relieved (FIFO or named lot, decided by the
ledger when it booked the disposal); its proceeds are what the sale brought in, net of fees.
The result is proceeds less cost, the only result that is realised whatever the valuation basis:
under every IAS 38 model and at fair value alike, a sale turns the rest of the lot's difference
into P&L. Totals are per fund and asset, summed exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from reserve.valuation.marks import exact_arithmetic, exact_sum


@dataclass(frozen=True)
class Disposal:
    day: date
    fund: str | None
    asset: str
    units: int
    cost_usd: Decimal
    proceeds_usd: Decimal


class Realised(NamedTuple):
    """One fund's realised result in one asset. A named tuple, immutable like a frozen
    dataclass, so a caller may also unpack it as ``(fund, asset, units, cost, proceeds, result)``.
    """

    fund: str | None
    asset: str
    units: int
    cost_usd: Decimal
    proceeds_usd: Decimal
    result_usd: Decimal  # proceeds less cost: a gain when positive


def realised(
    disposals: Iterable[Disposal], *, start: date | None = None, end: date | None = None
) -> list[Realised]:
    """Disposals dated from ``start`` to ``end`` (inclusive; open when None), totalled per
    (fund, asset) and sorted so."""
    groups: dict[tuple[str | None, str], list[Disposal]] = {}
    for disposal in disposals:
        if (start is not None and disposal.day < start) or (end is not None and disposal.day > end):
            continue
        groups.setdefault((disposal.fund, disposal.asset), []).append(disposal)
    results = []
    for fund, asset in sorted(groups, key=lambda k: (k[0] is None, k[0] or "", k[1])):
        found = groups[(fund, asset)]
        cost = exact_sum(d.cost_usd for d in found)
        proceeds = exact_sum(d.proceeds_usd for d in found)
        with exact_arithmetic():
            result = proceeds - cost
        results.append(Realised(fund, asset, sum(d.units for d in found), cost, proceeds, result))
    return results
